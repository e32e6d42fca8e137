import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { toTransaction, type TransactionRow } from '../../src/adapters/store/sqlite/rows.js'
import { maskPan } from '../../src/core/card.js'
import { REASON_CATALOGUE } from '../../src/core/reasons/catalogue.js'
import type { ReasonCode } from '../../src/core/reasons/codes.js'
import {
  freshRuleId,
  putLiveRule,
  putSettings,
  setRuleStatus,
  auditOf,
  type RuleBody,
  type RuleInput,
} from '../support/risk.js'
import {
  api,
  authorizeBody,
  createCard,
  createShop,
  evidenceOf,
  openDatabaseReadOnly,
  startTestServer,
  type Api,
  type ApiResponse,
  type DecisionBody,
  type Explanation,
  type ProblemBody,
  type TerminalRef,
  type TestCard,
  type TestServer,
} from '../support/server.js'

/**
 * What risk rules do to real authorizations over HTTP: block, shadow, review (and the review
 * queue that follows), score, rule errors and velocity. Every rule is scoped to a shop made for
 * its test (`terminal_id == "…"`), so rules never reach another test's sales; each test leaves
 * its rules disabled and the settings as they were.
 */

let server: TestServer
let client: Api
let admin: Api
/** Rules a test made live; disabled after it. */
let live: RuleBody[] = []

beforeAll(async () => {
  server = await startTestServer()
  client = api(server.url)
  admin = api(server.url, server.adminToken)
})

afterEach(async () => {
  for (const rule of live) await setRuleStatus(admin, rule, 'disabled', 'e2e: test over')
  live = []
  await putSettings(admin, {})
})

afterAll(async () => {
  await server.close()
})

const as = (actor: string) => ({ headers: { 'x-tollgate-actor': actor } })

async function liveRule(
  shop: TerminalRef,
  input: Omit<RuleInput, 'id' | 'expression'> & { readonly when: string; readonly id?: string },
  status: 'active' | 'shadow' = 'active',
): Promise<RuleBody> {
  const { when, ...rest } = input
  const rule = await putLiveRule(
    admin,
    { id: freshRuleId(), ...rest, expression: `terminal_id == "${shop.id}" && ${when}` },
    status,
  )
  live.push(rule)
  return rule
}

function buy(
  shop: TerminalRef,
  card: TestCard,
  amount: string,
): Promise<ApiResponse<DecisionBody>> {
  return client.post<DecisionBody>(
    '/v1/authorizations',
    authorizeBody({ terminal: shop, card, amount }),
  )
}

function expectApproved(answer: ApiResponse<DecisionBody>): void {
  expect(answer.status, answer.text).toBe(201)
  expect(answer.body.approved, answer.text).toBe(true)
  expect(answer.body.responseCode).toBe('00')
}

function expectDeclined(answer: ApiResponse<DecisionBody>, code: ReasonCode): void {
  expect(answer.status, answer.text).toBe(201)
  expect(answer.body.approved, answer.text).toBe(false)
  expect(answer.body.reason).toEqual({ code, family: REASON_CATALOGUE[code].family })
  expect(answer.body.responseCode).toBe(REASON_CATALOGUE[code].isoCode)
}

interface StoredCheck {
  readonly stage: string
  readonly name: string
  readonly status: string
  readonly reason?: string
  readonly evidence?: Record<string, unknown>
}

/** The checks stored with a transaction, from the database file (what was recorded). */
function storedChecks(transactionId: string): StoredCheck[] {
  const db = openDatabaseReadOnly(server.dataDir)
  try {
    // Read as the store reads them: the stored form of checks is the store's own (rows.ts).
    const rows = db.all<TransactionRow>('SELECT * FROM transactions WHERE id = ?', transactionId)
    expect(rows).toHaveLength(1)
    return rows[0] === undefined ? [] : [...toTransaction(rows[0]).checks]
  } finally {
    db.close()
  }
}

function riskCheck(transactionId: string, name: string): StoredCheck | undefined {
  return storedChecks(transactionId).find((c) => c.stage === 'risk' && c.name === name)
}

/** The operator's explanation: staff, with the administrator's token. */
async function explanation(id: string, lang: 'en' | 'zh-CN'): Promise<Explanation> {
  const answer = await admin.get<Explanation>(`/v1/transactions/${id}/explanation?lang=${lang}`)
  expect(answer.status).toBe(200)
  return answer.body
}

interface ReviewBody {
  readonly transactionId: string
  readonly status: string
  readonly decidedBy: string
  readonly ruleHits: string
  readonly score: number
  readonly card: { readonly masked: string; readonly token: string } | null
  readonly amount: string
  readonly claimedBy: string | null
  readonly resolution: string | null
  readonly resolutionNote: string | null
  readonly resolvedBy: string | null
}

interface ListEntryBody {
  readonly id: string
  readonly list: string
  readonly kind: string
  readonly value: string
  readonly display: string
  readonly note: string
  readonly expiresAt: string | null
  readonly createdBy: string
}

/** The review item of a transaction, or null when it was not queued. */
async function reviewOf(transactionId: string): Promise<ReviewBody | null> {
  const answer = await admin.get<{ review: ReviewBody }>(`/v1/risk/reviews/${transactionId}`)
  if (answer.status === 404) return null
  expect(answer.status, answer.text).toBe(200)
  return answer.body.review
}

async function reviewsWith(status: string): Promise<ReviewBody[]> {
  const answer = await admin.get<{ items: ReviewBody[] }>(
    `/v1/risk/reviews?status=${status}&limit=500`,
  )
  expect(answer.status).toBe(200)
  return answer.body.items
}

describe('block rules', () => {
  it('declines with the rule reason and explains the rule to staff, not to the cardholder', async () => {
    const shop = await createShop(server)
    const card = await createCard(server, 'debit', '5000.00')
    const rule = await liveRule(shop, {
      when: 'amount >= 50000 && card_count_1h < 5',
      action: 'block',
      reason: 'transaction_not_permitted',
      name: 'Large sale at the test shop',
      description: {
        'zh-CN': '测试商户单笔大额交易，疑似套现',
        en: 'A large single sale at the test shop, a cash-out pattern',
      },
    })
    expect(rule.version).toBe(2)

    expectApproved(await buy(shop, card, '499.99'))
    const blocked = await buy(shop, card, '500.00')
    expectDeclined(blocked, 'transaction_not_permitted')
    expect(blocked.text).not.toContain(card.pan)

    for (const lang of ['en', 'zh-CN'] as const) {
      const explained = await explanation(blocked.body.transactionId, lang)
      expect(explained.reason?.code).toBe('transaction_not_permitted')
      const evidence = evidenceOf(explained)
      expect(evidence).toMatchObject({
        riskRuleId: rule.id,
        ruleVersion: '2',
        expression: rule.expression,
        'f.amount': '500.00 CNY',
        'f.terminal_id': shop.id,
        'f.card_count_1h': '1',
      })
      const values = Object.values(evidence)
      const other = lang === 'en' ? 'zh-CN' : 'en'
      expect(values).toContain(rule.description[lang])
      expect(values).not.toContain(rule.description[other])
      const cardholder = explained.remediation?.cardholder ?? ''
      expect(cardholder).toBe(
        REASON_CATALOGUE.transaction_not_permitted.remediation.cardholder[lang],
      )
      for (const secret of [rule.id, rule.name, rule.expression, rule.description[lang]])
        expect(cardholder).not.toContain(secret)
      expect(explained.checks).toContainEqual(
        expect.objectContaining({ stage: 'risk', name: 'rules', status: 'fail' }),
      )
    }
  })

  it('runs only the newest version: a disabled rule declines nothing', async () => {
    const shop = await createShop(server)
    const card = await createCard(server, 'debit', '500.00')
    const rule = await liveRule(shop, { when: 'amount > 0', action: 'block' })
    expectDeclined(await buy(shop, card, '1.00'), 'suspected_fraud')
    live = [await setRuleStatus(admin, rule, 'disabled')]
    expectApproved(await buy(shop, card, '1.00'))
  })
})

describe('shadow rules', () => {
  it('never change a decision, but their hits are recorded', async () => {
    const shop = await createShop(server)
    const card = await createCard(server, 'debit', '500.00')
    const rule = await liveRule(shop, { when: 'amount >= 1000', action: 'block' }, 'shadow')
    const answer = await buy(shop, card, '20.00')
    expectApproved(answer)
    const shadow = riskCheck(answer.body.transactionId, 'shadow_rules')
    expect(shadow).toMatchObject({ status: 'skip' })
    expect(String(shadow?.evidence?.shadowHits)).toContain(`${rule.id}@v${rule.version} block`)
    expect(riskCheck(answer.body.transactionId, 'rules')).toMatchObject({ status: 'pass' })
    const explained = await explanation(answer.body.transactionId, 'en')
    expect(explained.outcome).toBe('approved')
    expect(explained.checks).toContainEqual(
      expect.objectContaining({ stage: 'risk', name: 'shadow_rules', status: 'skip' }),
    )
    // The operator sees the shadow hit over HTTP; the merchant's answer does not.
    expect(explained.risk?.evidence).toContainEqual(
      expect.objectContaining({
        key: 'shadowHits',
        value: expect.stringContaining(`${rule.id}@v${rule.version}`) as unknown,
      }),
    )
    expect(answer.text).not.toContain(rule.id)
    // Below its threshold a shadow rule is false: nothing is recorded.
    const small = await buy(shop, card, '5.00')
    expectApproved(small)
    expect(riskCheck(small.body.transactionId, 'shadow_rules')).toBeUndefined()
  })
})

describe('review rules and the review queue', () => {
  it('approves and opens an item; claim, release and resolve as fraud block the card', async () => {
    const shop = await createShop(server)
    const card = await createCard(server, 'debit', '5000.00')
    const rule = await liveRule(shop, { when: 'amount >= 20000', action: 'review' })
    const answer = await buy(shop, card, '300.00')
    expectApproved(answer)
    const txid = answer.body.transactionId
    const item = await reviewOf(txid)
    expect(item).toMatchObject({
      status: 'open',
      decidedBy: 'rule',
      amount: '300.00',
      card: { masked: maskPan(card.pan), token: card.token },
      claimedBy: null,
    })
    expect(item?.ruleHits).toContain(`${rule.id}@v${rule.version} review`)
    const small = await buy(shop, card, '10.00')
    expectApproved(small)
    expect(await reviewOf(small.body.transactionId)).toBeNull()

    const detail = await admin.get<{
      review: ReviewBody
      transaction: { id: string }
      explanation: Explanation
    }>(`/v1/risk/reviews/${txid}?lang=zh-CN`)
    expect(detail.status).toBe(200)
    expect(detail.body.review.transactionId).toBe(txid)
    expect(detail.body.transaction.id).toBe(txid)
    expect(detail.body.explanation).toMatchObject({ lang: 'zh-CN', outcome: 'approved' })
    expect(detail.text).not.toContain(card.pan)

    const path = `/v1/risk/reviews/${txid}`
    const claim = await admin.post<ReviewBody>(`${path}/claim`, {}, as('alice'))
    expect(claim.status, claim.text).toBe(200)
    expect(claim.body).toMatchObject({ status: 'claimed', claimedBy: 'alice' })
    expect((await admin.post<ReviewBody>(`${path}/claim`, {}, as('alice'))).status).toBe(200)
    const stolen = await admin.post<ProblemBody>(`${path}/claim`, {}, as('bob'))
    expect(stolen.status).toBe(409)
    expect(stolen.body.detail).toContain('claimed by alice')
    const foreignRelease = await admin.post<ProblemBody>(`${path}/release`, {}, as('bob'))
    expect(foreignRelease.status).toBe(409)
    expect(foreignRelease.body.detail).toContain('claimed by alice')
    const release = await admin.post<ReviewBody>(`${path}/release`, { note: 'lunch' }, as('alice'))
    expect(release.status).toBe(200)
    expect(release.body).toMatchObject({ status: 'open', claimedBy: null })
    const unclaimed = await admin.post<ProblemBody>(
      `${path}/resolve`,
      { resolution: 'fraud', note: 'x' },
      as('alice'),
    )
    expect(unclaimed.status).toBe(409)
    expect((await admin.post(`${path}/claim`, {}, as('bob'))).status).toBe(200)
    const notMine = await admin.post<ProblemBody>(
      `${path}/resolve`,
      { resolution: 'fraud', note: 'x' },
      as('alice'),
    )
    expect(notMine.status).toBe(409)
    expect(notMine.body.detail).toContain('claimed by bob')
    const noNote = await admin.post<ProblemBody>(
      `${path}/resolve`,
      { resolution: 'fraud' },
      as('bob'),
    )
    expect(noNote.status).toBe(400)
    expect(noNote.body.errors).toEqual([expect.objectContaining({ field: 'note' })])

    const resolved = await admin.post<{ review: ReviewBody; listEntry: ListEntryBody }>(
      `${path}/resolve`,
      { resolution: 'fraud', note: 'cardholder confirmed the card was cloned' },
      as('bob'),
    )
    expect(resolved.status, resolved.text).toBe(200)
    expect(resolved.body.review).toMatchObject({
      status: 'resolved',
      resolution: 'fraud',
      resolutionNote: 'cardholder confirmed the card was cloned',
      resolvedBy: 'bob',
    })
    expect(resolved.body.listEntry).toMatchObject({
      list: 'block',
      kind: 'card',
      value: card.token,
      display: maskPan(card.pan),
      expiresAt: null,
      createdBy: 'bob',
    })
    expect(resolved.body.listEntry.note).toContain('cardholder confirmed the card was cloned')
    expect(resolved.body.listEntry.note).toContain(txid)
    expect(resolved.text).not.toContain(card.pan)
    const again = await admin.post<ProblemBody>(
      `${path}/resolve`,
      { resolution: 'genuine', note: 'x' },
      as('bob'),
    )
    expect(again.status).toBe(409)
    expect(await reviewOf(txid)).toMatchObject({ status: 'resolved', resolvedBy: 'bob' })

    const lists = await admin.get<{ items: ListEntryBody[] }>('/v1/lists?limit=500')
    expect(lists.body.items).toContainEqual(
      expect.objectContaining({ id: resolved.body.listEntry.id, list: 'block' }),
    )
    // The block list applies everywhere, not only at the shop the rule watches.
    const next = await client.post<DecisionBody>(
      '/v1/authorizations',
      authorizeBody({ terminal: 'grocery', card, amount: '5.00' }),
    )
    expectDeclined(next, 'card_blocked')

    const audit = await auditOf(admin, txid)
    expect(audit.map((a) => [a.action, a.actor])).toEqual([
      ['risk_review.claim', 'alice'],
      ['risk_review.release', 'alice'],
      ['risk_review.claim', 'bob'],
      ['risk_review.resolve', 'bob'],
    ])
    expect(audit[3]?.detail).toMatchObject({
      resolution: 'fraud',
      note: 'cardholder confirmed the card was cloned',
      listEntryId: resolved.body.listEntry.id,
    })
  })

  it('resolving as genuine puts the card on the allow list: it skips the active rules', async () => {
    const shop = await createShop(server)
    const card = await createCard(server, 'debit', '5000.00')
    const other = await createCard(server, 'debit', '5000.00')
    await liveRule(shop, { when: 'amount >= 20000', action: 'review', priority: 10 })
    const answer = await buy(shop, card, '200.00')
    expectApproved(answer)
    const path = `/v1/risk/reviews/${answer.body.transactionId}`
    expect((await admin.post(`${path}/claim`, {}, as('carol'))).status).toBe(200)
    const expiresAtMs = Date.now() + 86_400_000
    const resolved = await admin.post<{ listEntry: ListEntryBody }>(
      `${path}/resolve`,
      {
        resolution: 'genuine',
        note: 'regular customer, called back',
        listExpiresAtMs: expiresAtMs,
      },
      as('carol'),
    )
    expect(resolved.status, resolved.text).toBe(200)
    expect(resolved.body.listEntry).toMatchObject({
      list: 'allow',
      value: card.token,
      expiresAt: new Date(expiresAtMs).toISOString(),
    })

    await liveRule(shop, { when: 'amount > 0', action: 'block', priority: 20 })
    expectDeclined(await buy(shop, other, '10.00'), 'suspected_fraud')
    const allowed = await buy(shop, card, '300.00')
    expectApproved(allowed)
    expect(riskCheck(allowed.body.transactionId, 'rules')?.evidence).toMatchObject({
      decidedBy: 'allow_list',
      'f.on_allow_list': true,
    })
    expect(await reviewOf(allowed.body.transactionId)).toBeNull()
  })

  it('refuses a list expiry in the past and leaves the item claimed', async () => {
    const shop = await createShop(server)
    const card = await createCard(server, 'debit', '500.00')
    await liveRule(shop, { when: 'amount > 0', action: 'review' })
    const answer = await buy(shop, card, '10.00')
    const path = `/v1/risk/reviews/${answer.body.transactionId}`
    await admin.post(`${path}/claim`, {})
    const past = await admin.post<ProblemBody>(`${path}/resolve`, {
      resolution: 'fraud',
      note: 'x',
      listExpiresAtMs: 1_000,
    })
    expect(past.status).toBe(400)
    expect(past.body.errors).toEqual([expect.objectContaining({ field: 'listExpiresAtMs' })])
    const item = await admin.get<{ review: ReviewBody }>(path)
    expect(item.body.review).toMatchObject({ status: 'claimed', claimedBy: 'admin' })
    expect(
      (await admin.get<ProblemBody>('/v1/risk/reviews/tx_00000000000000000000000000')).status,
    ).toBe(404)
  })
})

describe('the review queue listing', () => {
  it('lists items by status, oldest first, in pages', async () => {
    const shop = await createShop(server)
    const card = await createCard(server, 'debit', '500.00')
    await liveRule(shop, { when: 'amount > 0', action: 'review' })
    const ids: string[] = []
    for (const amount of ['1.00', '2.00', '3.00']) {
      const answer = await buy(shop, card, amount)
      expectApproved(answer)
      ids.push(answer.body.transactionId)
    }
    const open = await reviewsWith('open')
    expect(open.map((r) => r.transactionId).filter((id) => ids.includes(id))).toEqual(ids)
    expect(open.every((r) => r.status === 'open')).toBe(true)

    const seen: string[] = []
    let cursor: string | null = null
    for (let pages = 0; pages < 100; pages++) {
      const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`
      const page = await admin.get<{ items: ReviewBody[]; nextCursor: string | null }>(
        `/v1/risk/reviews?status=open&limit=1${query}`,
      )
      expect(page.status, page.text).toBe(200)
      expect(page.body.items.length).toBeLessThanOrEqual(1)
      seen.push(...page.body.items.map((r) => r.transactionId))
      cursor = page.body.nextCursor
      if (cursor === null) break
    }
    expect(seen).toEqual(open.map((r) => r.transactionId))

    expect((await admin.post(`/v1/risk/reviews/${ids[1]}/claim`, {}, as('dave'))).status).toBe(200)
    const claimed = await reviewsWith('claimed')
    expect(claimed.map((r) => r.transactionId)).toContain(ids[1])
    expect((await reviewsWith('open')).map((r) => r.transactionId)).not.toContain(ids[1])
    const all = await admin.get<{ items: ReviewBody[] }>('/v1/risk/reviews?limit=500')
    expect(all.body.items.map((r) => r.transactionId)).toEqual(expect.arrayContaining(ids))
    const bad = await admin.get<ProblemBody>('/v1/risk/reviews?status=pending&cursor=zz')
    expect(bad.status).toBe(400)
    expect(bad.body.errors).toEqual([expect.objectContaining({ field: 'status' })])
    const cursorBad = await admin.get<ProblemBody>('/v1/risk/reviews?cursor=not-a-cursor')
    expect(cursorBad.status).toBe(400)
    expect(cursorBad.body.errors).toEqual([expect.objectContaining({ field: 'cursor' })])
  })
})

describe('score rules and settings', () => {
  it('blocks with scoreBlockReason when the points reach blockScore, reviews above reviewScore', async () => {
    await putSettings(admin, {
      reviewScore: 50,
      blockScore: 100,
      scoreBlockReason: 'do_not_honour',
    })
    const shop = await createShop(server)
    const card = await createCard(server, 'debit', '5000.00')
    await liveRule(shop, { when: 'amount >= 10000', action: 'score', score: 60 })
    await liveRule(shop, { when: 'is_round_amount', action: 'score', score: 50 })

    const both = await buy(shop, card, '100.00')
    expectDeclined(both, 'do_not_honour')
    expect(evidenceOf(await explanation(both.body.transactionId, 'en'))).toMatchObject({
      decidedBy: expect.any(String) as unknown,
      score: '110',
      blockScore: '100',
      'f.amount': '100.00 CNY',
      'f.is_round_amount': 'yes',
    })
    const one = await buy(shop, card, '150.00')
    expectApproved(one)
    expect(riskCheck(one.body.transactionId, 'rules')?.evidence).toMatchObject({
      decidedBy: 'score',
      score: 60,
    })
    expect(await reviewOf(one.body.transactionId)).toMatchObject({
      status: 'open',
      decidedBy: 'score',
      score: 60,
    })
    const none = await buy(shop, card, '50.00')
    expectApproved(none)
    expect(await reviewOf(none.body.transactionId)).toBeNull()
  })

  it('a rule failing at run time: ignore approves and records it, block declines', async () => {
    const shop = await createShop(server)
    const card = await createCard(server, 'debit', '500.00')
    const rule = await liveRule(shop, {
      when: 'amount / (card_count_10m - card_count_10m) > 1',
      action: 'block',
      reason: 'transaction_not_permitted',
    })
    await putSettings(admin, { onRuleError: 'ignore' })
    const ignored = await buy(shop, card, '10.00')
    expectApproved(ignored)
    const evidence = riskCheck(ignored.body.transactionId, 'rules')?.evidence
    expect(String(evidence?.ruleErrors)).toContain(`${rule.id}@v${rule.version}`)

    await putSettings(admin, { onRuleError: 'block' })
    const blocked = await buy(shop, card, '10.00')
    expectDeclined(blocked, 'transaction_not_permitted')
    // The answer to the merchant carries no rule internals; the operator's explanation does.
    expect(evidenceOf(blocked.body.explanation)).not.toHaveProperty('riskRuleId')
    expect(evidenceOf(await explanation(blocked.body.transactionId, 'en'))).toMatchObject({
      riskRuleId: rule.id,
    })
    expect(riskCheck(blocked.body.transactionId, 'rules')?.evidence).toMatchObject({
      decidedBy: 'rule_error',
    })
  })
})

describe('velocity', () => {
  it('counts a card across requests: the first two pass, the third is blocked', async () => {
    const shop = await createShop(server)
    const card = await createCard(server, 'debit', '500.00')
    const other = await createCard(server, 'debit', '500.00')
    await liveRule(shop, { when: 'card_count_10m >= 2', action: 'block', reason: 'do_not_honour' })
    expectApproved(await buy(shop, card, '10.00'))
    expectApproved(await buy(shop, card, '11.00'))
    const third = await buy(shop, card, '12.00')
    expectDeclined(third, 'do_not_honour')
    const explained = await explanation(third.body.transactionId, 'en')
    expect(evidenceOf(explained)).toMatchObject({ 'f.card_count_10m': '2' })
    expectApproved(await buy(shop, other, '10.00'))
  })
})

describe('who may read rule internals', () => {
  it('without the token an explanation is the merchant view, and audience=operator is refused', async () => {
    const shop = await createShop(server)
    const card = await createCard(server, 'debit', '5000.00')
    await liveRule(shop, { when: 'amount == 77700', action: 'block', reason: 'suspected_fraud' })
    const blocked = await buy(shop, card, '777.00')
    expectDeclined(blocked, 'suspected_fraud')
    const path = `/v1/transactions/${blocked.body.transactionId}/explanation`
    const anonymous = await client.get<Explanation & { audience: string }>(path)
    expect(anonymous.status).toBe(200)
    expect(anonymous.body.audience).toBe('merchant')
    expect(evidenceOf(anonymous.body)).not.toHaveProperty('riskRuleId')
    expect((await client.get(`${path}?audience=operator`)).status).toBe(401)
    expect(evidenceOf(await explanation(blocked.body.transactionId, 'en'))).toHaveProperty(
      'riskRuleId',
    )
  })
})
