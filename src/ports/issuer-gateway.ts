import type { IssuerOutcome } from '../core/pipeline/requests.js'
import type { RouteStatus } from '../core/routes/model.js'
import type { IssuerMessage } from '../core/routes/outbox.js'

/**
 * What the processor needs from the issuer links: the state of every remote route for a batch,
 * the sealing of card numbers (only when remote routes exist), and sending a forwarded request.
 * `send` never throws: every outcome is a value (answered, timed out, not sent).
 */
export interface IssuerGateway {
  routeStatus(nowMs: number): ReadonlyMap<string, RouteStatus>
  /** The card number sealed for the outbox, or undefined when no remote route exists. */
  sealPan(pan: string): string | undefined
  send(message: IssuerMessage, pan: string): Promise<IssuerOutcome>
}

/** A remote route's live state, for the API and the console. */
export interface RouteHealthView {
  readonly routeId: string
  /** What the core sees this instant: up, or down and why. */
  readonly status: RouteStatus
  /** The link's own health (connections, breaker, latency, counters), JSON-able. */
  readonly link: unknown
  /** Route and breaker transitions, oldest first (bounded). */
  readonly history: readonly unknown[]
}

/** What the HTTP API reads about the issuer links. */
export interface IssuerHealth {
  routes(nowMs: number): readonly RouteHealthView[]
  route(routeId: string, nowMs: number): RouteHealthView | null
}
