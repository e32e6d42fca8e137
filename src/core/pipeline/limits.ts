import type { CardType, Check, LimitRule, LimitScope, UsageCounter } from '../model.js'
import type { ReasonCode } from '../reasons/codes.js'
import { counterKey } from './keys.js'

export interface LimitSubject {
  readonly cardToken: string
  readonly merchantId: string
  readonly terminalId: string
  readonly cardType: CardType
  readonly mcc: string
  readonly currency: string
  readonly amountMinor: number
  readonly localDate: string
}

/**
 * The most limit rules the switch keeps: every batch loads them all, so their number is bounded
 * where they are added.
 */
export const LIMIT_RULES_MAX = 1_000

const SCOPE_ORDER: Readonly<Record<LimitScope, number>> = { card: 0, merchant: 1, terminal: 2 }

const DAILY_AMOUNT_REASON: Readonly<Record<LimitScope, ReasonCode>> = {
  card: 'card_daily_amount_limit_exceeded',
  merchant: 'merchant_daily_amount_limit_exceeded',
  terminal: 'terminal_daily_amount_limit_exceeded',
}
const DAILY_COUNT_REASON: Readonly<Record<LimitScope, ReasonCode>> = {
  card: 'card_daily_count_limit_exceeded',
  merchant: 'merchant_daily_count_limit_exceeded',
  terminal: 'terminal_daily_count_limit_exceeded',
}

export function entityOf(scope: LimitScope, subject: LimitSubject): string {
  switch (scope) {
    case 'card':
      return subject.cardToken
    case 'merchant':
      return subject.merchantId
    case 'terminal':
      return subject.terminalId
  }
}

export function ruleApplies(rule: LimitRule, subject: LimitSubject): boolean {
  return (
    rule.currency === subject.currency &&
    (rule.cardType === null || rule.cardType === subject.cardType) &&
    (rule.mcc === null || rule.mcc === subject.mcc) &&
    (rule.entityId === null || rule.entityId === entityOf(rule.scope, subject))
  )
}

/** The limit rules that apply, in a fixed order: card, merchant, terminal, then by id. */
export function applicableRules(rules: readonly LimitRule[], subject: LimitSubject): LimitRule[] {
  return rules
    .filter((rule) => ruleApplies(rule, subject))
    .sort(
      (a, b) =>
        SCOPE_ORDER[a.scope] - SCOPE_ORDER[b.scope] || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    )
}

export type LimitOutcome =
  | { readonly ok: true; readonly checks: Check[] }
  | { readonly ok: false; readonly checks: Check[]; readonly reason: ReasonCode }

/**
 * Stage 5: limits. Every applicable rule is enforced: the per-transaction amount, then today's
 * amount and count (usage before this transaction plus this one). Stops at the first breach.
 */
export function checkLimits(
  rules: readonly LimitRule[],
  subject: LimitSubject,
  counter: (key: string) => UsageCounter,
): LimitOutcome {
  const checks: Check[] = []
  const money = (amountMinor: number) => ({ amountMinor, currency: subject.currency })
  for (const rule of applicableRules(rules, subject)) {
    const base = { ruleId: rule.id, scope: rule.scope, ruleNote: rule.note }
    if (rule.perTransactionMaxMinor !== null && subject.amountMinor > rule.perTransactionMaxMinor) {
      const reason: ReasonCode = 'transaction_amount_limit_exceeded'
      checks.push({
        stage: 'limits',
        name: 'per_transaction_amount',
        status: 'fail',
        reason,
        evidence: {
          ...base,
          limit: money(rule.perTransactionMaxMinor),
          amount: money(subject.amountMinor),
        },
      })
      return { ok: false, checks, reason }
    }
    const used = counter(
      counterKey(rule.scope, entityOf(rule.scope, subject), subject.localDate, subject.currency),
    )
    if (
      rule.dailyAmountMaxMinor !== null &&
      used.amountMinor + subject.amountMinor > rule.dailyAmountMaxMinor
    ) {
      const reason = DAILY_AMOUNT_REASON[rule.scope]
      checks.push({
        stage: 'limits',
        name: `${rule.scope}_daily_amount`,
        status: 'fail',
        reason,
        evidence: {
          ...base,
          limit: money(rule.dailyAmountMaxMinor),
          usedToday: money(used.amountMinor),
          remaining: money(Math.max(0, rule.dailyAmountMaxMinor - used.amountMinor)),
          amount: money(subject.amountMinor),
          day: subject.localDate,
        },
      })
      return { ok: false, checks, reason }
    }
    if (rule.dailyCountMax !== null && used.count + 1 > rule.dailyCountMax) {
      const reason = DAILY_COUNT_REASON[rule.scope]
      checks.push({
        stage: 'limits',
        name: `${rule.scope}_daily_count`,
        status: 'fail',
        reason,
        evidence: {
          ...base,
          countLimit: rule.dailyCountMax,
          countToday: used.count,
          day: subject.localDate,
        },
      })
      return { ok: false, checks, reason }
    }
    checks.push({ stage: 'limits', name: `rule ${rule.id}`, status: 'pass', evidence: { ...base } })
  }
  if (checks.length === 0)
    checks.push({ stage: 'limits', name: 'limits', status: 'pass', evidence: { rules: 0 } })
  return { ok: true, checks }
}
