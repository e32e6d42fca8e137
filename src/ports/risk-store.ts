import type { RiskRule, RiskSettings } from '../core/risk/rules.js'
import type { ReviewItem, ReviewStatus } from '../core/risk/review.js'
import type { VelocityEvent } from '../core/risk/velocity.js'
import type { ListEntry, TransactionRecord } from '../core/model.js'
import type { AuditEntry, Page, PageRequest, WriteResult } from './store.js'

/**
 * What risk control keeps: versioned rules and their settings, the review queue, and the
 * history velocity and backtests read. Part of the store (`Store.risk`): the same database and
 * transactions, so a rule change and its audit entry commit together.
 */
export interface RiskStore {
  /** The newest version of every rule, by priority then id. */
  listRules(): Promise<readonly RiskRule[]>
  /** Every version of one rule, oldest first; empty if there is no such rule. */
  ruleHistory(id: string): Promise<readonly RiskRule[]>
  /**
   * Stores a new version. `rule.version` must be the newest version plus one (1 for a new rule),
   * else `conflict`: two analysts editing at once never overwrite each other.
   */
  putRule(rule: RiskRule, audit: AuditEntry): Promise<WriteResult>

  getSettings(): Promise<RiskSettings>
  putSettings(settings: RiskSettings, audit: AuditEntry): Promise<WriteResult>

  listReviews(filter: ReviewFilter): Promise<Page<ReviewItem>>
  getReview(transactionId: string): Promise<ReviewItem | null>
  /**
   * Replaces a review item if it is still as the caller read it — the same status and the same
   * claimer (else `conflict`: another analyst moved it meanwhile) — optionally adding a list
   * entry (the card to the block or allow list), with the audit entry: one transaction.
   */
  updateReview(
    item: ReviewItem,
    expected: ReviewExpectation,
    listEntry: ListEntry | null,
    audit: AuditEntry,
  ): Promise<WriteResult>

  /**
   * Hands `each` the velocity events of the transactions created in [fromMs, toMs), oldest
   * first, one at a time (a day of traffic is never held as one array). Returns how many.
   */
  velocityEvents(
    fromMs: number,
    toMs: number,
    each: (event: VelocityEvent) => void,
  ): Promise<number>
  /**
   * New transactions (purchases, preauthorizations) created in [fromMs, toMs) after the cursor,
   * oldest first, at most `limit`: what a backtest replays.
   */
  replayPage(
    fromMs: number,
    toMs: number,
    cursor: string | null,
    limit: number,
  ): Promise<Page<TransactionRecord>>
}

/** What a review item must still be for a change to apply. */
export interface ReviewExpectation {
  readonly status: ReviewStatus
  readonly claimedBy: string | null
}

export interface ReviewFilter extends PageRequest {
  readonly status?: ReviewStatus
}
