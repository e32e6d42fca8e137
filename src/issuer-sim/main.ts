import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { isFraming, type Framing } from '../adapters/iso8583/tcp/framing.js'
import { UsageError } from '../cli/env.js'
import { demoAccountInputs, Ledger } from './accounts.js'
import { startControl } from './control.js'
import { faultsPatchSchema, mergeFaults, NO_FAULTS, type Faults, type Latency } from './faults.js'
import { startSimulator } from './simulator.js'

/**
 * `tollgate issuer-sim`: a separate process that plays a card issuer's host on the issuer link
 * (ISO 8583, iso87-binary), with its own in-memory ledger, seeded fault injection and a JSON
 * control endpoint. The first stdout line names both ports, for a parent process to read:
 *
 *   issuer-sim listening 127.0.0.1:<port> control http://127.0.0.1:<control port>
 *
 * See docs/issuer-sim.md.
 */

export const ISSUER_SIM_HELP = `tollgate issuer-sim — a simulated card issuer host (ISO 8583 iso87-binary over TCP)

Options:
  --host <address>              listen address (default 127.0.0.1)
  --port <n>                    ISO 8583 port (default 0: any free port, printed)
  --control-port <n>            control HTTP port on 127.0.0.1 (default 0: printed)
  --framing binary2|ascii4      length prefix (default binary2)
  --seed <n>                    seed of every random choice (default 1)
  --accounts <file.json>        accounts to load: [{ "pan", "expiry", "amount", ... }]
  --no-demo-accounts            do not load Tollgate's demo cards
  --faults <file.json>          initial faults (the PUT /faults body)
  --schedule <file.json>        a fault schedule (the POST /schedule body)
  --latency <ms | min-max | p50:10,p99:200,p100:1000>
  --drop <fraction>             answers lost (0..1); --drop-mode answer|request
  --error-fraction <fraction>   answered with --error-code (default 96) instead of processed
  --disconnect-after <n>        cut a connection when message n+1 arrives
  --disconnect-probability <p>  each message cuts its connection with probability p
  --refuse-connections          close new connections at once
  --maintenance                 answer 91 to everything but an echo test
  --fault-mtis <0200,0100>      apply latency, drops and errors to these MTIs only
  --connections-max <n>         (default 256)   --in-flight-max <n> per connection (default 32)
  --log-level <level>           pino level on stderr (default info)`

const usage = (message: string): never => {
  throw new UsageError(`issuer-sim: ${message}`)
}

function integer(name: string, text: string | undefined, fallback: number, max: number): number {
  if (text === undefined) return fallback
  if (!/^\d{1,10}$/.test(text) || Number(text) > max) usage(`--${name} takes 0..${max}`)
  return Number(text)
}

function readJsonFile(name: string, file: string): unknown {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    return usage(`--${name}: cannot read ${file} (${(error as Error).message})`)
  }
  try {
    return JSON.parse(text) as unknown
  } catch {
    // The parser's message would quote the file, which may hold card numbers.
    return usage(`--${name}: ${file} is not valid JSON`)
  }
}

/** `50` fixed, `10-50` uniform, `p50:10,p99:200,p100:1000` percentiles. */
export function parseLatency(text: string): Latency | string {
  if (/^\d+$/.test(text)) return { kind: 'fixed', ms: Number(text) }
  const range = /^(\d+)-(\d+)$/.exec(text)
  if (range !== null) return { kind: 'uniform', minMs: Number(range[1]), maxMs: Number(range[2]) }
  const points = text.split(',').map((part) => /^p(\d+(?:\.\d+)?):(\d+)$/.exec(part))
  if (points.some((point) => point === null) || points.length === 0)
    return 'expected ms, min-max, or p50:10,p99:200,p100:1000'
  return {
    kind: 'percentiles',
    points: points.map((point) => ({ p: Number(point?.[1]), ms: Number(point?.[2]) })),
  }
}

type Values = Record<string, string | boolean | undefined>

function faultsFrom(values: Values): Faults {
  const base =
    typeof values.faults === 'string' ? readJsonFile('faults', values.faults) : ({} as unknown)
  const fromFile = faultsPatchSchema.safeParse(base)
  if (!fromFile.success)
    usage(
      `--faults: ${fromFile.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    )
  const patch: Record<string, unknown> = { ...(fromFile.success ? fromFile.data : {}) }
  const str = (key: string): string | undefined =>
    typeof values[key] === 'string' ? values[key] : undefined
  const latency = str('latency')
  if (latency !== undefined) {
    const parsed = parseLatency(latency)
    if (typeof parsed === 'string') usage(`--latency: ${parsed}`)
    patch.latency = parsed
  }
  const numeric: [string, string][] = [
    ['drop', 'dropFraction'],
    ['error-fraction', 'errorFraction'],
    ['disconnect-probability', 'disconnectProbability'],
    ['disconnect-after', 'disconnectAfterMessages'],
  ]
  for (const [flag, key] of numeric) {
    const text = str(flag)
    if (text === undefined) continue
    if (!/^\d+(\.\d+)?$/.test(text)) usage(`--${flag} takes a number`)
    patch[key] = Number(text)
  }
  if (str('drop-mode') !== undefined) patch.dropMode = str('drop-mode')
  if (str('error-code') !== undefined) patch.errorCode = str('error-code')
  if (str('fault-mtis') !== undefined) patch.mtis = str('fault-mtis')?.split(',')
  if (values['refuse-connections'] === true) patch.refuseConnections = true
  if (values.maintenance === true) patch.maintenance = true
  const parsed = faultsPatchSchema.safeParse(patch)
  if (!parsed.success)
    return usage(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '))
  return mergeFaults(NO_FAULTS, parsed.data)
}

function loadAccounts(values: Values): Ledger {
  const ledger = new Ledger()
  const inputs: unknown[] = values['no-demo-accounts'] === true ? [] : demoAccountInputs()
  if (typeof values.accounts === 'string') {
    const file = readJsonFile('accounts', values.accounts)
    const list = Array.isArray(file)
      ? (file as unknown[])
      : typeof file === 'object' &&
          file !== null &&
          Array.isArray((file as { accounts?: unknown }).accounts)
        ? (file as { accounts: unknown[] }).accounts
        : usage('--accounts: expected a JSON array of accounts, or { "accounts": [...] }')
    inputs.push(...list)
  }
  inputs.forEach((input, index) => {
    const added = ledger.addAccount(input)
    if (!added.ok) usage(`--accounts: account ${index}: ${added.error}`)
  })
  return ledger
}

function parseFlags(args: string[]) {
  try {
    return parseArgs({
      args,
      strict: true,
      options: {
        help: { type: 'boolean' },
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string' },
        'control-port': { type: 'string' },
        framing: { type: 'string', default: 'binary2' },
        seed: { type: 'string' },
        accounts: { type: 'string' },
        'no-demo-accounts': { type: 'boolean' },
        faults: { type: 'string' },
        schedule: { type: 'string' },
        latency: { type: 'string' },
        drop: { type: 'string' },
        'drop-mode': { type: 'string' },
        'error-fraction': { type: 'string' },
        'error-code': { type: 'string' },
        'disconnect-after': { type: 'string' },
        'disconnect-probability': { type: 'string' },
        'refuse-connections': { type: 'boolean' },
        maintenance: { type: 'boolean' },
        'fault-mtis': { type: 'string' },
        'connections-max': { type: 'string' },
        'in-flight-max': { type: 'string' },
        'log-level': { type: 'string', default: 'info' },
      },
    }).values
  } catch (error) {
    return usage(error instanceof Error ? error.message : String(error))
  }
}

/** Runs until SIGTERM or SIGINT. */
export async function runIssuerSim(args: string[]): Promise<void> {
  const values = parseFlags(args)
  if (values.help === true) {
    process.stdout.write(ISSUER_SIM_HELP + '\n')
    return
  }
  const framing: Framing = isFraming(values.framing)
    ? values.framing
    : usage('--framing takes binary2 or ascii4')
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
  if (!levels.includes(values['log-level'])) usage(`--log-level takes ${levels.join(', ')}`)
  const logger = pino(
    {
      level: values['log-level'],
      base: { service: 'issuer-sim' },
      redact: { paths: ['pan', '*.pan', '*.*.pan'], censor: '[redacted]' },
    },
    pino.destination(2),
  )
  const faults = faultsFrom(values)
  const ledger = loadAccounts(values)
  const sim = await startSimulator(
    {
      host: values.host,
      port: integer('port', values.port, 0, 65_535),
      framing,
      seed: integer('seed', values.seed, 1, 4_294_967_295),
      connectionsMax: integer('connections-max', values['connections-max'], 256, 100_000) || 1,
      inFlightPerConnectionMax: integer('in-flight-max', values['in-flight-max'], 32, 65_536) || 1,
      frameBytesMax: 4_096,
      idleTimeoutMs: 300_000,
      shutdownGraceMs: 5_000,
      faults,
      logger,
    },
    ledger,
  )
  if (typeof values.schedule === 'string') {
    const error = sim.setSchedule(readJsonFile('schedule', values.schedule))
    if (error !== null) {
      await sim.close()
      usage(`--schedule: ${error}`)
    }
  }
  const control = await startControl(sim, {
    host: '127.0.0.1',
    port: integer('control-port', values['control-port'], 0, 65_535),
    logger,
  })
  process.stdout.write(
    `issuer-sim listening ${values.host}:${sim.port} control http://127.0.0.1:${control.port}\n`,
  )
  logger.info(
    { port: sim.port, controlPort: control.port, seed: sim.seed, accounts: ledger.accountCount },
    'issuer-sim started',
  )
  await new Promise<void>((resolve) => {
    let stopping = false
    const stop = (signal: string): void => {
      if (stopping) return
      stopping = true
      logger.info({ signal }, 'stopping: answering in-flight requests')
      Promise.all([sim.close(), control.close()]).then(
        () => resolve(),
        (error: unknown) => {
          logger.error({ err: error }, 'error while stopping')
          process.exitCode = 1
          resolve()
        },
      )
    }
    process.once('SIGINT', () => stop('SIGINT'))
    process.once('SIGTERM', () => stop('SIGTERM'))
  })
  process.stdout.write('issuer-sim stopped\n')
}
