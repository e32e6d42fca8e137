import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  loadReferenceData,
  REFERENCE_DIR_DEFAULT,
} from '../src/adapters/reference/load-reference.js'
import { MIGRATIONS, migrate } from '../src/adapters/store/sqlite/migrations.js'
import { openSqliteStore, type SqliteStore } from '../src/adapters/store/sqlite/sqlite-store.js'
import { luhnCheckDigit } from '../src/core/card.js'
import { issueCard } from '../src/core/issue-card.js'
import { planBatch } from '../src/core/pipeline/batch.js'
import type { NewTransactionRequest } from '../src/core/pipeline/requests.js'
import { RULES_LIVE_MAX, type RiskRule } from '../src/core/risk/rules.js'
import { VelocityIndex, type VelocityEvent } from '../src/core/risk/velocity.js'
import type { AuditEntry } from '../src/ports/store.js'

const NOW = Date.UTC(2026, 10, 26, 4, 0, 0)
const reference = loadReferenceData(REFERENCE_DIR_DEFAULT)
let dir: string
let store: SqliteStore
let sequence = 0

function audit(action: string): AuditEntry {
  return { id: `au_${++sequence}`, atMs: NOW, actor: 'analyst', action, subject: 's', detail: {} }
}

function rule(version: number, parts: Partial<RiskRule> = {}): RiskRule {
  return {
    id: 'big_amount',
    version,
    status: 'draft',
    name: 'Big amount',
    expression: 'amount > 100000',
    action: 'block',
    reason: 'suspected_fraud',
    score: 0,
    priority: 10,
    description: { 'zh-CN': '大额', en: 'big amount' },
    author: 'analyst',
    changeNote: `version ${version}`,
    createdAtMs: NOW + version,
    ...parts,
  }
}

const PARTIAL = '622202000000000001'
const PAN = PARTIAL + luhnCheckDigit(PARTIAL)

async function world(): Promise<void> {
  await store.createMerchant(
    {
      id: '898310054110001',
      name: 'Shop',
      mcc: '5411',
      status: 'approved',
      region: null,
      riskTier: 'low',
      createdAtMs: NOW,
      updatedAtMs: NOW,
    },
    audit('merchant.create'),
  )
  await store.createTerminal(
    {
      id: '10000001',
      merchantId: '898310054110001',
      status: 'active',
      region: null,
      createdAtMs: NOW,
      updatedAtMs: NOW,
    },
    audit('terminal.create'),
  )
  const issued = issueCard({
    pan: PAN,
    expiry: '3012',
    type: 'debit',
    status: 'active',
    amountMinor: 1_000_000,
    currency: 'CNY',
    token: 'tok_risk',
    accountId: 'ac_risk',
    bin: reference.bins.lookup(PAN),
    nowMs: NOW,
  })
  await store.createCard(
    { ...issued, openingTransferId: 'tr_open', nowMs: NOW },
    audit('card.create'),
  )
}

function purchase(stan: string, amountMinor: number): NewTransactionRequest {
  return {
    type: 'new',
    kind: 'purchase',
    channel: 'http',
    terminalId: '10000001',
    merchantId: '898310054110001',
    stan,
    transmissionTime: null,
    card: { pan: PAN, expiry: '3012' },
    cardToken: 'tok_risk',
    amountMinor,
    currency: 'CNY',
    idempotencyKey: null,
  }
}

async function run(nowMs: number, requests: NewTransactionRequest[]) {
  const work = planBatch(requests, {
    nowMs,
    settings: { utcOffsetMinutes: 480, holdExpiryMs: 86_400_000 },
    bins: reference.bins,
    mccs: reference.mccs,
    newTransactionId: () => `tx_${String(++sequence).padStart(26, '0')}`,
    newTransferId: () => `tr_${++sequence}`,
    newAuthorizationCode: () => 'A00001',
    newRrn: () => String(++sequence).padStart(12, '0'),
    velocity: new VelocityIndex(),
  })
  return store.runBatch(work)
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tollgate-risk-store-'))
  store = openSqliteStore({ path: join(dir, 'tollgate.db') })
})

afterEach(async () => {
  await store.close()
  await rm(dir, { recursive: true, force: true })
})

describe('risk rules in SQLite', () => {
  it('keeps every version, accepts only the next one, and audits each', async () => {
    expect((await store.risk.putRule(rule(1), audit('risk_rule.create'))).ok).toBe(true)
    expect(await store.risk.putRule(rule(1), audit('risk_rule.create'))).toMatchObject({
      ok: false,
      code: 'conflict',
    })
    expect(await store.risk.putRule(rule(3), audit('risk_rule.update'))).toMatchObject({
      ok: false,
      code: 'conflict',
    })
    expect((await store.risk.putRule(rule(2, { status: 'active' }), audit('x'))).ok).toBe(true)
    expect((await store.risk.ruleHistory('big_amount')).map((r) => r.version)).toEqual([1, 2])
    expect(await store.risk.listRules()).toMatchObject([{ version: 2, status: 'active' }])
    const audits = await store.listAudit({ limit: 50, cursor: null })
    expect(audits.items.filter((a) => a.action.startsWith('risk_rule'))).toHaveLength(1)
  })

  it('bounds the live rules inside the write, so two activations at once cannot both pass', async () => {
    for (let i = 0; i < RULES_LIVE_MAX; i++) {
      const put = await store.risk.putRule(
        rule(1, { id: `live_${i}`, status: 'shadow' }),
        audit('risk_rule.create'),
      )
      expect(put.ok).toBe(true)
    }
    expect(
      await store.risk.putRule(rule(1, { id: 'one_too_many', status: 'active' }), audit('x')),
    ).toMatchObject({
      ok: false,
      code: 'conflict',
      message: expect.stringMatching(/at most 500/) as unknown,
    })
    // A draft may still be added, and a live rule may change while staying live.
    expect((await store.risk.putRule(rule(1, { id: 'draft' }), audit('x'))).ok).toBe(true)
    expect(
      (await store.risk.putRule(rule(2, { id: 'live_0', status: 'active' }), audit('x'))).ok,
    ).toBe(true)
  })

  it('refuses to change or delete a stored version, even by hand', () => {
    const db = new Database(join(dir, 'tollgate.db'))
    try {
      db.prepare(
        `INSERT INTO risk_rules VALUES ('r', 1, 'draft', 'n', 'amount > 1', 'block', NULL, 0, 1,
          'z', 'e', 'a', 'c', 0)`,
      ).run()
      expect(() => db.prepare("UPDATE risk_rules SET expression = 'true'").run()).toThrow(
        /never change/,
      )
      expect(() => db.prepare('DELETE FROM risk_rules').run()).toThrow(/kept/)
    } finally {
      db.close()
    }
  })

  it('a batch sees a rule change at once: the compiled set follows the generation', async () => {
    await world()
    expect((await run(NOW, [purchase('000001', 200_000)]))[0]).toMatchObject({
      transaction: { outcome: 'approved' },
    })
    await store.risk.putRule(rule(1, { status: 'active' }), audit('risk_rule.create'))
    expect((await run(NOW + 1, [purchase('000002', 200_000)]))[0]).toMatchObject({
      transaction: { outcome: 'declined', reason: 'suspected_fraud' },
    })
    await store.risk.putSettings(
      { reviewScore: 10, blockScore: 20, scoreBlockReason: 'do_not_honour', onRuleError: 'block' },
      audit('risk_settings.update'),
    )
    expect(await store.risk.getSettings()).toMatchObject({ blockScore: 20, onRuleError: 'block' })
    await store.risk.putRule(rule(2, { status: 'disabled' }), audit('risk_rule.status'))
    expect((await run(NOW + 2, [purchase('000003', 200_000)]))[0]).toMatchObject({
      transaction: { outcome: 'approved' },
    })
  })
})

describe('velocity history, replay and first-seen', () => {
  it('gives the attempts of a period in time order, and pages a replay', async () => {
    await world()
    await run(NOW, [purchase('000001', 1_000), purchase('000002', 2_000)])
    await run(NOW + 60_000, [purchase('000003', 99_999_999)])
    const collect = async (from: number, to: number) => {
      const seen: VelocityEvent[] = []
      await store.risk.velocityEvents(from, to, (event) => seen.push(event))
      return seen
    }
    const events = await collect(NOW - 1, NOW + 120_000)
    expect(events.map((e) => [e.amountMinor, e.declined])).toEqual([
      [1_000, false],
      [2_000, false],
      [99_999_999, true],
    ])
    expect(await collect(NOW + 1, NOW + 2)).toEqual([])
    const first = await store.risk.replayPage(NOW, NOW + 120_000, null, 2)
    expect(first.items.map((t) => t.amountMinor)).toEqual([1_000, 2_000])
    const second = await store.risk.replayPage(NOW, NOW + 120_000, first.nextCursor, 2)
    expect(second.items.map((t) => t.amountMinor)).toEqual([99_999_999])
    expect(second.nextCursor).toBeNull()
    await expect(store.risk.replayPage(NOW, NOW + 1, 'bogus', 2)).rejects.toMatchObject({
      code: 'invalid_cursor',
    })
  })

  it('remembers when a card was first seen, once', async () => {
    await world()
    await run(NOW, [purchase('000001', 1_000)])
    await run(NOW + 5_000, [purchase('000002', 1_000)])
    const db = new Database(join(dir, 'tollgate.db'), { readonly: true })
    try {
      expect(db.prepare('SELECT * FROM card_first_seen').all()).toEqual([
        { card_token: 'tok_risk', first_seen_ms: NOW },
      ])
    } finally {
      db.close()
    }
  })
})

const OPEN = { status: 'open', claimedBy: null } as const
const CLAIMED_BY_ANA = { status: 'claimed', claimedBy: 'ana' } as const

describe('the review queue in SQLite', () => {
  it('claims with a status check, resolves with a list entry, and pages', async () => {
    await world()
    await store.risk.putRule(
      rule(1, { status: 'active', action: 'review', reason: null }),
      audit('risk_rule.create'),
    )
    const [result] = await run(NOW, [purchase('000001', 200_000)])
    if (result?.type !== 'decided') throw new Error('decided')
    const item = await store.risk.getReview(result.transaction.id)
    expect(item).toMatchObject({
      status: 'open',
      decidedBy: 'rule',
      cardMasked: expect.any(String) as unknown,
    })
    if (item === null) throw new Error('review item')
    const claimed = { ...item, status: 'claimed' as const, claimedBy: 'ana', claimedAtMs: NOW }
    expect((await store.risk.updateReview(claimed, OPEN, null, audit('review.claim'))).ok).toBe(
      true,
    )
    expect(await store.risk.updateReview(claimed, OPEN, null, audit('review.claim'))).toMatchObject(
      {
        ok: false,
        code: 'conflict',
        message: expect.stringMatching(/claimed by ana/) as unknown,
      },
    )
    // A stale release by someone else (who read it before ana claimed it) does not apply.
    const stale = { ...claimed, status: 'open' as const, claimedBy: null, claimedAtMs: null }
    expect(
      await store.risk.updateReview(
        stale,
        { status: 'claimed', claimedBy: 'bob' },
        null,
        audit('x'),
      ),
    ).toMatchObject({ ok: false, code: 'conflict' })
    const resolved = {
      ...claimed,
      status: 'resolved' as const,
      resolution: 'fraud' as const,
      resolutionNote: 'cardholder confirmed',
      resolvedBy: 'ana',
      resolvedAtMs: NOW + 1,
    }
    const entry = {
      id: 'li_fraud',
      list: 'block' as const,
      kind: 'card' as const,
      value: 'tok_risk',
      display: item.cardMasked ?? '',
      note: 'fraud confirmed in review',
      expiresAtMs: null,
      createdBy: 'ana',
      createdAtMs: NOW + 1,
    }
    expect(
      (await store.risk.updateReview(resolved, CLAIMED_BY_ANA, entry, audit('review.resolve'))).ok,
    ).toBe(true)
    expect((await store.listListEntries({ limit: 10, cursor: null })).items).toMatchObject([
      { id: 'li_fraud', list: 'block' },
    ])
    expect(await store.risk.listReviews({ limit: 10, cursor: null, status: 'open' })).toEqual({
      items: [],
      nextCursor: null,
    })
    expect((await store.risk.listReviews({ limit: 10, cursor: null })).items).toHaveLength(1)
  })
})

describe('the risk_control migration', () => {
  it('keeps the block-list entries of a version-1 database and widens the list names', () => {
    const path = join(dir, 'old.db')
    const db = new Database(path)
    try {
      migrate(db, () => NOW, MIGRATIONS.slice(0, 1))
      db.prepare(
        `INSERT INTO list_entries VALUES ('li_1', 'block', 'merchant', '898310054110001',
          '898310054110001', 'fraud ring', NULL, 'ops', 1)`,
      ).run()
      migrate(db, () => NOW)
      expect(db.prepare('SELECT id, list, note FROM list_entries').all()).toEqual([
        { id: 'li_1', list: 'block', note: 'fraud ring' },
      ])
      db.prepare(
        `INSERT INTO list_entries VALUES ('li_2', 'allow', 'card', 'tok', 'x', 'vip', NULL, 'ops', 1)`,
      ).run()
      expect(() =>
        db
          .prepare(
            `INSERT INTO list_entries VALUES ('li_3', 'grey', 'card', 'tok', 'x', 'n', NULL, 'o', 1)`,
          )
          .run(),
      ).toThrow(/CHECK/)
    } finally {
      db.close()
    }
  })
})
