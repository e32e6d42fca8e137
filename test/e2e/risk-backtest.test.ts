import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { toTransaction, type TransactionRow } from '../../src/adapters/store/sqlite/rows.js'
import { runBacktestCommand } from '../../src/cli/risk-backtest.js'
import { freshRuleId, putLiveRule, type RuleBody, type RuleInput } from '../support/risk.js'
import {
  api,
  authorizeBody,
  createCard,
  createShop,
  openDatabaseReadOnly,
  startTestServer,
  type Api,
  type ApiResponse,
  type DecisionBody,
  type ProblemBody,
  type TerminalRef,
  type TestCard,
  type TestServer,
} from '../support/server.js'

/**
 * Backtests against the live path: purchases go through POST /v1/authorizations with SHADOW rules
 * live (velocity rules among them), then the same rules are backtested over the same period. The
 * backtest's hits must be exactly the transactions whose stored `shadow_rules` check names the
 * rule — so velocity replayed from the stored history equals velocity as the batches saw it.
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

interface SampleBody {
  readonly transactionId: string
  readonly card: string | null
  readonly actualOutcome: string
}
interface RuleReportBody {
  readonly ruleId: string
  readonly version: number | null
  readonly status: string
  readonly hits: number
  readonly samples: readonly SampleBody[]
}
interface ReportBody {
  readonly transactions: {
    readonly replayed: number
    readonly evaluated: number
    readonly declinedBeforeRisk: number
    readonly truncated: boolean
  }
  readonly decisions: Record<string, number>
  readonly rules: readonly RuleReportBody[]
}
interface JobBody {
  readonly id: string
  readonly status: string
  readonly progress: { readonly processed: number; readonly fraction: number }
  readonly error: string | null
  readonly report: ReportBody | null
}

/** Polls a backtest until it finishes (bounded: a stuck job fails the test, it never hangs). */
async function finished(id: string): Promise<JobBody> {
  for (let i = 0; i < 600; i++) {
    const answer = await admin.get<JobBody>(`/v1/risk/backtests/${id}`)
    expect(answer.status, answer.text).toBe(200)
    if (answer.body.status === 'done' || answer.body.status === 'failed') return answer.body
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`backtest ${id} did not finish`)
}

async function backtest(body: Record<string, unknown>): Promise<ReportBody> {
  const started = await admin.post<JobBody>('/v1/risk/backtests', body)
  expect(started.status, started.text).toBe(202)
  expect(started.headers.get('location')).toBe(`/v1/risk/backtests/${started.body.id}`)
  const job = await finished(started.body.id)
  expect(job.error).toBeNull()
  expect(job.status).toBe('done')
  expect(job.progress.fraction).toBe(1)
  expect(job.report).not.toBeNull()
  return job.report!
}

/** Per rule id: the transactions of the period whose stored shadow check names the rule. */
function liveShadowHits(fromMs: number, toMs: number, merchantIds: string[]) {
  const db = openDatabaseReadOnly(server.dataDir)
  try {
    const rows = db.all<TransactionRow>(
      `SELECT * FROM transactions
       WHERE created_at_ms >= ? AND created_at_ms < ? AND kind IN ('purchase', 'preauthorization')
         AND merchant_id IN (?, ?) ORDER BY created_at_ms, id`,
      fromMs,
      toMs,
      ...merchantIds,
    )
    const hits = new Map<string, string[]>()
    let reachedRisk = 0
    for (const row of rows) {
      // Read as the store reads them: the stored form of checks is the store's own (rows.ts).
      const checks = toTransaction(row).checks
      // A decline before the risk stage stores it as skipped (stage 'risk', name 'risk').
      if (checks.some((c) => c.stage === 'risk' && c.name === 'rules')) reachedRisk++
      const shadow = checks.find((c) => c.stage === 'risk' && c.name === 'shadow_rules')
      const shadowHits = shadow?.evidence?.shadowHits
      const listed = typeof shadowHits === 'string' ? shadowHits : ''
      for (const hit of listed.split(', ').filter(Boolean)) {
        const ruleId = hit.slice(0, hit.indexOf('@'))
        hits.set(ruleId, [...(hits.get(ruleId) ?? []), row.id])
      }
    }
    return { rows: rows.length, reachedRisk, hits }
  } finally {
    db.close()
  }
}

function buy(
  shop: TerminalRef,
  card: TestCard,
  amount: string,
  kind: 'purchase' | 'preauthorization' = 'purchase',
  /** How the card was read and where the terminal says it is (risk features). */
  read: { readonly entryMode?: string; readonly terminalRegion?: string } = {},
): Promise<ApiResponse<DecisionBody>> {
  return client.post<DecisionBody>('/v1/authorizations', {
    ...authorizeBody({ terminal: shop, card, amount, kind }),
    ...read,
  })
}

describe('risk backtests', () => {
  it('hit exactly the transactions the live shadow rules hit, velocity included', async () => {
    const shopA = await createShop(server)
    const shopB = await createShop(server)
    const rich = await createCard(server, 'debit', '5000.00')
    const other = await createCard(server, 'debit', '5000.00')
    const poor = await createCard(server, 'debit', '20.00')
    const expired = await createCard(server, 'debit', '500.00', '2001')
    const scope = `merchant_id in ["${shopA.merchantId}", "${shopB.merchantId}"]`
    const inputs: RuleInput[] = [
      {
        id: freshRuleId('bt_burst'),
        expression: `${scope} && card_count_10m >= 2`,
        action: 'block',
      },
      {
        id: freshRuleId('bt_spread'),
        expression: `${scope} && card_distinct_terminals_10m >= 2`,
        action: 'review',
      },
      {
        id: freshRuleId('bt_sum'),
        expression: `${scope} && card_merchant_sum_1h >= 6000`,
        action: 'score',
        score: 40,
      },
      {
        id: freshRuleId('bt_declines'),
        expression: `${scope} && card_declines_10m >= 1`,
        action: 'block',
      },
      {
        id: freshRuleId('bt_shop'),
        expression: `${scope} && merchant_count_1m >= 3 && amount >= 1500`,
        action: 'block',
      },
      { id: freshRuleId('bt_round'), expression: `${scope} && is_round_amount`, action: 'block' },
      // Stored with each transaction since schema 6, so replayed as live.
      {
        id: freshRuleId('bt_manual'),
        expression: `${scope} && entry_mode == "manual"`,
        action: 'review',
      },
      {
        id: freshRuleId('bt_reported'),
        expression: `${scope} && terminal_reported_region == "650102"`,
        action: 'review',
      },
    ]
    const rules: RuleBody[] = []
    for (const input of inputs) rules.push(await putLiveRule(admin, input, 'shadow'))

    const fromMs = Date.now()
    const answers: ApiResponse<DecisionBody>[] = []
    // One at a time: each in its own batch.
    for (const [shop, card, amount, read] of [
      [shopA, rich, '10.00'],
      [shopA, rich, '20.00', { entryMode: 'manual' }],
      [shopB, other, '30.00', { entryMode: 'chip', terminalRegion: '650102' }],
      [shopA, poor, '50.00'], // insufficient funds: declined after the risk stage
      [shopA, poor, '5.00'],
      [shopA, expired, '10.00'], // expired: declined before the risk stage
      [shopB, rich, '100.00'],
    ] as const)
      answers.push(await buy(shop, card, amount, 'purchase', read))
    // At once: several land in one batch, where velocity comes from the batch's own overlay.
    answers.push(
      ...(await Promise.all([
        buy(shopA, other, '15.00'),
        buy(shopA, other, '16.00'),
        buy(shopB, rich, '17.00'),
        buy(shopB, poor, '1.00'),
        buy(shopA, rich, '200.00', 'preauthorization'),
        buy(shopB, other, '18.00', 'purchase', { entryMode: 'manual', terminalRegion: '650102' }),
      ])),
    )
    answers.push(await buy(shopB, other, '300.00'))
    const toMs = Date.now() + 1
    for (const answer of answers) expect(answer.status, answer.text).toBe(201)
    expect(answers[3]?.body.reason?.code).toBe('insufficient_funds')
    expect(answers[5]?.body.reason?.code).toBe('expired_card')

    const live = liveShadowHits(fromMs, toMs, [shopA.merchantId, shopB.merchantId])
    expect(live.rows).toBe(answers.length)
    // The velocity rules did fire live, so the comparison below proves something; so did the
    // rules on the entry mode and the reported region.
    for (const rule of rules.slice(0, 4)) expect(live.hits.get(rule.id)?.length).toBeGreaterThan(0)
    expect(live.hits.get(rules[6]!.id)?.length).toBe(2)
    expect(live.hits.get(rules[7]!.id)?.length).toBe(2)

    const report = await backtest({
      from: new Date(fromMs).toISOString(),
      to: toMs,
      rules: rules.map((r) => ({ id: r.id })),
      samplesPerRule: 20,
    })
    expect(report.transactions).toMatchObject({
      replayed: answers.length,
      evaluated: live.reachedRisk,
      declinedBeforeRisk: answers.length - live.reachedRisk,
      truncated: false,
    })
    for (const rule of rules) {
      const row = report.rules.find((r) => r.ruleId === rule.id)
      expect(row, rule.id).toMatchObject({ version: rule.version, status: 'shadow' })
      const expected = live.hits.get(rule.id) ?? []
      expect(expected.length).toBeLessThan(20)
      expect(row?.hits, rule.id).toBe(expected.length)
      expect(
        row?.samples.map((s) => s.transactionId),
        rule.id,
      ).toEqual(expected)
      for (const sample of row?.samples ?? []) expect(sample.card).toMatch(/^\d{6}\*+\d{4}$/)
    }
    expect(JSON.stringify(report)).not.toContain(rich.pan)

    // An inline draft with the burst rule's expression hits the same transactions.
    const burst = rules[0]!
    const draftId = freshRuleId('bt_draft')
    const drafted = await backtest({
      from: fromMs,
      to: toMs,
      rules: [
        {
          id: draftId,
          name: 'burst, as a draft',
          expression: inputs[0]!.expression,
          action: 'block',
          description: { 'zh-CN': '短时多笔', en: 'many attempts in a short time' },
        },
      ],
    })
    expect(drafted.rules).toHaveLength(1)
    expect(drafted.rules[0]).toMatchObject({ ruleId: draftId, version: null, status: 'draft' })
    expect(drafted.rules[0]?.samples.map((s) => s.transactionId)).toEqual(
      live.hits.get(burst.id) ?? [],
    )
    expect(drafted.decisions.block).toBe(live.hits.get(burst.id)?.length ?? 0)

    // The CLI runs the same backtest and prints the table (plain progress lines: not a TTY).
    const out: string[] = []
    const err: string[] = []
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out.push(String(chunk))
      return true
    })
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      err.push(String(chunk))
      return true
    })
    const token = process.env.TOLLGATE_ADMIN_TOKEN
    process.env.TOLLGATE_ADMIN_TOKEN = server.adminToken
    try {
      await runBacktestCommand([
        '--url',
        server.url,
        '--from',
        new Date(fromMs).toISOString(),
        '--to',
        new Date(toMs).toISOString(),
        '--rule',
        burst.id,
        '--rule',
        rules[3]!.id,
      ])
    } finally {
      stdout.mockRestore()
      stderr.mockRestore()
      if (token === undefined) delete process.env.TOLLGATE_ADMIN_TOKEN
      else process.env.TOLLGATE_ADMIN_TOKEN = token
    }
    const text = out.join('')
    expect(text).toContain(`${burst.id}@v${burst.version}`)
    expect(text).toMatch(/would block/)
    expect(text).toContain(`replayed ${answers.length}`)
    expect(err.join('')).toMatch(/backtest: 100% \(\d+ of \d+ transactions\)/)
  })

  it('refuses an invalid draft with its position, an unknown rule, and no token', async () => {
    const invalid = await admin.post<ProblemBody & { errors: Record<string, unknown>[] }>(
      '/v1/risk/backtests',
      {
        from: '2026-11-25T00:00:00+08:00',
        to: '2026-11-26T00:00:00+08:00',
        rules: [
          {
            id: 'bt_bad',
            name: 'bad',
            expression: 'amount >= ',
            action: 'block',
            description: { 'zh-CN': '坏', en: 'bad' },
          },
        ],
      },
    )
    expect(invalid.status, invalid.text).toBe(400)
    expect(invalid.body.errors[0]).toMatchObject({
      field: 'rules.0.expression',
      code: 'invalid_expression',
      line: 1,
    })
    expect(typeof invalid.body.errors[0]?.column).toBe('number')

    const unknown = await admin.post<ProblemBody>('/v1/risk/backtests', {
      from: 0,
      to: 1_000,
      rules: [{ id: 'no_such_rule' }],
    })
    expect(unknown.status, unknown.text).toBe(422)
    expect(unknown.body.errors?.[0]).toMatchObject({ field: 'rules.0.id', code: 'unknown_rule' })

    const backwards = await admin.post<ProblemBody>('/v1/risk/backtests', {
      from: 2_000,
      to: 1_000,
      rules: [],
    })
    expect(backwards.status).toBe(400)
    expect(backwards.body.errors?.[0]?.field).toBe('to')

    const anonymous = await client.post('/v1/risk/backtests', { from: 0, to: 1, rules: [] })
    expect(anonymous.status).toBe(401)
    expect((await client.get('/v1/risk/backtests')).status).toBe(401)
    expect((await admin.get('/v1/risk/backtests/bt_none')).status).toBe(404)

    // The list leaves reports out; each job is read on its own.
    const listed = await admin.get<{ items: Record<string, unknown>[] }>('/v1/risk/backtests')
    expect(listed.status).toBe(200)
    for (const job of listed.body.items) {
      expect(job).not.toHaveProperty('report')
      expect(typeof job.hasReport).toBe('boolean')
    }
  })
})
