import { z } from 'zod'
import { findCurrency } from '../../core/money.js'
import {
  BACKTEST_RULES_MAX,
  BACKTEST_SAMPLES_PER_RULE_DEFAULT,
  BACKTEST_SAMPLES_PER_RULE_MAX,
  type AmountsByCurrency,
  type BacktestReport,
  type BacktestSample,
} from '../../core/risk/backtest.js'
import { checkExpression } from '../../core/risk/engine.js'
import {
  ON_RULE_ERROR,
  RISK_BLOCK_REASONS,
  RULE_ACTIONS,
  RULE_DESCRIPTION_LENGTH_MAX,
  RULE_EXPRESSION_LENGTH_MAX,
  RULE_NAME_LENGTH_MAX,
  RULE_SCORE_MAX,
  type RiskRule,
} from '../../core/risk/rules.js'
import type { BacktestJob, BacktestRuleRef } from '../../ports/backtests.js'
import type { HttpDeps } from './deps.js'
import { problem, type FieldProblem } from './problem.js'
import {
  RULE_ID,
  RULE_PRIORITY_DEFAULT,
  RULE_PRIORITY_MAX,
  SETTINGS_SCORE_MAX,
} from './schemas-risk.js'
import { HttpProblem, parseWith, type Router } from './server.js'

/**
 * Backtests over HTTP: start one (202, it runs in the background), read its progress and report,
 * list recent ones. Behind the administrator token. Jobs live in memory (src/app/backtests.ts).
 */

/** The longest period one backtest covers. */
export const BACKTEST_PERIOD_MS_MAX = 366 * 86_400_000

const INSTANT = z.union([
  z.iso.datetime({ offset: true, error: 'expected an ISO 8601 instant or milliseconds' }),
  z.number().int().min(0).max(8_640_000_000_000_000),
])
const msOf = (value: string | number): number =>
  typeof value === 'number' ? value : Date.parse(value)

const storedRef = z.strictObject({ id: RULE_ID })
const draft = z
  .strictObject({
    id: RULE_ID,
    name: z.string().trim().min(1, 'expected a name').max(RULE_NAME_LENGTH_MAX),
    expression: z.string().max(RULE_EXPRESSION_LENGTH_MAX * 2),
    action: z.enum(RULE_ACTIONS),
    reason: z.enum(RISK_BLOCK_REASONS).optional(),
    score: z.number().int().min(1).max(RULE_SCORE_MAX).optional(),
    priority: z.number().int().min(0).max(RULE_PRIORITY_MAX).optional(),
    description: z.strictObject({
      'zh-CN': z.string().trim().min(1).max(RULE_DESCRIPTION_LENGTH_MAX),
      en: z.string().trim().min(1).max(RULE_DESCRIPTION_LENGTH_MAX),
    }),
  })
  .superRefine((body, ctx) => {
    if (body.reason !== undefined && body.action !== 'block')
      ctx.addIssue({
        code: 'custom',
        path: ['reason'],
        message: 'a reason is only for block rules',
      })
    if (body.score !== undefined && body.action !== 'score')
      ctx.addIssue({ code: 'custom', path: ['score'], message: 'points are only for score rules' })
    if (body.score === undefined && body.action === 'score')
      ctx.addIssue({
        code: 'custom',
        path: ['score'],
        message: `expected the points a score rule adds, 1 to ${RULE_SCORE_MAX}`,
      })
  })

export const backtestCreate = z
  .strictObject({
    from: INSTANT,
    to: INSTANT,
    rules: z
      .array(z.union([storedRef, draft]))
      .max(BACKTEST_RULES_MAX, `at most ${BACKTEST_RULES_MAX} rules`)
      .default([]),
    includeActive: z.boolean().default(false),
    settings: z
      .strictObject({
        reviewScore: z.number().int().min(1).max(SETTINGS_SCORE_MAX),
        blockScore: z.number().int().min(1).max(SETTINGS_SCORE_MAX),
        scoreBlockReason: z.enum(RISK_BLOCK_REASONS),
        onRuleError: z.enum(ON_RULE_ERROR),
      })
      .partial()
      .default({}),
    samplesPerRule: z
      .number()
      .int()
      .min(0)
      .max(BACKTEST_SAMPLES_PER_RULE_MAX)
      .default(BACKTEST_SAMPLES_PER_RULE_DEFAULT),
  })
  .superRefine((body, ctx) => {
    const from = msOf(body.from)
    const to = msOf(body.to)
    if (to <= from)
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'expected an instant after from' })
    else if (to - from > BACKTEST_PERIOD_MS_MAX)
      ctx.addIssue({
        code: 'custom',
        path: ['to'],
        message: 'expected a period of at most 366 days',
      })
  })

const ID_PARAMS = z.strictObject({ id: z.string().min(1).max(64) })

/** Every inline expression checked by the engine: a 400 names each with its position. */
function checkDrafts(body: z.output<typeof backtestCreate>): void {
  const errors: FieldProblem[] = []
  for (const [index, rule] of body.rules.entries()) {
    if (!('expression' in rule)) continue
    const invalid = checkExpression(rule.expression)
    if (invalid === null) continue
    const at = invalid.line === null ? '' : ` (line ${invalid.line}, column ${invalid.column})`
    errors.push({
      field: `rules.${index}.expression`,
      code: 'invalid_expression',
      message: invalid.message + at,
      offset: invalid.offset,
      line: invalid.line,
      column: invalid.column,
    } as FieldProblem)
  }
  if (errors.length === 0) return
  const detail = errors.map((e) => `${e.field}: ${e.message}`).join('; ')
  throw new HttpProblem(
    problem(400, 'validation_failed', 'Invalid request body', detail, { errors }),
  )
}

function refOf(
  rule: z.output<typeof backtestCreate>['rules'][number],
  nowMs: number,
): BacktestRuleRef {
  if (!('expression' in rule)) return { type: 'stored', id: rule.id }
  const draftRule: RiskRule = {
    id: rule.id,
    version: 0,
    status: 'draft',
    name: rule.name,
    expression: rule.expression,
    action: rule.action,
    reason: rule.action === 'block' ? (rule.reason ?? 'suspected_fraud') : null,
    score: rule.action === 'score' ? (rule.score ?? 0) : 0,
    priority: rule.priority ?? RULE_PRIORITY_DEFAULT,
    description: rule.description,
    author: 'backtest',
    changeNote: 'inline draft of a backtest',
    createdAtMs: nowMs,
  }
  return { type: 'draft', rule: draftRule }
}

/** Minor units given as a decimal integer string, in major units: string arithmetic. */
function majorUnits(minorText: string, currency: string): string {
  const exponent = findCurrency(currency)?.exponent ?? 2
  if (exponent === 0) return minorText
  const digits = minorText.padStart(exponent + 1, '0')
  return `${digits.slice(0, digits.length - exponent)}.${digits.slice(digits.length - exponent)}`
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString())

function amountsView(amounts: AmountsByCurrency): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [currency, minor] of Object.entries(amounts))
    out[currency] = majorUnits(minor, currency)
  return out
}

function sampleView(s: BacktestSample) {
  return {
    transactionId: s.transactionId,
    createdAt: iso(s.createdAtMs),
    kind: s.kind,
    card: s.cardMasked,
    merchantId: s.merchantId,
    terminalId: s.terminalId,
    amount: majorUnits(String(s.amountMinor), s.currency),
    currency: s.currency,
    actualOutcome: s.actualOutcome,
    actualReason: s.actualReason,
    wouldDecision: s.wouldDecision,
  }
}

export function backtestReportView(r: BacktestReport) {
  return {
    from: iso(r.fromMs),
    to: iso(r.toMs),
    settings: r.settings,
    transactions: { ...r.transactions, lastAt: iso(r.transactions.lastAtMs) },
    decisions: r.decisions,
    overlap: r.overlap,
    summary: r.summary,
    amounts: {
      replayed: amountsView(r.amounts.replayed),
      wouldBlock: amountsView(r.amounts.wouldBlock),
      newBlocks: amountsView(r.amounts.newBlocks),
      wouldReview: amountsView(r.amounts.wouldReview),
      riskDeclinesReleased: amountsView(r.amounts.riskDeclinesReleased),
    },
    rules: r.rules.map((rule) => ({
      ...rule,
      version: rule.version === 0 ? null : rule.version,
      hitAmounts: amountsView(rule.hitAmounts),
      samples: rule.samples.map(sampleView),
    })),
    velocity: r.velocity,
    approximations: r.approximations,
  }
}

/** A job; the list leaves the report out (GET one job to read it). */
export function backtestJobView(job: BacktestJob, withReport = true) {
  return {
    id: job.id,
    status: job.status,
    from: iso(job.fromMs),
    to: iso(job.toMs),
    rules: job.rules,
    createdAt: iso(job.createdAtMs),
    startedAt: iso(job.startedAtMs),
    finishedAt: iso(job.finishedAtMs),
    progress: job.progress,
    error: job.error,
    ...(withReport
      ? { report: job.report === null ? null : backtestReportView(job.report) }
      : { hasReport: job.report !== null }),
  }
}

const START_STATUS = {
  unknown_rule: 422,
  invalid_rule: 400,
  no_rules: 400,
  too_many_rules: 400,
  busy: 503,
} as const

export function registerBacktestRoutes(router: Router, deps: HttpDeps): void {
  const jobs = () => {
    if (deps.backtests !== undefined) return deps.backtests
    throw new HttpProblem(
      problem(
        503,
        'backtests_unavailable',
        'Backtests unavailable',
        'this server runs no backtests',
      ),
    )
  }
  const R = { 200: 'ok', 400: 'invalid request', 401: 'administrator token required' }

  router.add(
    {
      method: 'POST',
      url: '/v1/risk/backtests',
      tag: 'risk',
      admin: true,
      body: backtestCreate,
      summary:
        'Start a backtest: replay the stored purchases and preauthorizations of [from, to) against rules (stored by id, or inline drafts; includeActive adds the active ones). Runs in the background; poll GET /v1/risk/backtests/{id}. Jobs are kept in memory and do not survive a restart.',
      responses: {
        202: 'started (queued or running)',
        400: 'invalid request (an invalid expression names its position)',
        401: 'administrator token required',
        422: 'unknown stored rule',
        503: 'too many backtests running or waiting',
      },
    },
    async (request, reply) => {
      const body = parseWith(backtestCreate, request.body, 'body')
      checkDrafts(body)
      const nowMs = deps.clock.nowMs()
      const started = await jobs().start({
        fromMs: msOf(body.from),
        toMs: msOf(body.to),
        rules: body.rules.map((rule) => refOf(rule, nowMs)),
        includeActive: body.includeActive,
        // Only the settings given: the rest are the stored ones.
        settings: Object.fromEntries(
          Object.entries(body.settings).filter(([, value]) => value !== undefined),
        ),
        samplesPerRule: body.samplesPerRule,
      })
      if (!started.ok) {
        const status = START_STATUS[started.code]
        throw new HttpProblem(
          problem(status, started.code, 'Backtest not started', started.message, {
            ...(started.field === null
              ? {}
              : {
                  errors: [{ field: started.field, code: started.code, message: started.message }],
                }),
          }),
          status === 503 ? { 'retry-after': '10' } : {},
        )
      }
      return reply
        .code(202)
        .header('location', `/v1/risk/backtests/${started.job.id}`)
        .send(backtestJobView(started.job))
    },
  )

  router.add(
    {
      method: 'GET',
      url: '/v1/risk/backtests',
      tag: 'risk',
      admin: true,
      summary: 'Recent backtests, newest first, without their reports (GET one to read it).',
      responses: R,
    },
    () => ({
      items: jobs()
        .list()
        .map((job) => backtestJobView(job, false)),
    }),
  )

  router.add(
    {
      method: 'GET',
      url: '/v1/risk/backtests/:id',
      tag: 'risk',
      admin: true,
      summary: 'One backtest: status, progress, and the report when done.',
      responses: { ...R, 404: 'no such backtest (or forgotten: jobs do not survive a restart)' },
    },
    (request) => {
      const { id } = parseWith(ID_PARAMS, request.params, 'path')
      const job = jobs().get(id)
      if (job === null)
        throw new HttpProblem(
          problem(
            404,
            'not_found',
            'No such backtest',
            `no backtest ${id} (jobs are kept in memory)`,
          ),
        )
      return backtestJobView(job)
    },
  )
}
