import { assert } from '../assert.js'
import { SlidingCounts } from './window.js'

/**
 * A circuit breaker for one issuer route. Pure: the caller passes the time.
 *
 * - **closed**: everything passes. Outcomes are counted over a sliding window; when the window
 *   holds at least `requestsMin` outcomes and failures (timeouts, errors) are at least
 *   `failureRatePercent` of them, the breaker opens.
 * - **open**: nothing passes until `coolDownMs` has elapsed since it opened; then half-open.
 * - **half_open**: at most `halfOpenProbesMax` requests at a time pass as probes. Echo answers
 *   count as probes too (an idle route recovers without traffic). `halfOpenSuccessesToClose`
 *   successes close it (with an empty window); one failure opens it again.
 *
 * Every admitted request carries a ticket with the breaker's generation (bumped at every
 * transition): an outcome of an older generation — a request let through before the breaker
 * opened that ends after — changes nothing.
 */
export type BreakerState = 'closed' | 'open' | 'half_open'

export interface BreakerConfig {
  readonly windowMs: number
  /** The window is kept in this many buckets (windowMs must be a multiple). */
  readonly bucketCount: number
  /** No opening below this many outcomes in the window. */
  readonly requestsMin: number
  /** Opens when failures × 100 ≥ failureRatePercent × outcomes. 1..100. */
  readonly failureRatePercent: number
  readonly coolDownMs: number
  readonly halfOpenProbesMax: number
  readonly halfOpenSuccessesToClose: number
}

export const BREAKER_DEFAULT: BreakerConfig = {
  windowMs: 20_000,
  bucketCount: 10,
  requestsMin: 10,
  failureRatePercent: 50,
  coolDownMs: 5_000,
  halfOpenProbesMax: 2,
  halfOpenSuccessesToClose: 2,
}

const MS_LIMIT = 3_600_000
const COUNT_LIMIT = 100_000

export function validateBreaker(config: BreakerConfig): string[] {
  const errors: string[] = []
  const check = (key: keyof BreakerConfig, min: number, max: number): void => {
    const value = config[key]
    if (!Number.isSafeInteger(value) || value < min || value > max)
      errors.push(`${key} must be an integer in ${min}..${max}, got ${String(value)}`)
  }
  check('windowMs', 1, MS_LIMIT)
  check('bucketCount', 1, 1_000)
  check('requestsMin', 1, COUNT_LIMIT)
  check('failureRatePercent', 1, 100)
  check('coolDownMs', 1, MS_LIMIT)
  check('halfOpenProbesMax', 1, 1_000)
  check('halfOpenSuccessesToClose', 1, 1_000)
  if (errors.length === 0 && config.windowMs % config.bucketCount !== 0)
    errors.push(`windowMs (${config.windowMs}) must be a multiple of bucketCount`)
  return errors
}

export type BreakerReason =
  | 'failure_rate'
  | 'cool_down_elapsed'
  | 'probe_succeeded'
  | 'probe_failed'
  | 'echo_succeeded'
  | 'echo_failed'

export interface BreakerTransition {
  readonly atMs: number
  readonly from: BreakerState
  readonly to: BreakerState
  readonly reason: BreakerReason
  /** Outcomes and failures in the window (closed → open), or probes seen (half-open). */
  readonly outcomes: number
  readonly failures: number
}

export interface BreakerTicket {
  readonly generation: number
  readonly probe: boolean
}

export type BreakerAdmission =
  | {
      readonly admitted: true
      readonly ticket: BreakerTicket
      readonly transition: BreakerTransition | null
    }
  | {
      readonly admitted: false
      readonly state: 'open' | 'half_open'
      /** Until the cool-down ends (open), or 0 when refused for probes already out (half-open). */
      readonly retryAfterMs: number
      readonly transition: BreakerTransition | null
    }

export type BreakerOutcome = 'success' | 'failure'

export interface BreakerSnapshot {
  readonly state: BreakerState
  readonly sinceMs: number
  readonly outcomes: number
  readonly failures: number
  readonly probesInFlight: number
  readonly probeSuccesses: number
  /** Open: ms until half-open; else null. */
  readonly retryAfterMs: number | null
  readonly lastTransition: BreakerTransition | null
}

export class CircuitBreaker {
  readonly config: BreakerConfig
  #state: BreakerState = 'closed'
  #sinceMs: number
  #generation = 0
  #probesInFlight = 0
  #probeSuccesses = 0
  #last: BreakerTransition | null = null
  readonly #window: SlidingCounts<BreakerOutcome>

  constructor(config: BreakerConfig, nowMs: number) {
    const errors = validateBreaker(config)
    assert(errors.length === 0, `CircuitBreaker: ${errors.join('; ')}`)
    this.config = config
    this.#sinceMs = nowMs
    this.#window = new SlidingCounts(['success', 'failure'], config.windowMs, config.bucketCount)
  }

  get state(): BreakerState {
    return this.#state
  }

  /** Applies the time-driven transition (open → half-open after the cool-down), if due. */
  tick(nowMs: number): BreakerTransition | null {
    if (this.#state !== 'open' || nowMs - this.#sinceMs < this.config.coolDownMs) return null
    return this.#move('half_open', 'cool_down_elapsed', nowMs, 0, 0)
  }

  /** May a request go now? An admitted request must later be `record`ed or `release`d. */
  admit(nowMs: number): BreakerAdmission {
    const transition = this.tick(nowMs)
    switch (this.#state) {
      case 'closed':
        return {
          admitted: true,
          ticket: { generation: this.#generation, probe: false },
          transition,
        }
      case 'open':
        return {
          admitted: false,
          state: 'open',
          retryAfterMs: Math.max(0, this.#sinceMs + this.config.coolDownMs - nowMs),
          transition,
        }
      case 'half_open':
        if (this.#probesInFlight >= this.config.halfOpenProbesMax)
          return { admitted: false, state: 'half_open', retryAfterMs: 0, transition }
        this.#probesInFlight += 1
        assert(this.#probesInFlight <= this.config.halfOpenProbesMax, 'breaker: probes beyond max')
        return { admitted: true, ticket: { generation: this.#generation, probe: true }, transition }
    }
  }

  /** Returns an admitted ticket that was never sent (nothing is learned from it). */
  release(ticket: BreakerTicket): void {
    if (ticket.probe && ticket.generation === this.#generation) this.#probeDone()
  }

  /** The outcome of an admitted request. */
  record(ticket: BreakerTicket, outcome: BreakerOutcome, nowMs: number): BreakerTransition | null {
    assert(ticket.generation <= this.#generation, 'breaker: ticket from the future')
    if (ticket.generation !== this.#generation) return null
    if (ticket.probe) {
      assert(this.#state === 'half_open', 'breaker: a current probe ticket outside half-open')
      this.#probeDone()
      return this.#probeOutcome(outcome, nowMs, 'probe')
    }
    assert(this.#state === 'closed', 'breaker: a current plain ticket outside closed')
    this.#window.add(outcome, nowMs)
    const { success, failure } = this.#window.totals(nowMs)
    const outcomes = success + failure
    const tripped =
      outcomes >= this.config.requestsMin &&
      failure * 100 >= this.config.failureRatePercent * outcomes
    if (!tripped) return null
    return this.#move('open', 'failure_rate', nowMs, outcomes, failure)
  }

  /** An echo's outcome: a probe in half-open (after the cool-down), nothing otherwise. */
  recordEcho(outcome: BreakerOutcome, nowMs: number): BreakerTransition[] {
    const transitions: BreakerTransition[] = []
    const due = this.tick(nowMs)
    if (due !== null) transitions.push(due)
    if (this.#state !== 'half_open') return transitions
    const moved = this.#probeOutcome(outcome, nowMs, 'echo')
    if (moved !== null) transitions.push(moved)
    return transitions
  }

  snapshot(nowMs: number): BreakerSnapshot {
    const { success, failure } = this.#window.totals(nowMs)
    return {
      state: this.#state,
      sinceMs: this.#sinceMs,
      outcomes: success + failure,
      failures: failure,
      probesInFlight: this.#probesInFlight,
      probeSuccesses: this.#probeSuccesses,
      retryAfterMs:
        this.#state === 'open' ? Math.max(0, this.#sinceMs + this.config.coolDownMs - nowMs) : null,
      lastTransition: this.#last,
    }
  }

  #probeDone(): void {
    this.#probesInFlight -= 1
    assert(this.#probesInFlight >= 0, 'breaker: negative probes in flight')
  }

  #probeOutcome(
    outcome: BreakerOutcome,
    nowMs: number,
    source: 'probe' | 'echo',
  ): BreakerTransition | null {
    const seen = this.#probeSuccesses + 1
    if (outcome === 'failure') {
      return this.#move('open', `${source}_failed`, nowMs, seen, 1)
    }
    this.#probeSuccesses += 1
    if (this.#probeSuccesses < this.config.halfOpenSuccessesToClose) return null
    return this.#move('closed', `${source}_succeeded`, nowMs, seen, 0)
  }

  #move(
    to: BreakerState,
    reason: BreakerReason,
    nowMs: number,
    outcomes: number,
    failures: number,
  ): BreakerTransition {
    assert(to !== this.#state, `breaker: transition to the same state ${to}`)
    const transition: BreakerTransition = {
      atMs: nowMs,
      from: this.#state,
      to,
      reason,
      outcomes,
      failures,
    }
    this.#state = to
    this.#sinceMs = nowMs
    this.#generation += 1
    this.#probesInFlight = 0
    this.#probeSuccesses = 0
    this.#window.clear()
    this.#last = transition
    return transition
  }
}
