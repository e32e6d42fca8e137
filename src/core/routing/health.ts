import { assert } from '../assert.js'
import type { BreakerState } from './breaker.js'
import { LatencySamples, SlidingCounts } from './window.js'

/**
 * The health of one issuer route, as plain data. Pure: counts and latencies arrive with their
 * times; the adapter decides what to log and what to show.
 */
export type RouteStatus = 'up' | 'degraded' | 'down' | 'circuit_open' | 'circuit_half_open'

/** What a request to the route came to, for the health window. */
export type RouteOutcome = 'answered' | 'timeout' | 'error' | 'unavailable'

export const ROUTE_OUTCOMES: readonly RouteOutcome[] = [
  'answered',
  'timeout',
  'error',
  'unavailable',
]

export interface RouteStatusInput {
  readonly breakerState: BreakerState
  readonly signedOn: number
  readonly poolSize: number
  /** Outcomes in the health window. */
  readonly outcomes: Readonly<Record<RouteOutcome, number>>
  /** At or above this timeout + error percentage of sent requests, the route is degraded. */
  readonly degradedFailurePercent: number
  /** Below this many sent requests in the window, rates do not degrade the route. */
  readonly requestsMin: number
}

/**
 * The status and why, most serious first: no connection signed on (down), circuit open, circuit
 * half-open, then degraded (part of the pool down, or many timeouts and errors), else up.
 *
 * @example routeStatus({ breakerState: 'closed', signedOn: 1, poolSize: 2, ... })
 *   // { status: 'degraded', reason: '1 of 2 connections signed on' }
 */
export function routeStatus(input: RouteStatusInput): {
  readonly status: RouteStatus
  readonly reason: string
} {
  assert(input.signedOn >= 0 && input.signedOn <= input.poolSize, 'routeStatus: signedOn range')
  assert(input.poolSize >= 1, 'routeStatus: empty pool')
  if (input.signedOn === 0) return { status: 'down', reason: 'no connection signed on' }
  if (input.breakerState === 'open') return { status: 'circuit_open', reason: 'circuit open' }
  if (input.breakerState === 'half_open')
    return { status: 'circuit_half_open', reason: 'circuit half-open: probing' }
  if (input.signedOn < input.poolSize)
    return {
      status: 'degraded',
      reason: `${input.signedOn} of ${input.poolSize} connections signed on`,
    }
  const { answered, timeout, error } = input.outcomes
  const sent = answered + timeout + error
  const failed = timeout + error
  if (sent >= input.requestsMin && failed * 100 >= input.degradedFailurePercent * sent)
    return {
      status: 'degraded',
      reason: `${failed} of ${sent} recent requests timed out or failed`,
    }
  return { status: 'up', reason: 'all connections signed on, requests answered' }
}

export interface RouteWindowSnapshot {
  readonly windowMs: number
  readonly outcomes: Readonly<Record<RouteOutcome, number>>
  /** Sent requests: answered + timeout + error (unavailable ones were never sent). */
  readonly sent: number
  /** Fractions of sent requests, 0..1 rounded to 4 places; null with nothing sent. */
  readonly timeoutRate: number | null
  readonly errorRate: number | null
  readonly latencyMs: {
    readonly p50: number | null
    readonly p99: number | null
    readonly samples: number
  }
}

/** Outcomes and answer latencies of a route over a sliding window. */
export class RouteWindow {
  readonly windowMs: number
  readonly #counts: SlidingCounts<RouteOutcome>
  readonly #latency: LatencySamples

  constructor(windowMs: number, bucketCount: number, latencySamplesMax: number) {
    this.windowMs = windowMs
    this.#counts = new SlidingCounts(ROUTE_OUTCOMES, windowMs, bucketCount)
    this.#latency = new LatencySamples(latencySamplesMax)
  }

  record(outcome: RouteOutcome, nowMs: number, latencyMs: number | null = null): void {
    assert(
      (outcome === 'answered') === (latencyMs !== null),
      'RouteWindow: a latency comes with an answer, and only then',
    )
    this.#counts.add(outcome, nowMs)
    if (latencyMs !== null) this.#latency.add(latencyMs, nowMs)
  }

  outcomes(nowMs: number): Readonly<Record<RouteOutcome, number>> {
    return this.#counts.totals(nowMs)
  }

  snapshot(nowMs: number): RouteWindowSnapshot {
    const outcomes = this.#counts.totals(nowMs)
    const sent = outcomes.answered + outcomes.timeout + outcomes.error
    const rate = (count: number): number | null =>
      sent === 0 ? null : Math.round((count / sent) * 10_000) / 10_000
    const { samples, values } = this.#latency.percentiles(nowMs, this.windowMs, [50, 99])
    return {
      windowMs: this.windowMs,
      outcomes,
      sent,
      timeoutRate: rate(outcomes.timeout),
      errorRate: rate(outcomes.error),
      latencyMs: { p50: values[0] ?? null, p99: values[1] ?? null, samples },
    }
  }
}
