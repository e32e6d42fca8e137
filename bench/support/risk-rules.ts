/**
 * The risk rules of `npm run bench:risk`: one description per rule, rendered twice, as the CEL
 * expression Tollgate runs and as the `json-rules-engine` conditions the baseline runs, so that
 * the two engines get the same rules by construction. The set is generated from a seed: a few
 * rules in the shape of the default pack (card testing, PIN guessing, relocated terminals…)
 * followed by a realistic mix over the features: amount thresholds, velocity counts and sums,
 * string equality, `in` lists, booleans, and `&&`/`||`/`!` combinations.
 */
import { FEATURES_BY_NAME } from '../../src/core/risk/features.js'
import type { RiskBlockReason, RiskRule, RuleAction } from '../../src/core/risk/rules.js'
import { seededRandom } from './random.js'

export type CmpOp = '<' | '<=' | '>' | '>=' | '==' | '!='

/** A literal, or another feature (`amount > card_sum_24h`). */
export type Operand = number | string | boolean | { readonly feature: string }

export type Condition =
  | { readonly kind: 'cmp'; readonly feature: string; readonly op: CmpOp; readonly value: Operand }
  | { readonly kind: 'in'; readonly feature: string; readonly values: readonly string[] }
  | { readonly kind: 'flag'; readonly feature: string; readonly value: boolean }
  | { readonly kind: 'all' | 'any'; readonly of: readonly Condition[] }
  | { readonly kind: 'not'; readonly of: Condition }

export interface BenchRule {
  readonly id: string
  readonly name: string
  readonly action: RuleAction
  readonly score: number
  readonly reason: RiskBlockReason | null
  readonly priority: number
  readonly condition: Condition
}

// ---------------------------------------------------------------------------------------------
// Rendering

function celLiteral(value: Operand): string {
  if (typeof value === 'object') return value.feature
  if (typeof value === 'string') return JSON.stringify(value)
  return String(value)
}

/** The CEL text of a condition; nested `&&`/`||` are parenthesised. */
export function celOf(condition: Condition, nested = false): string {
  switch (condition.kind) {
    case 'cmp':
      return `${condition.feature} ${condition.op} ${celLiteral(condition.value)}`
    case 'in':
      return `${condition.feature} in [${condition.values.map((v) => JSON.stringify(v)).join(', ')}]`
    case 'flag':
      return condition.value ? condition.feature : `!${condition.feature}`
    case 'not':
      return `!(${celOf(condition.of)})`
    case 'all':
    case 'any': {
      const text = condition.of
        .map((c) => celOf(c, true))
        .join(condition.kind === 'all' ? ' && ' : ' || ')
      return nested ? `(${text})` : text
    }
  }
}

const JRE_OPERATORS: Readonly<Record<CmpOp, string>> = {
  '<': 'lessThan',
  '<=': 'lessThanInclusive',
  '>': 'greaterThan',
  '>=': 'greaterThanInclusive',
  '==': 'equal',
  '!=': 'notEqual',
}

/** A json-rules-engine condition (its JSON form: fact, operator, value; all / any / not). */
export type JreCondition =
  | { readonly fact: string; readonly operator: string; readonly value: unknown }
  | { readonly all: readonly JreCondition[] }
  | { readonly any: readonly JreCondition[] }
  | { readonly not: JreCondition }

export function jreOf(condition: Condition): JreCondition {
  switch (condition.kind) {
    case 'cmp': {
      const value =
        typeof condition.value === 'object' ? { fact: condition.value.feature } : condition.value
      return { fact: condition.feature, operator: JRE_OPERATORS[condition.op], value }
    }
    case 'in':
      return { fact: condition.feature, operator: 'in', value: [...condition.values] }
    case 'flag':
      return { fact: condition.feature, operator: 'equal', value: condition.value }
    case 'not':
      return { not: jreOf(condition.of) }
    case 'all':
      return { all: condition.of.map(jreOf) }
    case 'any':
      return { any: condition.of.map(jreOf) }
  }
}

/** json-rules-engine wants all / any / not at the top. */
export function jreTopOf(condition: Condition): JreCondition {
  const c = jreOf(condition)
  return 'all' in c || 'any' in c || 'not' in c ? c : { all: [c] }
}

/** The features a condition reads; every one must exist (a typo would make both engines fail). */
export function featuresOf(condition: Condition, into = new Set<string>()): Set<string> {
  switch (condition.kind) {
    case 'cmp':
      into.add(condition.feature)
      if (typeof condition.value === 'object') into.add(condition.value.feature)
      break
    case 'in':
    case 'flag':
      into.add(condition.feature)
      break
    case 'not':
      featuresOf(condition.of, into)
      break
    case 'all':
    case 'any':
      for (const c of condition.of) featuresOf(c, into)
  }
  return into
}

/** The rule as Tollgate stores it (active, version 1). */
export function riskRuleOf(rule: BenchRule, createdAtMs: number): RiskRule {
  return {
    id: rule.id,
    version: 1,
    status: 'active',
    name: rule.name,
    expression: celOf(rule.condition),
    action: rule.action,
    reason: rule.reason,
    score: rule.score,
    priority: rule.priority,
    description: { 'zh-CN': rule.name, en: rule.name },
    author: 'bench',
    changeNote: 'generated by bench:risk',
    createdAtMs,
  }
}

// ---------------------------------------------------------------------------------------------
// Generation

const cmp = (feature: string, op: CmpOp, value: Operand): Condition => ({
  kind: 'cmp',
  feature,
  op,
  value,
})
const isIn = (feature: string, values: readonly string[]): Condition => ({
  kind: 'in',
  feature,
  values,
})
const flag = (feature: string, value = true): Condition => ({ kind: 'flag', feature, value })
const all = (...of: Condition[]): Condition => ({ kind: 'all', of })
const any = (...of: Condition[]): Condition => ({ kind: 'any', of })
const not = (of: Condition): Condition => ({ kind: 'not', of })

/** What the generator draws string values from: the fleet's own values, so rules can match. */
export interface RuleVocabulary {
  readonly mccs: readonly string[]
  readonly regions: readonly string[]
  readonly bins: readonly string[]
  readonly issuers: readonly string[]
}

type Draft = Omit<BenchRule, 'id' | 'priority'> & {
  readonly id?: string
  readonly priority?: number
}

/**
 * First, the rules of the default pack (src/core/risk/default-pack.ts) that json-rules-engine can
 * express, with the pack's ids, expressions and priorities; then a few more in the same spirit.
 * Left out: `split_under_limit` and `new_merchant_surge`, whose expressions do arithmetic
 * (`amount * 10`, `merchant_sum_24h + amount`): json-rules-engine compares a fact with a value
 * or another fact, nothing more, so they would need derived facts written for the baseline.
 */
function packRules(): Draft[] {
  return [
    {
      id: 'pin_guessing',
      priority: 10,
      name: 'PIN guessing',
      action: 'block',
      reason: 'pin_tries_exceeded',
      score: 0,
      condition: cmp('card_pin_declines_10m', '>=', 3),
    },
    {
      id: 'card_testing_small_amounts',
      priority: 20,
      name: 'Card testing: small amounts across terminals',
      action: 'block',
      reason: 'suspected_fraud',
      score: 0,
      condition: all(
        cmp('amount', '<=', 1000),
        cmp('card_count_10m', '>=', 3),
        cmp('card_distinct_terminals_10m', '>=', 2),
      ),
    },
    {
      id: 'card_testing_declines',
      priority: 21,
      name: 'Card testing: repeated declines',
      action: 'block',
      reason: 'do_not_honour',
      score: 0,
      condition: cmp('card_declines_10m', '>=', 3),
    },
    {
      id: 'terminal_card_testing',
      priority: 22,
      name: 'Card testing at one terminal',
      action: 'block',
      reason: 'suspected_fraud',
      score: 0,
      condition: all(cmp('terminal_declines_10m', '>=', 8), cmp('amount', '<=', 1000)),
    },
    {
      id: 'terminal_relocation',
      priority: 40,
      name: 'Terminal used away from its registered city',
      action: 'block',
      reason: 'transaction_not_permitted',
      score: 0,
      condition: flag('terminal_relocated'),
    },
    {
      id: 'cash_out_round_credit',
      priority: 50,
      name: 'Cash-out: repeated large round amounts on a credit card',
      action: 'score',
      reason: null,
      score: 60,
      condition: all(
        cmp('card_type', '==', 'credit'),
        flag('is_round_amount'),
        cmp('amount', '>=', 100_000),
        cmp('card_merchant_round_count_24h', '>=', 2),
      ),
    },
    {
      id: 'late_night_large_credit',
      priority: 51,
      name: 'Late-night large credit payment',
      action: 'score',
      reason: null,
      score: 50,
      condition: all(
        cmp('card_type', '==', 'credit'),
        any(cmp('local_hour', '>=', 23), cmp('local_hour', '<', 5)),
        cmp('amount', '>=', 500_000),
      ),
    },
    {
      name: 'burst: many attempts a minute',
      action: 'review',
      reason: null,
      score: 0,
      condition: cmp('card_count_1m', '>=', 4),
    },
    {
      name: 'new card, large amount',
      action: 'score',
      reason: null,
      score: 40,
      condition: all(cmp('card_days_since_first_seen', '==', 0), cmp('amount', '>=', 1_000_000)),
    },
    {
      name: 'cash-like MCC on credit',
      action: 'score',
      reason: null,
      score: 25,
      condition: all(
        isIn('mcc', ['4829', '6051', '6540', '7995']),
        cmp('card_type', '==', 'credit'),
      ),
    },
    {
      name: 'keyed entry, not small',
      action: 'score',
      reason: null,
      score: 20,
      condition: all(cmp('entry_mode', '==', 'manual'), cmp('amount', '>=', 20_000)),
    },
    {
      name: 'spike above the day',
      action: 'score',
      reason: null,
      score: 25,
      condition: all(
        cmp('card_count_24h', '>=', 3),
        cmp('amount', '>', { feature: 'card_sum_24h' }),
      ),
    },
  ]
}

const SCOPES = ['card', 'merchant', 'terminal', 'card_merchant'] as const
const WINDOWS = ['1m', '10m', '1h', '24h'] as const

/** Thresholds by velocity window and scope: from rarely to often reached in the fleet's traffic. */
const COUNT_THRESHOLDS: Readonly<Record<string, readonly number[]>> = {
  card_1m: [2, 3, 4],
  card_10m: [3, 5, 8],
  card_1h: [5, 8, 12],
  card_24h: [10, 15, 25],
  merchant_1m: [3, 5, 10],
  merchant_10m: [20, 40, 80],
  merchant_1h: [100, 200, 400],
  merchant_24h: [2_000, 4_000, 8_000],
  terminal_1m: [2, 4, 6],
  terminal_10m: [10, 20, 40],
  terminal_1h: [50, 100, 200],
  terminal_24h: [500, 1_000, 2_000],
  card_merchant_1m: [2, 3],
  card_merchant_10m: [2, 3, 4],
  card_merchant_1h: [3, 5],
  card_merchant_24h: [4, 6, 10],
}
const SUM_THRESHOLDS: Readonly<Record<string, readonly number[]>> = {
  card_1m: [200_000, 500_000],
  card_10m: [300_000, 1_000_000],
  card_1h: [500_000, 2_000_000],
  card_24h: [1_000_000, 5_000_000],
  merchant_1m: [500_000, 2_000_000],
  merchant_10m: [2_000_000, 10_000_000],
  merchant_1h: [10_000_000, 50_000_000],
  merchant_24h: [100_000_000, 500_000_000],
  terminal_1m: [300_000, 1_000_000],
  terminal_10m: [1_000_000, 5_000_000],
  terminal_1h: [5_000_000, 20_000_000],
  terminal_24h: [50_000_000, 200_000_000],
  card_merchant_1m: [200_000],
  card_merchant_10m: [300_000, 1_000_000],
  card_merchant_1h: [500_000, 2_000_000],
  card_merchant_24h: [1_000_000, 3_000_000],
}
const DECLINE_THRESHOLDS: Readonly<Record<(typeof SCOPES)[number], readonly number[]>> = {
  card: [2, 3, 5],
  card_merchant: [2, 3],
  terminal: [3, 5, 8],
  merchant: [5, 10, 20],
}
const ROUND_THRESHOLDS: Readonly<Record<string, readonly number[]>> = {
  card_1h: [2, 3],
  card_24h: [2, 3, 5],
  card_merchant_1h: [2],
  card_merchant_24h: [2, 3],
  terminal_1h: [3, 5, 10],
  terminal_24h: [20, 50, 100],
  merchant_1h: [10, 20, 40],
  merchant_24h: [200, 400, 800],
}
const AMOUNTS_HIGH = [50_000, 100_000, 200_000, 500_000, 1_000_000, 2_000_000, 5_000_000]
const AMOUNTS_LOW = [500, 1_000, 2_000, 5_000]

/**
 * `count` rules: the pack's first, then generated ones with ids `r0013`… (by position). The
 * generated rules' priorities go by action (allow 5, block 25, review 60, score 70), around the
 * pack's (10 to 51): rules that can stop the evaluation run before the scoring, as analysts
 * usually order them.
 */
export function generateRules(
  count: number,
  seed: number,
  vocabulary: RuleVocabulary,
): BenchRule[] {
  const random = seededRandom(seed ^ 0x5eed_0001)
  const pick = <T>(list: readonly T[]): T => {
    const item = list[Math.floor(random() * list.length)]
    if (item === undefined) throw new Error('empty list')
    return item
  }
  const sample = (list: readonly string[], n: number): string[] => {
    const pool = [...list]
    const out: string[] = []
    while (out.length < n && pool.length > 0) {
      const [item] = pool.splice(Math.floor(random() * pool.length), 1)
      if (item !== undefined) out.push(item)
    }
    return out
  }
  const velocityCount = (): Condition => {
    const scope = pick(SCOPES)
    const w = pick(WINDOWS)
    return cmp(`${scope}_count_${w}`, '>=', pick(COUNT_THRESHOLDS[`${scope}_${w}`] ?? [5]))
  }
  const velocitySum = (): Condition => {
    const scope = pick(SCOPES)
    const w = pick(WINDOWS)
    return cmp(`${scope}_sum_${w}`, '>=', pick(SUM_THRESHOLDS[`${scope}_${w}`] ?? [1_000_000]))
  }
  const amountHigh = (): Condition => cmp('amount', pick(['>=', '>'] as const), pick(AMOUNTS_HIGH))
  const stringEquality = (): Condition => {
    switch (Math.floor(random() * 6)) {
      case 0:
        return cmp('mcc', '==', pick(vocabulary.mccs))
      case 1:
        return cmp('card_type', '==', pick(['debit', 'credit']))
      case 2:
        return cmp('merchant_region', '==', pick(vocabulary.regions))
      case 3:
        return cmp('terminal_region', '!=', pick(vocabulary.regions))
      case 4:
        return cmp(
          'merchant_risk_tier',
          pick(['==', '!='] as const),
          pick(['high', 'medium', 'low']),
        )
      default:
        return cmp('entry_mode', '==', pick(['magstripe', 'manual', 'contactless']))
    }
  }
  const inList = (): Condition => {
    switch (Math.floor(random() * 5)) {
      case 0:
        return isIn('mcc', sample(vocabulary.mccs, 3 + Math.floor(random() * 6)))
      case 1:
        return isIn('card_bin', sample(vocabulary.bins, 3 + Math.floor(random() * 8)))
      case 2:
        return isIn('merchant_region', sample(vocabulary.regions, 2 + Math.floor(random() * 4)))
      case 3:
        return isIn('card_issuer', sample(vocabulary.issuers, 2 + Math.floor(random() * 3)))
      default:
        return isIn('entry_mode', sample(['magstripe', 'manual', 'unknown', 'contactless'], 2))
    }
  }
  const boolean = (): Condition => {
    switch (Math.floor(random() * 5)) {
      case 0:
        return flag('terminal_relocated')
      case 1:
        return flag('is_round_amount')
      case 2:
        return flag('card_on_file', false)
      case 3:
        return flag('on_review_list')
      default:
        return cmp('card_days_since_first_seen', '<', pick([1, 7, 30]))
    }
  }
  const other = (): Condition =>
    pick([
      () => cmp('local_hour', pick(['<', '>='] as const), pick([5, 6, 23])),
      () => cmp('merchant_days_since_onboarding', '<', pick([30, 90, 180])),
      () => {
        const scope = pick(SCOPES)
        return cmp(`${scope}_declines_10m`, '>=', pick(DECLINE_THRESHOLDS[scope]))
      },
      () => {
        const scope = pick(SCOPES)
        const w = pick(['1h', '24h'] as const)
        return cmp(
          `${scope}_round_count_${w}`,
          '>=',
          pick(ROUND_THRESHOLDS[`${scope}_${w}`] ?? [3]),
        )
      },
      () => cmp('card_distinct_terminals_10m', '>=', pick([2, 3, 4])),
      () => cmp('amount', '<', pick(AMOUNTS_LOW)),
    ])()
  const shapes: readonly (readonly [number, () => Condition])[] = [
    [5, amountHigh],
    [15, () => all(amountHigh(), stringEquality())],
    [12, velocityCount],
    [10, () => all(velocityCount(), amountHigh())],
    [8, velocitySum],
    [12, () => all(inList(), pick([amountHigh, velocityCount, velocitySum])())],
    [10, () => all(boolean(), pick([amountHigh, velocityCount, stringEquality])())],
    [10, () => any(velocityCount(), velocitySum())],
    [6, () => any(all(inList(), amountHigh()), all(other(), velocityCount()))],
    [5, () => all(not(any(stringEquality(), boolean())), velocityCount(), amountHigh())],
    [7, () => all(other(), stringEquality())],
  ]
  const totalWeight = shapes.reduce((sum, [w]) => sum + w, 0)
  const shape = (): Condition => {
    let roll = random() * totalWeight
    for (const [w, make] of shapes) {
      roll -= w
      if (roll < 0) return make()
    }
    return velocityCount()
  }

  const drafts = packRules().slice(0, count)
  while (drafts.length < count) {
    const n = drafts.length + 1
    const roll = random()
    // Mostly scores; rules that stop the evaluation are narrower (three conditions).
    if (roll < 0.03) {
      drafts.push({
        name: `generated allow ${n}`,
        action: 'allow',
        reason: null,
        score: 0,
        condition: all(
          cmp('card_bin', '==', pick(vocabulary.bins)),
          stringEquality(),
          cmp('amount', '<', pick(AMOUNTS_LOW)),
        ),
      })
    } else if (roll < 0.1) {
      drafts.push({
        name: `generated block ${n}`,
        action: 'block',
        reason: pick(['suspected_fraud', 'do_not_honour', 'transaction_not_permitted'] as const),
        score: 0,
        condition: all(shape(), velocityCount(), amountHigh()),
      })
    } else if (roll < 0.25) {
      drafts.push({
        name: `generated review ${n}`,
        action: 'review',
        reason: null,
        score: 0,
        condition: shape(),
      })
    } else {
      const points = pick([5, 10, 15, 20, 25, 30, 40])
      drafts.push({
        name: `generated score ${n}`,
        action: 'score',
        reason: null,
        score: points,
        condition: shape(),
      })
    }
  }
  const priorities: Readonly<Record<RuleAction, number>> = {
    allow: 10,
    block: 20,
    review: 30,
    score: 40,
  }
  return drafts.map((draft, i) => {
    const rule: BenchRule = {
      ...draft,
      id: draft.id ?? `r${String(i + 1).padStart(4, '0')}`,
      priority: draft.priority ?? priorities[draft.action],
    }
    for (const name of featuresOf(rule.condition)) {
      if (!FEATURES_BY_NAME.has(name)) throw new Error(`rule ${rule.id} reads no feature ${name}`)
    }
    return rule
  })
}
