import type { TransactionRecord } from '../model.js'
import type { RiskOutcome } from './engine.js'

/**
 * The review queue: transactions risk control approved but wants a person to look at. An item
 * is opened in the same database transaction as its approval, claimed by one analyst at a time,
 * and resolved as fraud (the card can go on the block list) or genuine (on the allow list).
 */
export const REVIEW_STATUSES = ['open', 'claimed', 'resolved'] as const
export type ReviewStatus = (typeof REVIEW_STATUSES)[number]
export const REVIEW_RESOLUTIONS = ['fraud', 'genuine'] as const
export type ReviewResolution = (typeof REVIEW_RESOLUTIONS)[number]

export interface ReviewItem {
  readonly transactionId: string
  readonly status: ReviewStatus
  readonly createdAtMs: number
  /** What put it in the queue: `rule`, `score`, `review_list` or `rule_error`. */
  readonly decidedBy: string
  /** The rules that were true, as `id@vN action`. */
  readonly ruleHits: string
  readonly score: number
  readonly cardToken: string | null
  readonly cardMasked: string | null
  readonly merchantId: string
  readonly terminalId: string
  readonly amountMinor: number
  readonly currency: string
  readonly claimedBy: string | null
  readonly claimedAtMs: number | null
  readonly resolution: ReviewResolution | null
  readonly resolutionNote: string | null
  readonly resolvedBy: string | null
  readonly resolvedAtMs: number | null
}

export function openReviewItem(record: TransactionRecord, outcome: RiskOutcome): ReviewItem {
  return reviewItemOf(record, {
    decidedBy: outcome.decidedBy,
    ruleHits: outcome.hits.map((h) => `${h.ruleId}@v${h.version} ${h.action}`).join(', '),
    score: outcome.score,
  })
}

/** A review item from what the risk stage left in the record (a forwarded sale's approval). */
export function reviewItemOf(
  record: TransactionRecord,
  why: { readonly decidedBy: string; readonly ruleHits: string; readonly score: number },
): ReviewItem {
  return {
    transactionId: record.id,
    status: 'open',
    createdAtMs: record.createdAtMs,
    decidedBy: why.decidedBy,
    ruleHits: why.ruleHits,
    score: why.score,
    cardToken: record.cardToken,
    cardMasked: record.cardMasked,
    merchantId: record.merchantId,
    terminalId: record.terminalId,
    amountMinor: record.amountMinor,
    currency: record.currency,
    claimedBy: null,
    claimedAtMs: null,
    resolution: null,
    resolutionNote: null,
    resolvedBy: null,
    resolvedAtMs: null,
  }
}
