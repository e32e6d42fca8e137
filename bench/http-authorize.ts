/**
 * HTTP authorization benchmark: durable purchases per second and their latency.
 *
 * Starts the real server as a child process on a fresh SQLite database in a temporary
 * directory, provisions a merchant, terminals and a few thousand cards through the admin API,
 * then keeps `--concurrency` purchases in flight for `--warmup` + `--duration` seconds: about
 * 80% approvals and 20% declines (insufficient funds, a block-listed card, a suspended
 * merchant, a per-payment limit). Prints throughput over the measured window, latency
 * percentiles, outcomes by HTTP status and reason, the server's mean batch size and CPU use,
 * and the ledger check. Only 127.0.0.1 is used; every wait is bounded.
 *
 * Usage: npm run bench -- [--concurrency 256] [--duration 20] [--warmup 3] [--json] [--profile]
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Pool } from 'undici'
import { formatMoney } from '../src/core/money.js'
import {
  ledgerBalanced,
  call,
  openPool,
  REQUEST_TIMEOUT_MS,
  sampleMetrics,
  type BatchMetrics,
} from './support/admin.js'
import { exitOnFailure, integerOption, readOptions } from './support/args.js'
import { loadAverage1m, machineAround, startCpuWindow } from './support/cpu.js'
import { LOAD_OPTION_SPEC, loadOptions, loadUsage, type LoadOptions } from './support/options.js'
import { planFleet, provision } from './support/provision.js'
import {
  increment,
  measureWindow,
  sleepUntil,
  WindowRecorder,
  type MeasureWindow,
} from './support/recorder.js'
import { fleetRows, headingRows, progressLog, rowOf, slash, verdictRows } from './support/report.js'
import {
  finishServer,
  startServer,
  waitReady,
  withServer,
  type ServerChild,
} from './support/server.js'
import { summariseProfile } from './support/profile.js'
import { percentile, ratio, round, sortedEntries, sumWhere } from './support/stats.js'
import { MIX, PurchaseStream, type Category, type Purchase } from './support/traffic.js'

const CONCURRENCY_DEFAULT = 256
const CONCURRENCY_MAX = 4_096
const LOAD_DEFAULTS = {
  durationS: 20,
  debitCards: 2_000,
  creditCards: 500,
  lowBalanceCards: 100,
  terminals: 50,
}
const LATENCY_SAMPLES_MAX = 8_000_000

/** What the server must answer in each category: "approved" or "declined:<reason>". */
const EXPECTED = new Map(
  MIX.map((m) => [m.category, m.reason === null ? 'approved' : `declined:${m.reason}`]),
)

interface Options extends LoadOptions {
  readonly concurrency: number
  readonly json: boolean
  readonly profile: boolean
  /** Disable every risk rule (the demo's shadow pack) before the load: the cost of risk control. */
  readonly noRiskRules: boolean
}

const USAGE = `npm run bench -- [options]
  --concurrency <n>        requests in flight (default ${CONCURRENCY_DEFAULT})
${loadUsage(LOAD_DEFAULTS).window}
${loadUsage(LOAD_DEFAULTS).fleet}
  --json                   print the result as JSON
  --profile                run the server with --cpu-prof and summarise its self time
  --no-risk-rules          disable the demo's risk rules (the default pack, in shadow) first
`

function parseOptions(argv: readonly string[]): Options {
  const text = { type: 'string' } as const
  const flag = { type: 'boolean' } as const
  const values = readOptions(
    argv,
    {
      ...LOAD_OPTION_SPEC,
      concurrency: text,
      json: flag,
      profile: flag,
      'no-risk-rules': flag,
    },
    USAGE,
  )
  return {
    concurrency: integerOption(values, 'concurrency', CONCURRENCY_DEFAULT, CONCURRENCY_MAX),
    ...loadOptions(values, LOAD_DEFAULTS),
    json: values.json === true,
    profile: values.profile === true,
    noRiskRules: values['no-risk-rules'] === true,
  }
}

/** Disables every live risk rule through the admin API (each change is a new, audited version). */
async function disableRiskRules(pool: Pool, token: string): Promise<number> {
  const listed = await call(pool, 'GET', '/v1/risk/rules', token)
  const rules = (
    JSON.parse(listed.text) as { items: { id: string; version: number; status: string }[] }
  ).items
  let disabled = 0
  for (const rule of rules) {
    if (rule.status !== 'active' && rule.status !== 'shadow') continue
    const answer = await call(pool, 'POST', `/v1/risk/rules/${rule.id}/status`, token, {
      status: 'disabled',
      baseVersion: rule.version,
      changeNote: 'bench --no-risk-rules',
    })
    if (answer.status >= 300)
      throw new Error(`disabling rule ${rule.id}: HTTP ${answer.status} ${answer.text}`)
    disabled++
  }
  return disabled
}

const progress = progressLog('bench')

// ---------------------------------------------------------------------------------------------
// Traffic

interface Planned {
  readonly category: Category
  readonly body: string
}

type Traffic = PurchaseStream<Planned>

/** The purchase as a POST /v1/authorizations body. */
function authorizationBody(purchase: Purchase): Planned {
  const body = {
    kind: 'purchase',
    terminalId: purchase.terminalId,
    merchantId: purchase.merchantId,
    stan: purchase.stan,
    card: { pan: purchase.pan, expiry: purchase.expiry },
    amount: formatMoney(purchase.amountMinor, 'CNY'),
    currency: 'CNY',
  }
  return { category: purchase.category, body: JSON.stringify(body) }
}

// ---------------------------------------------------------------------------------------------
// Load and measurement

/** "approved", "declined:<reason>" or "<status>:<problem code>". */
function outcomeOf(status: number, text: string): string {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return `${status}:unparsable`
  }
  if (typeof body !== 'object' || body === null) return `${status}:unexpected_body`
  const record = body as Record<string, unknown>
  if (status === 201 || status === 200) {
    if (record.approved === true) return 'approved'
    const reason = record.reason as { code?: unknown } | undefined
    return `declined:${typeof reason?.code === 'string' ? reason.code : 'unknown'}`
  }
  return `${status}:${typeof record.code === 'string' ? record.code : 'unknown'}`
}

function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    if (typeof error.code === 'string') return error.code
  }
  return error instanceof Error ? error.name : 'unknown'
}

interface Outcome {
  readonly category: Category
  /** The HTTP status, or "error" when there was no answer. */
  readonly status: string
  readonly outcome: string
  readonly latencyMs: number
  readonly responseChars: number
}

class Recorder extends WindowRecorder<Category> {
  /** Characters of response bodies (ASCII for English explanations, so about bytes). */
  responseChars = 0
  readonly byStatus = new Map<string, number>()

  constructor(window: MeasureWindow, durationS: number) {
    super(window, durationS, LATENCY_SAMPLES_MAX, (category) => EXPECTED.get(category))
  }

  /** Records a request that started inside the window: latency and outcome. */
  answered(answer: Outcome): void {
    this.responseChars += answer.responseChars
    increment(this.byStatus, answer.status)
    this.sampled(answer.category, answer.outcome, answer.latencyMs)
  }
}

type Sent = Omit<Outcome, 'latencyMs' | 'category'>

async function sendOne(pool: Pool, planned: Planned): Promise<Sent> {
  try {
    const response = await pool.request({
      method: 'POST',
      path: '/v1/authorizations',
      body: planned.body,
      headers: { 'content-type': 'application/json' },
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS,
    })
    const text = await response.body.text()
    const outcome = outcomeOf(response.statusCode, text)
    return { status: String(response.statusCode), outcome, responseChars: text.length }
  } catch (error) {
    return { status: 'error', outcome: `error:${errorCode(error)}`, responseChars: 0 }
  }
}

/** One client: a request at a time, until the window ends. */
async function worker(
  pool: Pool,
  traffic: Traffic,
  window: MeasureWindow,
  recorder: Recorder,
): Promise<void> {
  while (process.hrtime.bigint() < window.endNs) {
    const planned = traffic.next()
    if (planned === null) return
    const startNs = process.hrtime.bigint()
    const answer = await sendOne(pool, planned)
    const doneNs = process.hrtime.bigint()
    recorder.completed(doneNs)
    if (startNs < window.measureStartNs) continue
    const latencyMs = Number(doneNs - startNs) / 1e6
    recorder.answered({ ...answer, category: planned.category, latencyMs })
  }
}

// ---------------------------------------------------------------------------------------------
// Results

interface RunResult {
  readonly options: Options
  readonly recorder: Recorder
  readonly creditFallbacks: number
  readonly provisionS: number
  readonly serverCpuS: number | null
  /** CPU seconds of every other process on the machine in the window: noise, if any. */
  readonly otherCpuS: number | null
  readonly clientCpuS: number
  readonly metricsStart: BatchMetrics
  readonly metricsEnd: BatchMetrics
  readonly ledgerBalanced: boolean
  readonly loadBefore: number
}

function serverFigures(run: RunResult) {
  const { metricsStart: start, metricsEnd: end } = run
  const batches = end.batchSizeCount - start.batchSizeCount
  return {
    meanBatchSizeWindow: ratio(end.batchSizeSum - start.batchSizeSum, batches),
    meanBatchSizeOverall: ratio(end.batchSizeSum, end.batchSizeCount),
    batchesWindow: batches,
    meanBatchMsWindow: ratio(1000 * (end.batchSecondsSum - start.batchSecondsSum), batches, 2),
    busyRefusals: end.busy,
    cpuPercentWindow:
      run.serverCpuS === null ? null : ratio(100 * run.serverCpuS, run.options.durationS, 0),
  }
}

function summarise(run: RunResult) {
  const { options, recorder } = run
  const sorted = recorder.sortedLatencies()
  const count = recorder.samples
  const perSecond = [...recorder.perSecond]
  const declined = sumWhere(recorder.byOutcome, 'declined:')
  return {
    date: new Date().toISOString(),
    machine: machineAround(run.loadBefore),
    settings: {
      concurrency: options.concurrency,
      durationS: options.durationS,
      warmupS: options.warmupS,
      debitCards: options.debitCards,
      creditCards: options.creditCards,
      lowBalanceCards: options.lowBalanceCards,
      terminals: options.terminals,
      seed: options.seed,
      store: 'sqlite (WAL, synchronous=FULL)',
    },
    provisionS: round(run.provisionS, 1),
    throughputPerS: round(recorder.completedInWindow / options.durationS, 0),
    perSecondMin: Math.min(...perSecond),
    perSecondMax: Math.max(...perSecond),
    /** Robust to a few seconds stolen by other processes on a shared machine. */
    perSecondMedian: percentile(Float64Array.from(perSecond).sort(), 50),
    perSecond,
    requestsMeasured: count,
    latencyMs: {
      p50: round(percentile(sorted, 50)),
      p90: round(percentile(sorted, 90)),
      p99: round(percentile(sorted, 99)),
      max: round(percentile(sorted, 100)),
    },
    meanResponseBytes: round(ratio(recorder.responseChars, count), 0),
    approved: recorder.byOutcome.get('approved') ?? 0,
    declined,
    declinedPercent: ratio(100 * declined, count),
    errors: sumWhere(recorder.byOutcome, 'error:'),
    byStatus: sortedEntries(recorder.byStatus),
    byOutcome: sortedEntries(recorder.byOutcome),
    unexpected: Object.fromEntries([...recorder.unexpected].map(([c, m]) => [c, sortedEntries(m)])),
    creditFallbacks: run.creditFallbacks,
    server: serverFigures(run),
    client: { cpuPercentWindow: round((100 * run.clientCpuS) / options.durationS, 0) },
    otherProcessesCpuPercentWindow:
      run.otherCpuS === null ? null : Math.max(0, ratio(100 * run.otherCpuS, options.durationS, 0)),
    samplesDropped: recorder.samplesDropped,
    ledgerBalanced: run.ledgerBalanced,
  }
}

type Summary = ReturnType<typeof summarise>

function printTable(summary: Summary): void {
  const row = rowOf(38)
  const { settings: set, latencyMs: l, server, client } = summary
  const lines = [
    '',
    'Tollgate HTTP authorization benchmark (durable SQLite store)',
    ...headingRows(row, summary),
    row('concurrency / warm-up s / measured s', slash(set.concurrency, set.warmupS, set.durationS)),
    ...fleetRows(row, summary),
    '',
    row('throughput (authorizations/s)', summary.throughputPerS),
    row(
      '  per second: min / median / max',
      slash(summary.perSecondMin, summary.perSecondMedian, summary.perSecondMax),
    ),
    row('latency ms: p50 / p90 / p99 / max', slash(l.p50, l.p90, l.p99, l.max)),
    row('requests measured', summary.requestsMeasured),
    row('approved / declined', slash(summary.approved, summary.declined)),
    row('declined %', summary.declinedPercent),
    row('errors (no HTTP answer)', summary.errors),
    row('mean response size (bytes)', summary.meanResponseBytes),
    row(
      'mean batch size: window / whole run',
      slash(server.meanBatchSizeWindow, server.meanBatchSizeOverall),
    ),
    row('batches in window / mean batch ms', slash(server.batchesWindow, server.meanBatchMsWindow)),
    row(
      'CPU % of one core: server / bench',
      slash(server.cpuPercentWindow, client.cpuPercentWindow),
    ),
    row('CPU % of one core: other processes', summary.otherProcessesCpuPercentWindow ?? '?'),
    row('busy refusals (queue full)', server.busyRefusals),
    row('ledger balanced', summary.ledgerBalanced ? 'yes' : 'NO'),
    '',
    '  by HTTP status:',
    ...Object.entries(summary.byStatus).map(([k, v]) => row(`    ${k}`, v)),
    '  by outcome:',
    ...Object.entries(summary.byOutcome).map(([k, v]) => row(`    ${k}`, v)),
    ...verdictRows(row, summary.unexpected, summary.creditFallbacks),
  ]
  if (summary.samplesDropped > 0) lines.push(row('latency samples dropped', summary.samplesDropped))
  process.stdout.write(lines.join('\n') + '\n')
}

// ---------------------------------------------------------------------------------------------
// Main

async function runLoad(pool: Pool, traffic: Traffic, options: Options, server: ServerChild) {
  const window = measureWindow(options.warmupS, options.durationS)
  const recorder = new Recorder(window, options.durationS)
  const workers = Array.from({ length: options.concurrency }, () =>
    worker(pool, traffic, window, recorder),
  )
  await sleep(options.warmupS * 1_000)
  const metricsStart = await sampleMetrics(pool)
  const endCpuWindow = startCpuWindow(server.child.pid)
  await sleepUntil(window.endNs)
  const cpu = endCpuWindow()
  await Promise.all(workers)
  const { peerCpuS: serverCpuS, clientCpuS, otherCpuS } = cpu
  return { recorder, window, metricsStart, serverCpuS, clientCpuS, otherCpuS }
}

interface Report {
  readonly summary: Summary
  readonly profile: string[] | null
}

async function measure(
  server: ServerChild,
  pool: Pool,
  options: Options,
  loadBefore: number,
): Promise<Report> {
  await waitReady(server)
  const provisionStartMs = Date.now()
  const fleet = planFleet(options)
  await provision(pool, server.adminToken, fleet)
  if (options.noRiskRules)
    progress(`${await disableRiskRules(pool, server.adminToken)} risk rules disabled`)
  const provisionS = (Date.now() - provisionStartMs) / 1000
  const cards = fleet.debitPans.length + fleet.creditPans.length + fleet.lowBalancePans.length
  const terminals = fleet.terminalIds.length
  progress(`${terminals} terminals and ${cards} cards in ${provisionS.toFixed(1)} s; load running`)
  const traffic: Traffic = new PurchaseStream(fleet, options.seed, authorizationBody, false)
  const load = await runLoad(pool, traffic, options, server)
  progress('load done; reading metrics and checking the ledger')
  const metricsEnd = await sampleMetrics(pool)
  const balanced = await ledgerBalanced(pool, server.adminToken)
  const summary = summarise({
    options,
    recorder: load.recorder,
    creditFallbacks: traffic.creditFallbacks,
    provisionS,
    serverCpuS: load.serverCpuS,
    clientCpuS: load.clientCpuS,
    otherCpuS: load.otherCpuS,
    metricsStart: load.metricsStart,
    metricsEnd,
    ledgerBalanced: balanced,
    loadBefore,
  })
  await finishServer(server, pool, progress, 'server')
  const profile = options.profile ? summariseProfile(server.dataDir, load.window) : null
  return { summary, profile }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  const loadBefore = loadAverage1m()
  const { concurrency, warmupS, durationS } = options
  progress(`starting the server; concurrency ${concurrency}, ${warmupS} s warm-up + ${durationS} s`)
  const server = await startServer({
    tempPrefix: 'tollgate-bench-',
    env: { TOLLGATE_ISO_PORT: '0' },
    cpuProfile: options.profile,
  })
  const pool = openPool(server.origin, options.concurrency)
  const report = await withServer(
    server,
    pool,
    progress,
    () => measure(server, pool, options, loadBefore),
    'server',
  )
  if (options.json) {
    const json = { ...report.summary, profile: report.profile }
    process.stdout.write(JSON.stringify(json, null, 2) + '\n')
  } else {
    printTable(report.summary)
    if (report.profile !== null) process.stdout.write(`\n${report.profile.join('\n')}\n`)
  }
  if (!report.summary.ledgerBalanced) process.exitCode = 1
}

main().catch(exitOnFailure)
