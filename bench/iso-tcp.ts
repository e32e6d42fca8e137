/**
 * ISO 8583 over TCP benchmark: durable authorizations per second from many POS connections.
 *
 * First measures the ceiling: a bare TCP echo (a child process that writes every byte back) of
 * the same frames, with the same connections and pipelining. Then starts the real server as a
 * child process (fresh SQLite database in a temporary directory, `--dialect`, 2-byte framing),
 * provisions a merchant, terminals and a few thousand cards through the HTTP admin API, and
 * opens `--connections` TCP connections, each keeping `--pipeline` purchases in flight for
 * `--warmup` + `--duration` seconds: about 80% approvals and 20% declines (insufficient funds,
 * a block-listed card, a suspended merchant, a per-payment limit), every STAN unique for its
 * terminal. Answers are matched to requests by terminal and STAN. Prints throughput, latency
 * percentiles, answers by field 39, errors, the server's batches and CPU, and the ledger check.
 * Only 127.0.0.1 is used; every wait is bounded.
 *
 * Usage: npm run bench:iso -- [--dialect cup-pos] [--connections 64] [--pipeline 4]
 *   [--duration 15] [--warmup 3] [--echo 5] [--json]
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { connect, createServer, type Socket } from 'node:net'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Pool } from 'undici'
import { decode, encode, type IsoMessage } from '../src/adapters/iso8583/codec.js'
import { responseCodeFor } from '../src/adapters/iso8583/messages.js'
import {
  isDialectName,
  loadDialect,
  type Dialect,
  type DialectName,
} from '../src/adapters/iso8583/spec.js'
import { encodeFrame, FrameReader } from '../src/adapters/iso8583/tcp/framing.js'
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
import type { ReasonCode } from '../src/core/reasons/codes.js'

const CONNECTIONS_DEFAULT = 64
const CONNECTIONS_MAX = 1_000
const PIPELINE_DEFAULT = 4
/** The server's default in-flight limit per connection. */
const PIPELINE_MAX = 32
const DURATION_S_DEFAULT = 15
const DURATION_S_MAX = 600
const WARMUP_S_DEFAULT = 3
const WARMUP_S_MAX = 60
const ECHO_S_DEFAULT = 5
const ECHO_WARMUP_S = 1
const DEBIT_CARDS_DEFAULT = 2_000
const CREDIT_CARDS_DEFAULT = 2_000
const LOW_BALANCE_CARDS_DEFAULT = 100
const TERMINALS_DEFAULT = 50
const CARDS_MAX = 50_000
const TERMINALS_MAX = 9_999
const PROVISION_CONCURRENCY = 16
const READY_TIMEOUT_MS = 15_000
const CONNECT_TIMEOUT_MS = 5_000
/** How long in-flight requests may take to be answered after the window closes. */
const DRAIN_TIMEOUT_MS = 10_000
const REQUEST_TIMEOUT_MS = 10_000
const STOP_GRACE_MS = 15_000
const KILL_WAIT_MS = 3_000
const SERVER_OUTPUT_LINES_MAX = 40
const LATENCY_SAMPLES_MAX = 4_000_000
const FRAME_BYTES_MAX = 4_096
const STAN_MAX = 999_999
const CLOCK_TICKS_PER_SECOND = 100
const CREDIT_PAYMENTS_PER_CARD_MAX = 29
const DEBIT_PAYMENTS_PER_CARD_MAX = 450
const AMOUNT_MINOR_MIN = 100
const AMOUNT_MINOR_SPAN = 19_900
const OVER_LIMIT_MINOR_MIN = 200_001
const OVER_LIMIT_MINOR_SPAN = 99_000
assert(PIPELINE_MAX <= 32, 'the pipeline stays within the server default in-flight limit')
assert(
  DEBIT_PAYMENTS_PER_CARD_MAX * (AMOUNT_MINOR_MIN + AMOUNT_MINOR_SPAN) < 10_000_000,
  'the debit plan stays below the demo daily limit of 100,000.00',
)
assert(
  CREDIT_PAYMENTS_PER_CARD_MAX * (AMOUNT_MINOR_MIN + AMOUNT_MINOR_SPAN) < 1_000_000,
  'the credit plan stays below the demo daily limit of 10,000.00',
)

/** The same merchant, BINs and card plan as bench/http-authorize.ts. */
const BENCH_MERCHANT = {
  id: '898310054119999', name: 'Bench Supermarket', mcc: '5411', status: 'approved',
  region: '310101', riskTier: 'low',
}
const EXPIRY = '3012'
const DEBIT_BINS = [
  { bin: '621226', length: 19 }, { bin: '622848', length: 19 }, { bin: '621700', length: 19 },
  { bin: '621661', length: 19 }, { bin: '622609', length: 16 }, { bin: '621483', length: 16 },
  { bin: '622260', length: 19 },
] as const
const CREDIT_BINS = [
  { bin: '524047', length: 16 }, { bin: '438088', length: 16 }, { bin: '625965', length: 16 },
  { bin: '622575', length: 16 }, { bin: '622155', length: 16 },
] as const
const CUP_HEADER = { tpdu: '6000030000', header: '603100000000' }

type Category =
  | 'debit_purchase'
  | 'credit_purchase'
  | 'insufficient_funds'
  | 'blocked_card'
  | 'suspended_merchant'
  | 'amount_limit'

/** The mix, in percent of requests, and the reason of each decline. */
const MIX: readonly { category: Category; percent: number; reason: ReasonCode | null }[] = [
  { category: 'debit_purchase', percent: 70, reason: null },
  { category: 'credit_purchase', percent: 10, reason: null },
  { category: 'insufficient_funds', percent: 8, reason: 'insufficient_funds' },
  { category: 'blocked_card', percent: 4, reason: 'card_blocked' },
  { category: 'suspended_merchant', percent: 4, reason: 'merchant_suspended' },
  { category: 'amount_limit', percent: 4, reason: 'transaction_amount_limit_exceeded' },
]
assert(MIX.reduce((sum, m) => sum + m.percent, 0) === 100, 'the mix adds up to 100%')

/** The field 39 each category must get in a dialect ("00" for an approval). */
function expectedCodes(dialect: DialectName): ReadonlyMap<Category, string> {
  return new Map(MIX.map((m) => [
    m.category, m.reason === null ? '00' : responseCodeFor(m.reason, dialect),
  ]))
}

interface Options {
  readonly dialect: DialectName
  readonly connections: number
  readonly pipeline: number
  readonly durationS: number
  readonly warmupS: number
  readonly echoS: number
  readonly debitCards: number
  readonly creditCards: number
  readonly lowBalanceCards: number
  readonly terminals: number
  readonly seed: number
  readonly json: boolean
}

const USAGE = `npm run bench:iso -- [options]
  --dialect <name>         cup-pos, iso87-ascii or iso87-binary (default cup-pos)
  --connections <n>        TCP connections (default ${CONNECTIONS_DEFAULT})
  --pipeline <n>           requests in flight per connection (default ${PIPELINE_DEFAULT})
  --duration <s>           measured seconds (default ${DURATION_S_DEFAULT})
  --warmup <s>             seconds of load before measuring (default ${WARMUP_S_DEFAULT})
  --echo <s>               seconds of the bare TCP echo ceiling, 0: none (default ${ECHO_S_DEFAULT})
  --debit-cards <n>        well-funded debit cards (default ${DEBIT_CARDS_DEFAULT})
  --credit-cards <n>       credit cards (default ${CREDIT_CARDS_DEFAULT})
  --low-balance-cards <n>  debit cards holding 0.50 (default ${LOW_BALANCE_CARDS_DEFAULT})
  --terminals <n>          terminals of the bench merchant (default ${TERMINALS_DEFAULT})
  --seed <n>               seed of the request mix (default 1)
  --json                   print the result as JSON
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
    dialect: text, connections: text, pipeline: text, duration: text, warmup: text, echo: text,
    'debit-cards': text, 'credit-cards': text, 'low-balance-cards': text, terminals: text,
    seed: text, json: flag, help: flag,
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
  const dialect = typeof values.dialect === 'string' ? values.dialect : 'cup-pos'
  if (!isDialectName(dialect)) throw new UsageError(`--dialect: unknown ${dialect}\n\n${USAGE}`)
  return {
    dialect,
    connections: integerOption(values, 'connections', CONNECTIONS_DEFAULT, CONNECTIONS_MAX),
    pipeline: integerOption(values, 'pipeline', PIPELINE_DEFAULT, PIPELINE_MAX),
    durationS: integerOption(values, 'duration', DURATION_S_DEFAULT, DURATION_S_MAX),
    warmupS: integerOption(values, 'warmup', WARMUP_S_DEFAULT, WARMUP_S_MAX, 0),
    echoS: integerOption(values, 'echo', ECHO_S_DEFAULT, DURATION_S_MAX, 0),
    debitCards: integerOption(values, 'debit-cards', DEBIT_CARDS_DEFAULT, CARDS_MAX),
    creditCards: integerOption(values, 'credit-cards', CREDIT_CARDS_DEFAULT, CARDS_MAX),
    lowBalanceCards: integerOption(
      values, 'low-balance-cards', LOW_BALANCE_CARDS_DEFAULT, CARDS_MAX,
    ),
    terminals: integerOption(values, 'terminals', TERMINALS_DEFAULT, TERMINALS_MAX),
    seed: integerOption(values, 'seed', 1, 2 ** 31 - 1, 0),
    json: values.json === true,
  }
}

const BENCH_STARTED_MS = Date.now()

/** Progress goes to stderr so that `--json` leaves stdout to the result. */
function progress(message: string): void {
  const elapsedS = ((Date.now() - BENCH_STARTED_MS) / 1000).toFixed(1).padStart(5)
  process.stderr.write(`[bench:iso ${elapsedS} s] ${message}\n`)
}

// ---------------------------------------------------------------------------------------------
// Child processes: the server and the echo

interface Child {
  readonly child: ChildProcess
  /** The last lines the child printed, shown if it fails to start. */
  readonly output: string[]
  readonly exited: Promise<number | null>
}

interface ServerChild extends Child {
  readonly origin: string
  readonly isoPort: number
  readonly dataDir: string
  readonly adminToken: string
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

function watch(child: ChildProcess): Child {
  const output: string[] = []
  const keep = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue
      output.push(line)
      if (output.length > SERVER_OUTPUT_LINES_MAX) output.shift()
    }
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code))
  })
  return { child, output, exited }
}

async function startServer(options: Options): Promise<ServerChild> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-bench-iso-'))
  const httpPort = await freePort()
  const isoPort = await freePort()
  const adminToken = randomBytes(24).toString('hex')
  const root = fileURLToPath(new URL('../../', import.meta.url))
  const entry = fileURLToPath(new URL('../src/cli/main.js', import.meta.url))
  const child = spawn(process.execPath, [entry, 'serve'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      TOLLGATE_DATA_DIR: dataDir,
      TOLLGATE_HTTP_HOST: '127.0.0.1',
      TOLLGATE_HTTP_PORT: String(httpPort),
      TOLLGATE_ISO_HOST: '127.0.0.1',
      TOLLGATE_ISO_PORT: String(isoPort),
      TOLLGATE_ISO_DIALECT: options.dialect,
      TOLLGATE_ISO_FRAMING: 'binary2',
      TOLLGATE_ADMIN_TOKEN: adminToken,
      TOLLGATE_LOG_LEVEL: 'warn',
      TOLLGATE_DEMO_DATA: 'on',
    },
  })
  const origin = `http://127.0.0.1:${httpPort}`
  return { ...watch(child), origin, isoPort, dataDir, adminToken }
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

/** SIGTERM (the child drains and exits), then SIGKILL after a bound. Unref'd timers. */
async function stopChild(process_: Child): Promise<number | null> {
  const { child } = process_
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
  child.kill('SIGTERM')
  const timeout = 'timeout' as const
  const unref = { ref: false }
  const graceful = await Promise.race([process_.exited, sleep(STOP_GRACE_MS, timeout, unref)])
  if (graceful !== timeout) return graceful
  progress(`child ${String(child.pid)} did not stop within ${STOP_GRACE_MS} ms: SIGKILL`)
  child.kill('SIGKILL')
  const killed = await Promise.race([process_.exited, sleep(KILL_WAIT_MS, timeout, unref)])
  return killed === timeout ? null : killed
}

/**
 * The ceiling: a child process that writes every byte it reads back to its sender, with
 * Nagle off as the server has it. Nothing is parsed; the client does the same work as against
 * the server (encode, frame, decode, match by STAN).
 */
const ECHO_SERVER_SOURCE = `
const net = require('node:net')
const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on('error', () => socket.destroy())
  socket.pipe(socket)
})
server.listen(0, '127.0.0.1', () => process.stdout.write('port ' + server.address().port + '\\n'))
process.on('SIGTERM', () => process.exit(0))
`

async function startEcho(): Promise<{ echo: Child; port: number }> {
  const child = spawn(process.execPath, ['-e', ECHO_SERVER_SOURCE], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const echo = watch(child)
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    const line = echo.output.find((l) => l.startsWith('port '))
    if (line !== undefined) return { echo, port: Number(line.slice(5)) }
    if (child.exitCode !== null) break
    await sleep(20)
  }
  await stopChild(echo)
  throw new Error(`echo server did not start:\n${echo.output.join('\n')}`)
}

/** The child's user + system CPU time in seconds, from /proc (Linux); null elsewhere. */
function processCpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[11]) + Number(fields[12])
    return Number.isFinite(ticks) ? ticks / CLOCK_TICKS_PER_SECOND : null
  } catch {
    return null
  }
}

/** CPU seconds all processes on the machine spent busy, from /proc/stat. */
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
// Provisioning through the admin API (as bench/http-authorize.ts, kept short)

async function call(pool: Pool, method: 'GET' | 'POST', path: string, token: string | null,
  body?: unknown): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = {}
  if (token !== null) headers.authorization = `Bearer ${token}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  const response = await pool.request({
    method, path, headers, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  return { status: response.statusCode, text: await response.body.text() }
}

async function create(pool: Pool, token: string, path: string, body: unknown): Promise<void> {
  const answer = await call(pool, 'POST', path, token, body)
  if (answer.status !== 201) throw new Error(`POST ${path}: HTTP ${answer.status} ${answer.text}`)
}

async function forEachBounded<T>(items: readonly T[], limit: number,
  work: (item: T) => Promise<void>): Promise<void> {
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

interface Fleet {
  readonly terminalIds: readonly string[]
  readonly debitPans: readonly string[]
  readonly creditPans: readonly string[]
  readonly lowBalancePans: readonly string[]
}

interface PanPlan {
  readonly specs: readonly { readonly bin: string; readonly length: number }[]
  readonly roleDigit: string
  readonly type: 'debit' | 'credit'
  readonly count: number
}

/** Card numbers from real BINs (BIN, role digit, serial, Luhn), each checked as the server will. */
function generatePans(bins: BinTable, plan: PanPlan, reserved: ReadonlySet<string>): string[] {
  const pans: string[] = []
  const attemptsMax = plan.count * 4 + 100
  for (let serial = 0; serial < attemptsMax && pans.length < plan.count; serial += 1) {
    const spec = plan.specs[serial % plan.specs.length]
    assert(spec !== undefined, 'a BIN spec')
    const body = spec.bin + plan.roleDigit +
      String(serial).padStart(spec.length - spec.bin.length - 2, '0')
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

function planFleet(options: Options): Fleet {
  const bins = loadReferenceData(REFERENCE_DIR_DEFAULT).bins
  const reserved = new Set([...Object.values(DEMO_CARDS).map((c) => c.pan), DEMO_UNKNOWN_PAN])
  const plan = (specs: PanPlan['specs'], type: PanPlan['type'], roleDigit: string, count: number) =>
    generatePans(bins, { specs, type, roleDigit, count }, reserved)
  return {
    // Terminal ids 2xxxxxxx: apart from the demo terminals (1000000x).
    terminalIds: Array.from({ length: options.terminals }, (_, i) =>
      `2${String(i + 1).padStart(7, '0')}`),
    debitPans: plan(DEBIT_BINS, 'debit', '7', options.debitCards),
    creditPans: plan(CREDIT_BINS, 'credit', '7', options.creditCards),
    lowBalancePans: plan(DEBIT_BINS, 'debit', '8', options.lowBalanceCards),
  }
}

async function provision(pool: Pool, token: string, fleet: Fleet): Promise<void> {
  await create(pool, token, '/v1/merchants', BENCH_MERCHANT)
  await forEachBounded(fleet.terminalIds, PROVISION_CONCURRENCY, (id) => create(pool, token,
    '/v1/terminals', { id, merchantId: BENCH_MERCHANT.id, status: 'active', region: '310101' }))
  const cards = [
    ...fleet.debitPans.map((pan) =>
      ({ pan, expiry: EXPIRY, type: 'debit', balance: '1000000.00' })),
    ...fleet.lowBalancePans.map((pan) => ({ pan, expiry: EXPIRY, type: 'debit', balance: '0.50' })),
    ...fleet.creditPans.map((pan) =>
      ({ pan, expiry: EXPIRY, type: 'credit', creditLimit: '50000.00' })),
  ]
  await forEachBounded(cards, PROVISION_CONCURRENCY, (card) =>
    create(pool, token, '/v1/cards', card))
}

// ---------------------------------------------------------------------------------------------
// Traffic: ISO 8583 purchases, framed

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

interface Planned {
  readonly category: Category
  /** Terminal id and STAN: how the answer is matched to its request. */
  readonly key: string
  readonly frame: Buffer
}

interface Purchase {
  readonly terminalId: string
  readonly merchantId: string
  readonly pan: string
  readonly expiry: string
  readonly amountMinor: number
}

/**
 * Builds the framed requests. Every STAN is unique per terminal (a counter per terminal), so no
 * request is answered as a retransmission; cards are used round-robin and none beyond what its
 * limits allow, so every decline is one the mix intends.
 */
class Traffic {
  private readonly random: () => number
  private readonly stans = new Map<string, number>()
  private terminalNext = 0
  private debitSent = 0
  private creditSent = 0
  private lowSent = 0
  creditFallbacks = 0

  constructor(
    private readonly fleet: Fleet,
    private readonly dialectName: DialectName,
    private readonly dialect: Dialect,
    /** Field 7 (MMDDhhmmss) in the ISO 8583:1987 dialects: fixed for the run. */
    private readonly transmissionTime: string,
    seed: number,
  ) {
    this.random = seededRandom(seed)
  }

  next(): Planned | null {
    const category = this.pickCategory()
    const bench = { terminalId: this.pick(this.fleet.terminalIds, this.terminalNext++),
      merchantId: BENCH_MERCHANT.id }
    const amountMinor = AMOUNT_MINOR_MIN + Math.floor(this.random() * AMOUNT_MINOR_SPAN)
    switch (category) {
      case 'debit_purchase':
        return this.withDebitCard(category, bench, amountMinor)
      case 'credit_purchase': {
        const pans = this.fleet.creditPans
        if (this.creditSent >= pans.length * CREDIT_PAYMENTS_PER_CARD_MAX) {
          this.creditFallbacks += 1
          return this.withDebitCard(category, bench, amountMinor)
        }
        const pan = this.pick(pans, this.creditSent++)
        return this.build(category, { ...bench, pan, expiry: EXPIRY, amountMinor })
      }
      case 'insufficient_funds': {
        const pan = this.pick(this.fleet.lowBalancePans, this.lowSent++)
        return this.build(category, { ...bench, pan, expiry: EXPIRY, amountMinor })
      }
      case 'blocked_card': {
        const { pan, expiry } = DEMO_CARDS.listed
        return this.build(category, { ...bench, pan, expiry, amountMinor })
      }
      case 'suspended_merchant': {
        const fuel = { terminalId: DEMO_TERMINALS.fuel.id, merchantId: DEMO_MERCHANTS.fuel.id }
        return this.withDebitCard(category, fuel, amountMinor)
      }
      case 'amount_limit': {
        const noodles = {
          terminalId: DEMO_TERMINALS.noodles.id, merchantId: DEMO_MERCHANTS.noodles.id,
        }
        const over = OVER_LIMIT_MINOR_MIN + Math.floor(this.random() * OVER_LIMIT_MINOR_SPAN)
        return this.withDebitCard(category, noodles, over)
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

  private pick(items: readonly string[], index: number): string {
    const item = items[index % items.length]
    assert(item !== undefined, 'a non-empty list')
    return item
  }

  private withDebitCard(
    category: Category,
    where: { terminalId: string; merchantId: string },
    amountMinor: number,
  ): Planned | null {
    const pans = this.fleet.debitPans
    if (this.debitSent >= pans.length * DEBIT_PAYMENTS_PER_CARD_MAX) return null
    const pan = this.pick(pans, this.debitSent++)
    return this.build(category, { ...where, pan, expiry: EXPIRY, amountMinor })
  }

  private build(category: Category, purchase: Purchase): Planned {
    const stanNumber = (this.stans.get(purchase.terminalId) ?? 0) + 1
    if (stanNumber > STAN_MAX) {
      throw new Error(`terminal ${purchase.terminalId} has used all STANs of the day`)
    }
    this.stans.set(purchase.terminalId, stanNumber)
    const stan = String(stanNumber).padStart(6, '0')
    const fields = new Map<number, string>([
      [2, purchase.pan], [3, '000000'], [4, String(purchase.amountMinor).padStart(12, '0')],
      [11, stan], [14, purchase.expiry], [22, '021'], [25, '00'], [41, purchase.terminalId],
      [42, purchase.merchantId], [49, '156'],
    ])
    let message: IsoMessage
    if (this.dialectName === 'cup-pos') {
      // 60.1 = 22 (purchase), 60.2 batch 000001, 60.3 000.
      fields.set(60, '22000001000')
      message = { mti: '0200', fields, header: CUP_HEADER }
    } else {
      fields.set(7, this.transmissionTime)
      message = { mti: '0200', fields }
    }
    const encoded = encode(this.dialect, message)
    if (!encoded.ok) throw new Error(`a bench request does not encode: ${encoded.error.code}`)
    const frame = encodeFrame('binary2', Buffer.from(encoded.bytes), FRAME_BYTES_MAX)
    return { category, key: `${purchase.terminalId}:${stan}`, frame }
  }
}

// ---------------------------------------------------------------------------------------------
// Load: connections with pipelined requests

interface MeasureWindow {
  readonly measureStartNs: bigint
  readonly endNs: bigint
}

function increment<K>(map: Map<K, number>, key: K, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by)
}

class Recorder {
  readonly latenciesMs = new Float64Array(LATENCY_SAMPLES_MAX)
  samples = 0
  samplesDropped = 0
  completedInWindow = 0
  /** Answers that named no request in flight on their connection. */
  unmatched = 0
  readonly byOutcome = new Map<string, number>()
  readonly unexpected = new Map<Category, Map<string, number>>()
  readonly perSecond: Uint32Array

  constructor(
    private readonly window: MeasureWindow,
    durationS: number,
    /** The outcome each category must get: "39=00", "39=51", or "echo". */
    private readonly expected: (category: Category) => string,
  ) {
    this.perSecond = new Uint32Array(durationS)
  }

  /** An answer (or a failure) for a request that started at `startNs`. */
  record(category: Category, outcome: string, startNs: bigint, doneNs: bigint): void {
    if (doneNs >= this.window.measureStartNs && doneNs <= this.window.endNs) {
      this.completedInWindow += 1
      const second = Number((doneNs - this.window.measureStartNs) / 1_000_000_000n)
      if (second < this.perSecond.length) this.perSecond[second] = (this.perSecond[second] ?? 0) + 1
    }
    if (startNs < this.window.measureStartNs) return
    if (this.samples < this.latenciesMs.length) {
      this.latenciesMs[this.samples++] = Number(doneNs - startNs) / 1e6
    } else {
      this.samplesDropped += 1
    }
    increment(this.byOutcome, outcome)
    if (outcome === this.expected(category)) return
    const unexpected = this.unexpected.get(category) ?? new Map<string, number>()
    increment(unexpected, outcome)
    this.unexpected.set(category, unexpected)
  }
}

interface Pending {
  readonly category: Category
  readonly startNs: bigint
}

/**
 * One connection, like a terminal concentrator: keeps `pipeline` requests in flight until the
 * window ends, matches each answer by terminal and STAN, and resolves once nothing is in flight
 * (or the connection closed, or the drain bound passed: what is left counts as an error).
 */
async function runConnection(
  port: number,
  dialect: Dialect,
  traffic: Traffic,
  options: Options,
  window: MeasureWindow,
  recorder: Recorder,
): Promise<void> {
  const socket = await openSocket(port)
  const reader = new FrameReader('binary2', FRAME_BYTES_MAX)
  const inFlight = new Map<string, Pending>()
  let exhausted = false
  return new Promise<void>((resolve) => {
    const fail = (outcome: string): void => {
      const doneNs = process.hrtime.bigint()
      for (const pending of inFlight.values()) {
        recorder.record(pending.category, outcome, pending.startNs, doneNs)
      }
      inFlight.clear()
      socket.destroy()
      resolve()
    }
    const drainTimer = setTimeout(() => fail('error:timeout'),
      Number((window.endNs - process.hrtime.bigint()) / 1_000_000n) + DRAIN_TIMEOUT_MS)
    const finishIfDone = (): void => {
      const over = exhausted || process.hrtime.bigint() >= window.endNs
      if (!over || inFlight.size > 0) return
      clearTimeout(drainTimer)
      socket.end()
      resolve()
    }
    const fill = (): void => {
      while (inFlight.size < options.pipeline && !exhausted) {
        if (process.hrtime.bigint() >= window.endNs) break
        const planned = traffic.next()
        if (planned === null) {
          exhausted = true
          break
        }
        inFlight.set(planned.key, { category: planned.category, startNs: process.hrtime.bigint() })
        socket.write(planned.frame)
      }
      finishIfDone()
    }
    socket.on('data', (chunk: Buffer) => {
      const doneNs = process.hrtime.bigint()
      socket.cork()
      for (const event of reader.push(chunk)) {
        if (event.type === 'error') {
          clearTimeout(drainTimer)
          fail(`error:${event.code}`)
          return
        }
        answered(event.frame, doneNs)
      }
      fill()
      process.nextTick(() => socket.uncork())
    })
    const answered = (frame: Buffer, doneNs: bigint): void => {
      const decoded = decode(dialect, frame)
      if (!decoded.ok) {
        recorder.unmatched += 1
        return
      }
      const fields = decoded.message.fields
      const key = `${fields.get(41)?.trim() ?? ''}:${fields.get(11) ?? ''}`
      const pending = inFlight.get(key)
      if (pending === undefined) {
        recorder.unmatched += 1
        return
      }
      inFlight.delete(key)
      const code = fields.get(39)
      recorder.record(pending.category, code === undefined ? 'echo' : `39=${code}`,
        pending.startNs, doneNs)
    }
    socket.on('error', () => undefined)
    socket.on('close', () => {
      clearTimeout(drainTimer)
      fail('error:closed')
    })
    fill()
  })
}

async function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true })
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`connect to 127.0.0.1:${port} timed out`))
    }, CONNECT_TIMEOUT_MS)
    socket.once('connect', () => {
      clearTimeout(timer)
      resolve(socket)
    })
    socket.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
  })
}

interface LoadResult {
  readonly recorder: Recorder
  readonly durationS: number
  readonly clientCpuS: number
  readonly peerCpuS: number | null
  readonly otherCpuS: number | null
}

/** Runs the load against a port for warm-up + duration; CPU is sampled over the window. */
async function runLoad(
  port: number,
  peerPid: number | undefined,
  traffic: Traffic,
  options: Options,
  timing: { warmupS: number; durationS: number },
  expected: (category: Category) => string,
  onWindowStart: () => Promise<void> = () => Promise.resolve(),
): Promise<LoadResult> {
  const dialect = loadDialect(options.dialect)
  const startNs = process.hrtime.bigint()
  const window: MeasureWindow = {
    measureStartNs: startNs + BigInt(timing.warmupS) * 1_000_000_000n,
    endNs: startNs + BigInt(timing.warmupS + timing.durationS) * 1_000_000_000n,
  }
  const recorder = new Recorder(window, timing.durationS, expected)
  const connections = Array.from({ length: options.connections }, () =>
    runConnection(port, dialect, traffic, options, window, recorder))
  const all = Promise.all(connections)
  // A failed connect rejects `all` at once; the catch keeps it from being unhandled meanwhile.
  all.catch(() => undefined)
  await sleep(timing.warmupS * 1_000)
  await onWindowStart()
  const peerStart = processCpuSeconds(peerPid)
  const machineStart = machineBusyCpuSeconds()
  const clientStart = process.cpuUsage()
  await sleep(Math.max(0, Number((window.endNs - process.hrtime.bigint()) / 1_000_000n)))
  const peerEnd = processCpuSeconds(peerPid)
  const machineEnd = machineBusyCpuSeconds()
  const client = process.cpuUsage(clientStart)
  await all
  const clientCpuS = (client.user + client.system) / 1e6
  const peerCpuS = peerStart === null || peerEnd === null ? null : peerEnd - peerStart
  const otherCpuS = peerCpuS === null || machineStart === null || machineEnd === null
    ? null
    : Math.max(0, machineEnd - machineStart - peerCpuS - clientCpuS)
  return { recorder, durationS: timing.durationS, clientCpuS, peerCpuS, otherCpuS }
}

// ---------------------------------------------------------------------------------------------
// Results

interface BatchMetrics {
  readonly batchSizeSum: number
  readonly batchSizeCount: number
  readonly busy: number
}

async function sampleMetrics(pool: Pool): Promise<BatchMetrics> {
  const { text } = await call(pool, 'GET', '/metrics', null)
  const read = (name: string): number => {
    const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)
    return match?.[1] === undefined ? 0 : Number(match[1])
  }
  return {
    batchSizeSum: read('tollgate_batch_size_sum'),
    batchSizeCount: read('tollgate_batch_size_count'),
    busy: read('tollgate_busy_total'),
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank] ?? 0
}

const round = (value: number, digits = 2): number => Number(value.toFixed(digits))
const percentOfCore = (cpuS: number | null, durationS: number): number | null =>
  cpuS === null ? null : Math.round((100 * cpuS) / durationS)

function sumWhere(map: ReadonlyMap<string, number>, prefix: string): number {
  let sum = 0
  for (const [key, count] of map) if (key.startsWith(prefix)) sum += count
  return sum
}

/** Throughput, latency, outcomes and CPU of one load run. */
function figures(load: LoadResult) {
  const { recorder, durationS } = load
  const sorted = recorder.latenciesMs.subarray(0, recorder.samples).sort()
  const perSecond = [...recorder.perSecond]
  return {
    throughputPerS: Math.round(recorder.completedInWindow / durationS),
    perSecondMin: Math.min(...perSecond),
    perSecondMedian: percentile(Float64Array.from(perSecond).sort(), 50),
    perSecondMax: Math.max(...perSecond),
    measured: recorder.samples,
    latencyMs: {
      p50: round(percentile(sorted, 50)), p90: round(percentile(sorted, 90)),
      p99: round(percentile(sorted, 99)), p999: round(percentile(sorted, 99.9)),
      max: round(percentile(sorted, 100)),
    },
    errors: sumWhere(recorder.byOutcome, 'error:'),
    unmatched: recorder.unmatched,
    byOutcome: Object.fromEntries([...recorder.byOutcome].sort((a, b) => b[1] - a[1])),
    unexpected: Object.fromEntries([...recorder.unexpected].map(([category, outcomes]) =>
      [category, Object.fromEntries(outcomes)])),
    cpuPercent: {
      peer: percentOfCore(load.peerCpuS, durationS),
      client: percentOfCore(load.clientCpuS, durationS),
      otherProcesses: percentOfCore(load.otherCpuS, durationS),
    },
    samplesDropped: recorder.samplesDropped,
  }
}

type Figures = ReturnType<typeof figures>

interface Run {
  readonly options: Options
  readonly loadBefore: number
  readonly echo: Figures | null
  readonly server: Figures
  readonly provisionS: number
  readonly metricsStart: BatchMetrics
  readonly metricsEnd: BatchMetrics
  readonly creditFallbacks: number
  readonly ledgerBalanced: boolean
}

function summarise(run: Run) {
  const { options, server, echo, metricsStart: start, metricsEnd: end } = run
  const batches = end.batchSizeCount - start.batchSizeCount
  const approved = server.byOutcome['39=00'] ?? 0
  return {
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version,
      loadAverage1mBefore: round(run.loadBefore), loadAverage1mAfter: round(loadavg()[0] ?? 0),
    },
    settings: {
      dialect: options.dialect, framing: 'binary2', connections: options.connections,
      pipeline: options.pipeline, inFlight: options.connections * options.pipeline,
      warmupS: options.warmupS, durationS: options.durationS, echoS: options.echoS,
      terminals: options.terminals, debitCards: options.debitCards,
      creditCards: options.creditCards, lowBalanceCards: options.lowBalanceCards,
      seed: options.seed, store: 'sqlite (WAL, synchronous=FULL)',
    },
    provisionS: round(run.provisionS, 1),
    authorizations: server,
    approved,
    declinedPercent: server.measured === 0
      ? 0
      : round((100 * (server.measured - approved - server.errors)) / server.measured, 1),
    echo,
    fractionOfEchoCeiling: echo === null || echo.throughputPerS === 0
      ? null
      : round(server.throughputPerS / echo.throughputPerS, 3),
    meanBatchSizeWindow:
      batches === 0 ? 0 : round((end.batchSizeSum - start.batchSizeSum) / batches, 1),
    busyRefusals: end.busy,
    creditFallbacks: run.creditFallbacks,
    ledgerBalanced: run.ledgerBalanced,
  }
}

type Summary = ReturnType<typeof summarise>

function printTable(summary: Summary): void {
  const row = (label: string, value: string | number | null): string =>
    `  ${label.padEnd(44)} ${String(value ?? '?')}`
  const slash = (...values: readonly (string | number | null)[]): string =>
    values.map((v) => String(v ?? '?')).join(' / ')
  const loadLines = (name: string, f: Figures): string[] => [
    row(`${name}: per second`, f.throughputPerS),
    row('  per second: min / median / max',
      slash(f.perSecondMin, f.perSecondMedian, f.perSecondMax)),
    row('  latency ms: p50 / p90 / p99 / p99.9 / max',
      slash(f.latencyMs.p50, f.latencyMs.p90, f.latencyMs.p99, f.latencyMs.p999, f.latencyMs.max)),
    row('  measured / errors / unmatched', slash(f.measured, f.errors, f.unmatched)),
    row('  CPU % of a core: peer / bench / others',
      slash(f.cpuPercent.peer, f.cpuPercent.client, f.cpuPercent.otherProcesses)),
  ]
  const { machine, settings: set, authorizations: auth } = summary
  const lines = [
    '',
    `Tollgate ISO 8583 TCP benchmark (${set.dialect}, durable SQLite store)`,
    row('date', summary.date),
    row('machine', `${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}`),
    row('load average 1 min: before / after',
      slash(machine.loadAverage1mBefore, machine.loadAverage1mAfter)),
    row('connections × pipeline = in flight',
      `${set.connections} × ${set.pipeline} = ${set.inFlight}`),
    row('warm-up s / measured s / echo s', slash(set.warmupS, set.durationS, set.echoS)),
    row('terminals / debit / credit / low cards',
      slash(set.terminals, set.debitCards, set.creditCards, set.lowBalanceCards)),
    row('provisioning', `${summary.provisionS} s`),
    '',
    ...(summary.echo === null ? [] : loadLines('bare TCP echo (ceiling)', summary.echo)),
    ...loadLines('authorizations', auth),
    row('fraction of the echo ceiling', summary.fractionOfEchoCeiling),
    row('approved / declined %', slash(summary.approved, summary.declinedPercent)),
    row('mean batch size in the window', summary.meanBatchSizeWindow),
    row('busy refusals (queue full)', summary.busyRefusals),
    row('ledger balanced', summary.ledgerBalanced ? 'yes' : 'NO'),
    '  answers by field 39:',
    ...Object.entries(auth.byOutcome).map(([k, v]) => row(`    ${k}`, v)),
  ]
  const unexpected = Object.entries(auth.unexpected)
  lines.push(unexpected.length === 0
    ? '  every answer was the one the mix intended'
    : '  UNEXPECTED:')
  for (const [category, outcomes] of unexpected) {
    lines.push(row(`    ${category}`, JSON.stringify(outcomes)))
  }
  if (summary.creditFallbacks > 0) {
    lines.push(row('credit requests sent with debit cards', summary.creditFallbacks))
  }
  process.stdout.write(lines.join('\n') + '\n')
}

// ---------------------------------------------------------------------------------------------
// Main

/** MMDDhhmmss, UTC, for field 7. */
function transmissionTimeNow(): string {
  const now = new Date()
  const two = (n: number): string => String(n).padStart(2, '0')
  return two(now.getUTCMonth() + 1) + two(now.getUTCDate()) + two(now.getUTCHours()) +
    two(now.getUTCMinutes()) + two(now.getUTCSeconds())
}

async function measureEcho(options: Options, fleet: Fleet): Promise<Figures | null> {
  if (options.echoS === 0) return null
  progress(`bare TCP echo: ${ECHO_WARMUP_S} s warm-up + ${options.echoS} s`)
  const { echo, port } = await startEcho()
  try {
    const dialect = loadDialect(options.dialect)
    const time = transmissionTimeNow()
    const traffic = new Traffic(fleet, options.dialect, dialect, time, options.seed)
    const timing = { warmupS: ECHO_WARMUP_S, durationS: options.echoS }
    const load = await runLoad(port, echo.child.pid, traffic, options, timing, () => 'echo')
    return figures(load)
  } finally {
    await stopChild(echo)
  }
}

async function measureServer(server: ServerChild, pool: Pool, options: Options, fleet: Fleet) {
  await waitReady(server)
  const provisionStartMs = Date.now()
  await provision(pool, server.adminToken, fleet)
  const provisionS = (Date.now() - provisionStartMs) / 1000
  progress(`provisioned in ${provisionS.toFixed(1)} s; ${options.connections} connections × ` +
    `${options.pipeline} in flight, ${options.warmupS} s warm-up + ${options.durationS} s`)
  const dialect = loadDialect(options.dialect)
  const traffic = new Traffic(fleet, options.dialect, dialect, transmissionTimeNow(), options.seed)
  const codes = expectedCodes(options.dialect)
  let metricsStart: BatchMetrics | null = null
  const load = await runLoad(server.isoPort, server.child.pid, traffic, options,
    options, (category) => `39=${codes.get(category) ?? '?'}`, async () => {
      metricsStart = await sampleMetrics(pool)
    })
  progress('load done; reading metrics and checking the ledger')
  const metricsEnd = await sampleMetrics(pool)
  const ledger = await call(pool, 'GET', '/v1/ledger/check', server.adminToken)
  if (ledger.status !== 200) throw new Error(`ledger check: HTTP ${ledger.status}`)
  const ledgerBody = JSON.parse(ledger.text) as { balanced?: unknown } | null
  return {
    server: figures(load), provisionS, metricsEnd, creditFallbacks: traffic.creditFallbacks,
    metricsStart: metricsStart ?? { batchSizeSum: 0, batchSizeCount: 0, busy: 0 },
    ledgerBalanced: ledgerBody?.balanced === true,
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  const loadBefore = loadavg()[0] ?? 0
  const fleet = planFleet(options)
  const echo = await measureEcho(options, fleet)
  progress(`starting the server (${options.dialect})`)
  const server = await startServer(options)
  const pool = new Pool(server.origin, {
    connections: PROVISION_CONCURRENCY, pipelining: 1, connectTimeout: REQUEST_TIMEOUT_MS,
    headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS,
  })
  const onSignal = (): void => {
    void stopChild(server).finally(() => {
      rmSync(server.dataDir, { recursive: true, force: true })
      process.exit(130)
    })
  }
  process.once('SIGINT', onSignal)
  let summary: Summary
  try {
    const measured = await measureServer(server, pool, options, fleet)
    summary = summarise({ options, loadBefore, echo, ...measured })
    await pool.close()
    progress('stopping the server')
    const exitCode = await stopChild(server)
    if (exitCode !== 0) progress(`server exited with ${String(exitCode)}`)
  } finally {
    process.removeListener('SIGINT', onSignal)
    await pool.destroy().catch(() => undefined)
    await stopChild(server)
    rmSync(server.dataDir, { recursive: true, force: true })
  }
  if (options.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n')
  else printTable(summary)
  if (!summary.ledgerBalanced) process.exitCode = 1
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
