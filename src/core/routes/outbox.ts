import { localDateOf } from '../calendar.js'

/**
 * The issuer outbox: every message Tollgate owes a remote issuer, stored before it is sent.
 *
 * - `request`: a purchase or balance inquiry forwarded for a decision. Stored `in_flight` in the
 *   batch that decides to forward (before any byte leaves); `answered` or `not_sent` when the
 *   answer batch records the outcome. A request still `in_flight` at start was sent by a process
 *   that died: its outcome is unknown, so it becomes a reversal.
 * - `reversal`: undoes a request whose answer never came (timeout, crash), or a void/reversal of
 *   a remote sale. `pending` until the issuer acknowledges it (0410/0430), retried as 0420/0421.
 * - `advice`: a stand-in approval the issuer must book (0220, retried as 0221). `pending` until
 *   acknowledged (0230).
 *
 * The card number travels sealed (AES-GCM, key in the data directory's secrets): the core never
 * sees it clear, the sender unseals it to build the message, and it is erased once delivered
 * (for requests: when the business day's voids can no longer need it).
 */
export const ISSUER_MESSAGE_KINDS = ['request', 'reversal', 'advice'] as const
export type IssuerMessageKind = (typeof ISSUER_MESSAGE_KINDS)[number]
export const ISSUER_MESSAGE_STATUSES = [
  'in_flight',
  'answered',
  'not_sent',
  'pending',
  'delivered',
] as const
export type IssuerMessageStatus = (typeof ISSUER_MESSAGE_STATUSES)[number]

export interface IssuerMessage {
  /** `<kind>:<transaction id>`: one message of each kind per transaction. */
  readonly id: string
  readonly routeId: string
  readonly kind: IssuerMessageKind
  readonly transactionId: string
  /** The forwarded request's kind. */
  readonly requestKind: 'purchase' | 'balance_inquiry'
  readonly status: IssuerMessageStatus
  readonly attempts: number
  readonly nextAttemptAtMs: number | null
  readonly sealedPan: string | null
  readonly expiry: string
  readonly stan: string
  /** MMDDhhmmss of the request as first sent. */
  readonly transmissionTime: string
  readonly terminalId: string
  readonly merchantId: string
  readonly rrn: string
  readonly amountMinor: number
  readonly currency: string
  /** Advices: the stand-in authorization code. */
  readonly authorizationCode: string | null
  /** Reversals: the MTI of what they undo (0200 a forwarded sale, 0220 a delivered advice). */
  readonly originalMti: string | null
  /** Advices: why Tollgate stood in (the route was in maintenance, its circuit open, unconnected). */
  readonly standInReason: string | null
  readonly lastError: string | null
  readonly createdAtMs: number
  readonly updatedAtMs: number
  readonly deliveredAtMs: number | null
}

export function issuerMessageId(kind: IssuerMessageKind, transactionId: string): string {
  return `${kind}:${transactionId}`
}

/** MMDDhhmmss (UTC) of an instant, as ISO 8583 field 7. Pure: no Date. */
export function transmissionTimeOf(nowMs: number): string {
  const date = localDateOf(nowMs, 0)
  const seconds = Math.floor((((nowMs % 86_400_000) + 86_400_000) % 86_400_000) / 1000)
  const two = (n: number) => String(n).padStart(2, '0')
  return `${two(date.month)}${two(date.day)}${two(Math.floor(seconds / 3600))}${two(Math.floor((seconds % 3600) / 60))}${two(seconds % 60)}`
}

/** When to try a pending message again: 1 s, 2 s, 4 s … up to 60 s between attempts. */
export function nextAttemptAt(nowMs: number, attempts: number): number {
  return nowMs + Math.min(60_000, 1_000 * 2 ** Math.min(attempts, 6))
}
