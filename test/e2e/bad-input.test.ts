import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  api,
  authorizeBody,
  call,
  DEMO_CARDS,
  DEMO_TERMINALS,
  freshPan,
  openDatabaseReadOnly,
  snapshotDatabase,
  startTestServer,
  type Api,
  type ApiResponse,
  type DecisionBody,
  type ProblemBody,
  type TestServer,
} from '../support/server.js'

/**
 * Bad input from outside is an expected outcome: every case below gets a clear 4xx
 * problem+json naming the field and what was expected, nothing is written (row counts and
 * every account's totals unchanged), and no answer ever carries the card number that was sent.
 */

let server: TestServer
let client: Api
let admin: Api

beforeAll(async () => {
  server = await startTestServer()
  client = api(server.url)
  admin = api(server.url, server.adminToken)
})

afterAll(async () => {
  await server.close()
})

const PAN = DEMO_CARDS.debit.pan
/** Every card number any request in this file sends; none may come back in an answer. */
const PANS_SENT = new Set<string>([PAN])

type Body = Record<string, unknown>

/** A valid purchase body with some fields replaced (or removed, with `undefined`). */
function validBody(changes: Body = {}): Body {
  const body: Body = { ...authorizeBody({ terminal: 'grocery', card: 'debit', amount: '12.50' }) }
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete body[key]
    else body[key] = value
  }
  return body
}

function withCard(pan: unknown, expiry: string = DEMO_CARDS.debit.expiry): Body {
  if (typeof pan === 'string') PANS_SENT.add(pan)
  return validBody({ card: { pan, expiry } })
}

interface Expected {
  readonly status: number
  /** The field the problem must name… */
  readonly field: string
  /** …and what its message must say was expected. */
  readonly message: RegExp
  /** The reason a terminal would be given, when the request was an authorization. */
  readonly reason?: string
}

type Send = () => Promise<ApiResponse<ProblemBody>>

/** Sends, then checks the problem, that nothing was persisted and that no PAN came back. */
async function expectProblem(send: Send, expected: Expected): Promise<ProblemBody> {
  const before = snapshotDatabase(server.dataDir)
  const answer = await send()
  expect(snapshotDatabase(server.dataDir)).toEqual(before)
  expect(answer.status, answer.text).toBe(expected.status)
  expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/)
  expect(answer.body.status).toBe(expected.status)
  expect(answer.body.type).toMatch(/^https:\/\/tollgate\.dev\/problems\//)
  const message: unknown = expect.stringMatching(expected.message)
  expect(answer.body.errors).toContainEqual(
    expect.objectContaining({ field: expected.field, message }),
  )
  if (expected.reason !== undefined) expect(answer.body.reason?.code).toBe(expected.reason)
  for (const pan of PANS_SENT) expect(answer.text).not.toContain(pan)
  return answer.body
}

const postAuthorization =
  (body: unknown, headers: Record<string, string> = {}): Send =>
  () =>
    client.post<ProblemBody>('/v1/authorizations', body, { headers })

const postAdmin =
  (path: string, body: Body): Send =>
  () =>
    admin.post<ProblemBody>(path, body)

// ---------------------------------------------------------------------------------------------
// The body as a whole
// ---------------------------------------------------------------------------------------------

describe('the shape of the body', () => {
  it('malformed JSON', async () => {
    const raw = `{"card":{"pan":"${PAN}"}, oops`
    const problem = await expectProblem(postAuthorization(raw), {
      status: 400,
      field: '(body)',
      message: /not valid JSON/,
    })
    expect(problem.code).toBe('malformed_json')
  })

  it.each([
    ['a JSON array', JSON.stringify([validBody()])],
    ['a JSON string', '"purchase"'],
    ['JSON null', 'null'],
  ])('%s instead of an object', async (_name, raw) => {
    await expectProblem(postAuthorization(raw), {
      status: 400,
      field: '(body)',
      message: /expected object/,
      reason: 'format_error',
    })
  })

  it('an empty object names every missing field', async () => {
    const problem = await expectProblem(postAuthorization({}), {
      status: 400,
      field: 'kind',
      message: /expected one of/,
    })
    const fields = (problem.errors ?? []).map((e) => e.field)
    const required = ['kind', 'terminalId', 'merchantId', 'stan', 'card', 'currency']
    expect(fields).toEqual(expect.arrayContaining(required))
  })

  it('an unknown extra field is named in errors[].field', async () => {
    await expectProblem(postAuthorization(validBody({ extra: 1 })), {
      status: 400,
      field: 'extra',
      message: /unknown field/,
      reason: 'format_error',
    })
  })

  it('an unknown field inside card (a CVV) is refused, not stored', async () => {
    const card = { pan: PAN, expiry: '3012', cvv: '123' }
    await expectProblem(postAuthorization(validBody({ card })), {
      status: 400,
      field: 'card.cvv',
      message: /unknown field/,
    })
  })

  it('a body over 16 KiB', async () => {
    const body = validBody({ pad: 'x'.repeat(17 * 1024) })
    const problem = await expectProblem(postAuthorization(body), {
      status: 413,
      field: '(body)',
      message: /at most 16384 bytes/,
    })
    expect(problem.code).toBe('body_too_large')
  })
})

// ---------------------------------------------------------------------------------------------
// Fields of an authorization
// ---------------------------------------------------------------------------------------------

/** [case, body, field, what the message says was expected, reason]; all are 400s. */
type FieldCase = readonly [string, () => Body, string, RegExp, string]

const FIELD_CASES: readonly FieldCase[] = [
  [
    'amount as a number 12.5',
    () => validBody({ amount: 12.5 }),
    'amount',
    /decimal string in major units/,
    'invalid_amount',
  ],
  [
    'stan as a number',
    () => validBody({ stan: 123456 }),
    'stan',
    /expected string/,
    'format_error',
  ],
  [
    'zero amount "0.00"',
    () => validBody({ amount: '0.00' }),
    'amount',
    /greater than zero/,
    'invalid_amount',
  ],
  [
    'negative amount "-1.00"',
    () => validBody({ amount: '-1.00' }),
    'amount',
    /decimal string in major units/,
    'invalid_amount',
  ],
  [
    'over-precise "1.234" CNY',
    () => validBody({ amount: '1.234' }),
    'amount',
    /too many decimals for CNY/,
    'invalid_amount',
  ],
  [
    'over-precise "1.5" JPY',
    () => validBody({ amount: '1.5', currency: 'JPY' }),
    'amount',
    /too many decimals for JPY/,
    'invalid_amount',
  ],
  [
    'over-range "10000000000000.00"',
    () => validBody({ amount: '10000000000000.00' }),
    'amount',
    /out of range: at most 9999999999\.99/,
    'invalid_amount',
  ],
  [
    'exponent notation "1e3"',
    () => validBody({ amount: '1e3' }),
    'amount',
    /decimal string in major units/,
    'invalid_amount',
  ],
  [
    'no amount for a purchase',
    () => validBody({ amount: undefined }),
    'amount',
    /expected an amount/,
    'invalid_amount',
  ],
  [
    'an amount on a balance inquiry',
    () => validBody({ kind: 'balance_inquiry', amount: '5.00' }),
    'amount',
    /no amount/,
    'invalid_amount',
  ],
  [
    'unknown currency "XXX"',
    () => validBody({ currency: 'XXX' }),
    'currency',
    /ISO 4217/,
    'unsupported_currency',
  ],
  [
    '20-digit card number',
    () => withCard(PAN + '0'),
    'card.pan',
    /13 to 19 digits/,
    'invalid_card_number',
  ],
  [
    'card number failing Luhn',
    () => withCard(PAN.slice(0, -1) + '9'),
    'card.pan',
    /Luhn check digit/,
    'invalid_card_number',
  ],
  [
    '12-digit card number',
    () => withCard(PAN.slice(0, 12)),
    'card.pan',
    /13 to 19 digits/,
    'invalid_card_number',
  ],
  [
    'card number as a JSON number',
    () => withCard(6212260200001234),
    'card.pan',
    /string of digits/,
    'invalid_card_number',
  ],
  ['expiry "2913" (month 13)', () => withCard(PAN, '2913'), 'card.expiry', /YYMM/, 'format_error'],
  [
    'terminal id of 7 characters',
    () => validBody({ terminalId: '1000000' }),
    'terminalId',
    /8 letters or digits/,
    'format_error',
  ],
  [
    'transmission time in month 13',
    () => validBody({ transmissionTime: '1301120000' }),
    'transmissionTime',
    /MMDDhhmmss/,
    'format_error',
  ],
  [
    'a refund sent as a new authorization',
    () => validBody({ kind: 'refund' }),
    'kind',
    /purchase.*preauthorization.*balance_inquiry/,
    'format_error',
  ],
]

describe('fields of an authorization', () => {
  it.each(FIELD_CASES)('%s', async (_name, body, field, message, reason) => {
    const problem = await expectProblem(postAuthorization(body()), {
      status: 400,
      field,
      message,
      reason,
    })
    expect(problem.code).toBe('validation_failed')
    expect(problem.explanation?.outcome).toBe('rejected')
  })

  it('an unknown terminal is a 422 with its reason and evidence', async () => {
    const before = snapshotDatabase(server.dataDir)
    const answer = await postAuthorization(validBody({ terminalId: '99999999' }))()
    expect(snapshotDatabase(server.dataDir)).toEqual(before)
    expect(answer.status).toBe(422)
    expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(answer.body).toMatchObject({
      code: 'unknown_terminal',
      reason: { code: 'unknown_terminal' },
    })
    expect(answer.body.explanation?.evidence).toContainEqual(
      expect.objectContaining({ key: 'terminalId', value: '99999999' }),
    )
    expect(answer.text).not.toContain(PAN)
  })

  it('an unknown terminal names terminalId in errors[]', async () => {
    await expectProblem(postAuthorization(validBody({ terminalId: '99999999' })), {
      status: 422,
      field: 'terminalId',
      message: /expected/,
      reason: 'unknown_terminal',
    })
  })
})

// ---------------------------------------------------------------------------------------------
// Headers, paths, queries and follow-ups
// ---------------------------------------------------------------------------------------------

describe('headers, paths and queries', () => {
  it.each([
    ['too long', 'k'.repeat(129)],
    ['with a space', 'two words'],
  ])('an Idempotency-Key %s', async (_name, key) => {
    await expectProblem(postAuthorization(validBody(), { 'idempotency-key': key }), {
      status: 400,
      field: 'Idempotency-Key',
      message: /1 to 128 visible ASCII characters/,
    })
  })

  it.each([
    ['GET', '/v1/transactions/not-a-transaction'],
    ['GET', '/v1/transactions/tx_123/explanation'],
    ['POST', '/v1/transactions/tx_0000000000000000000000000!/voids'],
    ['POST', '/v1/transactions/TX_00000000000000000000000000/refunds'],
  ])('a bad transaction id in the path: %s %s', async (method, path) => {
    const body = method === 'POST' ? {} : undefined
    await expectProblem(() => call<ProblemBody>(server.url, method, path, body), {
      status: 400,
      field: 'id',
      message: /expected a transaction id/,
    })
  })

  it.each([
    ['outcome=maybe', 'outcome', /approved.*declined/],
    ['reason=nope', 'reason', /insufficient_funds/],
    ['kind=cashback', 'kind', /purchase/],
    ['limit=0', 'limit', />=1/],
    ['limit=501', 'limit', /<=500/],
    ['limit=ten', 'limit', /number/],
    ['cardLast4=12', 'cardLast4', /4 digits/],
    ['stan=12', 'stan', /6 digits/],
    ['rrn=short', 'rrn', /12 characters/],
    ['from=yesterday', 'from', /datetime/i],
    ['to=2026-13-01T00:00:00Z', 'to', /datetime/i],
    ['terminalId=x', 'terminalId', /8 letters or digits/],
    ['amount=1.234', 'amount', /2 decimals/],
    ['amount=1.5&currency=JPY', 'amount', /digits/],
    ['currency=XXX', 'currency', /ISO 4217/],
    ['lang=fr', 'lang', /zh-CN/],
  ])('a bad filter: %s', async (query, field, message) => {
    const send = () => client.get<ProblemBody>(`/v1/transactions?${query}`)
    await expectProblem(send, { status: 400, field, message })
  })

  const followUp =
    (id: string, path: string, body: Body): Send =>
    () =>
      client.post<ProblemBody>(`/v1/transactions/${id}/${path}`, body)

  it('a bad refund amount names the field', async () => {
    const sale = await client.post<DecisionBody>('/v1/authorizations', validBody())
    expect(sale.status).toBe(201)
    const id = sale.body.transactionId
    const cases = [
      [5, /decimal string/],
      ['1.234', /2 decimals/],
      ['0', /greater than zero/],
    ] as const
    for (const [amount, message] of cases) {
      const expected = { status: 400, field: 'amount', message }
      await expectProblem(followUp(id, 'refunds', { amount }), expected)
    }
  })

  it('an amount on a void is a 400 like every other invalid amount', async () => {
    const sale = await client.post<DecisionBody>('/v1/authorizations', validBody())
    await expectProblem(followUp(sale.body.transactionId, 'voids', { amount: '1.00' }), {
      status: 400,
      field: 'amount',
      message: /no amount/,
      reason: 'invalid_amount',
    })
  })
})

// ---------------------------------------------------------------------------------------------
// Administrative bodies
// ---------------------------------------------------------------------------------------------

type AdminTable = 'cards' | 'merchants' | 'terminals' | 'limit_rules' | 'list_entries'

function countRows(table: AdminTable): number {
  const db = openDatabaseReadOnly(server.dataDir)
  try {
    return db.all<{ n: number }>(`SELECT count(*) AS n FROM ${table}`)[0]?.n ?? -1
  } finally {
    db.close()
  }
}

/** An admin request refused with `expected`, and no row added to `table`. */
async function expectAdminProblem(table: AdminTable, send: Send, expected: Expected) {
  const rows = countRows(table)
  await expectProblem(send, expected)
  expect(countRows(table)).toBe(rows)
}

function newPan(): string {
  const pan = freshPan()
  PANS_SENT.add(pan)
  return pan
}

describe('administrative bodies', () => {
  it('a credit card with both a balance and a credit limit', async () => {
    const card = {
      pan: newPan(),
      expiry: '3012',
      type: 'credit',
      balance: '10.00',
      creditLimit: '100.00',
    }
    await expectAdminProblem('cards', postAdmin('/v1/cards', card), {
      status: 400,
      field: 'balance',
      message: /credit limit, not a balance/,
    })
  })

  it('a debit card with a credit limit', async () => {
    const card = {
      pan: newPan(),
      expiry: '3012',
      type: 'debit',
      balance: '1.00',
      creditLimit: '100.00',
    }
    await expectAdminProblem('cards', postAdmin('/v1/cards', card), {
      status: 400,
      field: 'creditLimit',
      message: /balance, not a credit limit/,
    })
  })

  it('a merchant with an unknown MCC', async () => {
    const merchant = { id: '898310058129999', name: 'Nowhere', mcc: '0000' }
    await expectAdminProblem('merchants', postAdmin('/v1/merchants', merchant), {
      status: 400,
      field: 'mcc',
      message: /ISO 18245/,
    })
  })

  it('a terminal bound to no merchant', async () => {
    const terminal = { id: 'ZZ000001', merchantId: '999999999999999' }
    await expectAdminProblem('terminals', postAdmin('/v1/terminals', terminal), {
      status: 422,
      field: 'merchantId',
      message: /existing merchant/,
    })
  })

  it('a limit with no limits', async () => {
    const limit = { scope: 'merchant', entityId: DEMO_TERMINALS.grocery.merchantId }
    await expectAdminProblem('limit_rules', postAdmin('/v1/limits', limit), {
      status: 400,
      field: '(body)',
      message: /at least one of perTransactionMax, dailyAmountMax/,
    })
  })

  it('a block-list entry for a BIN that is not digits', async () => {
    const entry = { kind: 'bin', value: '62x', note: 'test' }
    await expectAdminProblem('list_entries', postAdmin('/v1/lists', entry), {
      status: 400,
      field: 'value',
      message: /BIN prefix of 3 to 10 digits/,
    })
  })
})

// ---------------------------------------------------------------------------------------------
// Afterwards
// ---------------------------------------------------------------------------------------------

describe('after all the bad input', () => {
  it('still answers /healthz and still authorizes', async () => {
    const health = await client.get('/healthz')
    expect(health.status).toBe(200)
    expect(health.body).toEqual({ status: 'ok' })
    const sale = await client.post<DecisionBody>('/v1/authorizations', validBody())
    expect(sale.status).toBe(201)
    expect(sale.body.approved).toBe(true)
    expect(sale.text).not.toContain(PAN)
  })

  it('keeps the ledger balanced', async () => {
    const check = await admin.get<{ balanced: boolean; accountsOutOfBound: string[] }>(
      '/v1/ledger/check',
    )
    expect(check.body).toMatchObject({ balanced: true, accountsOutOfBound: [] })
  })
})
