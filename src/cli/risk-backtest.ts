import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import type { Lang } from '../core/reasons/types.js'
import { apiClientOf, langOf, UsageError, utcOffsetMinutesOf } from './env.js'
import { table } from './format.js'
import type { ApiAnswer, ApiClient } from './http-client.js'

/**
 * `tollgate risk backtest`: starts a backtest on the server, follows its progress (a bar on
 * stderr when stderr is a terminal, plain lines otherwise), then prints the per-rule table or
 * the JSON report.
 */

export const BACKTEST_USAGE = `tollgate risk backtest --from <date|instant> --to <date|instant> [options]

  --from, --to        the period [from, to): a business date (YYYY-MM-DD, at the acquirer's
                      offset, TOLLGATE_UTC_OFFSET_MINUTES) or an ISO 8601 instant
  --rule <id>         a stored rule (its newest version); repeat for more
  --file <drafts.json> inline draft rules: a JSON array of {id, name, expression, action,
                      reason?, score?, priority?, description: {"zh-CN", "en"}}
  --include-active    also run the active rules, so the drafts are seen in context
  --samples <n>       sample transactions per rule (0..20, default 10)
  --json              print the JSON report
  --url <url>         server (default TOLLGATE_URL); needs TOLLGATE_ADMIN_TOKEN`

/** How often the job is polled, and how long the command waits for it at most. */
const POLL_INTERVAL_MS = 500
const WAIT_MS_MAX = 60 * 60_000
/** Plain progress lines (stderr not a terminal) at most this often. */
const PLAIN_PROGRESS_INTERVAL_MS = 2_000
const BAR_WIDTH = 30
const DRAFTS_FILE_BYTES_MAX = 1_000_000

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/

/** A date (start of that business day at the offset) or an ISO instant, as an ISO instant. */
export function instantOf(text: string, flag: string, utcOffsetMinutes: number): string {
  const date = DATE.exec(text)
  if (date !== null) {
    const ms = Date.UTC(Number(date[1]), Number(date[2]) - 1, Number(date[3]))
    const back = new Date(ms)
    if (back.getUTCDate() !== Number(date[3]) || back.getUTCMonth() !== Number(date[2]) - 1)
      throw new UsageError(`--${flag}: ${text} is not a calendar date`)
    return new Date(ms - utcOffsetMinutes * 60_000).toISOString()
  }
  const ms = Date.parse(text)
  if (!/^\d{4}-\d{2}-\d{2}T/.test(text) || Number.isNaN(ms))
    throw new UsageError(`--${flag}: expected YYYY-MM-DD or an ISO 8601 instant, got ${text}`)
  return new Date(ms).toISOString()
}

async function draftsOf(path: string): Promise<unknown[]> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (cause) {
    throw new UsageError(`--file: cannot read ${path} (${String(cause)})`)
  }
  if (text.length > DRAFTS_FILE_BYTES_MAX)
    throw new UsageError(`--file: ${path} is larger than ${DRAFTS_FILE_BYTES_MAX} bytes`)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (cause) {
    throw new UsageError(`--file: ${path} is not JSON (${String(cause)})`)
  }
  const list: unknown[] | null = Array.isArray(value)
    ? (value as unknown[])
    : typeof value === 'object' && value !== null && 'rules' in value && Array.isArray(value.rules)
      ? (value.rules as unknown[])
      : null
  if (list === null) throw new UsageError(`--file: expected a JSON array of draft rules`)
  return list
}

interface JobBody {
  readonly id: string
  readonly status: string
  readonly progress: {
    readonly processed: number
    readonly fraction: number
    readonly totalEstimate: number | null
  }
  readonly error: string | null
  readonly report: ReportBody | null
}

interface SampleBody {
  readonly transactionId: string
  readonly card: string | null
  readonly amount: string
  readonly currency: string
  readonly actualOutcome: string
  readonly actualReason: string | null
  readonly wouldDecision: string
}

interface RuleBody {
  readonly ruleId: string
  readonly version: number | null
  readonly action: string
  readonly hits: number
  readonly decided: number
  readonly wouldBlock: number
  readonly wouldReview: number
  readonly alreadyDeclined: number
  readonly newBlocks: number
  readonly errors: number
  readonly firstError: string | null
  readonly samples: readonly SampleBody[]
}

interface ReportBody {
  readonly from: string
  readonly to: string
  readonly transactions: {
    readonly replayed: number
    readonly evaluated: number
    readonly declinedBeforeRisk: number
    readonly missingEntities: number
    readonly truncated: boolean
  }
  readonly decisions: Readonly<Record<string, number>>
  readonly summary: {
    readonly blockedAlreadyDeclined: number
    readonly newBlocks: number
    readonly riskDeclinesReleased: number
    readonly newReviews: number
  }
  readonly amounts: Readonly<Record<string, Readonly<Record<string, string>>>>
  readonly rules: readonly RuleBody[]
  readonly approximations: readonly string[]
}

function problemText(answer: ApiAnswer): string {
  const errors = (answer.body.errors as { field: string; message: string }[] | undefined) ?? []
  const detail = typeof answer.body.detail === 'string' ? answer.body.detail : ''
  return errors.length > 0
    ? errors.map((e) => `${e.field}: ${e.message}`).join('; ')
    : detail || `HTTP ${answer.status}`
}

const money = (amounts: Readonly<Record<string, string>> | undefined): string =>
  Object.entries(amounts ?? {})
    .map(([currency, amount]) => `${amount} ${currency}`)
    .join(', ') || '0'

/** The report as a table and a few lines; plain text, no colour. */
export function formatBacktestReport(report: ReportBody, lang: Lang): string {
  const zh = lang === 'zh-CN'
  const headers = zh
    ? ['规则', '动作', '命中', '决定', '将拦截', '将复核', '已被拒', '新增拦截', '错误', '样本']
    : [
        'rule',
        'action',
        'hits',
        'decided',
        'would block',
        'would review',
        'already declined',
        'new blocks',
        'errors',
        'samples',
      ]
  const rows = report.rules.map((r) => [
    `${r.ruleId}@${r.version === null ? 'draft' : `v${r.version}`}`,
    r.action,
    String(r.hits),
    String(r.decided),
    String(r.wouldBlock),
    String(r.wouldReview),
    String(r.alreadyDeclined),
    String(r.newBlocks),
    String(r.errors),
    String(r.samples.length),
  ])
  const t = report.transactions
  const s = report.summary
  const d = report.decisions
  const lines = [
    `${zh ? '期间' : 'period'} ${report.from} → ${report.to}`,
    zh
      ? `回放 ${t.replayed} 笔，评估 ${t.evaluated} 笔（风控前已拒 ${t.declinedBeforeRisk}，商户或终端已不存在 ${t.missingEntities}）${t.truncated ? '，已达上限截断' : ''}`
      : `replayed ${t.replayed}, evaluated ${t.evaluated} (declined before risk ${t.declinedBeforeRisk}, merchant or terminal gone ${t.missingEntities})${t.truncated ? ', TRUNCATED at the bound' : ''}`,
    zh
      ? `将拦截 ${d.block ?? 0}  将复核 ${d.review ?? 0}  将放行 ${d.allow ?? 0}  无决定 ${d.pass ?? 0}`
      : `would block ${d.block ?? 0}  would review ${d.review ?? 0}  would allow ${d.allow ?? 0}  pass ${d.pass ?? 0}`,
    zh
      ? `新增拦截 ${s.newBlocks}（${money(report.amounts.newBlocks)}）  已被拒仍拦截 ${s.blockedAlreadyDeclined}  风控拒绝将放行 ${s.riskDeclinesReleased}  新增复核 ${s.newReviews}`
      : `new blocks ${s.newBlocks} (${money(report.amounts.newBlocks)})  blocked, declined anyway ${s.blockedAlreadyDeclined}  risk declines released ${s.riskDeclinesReleased}  new reviews ${s.newReviews}`,
    '',
    rows.length === 0 ? (zh ? '（没有规则）' : '(no rules)') : table(headers, rows, [40]),
  ]
  for (const r of report.rules) {
    if (r.firstError !== null) lines.push(`  ${r.ruleId}: ${zh ? '错误' : 'error'} ${r.firstError}`)
    if (r.samples.length === 0) continue
    lines.push('', `${r.ruleId} — ${zh ? '样本' : 'samples'}:`)
    for (const x of r.samples) {
      const actual =
        x.actualReason === null ? x.actualOutcome : `${x.actualOutcome} (${x.actualReason})`
      lines.push(
        `  ${x.transactionId}  ${x.card ?? ''}  ${x.amount} ${x.currency}  ${zh ? '实际' : 'actual'} ${actual}  ${zh ? '将' : 'would'} ${x.wouldDecision}`,
      )
    }
  }
  lines.push('', zh ? '近似处理：' : 'approximations:')
  for (const note of report.approximations) lines.push(`  - ${note}`)
  return lines.join('\n')
}

/** The progress line: a bar on a terminal, words elsewhere. */
export function progressText(job: JobBody['progress'], bar: boolean, done: boolean): string {
  const fraction = done ? 1 : Math.min(1, Math.max(0, job.fraction))
  const percent = Math.floor(fraction * 100)
  // Until the end the total is an estimate (from how far through the period the replay is).
  const total = done
    ? String(job.processed)
    : job.totalEstimate === null
      ? '?'
      : `~${job.totalEstimate}`
  if (!bar) return `backtest: ${percent}% (${job.processed} of ${total} transactions)`
  const filled = Math.round(fraction * BAR_WIDTH)
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${String(percent).padStart(3)}%  ${job.processed} / ${total}`
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

async function follow(api: ApiClient, id: string): Promise<JobBody> {
  const tty = process.stderr.isTTY
  let lastPlainMs = 0
  const startedMs = Date.now()
  for (;;) {
    const answer = await api.call('GET', `/v1/risk/backtests/${encodeURIComponent(id)}`)
    if (answer.status !== 200) throw new Error(`backtest ${id}: ${problemText(answer)}`)
    const job = answer.body as unknown as JobBody
    const finished = job.status === 'done' || job.status === 'failed'
    const now = Date.now()
    if (tty)
      process.stderr.write(`\r${progressText(job.progress, true, finished)}${finished ? '\n' : ''}`)
    else if (finished || now - lastPlainMs >= PLAIN_PROGRESS_INTERVAL_MS) {
      process.stderr.write(progressText(job.progress, false, finished) + '\n')
      lastPlainMs = now
    }
    if (finished) return job
    if (now - startedMs > WAIT_MS_MAX)
      throw new Error(
        `backtest ${id} still running after ${WAIT_MS_MAX / 60_000} minutes; GET /v1/risk/backtests/${id} later`,
      )
    await sleep(POLL_INTERVAL_MS)
  }
}

/** `tollgate risk backtest …` (the `risk` dispatch passes the arguments after `backtest`). */
export async function runBacktestCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      rule: { type: 'string', multiple: true },
      file: { type: 'string' },
      'include-active': { type: 'boolean' },
      samples: { type: 'string' },
      json: { type: 'boolean' },
      url: { type: 'string' },
      lang: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help === true) {
    process.stdout.write(BACKTEST_USAGE + '\n')
    return
  }
  if (values.from === undefined || values.to === undefined)
    throw new UsageError(`risk backtest: --from and --to are required\n\n${BACKTEST_USAGE}`)
  const offset = utcOffsetMinutesOf()
  const samples = values.samples
  if (samples !== undefined && !/^\d{1,2}$/.test(samples))
    throw new UsageError(`--samples: expected 0 to 20, got ${samples}`)
  const rules: unknown[] = (values.rule ?? []).map((id) => ({ id }))
  if (values.file !== undefined) rules.push(...(await draftsOf(values.file)))
  const lang = langOf(values.lang)
  const api = apiClientOf(values.url, lang)
  const started = await api.call('POST', '/v1/risk/backtests', {
    from: instantOf(values.from, 'from', offset),
    to: instantOf(values.to, 'to', offset),
    rules,
    includeActive: values['include-active'] === true,
    ...(samples === undefined ? {} : { samplesPerRule: Number(samples) }),
  })
  if (started.status !== 202) {
    process.stderr.write(`tollgate: backtest not started: ${problemText(started)}\n`)
    process.exitCode = 2
    return
  }
  const job = await follow(api, String(started.body.id))
  if (job.status === 'failed' || job.report === null) {
    process.stderr.write(`tollgate: backtest ${job.id} failed: ${job.error ?? 'no report'}\n`)
    process.exitCode = 1
    return
  }
  process.stdout.write(
    (values.json === true
      ? JSON.stringify(job.report, null, 2)
      : formatBacktestReport(job.report, lang)) + '\n',
  )
}
