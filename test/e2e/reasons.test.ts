import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEMO_UNKNOWN_PAN } from '../../src/app/demo-data.js'
import { maskPan } from '../../src/core/card.js'
import { REASON_CATALOGUE } from '../../src/core/reasons/catalogue.js'
import { REASON_CODES, type ReasonCode } from '../../src/core/reasons/codes.js'
import type { Lang } from '../../src/core/reasons/types.js'
import {
  api,
  authorizeBody,
  call,
  cardAccount,
  createCard,
  createShop,
  DEMO_CARDS,
  DEMO_MERCHANTS,
  DEMO_TERMINALS,
  evidenceOf,
  freshStan,
  snapshotDatabase,
  startTestServer,
  type Api,
  type ApiResponse,
  type AuthorizeOptions,
  type DecisionBody,
  type Explanation,
  type ProblemBody,
  type TerminalRef,
  type TestCard,
  type TestServer,
  type TransactionBody,
} from '../support/server.js'
import { putLiveRule, setRuleStatus } from '../support/risk.js'

/**
 * Every reason the pipeline can give, triggered over real HTTP against one demo server: the
 * status, the response code, the reason and its family, the explanation's text in English and
 * Chinese (it must be the catalogue's), the remediation for each audience, and the evidence
 * values that decided it.
 */

let server: TestServer
let client: Api
let admin: Api
/** Every reason some test saw; the last test checks that none was forgotten. */
const seen = new Set<ReasonCode>()

beforeAll(async () => {
  server = await startTestServer()
  client = api(server.url)
  admin = api(server.url, server.adminToken)
})

afterAll(async () => {
  await server.close()
})

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

type Answer = ApiResponse<DecisionBody>
type Headers = Record<string, string>
type FollowUpPath = 'completions' | 'voids' | 'reversals' | 'refunds'

interface StoredExplanation extends Explanation {
  readonly transactionId: string
  readonly transaction: TransactionBody
}

function authorize(options: AuthorizeOptions, headers: Headers = {}): Promise<Answer> {
  return client.post<DecisionBody>('/v1/authorizations', authorizeBody(options), { headers })
}

function preauthorize(card: TestCard, amount: string): Promise<Answer> {
  return authorize({ terminal: 'hotel', card, amount, kind: 'preauthorization' })
}

function followUp(id: string, path: FollowUpPath, body: object = {}): Promise<Answer> {
  return client.post<DecisionBody>(`/v1/transactions/${id}/${path}`, body)
}

async function transaction(id: string): Promise<TransactionBody> {
  const answer = await client.get<TransactionBody>(`/v1/transactions/${id}`)
  expect(answer.status).toBe(200)
  return answer.body
}

async function available(card: TestCard): Promise<string> {
  return (await cardAccount(server, card.token)).available
}

/** The explanation is the catalogue's entry for `code`, in `lang`. */
function expectCatalogueExplanation(
  explanation: Explanation | undefined,
  code: ReasonCode,
  lang: Lang,
  outcome: 'declined' | 'rejected',
): void {
  const entry = REASON_CATALOGUE[code]
  expect(explanation).toBeDefined()
  expect(explanation?.lang).toBe(lang)
  expect(explanation?.outcome).toBe(outcome)
  expect(explanation?.title).toBe(entry.title[lang])
  expect(explanation?.summary).toBe(entry.explanation[lang])
  expect(explanation?.responseCode).toBe(entry.isoCode)
  expect(explanation?.reason).toMatchObject({
    code,
    family: entry.family,
    isoCode: entry.isoCode,
    cupCode: entry.cupCode,
  })
  expect(explanation?.remediation).toEqual({
    cardholder: entry.remediation.cardholder[lang],
    merchant: entry.remediation.merchant[lang],
    operator: entry.remediation.operator[lang],
  })
  expect(explanation?.retry?.kind).toBe(entry.retry.kind)
}

/** A stored decline: 201, not approved, the catalogue's code, reason and English text. */
function expectDeclined(answer: Answer, code: ReasonCode): Record<string, string> {
  const entry = REASON_CATALOGUE[code]
  expect(answer.status, answer.text).toBe(201)
  expect(answer.body.approved).toBe(false)
  expect(answer.body.responseCode).toBe(entry.isoCode)
  expect(answer.body.reason).toEqual({ code, family: entry.family })
  expect(answer.body.replayed).toBe(false)
  expect(answer.body).not.toHaveProperty('authorizationCode')
  expectCatalogueExplanation(answer.body.explanation, code, 'en', 'declined')
  seen.add(code)
  return evidenceOf(answer.body.explanation)
}

/** The stored explanation of a decline, asked for in Chinese with ?lang=zh-CN. */
async function expectChinese(id: string, code: ReasonCode): Promise<Record<string, string>> {
  const path = `/v1/transactions/${id}/explanation?lang=zh-CN`
  // The support desk's view (with the token): rule internals included.
  const answer = await admin.get<StoredExplanation>(path)
  expect(answer.status).toBe(200)
  expect(answer.body.transactionId).toBe(id)
  expectCatalogueExplanation(answer.body, code, 'zh-CN', 'declined')
  return evidenceOf(answer.body)
}

/** An approval: 201, response code 00, an authorization code, no reason. */
function expectApproved(answer: Answer, kind: DecisionBody['kind'], amount: string): void {
  expect(answer.status, answer.text).toBe(201)
  expect(answer.body.approved).toBe(true)
  expect(answer.body.responseCode).toBe('00')
  expect(answer.body.authorizationCode).toMatch(/^[0-9A-Z]{6}$/)
  expect(answer.body).not.toHaveProperty('reason')
  expect(answer.body.kind).toBe(kind)
  expect(answer.body.amount).toBe(amount)
  expect(answer.body.currency).toBe('CNY')
  expect(answer.body.replayed).toBe(false)
  expect(answer.body.explanation.outcome).toBe('approved')
  expect(answer.body.explanation.remediation).toBeNull()
}

type Send = (headers: Headers) => Promise<ApiResponse<ProblemBody>>

/**
 * A rejection: the status, problem+json with the reason, its response code and explanation in
 * the asked language, and nothing persisted (row counts and every account's totals unchanged).
 * The request is sent twice: in English, then with `Accept-Language: zh-CN`.
 */
async function expectRejected(send: Send, status: number, code: ReasonCode): Promise<ProblemBody> {
  const before = snapshotDatabase(server.dataDir)
  const english = await send({})
  const chinese = await send({ 'accept-language': 'zh-CN' })
  expect(snapshotDatabase(server.dataDir)).toEqual(before)
  const entry = REASON_CATALOGUE[code]
  for (const [answer, lang] of [
    [english, 'en'],
    [chinese, 'zh-CN'],
  ] as const) {
    expect(answer.status, answer.text).toBe(status)
    expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(answer.body.status).toBe(status)
    expect(answer.body.reason).toEqual({ code, family: entry.family })
    expect(answer.body.responseCode).toBe(entry.isoCode)
    expectCatalogueExplanation(answer.body.explanation, code, lang, 'rejected')
  }
  seen.add(code)
  return english.body
}

const rejectAuthorization =
  (options: AuthorizeOptions): Send =>
  (headers) =>
    client.post<ProblemBody>('/v1/authorizations', authorizeBody(options), { headers })

// ---------------------------------------------------------------------------------------------
// Approvals
// ---------------------------------------------------------------------------------------------

describe('approvals', () => {
  it('approves a purchase and debits the card once', async () => {
    const card = await createCard(server, 'debit', '500.00')
    const answer = await authorize({ terminal: 'noodles', card, amount: '88.00' })
    expectApproved(answer, 'purchase', '88.00')
    expect(answer.body.rrn).toMatch(/^[0-9A-Za-z]{12}$/)
    expect(answer.body.explanation.title).toBe('Purchase approved')
    expect(evidenceOf(answer.body.explanation)).toMatchObject({
      amount: '88.00 CNY',
      available: '500.00 CNY',
    })
    expect(answer.text).not.toContain(card.pan)
    expect(await available(card)).toBe('412.00')
    expect(await transaction(answer.body.transactionId)).toMatchObject({
      outcome: 'approved',
      lifecycle: 'posted',
      card: { masked: maskPan(card.pan), last4: card.pan.slice(-4) },
    })
  })

  it('answers in Chinese when asked with ?lang=zh-CN or Accept-Language', async () => {
    const card = await createCard(server, 'debit', '100.00')
    const body = authorizeBody({ card, amount: '1.00' })
    const byQuery = await client.post<DecisionBody>('/v1/authorizations?lang=zh-CN', body)
    expect(byQuery.status).toBe(201)
    expect(byQuery.body.explanation).toMatchObject({ lang: 'zh-CN', title: '消费成功' })
    const zh = { 'accept-language': 'zh-CN,zh;q=0.9' }
    const byHeader = await authorize({ card, amount: '1.00' }, zh)
    expect(byHeader.body.explanation).toMatchObject({ lang: 'zh-CN', title: '消费成功' })
    const english = await authorize({ card, amount: '1.00' }, { 'accept-language': 'en-US' })
    expect(english.body.explanation).toMatchObject({ lang: 'en', title: 'Purchase approved' })
  })

  it('approves a preauthorization as a hold on the credit line', async () => {
    const card = await createCard(server, 'credit', '5000.00')
    const answer = await preauthorize(card, '1200.00')
    expectApproved(answer, 'preauthorization', '1200.00')
    expect(await available(card)).toBe('3800.00')
    expect((await transaction(answer.body.transactionId)).lifecycle).toBe('held')
  })

  it('completes a preauthorization partly and releases the rest of the hold', async () => {
    const card = await createCard(server, 'credit', '5000.00')
    const hold = await preauthorize(card, '1200.00')
    expect(await available(card)).toBe('3800.00')
    const completion = await followUp(hold.body.transactionId, 'completions', { amount: '980.00' })
    expectApproved(completion, 'completion', '980.00')
    expect(await available(card)).toBe('4020.00')
    expect(await transaction(hold.body.transactionId)).toMatchObject({
      lifecycle: 'completed',
      completedAmount: '980.00',
    })
  })

  it('voids a purchase: the money is back, and a second void replays the first', async () => {
    const card = await createCard(server, 'debit', '300.00')
    const sale = await authorize({ card, amount: '100.00' })
    expect(await available(card)).toBe('200.00')
    const voided = await followUp(sale.body.transactionId, 'voids')
    expectApproved(voided, 'void', '100.00')
    expect(await available(card)).toBe('300.00')
    expect((await transaction(sale.body.transactionId)).lifecycle).toBe('voided')
    const again = await followUp(sale.body.transactionId, 'voids')
    expect(again.status).toBe(200)
    expect(again.body).toMatchObject({
      transactionId: voided.body.transactionId,
      replayed: true,
      approved: true,
    })
    expect(await available(card)).toBe('300.00')
  })

  it('reverses a purchase exactly once: a second reversal replays the first', async () => {
    const card = await createCard(server, 'debit', '300.00')
    const sale = await authorize({ card, amount: '120.00' })
    expect(await available(card)).toBe('180.00')
    const reversal = await followUp(sale.body.transactionId, 'reversals')
    expectApproved(reversal, 'reversal', '120.00')
    expect(await available(card)).toBe('300.00')
    const again = await followUp(sale.body.transactionId, 'reversals')
    expect(again.status).toBe(200)
    expect(again.body).toMatchObject({
      transactionId: reversal.body.transactionId,
      replayed: true,
      approved: true,
    })
    expect(await available(card)).toBe('300.00')
    expect((await transaction(sale.body.transactionId)).lifecycle).toBe('reversed')
  })

  it('refunds part of a purchase, then declines a refund above what is left', async () => {
    const card = await createCard(server, 'debit', '300.00')
    const sale = await authorize({ card, amount: '100.00' })
    const refund = await followUp(sale.body.transactionId, 'refunds', { amount: '40.00' })
    expectApproved(refund, 'refund', '40.00')
    expect(await available(card)).toBe('240.00')
    expect((await transaction(sale.body.transactionId)).refundedAmount).toBe('40.00')

    const over = await followUp(sale.body.transactionId, 'refunds', { amount: '100.00' })
    expect(expectDeclined(over, 'original_amount_exceeded')).toMatchObject({
      originalId: sale.body.transactionId,
      originalAmount: '100.00 CNY',
      requested: '100.00 CNY',
      remaining: '60.00 CNY',
    })
    await expectChinese(over.body.transactionId, 'original_amount_exceeded')
    expect(await available(card)).toBe('240.00')
  })

  it('answers a balance inquiry with the available balance', async () => {
    const card = await createCard(server, 'debit', '321.09')
    const answer = await authorize({ terminal: 'grocery', card, kind: 'balance_inquiry' })
    expectApproved(answer, 'balance_inquiry', '0.00')
    expect(answer.body.balance).toBe('321.09')
    expect(evidenceOf(answer.body.explanation)).toMatchObject({
      available: '321.09 CNY',
      balance: '321.09 CNY',
    })
    expect(await available(card)).toBe('321.09')
  })

  it('answers a retransmission with the original answer and never holds twice', async () => {
    const card = await createCard(server, 'debit', '300.00')
    const body = authorizeBody({ card, amount: '50.00', transmissionTime: '0612103000' })
    const first = await client.post<DecisionBody>('/v1/authorizations', body)
    expectApproved(first, 'purchase', '50.00')
    const rows = snapshotDatabase(server.dataDir).counts
    const second = await client.post<DecisionBody>('/v1/authorizations', body)
    expect(second.status).toBe(200)
    expect(second.body).toMatchObject({
      transactionId: first.body.transactionId,
      replayed: true,
      approved: true,
      authorizationCode: first.body.authorizationCode,
    })
    expect(snapshotDatabase(server.dataDir).counts).toEqual(rows)
    expect(await available(card)).toBe('250.00')
  })

  it('replays a repeated Idempotency-Key with the same body', async () => {
    const card = await createCard(server, 'debit', '300.00')
    const body = authorizeBody({ card, amount: '70.00' })
    const headers = { 'idempotency-key': `same-key-${freshStan()}` }
    const first = await client.post<DecisionBody>('/v1/authorizations', body, { headers })
    const second = await client.post<DecisionBody>('/v1/authorizations', body, { headers })
    expect(first.status).toBe(201)
    expect(second.status).toBe(200)
    expect(second.body).toMatchObject({ transactionId: first.body.transactionId, replayed: true })
    expect(await available(card)).toBe('230.00')
  })
})

// ---------------------------------------------------------------------------------------------
// Declines that need nothing but the demo data
// ---------------------------------------------------------------------------------------------

interface DemoDecline {
  readonly code: ReasonCode
  readonly options: AuthorizeOptions
  /** Evidence values in English… */
  readonly evidence: Record<string, string>
  /** …and some in Chinese, where the value itself is translated. */
  readonly evidenceZh?: Record<string, string>
}

const LISTS = {
  card: 'Chargeback fraud reported by the issuer (case 2026-1107)',
  bin: 'Compromised BIN range under investigation',
  merchant: 'Cash-out (套现) pattern confirmed by risk review',
  terminal: 'Terminal reported stolen from the hotel lobby',
}

const DEMO_DECLINES: readonly DemoDecline[] = [
  {
    code: 'insufficient_funds',
    options: { terminal: 'grocery', card: 'lowBalance', amount: '120.00' },
    evidence: {
      amount: '120.00 CNY',
      available: '30.00 CNY',
      balance: '30.00 CNY',
      holds: '0.00 CNY',
    },
  },
  {
    code: 'credit_limit_exceeded',
    options: { terminal: 'grocery', card: 'smallCredit', amount: '1500.00' },
    evidence: {
      amount: '1500.00 CNY',
      available: '1000.00 CNY',
      creditLimit: '1000.00 CNY',
      creditUsed: '0.00 CNY',
    },
  },
  {
    code: 'transaction_amount_limit_exceeded',
    options: { terminal: 'noodles', card: 'debit', amount: '2500.00' },
    evidence: {
      ruleId: 'lim_demo_noodles_single',
      scope: 'merchant',
      limit: '2000.00 CNY',
      amount: '2500.00 CNY',
    },
  },
  {
    code: 'card_blocked',
    options: { terminal: 'noodles', card: 'listed', amount: '50.00' },
    evidence: {
      listEntryId: 'le_demo_card',
      listKind: 'card',
      listed: maskPan(DEMO_CARDS.listed.pan),
      note: LISTS.card,
    },
  },
  {
    code: 'bin_blocked',
    options: { terminal: 'noodles', card: 'binListed', amount: '50.00' },
    evidence: { listEntryId: 'le_demo_bin', listKind: 'BIN', listed: '622588', note: LISTS.bin },
  },
  {
    code: 'merchant_blocked',
    options: { terminal: 'listed', card: 'debit', amount: '50.00' },
    evidence: {
      listEntryId: 'le_demo_merchant',
      listKind: 'merchant',
      listed: DEMO_MERCHANTS.listed.id,
      note: LISTS.merchant,
    },
  },
  {
    code: 'terminal_blocked',
    options: { terminal: 'hotelListed', card: 'debit', amount: '50.00' },
    evidence: {
      listEntryId: 'le_demo_terminal',
      listKind: 'terminal',
      listed: DEMO_TERMINALS.hotelListed.id,
      note: LISTS.terminal,
    },
  },
  {
    code: 'merchant_pending_audit',
    options: { terminal: 'gifts', card: 'debit', amount: '30.00' },
    evidence: { merchantId: DEMO_MERCHANTS.gifts.id, merchantStatus: 'pending audit' },
    evidenceZh: { merchantStatus: '待审核' },
  },
  {
    code: 'merchant_suspended',
    options: { terminal: 'fuel', card: 'debit', amount: '300.00' },
    evidence: { merchantId: DEMO_MERCHANTS.fuel.id, merchantStatus: 'suspended' },
    evidenceZh: { merchantStatus: '已暂停' },
  },
  {
    code: 'merchant_restricted',
    options: { terminal: 'digital', card: 'debit', amount: '300.00' },
    evidence: { merchantId: DEMO_MERCHANTS.digital.id, merchantStatus: 'restricted' },
    evidenceZh: { merchantStatus: '受限' },
  },
  {
    code: 'terminal_inactive',
    options: { terminal: 'noodlesOld', card: 'debit', amount: '20.00' },
    evidence: { terminalId: DEMO_TERMINALS.noodlesOld.id, terminalStatus: 'inactive' },
    evidenceZh: { terminalStatus: '停用' },
  },
  {
    code: 'terminal_merchant_mismatch',
    options: { terminal: 'noodles', merchantId: DEMO_MERCHANTS.grocery.id, amount: '20.00' },
    evidence: {
      terminalId: DEMO_TERMINALS.noodles.id,
      boundMerchantId: DEMO_MERCHANTS.noodles.id,
      merchantId: DEMO_MERCHANTS.grocery.id,
    },
  },
  {
    code: 'card_not_permitted_at_merchant',
    options: { terminal: 'remit', card: 'credit', amount: '500.00' },
    evidence: { mcc: '4829', cardType: 'credit' },
    evidenceZh: { cardType: '贷记卡' },
  },
  {
    code: 'card_lost',
    options: { terminal: 'noodles', card: 'lost', amount: '20.00' },
    evidence: { card: maskPan(DEMO_CARDS.lost.pan), cardStatus: 'reported lost' },
    evidenceZh: { cardStatus: '已挂失' },
  },
  {
    code: 'card_stolen',
    options: { terminal: 'noodles', card: 'stolen', amount: '20.00' },
    evidence: { card: maskPan(DEMO_CARDS.stolen.pan), cardStatus: 'reported stolen' },
    evidenceZh: { cardStatus: '被盗' },
  },
  {
    code: 'card_inactive',
    options: { terminal: 'noodles', card: 'inactive', amount: '20.00' },
    evidence: { card: maskPan(DEMO_CARDS.inactive.pan), cardStatus: 'inactive' },
  },
  {
    code: 'expired_card',
    options: { terminal: 'noodles', card: 'expired', amount: '20.00' },
    evidence: { expiry: '2301' },
  },
  {
    code: 'expiry_mismatch',
    options: { terminal: 'noodles', card: 'debit', amount: '20.00', expiry: '2701' },
    evidence: { card: maskPan(DEMO_CARDS.debit.pan), cardStatus: 'active' },
  },
  {
    code: 'card_not_found',
    options: { card: { pan: DEMO_UNKNOWN_PAN, expiry: '3012' }, amount: '20.00' },
    evidence: { card: maskPan(DEMO_UNKNOWN_PAN) },
  },
  {
    code: 'currency_mismatch',
    options: { terminal: 'noodles', card: 'debit', amount: '20.00', currency: 'USD' },
    evidence: { transactionCurrency: 'USD', accountCurrency: 'CNY' },
  },
]

function panOf(options: AuthorizeOptions): string {
  const card = options.card ?? 'debit'
  return typeof card === 'object' ? card.pan : DEMO_CARDS[card].pan
}

describe('declines from the demo data', () => {
  it.each(DEMO_DECLINES)('$code', async ({ code, options, evidence, evidenceZh }) => {
    const answer = await authorize(options)
    expect(expectDeclined(answer, code)).toMatchObject(evidence)
    const zh = await expectChinese(answer.body.transactionId, code)
    if (evidenceZh !== undefined) expect(zh).toMatchObject(evidenceZh)
    expect(answer.text).not.toContain(panOf(options))
  })

  it('shows the month an expired card was compared with', async () => {
    const answer = await authorize({ terminal: 'noodles', card: 'expired', amount: '20.00' })
    const today = expectDeclined(answer, 'expired_card').today
    expect(today).toMatch(/^20\d\d-(0[1-9]|1[0-2])$/)
    expect(today! > '2023-01').toBe(true)
  })

  it('does not echo either expiry when the keyed expiry does not match the card', async () => {
    const answer = await authorize({ card: 'debit', amount: '20.00', expiry: '2701' })
    const values = Object.values(expectDeclined(answer, 'expiry_mismatch'))
    expect(values).not.toContain('2701')
    expect(values).not.toContain(DEMO_CARDS.debit.expiry)
  })

  it('labels evidence in Chinese for Accept-Language: zh-CN', async () => {
    const answer = await authorize({ terminal: 'grocery', card: 'lowBalance', amount: '120.00' })
    const path = `/v1/transactions/${answer.body.transactionId}/explanation`
    const headers = { 'accept-language': 'zh-CN' }
    const stored = await client.get<StoredExplanation>(path, { headers })
    expect(stored.body.title).toBe(REASON_CATALOGUE.insufficient_funds.title['zh-CN'])
    expect(stored.body.evidence).toContainEqual({
      key: 'available',
      label: '可用金额',
      value: '30.00 CNY',
    })
  })
})

// ---------------------------------------------------------------------------------------------
// Limit declines
// ---------------------------------------------------------------------------------------------

async function addLimit(body: Record<string, unknown>): Promise<string> {
  const rule = { currency: 'CNY', note: 'e2e test limit', ...body }
  const created = await admin.post<{ id: string }>('/v1/limits', rule)
  expect(created.status, created.text).toBe(201)
  return created.body.id
}

interface LimitedShop {
  readonly shop: TerminalRef
  readonly ruleId: string
  readonly card: TestCard
}

/** A new shop with one limit rule on its merchant or terminal, and a new debit card. */
async function limitedShop(scope: 'merchant' | 'terminal', limit: object): Promise<LimitedShop> {
  const shop = await createShop(server)
  const entityId = scope === 'merchant' ? shop.merchantId : shop.id
  const ruleId = await addLimit({ scope, entityId, ...limit })
  const card = await createCard(server, 'debit', '1000.00')
  return { shop, ruleId, card }
}

async function approveTimes(times: number, options: AuthorizeOptions): Promise<void> {
  for (let n = 1; n <= times; n += 1) {
    expectApproved(await authorize(options), 'purchase', options.amount ?? '10.00')
  }
}

describe('limit declines', () => {
  it("card_daily_amount_limit_exceeded: the credit cards' daily amount", async () => {
    const shop = await createShop(server)
    const card = await createCard(server, 'credit', '50000.00')
    await approveTimes(1, { terminal: shop, card, amount: '3000.00' })
    const answer = await authorize({ terminal: shop, card, amount: '8000.00' })
    expect(expectDeclined(answer, 'card_daily_amount_limit_exceeded')).toMatchObject({
      ruleId: 'lim_demo_credit_daily',
      limit: '10000.00 CNY',
      usedToday: '3000.00 CNY',
      remaining: '7000.00 CNY',
      amount: '8000.00 CNY',
    })
    await expectChinese(answer.body.transactionId, 'card_daily_amount_limit_exceeded')
  })

  it('card_daily_count_limit_exceeded: the 4th payment on a card limited to 3 a day', async () => {
    const coffee = { terminal: 'grocery', card: 'counted', amount: '9.00' } as const
    await approveTimes(3, coffee)
    const answer = await authorize(coffee)
    expect(expectDeclined(answer, 'card_daily_count_limit_exceeded')).toMatchObject({
      ruleId: 'lim_demo_card_count',
      countLimit: '3',
      countToday: '3',
    })
    await expectChinese(answer.body.transactionId, 'card_daily_count_limit_exceeded')
  })

  // Acquirer limits added through the API: make the day's usage, then one payment too many.
  const ACQUIRER_LIMITS = [
    {
      name: 'merchant_daily_amount_limit_exceeded: a merchant limit added through the API',
      reason: 'merchant_daily_amount_limit_exceeded',
      scope: 'merchant',
      limit: { dailyAmountMax: '100.00' },
      used: '60.00',
      amount: '50.00',
      evidence: {
        scope: 'merchant',
        limit: '100.00 CNY',
        usedToday: '60.00 CNY',
        remaining: '40.00 CNY',
        amount: '50.00 CNY',
      },
    },
    {
      name: 'merchant_daily_count_limit_exceeded',
      reason: 'merchant_daily_count_limit_exceeded',
      scope: 'merchant',
      limit: { dailyCountMax: 2 },
      used: ['5.00', '5.00'],
      amount: '5.00',
      evidence: { countLimit: '2', countToday: '2' },
    },
    {
      name: 'terminal_daily_amount_limit_exceeded',
      reason: 'terminal_daily_amount_limit_exceeded',
      scope: 'terminal',
      limit: { dailyAmountMax: '200.00' },
      used: '150.00',
      amount: '50.01',
      evidence: {
        scope: 'terminal',
        limit: '200.00 CNY',
        usedToday: '150.00 CNY',
        remaining: '50.00 CNY',
        amount: '50.01 CNY',
      },
    },
    {
      name: 'terminal_daily_count_limit_exceeded',
      reason: 'terminal_daily_count_limit_exceeded',
      scope: 'terminal',
      limit: { dailyCountMax: 1 },
      used: ['5.00'],
      amount: '5.00',
      evidence: { countLimit: '1', countToday: '1' },
    },
  ] as const

  it.each(ACQUIRER_LIMITS)('$name', async (c) => {
    const { shop, ruleId, card } = await limitedShop(c.scope, c.limit)
    for (const amount of typeof c.used === 'string' ? [c.used] : c.used) {
      await approveTimes(1, { terminal: shop, card, amount })
    }
    const answer = await authorize({ terminal: shop, card, amount: c.amount })
    expect(expectDeclined(answer, c.reason)).toMatchObject({ ruleId, ...c.evidence })
    await expectChinese(answer.body.transactionId, c.reason)
  })

  it('gives the room back to the daily limit when a sale is voided', async () => {
    const { shop, card } = await limitedShop('terminal', { dailyAmountMax: '100.00' })
    const sale = await authorize({ terminal: shop, card, amount: '100.00' })
    expectApproved(sale, 'purchase', '100.00')
    const over = await authorize({ terminal: shop, card, amount: '1.00' })
    expectDeclined(over, 'terminal_daily_amount_limit_exceeded')
    expectApproved(await followUp(sale.body.transactionId, 'voids'), 'void', '100.00')
    await approveTimes(1, { terminal: shop, card, amount: '1.00' })
  })
})

// ---------------------------------------------------------------------------------------------
// Follow-up declines
// ---------------------------------------------------------------------------------------------

describe('follow-up declines', () => {
  it('original_not_eligible: a completion of a purchase', async () => {
    const card = await createCard(server, 'debit', '100.00')
    const sale = await authorize({ card, amount: '10.00' })
    const answer = await followUp(sale.body.transactionId, 'completions', { amount: '10.00' })
    expect(expectDeclined(answer, 'original_not_eligible')).toMatchObject({
      originalId: sale.body.transactionId,
      originalKind: 'purchase',
      originalState: 'posted',
      originalAmount: '10.00 CNY',
    })
    await expectChinese(answer.body.transactionId, 'original_not_eligible')
    expect(await available(card)).toBe('90.00')
  })

  it('original_not_eligible: a second completion of a completed preauthorization', async () => {
    const card = await createCard(server, 'credit', '1000.00')
    const hold = await preauthorize(card, '500.00')
    const completion = await followUp(hold.body.transactionId, 'completions', { amount: '500.00' })
    expectApproved(completion, 'completion', '500.00')
    const answer = await followUp(hold.body.transactionId, 'completions', { amount: '100.00' })
    expect(expectDeclined(answer, 'original_not_eligible')).toMatchObject({
      originalKind: 'preauthorization',
      originalState: 'completed',
    })
    expect(await available(card)).toBe('500.00')
  })

  it('original_amount_exceeded: a completion above the hold', async () => {
    const card = await createCard(server, 'credit', '5000.00')
    const hold = await preauthorize(card, '1000.00')
    const answer = await followUp(hold.body.transactionId, 'completions', { amount: '1500.00' })
    expect(expectDeclined(answer, 'original_amount_exceeded')).toMatchObject({
      requested: '1500.00 CNY',
      remaining: '1000.00 CNY',
      originalKind: 'preauthorization',
      originalState: 'held',
    })
    expect(await available(card)).toBe('4000.00')
    expect((await transaction(hold.body.transactionId)).lifecycle).toBe('held')
  })

  // void_window_closed needs the business day to change between a sale and its void; a real
  // server on the system clock cannot be moved to tomorrow here. The core simulation covers it.
})

// ---------------------------------------------------------------------------------------------
// Risk rule declines: a rule made through the API, scoped to a shop of its own
// ---------------------------------------------------------------------------------------------

describe('risk rule declines', () => {
  const RISK_DECLINES: readonly { code: ReasonCode; reason?: string }[] = [
    { code: 'suspected_fraud' }, // a block rule's default reason
    { code: 'do_not_honour', reason: 'do_not_honour' },
    { code: 'transaction_not_permitted', reason: 'transaction_not_permitted' },
  ]

  it.each(RISK_DECLINES)('$code', async ({ code, reason }) => {
    const shop = await createShop(server)
    const card = await createCard(server, 'debit', '1000.00')
    const rule = await putLiveRule(admin, {
      id: `reasons_${code}`,
      expression: `terminal_id == "${shop.id}" && amount >= 30000`,
      action: 'block',
      ...(reason === undefined ? {} : { reason }),
    })
    try {
      expectApproved(
        await authorize({ terminal: shop, card, amount: '299.99' }),
        'purchase',
        '299.99',
      )
      const answer = await authorize({ terminal: shop, card, amount: '300.00' })
      expectDeclined(answer, code)
      expect(await expectChinese(answer.body.transactionId, code)).toMatchObject({
        riskRuleId: rule.id,
        ruleVersion: String(rule.version),
        'f.amount': '300.00 CNY',
      })
      expect(await available(card)).toBe('700.01')
    } finally {
      await setRuleStatus(admin, rule, 'disabled')
    }
  })
})

// ---------------------------------------------------------------------------------------------
// Rejections: 4xx problem+json with reason and explanation, nothing persisted
// ---------------------------------------------------------------------------------------------

describe('rejections', () => {
  it('unknown_terminal (422)', async () => {
    const terminal = { id: 'ZZ999999', merchantId: DEMO_MERCHANTS.noodles.id }
    const problem = await expectRejected(rejectAuthorization({ terminal }), 422, 'unknown_terminal')
    expect(problem.code).toBe('unknown_terminal')
    expect(evidenceOf(problem.explanation)).toEqual({ terminalId: 'ZZ999999' })
  })

  it('unknown_merchant (422)', async () => {
    const send = rejectAuthorization({ terminal: 'noodles', merchantId: '999999999999999' })
    const problem = await expectRejected(send, 422, 'unknown_merchant')
    expect(problem.code).toBe('unknown_merchant')
    expect(evidenceOf(problem.explanation)).toEqual({ merchantId: '999999999999999' })
  })

  it('invalid_card_number (400): a card number that fails the Luhn check', async () => {
    const pan = DEMO_CARDS.debit.pan.slice(0, -1) + '9'
    const send = rejectAuthorization({ card: { pan, expiry: '3012' } })
    const problem = await expectRejected(send, 400, 'invalid_card_number')
    expect(problem.errors).toContainEqual(
      expect.objectContaining({ field: 'card.pan', code: 'pan_luhn' }),
    )
    expect(JSON.stringify(problem)).not.toContain(pan)
  })

  it('invalid_amount (400): a zero amount', async () => {
    const send = rejectAuthorization({ amount: '0.00' })
    const problem = await expectRejected(send, 400, 'invalid_amount')
    expect(problem.errors).toContainEqual(
      expect.objectContaining({ field: 'amount', message: 'expected an amount greater than zero' }),
    )
  })

  it('unsupported_currency (400)', async () => {
    const send = rejectAuthorization({ currency: 'XXX' })
    const problem = await expectRejected(send, 400, 'unsupported_currency')
    expect(problem.errors).toContainEqual(expect.objectContaining({ field: 'currency' }))
  })

  it('format_error (400): a STAN that is not 6 digits', async () => {
    const problem = await expectRejected(rejectAuthorization({ stan: '12ab' }), 400, 'format_error')
    expect(problem.errors).toEqual([
      expect.objectContaining({ field: 'stan', message: 'expected 6 digits' }),
    ])
  })

  it('original_not_found (404)', async () => {
    const id = 'tx_00000000000000000000000000'
    const send: Send = (headers) =>
      client.post<ProblemBody>(`/v1/transactions/${id}/voids`, {}, { headers })
    const problem = await expectRejected(send, 404, 'original_not_found')
    expect(problem.code).toBe('original_not_found')
    expect(evidenceOf(problem.explanation)).toEqual({ originalId: id })
  })

  it('duplicate_mismatch (409): the same Idempotency-Key with a different body', async () => {
    const card = await createCard(server, 'debit', '100.00')
    const key = { 'idempotency-key': `e2e-idem-${freshStan()}` }
    const body = authorizeBody({ card, amount: '10.00' })
    const first = await client.post<DecisionBody>('/v1/authorizations', body, { headers: key })
    expect(first.status).toBe(201)
    const changed = authorizeBody({ card, amount: '11.00' })
    const send: Send = (headers) =>
      client.post<ProblemBody>('/v1/authorizations', changed, { headers: { ...headers, ...key } })
    const problem = await expectRejected(send, 409, 'duplicate_mismatch')
    expect(evidenceOf(problem.explanation)).toMatchObject({
      originalTransactionId: first.body.transactionId,
    })
    expect(await available(card)).toBe('90.00')
  })

  it('duplicate_mismatch (409): the same terminal, STAN and time, another amount', async () => {
    const card = await createCard(server, 'debit', '100.00')
    const key = { stan: freshStan(), transmissionTime: '0612110000' }
    const first = await authorize({ card, amount: '10.00', ...key })
    expect(first.status).toBe(201)
    const send = rejectAuthorization({ card, amount: '10.01', ...key })
    const problem = await expectRejected(send, 409, 'duplicate_mismatch')
    expect(evidenceOf(problem.explanation)).toMatchObject({
      originalTransactionId: first.body.transactionId,
    })
    expect(await available(card)).toBe('90.00')
  })
})

// ---------------------------------------------------------------------------------------------
// Finding transactions
// ---------------------------------------------------------------------------------------------

interface Page {
  readonly items: TransactionBody[]
  readonly nextCursor: string | null
}

describe('GET /v1/transactions', () => {
  let shop: TerminalRef
  let card: TestCard
  const made: TransactionBody[] = []

  const find = async (query: string): Promise<Page> => {
    const answer = await client.get<Page>(`/v1/transactions?${query}`)
    expect(answer.status, answer.text).toBe(200)
    return answer.body
  }
  const ids = (page: Page): string[] => page.items.map((item) => item.id).sort()
  const idsOf = (...indexes: number[]): string[] => indexes.map((i) => made[i]!.id).sort()
  const ALL = [0, 1, 2, 3]

  beforeAll(async () => {
    shop = await createShop(server)
    card = await createCard(server, 'debit', '100.00')
    for (const amount of ['12.34', '20.00', '30.00', '9999.00']) {
      const answer = await authorize({ terminal: shop, card, amount })
      expect(answer.status).toBe(201)
      made.push(await transaction(answer.body.transactionId))
    }
    const outcomes = made.map((t) => t.outcome)
    expect(outcomes).toEqual(['approved', 'approved', 'approved', 'declined'])
  })

  it('filters by terminal and by merchant', async () => {
    expect(ids(await find(`terminalId=${shop.id}`))).toEqual(idsOf(...ALL))
    expect(ids(await find(`merchantId=${shop.merchantId}`))).toEqual(idsOf(...ALL))
    const other = DEMO_TERMINALS.fuel.id
    expect((await find(`terminalId=${other}&merchantId=${shop.merchantId}`)).items).toEqual([])
  })

  it('filters by outcome and reason', async () => {
    expect(ids(await find(`terminalId=${shop.id}&outcome=declined`))).toEqual(idsOf(3))
    expect(ids(await find(`terminalId=${shop.id}&outcome=approved`))).toEqual(idsOf(0, 1, 2))
    expect(ids(await find(`terminalId=${shop.id}&reason=insufficient_funds`))).toEqual(idsOf(3))
    const all = await find('reason=insufficient_funds&limit=500')
    expect(all.items.every((t) => t.reason?.code === 'insufficient_funds')).toBe(true)
    expect(all.items.map((t) => t.id)).toContain(made[3]!.id)
  })

  it('filters by card last 4, amount, STAN and RRN', async () => {
    const last4 = card.pan.slice(-4)
    const byCard = await find(`cardLast4=${last4}&limit=500`)
    expect(byCard.items.every((t) => t.card?.last4 === last4)).toBe(true)
    expect(byCard.items.map((t) => t.id)).toEqual(expect.arrayContaining(idsOf(...ALL)))
    expect(ids(await find(`terminalId=${shop.id}&amount=12.34`))).toEqual(idsOf(0))
    expect(ids(await find(`stan=${made[1]!.stan}`))).toEqual(idsOf(1))
    expect(ids(await find(`rrn=${made[2]!.rrn}`))).toEqual(idsOf(2))
  })

  it('filters by time: from is inclusive, to is exclusive', async () => {
    const first = made[0]!.createdAt!
    const after = new Date(Date.parse(made[3]!.createdAt!) + 1).toISOString()
    const within = await find(`terminalId=${shop.id}&from=${first}&to=${after}`)
    expect(ids(within)).toEqual(idsOf(...ALL))
    expect((await find(`terminalId=${shop.id}&from=${after}`)).items).toEqual([])
    expect((await find(`terminalId=${shop.id}&to=${first}`)).items).toEqual([])
  })

  it('pages with nextCursor without losing or repeating rows', async () => {
    const first = await find(`terminalId=${shop.id}&limit=3`)
    expect(first.items).toHaveLength(3)
    expect(first.nextCursor).toEqual(expect.any(String))
    const cursor = encodeURIComponent(first.nextCursor!)
    const second = await find(`terminalId=${shop.id}&limit=3&cursor=${cursor}`)
    expect(second.items).toHaveLength(1)
    expect(second.nextCursor).toBeNull()
    expect([...ids(first), ...ids(second)].sort()).toEqual(idsOf(...ALL))
  })

  it('explains a stored transaction in Chinese', async () => {
    const id = made[3]!.id
    const path = `/v1/transactions/${id}/explanation?lang=zh-CN`
    const answer = await client.get<StoredExplanation>(path)
    expect(answer.status).toBe(200)
    expect(answer.body.title).toBe('余额不足')
    expect(answer.body.summary).toBe(REASON_CATALOGUE.insufficient_funds.explanation['zh-CN'])
    expect(answer.body.summary).toMatch(/[\u4e00-\u9fff]/)
    expect(answer.body.transaction.id).toBe(id)
    expect(answer.text).not.toContain(card.pan)
  })
})

// ---------------------------------------------------------------------------------------------
// Catalogue, documents, operations and authentication
// ---------------------------------------------------------------------------------------------

interface ReasonList {
  readonly lang: string
  readonly items: { readonly code: string; readonly isoCode: string; readonly title: string }[]
}

interface OpenApi {
  readonly openapi: string
  readonly info: { readonly title: string; readonly version: string }
  readonly paths: Record<string, Record<string, unknown>>
}

interface LedgerCheck {
  readonly balanced: boolean
  readonly accountsOutOfBound: string[]
}

describe('catalogue, documents and operations', () => {
  it('lists every reason in GET /v1/reasons, in the asked language', async () => {
    const answer = await client.get<ReasonList>('/v1/reasons?lang=zh-CN')
    expect(answer.status).toBe(200)
    expect(answer.body.lang).toBe('zh-CN')
    expect(answer.body.items.length).toBeGreaterThanOrEqual(30)
    expect(answer.body.items.map((item) => item.code)).toEqual([...REASON_CODES])
    const funds = answer.body.items.find((item) => item.code === 'insufficient_funds')
    expect(funds).toMatchObject({ isoCode: '51', title: '余额不足' })
  })

  it('serves an OpenAPI 3.1 document with the authorization path', async () => {
    const answer = await client.get<OpenApi>('/openapi.json')
    expect(answer.status).toBe(200)
    expect(answer.body.openapi).toMatch(/^3\.1\.\d+$/)
    expect(answer.body.info.version).toEqual(expect.any(String))
    expect(answer.body.paths['/v1/authorizations']?.post).toBeDefined()
    expect(answer.body.paths['/v1/transactions/{id}/explanation']?.get).toBeDefined()
  })

  it('answers /healthz and /readyz', async () => {
    expect((await client.get('/healthz')).body).toEqual({ status: 'ok' })
    const ready = await client.get<{ status: string }>('/readyz')
    expect(ready.status).toBe(200)
    expect(ready.body.status).toBe('ready')
  })

  it('counts decisions in /metrics after traffic', async () => {
    await authorize({ terminal: 'grocery', card: 'lowBalance', amount: '120.00' })
    const answer = await client.get('/metrics')
    expect(answer.status).toBe(200)
    expect(answer.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(answer.text).toMatch(/^tollgate_decisions_total\{[^}]*\} [1-9]\d*$/m)
    expect(answer.text).toMatch(/tollgate_decisions_total\{[^}]*insufficient_funds[^}]*\} [1-9]/)
    // The batch worker's commits were made durable by the main thread's log sync.
    expect(answer.text).toMatch(/^tollgate_log_sync_seconds_count [1-9]\d*$/m)
    expect(answer.text).toMatch(/^tollgate_log_sync_batches_count [1-9]\d*$/m)
  })

  it('names the administrator of every change in the audit log (X-Tollgate-Actor)', async () => {
    const as = { headers: { 'x-tollgate-actor': 'wang.fang' } }
    const id = '898990000099001'
    const created = await admin.post('/v1/merchants', { id, name: 'Audited', mcc: '5411' }, as)
    expect(created.status, created.text).toBe(201)
    const limit = await admin.post(
      '/v1/limits',
      { scope: 'merchant', entityId: id, dailyCountMax: 9 },
      as,
    )
    expect(limit.status, limit.text).toBe(201)
    // The whole log, page by page (the demo data and earlier tests wrote many entries).
    const entries: { action: string; actor: string; subject: string }[] = []
    let cursor: string | null = null
    for (let page = 0; page < 50; page++) {
      const answer: ApiResponse<{
        items: { action: string; actor: string; subject: string }[]
        nextCursor: string | null
      }> = await admin.get(
        `/v1/audit?limit=500${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
      )
      entries.push(...answer.body.items)
      cursor = answer.body.nextCursor
      if (cursor === null) break
    }
    expect(entries).toContainEqual(
      expect.objectContaining({ action: 'merchant.create', actor: 'wang.fang', subject: id }),
    )
    expect(entries).toContainEqual(
      expect.objectContaining({ action: 'limit.create', actor: 'wang.fang' }),
    )
    const bad = await admin.post(
      '/v1/merchants',
      { id: '898990000099002', name: 'x', mcc: '5411' },
      {
        headers: { 'x-tollgate-actor': 'not a name!' },
      },
    )
    expect(bad.status).toBe(400)
  })

  it('refuses administrative routes without the administrator token', async () => {
    const routes: readonly [string, string, object?][] = [
      ['GET', '/v1/cards'],
      ['GET', '/v1/merchants'],
      ['GET', '/v1/ledger/check'],
      ['GET', '/v1/audit'],
      ['POST', '/v1/limits', { scope: 'card', dailyCountMax: 1 }],
      ['POST', '/v1/lists', { kind: 'bin', value: '621226', note: 'x' }],
    ]
    const before = snapshotDatabase(server.dataDir)
    for (const [method, path, body] of routes) {
      for (const options of [{}, { token: 'wrong-token-0123456789' }]) {
        const answer = await call<ProblemBody>(server.url, method, path, body, options)
        expect(answer.status, `${method} ${path}`).toBe(401)
        expect(answer.headers.get('www-authenticate')).toBe('Bearer')
        expect(answer.body.code).toBe('unauthorized')
      }
    }
    expect(snapshotDatabase(server.dataDir)).toEqual(before)
    const lists = await admin.get<{ items: { value: string }[] }>('/v1/lists?limit=500')
    expect(lists.body.items.map((entry) => entry.value)).not.toContain('621226')
  })

  it('keeps the ledger balanced after everything above', async () => {
    const answer = await admin.get<LedgerCheck>('/v1/ledger/check')
    expect(answer.status).toBe(200)
    expect(answer.body).toMatchObject({ balanced: true, accountsOutOfBound: [] })
    // Amounts in the API are decimal strings in major units, here as everywhere.
    const cny = (
      answer.body as unknown as {
        currencies: { currency: string; debitsPosted: unknown; creditsPosted: unknown }[]
      }
    ).currencies.find((c) => c.currency === 'CNY')
    expect(cny?.debitsPosted).toMatch(/^\d+\.\d{2}$/)
    expect(cny?.debitsPosted).toBe(cny?.creditsPosted)
  })

  // Reasons no HTTP request can produce on a demo server: the network family needs an issuer
  // host or a full queue (timing), void_window_closed needs the business day to change, and
  // PINs and MACs are not on the HTTP path. The core tests cover them.
  const NOT_REACHABLE_OVER_HTTP: readonly ReasonCode[] = [
    'system_busy',
    'issuer_unavailable',
    'issuer_timeout',
    'issuer_maintenance',
    'no_route_to_issuer',
    'cutoff_in_progress',
    'transaction_kind_not_supported',
    'void_window_closed',
    'incorrect_pin',
    'pin_tries_exceeded',
    'mac_verification_failed',
    'system_error',
  ]

  // Runs last, over what the tests above recorded: run the whole file, not one test of it.
  it('covered every reason reachable over HTTP', () => {
    const expected = REASON_CODES.filter((code) => !NOT_REACHABLE_OVER_HTTP.includes(code))
    expect([...seen].sort()).toEqual([...expected].sort())
  })
})
