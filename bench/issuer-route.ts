/**
 * `npm run bench:issuer`: authorizations per second and latency through a remote route, from
 * HTTP through Tollgate over ISO 8583 to the issuer simulator and back, in two phases of one
 * run: the issuer healthy, then losing a share of its purchase answers (5% by default), where
 * the route timeout matters: those requests time out, are declined and reversed. Both processes
 * are children on 127.0.0.1 with a fresh data directory; every wait is bounded.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { outboxOpen, readEvidence } from '../src/drills/evidence.js'
import { runLoad, type LoadResult } from '../src/drills/load.js'
import {
  sleep,
  startServe,
  startSim,
  stopChild,
  type ServeChild,
  type SimChild,
} from '../src/drills/processes.js'
import {
  configureRoute,
  DRILL_MERCHANT,
  DRILL_ROUTE,
  DRILL_STIP,
  planFleet,
  provisionSim,
  provisionTollgate,
} from '../src/drills/setup.js'
import { exitOnFailure, integerOption, readOptions } from './support/args.js'
import { percentile, round } from './support/stats.js'

const USAGE = `npm run bench:issuer -- [options]

  --duration <s>      measured seconds per phase (default 10)
  --warmup <s>        seconds of load before each phase's measurement (default 2)
  --concurrency <n>   purchases in flight (default 64)
  --timeout <ms>      the route's request timeout (default 1000)
  --drop-percent <n>  share of purchase answers the issuer loses in the second phase (default 5)
  --pool <n>          issuer connections (TOLLGATE_ISSUER_POOL_SIZE, default 2)
  --seed <n>          seed of the simulator and the traffic (default 1)
  --json              the result as JSON on stdout (progress on stderr)
`

const RECOVERY_WAIT_MS = 60_000
const CONTROL_TIMEOUT_MS = 10_000

const log = (line: string) => process.stderr.write(`${line}\n`)

async function control(sim: SimChild, method: string, path: string, body?: unknown) {
  const response = await fetch(sim.controlUrl + path, {
    method,
    signal: AbortSignal.timeout(CONTROL_TIMEOUT_MS),
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  })
  const parsed: unknown = await response.json()
  if (response.status >= 300) throw new Error(`issuer-sim ${path}: HTTP ${response.status}`)
  return parsed
}

interface Phase {
  readonly name: string
  readonly measuredS: number
  readonly requests: number
  readonly authorizationsPerSecond: number
  readonly latencyMs: { p50: number; p90: number; p99: number; max: number }
  readonly outcomes: Record<string, number>
  readonly unanswered: number
}

function summarise(
  name: string,
  results: readonly LoadResult[],
  warmupMs: number,
  measuredMs: number,
): Phase {
  const measured = results.filter((r) => r.startedAtMs >= warmupMs)
  const endedInWindow = measured.filter((r) => r.startedAtMs + r.latencyMs <= warmupMs + measuredMs)
  const latencies = Float64Array.from(
    measured.filter((r) => r.status !== null).map((r) => r.latencyMs),
  ).sort()
  const outcomes: Record<string, number> = {}
  for (const r of measured) {
    const label =
      r.status === null
        ? 'no answer'
        : r.approved === true
          ? 'approved'
          : `declined ${r.reason ?? '?'}`
    outcomes[label] = (outcomes[label] ?? 0) + 1
  }
  return {
    name,
    measuredS: measuredMs / 1000,
    requests: measured.length,
    authorizationsPerSecond: round(endedInWindow.length / (measuredMs / 1000), 0),
    latencyMs: {
      p50: round(percentile(latencies, 50), 1),
      p90: round(percentile(latencies, 90), 1),
      p99: round(percentile(latencies, 99), 1),
      max: round(percentile(latencies, 100), 1),
    },
    outcomes,
    unanswered: measured.filter((r) => r.status === null).length,
  }
}

async function main(): Promise<void> {
  const values = readOptions(
    process.argv.slice(2),
    {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      concurrency: { type: 'string' },
      timeout: { type: 'string' },
      'drop-percent': { type: 'string' },
      pool: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean' },
    },
    USAGE,
  )
  const measuredMs = integerOption(values, 'duration', 10, 120) * 1000
  const warmupMs = integerOption(values, 'warmup', 2, 30, 0) * 1000
  const concurrency = integerOption(values, 'concurrency', 64, 512)
  const timeoutMs = integerOption(values, 'timeout', 1_000, 30_000, 50)
  const dropPercent = integerOption(values, 'drop-percent', 5, 100, 0)
  const pool = integerOption(values, 'pool', 2, 64)
  const seed = integerOption(values, 'seed', 1, 2 ** 31 - 1, 0)
  const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url))
  const dataDir = await mkdtemp(join(tmpdir(), 'tollgate-bench-issuer-'))
  const databasePath = join(dataDir, 'tollgate.db')
  const token = randomBytes(24).toString('hex')
  const children: { sim?: SimChild; serve?: ServeChild } = {}
  const stopAll = async () => {
    for (const child of [children.serve, children.sim])
      if (child !== undefined) await stopChild(child)
  }
  const onSignal = () => {
    void stopAll().finally(() =>
      rm(dataDir, { recursive: true, force: true }).finally(() => process.exit(130)),
    )
  }
  process.once('SIGINT', onSignal)
  try {
    log('starting the issuer simulator and Tollgate')
    const sim = await startSim(cli, seed)
    children.sim = sim
    const serve = await startServe(cli, dataDir, token, {
      TOLLGATE_ISSUER_POOL_SIZE: String(pool),
    })
    children.serve = serve
    // Debit cards only: credit cards allow 30 payments a day in the demo limits.
    const fleet = planFleet(50, 2_000, 0)
    await provisionTollgate(serve.url, token, fleet)
    await provisionSim(sim.controlUrl, fleet)
    await configureRoute(databasePath, {
      isoPort: sim.isoPort,
      timeoutMs,
      stip: DRILL_STIP,
      prefixes: fleet.prefixes,
    })
    const signOnDeadline = Date.now() + 15_000
    for (;;) {
      const state = (await control(sim, 'GET', '/state')) as { connections: { open: number } }
      if (state.connections.open >= pool) break
      if (Date.now() > signOnDeadline) throw new Error('the switch did not sign on to the issuer')
      await sleep(200)
    }
    await sleep(500)
    const load = (stanFirst: number) =>
      runLoad({
        url: serve.url,
        terminalIds: fleet.terminalIds,
        cards: fleet.cards,
        concurrency,
        ratePerSecond: null,
        durationMs: warmupMs + measuredMs,
        requestTimeoutMs: timeoutMs + 10_000,
        seed,
        largeShare: 0,
        largeMinor: [0, 0],
        stanFirst,
      })

    log(`phase 1: issuer healthy, ${concurrency} in flight, ${(warmupMs + measuredMs) / 1000} s`)
    const healthy = summarise('healthy', await load(1), warmupMs, measuredMs)
    log(`phase 2: ${dropPercent}% of purchase answers lost, route timeout ${timeoutMs} ms`)
    await control(sim, 'PUT', '/faults', {
      dropFraction: dropPercent / 100,
      dropMode: 'answer',
      mtis: ['0200'],
    })
    const dropping = summarise(
      `${dropPercent}% answers lost`,
      await load(500_000),
      warmupMs,
      measuredMs,
    )
    await control(sim, 'PUT', '/faults', {})
    log('waiting for every reversal to be acknowledged')
    const recoveryStart = Date.now()
    while (
      outboxOpen(databasePath, DRILL_ROUTE) > 0 &&
      Date.now() - recoveryStart < RECOVERY_WAIT_MS
    )
      await sleep(250)
    const recoveryS = round((Date.now() - recoveryStart) / 1000, 1)
    const evidence = readEvidence(databasePath, DRILL_ROUTE, DRILL_MERCHANT.id)
    const reversals = evidence.outbox.filter((m) => m.kind === 'reversal')
    const simLedger = (await control(sim, 'GET', '/ledger')) as {
      byCurrency: Record<string, { postedMinor: number }>
      totals: { reversals: { count: number } }
    }
    const check = await fetch(`${serve.url}/v1/ledger/check`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(CONTROL_TIMEOUT_MS),
    })
    const balanced = ((await check.json()) as { balanced?: boolean }).balanced === true
    const result = {
      date: new Date().toISOString(),
      node: process.version,
      settings: {
        measuredS: measuredMs / 1000,
        warmupS: warmupMs / 1000,
        concurrency,
        timeoutMs,
        dropPercent,
        pool,
        seed,
      },
      phases: [healthy, dropping],
      timedOut: evidence.transactions.filter((t) => t.reason === 'issuer_timeout').length,
      reversals: {
        queued: reversals.length,
        acknowledged: reversals.filter((m) => m.status === 'delivered').length,
        appliedAtIssuer: simLedger.totals.reversals.count,
        drainedInS: recoveryS,
      },
      ledgersAgree: evidence.issuerNetMinor === (simLedger.byCurrency['156']?.postedMinor ?? 0),
      tollgateLedgerBalanced: balanced,
    }
    if (values.json === true) {
      process.stdout.write(JSON.stringify(result, null, 2) + '\n')
      return
    }
    const lines = [
      `Tollgate → remote route → issuer simulator (127.0.0.1), ${concurrency} in flight, pool ${pool}, route timeout ${timeoutMs} ms, ${measuredMs / 1000} s measured after ${warmupMs / 1000} s warm-up per phase`,
      '',
      'phase                   auth/s   p50 ms   p90 ms   p99 ms   max ms   requests  outcomes',
      ...[healthy, dropping].map(
        (p) =>
          `${p.name.padEnd(22)} ${String(p.authorizationsPerSecond).padStart(7)} ${String(p.latencyMs.p50).padStart(8)} ${String(p.latencyMs.p90).padStart(8)} ${String(p.latencyMs.p99).padStart(8)} ${String(p.latencyMs.max).padStart(8)} ${String(p.requests).padStart(10)}  ${Object.entries(
            p.outcomes,
          )
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`,
      ),
      '',
      `timed out (declined issuer_timeout): ${result.timedOut}; reversals queued ${result.reversals.queued}, acknowledged ${result.reversals.acknowledged} (all within ${recoveryS} s after the load), applied at the issuer ${result.reversals.appliedAtIssuer}`,
      `ledgers agree (route account = issuer net debits): ${String(result.ledgersAgree)}; Tollgate ledger balanced: ${String(balanced)}`,
    ]
    process.stdout.write(lines.join('\n') + '\n')
  } finally {
    process.removeListener('SIGINT', onSignal)
    await stopAll()
    await rm(dataDir, { recursive: true, force: true })
  }
}

main().catch(exitOnFailure)
