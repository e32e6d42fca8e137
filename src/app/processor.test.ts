import { describe, expect, it, vi } from 'vitest'
import { manualClock } from '../adapters/clock/system-clock.js'
import { createTollgateMetrics } from '../adapters/metrics/registry.js'
import { loadReferenceData, REFERENCE_DIR_DEFAULT } from '../adapters/reference/load-reference.js'
import { planBatch, type BatchWork } from '../core/pipeline/batch.js'
import type { CoreContext } from '../core/pipeline/context.js'
import type { CoreRequest } from '../core/pipeline/requests.js'
import type { BatchResult } from '../core/pipeline/result.js'
import type { BatchRequest, IssuerOutcome } from '../core/pipeline/requests.js'
import type { IssuerGateway } from '../ports/issuer-gateway.js'
import { emptySnapshot, type Snapshot } from '../core/pipeline/snapshot.js'
import { VelocityIndex } from '../core/risk/velocity.js'
import type { BatchExecutor } from '../ports/batch-executor.js'
import { AssertionFailure } from '../core/assert.js'
import { Processor, StoreFailure } from './processor.js'

const reference = loadReferenceData(REFERENCE_DIR_DEFAULT)
const EMPTY: Snapshot = emptySnapshot()

/** Fault injection: an executor whose batches commit only when the test says so, or fail. */
function gatedStore() {
  const gates: { work: BatchWork; release: () => void; fail: (error: unknown) => void }[] = []
  const store: BatchExecutor = {
    execute: (requests, nowMs) =>
      new Promise<readonly BatchResult[]>((resolve, reject) => {
        const work = planBatch(requests, context(nowMs))
        gates.push({ work, release: () => resolve(work.decide(EMPTY).results), fail: reject })
      }),
    expireHolds: () => Promise.resolve(0),
    close: () => Promise.resolve(),
  }
  return { store, gates }
}

let counter = 0
function context(nowMs: number): CoreContext {
  return {
    nowMs,
    settings: { utcOffsetMinutes: 480, holdExpiryMs: 86_400_000 },
    bins: reference.bins,
    mccs: reference.mccs,
    newTransactionId: () => `tx_${String(++counter).padStart(26, '0')}`,
    newTransferId: () => `tr_${++counter}`,
    newAuthorizationCode: () => 'A00001',
    newRrn: () => '000000000001',
    velocity: new VelocityIndex(),
  }
}

/** A request the core rejects at validation, so an empty snapshot suffices. */
function badRequest(stan: string): CoreRequest {
  return {
    type: 'new',
    kind: 'purchase',
    channel: 'http',
    terminalId: 'bad',
    merchantId: 'bad',
    stan,
    transmissionTime: null,
    card: { pan: '4111111111111111', expiry: '3012' },
    cardToken: 'tok',
    amountMinor: 100,
    currency: 'CNY',
    idempotencyKey: null,
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

function processor(
  store: BatchExecutor,
  depthMax: number,
  onFatal: (e: unknown) => void = () => undefined,
  batchesInFlightMax = 1,
) {
  return new Processor(
    store,
    manualClock(1_790_000_000_000),
    { depthMax, batchSizeMax: 10, batchesInFlightMax },
    createTollgateMetrics(),
    onFatal,
  )
}

/** The answer of an approving bank. */
const APPROVED: IssuerOutcome = {
  type: 'answered',
  responseCode: '00',
  authorizationCode: 'A1',
  balanceMinor: null,
  latencyMs: 1,
}

/** A bank that answers every request at once with `outcome`. */
function answeringGateway(outcome: IssuerOutcome): IssuerGateway {
  return {
    routeStatus: () => new Map(),
    sealPan: () => undefined,
    send: () => Promise.resolve(outcome),
  }
}

/** A bank that answers only when the test delivers (the card numbers it was sent, in order). */
function heldGateway() {
  let answer: (outcome: IssuerOutcome) => void = () => undefined
  const sent: string[] = []
  const gateway: IssuerGateway = {
    routeStatus: () => new Map(),
    sealPan: () => 'sealed',
    send: (_message, pan) => {
      sent.push(pan)
      return new Promise((resolve) => {
        answer = resolve
      })
    },
  }
  return { gateway, sent, deliver: (outcome: IssuerOutcome) => answer(outcome) }
}

/** A processor with issuer links, one batch in flight, `size` queued and per batch. */
function forwardingProcessor(executor: BatchExecutor, gateway: IssuerGateway, size = 10) {
  return new Processor(
    executor,
    manualClock(1_790_000_000_000),
    { depthMax: size, batchSizeMax: size, batchesInFlightMax: 1 },
    createTollgateMetrics(),
    () => undefined,
    undefined,
    gateway,
  )
}

describe('processor: bounded queue and group commit', () => {
  it('answers busy at once when the queue is full, and counts it', () => {
    const { store } = gatedStore()
    const p = processor(store, 3)
    const outcomes = ['000001', '000002', '000003', '000004'].map((stan) =>
      p.submit(badRequest(stan)),
    )
    expect(outcomes.map((o) => o.type)).toEqual(['accepted', 'accepted', 'accepted', 'busy'])
    expect(outcomes[3]).toMatchObject({ type: 'busy', depth: 3, depthMax: 3 })
  })

  it('commits queued requests as one batch and answers only after the commit', async () => {
    const { store, gates } = gatedStore()
    const p = processor(store, 100)
    const answered: string[] = []
    const submitted = ['000001', '000002', '000003'].map((stan) => {
      const outcome = p.submit(badRequest(stan))
      if (outcome.type !== 'accepted') throw new Error('accepted')
      void outcome.result.then(() => answered.push(stan))
      return outcome.result
    })
    await tick()
    expect(gates).toHaveLength(1)
    expect(answered).toEqual([])
    gates[0]?.release()
    const results = await Promise.all(submitted)
    expect(results.map((r) => r.type)).toEqual(['rejected', 'rejected', 'rejected'])
    expect(answered).toEqual(['000001', '000002', '000003'])
  })

  it('fails every request of a batch the store could not commit, then goes on', async () => {
    const { store, gates } = gatedStore()
    const p = processor(store, 100)
    const first = p.submit(badRequest('000001'))
    await tick()
    gates[0]?.fail(new Error('disk I/O error'))
    if (first.type !== 'accepted') throw new Error('accepted')
    await expect(first.result).rejects.toBeInstanceOf(StoreFailure)
    const second = p.submit(badRequest('000002'))
    await tick()
    gates[1]?.release()
    if (second.type !== 'accepted') throw new Error('accepted')
    await expect(second.result).resolves.toMatchObject({ type: 'rejected' })
  })

  it('after a broken invariant decides nothing more: the queued requests are refused, close() ends', async () => {
    const { store, gates } = gatedStore()
    const fatal: unknown[] = []
    const p = new Processor(
      store,
      manualClock(1_790_000_000_000),
      { depthMax: 100, batchSizeMax: 1, batchesInFlightMax: 1 },
      createTollgateMetrics(),
      (error) => fatal.push(error),
    )
    const first = p.submit(badRequest('000001'))
    const queued = p.submit(badRequest('000002'))
    await tick()
    expect(gates).toHaveLength(1)
    gates[0]?.fail(new AssertionFailure('ledger out of balance'))
    if (first.type !== 'accepted' || queued.type !== 'accepted') throw new Error('accepted')
    await expect(first.result).rejects.toBeInstanceOf(AssertionFailure)
    await expect(queued.result).rejects.toBeInstanceOf(AssertionFailure)
    expect(fatal).toHaveLength(1)
    await tick()
    // The queued request never reached the executor.
    expect(gates).toHaveLength(1)
    expect(p.submit(badRequest('000003')).type).toBe('closing')
    await p.close()
  })

  it('keeps at most batchesInFlightMax batches with the executor, and hands over the next before answering', async () => {
    const { store, gates } = gatedStore()
    const p = processor(store, 100, () => undefined, 2)
    const first = p.submit(badRequest('000001'))
    await tick()
    const second = p.submit(badRequest('000002'))
    await tick()
    const third = p.submit(badRequest('000003'))
    await tick()
    expect(gates).toHaveLength(2)
    gates[0]?.release()
    if (first.type !== 'accepted' || second.type !== 'accepted' || third.type !== 'accepted')
      throw new Error('accepted')
    await first.result
    await tick()
    expect(gates).toHaveLength(3)
    gates[1]?.release()
    gates[2]?.release()
    await expect(Promise.all([second.result, third.result])).resolves.toHaveLength(2)
  })

  it('close() waits for queued work, then refuses new work', async () => {
    const { store, gates } = gatedStore()
    const p = processor(store, 100)
    const first = p.submit(badRequest('000001'))
    let closed = false
    const closing = p.close().then(() => {
      closed = true
    })
    expect(p.submit(badRequest('000002')).type).toBe('closing')
    await tick()
    expect(closed).toBe(false)
    gates[0]?.release()
    await closing
    expect(closed).toBe(true)
    if (first.type !== 'accepted') throw new Error('accepted')
    await expect(first.result).resolves.toMatchObject({ type: 'rejected' })
  })
})

describe('processor: requests forwarded to an issuer', () => {
  const PENDING = {
    id: 'tx_forwarded',
    kind: 'purchase',
    outcome: 'declined',
    reason: 'issuer_timeout',
    checks: [],
  }
  const FINAL = {
    id: 'tx_forwarded',
    kind: 'purchase',
    outcome: 'approved',
    reason: null,
    checks: [],
  }

  /** An executor that forwards a sale, replays a retransmission, and records the answer. */
  function forwardingExecutor() {
    const seen: BatchRequest[] = []
    const executor: BatchExecutor = {
      execute: (requests) => {
        seen.push(...requests)
        return Promise.resolve(
          requests.map((request): BatchResult => {
            if (request.type === 'issuer_answer')
              return { type: 'decided', transaction: FINAL as never, replayed: false }
            if (request.type === 'new' && request.stan === '000002')
              return { type: 'decided', transaction: PENDING as never, replayed: true }
            return {
              type: 'forward',
              transaction: PENDING as never,
              message: { id: 'request:tx_forwarded' } as never,
            }
          }),
        )
      },
      expireHolds: () => Promise.resolve(0),
      close: () => Promise.resolve(),
    }
    return { executor, seen }
  }

  it('sends the forward, records the answer in a batch, answers the caller and its retransmission, and close() waits', async () => {
    const { executor, seen } = forwardingExecutor()
    const { gateway, sent, deliver } = heldGateway()
    const p = forwardingProcessor(executor, gateway)
    const first = p.submit(badRequest('000001'))
    await tick()
    await tick()
    expect(sent).toHaveLength(1)
    // The sealed card number travels with the request; the clear one only to the gateway.
    expect(seen[0]).toMatchObject({ sealedPan: 'sealed' })
    const retransmission = p.submit(badRequest('000002'))
    await tick()
    await tick()
    let closed = false
    const closing = p.close().then(() => {
      closed = true
    })
    await tick()
    expect(closed).toBe(false)
    deliver(APPROVED)
    if (first.type !== 'accepted' || retransmission.type !== 'accepted') throw new Error('accepted')
    await expect(first.result).resolves.toMatchObject({ transaction: FINAL })
    await expect(retransmission.result).resolves.toMatchObject({ transaction: FINAL })
    await closing
    expect(closed).toBe(true)
    expect(seen.filter((r) => r.type === 'issuer_answer')).toHaveLength(1)
  })
})

describe('processor: retransmissions while the request is at its bank', () => {
  it('lets sixteen callers wait for the bank, and tells the rest "busy, try again", never a final decline', async () => {
    const PENDING = {
      id: 'tx_r',
      kind: 'purchase',
      outcome: 'declined',
      reason: 'issuer_timeout',
      checks: [],
    }
    const FINAL = { id: 'tx_r', kind: 'purchase', outcome: 'approved', reason: null, checks: [] }
    const executor: BatchExecutor = {
      execute: (requests) =>
        Promise.resolve(
          requests.map((request): BatchResult => {
            if (request.type === 'issuer_answer')
              return { type: 'decided', transaction: FINAL as never, replayed: false }
            if (request.type === 'new' && request.stan !== '000001')
              return { type: 'decided', transaction: PENDING as never, replayed: true }
            return {
              type: 'forward',
              transaction: PENDING as never,
              message: { id: 'request:tx_r' } as never,
            }
          }),
        ),
      expireHolds: () => Promise.resolve(0),
      close: () => Promise.resolve(),
    }
    const { gateway, deliver } = heldGateway()
    const p = forwardingProcessor(executor, gateway, 100)
    const first = p.submit(badRequest('000001'))
    await tick()
    await tick()
    const copies = Array.from({ length: 17 }, (_, i) =>
      p.submit(badRequest(String(i + 2).padStart(6, '0'))),
    )
    await tick()
    await tick()
    const results = copies.map((c) => {
      if (c.type !== 'accepted') throw new Error('accepted')
      return c.result
    })
    // The first caller and fifteen retransmissions wait; the sixteenth and later do not.
    for (const refused of results.slice(15))
      await expect(refused).resolves.toMatchObject({ type: 'rejected', reason: 'system_busy' })
    deliver(APPROVED)
    if (first.type !== 'accepted') throw new Error('accepted')
    await expect(first.result).resolves.toMatchObject({ transaction: FINAL })
    for (const waiting of results.slice(0, 15))
      await expect(waiting).resolves.toMatchObject({ transaction: FINAL })
    await p.close()
  })
})

describe('processor: closing while a batch forwards to a bank', () => {
  it('waits for the answer of a sale the last batch forwarded', async () => {
    const PENDING = { id: 'tx_c', kind: 'purchase', outcome: 'declined', checks: [] }
    let release: () => void = () => undefined
    const executor: BatchExecutor = {
      execute: (requests) =>
        new Promise((resolve) => {
          release = () =>
            resolve(
              requests.map((request): BatchResult =>
                request.type === 'issuer_answer'
                  ? { type: 'decided', transaction: PENDING as never, replayed: false }
                  : {
                      type: 'forward',
                      transaction: PENDING as never,
                      message: { id: 'request:tx_c' } as never,
                    },
              ),
            )
        }),
      expireHolds: () => Promise.resolve(0),
      close: () => Promise.resolve(),
    }
    const { gateway, deliver } = heldGateway()
    const p = forwardingProcessor(executor, gateway)
    const sale = p.submit(badRequest('000001'))
    await tick()
    // SIGTERM while the sale's batch is still being decided.
    let closed = false
    const closing = p.close().then(() => {
      closed = true
    })
    release()
    await tick()
    await tick()
    expect(closed).toBe(false)
    deliver({ type: 'timeout', latencyMs: 1_000 })
    // The answer is recorded in a batch of its own, then close() may end.
    for (let i = 0; i < 5; i += 1) await tick()
    release()
    await closing
    expect(closed).toBe(true)
    if (sale.type !== 'accepted') throw new Error('accepted')
    await expect(sale.result).resolves.toMatchObject({ type: 'decided' })
  })
})

describe('processor: recording an issuer answer when its batch fails', () => {
  it('tries the answer again, so the caller still gets it', async () => {
    const PENDING = {
      id: 'tx_f',
      kind: 'purchase',
      outcome: 'declined',
      reason: 'issuer_timeout',
      checks: [],
    }
    const FINAL = { id: 'tx_f', kind: 'purchase', outcome: 'approved', reason: null, checks: [] }
    let answerBatches = 0
    const executor: BatchExecutor = {
      execute: (requests) => {
        if (requests.some((r) => r.type === 'issuer_answer')) {
          answerBatches++
          if (answerBatches === 1) return Promise.reject(new Error('disk I/O error'))
          return Promise.resolve([
            { type: 'decided', transaction: FINAL as never, replayed: false },
          ])
        }
        return Promise.resolve(
          requests.map((): BatchResult => ({
            type: 'forward',
            transaction: PENDING as never,
            message: { id: 'request:tx_f' } as never,
          })),
        )
      },
      expireHolds: () => Promise.resolve(0),
      close: () => Promise.resolve(),
    }
    const gateway = answeringGateway(APPROVED)
    const p = forwardingProcessor(executor, gateway)
    const outcome = p.submit(badRequest('000001'))
    if (outcome.type !== 'accepted') throw new Error('accepted')
    await expect(outcome.result).resolves.toMatchObject({ transaction: FINAL })
    expect(answerBatches).toBe(2)
  })

  it('after five failures answers the caller with the failure, then records a timeout (reversed) once the store is back', async () => {
    vi.useFakeTimers()
    try {
      const PENDING = { id: 'tx_s', kind: 'purchase', outcome: 'declined', checks: [] }
      const answers: IssuerOutcome[] = []
      const batchSizes: number[] = []
      let storeBack = false
      const executor: BatchExecutor = {
        execute: (requests) => {
          const answer = requests.find((r) => r.type === 'issuer_answer')
          if (answer !== undefined) {
            answers.push(answer.outcome)
            batchSizes.push(requests.length)
            if (!storeBack) return Promise.reject(new Error('disk I/O error'))
            return Promise.resolve([
              { type: 'decided', transaction: PENDING as never, replayed: false },
            ])
          }
          return Promise.resolve(
            requests.map((r): BatchResult =>
              r.type === 'new' && r.stan === '000002'
                ? {
                    type: 'rejected',
                    reason: 'unknown_terminal',
                    errors: [],
                    checks: [],
                    evidence: {},
                  }
                : {
                    type: 'forward',
                    transaction: PENDING as never,
                    message: { id: 'request:tx_s' } as never,
                  },
            ),
          )
        },
        expireHolds: () => Promise.resolve(0),
        close: () => Promise.resolve(),
      }
      const gateway = answeringGateway(APPROVED)
      const p = forwardingProcessor(executor, gateway)
      const outcome = p.submit(badRequest('000001'))
      if (outcome.type !== 'accepted') throw new Error('accepted')
      const failed = expect(outcome.result).rejects.toThrow('the batch could not be committed')
      await vi.advanceTimersByTimeAsync(5 * 1_000)
      await failed
      expect(answers).toHaveLength(5)
      expect(answers.every((a) => a.type === 'answered')).toBe(true)
      // The terminal was told it failed: the approval must not stand. Recorded as a timeout
      // (which queues the reversal) as soon as the store takes it, without a restart.
      // Another terminal's sale meanwhile: never in the same batch as a retry.
      const other = p.submit(badRequest('000002'))
      await vi.advanceTimersByTimeAsync(10_000)
      expect(answers[5]).toEqual({ type: 'timeout', latencyMs: 0, unrecorded: true })
      expect(batchSizes.slice(1)).toEqual([1, 1, 1, 1, 1])
      if (other.type !== 'accepted') throw new Error('accepted')
      await expect(other.result).resolves.toMatchObject({ type: 'rejected' })
      storeBack = true
      await vi.advanceTimersByTimeAsync(10_000)
      expect(answers).toHaveLength(7)
      expect(answers[6]).toMatchObject({ type: 'timeout', unrecorded: true })
      await vi.advanceTimersByTimeAsync(60_000)
      expect(answers).toHaveLength(7)
      await p.close()
    } finally {
      vi.useRealTimers()
    }
  })

  it('keeps trying to record it, alone, for as long as the store fails (until closing)', async () => {
    vi.useFakeTimers()
    try {
      let attempts = 0
      const executor: BatchExecutor = {
        execute: (requests) => {
          if (requests.some((r) => r.type === 'issuer_answer')) {
            attempts++
            return Promise.reject(new Error('disk I/O error'))
          }
          return Promise.resolve(
            requests.map((): BatchResult => ({
              type: 'forward',
              transaction: { id: 'tx_g', kind: 'purchase', checks: [] } as never,
              message: { id: 'request:tx_g' } as never,
            })),
          )
        },
        expireHolds: () => Promise.resolve(0),
        close: () => Promise.resolve(),
      }
      const gateway = answeringGateway({ type: 'timeout', latencyMs: 1_000 })
      const p = forwardingProcessor(executor, gateway)
      const outcome = p.submit(badRequest('000001'))
      if (outcome.type !== 'accepted') throw new Error('accepted')
      const failed = expect(outcome.result).rejects.toThrow()
      await vi.advanceTimersByTimeAsync(5_000 + 60 * 10_000)
      await failed
      expect(attempts).toBe(65)
      await vi.advanceTimersByTimeAsync(60 * 10_000)
      expect(attempts).toBe(125)
      await p.close()
      await vi.advanceTimersByTimeAsync(60 * 10_000)
      expect(attempts).toBeLessThanOrEqual(126)
    } finally {
      vi.useRealTimers()
    }
  })
})
