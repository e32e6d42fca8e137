import type { AmountMinor } from './money.js'
import type { ReasonCode } from './reasons/codes.js'

/** The domain records Tollgate keeps. All amounts are integer minor units. */

export type CardType = 'debit' | 'credit'

/** How the card was read (ISO 8583 field 22, or the HTTP request's `entryMode`). */
export const ENTRY_MODES = ['chip', 'contactless', 'magstripe', 'manual', 'unknown'] as const
export type EntryMode = (typeof ENTRY_MODES)[number]
export const MERCHANT_STATUSES = ['pending_audit', 'approved', 'restricted', 'suspended'] as const
export type MerchantStatus = (typeof MERCHANT_STATUSES)[number]
export const TERMINAL_STATUSES = ['active', 'inactive'] as const
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number]
export const CARD_STATUSES = ['active', 'inactive', 'lost', 'stolen'] as const
export type CardStatus = (typeof CARD_STATUSES)[number]
export const RISK_TIERS = ['low', 'medium', 'high'] as const
export type RiskTier = (typeof RISK_TIERS)[number]

export interface Merchant {
  readonly id: string
  readonly name: string
  readonly mcc: string
  readonly status: MerchantStatus
  readonly region: string | null
  readonly riskTier: RiskTier
  readonly createdAtMs: number
  readonly updatedAtMs: number
}

export interface Terminal {
  readonly id: string
  readonly merchantId: string
  readonly status: TerminalStatus
  readonly region: string | null
  readonly createdAtMs: number
  readonly updatedAtMs: number
}

/** A card as Tollgate keeps it: a keyed token and the masked form, never the clear number. */
export interface Card {
  readonly token: string
  readonly masked: string
  readonly bin: string
  readonly last4: string
  /** YYMM, as on the card and in ISO 8583 field 14. */
  readonly expiry: string
  readonly type: CardType
  readonly status: CardStatus
  readonly accountId: string
  readonly issuerBank: string | null
  readonly createdAtMs: number
  readonly updatedAtMs: number
}

export type AccountKind = 'cardholder' | 'clearing' | 'funding'

/**
 * A ledger account, TigerBeetle-style: four running totals. For a cardholder account,
 * available = creditsPosted - debitsPosted - debitsPending + creditLimit, and must stay >= 0:
 * a debit card has creditLimit 0 and its balance funded by a posted credit; a credit card has
 * its credit limit as the bound. Clearing and funding accounts are unbounded system accounts.
 */
export interface Account {
  readonly id: string
  readonly kind: AccountKind
  readonly currency: string
  readonly creditLimitMinor: number
  readonly debitsPendingMinor: number
  readonly debitsPostedMinor: number
  readonly creditsPendingMinor: number
  readonly creditsPostedMinor: number
}

export type TransferState = 'pending' | 'posted' | 'voided' | 'expired'

/**
 * A movement of money from one account to another. A pending transfer is a hold; it is later
 * posted (fully or partly; the rest released), voided or expired. A posted transfer is final:
 * undoing it is a new transfer the other way.
 */
export interface Transfer {
  readonly id: string
  readonly transactionId: string
  readonly debitAccountId: string
  readonly creditAccountId: string
  readonly amountMinor: AmountMinor
  readonly currency: string
  readonly state: TransferState
  /** For a pending transfer that was posted: how much was posted. */
  readonly postedAmountMinor: number
  /** For a posting of a hold: the hold it posts. */
  readonly pendingId: string | null
  readonly createdAtMs: number
  readonly expiresAtMs: number | null
  readonly resolvedAtMs: number | null
}

export const TRANSACTION_KINDS = [
  'purchase',
  'preauthorization',
  'completion',
  'void',
  'reversal',
  'refund',
  'balance_inquiry',
] as const
export type TransactionKind = (typeof TRANSACTION_KINDS)[number]
export type NewTransactionKind = 'purchase' | 'preauthorization' | 'balance_inquiry'
export type FollowUpKind = 'completion' | 'void' | 'reversal' | 'refund'

/**
 * Where an approved transaction stands. `held`: a preauthorization's hold is open. `posted`:
 * money moved. `completed`: a preauthorization was completed. `voided`, `reversed`, `expired`:
 * undone. `none`: moves no money (declines, inquiries, and the void/reversal records).
 */
export type Lifecycle = 'none' | 'held' | 'posted' | 'completed' | 'voided' | 'reversed' | 'expired'

export type Outcome = 'approved' | 'declined'
export type Channel = 'http' | 'iso8583'

export type CheckStatus = 'pass' | 'fail' | 'skip'
export const STAGES = [
  'validation',
  'duplicate',
  'acceptance',
  'route',
  'limits',
  'lists',
  'risk',
  'issuer',
] as const
export type Stage = (typeof STAGES)[number]

/** A value shown as evidence. Money keeps its currency so it can be formatted per language. */
export type EvidenceValue =
  string | number | boolean | null | { readonly amountMinor: number; readonly currency: string }

export type Evidence = Readonly<Record<string, EvidenceValue>>

/** One check the pipeline ran, with its result and the values it compared. */
export interface Check {
  readonly stage: Stage
  readonly name: string
  readonly status: CheckStatus
  readonly reason?: ReasonCode
  readonly evidence?: Evidence
}

export interface TransactionRecord {
  readonly id: string
  readonly kind: TransactionKind
  readonly channel: Channel
  readonly outcome: Outcome
  readonly lifecycle: Lifecycle
  readonly terminalId: string
  readonly merchantId: string
  readonly stan: string | null
  readonly transmissionTime: string | null
  readonly rrn: string
  readonly dedupKey: string | null
  readonly idempotencyKey: string | null
  readonly fingerprint: string
  readonly cardToken: string | null
  readonly cardMasked: string | null
  readonly cardLast4: string | null
  readonly cardType: CardType | null
  readonly amountMinor: number
  readonly currency: string
  readonly originalId: string | null
  readonly reason: ReasonCode | null
  readonly responseCode: string
  readonly authorizationCode: string | null
  readonly checks: readonly Check[]
  /** The evidence of the deciding check (a decline's cause), or of the approval. */
  readonly evidence: Evidence
  /** For inquiries: the balance reported. */
  readonly balanceMinor: number | null
  readonly holdTransferId: string | null
  readonly completedAmountMinor: number
  readonly refundedAmountMinor: number
  readonly localDate: string
  /**
   * How the card was read, and the region the terminal reported (HTTP `terminalRegion`), as the
   * request said: risk replays them in backtests. Null when the request did not say, for
   * follow-ups, and for rows stored before schema 6.
   */
  readonly entryMode: EntryMode | null
  readonly reportedRegion: string | null
  readonly createdAtMs: number
  readonly updatedAtMs: number
}

export type LimitScope = 'card' | 'merchant' | 'terminal'

/**
 * A limit rule. It applies to a transaction when every non-null filter matches; every rule
 * that applies is enforced, so the most restrictive one decides.
 */
export interface LimitRule {
  readonly id: string
  readonly scope: LimitScope
  readonly cardType: CardType | null
  readonly mcc: string | null
  /** A specific card token, merchant id or terminal id; null for all. */
  readonly entityId: string | null
  readonly currency: string
  readonly perTransactionMaxMinor: number | null
  readonly dailyAmountMaxMinor: number | null
  readonly dailyCountMax: number | null
  readonly note: string
  readonly createdAtMs: number
  readonly updatedAtMs: number
}

/** What a limit has used on one local day. */
export interface UsageCounter {
  readonly key: string
  readonly count: number
  readonly amountMinor: number
}

export type ListKind = 'card' | 'bin' | 'merchant' | 'terminal'
/** block: decline (stage lists); review: approve but queue; allow: skip the risk rules. */
export const LIST_NAMES = ['block', 'review', 'allow'] as const
export type ListName = (typeof LIST_NAMES)[number]

export interface ListEntry {
  readonly id: string
  readonly list: ListName
  readonly kind: ListKind
  /** Card token, BIN prefix, merchant id or terminal id. */
  readonly value: string
  /** What a person sees: the masked card for card entries, else the value. */
  readonly display: string
  readonly note: string
  readonly expiresAtMs: number | null
  readonly createdBy: string
  readonly createdAtMs: number
}
