import type { ReasonCode } from '../reasons/codes.js'
import type { Localized } from '../reasons/types.js'

/**
 * Risk rules as analysts write them. A rule is an expression in the Common Expression Language
 * over the features (features.ts), an action, and the words that explain it. Rules are
 * versioned: every change (including a status change) is a new version; old versions stay.
 *
 * Lifecycle: draft → shadow → active → disabled (and back: any status may follow any other,
 * each move audited with who and why). Draft and disabled rules never run on live traffic;
 * shadow rules run and record what they would have done; active rules decide.
 */

export const RULE_STATUSES = ['draft', 'shadow', 'active', 'disabled'] as const
export type RuleStatus = (typeof RULE_STATUSES)[number]

/**
 * allow: stop evaluating, go on to the funds check. block: decline with the rule's reason.
 * review: approve (if everything else passes) but queue for an analyst. score: add points.
 */
export const RULE_ACTIONS = ['allow', 'block', 'review', 'score'] as const
export type RuleAction = (typeof RULE_ACTIONS)[number]

/** The reasons a risk block may give; each is in the reason catalogue. */
export const RISK_BLOCK_REASONS = [
  'suspected_fraud',
  'do_not_honour',
  'transaction_not_permitted',
  'pin_tries_exceeded',
] as const satisfies readonly ReasonCode[]
export type RiskBlockReason = (typeof RISK_BLOCK_REASONS)[number]

export const ON_RULE_ERROR = ['ignore', 'review', 'block'] as const
export type OnRuleError = (typeof ON_RULE_ERROR)[number]

export const RULE_EXPRESSION_LENGTH_MAX = 2_000
export const RULE_NAME_LENGTH_MAX = 120
export const RULE_DESCRIPTION_LENGTH_MAX = 1_000
export const RULES_LIVE_MAX = 500
/** Rules kept at all (any status); every version of each is kept too. */
export const RULES_MAX = 5_000
export const RULE_SCORE_MAX = 1_000

export interface RiskRule {
  readonly id: string
  readonly version: number
  readonly status: RuleStatus
  readonly name: string
  readonly expression: string
  readonly action: RuleAction
  /** For block rules: the decline reason. Null for other actions. */
  readonly reason: RiskBlockReason | null
  /** For score rules: points added when the rule is true (1..1000). 0 for other actions. */
  readonly score: number
  /** Lower runs first; ties by id. */
  readonly priority: number
  /** The risk in the author's words, shown to staff in explanations. */
  readonly description: Localized
  readonly author: string
  /** Why this version exists (the change note). */
  readonly changeNote: string
  readonly createdAtMs: number
}

export interface RiskSettings {
  /** A total score at or above this reviews the transaction. */
  readonly reviewScore: number
  /** A total score at or above this blocks it. */
  readonly blockScore: number
  /** The reason a block by score gives. */
  readonly scoreBlockReason: RiskBlockReason
  /** What a rule that fails at run time does to the decision (it is counted and logged). */
  readonly onRuleError: OnRuleError
}

export const DEFAULT_RISK_SETTINGS: RiskSettings = {
  reviewScore: 50,
  blockScore: 100,
  scoreBlockReason: 'suspected_fraud',
  onRuleError: 'ignore',
}

export function isRiskBlockReason(value: string): value is RiskBlockReason {
  return (RISK_BLOCK_REASONS as readonly string[]).includes(value)
}
