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

export type CoreRequest = NewTransactionRequest | FollowUpRequest
