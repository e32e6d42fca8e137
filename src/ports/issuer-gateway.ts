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
