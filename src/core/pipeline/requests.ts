import type { Channel, FollowUpKind, NewTransactionKind } from '../model.js'
import type { EntryMode } from '../risk/features.js'

/** What a channel hands the core. The clear PAN is here only for validation; it is never kept. */
export interface CardInput {
  readonly pan: string
  /** YYMM */
  readonly expiry: string
}

export interface NewTransactionRequest {
  readonly type: 'new'
  readonly kind: NewTransactionKind
  readonly channel: Channel
  readonly terminalId: string
  readonly merchantId: string
  /** System trace audit number, 6 digits (ISO 8583 field 11). */
  readonly stan: string
  /** MMDDhhmmss (ISO 8583 field 7) when the channel carries one. */
  readonly transmissionTime: string | null
  readonly card: CardInput
  /** The keyed token of the PAN, computed at the edge. */
  readonly cardToken: string
  /** Minor units; 0 for a balance inquiry. Validated by the core, not trusted. */
  readonly amountMinor: number
  /** ISO 4217 alpha or numeric code. */
  readonly currency: string
  readonly idempotencyKey: string | null
  /** How the card was read (ISO 8583 field 22), when the channel says. */
  readonly entryMode?: EntryMode
  /** The region (6-digit administrative code) the terminal reports being in, when it does. */
  readonly reportedRegion?: string | null
  /**
   * The card number sealed by the app (AES-GCM), present when remote routes exist: stored with
   * an advice or reversal the issuer must receive after this request (never the clear number).
   */
  readonly sealedPan?: string
}

/** How a terminal names an original it cannot know the id of: its own trace of it. */
export interface OriginalTrace {
  readonly terminalId: string
  readonly stan: string
  /** MMDDhhmmss of the original, or null when the channel carries none. */
  readonly transmissionTime: string | null
  /** The original's business day (YYYY-MM-DD) when there is no transmission time; null: today. */
  readonly localDate?: string | null
}

export interface FollowUpFields {
  readonly type: 'follow_up'
  readonly kind: FollowUpKind
  readonly channel: Channel
  readonly stan: string | null
  /** Minor units for a completion or refund; null means the whole remaining amount. */
  readonly amountMinor: number | null
  readonly idempotencyKey: string | null
}

/**
 * A completion, void, reversal or refund. It names its original by id (HTTP), or by the
 * original's terminal, STAN and transmission time (ISO 8583 reversals and advices). Resolving a
 * trace happens inside the batch, so an original queued just before its reversal is found.
 */
export type FollowUpRequest = FollowUpFields &
  (
    | { readonly originalId: string; readonly originalTrace?: undefined }
    | { readonly originalId?: undefined; readonly originalTrace: OriginalTrace }
  )

/** What became of a forwarded request, as the app's issuer link saw it. */
export type IssuerOutcome =
  | {
      readonly type: 'answered'
      /** Field 39 as the issuer sent it. */
      readonly responseCode: string
      readonly authorizationCode: string | null
      readonly balanceMinor: number | null
      readonly latencyMs: number
    }
  /**
   * Sent, and no answer in time: the outcome at the issuer is unknown. `recovered`: the process
   * that sent it stopped before the answer was recorded (found in flight at start).
   * `unrecorded`: the answer came but could not be recorded, and the terminal was told the
   * payment failed, so whatever the issuer did must be undone.
   */
  | {
      readonly type: 'timeout'
      readonly latencyMs: number
      readonly recovered?: boolean
      readonly unrecorded?: boolean
    }
  /**
   * Never sent (no signed-on connection, circuit open): nothing happened at the issuer.
   * `routeDown`: the route went down between the decision to forward and the send — the sale
   * may stand in as if the batch had seen the route down.
   */
  | {
      readonly type: 'not_sent'
      readonly why: string
      readonly routeDown?: 'circuit_open' | 'no_connection'
    }

/** The second half of a forwarded request: record what the issuer said. */
export interface IssuerAnswerRequest {
  readonly type: 'issuer_answer'
  readonly transactionId: string
  readonly outcome: IssuerOutcome
  /** The card number sealed by the app, kept for a reversal the outcome may need. */
  readonly sealedPan: string | null
  readonly idempotencyKey: null
}

/** What a channel submits. */
export type CoreRequest = NewTransactionRequest | FollowUpRequest

/** What a batch decides: channel requests, and the issuer answers of forwarded ones. */
export type BatchRequest = CoreRequest | IssuerAnswerRequest
