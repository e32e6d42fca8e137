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
 *   [--duration 15] [--warmup 3] [--echo 5] [--json] [--profile]
 */
import { spawn } from 'node:child_process'
import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Pool } from 'undici'
import { decode, encode, type IsoMessage } from '../src/adapters/iso8583/codec.js'
import { responseCodeFor } from '../src/adapters/iso8583/messages.js'
import {
  isDialectName,
  loadDialect,
  type Dialect,
  type DialectName,
} from '../src/adapters/iso8583/spec.js'
import { encodeFrame, FrameReader } from '../src/adapters/iso8583/tcp/framing.js'
import { assert } from '../src/core/assert.js'
import {
  ledgerBalanced,
  NO_BATCH_METRICS,
  openPool,
  sampleMetrics,
  type BatchMetrics,
} from './support/admin.js'
import { exitOnFailure, integerOption, readOptions, UsageError } from './support/args.js'
import { loadAverage1m, machineAround, startCpuWindow } from './support/cpu.js'
import { LOAD_OPTION_SPEC, loadOptions, loadUsage, type LoadOptions } from './support/options.js'
import { planFleet, provision, PROVISION_CONCURRENCY, type Fleet } from './support/provision.js'
import {
  measureWindow,
  sleepUntil,
  WindowRecorder,
  type MeasureWindow,
} from './support/recorder.js'
import { fleetRows, headingRows, progressLog, rowOf, slash, verdictRows } from './support/report.js'
import {
  finishServer,
  freePort,
  READY_TIMEOUT_MS,
  startServer,
  stopChild,
  waitReady,
  watchChild,
  withServer,
  type Child,
  type ServerChild,
} from './support/server.js'
import { summariseProfile } from './support/profile.js'
import { percentile, round, sortedEntries, sumWhere } from './support/stats.js'
import { MIX, PurchaseStream, type Category, type Purchase } from './support/traffic.js'

const CONNECTIONS_DEFAULT = 64
const CONNECTIONS_MAX = 1_000
const PIPELINE_DEFAULT = 4
/** The server's default in-flight limit per connection. */
const PIPELINE_MAX = 32
const ECHO_S_DEFAULT = 5
const ECHO_S_MAX = 600
const ECHO_WARMUP_S = 1
const LOAD_DEFAULTS = {
  durationS: 15,
  debitCards: 2_000,
  creditCards: 2_000,
  lowBalanceCards: 100,
  terminals: 50,
}
const CONNECT_TIMEOUT_MS = 5_000
/** How long in-flight requests may take to be answered after the window closes. */
const DRAIN_TIMEOUT_MS = 10_000
const LATENCY_SAMPLES_MAX = 4_000_000
const FRAME_BYTES_MAX = 4_096
assert(PIPELINE_MAX <= 32, 'the pipeline stays within the server default in-flight limit')

const CUP_HEADER = { tpdu: '6000030000', header: '603100000000' }

/** The field 39 each category must get in a dialect ("00" for an approval). */
function expectedCodes(dialect: DialectName): ReadonlyMap<Category, string> {
  return new Map(
    MIX.map((m) => [m.category, m.reason === null ? '00' : responseCodeFor(m.reason, dialect)]),
  )
}

interface Options extends LoadOptions {
  readonly dialect: DialectName
  readonly connections: number
  readonly pipeline: number
  readonly echoS: number
  readonly json: boolean
  readonly profile: boolean
}

const USAGE = `npm run bench:iso -- [options]
  --dialect <name>         cup-pos, iso87-ascii or iso87-binary (default cup-pos)
  --connections <n>        TCP connections (default ${CONNECTIONS_DEFAULT})
  --pipeline <n>           requests in flight per connection (default ${PIPELINE_DEFAULT})
${loadUsage(LOAD_DEFAULTS).window}
  --echo <s>               seconds of the bare TCP echo ceiling, 0: none (default ${ECHO_S_DEFAULT})
${loadUsage(LOAD_DEFAULTS).fleet}
  --json                   print the result as JSON
  --profile                run the server with --cpu-prof and summarise its self time
`

function parseOptions(argv: readonly string[]): Options {
  const text = { type: 'string' } as const
  const flag = { type: 'boolean' } as const
  const values = readOptions(
    argv,
    {
      ...LOAD_OPTION_SPEC,
      dialect: text,
      connections: text,
      pipeline: text,
      echo: text,
      json: flag,
      profile: flag,
    },
    USAGE,
  )
  const dialect = typeof values.dialect === 'string' ? values.dialect : 'cup-pos'
  if (!isDialectName(dialect)) throw new UsageError(`--dialect: unknown ${dialect}\n\n${USAGE}`)
  return {
    dialect,
    connections: integerOption(values, 'connections', CONNECTIONS_DEFAULT, CONNECTIONS_MAX),
    pipeline: integerOption(values, 'pipeline', PIPELINE_DEFAULT, PIPELINE_MAX),
    ...loadOptions(values, LOAD_DEFAULTS),
    echoS: integerOption(values, 'echo', ECHO_S_DEFAULT, ECHO_S_MAX, 0),
    json: values.json === true,
    profile: values.profile === true,
  }
}

const progress = progressLog('bench:iso')

// ---------------------------------------------------------------------------------------------
// Child processes: the server and the echo

interface IsoServer extends ServerChild {
  readonly isoPort: number
}

async function startIsoServer(options: Options): Promise<IsoServer> {
  const isoPort = await freePort()
  const server = await startServer({
    tempPrefix: 'tollgate-bench-iso-',
    env: {
      TOLLGATE_ISO_HOST: '127.0.0.1',
      TOLLGATE_ISO_PORT: String(isoPort),
      TOLLGATE_ISO_DIALECT: options.dialect,
      TOLLGATE_ISO_FRAMING: 'binary2',
    },
    cpuProfile: options.profile,
  })
  return { ...server, isoPort }
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
  const echo = watchChild(child)
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    const line = echo.output.find((l) => l.startsWith('port '))
    if (line !== undefined) return { echo, port: Number(line.slice(5)) }
    if (child.exitCode !== null) break
    await sleep(20)
  }
  await stopChild(echo, progress)
  throw new Error(`echo server did not start:\n${echo.output.join('\n')}`)
}

// ---------------------------------------------------------------------------------------------
// Traffic: ISO 8583 purchases, framed

interface Planned {
  readonly category: Category
  /** Terminal id and STAN: how the answer is matched to its request. */
  readonly key: string
  readonly frame: Buffer
}

type Traffic = PurchaseStream<Planned>

/** MMDDhhmmss, UTC, for field 7. */
function transmissionTimeNow(): string {
  const now = new Date()
  const two = (n: number): string => String(n).padStart(2, '0')
  return (
    two(now.getUTCMonth() + 1) +
    two(now.getUTCDate()) +
    two(now.getUTCHours()) +
    two(now.getUTCMinutes()) +
    two(now.getUTCSeconds())
  )
}

/**
 * The purchases as framed 0200 requests in the dialect. Field 7 (MMDDhhmmss) in the
 * ISO 8583:1987 dialects is fixed for the run.
 */
function isoTraffic(fleet: Fleet, options: Options): Traffic {
  const dialect = loadDialect(options.dialect)
  const transmissionTime = transmissionTimeNow()
  const write = (purchase: Purchase): Planned => {
    const fields = new Map<number, string>([
      [2, purchase.pan],
      [3, '000000'],
      [4, String(purchase.amountMinor).padStart(12, '0')],
      [11, purchase.stan],
      [14, purchase.expiry],
      [22, '021'],
      [25, '00'],
      [41, purchase.terminalId],
      [42, purchase.merchantId],
      [49, '156'],
    ])
    let message: IsoMessage
    if (options.dialect === 'cup-pos') {
      // 60.1 = 22 (purchase), 60.2 batch 000001, 60.3 000.
      fields.set(60, '22000001000')
      message = { mti: '0200', fields, header: CUP_HEADER }
    } else {
      fields.set(7, transmissionTime)
      message = { mti: '0200', fields }
    }
    const encoded = encode(dialect, message)
    if (!encoded.ok) throw new Error(`a bench request does not encode: ${encoded.error.code}`)
    const frame = encodeFrame('binary2', Buffer.from(encoded.bytes), FRAME_BYTES_MAX)
    return { category: purchase.category, key: `${purchase.terminalId}:${purchase.stan}`, frame }
  }
  // Draws an amount for every request, as this benchmark always has: the same seed, the same run.
  return new PurchaseStream(fleet, options.seed, write, true)
}

// ---------------------------------------------------------------------------------------------
// Load: connections with pipelined requests

class Recorder extends WindowRecorder<Category> {
  /** Answers that named no request in flight on their connection. */
  unmatched = 0

  constructor(
    window: MeasureWindow,
    durationS: number,
    /** The outcome each category must get: "39=00", "39=51", or "echo". */
    expected: (category: Category) => string,
  ) {
    super(window, durationS, LATENCY_SAMPLES_MAX, expected)
  }

  /** An answer (or a failure) for a request that started at `startNs`. */
  record(category: Category, outcome: string, startNs: bigint, doneNs: bigint): void {
    this.completed(doneNs)
    if (startNs < this.window.measureStartNs) return
    this.sampled(category, outcome, Number(doneNs - startNs) / 1e6)
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
    const drainTimer = setTimeout(
      () => fail('error:timeout'),
      Number((window.endNs - process.hrtime.bigint()) / 1_000_000n) + DRAIN_TIMEOUT_MS,
    )
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
      recorder.record(
        pending.category,
        code === undefined ? 'echo' : `39=${code}`,
        pending.startNs,
        doneNs,
      )
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
  readonly window: MeasureWindow
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
  const window = measureWindow(timing.warmupS, timing.durationS)
  const recorder = new Recorder(window, timing.durationS, expected)
  const connections = Array.from({ length: options.connections }, () =>
    runConnection(port, dialect, traffic, options, window, recorder),
  )
  const all = Promise.all(connections)
  // A failed connect rejects `all` at once; the catch keeps it from being unhandled meanwhile.
  all.catch(() => undefined)
  await sleep(timing.warmupS * 1_000)
  await onWindowStart()
  const endCpuWindow = startCpuWindow(peerPid)
  await sleepUntil(window.endNs)
  const cpu = endCpuWindow()
  await all
  const otherCpuS = cpu.otherCpuS === null ? null : Math.max(0, cpu.otherCpuS)
  const { clientCpuS, peerCpuS } = cpu
  return { recorder, window, durationS: timing.durationS, clientCpuS, peerCpuS, otherCpuS }
}

// ---------------------------------------------------------------------------------------------
// Results

const percentOfCore = (cpuS: number | null, durationS: number): number | null =>
  cpuS === null ? null : Math.round((100 * cpuS) / durationS)

/** Throughput, latency, outcomes and CPU of one load run. */
function figures(load: LoadResult) {
  const { recorder, durationS } = load
  const sorted = recorder.sortedLatencies()
  const perSecond = [...recorder.perSecond]
  return {
    throughputPerS: Math.round(recorder.completedInWindow / durationS),
    perSecondMin: Math.min(...perSecond),
    perSecondMedian: percentile(Float64Array.from(perSecond).sort(), 50),
    perSecondMax: Math.max(...perSecond),
    measured: recorder.samples,
    latencyMs: {
      p50: round(percentile(sorted, 50)),
      p90: round(percentile(sorted, 90)),
      p99: round(percentile(sorted, 99)),
      p999: round(percentile(sorted, 99.9)),
      max: round(percentile(sorted, 100)),
    },
    errors: sumWhere(recorder.byOutcome, 'error:'),
    unmatched: recorder.unmatched,
    byOutcome: sortedEntries(recorder.byOutcome),
    unexpected: Object.fromEntries(
      [...recorder.unexpected].map(([category, outcomes]) => [
        category,
        Object.fromEntries(outcomes),
      ]),
    ),
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
    machine: machineAround(run.loadBefore),
    settings: {
      dialect: options.dialect,
      framing: 'binary2',
      connections: options.connections,
      pipeline: options.pipeline,
      inFlight: options.connections * options.pipeline,
      warmupS: options.warmupS,
      durationS: options.durationS,
      echoS: options.echoS,
      terminals: options.terminals,
      debitCards: options.debitCards,
      creditCards: options.creditCards,
      lowBalanceCards: options.lowBalanceCards,
      seed: options.seed,
      store: 'sqlite (WAL, synchronous=FULL)',
    },
    provisionS: round(run.provisionS, 1),
    authorizations: server,
    approved,
    declinedPercent:
      server.measured === 0
        ? 0
        : round((100 * (server.measured - approved - server.errors)) / server.measured, 1),
    echo,
    fractionOfEchoCeiling:
      echo === null || echo.throughputPerS === 0
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
  const row = rowOf(44)
  const loadLines = (name: string, f: Figures): string[] => [
    row(`${name}: per second`, f.throughputPerS),
    row(
      '  per second: min / median / max',
      slash(f.perSecondMin, f.perSecondMedian, f.perSecondMax),
    ),
    row(
      '  latency ms: p50 / p90 / p99 / p99.9 / max',
      slash(f.latencyMs.p50, f.latencyMs.p90, f.latencyMs.p99, f.latencyMs.p999, f.latencyMs.max),
    ),
    row('  measured / errors / unmatched', slash(f.measured, f.errors, f.unmatched)),
    row(
      '  CPU % of a core: peer / bench / others',
      slash(f.cpuPercent.peer, f.cpuPercent.client, f.cpuPercent.otherProcesses),
    ),
  ]
  const { settings: set, authorizations: auth } = summary
  const lines = [
    '',
    `Tollgate ISO 8583 TCP benchmark (${set.dialect}, durable SQLite store)`,
    ...headingRows(row, summary),
    row(
      'connections × pipeline = in flight',
      `${set.connections} × ${set.pipeline} = ${set.inFlight}`,
    ),
    row('warm-up s / measured s / echo s', slash(set.warmupS, set.durationS, set.echoS)),
    ...fleetRows(row, summary),
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
    ...verdictRows(row, auth.unexpected, summary.creditFallbacks),
  ]
  process.stdout.write(lines.join('\n') + '\n')
}

// ---------------------------------------------------------------------------------------------
// Main

async function measureEcho(options: Options, fleet: Fleet): Promise<Figures | null> {
  if (options.echoS === 0) return null
  progress(`bare TCP echo: ${ECHO_WARMUP_S} s warm-up + ${options.echoS} s`)
  const { echo, port } = await startEcho()
  try {
    const traffic = isoTraffic(fleet, options)
    const timing = { warmupS: ECHO_WARMUP_S, durationS: options.echoS }
    const load = await runLoad(port, echo.child.pid, traffic, options, timing, () => 'echo')
    return figures(load)
  } finally {
    await stopChild(echo, progress)
  }
}

async function measureServer(server: IsoServer, pool: Pool, options: Options, fleet: Fleet) {
  await waitReady(server)
  const provisionStartMs = Date.now()
  await provision(pool, server.adminToken, fleet)
  const provisionS = (Date.now() - provisionStartMs) / 1000
  progress(
    `provisioned in ${provisionS.toFixed(1)} s; ${options.connections} connections × ` +
      `${options.pipeline} in flight, ${options.warmupS} s warm-up + ${options.durationS} s`,
  )
  const traffic = isoTraffic(fleet, options)
  const codes = expectedCodes(options.dialect)
  let metricsStart: BatchMetrics | null = null
  const load = await runLoad(
    server.isoPort,
    server.child.pid,
    traffic,
    options,
    options,
    (category) => `39=${codes.get(category) ?? '?'}`,
    async () => {
      metricsStart = await sampleMetrics(pool)
    },
  )
  progress('load done; reading metrics and checking the ledger')
  const metricsEnd = await sampleMetrics(pool)
  const balanced = await ledgerBalanced(pool, server.adminToken)
  return {
    server: figures(load),
    window: load.window,
    provisionS,
    metricsEnd,
    creditFallbacks: traffic.creditFallbacks,
    metricsStart: metricsStart ?? NO_BATCH_METRICS,
    ledgerBalanced: balanced,
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  const loadBefore = loadAverage1m()
  const fleet = planFleet(options)
  const echo = await measureEcho(options, fleet)
  progress(`starting the server (${options.dialect})`)
  const server = await startIsoServer(options)
  const pool = openPool(server.origin, PROVISION_CONCURRENCY)
  const { summary, profile } = await withServer(server, pool, progress, async () => {
    const { window, ...measured } = await measureServer(server, pool, options, fleet)
    const result = summarise({ options, loadBefore, echo, ...measured })
    await finishServer(server, pool, progress)
    // The profiles are written when the server exits, before its data directory is removed.
    const summarised = options.profile ? summariseProfile(server.dataDir, window) : null
    return { summary: result, profile: summarised }
  })
  if (options.json) process.stdout.write(JSON.stringify({ ...summary, profile }, null, 2) + '\n')
  else {
    printTable(summary)
    if (profile !== null) process.stdout.write(`\n${profile.join('\n')}\n`)
  }
  if (!summary.ledgerBalanced) process.exitCode = 1
}

main().catch(exitOnFailure)
