import { beforeAll, describe, expect, it } from 'vitest'
import {
  loadReferenceData,
  REFERENCE_DIR_DEFAULT,
  type ReferenceData,
} from '../../src/adapters/reference/load-reference.js'
import { luhnCheckDigit } from '../../src/core/card.js'
import { issueCard } from '../../src/core/issue-card.js'
import type { CardType, Check, TransactionRecord } from '../../src/core/model.js'
import { planBatch } from '../../src/core/pipeline/batch.js'
import type { CoreContext } from '../../src/core/pipeline/context.js'
import type { NewTransactionRequest } from '../../src/core/pipeline/requests.js'
import type { RequestResult } from '../../src/core/pipeline/result.js'
import { DEFAULT_RULE_PACK } from '../../src/core/risk/default-pack.js'
import { compileRuleSet } from '../../src/core/risk/engine.js'
import { DEFAULT_RISK_SETTINGS, type RuleStatus } from '../../src/core/risk/rules.js'
import { VelocityIndex } from '../../src/core/risk/velocity.js'
import { MemoryBatchStore } from '../support/memory-batch-store.js'

/**
 * The default rule pack, through the real pipeline: each rule fires on the sequence it exists
 * for, and none fires on ordinary traffic. Time is simulated; velocity is the same index the
 * batch executor keeps, fed by the decisions themselves.
 */

// 2026-11-26 12:00 in Shanghai.
const NOON = Date.UTC(2026, 10, 26, 4, 0, 0)
const DAY = 86_400_000
const MINUTE = 60_000
const MERCHANT = '898310054110001'
const NEW_MERCHANT = '898310054110002'
/** No per-transaction limit: large payments. */
const JEWELLER = '898310059440003'
let reference: ReferenceData

class World {
  readonly store = new MemoryBatchStore()
  readonly velocity = new VelocityIndex()
  now = NOON
  private sequence = 0
  private stan = 0
  private readonly pans = new Map<string, string>()

  constructor(status: RuleStatus = 'active') {
    this.merchant(MERCHANT, NOON - 400 * DAY)
    this.merchant(NEW_MERCHANT, NOON - 5 * DAY)
    this.merchant(JEWELLER, NOON - 400 * DAY)
    for (const [id, merchantId] of [
      ['10000001', MERCHANT],
      ['10000002', MERCHANT],
      ['10000003', MERCHANT],
      ['20000001', NEW_MERCHANT],
      ['30000001', JEWELLER],
    ] as const) {
      this.store.putTerminal({
        id,
        merchantId,
        status: 'active',
        region: '310101',
        createdAtMs: NOON - 400 * DAY,
        updatedAtMs: NOON,
      })
    }
    this.store.putLimit({
      id: 'li_merchant_payment',
      scope: 'merchant',
      cardType: null,
      mcc: null,
      entityId: MERCHANT,
      currency: 'CNY',
      perTransactionMaxMinor: 200_000,
      dailyAmountMaxMinor: null,
      dailyCountMax: null,
      note: 'at most 2,000.00 a payment',
      createdAtMs: NOON,
      updatedAtMs: NOON,
    })
    const rules = DEFAULT_RULE_PACK.map((r) => ({
      ...r,
      version: 1,
      status,
      author: 'pack',
      changeNote: 'default pack',
      createdAtMs: NOON,
    }))
    const { ruleSet, failures } = compileRuleSet(rules, DEFAULT_RISK_SETTINGS, 1)
    expect(failures).toEqual([])
    this.store.ruleSet = ruleSet
  }

  private merchant(id: string, createdAtMs: number): void {
    this.store.putMerchant({
      id,
      name: `Shop ${id}`,
      mcc: '5411',
      status: 'approved',
      region: '310101',
      riskTier: 'low',
      createdAtMs,
      updatedAtMs: createdAtMs,
    })
  }

  card(token: string, type: CardType, amountMinor: number): void {
    const partial = `62220200${String(this.pans.size + 1).padStart(10, '0')}`
    const pan = partial + luhnCheckDigit(partial)
    this.pans.set(token, pan)
    const issued = issueCard({
      pan,
      expiry: '3012',
      type,
      status: 'active',
      amountMinor,
      currency: 'CNY',
      token,
      accountId: `ac_${token}`,
      bin: reference.bins.lookup(pan),
      nowMs: NOON - 100 * DAY,
    })
    this.store.createCard(
      issued.card,
      issued.account,
      issued.openingBalanceMinor,
      `tr_${token}`,
      NOON,
    )
  }

  private context(): CoreContext {
    return this.contextAt(this.now)
  }

  contextAt(nowMs: number): CoreContext {
    return {
      nowMs,
      settings: { utcOffsetMinutes: 480, holdExpiryMs: DAY },
      bins: reference.bins,
      mccs: reference.mccs,
      newTransactionId: () => `tx_${String(++this.sequence).padStart(26, '0')}`,
      newTransferId: () => `tr_${++this.sequence}`,
      newAuthorizationCode: () => 'A00001',
      newRrn: () => String(++this.sequence).padStart(12, '0'),
      velocity: this.velocity,
    }
  }

  request(
    token: string,
    amountMinor: number,
    parts: Partial<NewTransactionRequest> = {},
  ): NewTransactionRequest {
    const pan = this.pans.get(token) ?? `6222020${String(++this.sequence).padStart(11, '0')}`
    return {
      type: 'new',
      kind: 'purchase',
      channel: 'http',
      terminalId: '10000001',
      merchantId: MERCHANT,
      stan: String(++this.stan).padStart(6, '0'),
      transmissionTime: null,
      card: { pan: this.pans.has(token) ? pan : pan + luhnCheckDigit(pan), expiry: '3012' },
      cardToken: token,
      amountMinor,
      currency: 'CNY',
      idempotencyKey: null,
      ...parts,
    }
  }

  /** One purchase in its own batch, `stepMs` after the previous one. */
  buy(
    token: string,
    amountMinor: number,
    parts: Partial<NewTransactionRequest> = {},
    stepMs = 20_000,
  ): TransactionRecord {
    this.now += stepMs
    const [result] = this.store.run(
      planBatch([this.request(token, amountMinor, parts)], this.context()),
    )
    return decided(result)
  }
}

function decided(result: RequestResult | undefined): TransactionRecord {
  if (result?.type !== 'decided')
    throw new Error(`expected a decision, got ${JSON.stringify(result)}`)
  return result.transaction
}

function riskCheck(record: TransactionRecord): Check | undefined {
  return record.checks.find((c) => c.stage === 'risk' && c.name === 'rules')
}

function blockedBy(record: TransactionRecord, ruleId: string, reason: string): void {
  expect(record.outcome, JSON.stringify(record.checks)).toBe('declined')
  expect(record.reason).toBe(reason)
  expect(record.evidence).toMatchObject({ riskRuleId: ruleId, ruleVersion: 1, decidedBy: 'rule' })
  expect(record.evidence.expression).toBe(
    DEFAULT_RULE_PACK.find((r) => r.id === ruleId)?.expression,
  )
}

describe('the default rule pack', () => {
  beforeAll(() => {
    reference = loadReferenceData(REFERENCE_DIR_DEFAULT)
  })

  it('pin_guessing: three wrong PINs in 10 minutes block the next attempt', () => {
    const w = new World()
    w.card('tok_pin', 'debit', 1_000_000)
    // Wrong-PIN declines come from the issuer (remote routes); fed here as the velocity events
    // the stored declines would make.
    for (let i = 0; i < 3; i++) {
      w.velocity.record({
        atMs: w.now - (3 - i) * MINUTE,
        cardToken: 'tok_pin',
        merchantId: MERCHANT,
        terminalId: '10000001',
        amountMinor: 10_000,
        declined: true,
        pinDeclined: true,
        round: false,
      })
    }
    const record = w.buy('tok_pin', 10_000)
    blockedBy(record, 'pin_guessing', 'pin_tries_exceeded')
    expect(record.evidence['f.card_pin_declines_10m']).toBe(3)
  })

  it('card_testing_small_amounts: small payments across terminals', () => {
    const w = new World()
    w.card('tok_test', 'debit', 1_000_000)
    expect(w.buy('tok_test', 500, { terminalId: '10000001' }).outcome).toBe('approved')
    expect(w.buy('tok_test', 300, { terminalId: '10000002' }).outcome).toBe('approved')
    expect(w.buy('tok_test', 800, { terminalId: '10000003' }).outcome).toBe('approved')
    const record = w.buy('tok_test', 100, { terminalId: '10000001' })
    blockedBy(record, 'card_testing_small_amounts', 'suspected_fraud')
    expect(record.evidence).toMatchObject({
      'f.card_count_10m': 3,
      'f.card_distinct_terminals_10m': 3,
    })
  })

  it('card_testing_declines: a card declined three times is paused', () => {
    const w = new World()
    w.card('tok_poor', 'debit', 50)
    for (let i = 0; i < 3; i++) expect(w.buy('tok_poor', 9_999).reason).toBe('insufficient_funds')
    // The card could pay this one; risk control stops it first.
    blockedBy(w.buy('tok_poor', 20), 'card_testing_declines', 'do_not_honour')
  })

  it('terminal_card_testing: many declines at one terminal, then a small payment', () => {
    const w = new World()
    w.card('tok_good', 'debit', 1_000_000)
    for (let i = 0; i < 8; i++) {
      // Cards nobody issued: each declines once (card_not_found).
      expect(w.buy(`tok_unknown_${i}`, 500, {}, 5_000).reason).toBe('card_not_found')
    }
    blockedBy(w.buy('tok_good', 600), 'terminal_card_testing', 'suspected_fraud')
  })

  it('split_under_limit: a sale split to stay under the per-transaction limit', () => {
    const w = new World()
    w.card('tok_split', 'debit', 10_000_000)
    expect(w.buy('tok_split', 190_000).outcome).toBe('approved')
    const record = w.buy('tok_split', 195_000)
    blockedBy(record, 'split_under_limit', 'transaction_not_permitted')
    expect(record.evidence['f.per_transaction_limit']).toEqual({
      amountMinor: 200_000,
      currency: 'CNY',
    })
  })

  it('terminal_relocation: the terminal reports another city (移机)', () => {
    const w = new World()
    w.card('tok_move', 'debit', 1_000_000)
    expect(w.buy('tok_move', 10_050, { reportedRegion: '310115' }).outcome).toBe('approved')
    blockedBy(
      w.buy('tok_move', 10_050, { reportedRegion: '110101' }),
      'terminal_relocation',
      'transaction_not_permitted',
    )
  })

  it('cash-out: repeated round amounts review; late at night they block by score', () => {
    const w = new World()
    w.card('tok_cashout', 'credit', 5_000_000)
    const at = { merchantId: JEWELLER, terminalId: '30000001' }
    expect(w.buy('tok_cashout', 100_000, at).outcome).toBe('approved')
    expect(w.buy('tok_cashout', 100_000, at).outcome).toBe('approved')
    const third = w.buy('tok_cashout', 100_000, at)
    expect(third.outcome).toBe('approved')
    expect(riskCheck(third)?.evidence).toMatchObject({ decidedBy: 'score', score: 60 })
    expect(w.store.reviews.get(third.id)).toMatchObject({ status: 'open', score: 60 })
    // 23:30 in Shanghai.
    w.now = NOON + 11.5 * 3_600_000
    const night = w.buy('tok_cashout', 500_000, at)
    expect(night).toMatchObject({ outcome: 'declined', reason: 'suspected_fraud' })
    expect(night.evidence).toMatchObject({ decidedBy: 'score', score: 110, blockScore: 100 })
    expect(night.evidence['f.local_hour']).toBe(23)
  })

  it('new_merchant_surge: a new merchant passing 50,000.00 in a day goes to review', () => {
    const w = new World()
    w.card('tok_surge', 'debit', 100_000_000)
    let last: TransactionRecord | undefined
    for (let i = 0; i < 6; i++) {
      last = w.buy(
        'tok_surge',
        990_050,
        { merchantId: NEW_MERCHANT, terminalId: '20000001' },
        3_600_000,
      )
      expect(last.outcome).toBe('approved')
    }
    expect(last && riskCheck(last)?.evidence).toMatchObject({
      decidedBy: 'rule',
      riskRuleId: 'new_merchant_surge',
    })
    expect(last && w.store.reviews.get(last.id)).toMatchObject({ status: 'open' })
  })

  it('stays quiet on ordinary traffic', () => {
    const w = new World()
    const cards = Array.from({ length: 40 }, (_, i) => `tok_n${i}`)
    cards.forEach((token, i) => w.card(token, i % 4 === 0 ? 'credit' : 'debit', 2_000_000))
    const amounts = [1_250, 3_880, 12_030, 45_600, 8_990, 21_470, 66_610, 2_050]
    const terminals = ['10000001', '10000002', '10000003']
    const seen: TransactionRecord[] = []
    // A day of shopping: each card pays a few times, hours apart, at its usual terminal.
    for (let round = 0; round < 4; round++) {
      for (const [i, token] of cards.entries()) {
        const record = w.buy(
          token,
          amounts[(i + round) % amounts.length] ?? 1_000,
          { terminalId: terminals[i % terminals.length] ?? '10000001', reportedRegion: '310101' },
          90_000,
        )
        seen.push(record)
      }
    }
    for (const record of seen) {
      expect(record.outcome, record.id).toBe('approved')
      expect(riskCheck(record), record.id).toEqual({ stage: 'risk', name: 'rules', status: 'pass' })
    }
    expect(w.store.reviews.size).toBe(0)
  })

  it('in shadow, the pack records its hits and changes nothing', () => {
    const w = new World('shadow')
    w.card('tok_test', 'debit', 1_000_000)
    const records = ['10000001', '10000002', '10000003', '10000001'].map((terminalId) =>
      w.buy('tok_test', 100, { terminalId }),
    )
    for (const record of records) expect(record.outcome).toBe('approved')
    const last = records[3]
    const shadow = last?.checks.find((c) => c.name === 'shadow_rules')
    expect(shadow?.evidence?.shadowHits).toMatch(/card_testing_small_amounts@v1 block/)
  })
})

describe('velocity under batching', () => {
  beforeAll(() => {
    reference = loadReferenceData(REFERENCE_DIR_DEFAULT)
  })

  it('requests of one batch see each other, and a later batch sees the committed ones', () => {
    const w = new World()
    const { ruleSet } = compileRuleSet(
      [
        {
          id: 'third_in_ten_minutes',
          version: 1,
          status: 'active',
          name: 'third',
          expression: 'card_count_10m >= 2',
          action: 'block',
          reason: 'do_not_honour',
          score: 0,
          priority: 1,
          description: { 'zh-CN': '第三笔', en: 'third' },
          author: 't',
          changeNote: 't',
          createdAtMs: NOON,
        },
      ],
      DEFAULT_RISK_SETTINGS,
      2,
    )
    w.store.ruleSet = ruleSet
    w.card('tok_batch', 'debit', 1_000_000)
    const three = [1, 2, 3].map(() => w.request('tok_batch', 1_250))
    const results = w.store.run(planBatch(three, w.contextAt(NOON + 1_000)))
    expect(results.map((r) => decided(r).outcome)).toEqual(['approved', 'approved', 'declined'])
    expect(decided(results[2]).evidence['f.card_count_10m']).toBe(2)
    // Committed: the next batch counts all three attempts.
    const next = w.store.run(planBatch([w.request('tok_batch', 1_250)], w.contextAt(NOON + 2_000)))
    expect(decided(next[0]).evidence['f.card_count_10m']).toBe(3)
  })
})
