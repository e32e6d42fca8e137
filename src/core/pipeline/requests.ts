import type { Channel, FollowUpKind, NewTransactionKind } from '../model.js'

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
}

export interface FollowUpRequest {
  readonly type: 'follow_up'
  readonly kind: FollowUpKind
  readonly channel: Channel
  readonly originalId: string
  readonly stan: string | null
  /** Minor units for a completion or refund; null means the whole remaining amount. */
  readonly amountMinor: number | null
  readonly idempotencyKey: string | null
}

export type CoreRequest = NewTransactionRequest | FollowUpRequest
