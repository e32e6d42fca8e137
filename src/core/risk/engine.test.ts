import { describe, expect, it } from 'vitest'
import {
  checkExpression,
  compileRule,
  compileRuleSet,
  evaluateRules,
  referencedFeatures,
  type RuleSet,
} from './engine.js'
import { computeFeatures, FEATURES, type FeatureInput, type Features } from './features.js'
import { DEFAULT_RULE_PACK } from './default-pack.js'
import { DEFAULT_RISK_SETTINGS, type RiskRule, type RiskSettings } from './rules.js'
import { EMPTY_FIGURES } from './velocity.js'

const NOW = Date.UTC(2026, 10, 26, 4, 0, 0)

function rule(id: string, expression: string, parts: Partial<RiskRule> = {}): RiskRule {
  return {
    id,
    version: 1,
    status: 'active',
    name: id,
    expression,
    action: 'block',
    reason: 'suspected_fraud',
    score: 0,
    priority: 100,
    description: { 'zh-CN': '测试', en: 'test' },
    author: 'analyst',
    changeNote: 'test',
    createdAtMs: NOW,
    ...parts,
  }
}

function featureInput(): FeatureInput {
  return {
    nowMs: NOW,
    utcOffsetMinutes: 480,
    kind: 'purchase',
    channel: 'http',
    amountMinor: 12_000,
    currency: 'CNY',
    entryMode: 'chip',
    reportedRegion: null,
    perTransactionLimitMinor: null,
    cardType: 'debit',
    bin: '622202',
    issuerBank: 'ICBC',
    cardOnFile: true,
    cardFirstSeenMs: null,
    merchant: {
      id: '898310054110001',
      name: 'Shop',
      mcc: '5411',
      status: 'approved',
      region: '310101',
      riskTier: 'low',
      createdAtMs: NOW - 90 * 86_400_000,
      updatedAtMs: NOW,
    },
    terminal: {
      id: '10000001',
      merchantId: '898310054110001',
      status: 'active',
      region: '310101',
      createdAtMs: NOW,
      updatedAtMs: NOW,
    },
    velocity: () => EMPTY_FIGURES,
    onReviewList: false,
    onAllowList: false,
  }
}

function features(parts: Record<string, number | string | boolean> = {}): Features {
  return { ...computeFeatures(featureInput()), ...parts }
}

function set(rules: RiskRule[], settings: Partial<RiskSettings> = {}): RuleSet {
  const { ruleSet, failures } = compileRuleSet(rules, { ...DEFAULT_RISK_SETTINGS, ...settings }, 1)
  expect(failures).toEqual([])
  return ruleSet
}

describe('checkExpression', () => {
  it('accepts a typed boolean expression over the features', () => {
    expect(checkExpression('amount >= 500000 && card_type == "credit"')).toBeNull()
    expect(checkExpression('mcc in ["7995", "6051"] || terminal_relocated')).toBeNull()
  })

  it('names the position of a syntax error', () => {
    const error = checkExpression('amount >= ')
    expect(error).toMatchObject({ offset: 10, line: 1, column: 11 })
    expect(error?.message).toMatch(/unexpected/i)
  })

  it('refuses an unknown feature, a type error and a non-boolean result', () => {
    expect(checkExpression('amout > 1')?.message).toMatch(/amout/)
    expect(checkExpression('amount > "x"')).not.toBeNull()
    expect(checkExpression('amount + 1')?.message).toMatch(/must give bool/)
  })

  it('refuses empty and over-long expressions', () => {
    expect(checkExpression('   ')?.message).toMatch(/empty/)
    expect(checkExpression(`amount > 1 ${'&& amount > 1 '.repeat(200)}`)?.message).toMatch(
      /at most/,
    )
  })

  it('refuses regular expressions (matches), as a method and as a global, naming where', () => {
    const catastrophic = '"aaaaaaaaaaaaaaaaaaaaaaaaaaa!".matches("^(a+)+$")'
    const method = checkExpression(catastrophic)
    expect(method?.message).toMatch(/function matches is not allowed.*startsWith/)
    expect(method).toMatchObject({ offset: catastrophic.indexOf('matches'), line: 1 })

    const global = checkExpression('amount > 1 && matches(card_issuer, "^IC")')
    expect(global?.message).toMatch(/function matches is not allowed/)
    expect(global).toMatchObject({ offset: 14, line: 1, column: 15 })

    const multiLine = checkExpression('amount > 1 &&\n  card_issuer . matches("^IC")')
    expect(multiLine).toMatchObject({ line: 2, column: 17 })
    expect(multiLine?.message).toMatch(/function matches is not allowed/)

    expect(checkExpression('["a"].exists(x, x.matches("a"))')?.message).toMatch(/matches/)
    expect(checkExpression('!(mcc.matches("^79"))')?.message).toMatch(/matches/)
  })

  it('still accepts the string functions and the word matches inside a string', () => {
    expect(checkExpression('card_issuer.startsWith("IC") && mcc.endsWith("95")')).toBeNull()
    expect(checkExpression('card_issuer.contains("BC") || mcc == "matches"')).toBeNull()
  })

  it('counts lines and columns on multi-line expressions', () => {
    const error = checkExpression('amount > 1 &&\n  card_type == ')
    expect(error).toMatchObject({ line: 2 })
  })
})

describe('referencedFeatures', () => {
  it('lists the features an expression reads, not words inside strings', () => {
    expect(referencedFeatures('amount > 1 && mcc == "amount" && card_count_10m >= 3')).toEqual([
      'amount',
      'mcc',
      'card_count_10m',
    ])
  })
})

describe('evaluateRules: the documented order', () => {
  it('passes when nothing fires', () => {
    const outcome = evaluateRules(set([rule('big', 'amount > 1000000')]), features())
    expect(outcome).toMatchObject({ decision: 'pass', decidedBy: 'none', hits: [] })
  })

  it('the first true block (by priority) decides and stops', () => {
    const outcome = evaluateRules(
      set([
        rule('second', 'amount > 100', { priority: 20, reason: 'do_not_honour' }),
        rule('first', 'amount > 100', { priority: 10, reason: 'transaction_not_permitted' }),
      ]),
      features(),
    )
    expect(outcome).toMatchObject({ decision: 'block', reason: 'transaction_not_permitted' })
    expect(outcome.decidingRule?.rule.id).toBe('first')
    expect(outcome.rulesEvaluated).toBe(1)
  })

  it('an allow rule before a block rule lets the transaction through', () => {
    const outcome = evaluateRules(
      set([
        rule('vip', 'merchant_risk_tier == "low"', { action: 'allow', priority: 1 }),
        rule('block_all', 'true', { priority: 2 }),
      ]),
      features(),
    )
    expect(outcome).toMatchObject({ decision: 'allow', decidedBy: 'rule' })
  })

  it('scores add up: review at the review score, block at the block score', () => {
    const rules = [
      rule('a', 'amount > 100', { action: 'score', score: 30, reason: null }),
      rule('b', 'card_type == "debit"', { action: 'score', score: 30, reason: null }),
    ]
    expect(evaluateRules(set(rules), features())).toMatchObject({
      decision: 'review',
      decidedBy: 'score',
      score: 60,
    })
    expect(evaluateRules(set(rules, { blockScore: 60 }), features())).toMatchObject({
      decision: 'block',
      decidedBy: 'score',
      reason: 'suspected_fraud',
    })
  })

  it('a review rule reviews, and a later block rule still blocks', () => {
    const review = rule('look', 'amount > 100', { action: 'review', reason: null, priority: 1 })
    expect(evaluateRules(set([review]), features())).toMatchObject({ decision: 'review' })
    const block = rule('stop', 'amount > 100', { priority: 2 })
    expect(evaluateRules(set([review, block]), features())).toMatchObject({ decision: 'block' })
  })

  it('the allow list skips the active rules; the review list reviews', () => {
    const block = rule('stop', 'true')
    expect(evaluateRules(set([block]), features({ on_allow_list: true }))).toMatchObject({
      decision: 'allow',
      decidedBy: 'allow_list',
      rulesEvaluated: 0,
    })
    expect(evaluateRules(set([]), features({ on_review_list: true }))).toMatchObject({
      decision: 'review',
      decidedBy: 'review_list',
    })
  })

  it('shadow rules run and are recorded but never decide', () => {
    const shadow = rule('watch', 'amount > 100', { status: 'shadow' })
    const outcome = evaluateRules(set([shadow]), features())
    expect(outcome.decision).toBe('pass')
    expect(outcome.shadowHits.map((h) => h.ruleId)).toEqual(['watch'])
  })

  it('draft and disabled rules do not run', () => {
    const ruleSet = set([
      rule('draft', 'true', { status: 'draft' }),
      rule('off', 'true', { status: 'disabled' }),
    ])
    expect(ruleSet.active).toEqual([])
    expect(evaluateRules(ruleSet, features()).decision).toBe('pass')
  })
})

describe('a rule that fails at run time is isolated', () => {
  const failing = rule('div', 'amount / (card_count_10m - card_count_10m) > 1', {
    priority: 1,
    reason: 'do_not_honour',
  })
  const after = rule('after', 'amount > 1000000', { priority: 2 })

  it('ignore: counted, the other rules still run', () => {
    const outcome = evaluateRules(set([failing, after]), features())
    expect(outcome.decision).toBe('pass')
    expect(outcome.errors).toEqual([
      { ruleId: 'div', version: 1, message: expect.stringMatching(/division by zero/) as string },
    ])
    expect(outcome.rulesEvaluated).toBe(2)
  })

  it('review and block fallbacks', () => {
    expect(evaluateRules(set([failing], { onRuleError: 'review' }), features())).toMatchObject({
      decision: 'review',
      decidedBy: 'rule_error',
    })
    expect(evaluateRules(set([failing], { onRuleError: 'block' }), features())).toMatchObject({
      decision: 'block',
      decidedBy: 'rule_error',
      reason: 'do_not_honour',
    })
  })

  it('a failing shadow rule never changes the decision', () => {
    const outcome = evaluateRules(
      set([{ ...failing, status: 'shadow' }], { onRuleError: 'block' }),
      features(),
    )
    expect(outcome.decision).toBe('pass')
    expect(outcome.shadowErrors).toHaveLength(1)
  })
})

describe('compileRuleSet', () => {
  it('leaves out a stored rule that no longer compiles, and says so', () => {
    const { ruleSet, failures } = compileRuleSet(
      [rule('good', 'amount > 1'), rule('stale', 'removed_feature > 1')],
      DEFAULT_RISK_SETTINGS,
      7,
    )
    expect(ruleSet.active.map((c) => c.rule.id)).toEqual(['good'])
    expect(failures.map((f) => f.ruleId)).toEqual(['stale'])
    expect(ruleSet.generation).toBe(7)
  })

  it('leaves out a stored rule that uses matches (saved before it was refused)', () => {
    const { ruleSet, failures } = compileRuleSet(
      [
        rule('good', 'amount > 1'),
        rule('regex', '"aaaaaaaaaaaaaaaaaaaaaaaaaaaaa!".matches("^(a+)+$")', {
          status: 'shadow',
          action: 'score',
          reason: null,
          score: 10,
        }),
        rule('regex_active', 'amount > 1 && card_issuer.matches("^(a+)+$")'),
      ],
      DEFAULT_RISK_SETTINGS,
      3,
    )
    expect(ruleSet.active.map((c) => c.rule.id)).toEqual(['good'])
    expect(ruleSet.shadow).toEqual([])
    expect(failures.map((f) => f.ruleId)).toEqual(['regex', 'regex_active'])
    for (const failure of failures) expect(failure.detail.message).toMatch(/matches/)
    expect(() => compileRule(rule('r', 'matches(mcc, "^7")'))).toThrow(/matches is not allowed/)
  })

  it('every rule of the default pack compiles', () => {
    for (const packRule of DEFAULT_RULE_PACK) {
      expect(() =>
        compileRule(rule(packRule.id, packRule.expression, { ...packRule })),
      ).not.toThrow()
    }
  })
})

describe('features', () => {
  it('computes every catalogued feature with its declared type', () => {
    const values = features()
    for (const feature of FEATURES) {
      const value = values[feature.name]
      expect(value, feature.name).toBeDefined()
      const type =
        feature.type === 'int' ? 'number' : feature.type === 'bool' ? 'boolean' : 'string'
      expect(typeof value, feature.name).toBe(type)
    }
    expect(Object.keys(values)).toHaveLength(FEATURES.length)
  })

  it('computes velocity only for the scopes the rules need', () => {
    const asked: string[] = []
    const input = {
      ...featureInput(),
      velocity: (scope: string) => {
        asked.push(scope)
        return EMPTY_FIGURES
      },
    }
    const some = computeFeatures(input, new Set(['amount', 'card_merchant_sum_10m']))
    expect(asked).toEqual(['card_merchant'])
    expect(some.card_merchant_sum_10m).toBe(0)
    expect(some.card_count_10m).toBeUndefined()
    expect(some.amount).toBe(12_000)
    asked.length = 0
    computeFeatures(input, new Set(['card_pin_declines_10m']))
    expect(asked).toEqual(['card'])
  })

  it('a rule set knows the features its rules read', () => {
    const ruleSet = set([
      rule('a', 'card_count_10m >= 3', { status: 'shadow' }),
      rule('b', 'amount > 1 && terminal_relocated'),
    ])
    expect([...ruleSet.features].sort()).toEqual(['amount', 'card_count_10m', 'terminal_relocated'])
  })

  it('local hour at the acquirer offset, onboarding age, round amounts', () => {
    const values = features()
    expect(values.local_hour).toBe(12)
    expect(values.merchant_days_since_onboarding).toBe(90)
    expect(values.is_round_amount).toBe(false)
    expect(values.terminal_relocated).toBe(false)
  })
})
