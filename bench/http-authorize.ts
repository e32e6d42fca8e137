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
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Pool } from 'undici'
import {
  loadReferenceData,
  REFERENCE_DIR_DEFAULT,
} from '../src/adapters/reference/load-reference.js'
import {
  DEMO_CARDS,
  DEMO_MERCHANTS,
  DEMO_TERMINALS,
  DEMO_UNKNOWN_PAN,
} from '../src/app/demo-data.js'
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
const CLOCK_TICKS_PER_SECOND = 100
const PROFILE_AREAS_SHOWN = 15
const PROFILE_FUNCTIONS_SHOWN = 25
/** The demo credit rule allows 30 payments a day; stay one below it. */
const CREDIT_PAYMENTS_PER_CARD_MAX = 29
/** Debit: 100,000.00 a day per card; 450 payments of at most 199.99 stay far below it. */
const DEBIT_PAYMENTS_PER_CARD_MAX = 450
/** Everyday amounts: 1.00 to 199.99. */
const AMOUNT_MINOR_MIN = 100
const AMOUNT_MINOR_SPAN = 19_900
/** Above the noodle house's 2,000.00 per payment: 2,000.01 to 2,990.00. */
const OVER_LIMIT_MINOR_MIN = 200_001
const OVER_LIMIT_MINOR_SPAN = 99_000
assert(
  DEBIT_PAYMENTS_PER_CARD_MAX * (AMOUNT_MINOR_MIN + AMOUNT_MINOR_SPAN) < 10_000_000,
  'the debit plan stays below the demo daily limit of 100,000.00',
)
assert(
  CREDIT_PAYMENTS_PER_CARD_MAX * (AMOUNT_MINOR_MIN + AMOUNT_MINOR_SPAN) < 1_000_000,
  'the credit plan stays below the demo daily limit of 10,000.00',
)

/** The benchmark's own merchant: approved, no limit rule names it or its terminals. */
const BENCH_MERCHANT = {
  id: '898310054119999', name: 'Bench Supermarket', mcc: '5411', status: 'approved',
  region: '310101', riskTier: 'low',
}
const EXPIRY = '3012'

/** Real BINs from reference/cn-card-bin.csv with their card lengths; every number is checked. */
const DEBIT_BINS = [
  { bin: '621226', length: 19 }, { bin: '622848', length: 19 }, { bin: '621700', length: 19 },
  { bin: '621661', length: 19 }, { bin: '622609', length: 16 }, { bin: '621483', length: 16 },
  { bin: '622260', length: 19 },
] as const
const CREDIT_BINS = [
  { bin: '524047', length: 16 }, { bin: '438088', length: 16 }, { bin: '625965', length: 16 },
  { bin: '622575', length: 16 }, { bin: '622155', length: 16 },
] as const

type Category =
  | 'debit_purchase'
  | 'credit_purchase'
  | 'insufficient_funds'
  | 'blocked_card'
  | 'suspended_merchant'
  | 'amount_limit'

interface MixEntry {
  readonly category: Category
  readonly percent: number
  /** What the server must answer: "approved" or "declined:<reason>". */
  readonly expected: string
}

/** The mix, in percent of requests. */
const MIX: readonly MixEntry[] = [
  { category: 'debit_purchase', percent: 70, expected: 'approved' },
  { category: 'credit_purchase', percent: 10, expected: 'approved' },
  { category: 'insufficient_funds', percent: 8, expected: 'declined:insufficient_funds' },
  { category: 'blocked_card', percent: 4, expected: 'declined:card_blocked' },
  { category: 'suspended_merchant', percent: 4, expected: 'declined:merchant_suspended' },
  { category: 'amount_limit', percent: 4, expected: 'declined:transaction_amount_limit_exceeded' },
]
assert(MIX.reduce((sum, m) => sum + m.percent, 0) === 100, 'the mix adds up to 100%')
const EXPECTED = new Map(MIX.map((m) => [m.category, m.expected]))

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

const USAGE = `npm run bench -- [options]
  --concurrency <n>        requests in flight (default ${CONCURRENCY_DEFAULT})
  --duration <s>           measured seconds (default ${DURATION_S_DEFAULT})
  --warmup <s>             seconds of load before measuring (default ${WARMUP_S_DEFAULT})
  --debit-cards <n>        well-funded debit cards (default ${DEBIT_CARDS_DEFAULT})
  --credit-cards <n>       credit cards (default ${CREDIT_CARDS_DEFAULT})
  --low-balance-cards <n>  debit cards holding 0.50 (default ${LOW_BALANCE_CARDS_DEFAULT})
  --terminals <n>          terminals of the bench merchant (default ${TERMINALS_DEFAULT})
  --seed <n>               seed of the request mix (default 1)
  --json                   print the result as JSON
  --profile                run the server with --cpu-prof and summarise its self time
`

class UsageError extends Error {}

type OptionValues = Readonly<Record<string, string | boolean | undefined>>

function integerOption(
  values: OptionValues,
  name: string,
  fallback: number,
  max: number,
  min = 1,
): number {
  const raw = values[name]
  if (raw === undefined) return fallback
  const value = Number(raw)
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name}: expected an integer in ${min}..${max}, got ${String(raw)}`)
  }
  return value
}

function parseOptions(argv: readonly string[]): Options {
  const text = { type: 'string' } as const
  const flag = { type: 'boolean' } as const
  const options = {
    concurrency: text, duration: text, warmup: text, 'debit-cards': text, 'credit-cards': text,
    'low-balance-cards': text, terminals: text, seed: text, json: flag, profile: flag, help: flag,
  }
  let values: OptionValues
  try {
    values = parseArgs({ args: [...argv], strict: true, options }).values
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause)
    throw new UsageError(`${message}\n\n${USAGE}`, { cause })
  }
  if (values.help === true) {
    process.stdout.write(USAGE)
    process.exit(0)
  }
  return {
    concurrency: integerOption(values, 'concurrency', CONCURRENCY_DEFAULT, CONCURRENCY_MAX),
    durationS: integerOption(values, 'duration', DURATION_S_DEFAULT, DURATION_S_MAX),
    warmupS: integerOption(values, 'warmup', WARMUP_S_DEFAULT, WARMUP_S_MAX, 0),
    debitCards: integerOption(values, 'debit-cards', DEBIT_CARDS_DEFAULT, CARDS_MAX),
    creditCards: integerOption(values, 'credit-cards', CREDIT_CARDS_DEFAULT, CARDS_MAX),
    lowBalanceCards: integerOption(
      values, 'low-balance-cards', LOW_BALANCE_CARDS_DEFAULT, CARDS_MAX,
    ),
    terminals: integerOption(values, 'terminals', TERMINALS_DEFAULT, TERMINALS_MAX),
    seed: integerOption(values, 'seed', 1, 2 ** 31 - 1, 0),
    json: values.json === true,
    profile: values.profile === true,
  }
}

const BENCH_STARTED_MS = Date.now()

/** Progress goes to stderr so that `--json` leaves stdout to the result. */
function progress(message: string): void {
  const elapsedS = ((Date.now() - BENCH_STARTED_MS) / 1000).toFixed(1).padStart(5)
  process.stderr.write(`[bench ${elapsedS} s] ${message}\n`)
}

// ---------------------------------------------------------------------------------------------
// The server child

interface ServerChild {
  readonly child: ChildProcess
  readonly origin: string
  readonly dataDir: string
  readonly adminToken: string
  /** The last lines the server printed, shown if it fails to start. */
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
      TOLLGATE_DATA_DIR: dataDir,
      TOLLGATE_HTTP_HOST: '127.0.0.1',
      TOLLGATE_HTTP_PORT: String(port),
      TOLLGATE_ISO_PORT: '0',
      TOLLGATE_ADMIN_TOKEN: adminToken,
      TOLLGATE_LOG_LEVEL: 'warn',
      TOLLGATE_DEMO_DATA: 'on',
    },
  })
  const output: string[] = []
  child.stdout?.on('data', (chunk: Buffer) => keepLines(output, chunk))
  child.stderr?.on('data', (chunk: Buffer) => keepLines(output, chunk))
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code))
  })
  return { child, origin: `http://127.0.0.1:${port}`, dataDir, adminToken, output, exited }
}

async function waitReady(server: ServerChild): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  let exitCode: number | null | undefined
  void server.exited.then((code) => {
    exitCode = code
  })
  while (Date.now() < deadline) {
    if (exitCode !== undefined) {
      const lines = server.output.join('\n')
      throw new Error(`server exited with ${String(exitCode)} before it was ready:\n${lines}`)
    }
    try {
      const signal = AbortSignal.timeout(1_000)
      const response = await fetch(`${server.origin}/readyz`, { signal })
      if (response.status === 200) return
    } catch {
      // Not listening yet: try again shortly.
    }
    await sleep(100)
  }
  throw new Error(`server not ready within ${READY_TIMEOUT_MS} ms:\n${server.output.join('\n')}`)
}

/** SIGTERM (the server drains and exits), then SIGKILL after a bound. Unref'd timers. */
async function stopServer(server: ServerChild): Promise<number | null> {
  const { child } = server
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
  child.kill('SIGTERM')
  const timeout = 'timeout' as const
  const unref = { ref: false }
  const graceful = await Promise.race([server.exited, sleep(STOP_GRACE_MS, timeout, unref)])
  if (graceful !== timeout) return graceful
  progress(`server did not stop within ${STOP_GRACE_MS} ms: SIGKILL`)
  child.kill('SIGKILL')
  const killed = await Promise.race([server.exited, sleep(KILL_WAIT_MS, timeout, unref)])
  return killed === timeout ? null : killed
}

/** The child's user + system CPU time in seconds, from /proc (Linux); null elsewhere. */
function processCpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // After "(command) ": state, ppid, …; utime and stime are the 12th and 13th from here.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[11]) + Number(fields[12])
    return Number.isFinite(ticks) ? ticks / CLOCK_TICKS_PER_SECOND : null
  } catch {
    return null
  }
}

/** CPU seconds all processes on the machine spent busy (not idle or waiting), from /proc/stat. */
function machineBusyCpuSeconds(): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
    const ticks = line.trim().split(/\s+/).slice(1).map(Number)
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = ticks
    const busy = user + nice + system + irq + softirq + steal
    return Number.isFinite(busy) && line.startsWith('cpu ') ? busy / CLOCK_TICKS_PER_SECOND : null
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

async function call(
  pool: Pool,
  method: 'GET' | 'POST',
  path: string,
  token: string | null,
  body?: unknown,
): Promise<Answer> {
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

async function expectCreated(
  pool: Pool,
  token: string,
  path: string,
  body: unknown,
  what: string,
): Promise<void> {
  const answer = await call(pool, 'POST', path, token, body)
  if (answer.status !== 201) {
    throw new Error(`creating ${what}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`)
  }
}

/** Runs `work` over `items` with at most `limit` at a time. */
async function forEachBounded<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
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

interface PanPlan {
  readonly specs: readonly { readonly bin: string; readonly length: number }[]
  /** A digit after the BIN that keeps each role's numbers apart. */
  readonly roleDigit: string
  readonly type: 'debit' | 'credit'
  readonly count: number
}

/**
 * Card numbers from real BINs: BIN, role digit, serial, Luhn check digit, each validated as the
 * server will (length for the BIN, Luhn) and of the intended card type.
 */
function generatePans(bins: BinTable, plan: PanPlan, reserved: ReadonlySet<string>): string[] {
  const pans: string[] = []
  const attemptsMax = plan.count * 4 + 100
  for (let serial = 0; serial < attemptsMax && pans.length < plan.count; serial += 1) {
    const spec = plan.specs[serial % plan.specs.length]
    assert(spec !== undefined, 'a BIN spec')
    const serialDigits = spec.length - spec.bin.length - 2
    const body = spec.bin + plan.roleDigit + String(serial).padStart(serialDigits, '0')
    assert(body.length === spec.length - 1, 'the serial fits the card number')
    const pan = body + luhnCheckDigit(body)
    const checked = validatePan(pan, bins)
    if (!checked.ok || checked.bin?.cardType !== plan.type || reserved.has(pan)) continue
    pans.push(pan)
  }
  if (pans.length < plan.count) {
    throw new Error(`could generate only ${pans.length} of ${plan.count} ${plan.type} card numbers`)
  }
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
  const reserved = new Set([...Object.values(DEMO_CARDS).map((c) => c.pan), DEMO_UNKNOWN_PAN])
  const debit = { specs: DEBIT_BINS, type: 'debit' } as const
  const credit = { specs: CREDIT_BINS, type: 'credit' } as const
  const { debitCards, lowBalanceCards, creditCards } = options
  const debitPans = generatePans(bins, { ...debit, roleDigit: '7', count: debitCards }, reserved)
  const lowPlan = { ...debit, roleDigit: '8', count: lowBalanceCards }
  const lowBalancePans = generatePans(bins, lowPlan, reserved)
  const creditPans = generatePans(bins, { ...credit, roleDigit: '7', count: creditCards }, reserved)
  // Terminal ids 2xxxxxxx: apart from the demo terminals (1000000x).
  const terminalIds = Array.from({ length: options.terminals }, (_, i) =>
    `2${String(i + 1).padStart(7, '0')}`)

  await expectCreated(pool, token, '/v1/merchants', BENCH_MERCHANT, 'the bench merchant')
  await forEachBounded(terminalIds, PROVISION_CONCURRENCY, (id) => {
    const terminal = { id, merchantId: BENCH_MERCHANT.id, status: 'active', region: '310101' }
    return expectCreated(pool, token, '/v1/terminals', terminal, `terminal ${id}`)
  })
  const cards = [
    ...debitPans.map((pan) => ({ pan, expiry: EXPIRY, type: 'debit', balance: '1000000.00' })),
    ...lowBalancePans.map((pan) => ({ pan, expiry: EXPIRY, type: 'debit', balance: '0.50' })),
    ...creditPans.map((pan) => ({ pan, expiry: EXPIRY, type: 'credit', creditLimit: '50000.00' })),
  ]
  await forEachBounded(cards, PROVISION_CONCURRENCY, (card) => {
    const what = `a ${card.type} card of BIN ${card.pan.slice(0, 6)}`
    return expectCreated(pool, token, '/v1/cards', card, what)
  })
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

interface Where {
  readonly terminalId: string
  readonly merchantId: string
}

interface Purchase extends Where {
  readonly pan: string
  readonly expiry: string
  readonly amountMinor: number
}

/**
 * Builds the requests. Every STAN is unique per terminal (a counter per terminal); cards are
 * used round-robin and none is asked for more than its limits allow, so every decline is one
 * the mix intends. Returns null when the cards have used their day (not at default settings).
 */
class Traffic {
  private readonly random: () => number
  private readonly stans = new Map<string, number>()
  private terminalNext = 0
  private debitSent = 0
  private creditSent = 0
  private lowSent = 0
  /** Credit requests sent with a debit card because the credit cards had used their day. */
  creditFallbacks = 0

  constructor(private readonly fleet: Fleet, seed: number) {
    this.random = seededRandom(seed)
  }

  next(): Planned | null {
    const category = this.pickCategory()
    const bench = { terminalId: this.benchTerminal(), merchantId: BENCH_MERCHANT.id }
    switch (category) {
      case 'debit_purchase':
        return this.withDebitCard(category, bench, this.everydayAmount())
      case 'credit_purchase':
        return this.withCreditCard(bench)
      case 'insufficient_funds': {
        const pans = this.fleet.lowBalancePans
        const pan = pans[this.lowSent++ % pans.length]
        assert(pan !== undefined, 'a low-balance card')
        const amountMinor = this.everydayAmount()
        return this.build(category, { ...bench, pan, expiry: EXPIRY, amountMinor })
      }
      case 'blocked_card': {
        const { pan, expiry } = DEMO_CARDS.listed
        return this.build(category, { ...bench, pan, expiry, amountMinor: this.everydayAmount() })
      }
      case 'suspended_merchant': {
        const fuel = { terminalId: DEMO_TERMINALS.fuel.id, merchantId: DEMO_MERCHANTS.fuel.id }
        return this.withDebitCard(category, fuel, this.everydayAmount())
      }
      case 'amount_limit': {
        const noodles = {
          terminalId: DEMO_TERMINALS.noodles.id, merchantId: DEMO_MERCHANTS.noodles.id,
        }
        const amountMinor = OVER_LIMIT_MINOR_MIN + Math.floor(this.random() * OVER_LIMIT_MINOR_SPAN)
        return this.withDebitCard(category, noodles, amountMinor)
      }
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

  private everydayAmount(): number {
    return AMOUNT_MINOR_MIN + Math.floor(this.random() * AMOUNT_MINOR_SPAN)
  }

  private benchTerminal(): string {
    const id = this.fleet.terminalIds[this.terminalNext++ % this.fleet.terminalIds.length]
    assert(id !== undefined, 'a bench terminal')
    return id
  }

  private withDebitCard(category: Category, where: Where, amountMinor: number): Planned | null {
    const pans = this.fleet.debitPans
    if (this.debitSent >= pans.length * DEBIT_PAYMENTS_PER_CARD_MAX) return null
    const pan = pans[this.debitSent++ % pans.length]
    assert(pan !== undefined, 'a debit card')
    return this.build(category, { ...where, pan, expiry: EXPIRY, amountMinor })
  }

  private withCreditCard(where: Where): Planned | null {
    const pans = this.fleet.creditPans
    if (this.creditSent >= pans.length * CREDIT_PAYMENTS_PER_CARD_MAX) {
      this.creditFallbacks += 1
      return this.withDebitCard('credit_purchase', where, this.everydayAmount())
    }
    const pan = pans[this.creditSent++ % pans.length]
    assert(pan !== undefined, 'a credit card')
    const amountMinor = this.everydayAmount()
    return this.build('credit_purchase', { ...where, pan, expiry: EXPIRY, amountMinor })
  }

  private build(category: Category, purchase: Purchase): Planned {
    const stan = (this.stans.get(purchase.terminalId) ?? 0) + 1
    if (stan > STAN_MAX) {
      throw new Error(`terminal ${purchase.terminalId} has used all STANs of the day`)
    }
    this.stans.set(purchase.terminalId, stan)
    const body = {
      kind: 'purchase', terminalId: purchase.terminalId, merchantId: purchase.merchantId,
      stan: String(stan).padStart(6, '0'), card: { pan: purchase.pan, expiry: purchase.expiry },
      amount: amountText(purchase.amountMinor), currency: 'CNY',
    }
    return { category, body: JSON.stringify(body) }
  }
}

// ---------------------------------------------------------------------------------------------
// Load and measurement

function increment<K>(map: Map<K, number>, key: K, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by)
}

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

interface MeasureWindow {
  readonly measureStartNs: bigint
  readonly endNs: bigint
}

interface Outcome {
  readonly category: Category
  /** The HTTP status, or "error" when there was no answer. */
  readonly status: string
  readonly outcome: string
  readonly latencyMs: number
  readonly responseChars: number
}

class Recorder {
  readonly latenciesMs = new Float64Array(LATENCY_SAMPLES_MAX)
  samples = 0
  samplesDropped = 0
  /** Answers received inside the measured window, whenever their request started. */
  completedInWindow = 0
  /** Characters of response bodies (ASCII for English explanations, so about bytes). */
  responseChars = 0
  readonly byStatus = new Map<string, number>()
  readonly byOutcome = new Map<string, number>()
  readonly unexpected = new Map<Category, Map<string, number>>()
  readonly perSecond: Uint32Array

  constructor(private readonly window: MeasureWindow, durationS: number) {
    this.perSecond = new Uint32Array(durationS)
  }

  /** Counts every answer that arrives inside the window: throughput. */
  completed(doneNs: bigint): void {
    if (doneNs < this.window.measureStartNs || doneNs > this.window.endNs) return
    this.completedInWindow += 1
    const second = Number((doneNs - this.window.measureStartNs) / 1_000_000_000n)
    if (second < this.perSecond.length) this.perSecond[second] = (this.perSecond[second] ?? 0) + 1
  }

  /** Records a request that started inside the window: latency and outcome. */
  answered(answer: Outcome): void {
    if (this.samples < this.latenciesMs.length) this.latenciesMs[this.samples++] = answer.latencyMs
    else this.samplesDropped += 1
    this.responseChars += answer.responseChars
    increment(this.byStatus, answer.status)
    increment(this.byOutcome, answer.outcome)
    if (answer.outcome === EXPECTED.get(answer.category)) return
    const unexpected = this.unexpected.get(answer.category) ?? new Map<string, number>()
    increment(unexpected, answer.outcome)
    this.unexpected.set(answer.category, unexpected)
  }
}

type Sent = Omit<Outcome, 'latencyMs' | 'category'>

async function sendOne(pool: Pool, planned: Planned): Promise<Sent> {
  try {
    const response = await pool.request({
      method: 'POST', path: '/v1/authorizations', body: planned.body,
      headers: { 'content-type': 'application/json' },
      headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS,
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
// Server metrics and results

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

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank] ?? 0
}

const round = (value: number, digits = 2): number => Number(value.toFixed(digits))
const ratio = (part: number, whole: number, digits = 1): number =>
  whole === 0 ? 0 : round(part / whole, digits)

function sortedEntries(map: ReadonlyMap<string, number>): Record<string, number> {
  return Object.fromEntries([...map].sort((a, b) => b[1] - a[1]))
}

function sumWhere(map: ReadonlyMap<string, number>, prefix: string): number {
  let sum = 0
  for (const [key, count] of map) if (key.startsWith(prefix)) sum += count
  return sum
}

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
  const sorted = recorder.latenciesMs.subarray(0, recorder.samples).sort()
  const count = recorder.samples
  const perSecond = [...recorder.perSecond]
  const declined = sumWhere(recorder.byOutcome, 'declined:')
  return {
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version,
      loadAverage1mBefore: round(run.loadBefore), loadAverage1mAfter: round(loadavg()[0] ?? 0),
    },
    settings: {
      concurrency: options.concurrency, durationS: options.durationS, warmupS: options.warmupS,
      debitCards: options.debitCards, creditCards: options.creditCards,
      lowBalanceCards: options.lowBalanceCards, terminals: options.terminals, seed: options.seed,
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
      p50: round(percentile(sorted, 50)), p90: round(percentile(sorted, 90)),
      p99: round(percentile(sorted, 99)), max: round(percentile(sorted, 100)),
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
  const row = (label: string, value: string | number): string =>
    `  ${label.padEnd(38)} ${String(value)}`
  const slash = (...values: readonly (string | number | null)[]): string =>
    values.map((v) => String(v ?? '?')).join(' / ')
  const { machine, settings: set, latencyMs: l, server, client } = summary
  const lines = [
    '',
    'Tollgate HTTP authorization benchmark (durable SQLite store)',
    row('date', summary.date),
    row('machine', `${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}`),
    row('load average 1 min: before / after',
      slash(machine.loadAverage1mBefore, machine.loadAverage1mAfter)),
    row('concurrency / warm-up s / measured s', slash(set.concurrency, set.warmupS, set.durationS)),
    row('terminals / debit / credit / low cards',
      slash(set.terminals, set.debitCards, set.creditCards, set.lowBalanceCards)),
    row('provisioning', `${summary.provisionS} s`),
    '',
    row('throughput (authorizations/s)', summary.throughputPerS),
    row('  per second: min / median / max',
      slash(summary.perSecondMin, summary.perSecondMedian, summary.perSecondMax)),
    row('latency ms: p50 / p90 / p99 / max', slash(l.p50, l.p90, l.p99, l.max)),
    row('requests measured', summary.requestsMeasured),
    row('approved / declined', slash(summary.approved, summary.declined)),
    row('declined %', summary.declinedPercent),
    row('errors (no HTTP answer)', summary.errors),
    row('mean response size (bytes)', summary.meanResponseBytes),
    row('mean batch size: window / whole run',
      slash(server.meanBatchSizeWindow, server.meanBatchSizeOverall)),
    row('batches in window / mean batch ms', slash(server.batchesWindow, server.meanBatchMsWindow)),
    row('CPU % of one core: server / bench',
      slash(server.cpuPercentWindow, client.cpuPercentWindow)),
    row('CPU % of one core: other processes', summary.otherProcessesCpuPercentWindow ?? '?'),
    row('busy refusals (queue full)', server.busyRefusals),
    row('ledger balanced', summary.ledgerBalanced ? 'yes' : 'NO'),
    '',
    '  by HTTP status:',
    ...Object.entries(summary.byStatus).map(([k, v]) => row(`    ${k}`, v)),
    '  by outcome:',
    ...Object.entries(summary.byOutcome).map(([k, v]) => row(`    ${k}`, v)),
  ]
  const unexpected = Object.entries(summary.unexpected)
  const verdict =
    unexpected.length === 0 ? 'every answer was the one the mix intended' : 'UNEXPECTED:'
  lines.push(`  ${verdict}`)
  for (const [category, outcomes] of unexpected) {
    lines.push(row(`    ${category}`, JSON.stringify(outcomes)))
  }
  if (summary.creditFallbacks > 0) {
    lines.push(row('credit requests sent with debit cards', summary.creditFallbacks))
  }
  if (summary.samplesDropped > 0) lines.push(row('latency samples dropped', summary.samplesDropped))
  process.stdout.write(lines.join('\n') + '\n')
}

// ---------------------------------------------------------------------------------------------
// The CPU profile summary (--profile)

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
}

interface CpuProfile {
  readonly nodes: readonly { readonly id: number; readonly callFrame: CallFrame }[]
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
  readonly startTime: number
}

/** Where a frame's code lives: a package, a Tollgate directory, a Node module or the VM. */
function areaOf(frame: CallFrame): string {
  const packaged = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(frame.url)
  if (packaged?.[1] !== undefined) return packaged[1]
  // dist/src/core/pipeline/x.js: "tollgate core/pipeline"; dist/src/core/x.js: "tollgate core".
  const own = /\/dist\/src\/([^/]+\/[^/.]+)\//.exec(frame.url)
    ?? /\/dist\/src\/([^/]+)\//.exec(frame.url)
  if (own?.[1] !== undefined) return `tollgate ${own[1]}`
  if (frame.url.startsWith('node:')) return frame.url.split('/')[0] ?? frame.url
  if (frame.url === '') return frame.functionName.startsWith('(') ? frame.functionName : 'native'
  return 'other'
}

function functionOf(frame: CallFrame): string {
  const name = frame.functionName === '' ? '(anonymous)' : frame.functionName
  if (frame.url === '') return name
  return `${name} ${frame.url.replace(/^.*\/(node_modules|dist)\//, '')}:${frame.lineNumber + 1}`
}

/**
 * Self time by area and by function over the measured window. V8 stamps samples with the same
 * monotonic clock as process.hrtime on Linux, so the window can be cut out of the profile.
 */
function summariseProfile(dataDir: string, window: MeasureWindow): string[] {
  // One profile per thread: the main thread (HTTP) and the batch worker.
  const files = readdirSync(dataDir).filter((name) => name.endsWith('.cpuprofile')).sort()
  if (files.length === 0) return ['(no .cpuprofile was written)']
  return files.flatMap((file, index) => [
    `thread ${index + 1} of ${files.length} (${file}):`,
    ...summariseOneProfile(dataDir, file, window),
  ])
}

function summariseOneProfile(dataDir: string, file: string, window: MeasureWindow): string[] {
  const profile = JSON.parse(readFileSync(join(dataDir, file), 'utf8')) as CpuProfile
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]))
  const startUs = Number(window.measureStartNs / 1_000n)
  const endUs = Number(window.endNs / 1_000n)
  const byFunction = new Map<string, number>()
  const byArea = new Map<string, number>()
  let timeUs = profile.startTime
  let totalUs = 0
  profile.samples.forEach((id, index) => {
    const deltaUs = profile.timeDeltas[index] ?? 0
    timeUs += deltaUs
    const frame = frames.get(id)
    if (frame === undefined || timeUs < startUs || timeUs > endUs) return
    increment(byFunction, functionOf(frame), deltaUs)
    increment(byArea, areaOf(frame), deltaUs)
    totalUs += deltaUs
  })
  if (totalUs === 0) return [`(no samples inside the measured window in ${file})`]
  const top = (map: Map<string, number>, n: number): string[] =>
    [...map].sort((a, b) => b[1] - a[1]).slice(0, n)
      .map(([key, us]) => `  ${((100 * us) / totalUs).toFixed(1).padStart(5)}%  ${key}`)
  return [
    'server self time by area (measured window):', ...top(byArea, PROFILE_AREAS_SHOWN),
    'top functions by self time:', ...top(byFunction, PROFILE_FUNCTIONS_SHOWN),
  ]
}

// ---------------------------------------------------------------------------------------------
// Main

async function runLoad(pool: Pool, traffic: Traffic, options: Options, server: ServerChild) {
  const startNs = process.hrtime.bigint()
  const window: MeasureWindow = {
    measureStartNs: startNs + BigInt(options.warmupS) * 1_000_000_000n,
    endNs: startNs + BigInt(options.warmupS + options.durationS) * 1_000_000_000n,
  }
  const recorder = new Recorder(window, options.durationS)
  const workers = Array.from({ length: options.concurrency }, () =>
    worker(pool, traffic, window, recorder))
  await sleep(options.warmupS * 1_000)
  const metricsStart = await sampleMetrics(pool)
  const serverCpuStart = processCpuSeconds(server.child.pid)
  const machineCpuStart = machineBusyCpuSeconds()
  const clientCpuStart = process.cpuUsage()
  await sleep(Math.max(0, Number((window.endNs - process.hrtime.bigint()) / 1_000_000n)))
  const serverCpuEnd = processCpuSeconds(server.child.pid)
  const machineCpuEnd = machineBusyCpuSeconds()
  const clientCpu = process.cpuUsage(clientCpuStart)
  await Promise.all(workers)
  const serverCpuS =
    serverCpuStart === null || serverCpuEnd === null ? null : serverCpuEnd - serverCpuStart
  const clientCpuS = (clientCpu.user + clientCpu.system) / 1e6
  const otherCpuS = serverCpuS === null || machineCpuStart === null || machineCpuEnd === null
    ? null
    : machineCpuEnd - machineCpuStart - serverCpuS - clientCpuS
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
  const fleet = await provision(pool, server.adminToken, options)
  const provisionS = (Date.now() - provisionStartMs) / 1000
  const cards = fleet.debitPans.length + fleet.creditPans.length + fleet.lowBalancePans.length
  const terminals = fleet.terminalIds.length
  progress(`${terminals} terminals and ${cards} cards in ${provisionS.toFixed(1)} s; load running`)
  const traffic = new Traffic(fleet, options.seed)
  const load = await runLoad(pool, traffic, options, server)
  progress('load done; reading metrics and checking the ledger')
  const metricsEnd = await sampleMetrics(pool)
  const ledger = await call(pool, 'GET', '/v1/ledger/check', server.adminToken)
  if (ledger.status !== 200) throw new Error(`ledger check: HTTP ${ledger.status}`)
  const ledgerBody = ledger.body as { balanced?: unknown } | null
  const summary = summarise({
    options, recorder: load.recorder, creditFallbacks: traffic.creditFallbacks, provisionS,
    serverCpuS: load.serverCpuS, clientCpuS: load.clientCpuS, otherCpuS: load.otherCpuS,
    metricsStart: load.metricsStart,
    metricsEnd, ledgerBalanced: ledgerBody?.balanced === true, loadBefore,
  })
  await pool.close()
  progress('stopping the server')
  const exitCode = await stopServer(server)
  if (exitCode !== 0) progress(`server exited with ${String(exitCode)}`)
  const profile = options.profile ? summariseProfile(server.dataDir, load.window) : null
  return { summary, profile }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  const loadBefore = loadavg()[0] ?? 0
  const { concurrency, warmupS, durationS } = options
  progress(`starting the server; concurrency ${concurrency}, ${warmupS} s warm-up + ${durationS} s`)
  const server = await startServer(options)
  const pool = new Pool(server.origin, {
    connections: options.concurrency, pipelining: 1, connectTimeout: REQUEST_TIMEOUT_MS,
    headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS,
  })
  const onSignal = (): void => {
    void stopServer(server).finally(() => {
      rmSync(server.dataDir, { recursive: true, force: true })
      process.exit(130)
    })
  }
  process.once('SIGINT', onSignal)
  let report: Report
  try {
    report = await measure(server, pool, options, loadBefore)
  } finally {
    process.removeListener('SIGINT', onSignal)
    await pool.destroy().catch(() => undefined)
    await stopServer(server)
    rmSync(server.dataDir, { recursive: true, force: true })
  }
  if (options.json) {
    const json = { ...report.summary, profile: report.profile }
    process.stdout.write(JSON.stringify(json, null, 2) + '\n')
  } else {
    printTable(report.summary)
    if (report.profile !== null) process.stdout.write(`\n${report.profile.join('\n')}\n`)
  }
  if (!report.summary.ledgerBalanced) process.exitCode = 1
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`${error.message}\n`)
    process.exit(2)
  }
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error)
  process.stderr.write(`benchmark failed: ${text}\n`)
  process.exit(1)
})
