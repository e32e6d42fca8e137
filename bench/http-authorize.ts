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
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Pool } from 'undici'
import { loadReferenceData, REFERENCE_DIR_DEFAULT } from '../src/adapters/reference/load-reference.js'
import { DEMO_CARDS, DEMO_MERCHANTS, DEMO_TERMINALS, DEMO_UNKNOWN_PAN } from '../src/app/demo-data.js'
import { assert } from '../src/core/assert.js'
import { luhnCheckDigit, validatePan } from '../src/core/card.js'
import type { BinTable } from '../src/core/reference/bin-table.js'

const CONCURRENCY_DEFAULT = 256
const CONCURRENCY_MAX = 4_096
const DURATION_S_DEFAULT = 20
const DURATION_S_MAX = 600
const WARMUP_S_DEFAULT = 3
const WARMUP_S_MAX = 60
const DEBIT_CARDS_DEFAULT = 2_000
const CREDIT_CARDS_DEFAULT = 500
const LOW_BALANCE_CARDS_DEFAULT = 100
const TERMINALS_DEFAULT = 50
const CARDS_MAX = 50_000
const TERMINALS_MAX = 9_999
const PROVISION_CONCURRENCY = 16
const READY_TIMEOUT_MS = 15_000
const REQUEST_TIMEOUT_MS = 10_000
const STOP_GRACE_MS = 15_000
const KILL_WAIT_MS = 3_000
const SERVER_OUTPUT_LINES_MAX = 40
const LATENCY_SAMPLES_MAX = 8_000_000
const STAN_MAX = 999_999
/** The demo credit rule allows 30 payments a day; stay one below it. */
const CREDIT_PAYMENTS_PER_CARD_MAX = 29
/** Debit: 100,000.00 a day per card; at most 199.99 each, 450 payments stay far below it. */
const DEBIT_PAYMENTS_PER_CARD_MAX = 450
const AMOUNT_MINOR_MIN = 100
const AMOUNT_MINOR_SPAN = 19_900
assert(DEBIT_PAYMENTS_PER_CARD_MAX * (AMOUNT_MINOR_MIN + AMOUNT_MINOR_SPAN) < 10_000_000, 'debit plan below the demo daily limit')
assert(CREDIT_PAYMENTS_PER_CARD_MAX * (AMOUNT_MINOR_MIN + AMOUNT_MINOR_SPAN) < 1_000_000, 'credit plan below the demo daily limit')

/** The benchmark's own merchant: approved, no limit rule names it or its terminals. */
const BENCH_MERCHANT = { id: '898310054119999', name: 'Bench Supermarket', mcc: '5411', status: 'approved', region: '310101', riskTier: 'low' }
const EXPIRY = '3012'

/** Real BINs from reference/cn-card-bin.csv with their card lengths; checked at start. */
const DEBIT_BINS = [
  { bin: '621226', length: 19 }, { bin: '622848', length: 19 }, { bin: '621700', length: 19 },
  { bin: '621661', length: 19 }, { bin: '622609', length: 16 }, { bin: '621483', length: 16 },
  { bin: '622260', length: 19 },
] as const
const CREDIT_BINS = [
  { bin: '524047', length: 16 }, { bin: '438088', length: 16 }, { bin: '625965', length: 16 },
  { bin: '622575', length: 16 }, { bin: '622155', length: 16 },
] as const

type Category = 'debit_purchase' | 'credit_purchase' | 'insufficient_funds' | 'blocked_card' | 'suspended_merchant' | 'amount_limit'

/** The mix, in percent, and what the server must answer for each kind of request. */
const MIX: readonly { readonly category: Category; readonly percent: number; readonly expected: string }[] = [
  { category: 'debit_purchase', percent: 70, expected: 'approved' },
  { category: 'credit_purchase', percent: 10, expected: 'approved' },
  { category: 'insufficient_funds', percent: 8, expected: 'declined:insufficient_funds' },
  { category: 'blocked_card', percent: 4, expected: 'declined:card_blocked' },
  { category: 'suspended_merchant', percent: 4, expected: 'declined:merchant_suspended' },
  { category: 'amount_limit', percent: 4, expected: 'declined:transaction_amount_limit_exceeded' },
]
assert(MIX.reduce((sum, m) => sum + m.percent, 0) === 100, 'the mix adds up to 100%')

interface Options {
  readonly concurrency: number
  readonly durationS: number
  readonly warmupS: number
  readonly debitCards: number
  readonly creditCards: number
  readonly lowBalanceCards: number
  readonly terminals: number
  readonly seed: number
  readonly json: boolean
  readonly profile: boolean
}

class UsageError extends Error {}

function integerOption(values: Readonly<Record<string, string | boolean | undefined>>, name: string, fallback: number, min: number, max: number): number {
  const raw = values[name]
  if (raw === undefined) return fallback
  const value = Number(raw)
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name}: expected an integer in ${min}..${max}, got ${String(raw)}`)
  }
  return value
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      concurrency: { type: 'string' }, duration: { type: 'string' }, warmup: { type: 'string' },
      'debit-cards': { type: 'string' }, 'credit-cards': { type: 'string' }, 'low-balance-cards': { type: 'string' },
      terminals: { type: 'string' }, seed: { type: 'string' }, json: { type: 'boolean' }, profile: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  })
  if (values.help === true) {
    process.stdout.write('npm run bench -- [--concurrency 256] [--duration 20] [--warmup 3] [--debit-cards 2000]\n' +
      '  [--credit-cards 500] [--low-balance-cards 100] [--terminals 50] [--seed 1] [--json] [--profile]\n')
    process.exit(0)
  }
  return {
    concurrency: integerOption(values, 'concurrency', CONCURRENCY_DEFAULT, 1, CONCURRENCY_MAX),
    durationS: integerOption(values, 'duration', DURATION_S_DEFAULT, 1, DURATION_S_MAX),
    warmupS: integerOption(values, 'warmup', WARMUP_S_DEFAULT, 0, WARMUP_S_MAX),
    debitCards: integerOption(values, 'debit-cards', DEBIT_CARDS_DEFAULT, 1, CARDS_MAX),
    creditCards: integerOption(values, 'credit-cards', CREDIT_CARDS_DEFAULT, 1, CARDS_MAX),
    lowBalanceCards: integerOption(values, 'low-balance-cards', LOW_BALANCE_CARDS_DEFAULT, 1, CARDS_MAX),
    terminals: integerOption(values, 'terminals', TERMINALS_DEFAULT, 1, TERMINALS_MAX),
    seed: integerOption(values, 'seed', 1, 0, 2 ** 31 - 1),
    json: values.json === true,
    profile: values.profile === true,
  }
}

/** Progress goes to stderr so that `--json` leaves stdout to the result. */
function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`)
}

// ---------------------------------------------------------------------------------------------
// The server child

interface ServerChild {
  readonly child: ChildProcess
  readonly origin: string
  readonly dataDir: string
  readonly adminToken: string
  readonly output: string[]
  readonly exited: Promise<number | null>
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port was assigned'))))
    })
  })
}

function keepLines(sink: string[], chunk: Buffer): void {
  for (const line of chunk.toString('utf8').split('\n')) {
    if (line.trim() === '') continue
    sink.push(line)
    if (sink.length > SERVER_OUTPUT_LINES_MAX) sink.shift()
  }
}

async function startServer(options: Options): Promise<ServerChild> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-bench-'))
  const port = await freePort()
  const adminToken = randomBytes(24).toString('hex')
  const root = fileURLToPath(new URL('../../', import.meta.url))
  const entry = fileURLToPath(new URL('../src/cli/main.js', import.meta.url))
  const nodeArgs = options.profile ? ['--cpu-prof', '--cpu-prof-dir', dataDir] : []
  const child = spawn(process.execPath, [...nodeArgs, entry, 'serve'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      TOLLGATE_DATA_DIR: dataDir, TOLLGATE_HTTP_HOST: '127.0.0.1', TOLLGATE_HTTP_PORT: String(port),
      TOLLGATE_ADMIN_TOKEN: adminToken, TOLLGATE_LOG_LEVEL: 'warn', TOLLGATE_DEMO_DATA: 'on',
    },
  })
  const output: string[] = []
  child.stdout?.on('data', (chunk: Buffer) => keepLines(output, chunk))
  child.stderr?.on('data', (chunk: Buffer) => keepLines(output, chunk))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { child, origin: `http://127.0.0.1:${port}`, dataDir, adminToken, output, exited }
}

async function waitReady(server: ServerChild): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  let exitCode: number | null | undefined
  void server.exited.then((code) => { exitCode = code })
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`server exited with ${String(exitCode)} before it was ready:\n${server.output.join('\n')}`)
    try {
      const response = await fetch(`${server.origin}/readyz`, { signal: AbortSignal.timeout(1_000) })
      if (response.status === 200) return
    } catch {
      // Not listening yet: try again shortly.
    }
    await sleep(100)
  }
  throw new Error(`server not ready within ${READY_TIMEOUT_MS} ms:\n${server.output.join('\n')}`)
}

/** SIGTERM (the server drains and exits), then SIGKILL after a bound. */
async function stopServer(server: ServerChild): Promise<number | null> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return server.child.exitCode
  server.child.kill('SIGTERM')
  const graceful = await Promise.race([server.exited, sleep(STOP_GRACE_MS, 'timeout' as const)])
  if (graceful !== 'timeout') return graceful
  progress(`server did not stop within ${STOP_GRACE_MS} ms: SIGKILL`)
  server.child.kill('SIGKILL')
  const killed = await Promise.race([server.exited, sleep(KILL_WAIT_MS, 'timeout' as const)])
  return killed === 'timeout' ? null : killed
}

/** The child's user + system CPU time in seconds, from /proc (Linux); null elsewhere. */
function processCpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // After the command name: state is field 3, utime field 14 and stime field 15 (1-based).
    const ticks = Number(fields[11]) + Number(fields[12])
    const CLOCK_TICKS_PER_SECOND = 100
    return Number.isFinite(ticks) ? ticks / CLOCK_TICKS_PER_SECOND : null
  } catch {
    return null
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers and provisioning

interface Answer {
  readonly status: number
  readonly body: unknown
}

async function call(pool: Pool, method: 'GET' | 'POST', path: string, token: string | null, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = {}
  if (token !== null) headers.authorization = `Bearer ${token}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  const response = await pool.request({
    method, path, headers, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await response.body.text()
  const type = response.headers['content-type']
  const isJson = typeof type === 'string' && type.includes('json')
  return { status: response.statusCode, body: isJson ? (JSON.parse(text) as unknown) : text }
}

async function expectCreated(pool: Pool, token: string, path: string, body: unknown, what: string): Promise<void> {
  const answer = await call(pool, 'POST', path, token, body)
  if (answer.status !== 201) throw new Error(`creating ${what}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`)
}

/** Runs `work` over `items` with at most `limit` at a time. */
async function forEachBounded<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next]
      next += 1
      if (item !== undefined) await work(item)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

/**
 * Card numbers from real BINs: BIN, a role digit, a serial, and the Luhn check digit, each
 * validated as the server will (length for the BIN, Luhn, card type).
 */
function generatePans(bins: BinTable, specs: readonly { bin: string; length: number }[], roleDigit: string, type: 'debit' | 'credit', count: number, reserved: ReadonlySet<string>): string[] {
  const pans: string[] = []
  const attemptsMax = count * 4 + 100
  for (let serial = 0; serial < attemptsMax && pans.length < count; serial += 1) {
    const spec = specs[serial % specs.length]
    assert(spec !== undefined, 'a BIN spec')
    const body = spec.bin + roleDigit + String(serial).padStart(spec.length - spec.bin.length - 2, '0')
    const pan = body + luhnCheckDigit(body)
    const checked = validatePan(pan, bins)
    if (!checked.ok || checked.bin?.cardType !== type || reserved.has(pan)) continue
    pans.push(pan)
  }
  if (pans.length < count) throw new Error(`could generate only ${pans.length} of ${count} ${type} card numbers`)
  return pans
}

interface Fleet {
  readonly terminalIds: readonly string[]
  readonly debitPans: readonly string[]
  readonly creditPans: readonly string[]
  readonly lowBalancePans: readonly string[]
}

async function provision(pool: Pool, token: string, options: Options): Promise<Fleet> {
  const bins = loadReferenceData(REFERENCE_DIR_DEFAULT).bins
  const reserved = new Set<string>([...Object.values(DEMO_CARDS).map((c) => c.pan), DEMO_UNKNOWN_PAN])
  const debitPans = generatePans(bins, DEBIT_BINS, '7', 'debit', options.debitCards, reserved)
  const lowBalancePans = generatePans(bins, DEBIT_BINS, '8', 'debit', options.lowBalanceCards, reserved)
  const creditPans = generatePans(bins, CREDIT_BINS, '7', 'credit', options.creditCards, reserved)
  const terminalIds = Array.from({ length: options.terminals }, (_, i) => `2${String(i + 1).padStart(7, '0')}`)

  await expectCreated(pool, token, '/v1/merchants', BENCH_MERCHANT, 'the bench merchant')
  await forEachBounded(terminalIds, PROVISION_CONCURRENCY, (id) =>
    expectCreated(pool, token, '/v1/terminals', { id, merchantId: BENCH_MERCHANT.id, status: 'active', region: '310101' }, `terminal ${id}`))
  const cards = [
    ...debitPans.map((pan) => ({ pan, expiry: EXPIRY, type: 'debit', balance: '1000000.00' })),
    ...lowBalancePans.map((pan) => ({ pan, expiry: EXPIRY, type: 'debit', balance: '0.50' })),
    ...creditPans.map((pan) => ({ pan, expiry: EXPIRY, type: 'credit', creditLimit: '50000.00' })),
  ]
  await forEachBounded(cards, PROVISION_CONCURRENCY, (card) =>
    expectCreated(pool, token, '/v1/cards', card, `a ${card.type} card ${card.pan.slice(0, 6)}…`))
  return { terminalIds, debitPans, creditPans, lowBalancePans }
}

// ---------------------------------------------------------------------------------------------
// Traffic

/** A small seeded generator (mulberry32): the same seed gives the same request sequence. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** Minor units as a decimal string, by string arithmetic: 12345 → "123.45". */
function amountText(minor: number): string {
  assert(Number.isSafeInteger(minor) && minor > 0, 'a positive amount')
  const digits = String(minor).padStart(3, '0')
  return `${digits.slice(0, -2)}.${digits.slice(-2)}`
}

interface Planned {
  readonly category: Category
  readonly body: string
}

/**
 * Builds the requests: every STAN is unique per terminal (a counter per terminal), cards are
 * used round-robin and no card is asked for more than its limits allow, so every decline is
 * one the mix intends.
 */
class Traffic {
  private readonly random: () => number
  private readonly stans = new Map<string, number>()
  private terminalNext = 0
  private debitSent = 0
  private creditSent = 0
  private lowSent = 0
  /** Credit requests that went to a debit card because the credit cards had used their day. */
  creditFallbacks = 0

  constructor(private readonly fleet: Fleet, seed: number) {
    this.random = seededRandom(seed)
  }

  next(): Planned | null {
    const category = this.pickCategory()
    switch (category) {
      case 'debit_purchase':
        return this.debit(category)
      case 'credit_purchase':
        return this.credit()
      case 'insufficient_funds': {
        const pan = this.fleet.lowBalancePans[this.lowSent++ % this.fleet.lowBalancePans.length]
        return pan === undefined ? null : this.purchase(category, this.benchTerminal(), BENCH_MERCHANT.id, pan, this.smallAmount())
      }
      case 'blocked_card':
        return this.purchase(category, this.benchTerminal(), BENCH_MERCHANT.id, DEMO_CARDS.listed.pan, this.smallAmount(), DEMO_CARDS.listed.expiry)
      case 'suspended_merchant':
        return this.debit(category, DEMO_TERMINALS.fuel.id, DEMO_MERCHANTS.fuel.id)
      case 'amount_limit':
        // Above the noodle house's 2,000.00 per payment, far below the debit card limits.
        return this.debit(category, DEMO_TERMINALS.noodles.id, DEMO_MERCHANTS.noodles.id, 200_001 + Math.floor(this.random() * 99_000))
    }
  }

  private pickCategory(): Category {
    let roll = this.random() * 100
    for (const entry of MIX) {
      roll -= entry.percent
      if (roll < 0) return entry.category
    }
    return 'debit_purchase'
  }

  private smallAmount(): number {
    return AMOUNT_MINOR_MIN + Math.floor(this.random() * AMOUNT_MINOR_SPAN)
  }

  private benchTerminal(): string {
    const id = this.fleet.terminalIds[this.terminalNext++ % this.fleet.terminalIds.length]
    assert(id !== undefined, 'a bench terminal')
    return id
  }

  private debit(category: Category, terminalId?: string, merchantId?: string, amountMinor?: number): Planned | null {
    // Round-robin: each debit card's share of the day stays below DEBIT_PAYMENTS_PER_CARD_MAX.
    if (this.debitSent >= this.fleet.debitPans.length * DEBIT_PAYMENTS_PER_CARD_MAX) return null
    const pan = this.fleet.debitPans[this.debitSent++ % this.fleet.debitPans.length]
    if (pan === undefined) return null
    return this.purchase(category, terminalId ?? this.benchTerminal(), merchantId ?? BENCH_MERCHANT.id, pan, amountMinor ?? this.smallAmount())
  }

  private credit(): Planned | null {
    if (this.creditSent >= this.fleet.creditPans.length * CREDIT_PAYMENTS_PER_CARD_MAX) {
      this.creditFallbacks += 1
      return this.debit('credit_purchase')
    }
    const pan = this.fleet.creditPans[this.creditSent++ % this.fleet.creditPans.length]
    return pan === undefined ? null : this.purchase('credit_purchase', this.benchTerminal(), BENCH_MERCHANT.id, pan, this.smallAmount())
  }

  private purchase(category: Category, terminalId: string, merchantId: string, pan: string, amountMinor: number, expiry = EXPIRY): Planned {
    const stan = (this.stans.get(terminalId) ?? 0) + 1
    if (stan > STAN_MAX) throw new Error(`terminal ${terminalId} used all ${STAN_MAX} STANs of the day`)
    this.stans.set(terminalId, stan)
    const body = {
      kind: 'purchase', terminalId, merchantId, stan: String(stan).padStart(6, '0'),
      card: { pan, expiry }, amount: amountText(amountMinor), currency: 'CNY',
    }
    return { category, body: JSON.stringify(body) }
  }
}

// ---------------------------------------------------------------------------------------------
// Load and measurement

function increment<K>(map: Map<K, number>, key: K, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by)
}

/** "approved", "declined:<reason>", "<status>:<problem code>" or "error:<code>". */
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
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code
  return error instanceof Error ? error.name : 'unknown'
}

class Recorder {
  readonly latenciesMs = new Float64Array(LATENCY_SAMPLES_MAX)
  samples = 0
  samplesDropped = 0
  completedInWindow = 0
  readonly byStatus = new Map<string, number>()
  readonly byOutcome = new Map<string, number>()
  readonly byCategory = new Map<Category, { sent: number; asExpected: number; unexpected: Map<string, number> }>()
  readonly perSecond: Uint32Array

  constructor(durationS: number) {
    this.perSecond = new Uint32Array(durationS + 1)
  }

  record(category: Category, status: string, outcome: string, latencyMs: number, secondIndex: number, inWindow: boolean): void {
    if (this.samples < this.latenciesMs.length) this.latenciesMs[this.samples++] = latencyMs
    else this.samplesDropped += 1
    if (inWindow) {
      this.completedInWindow += 1
      if (secondIndex >= 0 && secondIndex < this.perSecond.length) this.perSecond[secondIndex] = (this.perSecond[secondIndex] ?? 0) + 1
    }
    increment(this.byStatus, status)
    increment(this.byOutcome, outcome)
    let entry = this.byCategory.get(category)
    if (entry === undefined) {
      entry = { sent: 0, asExpected: 0, unexpected: new Map() }
      this.byCategory.set(category, entry)
    }
    entry.sent += 1
    const expected = MIX.find((m) => m.category === category)?.expected
    if (outcome === expected) entry.asExpected += 1
    else increment(entry.unexpected, outcome)
  }
}

interface MeasureWindow {
  readonly measureStartNs: bigint
  readonly endNs: bigint
}

async function worker(pool: Pool, traffic: Traffic, window: MeasureWindow, recorder: Recorder): Promise<void> {
  const headers = { 'content-type': 'application/json' }
  while (process.hrtime.bigint() < window.endNs) {
    const planned = traffic.next()
    if (planned === null) return
    const startNs = process.hrtime.bigint()
    let status: string
    let outcome: string
    try {
      const response = await pool.request({
        method: 'POST', path: '/v1/authorizations', headers, body: planned.body,
        headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS,
      })
      const text = await response.body.text()
      status = String(response.statusCode)
      outcome = outcomeOf(response.statusCode, text)
    } catch (error) {
      status = 'error'
      outcome = `error:${errorCode(error)}`
    }
    const doneNs = process.hrtime.bigint()
    if (startNs < window.measureStartNs) continue
    const inWindow = doneNs <= window.endNs
    const secondIndex = Number((doneNs - window.measureStartNs) / 1_000_000_000n)
    recorder.record(planned.category, status, outcome, Number(doneNs - startNs) / 1e6, secondIndex, inWindow)
  }
}

// ---------------------------------------------------------------------------------------------
// Server metrics, results and the profile summary

interface BatchMetrics {
  readonly batchSizeSum: number
  readonly batchSizeCount: number
  readonly batchSecondsSum: number
  readonly busy: number
}

async function sampleMetrics(pool: Pool): Promise<BatchMetrics> {
  const answer = await call(pool, 'GET', '/metrics', null)
  const text = typeof answer.body === 'string' ? answer.body : ''
  const read = (name: string): number => {
    const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)
    return match?.[1] === undefined ? 0 : Number(match[1])
  }
  return {
    batchSizeSum: read('tollgate_batch_size_sum'),
    batchSizeCount: read('tollgate_batch_size_count'),
    batchSecondsSum: read('tollgate_batch_seconds_sum'),
    busy: read('tollgate_busy_total'),
  }
}

function percentile(sorted: Float64Array, count: number, p: number): number {
  if (count === 0) return 0
  const rank = Math.min(count - 1, Math.max(0, Math.ceil((p / 100) * count) - 1))
  return sorted[rank] ?? 0
}

const round = (value: number, digits = 2): number => Number(value.toFixed(digits))

function sortedEntries(map: ReadonlyMap<string, number>): Record<string, number> {
  return Object.fromEntries([...map].sort((a, b) => b[1] - a[1]))
}

interface RunContext {
  readonly options: Options
  readonly recorder: Recorder
  readonly traffic: Traffic
  readonly fleet: Fleet
  readonly provisionS: number
  readonly serverCpuS: number | null
  readonly clientCpuS: number
  readonly metricsStart: BatchMetrics
  readonly metricsEnd: BatchMetrics
  readonly ledger: unknown
}

function summarise(run: RunContext) {
  const { options, recorder } = run
  const sorted = recorder.latenciesMs.subarray(0, recorder.samples).sort()
  const count = recorder.samples
  const windowBatches = run.metricsEnd.batchSizeCount - run.metricsStart.batchSizeCount
  const windowRequests = run.metricsEnd.batchSizeSum - run.metricsStart.batchSizeSum
  const perSecond = [...recorder.perSecond.subarray(0, options.durationS)]
  const approved = recorder.byOutcome.get('approved') ?? 0
  const declined = [...recorder.byOutcome].filter(([k]) => k.startsWith('declined:')).reduce((s, [, n]) => s + n, 0)
  const ledger = run.ledger as { balanced?: unknown } | null
  return {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version },
    settings: {
      concurrency: options.concurrency, durationS: options.durationS, warmupS: options.warmupS,
      debitCards: options.debitCards, creditCards: options.creditCards, lowBalanceCards: options.lowBalanceCards,
      terminals: options.terminals, seed: options.seed, store: 'sqlite (WAL, synchronous=FULL)',
    },
    provisionS: round(run.provisionS, 1),
    throughputPerS: round(recorder.completedInWindow / options.durationS, 0),
    perSecondMin: Math.min(...perSecond),
    perSecondMax: Math.max(...perSecond),
    requestsMeasured: count,
    latencyMs: {
      p50: round(percentile(sorted, count, 50)), p90: round(percentile(sorted, count, 90)),
      p99: round(percentile(sorted, count, 99)), max: round(percentile(sorted, count, 100)),
    },
    approved, declined,
    declinedPercent: count === 0 ? 0 : round((100 * declined) / count, 1),
    byStatus: sortedEntries(recorder.byStatus),
    byOutcome: sortedEntries(recorder.byOutcome),
    unexpected: Object.fromEntries([...recorder.byCategory].filter(([, e]) => e.unexpected.size > 0).map(([c, e]) => [c, sortedEntries(e.unexpected)])),
    errors: [...recorder.byOutcome].filter(([k]) => k.startsWith('error:')).reduce((s, [, n]) => s + n, 0),
    creditFallbacks: run.traffic.creditFallbacks,
    server: {
      meanBatchSizeWindow: windowBatches === 0 ? 0 : round(windowRequests / windowBatches, 1),
      meanBatchSizeOverall: run.metricsEnd.batchSizeCount === 0 ? 0 : round(run.metricsEnd.batchSizeSum / run.metricsEnd.batchSizeCount, 1),
      batchesWindow: windowBatches,
      meanBatchMsWindow: windowBatches === 0 ? 0 : round((1000 * (run.metricsEnd.batchSecondsSum - run.metricsStart.batchSecondsSum)) / windowBatches, 2),
      busyRefusals: run.metricsEnd.busy,
      cpuPercentWindow: run.serverCpuS === null ? null : round((100 * run.serverCpuS) / options.durationS, 0),
    },
    client: { cpuPercentWindow: round((100 * run.clientCpuS) / options.durationS, 0) },
    samplesDropped: recorder.samplesDropped,
    ledgerBalanced: ledger !== null && ledger.balanced === true,
  }
}

type Summary = ReturnType<typeof summarise>

function printTable(summary: Summary): void {
  const row = (label: string, value: string | number): string => `  ${label.padEnd(34)} ${String(value)}`
  const lines = [
    '',
    'Tollgate HTTP authorization benchmark (durable SQLite store)',
    row('date', summary.date),
    row('machine', `${summary.machine.cpus} × ${summary.machine.cpuModel}, Node ${summary.machine.node}`),
    row('settings', `concurrency ${summary.settings.concurrency}, ${summary.settings.durationS} s measured after ${summary.settings.warmupS} s warm-up`),
    row('fleet', `${summary.settings.terminals} terminals; ${summary.settings.debitCards} debit, ${summary.settings.creditCards} credit, ${summary.settings.lowBalanceCards} low-balance cards (provisioned in ${summary.provisionS} s)`),
    '',
    row('throughput (authorizations/s)', `${summary.throughputPerS}   (per second: min ${summary.perSecondMin}, max ${summary.perSecondMax})`),
    row('latency p50 / p90 / p99 / max (ms)', `${summary.latencyMs.p50} / ${summary.latencyMs.p90} / ${summary.latencyMs.p99} / ${summary.latencyMs.max}`),
    row('requests measured', summary.requestsMeasured),
    row('approved / declined', `${summary.approved} / ${summary.declined} (${summary.declinedPercent}% declined)`),
    row('errors (no HTTP answer)', summary.errors),
    row('mean batch size (window / overall)', `${summary.server.meanBatchSizeWindow} / ${summary.server.meanBatchSizeOverall}`),
    row('batches in window, mean batch time', `${summary.server.batchesWindow}, ${summary.server.meanBatchMsWindow} ms`),
    row('server CPU, client CPU (window)', `${summary.server.cpuPercentWindow ?? '?'}%, ${summary.client.cpuPercentWindow}% (of one core)`),
    row('busy refusals (queue full)', summary.server.busyRefusals),
    row('ledger balanced', summary.ledgerBalanced ? 'yes' : 'NO'),
    '',
    '  by HTTP status:',
    ...Object.entries(summary.byStatus).map(([k, v]) => row(`    ${k}`, v)),
    '  by outcome:',
    ...Object.entries(summary.byOutcome).map(([k, v]) => row(`    ${k}`, v)),
  ]
  const unexpected = Object.entries(summary.unexpected)
  lines.push(unexpected.length === 0 ? '  every answer was the one the mix intended' : '  UNEXPECTED answers:')
  for (const [category, outcomes] of unexpected) lines.push(row(`    ${category}`, JSON.stringify(outcomes)))
  if (summary.creditFallbacks > 0) lines.push(row('  credit requests sent to debit cards', summary.creditFallbacks))
  if (summary.samplesDropped > 0) lines.push(row('  latency samples dropped', summary.samplesDropped))
  process.stdout.write(lines.join('\n') + '\n')
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[]
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
  readonly startTime: number
}

/** Where a frame's code lives: a package, a Tollgate directory, a Node module or the VM. */
function areaOf(frame: ProfileNode['callFrame']): string {
  const packaged = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(frame.url)
  if (packaged?.[1] !== undefined) return packaged[1]
  const own = /\/dist\/src\/([^/]+\/[^/]+)\//.exec(frame.url) ?? /\/dist\/src\/([^/]+)\//.exec(frame.url)
  if (own?.[1] !== undefined) return `tollgate ${own[1]}`
  if (frame.url.startsWith('node:')) return frame.url.split('/')[0] ?? frame.url
  if (frame.url === '') return frame.functionName.startsWith('(') ? frame.functionName : 'native'
  return 'other'
}

/** Self time by function and by area over the measured window (same monotonic clock). */
function summariseProfile(dataDir: string, window: MeasureWindow): string {
  const file = readdirSync(dataDir).find((name) => name.endsWith('.cpuprofile'))
  if (file === undefined) return '  (no .cpuprofile was written)'
  const profile = JSON.parse(readFileSync(join(dataDir, file), 'utf8')) as CpuProfile
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
  const startUs = Number(window.measureStartNs / 1_000n)
  const endUs = Number(window.endNs / 1_000n)
  const byFunction = new Map<string, number>()
  const byArea = new Map<string, number>()
  let timeUs = profile.startTime
  let totalUs = 0
  profile.samples.forEach((id, index) => {
    const deltaUs = profile.timeDeltas[index] ?? 0
    timeUs += deltaUs
    const node = nodes.get(id)
    if (node === undefined || timeUs < startUs || timeUs > endUs) return
    const frame = node.callFrame
    const where = frame.url === '' ? '' : ` ${frame.url.replace(/^.*\/(node_modules|dist)\//, '')}:${frame.lineNumber + 1}`
    increment(byFunction, `${frame.functionName === '' ? '(anonymous)' : frame.functionName}${where}`, deltaUs)
    increment(byArea, areaOf(frame), deltaUs)
    totalUs += deltaUs
  })
  if (totalUs === 0) return `  (no samples inside the measured window in ${file})`
  const top = (map: Map<string, number>, n: number): string[] =>
    [...map].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, us]) => `    ${((100 * us) / totalUs).toFixed(1).padStart(5)}%  ${k}`)
  return ['  server self time by area (measured window):', ...top(byArea, 15),
    '  top functions by self time:', ...top(byFunction, 25)].join('\n')
}

// ---------------------------------------------------------------------------------------------
// Main

async function runLoad(pool: Pool, traffic: Traffic, options: Options, server: ServerChild) {
  const recorder = new Recorder(options.durationS)
  const startNs = process.hrtime.bigint()
  const window: MeasureWindow = {
    measureStartNs: startNs + BigInt(options.warmupS) * 1_000_000_000n,
    endNs: startNs + BigInt(options.warmupS + options.durationS) * 1_000_000_000n,
  }
  const workers = Array.from({ length: options.concurrency }, () => worker(pool, traffic, window, recorder))
  await sleep(options.warmupS * 1_000)
  const metricsStart = await sampleMetrics(pool)
  const serverCpuStart = processCpuSeconds(server.child.pid)
  const clientCpuStart = process.cpuUsage()
  await sleep(Number((window.endNs - process.hrtime.bigint()) / 1_000_000n))
  const serverCpuEnd = processCpuSeconds(server.child.pid)
  const clientCpu = process.cpuUsage(clientCpuStart)
  await Promise.all(workers)
  return {
    recorder, window, metricsStart,
    serverCpuS: serverCpuStart === null || serverCpuEnd === null ? null : serverCpuEnd - serverCpuStart,
    clientCpuS: (clientCpu.user + clientCpu.system) / 1e6,
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  progress(`starting the server (concurrency ${options.concurrency}, ${options.warmupS} s warm-up + ${options.durationS} s)`)
  const server = await startServer(options)
  const pool = new Pool(server.origin, {
    connections: options.concurrency, pipelining: 1,
    headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS, connectTimeout: REQUEST_TIMEOUT_MS,
  })
  const onSignal = () => void stopServer(server).finally(() => process.exit(130))
  process.once('SIGINT', onSignal)
  let summary: Summary | null = null
  let profileText: string | null = null
  try {
    await waitReady(server)
    const provisionStart = Date.now()
    const fleet = await provision(pool, server.adminToken, options)
    const provisionS = (Date.now() - provisionStart) / 1000
    progress(`provisioned ${options.terminals} terminals and ${fleet.debitPans.length + fleet.creditPans.length + fleet.lowBalancePans.length} cards in ${provisionS.toFixed(1)} s; load running`)
    const traffic = new Traffic(fleet, options.seed)
    const load = await runLoad(pool, traffic, options, server)
    const metricsEnd = await sampleMetrics(pool)
    const ledger = await call(pool, 'GET', '/v1/ledger/check', server.adminToken)
    if (ledger.status !== 200) throw new Error(`ledger check: HTTP ${ledger.status}`)
    summary = summarise({ options, recorder: load.recorder, traffic, fleet, provisionS, serverCpuS: load.serverCpuS, clientCpuS: load.clientCpuS, metricsStart: load.metricsStart, metricsEnd, ledger: ledger.body })
    await pool.close()
    const exitCode = await stopServer(server)
    if (exitCode !== 0) progress(`server exited with ${String(exitCode)}`)
    if (options.profile) profileText = summariseProfile(server.dataDir, load.window)
  } finally {
    process.removeListener('SIGINT', onSignal)
    await pool.destroy().catch(() => undefined)
    await stopServer(server)
    rmSync(server.dataDir, { recursive: true, force: true })
  }
  if (options.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n')
  else printTable(summary)
  if (profileText !== null) process.stdout.write(profileText + '\n')
  if (!summary.ledgerBalanced) process.exitCode = 1
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`${error.message}\n`)
    process.exit(2)
  }
  process.stderr.write(`benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exit(1)
})
