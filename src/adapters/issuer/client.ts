import { assert } from '../../core/assert.js'
import { reconnectPlan } from '../../core/routing/backoff.js'
import {
  CircuitBreaker,
  type BreakerOutcome,
  type BreakerTicket,
  type BreakerTransition,
} from '../../core/routing/breaker.js'
import {
  routeStatus,
  RouteWindow,
  type RouteOutcome,
  type RouteStatus,
} from '../../core/routing/health.js'
import { BoundedHistory } from '../../core/routing/window.js'
import type { Clock } from '../../ports/clock.js'
import { encode, type DecodeError, type IsoMessage } from '../iso8583/codec.js'
import { loadDialect, type Dialect } from '../iso8583/spec.js'
import {
  IssuerRouteConfigError,
  REQUEST_TIMEOUT_MS_MAX,
  resolveIssuerRouteConfig,
  type IssuerRouteConfig,
  type IssuerRouteConfigInput,
} from './config.js'
import { IssuerConnection, type ConnectionEndReason } from './connection.js'
import {
  breakerHealth,
  newCounters,
  type IssuerClientCounters,
  type RouteHealth,
  type RouteTransition,
} from './health.js'
import type { IssuerLogger } from './logger.js'
import {
  correlationKeyOf,
  isProtocolError,
  readAnswer,
  requestMessage,
  responseMti,
  type IssuerAnswer,
  type IssuerRequest,
} from './protocol.js'

/**
 * The remote issuer client for one route: a pool of signed-on TCP connections to one issuer
 * host, a circuit breaker, and the route's health. `send` never throws; every outcome is a value.
 *
 * | result | meaning | the caller |
 * |---|---|---|
 * | `answered` | the issuer answered; `answer.responseCode` is its field 39 | maps the code |
 * | `timeout` | written, no answer in time, or the connection carrying it closed | outcome unknown: reverse |
 * | `unavailable` | not sent (see `why`) — except `closed_in_flight` | stand in or decline |
 * | `rejected` | the issuer's answer did not read | outcome unknown: reverse |
 *
 * `closed_in_flight` is the one `unavailable` that was written: the pool closed before the
 * answer came, so its outcome is unknown, as for a timeout.
 *
 * ```ts
 * const client = createIssuerClient(routeConfig, { clock: systemClock, random: Math.random, logger })
 * const result = await client.send(request)
 * if (result.type === 'answered') use(result.answer.responseCode)
 * await client.close()
 * ```
 */
export type IssuerResult =
  | {
      readonly type: 'answered'
      readonly answer: IssuerAnswer
      readonly latencyMs: number
      /** The response MTI, e.g. 0210. */
      readonly mti: string
    }
  | { readonly type: 'timeout'; readonly why: TimeoutWhy }
  | { readonly type: 'unavailable'; readonly why: UnavailableWhy; readonly detail?: string }
  | { readonly type: 'rejected'; readonly why: string }

export type TimeoutWhy = 'no_answer' | 'connection_lost'

export type UnavailableWhy =
  /** No connection is signed on. */
  | 'no_connection'
  | 'circuit_open'
  /** The route or every connection has its maximum in flight. */
  | 'busy'
  | 'pool_closed'
  /** A request with the same correlation key is in flight. */
  | 'duplicate_in_flight'
  /** The request does not encode (detail names the field). */
  | 'request_invalid'
  /** Written, but the pool closed before the answer: outcome unknown. */
  | 'closed_in_flight'

export interface IssuerClient {
  readonly route: string
  /**
   * Sends a request and waits for its answer, at most `timeoutMs` (the route's request timeout
   * by default). `attempt` picks the repeat MTI of advices and reversals (0220 → 0221,
   * 0400 → 0420 → 0421).
   */
  send(request: IssuerRequest, attempt?: number, timeoutMs?: number): Promise<IssuerResult>
  health(): RouteHealth
  /** Just the status (what `health().status` says), cheap enough to ask for every batch. */
  status(): RouteHealth['status']
  /** Route and breaker transitions, oldest first, at most `historyMax`. */
  history(): RouteTransition[]
  /** Resolves true once at least `count` connections are signed on, false after `timeoutMs`. */
  whenSignedOn(count: number, timeoutMs: number): Promise<boolean>
  /** Signs off and closes every connection; pending sends are answered first. Idempotent. */
  close(): Promise<void>
}

export interface IssuerClientDeps {
  readonly clock: Clock
  /** In [0, 1): the jitter of reconnect delays. */
  readonly random: () => number
  readonly logger: IssuerLogger
}

/** Keys of timed-out requests kept to tell a late answer from an unknown one. */
export const TIMED_OUT_KEYS_MAX = 4_096

/** Builds the client and starts connecting. Throws IssuerRouteConfigError on a bad config. */
export function createIssuerClient(
  input: IssuerRouteConfigInput,
  deps: IssuerClientDeps,
): IssuerClient {
  const resolved = resolveIssuerRouteConfig(input)
  if (!resolved.ok) throw new IssuerRouteConfigError(String(input.name), resolved.errors)
  return new RouteClient(resolved.config, deps)
}

interface Slot {
  readonly index: number
  connection: IssuerConnection | null
  failures: number
  timer: NodeJS.Timeout | null
}

interface Pending {
  readonly key: string
  readonly kind: IssuerRequest['kind']
  readonly mti: string
  readonly connection: IssuerConnection
  readonly ticket: BreakerTicket
  readonly startedMs: number
  readonly timer: NodeJS.Timeout
  readonly resolve: (result: IssuerResult) => void
}

class RouteClient implements IssuerClient {
  readonly route: string
  readonly #config: IssuerRouteConfig
  readonly #deps: IssuerClientDeps
  readonly #dialect: Dialect
  readonly #slots: Slot[]
  readonly #pending = new Map<string, Pending>()
  readonly #timedOut = new Map<string, number>()
  readonly #breaker: CircuitBreaker
  readonly #window: RouteWindow
  readonly #history: BoundedHistory<RouteTransition>
  readonly #counters: IssuerClientCounters = newCounters()
  readonly #signedOnWaiters = new Set<() => void>()
  readonly #drainWaiters = new Set<() => void>()
  #status: { status: RouteStatus; reason: string; sinceMs: number }
  #breakerTimer: NodeJS.Timeout | null = null
  #closing: Promise<void> | null = null
  #stan = 0
  #connectionIdLast = 0
  #rotation = 0

  constructor(config: IssuerRouteConfig, deps: IssuerClientDeps) {
    this.route = config.name
    this.#config = config
    this.#deps = deps
    this.#dialect = loadDialect(config.dialect)
    const nowMs = deps.clock.nowMs()
    this.#breaker = new CircuitBreaker(config.breaker, nowMs)
    this.#window = new RouteWindow(
      config.healthWindowMs,
      config.breaker.bucketCount,
      config.latencySamplesMax,
    )
    this.#history = new BoundedHistory(config.historyMax)
    this.#status = { status: 'down', reason: 'connecting', sinceMs: nowMs }
    this.#slots = Array.from({ length: config.poolSize }, (_, index) => ({
      index,
      connection: null,
      failures: 0,
      timer: null,
    }))
    for (const slot of this.#slots) this.#open(slot)
  }

  send(request: IssuerRequest, attempt = 0, timeoutMs?: number): Promise<IssuerResult> {
    const waitMs = timeoutMs ?? this.#config.requestTimeoutMs
    assert(Number.isSafeInteger(attempt) && attempt >= 0, `issuer send: bad attempt ${attempt}`)
    assert(
      Number.isSafeInteger(waitMs) && waitMs >= 1 && waitMs <= REQUEST_TIMEOUT_MS_MAX,
      `issuer send: timeoutMs ${waitMs} outside 1..${REQUEST_TIMEOUT_MS_MAX}`,
    )
    if (this.#closing !== null) return this.#unavailable('pool_closed')
    const message = requestMessage(request, attempt)
    const key = correlationKeyOf(message)
    assert(key !== null, 'issuer send: a request message always has fields 7, 11 and 41')
    const encoded = encode(this.#dialect, message)
    if (!encoded.ok) {
      // EncodeError never holds a sensitive value: the field and what it expected are safe.
      const { field, expected } = encoded.error
      return this.#unavailable('request_invalid', `field ${String(field)}: expected ${expected}`)
    }
    if (encoded.bytes.length > this.#config.frameBytesMax)
      return this.#unavailable(
        'request_invalid',
        `message over ${this.#config.frameBytesMax} bytes`,
      )
    if (this.#pending.has(key)) return this.#unavailable('duplicate_in_flight', key)
    if (this.#pending.size >= this.#config.inFlightPerRouteMax) return this.#unavailable('busy')
    const picked = this.#pick()
    if (picked === 'none') return this.#unavailable('no_connection')
    if (picked === 'full') return this.#unavailable('busy')
    const nowMs = this.#deps.clock.nowMs()
    const admission = this.#breaker.admit(nowMs)
    this.#onBreakerTransition(admission.transition)
    if (!admission.admitted) return this.#unavailable('circuit_open')
    if (!picked.write(encoded.bytes)) {
      this.#breaker.release(admission.ticket)
      return this.#unavailable('no_connection')
    }
    this.#counters.sent += 1
    picked.inFlight += 1
    assert(picked.inFlight <= this.#config.inFlightPerConnectionMax, 'issuer: connection over max')
    return new Promise<IssuerResult>((resolve) => {
      const timer = setTimeout(() => this.#onTimeout(key), waitMs)
      this.#pending.set(key, {
        key,
        kind: request.kind,
        mti: message.mti,
        connection: picked,
        ticket: admission.ticket,
        startedMs: nowMs,
        timer,
        resolve,
      })
      assert(this.#pending.size <= this.#config.inFlightPerRouteMax, 'issuer: route over max')
    })
  }

  status(): RouteHealth['status'] {
    this.#tickStatus(this.#deps.clock.nowMs())
    return this.#status.status
  }

  #tickStatus(nowMs: number): void {
    this.#onBreakerTransition(this.#breaker.tick(nowMs))
    // Rates age out of the window with no event: derive the status again when asked.
    this.#refreshStatus()
  }

  health(): RouteHealth {
    const nowMs = this.#deps.clock.nowMs()
    this.#tickStatus(nowMs)
    const lastTransition = this.#history.last()
    return {
      route: this.route,
      host: this.#config.host,
      port: this.#config.port,
      status: this.#status.status,
      statusReason: this.#status.reason,
      since: new Date(this.#status.sinceMs).toISOString(),
      sinceMs: this.#status.sinceMs,
      breaker: breakerHealth(this.#breaker.snapshot(nowMs)),
      connections: {
        poolSize: this.#config.poolSize,
        signedOn: this.#signedOn(),
        reconnecting: this.#slots.filter((slot) => slot.timer !== null).length,
        list: this.#slots.flatMap((slot) =>
          slot.connection === null
            ? []
            : [
                {
                  id: slot.connection.id,
                  state: slot.connection.state,
                  inFlight: slot.connection.inFlight,
                  readyForMs: slot.connection.readyForMs(nowMs),
                },
              ],
        ),
      },
      inFlight: {
        route: this.#pending.size,
        routeMax: this.#config.inFlightPerRouteMax,
        perConnectionMax: this.#config.inFlightPerConnectionMax,
      },
      window: this.#window.snapshot(nowMs),
      counters: { ...this.#counters, unavailable: { ...this.#counters.unavailable } },
      lastTransition,
      historyDropped: this.#history.dropped,
    }
  }

  history(): RouteTransition[] {
    return this.#history.list()
  }

  whenSignedOn(count: number, timeoutMs: number): Promise<boolean> {
    assert(count >= 1 && count <= this.#config.poolSize, `whenSignedOn: count ${count} not in pool`)
    if (this.#signedOn() >= count) return Promise.resolve(true)
    if (this.#closing !== null) return Promise.resolve(false)
    return new Promise((resolve) => {
      const check = (): void => {
        const closed = this.#closing !== null
        if (!closed && this.#signedOn() < count) return
        clearTimeout(timer)
        this.#signedOnWaiters.delete(check)
        resolve(!closed)
      }
      const timer = setTimeout(() => {
        this.#signedOnWaiters.delete(check)
        resolve(false)
      }, timeoutMs)
      this.#signedOnWaiters.add(check)
    })
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown()
    return this.#closing
  }

  async #shutdown(): Promise<void> {
    for (const waiter of [...this.#signedOnWaiters]) waiter()
    for (const slot of this.#slots) {
      if (slot.timer !== null) clearTimeout(slot.timer)
      slot.timer = null
    }
    if (this.#breakerTimer !== null) clearTimeout(this.#breakerTimer)
    this.#breakerTimer = null
    const graceMs = this.#config.closeGraceMs
    await this.#drained(graceMs)
    for (const pending of [...this.#pending.values()]) {
      this.#settle(pending, { type: 'unavailable', why: 'closed_in_flight' }, null, null)
    }
    const connections = this.#slots.flatMap((slot) => (slot.connection ? [slot.connection] : []))
    await Promise.all(connections.map((connection) => connection.signOff(graceMs)))
    assert(this.#pending.size === 0, 'issuer close: requests still pending')
    this.#deps.logger.info({ route: this.route }, 'issuer route closed')
  }

  #drained(waitMs: number): Promise<void> {
    if (this.#pending.size === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.#drainWaiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, waitMs)
      this.#drainWaiters.add(done)
    })
  }

  // -------------------------------------------------------------------------------------------
  // Connections

  #open(slot: Slot): void {
    slot.timer = null
    if (this.#closing !== null) return
    this.#connectionIdLast += 1
    this.#counters.connectAttempts += 1
    slot.connection = new IssuerConnection(
      this.#connectionIdLast,
      {
        config: this.#config,
        dialect: this.#dialect,
        clock: this.#deps.clock,
        logger: this.#deps.logger,
        nextStan: () => this.#nextStan(),
      },
      {
        onReady: (connection) => this.#onReady(slot, connection),
        onEnd: (connection, reason, readyForMs) =>
          this.#onEnd(slot, connection, reason, readyForMs),
        onMessage: (connection, message) => this.#onMessage(connection, message),
        onMalformed: (connection, error) => this.#onMalformed(connection, error),
        onEcho: (connection, ok, latencyMs) => this.#onEcho(connection, ok, latencyMs),
      },
    )
  }

  #onReady(slot: Slot, connection: IssuerConnection): void {
    this.#counters.signOns += 1
    this.#deps.logger.info(
      { route: this.route, connection: connection.id, slot: slot.index },
      'issuer connection signed on',
    )
    this.#refreshStatus()
    for (const waiter of [...this.#signedOnWaiters]) waiter()
  }

  #onEnd(
    slot: Slot,
    connection: IssuerConnection,
    reason: ConnectionEndReason,
    readyForMs: number | null,
  ): void {
    this.#counters.connectionsEnded += 1
    if (slot.connection === connection) slot.connection = null
    for (const pending of [...this.#pending.values()]) {
      if (pending.connection !== connection) continue
      this.#counters.connectionLost += 1
      this.#rememberTimedOut(pending.key)
      this.#settle(pending, { type: 'timeout', why: 'connection_lost' }, 'failure', 'timeout')
    }
    if (this.#closing !== null) return
    const plan = reconnectPlan(slot.failures, readyForMs, this.#config.reconnect, this.#random())
    slot.failures = plan.failures
    slot.timer = setTimeout(() => this.#open(slot), plan.delayMs)
    this.#deps.logger.warn(
      {
        route: this.route,
        connection: connection.id,
        slot: slot.index,
        reason,
        readyForMs,
        reconnectInMs: plan.delayMs,
        failures: plan.failures,
      },
      'issuer connection ended',
    )
    this.#refreshStatus()
  }

  #onEcho(connection: IssuerConnection, ok: boolean, latencyMs: number | null): void {
    this.#counters.echoes += 1
    if (!ok) this.#counters.echoFailures += 1
    this.#deps.logger.debug({ route: this.route, connection: connection.id, ok, latencyMs }, 'echo')
    const transitions = this.#breaker.recordEcho(
      ok ? 'success' : 'failure',
      this.#deps.clock.nowMs(),
    )
    for (const transition of transitions) this.#onBreakerTransition(transition)
  }

  #onMalformed(connection: IssuerConnection, error: DecodeError): void {
    this.#counters.malformedFrames += 1
    // A DecodeError never carries the content of a sensitive field.
    this.#deps.logger.warn(
      {
        route: this.route,
        connection: connection.id,
        code: error.code,
        field: error.field,
        mti: error.mti,
      },
      'issuer message does not decode: dropped',
    )
  }

  #pick(): IssuerConnection | 'none' | 'full' {
    let best: IssuerConnection | null = null
    let ready = 0
    const count = this.#slots.length
    for (let step = 0; step < count; step += 1) {
      const connection = this.#slots[(this.#rotation + step) % count]?.connection ?? null
      if (connection === null || connection.state !== 'ready') continue
      ready += 1
      if (connection.inFlight >= this.#config.inFlightPerConnectionMax) continue
      if (best === null || connection.inFlight < best.inFlight) best = connection
    }
    this.#rotation = (this.#rotation + 1) % count
    if (best !== null) return best
    return ready === 0 ? 'none' : 'full'
  }

  #signedOn(): number {
    return this.#slots.filter((slot) => slot.connection?.state === 'ready').length
  }

  #nextStan(): string {
    this.#stan = (this.#stan % 999_999) + 1
    return String(this.#stan).padStart(6, '0')
  }

  #random(): number {
    const value = this.#deps.random()
    assert(value >= 0 && value < 1, `issuer client: random ${value} outside [0, 1)`)
    return value
  }

  // -------------------------------------------------------------------------------------------
  // Answers

  #onMessage(connection: IssuerConnection, message: IsoMessage): void {
    const key = correlationKeyOf(message)
    const pending = key === null ? undefined : this.#pending.get(key)
    if (key === null || pending === undefined) {
      const late = key !== null && this.#timedOut.has(key)
      if (late) this.#counters.lateAnswers += 1
      else this.#counters.unmatchedAnswers += 1
      const log = { route: this.route, connection: connection.id, mti: message.mti, key }
      if (late) this.#deps.logger.info(log, 'late issuer answer: dropped')
      else this.#deps.logger.warn(log, 'issuer answer matches no request: dropped')
      return
    }
    const expectedMti = responseMti(pending.mti)
    if (message.mti !== expectedMti) {
      this.#counters.rejected += 1
      const why = `answer MTI ${message.mti} where ${expectedMti} was expected`
      this.#settle(pending, { type: 'rejected', why }, 'failure', 'error')
      return
    }
    const answer = readAnswer(message)
    if (isProtocolError(answer)) {
      this.#counters.rejected += 1
      const why = `field ${String(answer.field)}: expected ${answer.expected}`
      this.#deps.logger.warn({ route: this.route, key, why }, 'issuer answer rejected')
      this.#settle(pending, { type: 'rejected', why }, 'failure', 'error')
      return
    }
    const latencyMs = Math.max(0, this.#deps.clock.nowMs() - pending.startedMs)
    const failed = this.#config.failureResponseCodes.includes(answer.responseCode)
    if (failed) this.#counters.failureCodes += 1
    this.#counters.answered += 1
    this.#settle(
      pending,
      { type: 'answered', answer, latencyMs, mti: message.mti },
      failed ? 'failure' : 'success',
      'answered',
      latencyMs,
    )
  }

  #onTimeout(key: string): void {
    const pending = this.#pending.get(key)
    if (pending === undefined) return
    this.#counters.timeouts += 1
    this.#rememberTimedOut(key)
    this.#deps.logger.warn(
      {
        route: this.route,
        key,
        kind: pending.kind,
        mti: pending.mti,
        connection: pending.connection.id,
      },
      'issuer request timed out',
    )
    this.#settle(pending, { type: 'timeout', why: 'no_answer' }, 'failure', 'timeout')
  }

  #rememberTimedOut(key: string): void {
    this.#timedOut.delete(key)
    this.#timedOut.set(key, this.#deps.clock.nowMs())
    if (this.#timedOut.size > TIMED_OUT_KEYS_MAX) {
      const oldest = this.#timedOut.keys().next()
      if (oldest.done !== true) this.#timedOut.delete(oldest.value)
    }
    assert(this.#timedOut.size <= TIMED_OUT_KEYS_MAX, 'issuer: timed-out keys over max')
  }

  #settle(
    pending: Pending,
    result: IssuerResult,
    breakerOutcome: BreakerOutcome | null,
    windowOutcome: RouteOutcome | null,
    latencyMs: number | null = null,
  ): void {
    const removed = this.#pending.delete(pending.key)
    assert(removed, 'issuer: settling a request that is not pending')
    clearTimeout(pending.timer)
    pending.connection.inFlight -= 1
    assert(pending.connection.inFlight >= 0, 'issuer: negative in flight')
    const nowMs = this.#deps.clock.nowMs()
    if (breakerOutcome === null) this.#breaker.release(pending.ticket)
    else this.#onBreakerTransition(this.#breaker.record(pending.ticket, breakerOutcome, nowMs))
    if (windowOutcome !== null) this.#window.record(windowOutcome, nowMs, latencyMs)
    pending.resolve(result)
    if (this.#pending.size === 0) for (const waiter of [...this.#drainWaiters]) waiter()
    this.#refreshStatus()
  }

  #unavailable(why: UnavailableWhy, detail?: string): Promise<IssuerResult> {
    this.#counters.unavailable[why] = (this.#counters.unavailable[why] ?? 0) + 1
    this.#window.record('unavailable', this.#deps.clock.nowMs())
    const result: IssuerResult =
      detail === undefined ? { type: 'unavailable', why } : { type: 'unavailable', why, detail }
    return Promise.resolve(result)
  }

  // -------------------------------------------------------------------------------------------
  // Breaker and status

  #onBreakerTransition(transition: BreakerTransition | null): void {
    if (transition === null) return
    const { from, to, reason, outcomes, failures, atMs } = transition
    this.#record('breaker', from, to, `${reason} (${failures} of ${outcomes})`, atMs)
    const log = { route: this.route, from, to, reason, outcomes, failures }
    if (to === 'open') this.#deps.logger.warn(log, 'issuer circuit opened')
    else this.#deps.logger.info(log, `issuer circuit ${to === 'closed' ? 'closed' : 'half-open'}`)
    if (this.#breakerTimer !== null) clearTimeout(this.#breakerTimer)
    this.#breakerTimer = null
    if (to === 'open' && this.#closing === null) {
      // Move to half-open on time even with no traffic, so health shows it and echoes probe.
      this.#breakerTimer = setTimeout(() => {
        this.#breakerTimer = null
        this.#onBreakerTransition(this.#breaker.tick(this.#deps.clock.nowMs()))
      }, this.#config.breaker.coolDownMs)
    }
    this.#refreshStatus()
  }

  #refreshStatus(): void {
    const nowMs = this.#deps.clock.nowMs()
    const next = routeStatus({
      breakerState: this.#breaker.state,
      signedOn: this.#signedOn(),
      poolSize: this.#config.poolSize,
      outcomes: this.#window.outcomes(nowMs),
      degradedFailurePercent: this.#config.degradedFailurePercent,
      requestsMin: this.#config.breaker.requestsMin,
    })
    if (next.status === this.#status.status) {
      this.#status.reason = next.reason
      return
    }
    this.#record('route', this.#status.status, next.status, next.reason, nowMs)
    const log = {
      route: this.route,
      from: this.#status.status,
      to: next.status,
      reason: next.reason,
    }
    if (next.status === 'up') this.#deps.logger.info(log, 'issuer route status')
    else this.#deps.logger.warn(log, 'issuer route status')
    this.#status = { status: next.status, reason: next.reason, sinceMs: nowMs }
  }

  #record(
    kind: RouteTransition['kind'],
    from: RouteTransition['from'],
    to: RouteTransition['to'],
    reason: string,
    atMs: number,
  ): void {
    this.#history.push({ at: new Date(atMs).toISOString(), atMs, kind, from, to, reason })
  }
}
