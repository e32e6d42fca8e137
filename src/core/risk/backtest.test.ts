import { describe, expect, it } from 'vitest'
import type { Check, ListEntry, Merchant, Terminal, TransactionRecord } from '../model.js'
import { createBinTable } from '../reference/bin-table.js'
import {
  actualOutcomeOf,
  BacktestReplayer,
  type BacktestSetup,
  type ReplayEntities,
} from './backtest.js'
import { RuleCompileError } from './engine.js'
import { DEFAULT_RISK_SETTINGS, type RiskRule } from './rules.js'
import { velocityEventOf } from './velocity.js'

const T0 = Date.UTC(2026, 10, 25, 0, 0, 0)
const HOUR = 3_600_000
const MINUTE = 60_000

const merchant: Merchant = {
  id: '898310058120001',
  name: 'noodles',
  mcc: '5812',
  status: 'approved',
  region: '310101',
  riskTier: 'low',
  createdAtMs: T0 - 100 * 24 * HOUR,
  updatedAtMs: T0 - 100 * 24 * HOUR,
}
const terminal: Terminal = {
  id: '10000001',
  merchantId: merchant.id,
  status: 'active',
  region: '310101',
  createdAtMs: merchant.createdAtMs,
  updatedAtMs: merchant.createdAtMs,
}

function entities(parts: Partial<ReplayEntities> = {}): ReplayEntities {
  return {
    merchants: new Map([[merchant.id, merchant]]),
    terminals: new Map([[terminal.id, terminal]]),
    cards: new Map(),
    limits: [],
    listEntries: [],
    bins: createBinTable([]),
    ...parts,
  }
}

function rule(id: string, expression: string, fields: Partial<RiskRule> = {}): RiskRule {
  return {
    id,
    version: 1,
    status: 'draft',
    name: id,
    expression,
    action: 'block',
    reason: 'suspected_fraud',
    score: 0,
    priority: 100,
    description: { 'zh-CN': id, en: id },
    author: 'test',
    changeNote: 'test',
    createdAtMs: T0 - HOUR,
    ...fields,
  }
}

let seq = 0
interface RecordFields {
  readonly atMs: number
  readonly card?: string
  readonly amountMinor?: number
  readonly outcome?: 'approved' | 'declined'
  /** The stage of the failing check of a decline. */
  readonly failedStage?: Check['stage']
}

function record(f: RecordFields): TransactionRecord {
  seq += 1
  const outcome = f.outcome ?? 'approved'
  const failed = outcome === 'declined' ? (f.failedStage ?? 'issuer') : null
  const checks: Check[] =
    failed === null
      ? [{ stage: 'risk', name: 'rules', status: 'pass' }]
      : [{ stage: failed, name: 'x', status: 'fail', reason: 'insufficient_funds' }]
  return {
    id: `tx_${String(seq).padStart(6, '0')}`,
    kind: 'purchase',
    channel: 'http',
    outcome,
    lifecycle: outcome === 'approved' ? 'posted' : 'none',
    terminalId: terminal.id,
    merchantId: merchant.id,
    stan: String(seq).padStart(6, '0'),
    transmissionTime: null,
    rrn: '000000000000',
    dedupKey: null,
    idempotencyKey: null,
    fingerprint: 'f',
    cardToken: f.card ?? 'card-a',
    cardMasked: '621226*********4505',
    cardLast4: '4505',
    cardType: 'debit',
    amountMinor: f.amountMinor ?? 1_000,
    currency: 'CNY',
    originalId: null,
    reason: outcome === 'declined' ? 'insufficient_funds' : null,
    responseCode: outcome === 'declined' ? '51' : '00',
    authorizationCode: null,
    checks,
    evidence: {},
    balanceMinor: null,
    holdTransferId: null,
    completedAmountMinor: 0,
    refundedAmountMinor: 0,
    localDate: '2026-11-25',
    entryMode: null,
    reportedRegion: null,
    createdAtMs: f.atMs,
    updatedAtMs: f.atMs,
  }
}

function setup(rules: RiskRule[], parts: Partial<BacktestSetup> = {}): BacktestSetup {
  return {
    rules,
    settings: DEFAULT_RISK_SETTINGS,
    fromMs: T0,
    toMs: T0 + 24 * HOUR,
    utcOffsetMinutes: 480,
    samplesPerRule: 20,
    ...parts,
  }
}

describe('backtest replayer', () => {
  it('counts velocity before the transaction itself, as the live path does', () => {
    const replayer = new BacktestReplayer(setup([rule('burst', 'card_count_10m >= 2')]))
    replayer.warm([])
    const records = [0, 1, 2, 3].map((i) => record({ atMs: T0 + i * MINUTE }))
    replayer.replay(records, entities())
    const report = replayer.report()
    const burst = report.rules[0]
    // The 1st sees 0 earlier attempts, the 2nd 1, the 3rd 2 (hit), the 4th 3 (hit).
    expect(burst?.hits).toBe(2)
    expect(burst?.samples.map((s) => s.transactionId)).toEqual([records[2]?.id, records[3]?.id])
    expect(report.decisions).toEqual({ block: 2, review: 0, allow: 0, pass: 2 })
    expect(report.summary.newBlocks).toBe(2)
  })

  it('warms velocity with the 24 hours before the period, and nothing older counts', () => {
    const before = [record({ atMs: T0 - 5 * MINUTE }), record({ atMs: T0 - 2 * MINUTE })]
    const replayer = new BacktestReplayer(setup([rule('burst', 'card_count_10m >= 2')]))
    expect(replayer.warmWindow).toEqual({ fromMs: T0 - 24 * HOUR, toMs: T0 })
    replayer.warm(before.map((r) => velocityEventOf(r)!))
    const first = record({ atMs: T0 + MINUTE })
    const late = record({ atMs: T0 + 30 * MINUTE })
    replayer.replay([first, late], entities())
    const report = replayer.report()
    expect(report.rules[0]?.samples.map((s) => s.transactionId)).toEqual([first.id])
    expect(report.velocity.warmEvents).toBe(2)
    expect(() => replayer.warm([])).toThrow()
  })

  it('does not evaluate declines before the risk stage, but counts them as attempts', () => {
    const replayer = new BacktestReplayer(setup([rule('burst', 'card_count_10m >= 1')]))
    const limited = record({ atMs: T0 + MINUTE, outcome: 'declined', failedStage: 'limits' })
    const next = record({ atMs: T0 + 2 * MINUTE })
    expect(actualOutcomeOf(limited)).toBeNull()
    replayer.replay([limited, next], entities())
    const report = replayer.report()
    expect(report.transactions).toMatchObject({ replayed: 2, evaluated: 1, declinedBeforeRisk: 1 })
    expect(report.rules[0]?.hits).toBe(1)
    expect(report.rules[0]?.samples[0]?.transactionId).toBe(next.id)
  })

  it('reports the overlap with what was actually decided, and the amounts', () => {
    const replayer = new BacktestReplayer(setup([rule('big', 'amount >= 100000')]))
    const rows = [
      record({ atMs: T0 + 1, amountMinor: 150_000 }), // new block
      record({ atMs: T0 + 2, amountMinor: 250_000, outcome: 'declined' }), // declined anyway
      record({ atMs: T0 + 3, amountMinor: 500, outcome: 'declined', failedStage: 'risk' }),
      record({ atMs: T0 + 4, amountMinor: 500 }),
    ]
    replayer.replay(rows, entities())
    const report = replayer.report()
    expect(report.overlap.block).toEqual({
      approved: 1,
      declined_by_risk: 0,
      declined_after_risk: 1,
    })
    expect(report.overlap.pass).toEqual({
      approved: 1,
      declined_by_risk: 1,
      declined_after_risk: 0,
    })
    expect(report.summary).toEqual({
      blockedAlreadyDeclined: 1,
      newBlocks: 1,
      riskDeclinesReleased: 1,
      newReviews: 0,
    })
    expect(report.amounts.replayed).toEqual({ CNY: '401000' })
    expect(report.amounts.newBlocks).toEqual({ CNY: '150000' })
    expect(report.amounts.riskDeclinesReleased).toEqual({ CNY: '500' })
    expect(report.rules[0]).toMatchObject({ hits: 2, alreadyDeclined: 1, newBlocks: 1 })
    expect(report.rules[0]?.hitAmounts).toEqual({ CNY: '400000' })
  })

  it('runs rules in priority order; every rule still counts its own hits', () => {
    const rules = [
      rule('later', 'amount > 0', { priority: 200, action: 'review', reason: null }),
      rule('first', 'amount > 0', { priority: 10 }),
    ]
    const replayer = new BacktestReplayer(setup(rules))
    replayer.replay([record({ atMs: T0 + 1 })], entities())
    const report = replayer.report()
    expect(report.rules.map((r) => r.ruleId)).toEqual(['first', 'later'])
    expect(report.rules.map((r) => [r.hits, r.decided, r.wouldBlock])).toEqual([
      [1, 1, 1],
      [1, 0, 1],
    ])
  })

  it('adds score rules up against the settings given', () => {
    const rules = [
      rule('a', 'amount > 0', { action: 'score', score: 30, reason: null }),
      rule('b', 'amount > 100', { action: 'score', score: 30, reason: null }),
    ]
    const settings = { ...DEFAULT_RISK_SETTINGS, reviewScore: 50, blockScore: 100 }
    const replayer = new BacktestReplayer(setup(rules, { settings }))
    replayer.replay(
      [record({ atMs: T0 + 1, amountMinor: 50 }), record({ atMs: T0 + 2, amountMinor: 500 })],
      entities(),
    )
    expect(replayer.report().decisions).toEqual({ block: 0, review: 1, allow: 0, pass: 1 })
  })

  it('reads allow and review lists as they are now', () => {
    const allow: ListEntry = {
      id: 'le_1',
      list: 'allow',
      kind: 'card',
      value: 'card-b',
      display: '621226*********4505',
      note: 'genuine',
      expiresAtMs: null,
      createdBy: 'test',
      createdAtMs: T0 + 20 * HOUR,
    }
    const replayer = new BacktestReplayer(setup([rule('all', 'amount > 0')]))
    replayer.replay(
      [record({ atMs: T0 + 1, card: 'card-a' }), record({ atMs: T0 + 2, card: 'card-b' })],
      entities({ listEntries: [allow] }),
    )
    const report = replayer.report()
    expect(report.decisions).toMatchObject({ block: 1, allow: 1 })
    // The allowed card's rule is still true on its own: counted as a hit, not a block.
    expect(report.rules[0]).toMatchObject({ hits: 2, wouldBlock: 1 })
  })

  it('counts rule errors per rule without stopping', () => {
    const replayer = new BacktestReplayer(setup([rule('div', 'amount / card_count_1h > 10')]))
    replayer.replay([record({ atMs: T0 + 1 }), record({ atMs: T0 + 2 })], entities())
    const report = replayer.report()
    expect(report.rules[0]?.errors).toBe(1)
    expect(report.rules[0]?.firstError).toMatch(/zero|division/i)
    expect(report.rules[0]?.hits).toBe(1)
  })

  it('bounds samples per rule and the records replayed', () => {
    const replayer = new BacktestReplayer(
      setup([rule('all', 'amount > 0')], { samplesPerRule: 2, transactionsMax: 3 }),
    )
    const rows = [1, 2, 3, 4, 5].map((i) => record({ atMs: T0 + i }))
    expect(replayer.replay(rows, entities())).toBe(3)
    expect(replayer.full).toBe(true)
    const report = replayer.report()
    expect(report.transactions).toMatchObject({ replayed: 3, truncated: true })
    expect(report.rules[0]?.samples).toHaveLength(2)
    expect(JSON.stringify(report)).not.toMatch(/6212260200001234505/)
    expect(report.rules[0]?.samples[0]?.cardMasked).toBe('621226*********4505')
  })

  it('refuses records out of time order or outside the period, and invalid rules', () => {
    const replayer = new BacktestReplayer(setup([rule('all', 'amount > 0')]))
    replayer.replay([record({ atMs: T0 + 10 })], entities())
    expect(() => replayer.replay([record({ atMs: T0 + 5 })], entities())).toThrow(/time order/)
    const outside = new BacktestReplayer(setup([rule('all', 'amount > 0')]))
    expect(() => outside.replay([record({ atMs: T0 - 1 })], entities())).toThrow(/period/)
    expect(() => new BacktestReplayer(setup([rule('bad', 'amount >')]))).toThrow(RuleCompileError)
    expect(() => new BacktestReplayer(setup([], { samplesPerRule: 21 }))).toThrow()
    expect(() => new BacktestReplayer(setup([], { toMs: T0 }))).toThrow()
  })

  it('is deterministic: the same history gives the same report, chunked or not', () => {
    const rows = [0, 1, 2, 3, 4, 5, 6].map((i) =>
      record({ atMs: T0 + i * 30_000, card: i % 2 === 0 ? 'card-a' : 'card-b' }),
    )
    const rules = [rule('burst', 'card_count_10m >= 2 && card_sum_1h > 1000')]
    const whole = new BacktestReplayer(setup(rules))
    whole.replay(rows, entities())
    const chunked = new BacktestReplayer(setup(rules))
    chunked.replay(rows.slice(0, 3), entities())
    chunked.replay(rows.slice(3), entities())
    expect(chunked.report()).toEqual(whole.report())
  })

  it('skips records whose merchant or terminal no longer exists', () => {
    const replayer = new BacktestReplayer(setup([rule('all', 'amount > 0')]))
    replayer.replay([record({ atMs: T0 + 1 })], entities({ terminals: new Map() }))
    expect(replayer.report().transactions).toMatchObject({ evaluated: 0, missingEntities: 1 })
  })
})
