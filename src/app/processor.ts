import { riskSignals, type RiskSignals } from '../core/pipeline/risk.js'
import type { TransactionRecord } from '../core/model.js'
import { AssertionFailure } from '../core/assert.js'
import { BATCH_SIZE_MAX } from '../core/pipeline/batch.js'
import type { BatchRequest, CoreRequest, IssuerOutcome } from '../core/pipeline/requests.js'
import { rejected, type BatchResult, type RequestResult } from '../core/pipeline/result.js'
import type { IssuerGateway } from '../ports/issuer-gateway.js'
import type { TollgateMetrics } from '../adapters/metrics/registry.js'
import type { Clock } from '../ports/clock.js'
import type { Authorizer, SubmitOutcome } from '../ports/authorizer.js'
import type { BatchExecutor } from '../ports/batch-executor.js'

interface Pending {
  readonly request: BatchRequest
  readonly resolve: (result: RequestResult) => void
  readonly reject: (error: unknown) => void
  /** Runs in a batch of its own: a retry whose own data may be what failed its last batch. */
  readonly alone?: boolean
}

/** Attempts to record an issuer's answer when its batch fails, and the wait between them. */
const ANSWER_ATTEMPTS_MAX = 5
const ANSWER_RETRY_MS = 1_000
/** After that, the wait between attempts to record it as a timeout (until the store takes it). */
const ANSWER_RETRY_LATER_MS = 10_000
/** Retransmissions of one request still at its bank that wait for the bank's answer. */
const RETRANSMISSIONS_WAITING_MAX = 16

export class StoreFailure extends Error {
  readonly code = 'store_failure'
  override readonly name = 'StoreFailure'
}

/**
 * The authorization processor: channels push requests into one bounded queue; a single loop
 * drains it in batches, each decided by the pure core and committed as one database
 * transaction (group commit); answers go out only after their batch is durable. A full queue
 * answers "busy" at once instead of growing.
 */
export class Processor implements Authorizer {
  private readonly queue: Pending[] = []
  /**
   * Batches handed to the executor and not yet answered. The executor runs them one at a time,
   * in order; with a worker thread, a second one waiting there keeps it busy while the main
   * thread answers the first.
   */
  private inFlight = 0
  private scheduled = false
  private closing = false
  /** A broken invariant stopped the processor: nothing more is decided. */
  private aborted = false
  private idleWaiters: (() => void)[] = []
  /** Forwarded requests waiting for their issuer: transaction id → the callers to answer. */
  private readonly forwards = new Map<string, Pending[]>()

  constructor(
    private readonly executor: BatchExecutor,
    private readonly clock: Clock,
    private readonly limits: {
      readonly depthMax: number
      readonly batchSizeMax: number
      readonly batchesInFlightMax: number
    },
    private readonly metrics: TollgateMetrics,
    private readonly onFatal: (error: unknown) => void,
    /** Called for a decision during which a risk rule failed (for the log). */
    private readonly onRiskRuleError?: (record: TransactionRecord, risk: RiskSignals) => void,
    /** The issuer links, when remote routes are configured. */
    private readonly issuers?: IssuerGateway,
  ) {
    if (limits.batchSizeMax > BATCH_SIZE_MAX || limits.batchSizeMax < 1) {
      throw new RangeError(`batchSizeMax must be within 1..${BATCH_SIZE_MAX}`)
    }
    metrics.queueDepth.track(() => this.queue.length)
  }

  get depth(): number {
    return this.queue.length
  }

  submit(request: CoreRequest): SubmitOutcome {
    if (this.closing) return { type: 'closing' }
    if (this.queue.length >= this.limits.depthMax) {
      this.metrics.busy.inc()
      return { type: 'busy', depth: this.queue.length, depthMax: this.limits.depthMax }
    }
    // With remote routes, a sale may need its card number later (an advice, a reversal): sealed.
    const sealedPan = request.type === 'new' ? this.issuers?.sealPan(request.card.pan) : undefined
    const queued: BatchRequest =
      sealedPan !== undefined && request.type === 'new' ? { ...request, sealedPan } : request
    const result = new Promise<RequestResult>((resolve, reject) => {
      this.queue.push({ request: queued, resolve, reject })
    })
    this.schedule()
    return { type: 'accepted', result }
  }

  /** Stops taking requests and resolves when everything queued has been answered. */
  /**
   * Stops deciding after a broken invariant: everything queued is refused with `error` and
   * nothing more is dispatched. Batches already with the executor finish; close() then resolves.
   */
  abort(error: unknown): void {
    this.closing = true
    this.aborted = true
    for (const pending of this.queue.splice(0)) pending.reject(error)
    // Sales at their bank are not recorded here any more: still in flight in the outbox, the
    // restart records each as a timeout and reverses it.
    for (const callers of this.forwards.values()) for (const caller of callers) caller.reject(error)
    this.forwards.clear()
  }

  async close(): Promise<void> {
    this.closing = true
    if (
      this.inFlight === 0 &&
      (this.aborted || this.queue.length === 0) &&
      this.forwards.size === 0
    )
      return
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
  }

  /**
   * Starts the next batch once the event loop has read what arrived: everything queued by then
   * goes into one batch (group commit).
   */
  private schedule(): void {
    if (
      this.inFlight >= this.limits.batchesInFlightMax ||
      this.scheduled ||
      this.queue.length === 0
    )
      return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.dispatch()
    })
  }

  private dispatch(): void {
    if (this.inFlight >= this.limits.batchesInFlightMax) return
    if (this.queue.length === 0 || this.aborted) {
      if (this.inFlight > 0 || this.forwards.size > 0) return
      const waiters = this.idleWaiters
      this.idleWaiters = []
      for (const wake of waiters) wake()
      return
    }
    // A retry that runs alone goes by itself; other requests never join its batch.
    let take = 1
    if (this.queue[0]?.alone !== true) {
      while (
        take < this.limits.batchSizeMax &&
        take < this.queue.length &&
        this.queue[take]?.alone !== true
      )
        take += 1
    }
    this.inFlight += 1
    void this.runBatch(this.queue.splice(0, take))
  }

  private async runBatch(batch: Pending[]): Promise<void> {
    const startedNs = process.hrtime.bigint()
    const nowMs = this.clock.nowMs()
    let results: readonly BatchResult[]
    try {
      results = await this.executor.execute(
        batch.map((p) => p.request),
        nowMs,
        this.issuers?.routeStatus(nowMs),
      )
    } catch (error) {
      this.inFlight -= 1
      this.metrics.storeErrors.inc()
      const failure =
        error instanceof AssertionFailure
          ? error
          : new StoreFailure('the batch could not be committed', { cause: error })
      for (const pending of batch) pending.reject(failure)
      // A broken invariant is a bug: stop rather than move more money on it — nothing queued
      // is decided any more.
      if (error instanceof AssertionFailure) {
        this.abort(error)
        this.onFatal(error)
      }
      this.dispatch()
      return
    }
    // Forwarded sales are waiting for their bank from now on: registered before anything can
    // find the processor idle (close() must wait for their answers).
    results.forEach((result, index) => {
      const pending = batch[index]
      if (result?.type === 'forward' && pending !== undefined)
        this.forwards.set(result.transaction.id, [pending])
    })
    // Hand the executor the next batch before answering this one: answering (rendering and
    // writing responses) then overlaps with the next commit on a worker thread.
    this.inFlight -= 1
    this.dispatch()
    const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9
    this.metrics.batches.inc()
    this.metrics.batchSize.observe(batch.length)
    this.metrics.batchSeconds.observe(seconds)
    batch.forEach((pending, index) => {
      const result = results[index]
      if (result === undefined) {
        pending.reject(new StoreFailure('missing result'))
        return
      }
      if (result.type === 'forward') {
        this.forward(pending, result)
        return
      }
      this.count(pending.request, result)
      if (pending.request.type === 'issuer_answer') {
        pending.resolve(result)
        this.answerForward(pending.request.transactionId, result)
        return
      }
      // A retransmission of a request still at its issuer waits for the issuer's answer.
      const waiting =
        result.type === 'decided' && result.replayed
          ? this.forwards.get(result.transaction.id)
          : undefined
      if (waiting === undefined) pending.resolve(result)
      else if (waiting.length < RETRANSMISSIONS_WAITING_MAX) waiting.push(pending)
      // Bounded: beyond that, "busy, try again" (96) — never the stored issuer timeout, a final
      // decline the bank's approval could still contradict.
      else pending.resolve(rejected('system_busy', [], {}))
    })
  }

  /**
   * Records a request an earlier process forwarded and never recorded the answer of (found in
   * flight at start): as a timeout, which gives its limit usage back and queues a reversal.
   */
  recoverForward(transactionId: string): Promise<RequestResult> {
    return new Promise<RequestResult>((resolve, reject) => {
      this.queue.unshift({
        request: {
          type: 'issuer_answer',
          transactionId,
          outcome: { type: 'timeout', latencyMs: 0, recovered: true },
          sealedPan: null,
          idempotencyKey: null,
        },
        resolve,
        reject,
      })
      this.schedule()
    })
  }

  /** Sends a forwarded request to its issuer; its answer comes back as a batch request. */
  private forward(pending: Pending, result: Extract<BatchResult, { type: 'forward' }>): void {
    const id = result.transaction.id
    // Registered when the batch came back (runBatch); set here too for a direct caller.
    if (!this.forwards.has(id)) this.forwards.set(id, [pending])
    const request = pending.request
    const issuers = this.issuers
    const sent: Promise<IssuerOutcome> =
      issuers === undefined || request.type !== 'new'
        ? Promise.resolve({ type: 'not_sent', why: 'no issuer link in this process' })
        : issuers
            .send(result.message, request.card.pan)
            // send never throws; if it did, whether the request left is unknown: reverse.
            .catch((): IssuerOutcome => ({ type: 'timeout', latencyMs: 0 }))
    void sent.then((outcome) => this.recordAnswer(id, outcome, 0))
  }

  /**
   * Queues the batch that records an issuer's answer — first, whatever the queue's depth. If
   * that batch cannot commit (the disk failed, say), the answer is tried again a few times
   * before the callers get the failure: until it is recorded, a reversal cannot be queued.
   * Then the callers are answered with the failure, and the request is recorded as a timeout
   * once the store takes it (tried every ANSWER_RETRY_LATER_MS for as long as the process runs):
   * the terminal was told the payment failed, so an approval must not stand — the timeout
   * queues its reversal (a request never sent is recorded as such, without standing in). Until
   * then it stays in flight in the outbox, where a restart finds it too. Every retry runs in a
   * batch of its own, so an answer that breaks its batch never fails other terminals' sales.
   */
  private recordAnswer(id: string, outcome: IssuerOutcome, attempt: number): void {
    if (this.aborted) return
    this.queue.unshift({
      request: {
        type: 'issuer_answer',
        transactionId: id,
        outcome,
        sealedPan: null,
        idempotencyKey: null,
      },
      resolve: () => undefined,
      reject: (error: unknown) => {
        if (error instanceof AssertionFailure) {
          this.rejectForward(id, error)
          return
        }
        if (attempt + 1 < ANSWER_ATTEMPTS_MAX) {
          setTimeout(() => this.recordAnswer(id, outcome, attempt + 1), ANSWER_RETRY_MS)
          return
        }
        this.rejectForward(id, error)
        // Stopping: the restart finds it in flight and records it.
        if (this.closing) return
        const later: IssuerOutcome =
          outcome.type === 'answered'
            ? { type: 'timeout', latencyMs: 0, unrecorded: true }
            : outcome.type === 'not_sent'
              ? { type: 'not_sent', why: outcome.why }
              : outcome
        setTimeout(() => this.recordAnswer(id, later, attempt + 1), ANSWER_RETRY_LATER_MS).unref()
      },
      alone: attempt > 0,
    })
    this.schedule()
  }

  private rejectForward(transactionId: string, error: unknown): void {
    const callers = this.forwards.get(transactionId) ?? []
    this.forwards.delete(transactionId)
    for (const caller of callers) caller.reject(error)
    if (this.forwards.size === 0 && this.queue.length === 0) this.dispatch()
  }

  private answerForward(transactionId: string, result: RequestResult): void {
    const callers = this.forwards.get(transactionId) ?? []
    this.forwards.delete(transactionId)
    for (const caller of callers) caller.resolve(result)
    if (this.forwards.size === 0 && this.queue.length === 0) this.dispatch()
  }

  private count(request: BatchRequest, result: RequestResult): void {
    if (result.type === 'rejected') {
      this.metrics.rejections.inc({ reason: result.reason })
      return
    }
    if (result.replayed) {
      this.metrics.replays.inc({
        kind: request.type === 'issuer_answer' ? 'issuer_answer' : request.kind,
      })
      return
    }
    const record = result.transaction
    this.metrics.decisions.inc({
      kind: record.kind,
      outcome: record.outcome,
      reason: record.reason ?? 'none',
    })
    const risk = riskSignals(record)
    if (risk === null) return
    if (risk.decidedBy !== null)
      this.metrics.riskDecisions.inc({ outcome: risk.outcome, decided_by: risk.decidedBy })
    if (risk.ruleErrors !== null) this.metrics.riskRuleErrors.inc({ mode: 'active' })
    if (risk.shadowErrors !== null) this.metrics.riskRuleErrors.inc({ mode: 'shadow' })
    if (risk.shadowHits !== null) this.metrics.riskShadowHits.inc()
    if (risk.ruleErrors !== null || risk.shadowErrors !== null) this.onRiskRuleError?.(record, risk)
  }
}
