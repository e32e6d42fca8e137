import type {
  BreakerSnapshot,
  BreakerState,
  BreakerTransition,
} from '../../core/routing/breaker.js'
import type { RouteStatus, RouteWindowSnapshot } from '../../core/routing/health.js'
import type { ConnectionState } from './connection.js'

/**
 * The health of one issuer route as plain, JSON-able data (for `GET /v1/issuer-routes/...` and
 * the console): times are ISO 8601 strings beside their epoch milliseconds.
 */
export interface RouteTransition {
  readonly at: string
  readonly atMs: number
  /** `route`: the route status changed; `breaker`: the circuit breaker moved. */
  readonly kind: 'route' | 'breaker'
  readonly from: RouteStatus | BreakerState
  readonly to: RouteStatus | BreakerState
  readonly reason: string
}

export interface IssuerClientCounters {
  /** Requests written to a connection. */
  sent: number
  answered: number
  timeouts: number
  /** Timeouts because the connection carrying the request closed. */
  connectionLost: number
  /** Answers that did not read (field 39 missing, wrong MTI for the key). */
  rejected: number
  /** Answers with a response code the breaker counts as a failure (91, 96 by default). */
  failureCodes: number
  /** Not sent, by why. */
  unavailable: Record<string, number>
  /** Answers whose request had already timed out: dropped. */
  lateAnswers: number
  /** Answers that match no request at all: dropped. */
  unmatchedAnswers: number
  /** Frames that did not decode: dropped. */
  malformedFrames: number
  connectAttempts: number
  connectionsEnded: number
  signOns: number
  echoes: number
  echoFailures: number
}

export interface ConnectionHealth {
  readonly id: number
  readonly state: ConnectionState
  readonly inFlight: number
  readonly readyForMs: number | null
}

export interface RouteHealth {
  readonly route: string
  readonly host: string
  readonly port: number
  readonly status: RouteStatus
  readonly statusReason: string
  readonly since: string
  readonly sinceMs: number
  readonly breaker: {
    readonly state: BreakerState
    readonly since: string
    readonly retryAfterMs: number | null
    readonly windowOutcomes: number
    readonly windowFailures: number
    readonly probesInFlight: number
    readonly lastTransition: BreakerTransition | null
  }
  readonly connections: {
    readonly poolSize: number
    readonly signedOn: number
    /** Slots waiting to reconnect (backing off). */
    readonly reconnecting: number
    readonly list: readonly ConnectionHealth[]
  }
  readonly inFlight: {
    readonly route: number
    readonly routeMax: number
    readonly perConnectionMax: number
  }
  readonly window: RouteWindowSnapshot
  readonly counters: Readonly<IssuerClientCounters>
  readonly lastTransition: RouteTransition | null
  /** Transitions older than the history keeps. */
  readonly historyDropped: number
}

export function newCounters(): IssuerClientCounters {
  return {
    sent: 0,
    answered: 0,
    timeouts: 0,
    connectionLost: 0,
    rejected: 0,
    failureCodes: 0,
    unavailable: {},
    lateAnswers: 0,
    unmatchedAnswers: 0,
    malformedFrames: 0,
    connectAttempts: 0,
    connectionsEnded: 0,
    signOns: 0,
    echoes: 0,
    echoFailures: 0,
  }
}

export function breakerHealth(snapshot: BreakerSnapshot): RouteHealth['breaker'] {
  return {
    state: snapshot.state,
    since: new Date(snapshot.sinceMs).toISOString(),
    retryAfterMs: snapshot.retryAfterMs,
    windowOutcomes: snapshot.outcomes,
    windowFailures: snapshot.failures,
    probesInFlight: snapshot.probesInFlight,
    lastTransition: snapshot.lastTransition,
  }
}
