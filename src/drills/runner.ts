import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { issuerAccountId } from '../core/routes/model.js'
import { JOURNAL_ENTRIES_MAX, type JournalEntry } from '../issuer-sim/journal.js'
import { outboxOpen, readEvidence } from './evidence.js'
import { runLoad } from './load.js'
import {
  sleep,
  startServe,
  startSim,
  stopChild,
  type ServeChild,
  type SimChild,
} from './processes.js'
import { buildReport, type DrillReport, type SimLedger } from './report.js'
import { simSchedule, type DrillScenario } from './scenarios.js'
import {
  addWindow,
  configureRoute,
  DRILL_MERCHANT,
  DRILL_ROUTE,
  DRILL_STIP,
  planFleet,
  provisionSim,
  provisionTollgate,
} from './setup.js'

/**
 * Runs one drill: the issuer simulator and Tollgate as child processes on fresh ports and a
 * fresh data directory, a remote route to the simulator, paced purchases over HTTP while the
 * scenario's fault schedule plays, then recovery (until the outbox has nothing pending, bounded)
 * and the checks on both ledgers. Every phase is bounded; the children are always stopped and
 * the data directory removed.
 */

export const DURATION_S_MIN = 4
export const DURATION_S_MAX = 600
const SIGN_ON_WAIT_MS = 15_000
const CONTROL_TIMEOUT_MS = 10_000
const POLL_MS = 250
/** The load starts this long after the window is written, so the switch has read it. */
const LOAD_LEAD_MS = 2_000
/** Over the route timeout: the switch's own queueing and commit before it answers. */
const ANSWER_MARGIN_MS = 5_000
/** Beyond load and recovery: starting, provisioning, collecting, stopping. */
const OVERHEAD_BOUND_MS = 120_000

export interface DrillOptions {
  readonly scenario: DrillScenario
  readonly seed: number
  readonly durationS: number
  /** Purchases in flight at most. */
  readonly concurrency?: number
  /** Purchases started per second. */
  readonly ratePerSecond?: number
  /** How long to wait after the load for every reversal and advice to be acknowledged. */
  readonly recoveryWaitS?: number
  /** The built CLI (dist/src/cli/main.js); by default the one beside this file. */
  readonly cli?: string
  /** Keep Tollgate's data directory (its database) for investigation; its path is logged. */
  readonly keepDataDir?: boolean
  /** Progress lines (stderr in the CLI). */
  readonly log?: (line: string) => void
}

interface ControlAnswer {
  readonly status: number
  readonly body: unknown
}

async function control(base: string, method: string, path: string, body?: unknown) {
  const response = await fetch(base + path, {
    method,
    signal: AbortSignal.timeout(CONTROL_TIMEOUT_MS),
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  })
  const answer: ControlAnswer = { status: response.status, body: await response.json() }
  if (answer.status >= 300)
    throw new Error(
      `issuer-sim ${method} ${path}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`,
    )
  return answer.body
}

async function signedOn(sim: SimChild, connections: number): Promise<void> {
  const deadline = Date.now() + SIGN_ON_WAIT_MS
  while (Date.now() < deadline) {
    const state = (await control(sim.controlUrl, 'GET', '/state')) as {
      connections: { open: number }
      counters: { received: Record<string, number> }
    }
    if (
      state.connections.open >= connections &&
      (state.counters.received['0800'] ?? 0) >= connections
    )
      return
    await sleep(POLL_MS)
  }
  throw new Error(`the switch did not sign on to the issuer within ${SIGN_ON_WAIT_MS} ms`)
}

export async function runDrill(options: DrillOptions): Promise<DrillReport> {
  const { scenario, seed } = options
  const log = options.log ?? (() => undefined)
  const durationMs = Math.round(options.durationS * 1000)
  const recoveryWaitMs = Math.round((options.recoveryWaitS ?? 60) * 1000)
  const requestTimeoutMs = scenario.routeTimeoutMs + ANSWER_MARGIN_MS
  const cli = options.cli ?? fileURLToPath(new URL('../cli/main.js', import.meta.url))
  const boundMs = durationMs + recoveryWaitMs + OVERHEAD_BOUND_MS
  const startedAt = new Date().toISOString()
  const t0 = Date.now()
  const dataDir = await mkdtemp(join(tmpdir(), `tollgate-drill-${scenario.name}-`))
  const databasePath = join(dataDir, 'tollgate.db')
  const token = randomBytes(24).toString('hex')
  const children: { sim?: SimChild; serve?: ServeChild } = {}
  let watchdog: NodeJS.Timeout | undefined

  const drill = async (): Promise<DrillReport> => {
    log(`drill ${scenario.name}: starting the issuer simulator and Tollgate`)
    const sim = await startSim(cli, seed)
    children.sim = sim
    const serve = await startServe(cli, dataDir, token, {
      TOLLGATE_ISSUER_ECHO_INTERVAL_MS: '2000',
    })
    children.serve = serve
    log(`drill ${scenario.name}: issuer-sim control ${sim.controlUrl}, Tollgate ${serve.url}`)
    const fleet = planFleet(8, 200, 50)
    await provisionTollgate(serve.url, token, fleet)
    await provisionSim(sim.controlUrl, fleet)
    await configureRoute(databasePath, {
      isoPort: sim.isoPort,
      timeoutMs: scenario.routeTimeoutMs,
      stip: DRILL_STIP,
      prefixes: fleet.prefixes,
    })
    await signedOn(sim, 2)
    const loadStartMs = Date.now() + LOAD_LEAD_MS
    const planned: { atMs: number; what: string }[] = scenario.steps.map((s) => ({
      atMs: Math.round(s.at * durationMs),
      what: `issuer: ${s.note}`,
    }))
    if (scenario.random !== undefined)
      planned.push({
        atMs: Math.round(scenario.random.from * durationMs),
        what: `issuer: ${scenario.random.note}`,
      })
    if (scenario.window !== undefined) {
      const w = scenario.window
      await addWindow(databasePath, {
        startsAtMs: loadStartMs + Math.round(w.from * durationMs),
        endsAtMs: loadStartMs + Math.round(w.until * durationMs),
        mode: w.mode,
        note: w.note,
      })
      planned.push(
        {
          atMs: Math.round(w.from * durationMs),
          what: `Tollgate: maintenance window (${w.mode}) begins`,
        },
        { atMs: Math.round(w.until * durationMs), what: 'Tollgate: maintenance window ends' },
      )
    }
    const setupMs = loadStartMs - t0
    await sleep(Math.max(0, loadStartMs - Date.now()))
    log(`drill ${scenario.name}: load for ${durationMs / 1000} s with the fault schedule`)
    await control(sim.controlUrl, 'POST', '/schedule', simSchedule(scenario, durationMs))
    const load = await runLoad({
      url: serve.url,
      terminalIds: fleet.terminalIds,
      cards: fleet.cards,
      concurrency: options.concurrency ?? 48,
      ratePerSecond: options.ratePerSecond ?? 60,
      durationMs,
      requestTimeoutMs,
      seed,
      largeShare: 0.05,
      largeMinor: [60_000, 90_000],
    })
    // The faults end with the load: whatever the schedule left, the issuer is healthy now.
    await control(sim.controlUrl, 'POST', '/schedule', {})
    await control(sim.controlUrl, 'PUT', '/faults', {})
    const loadEndMs = Date.now()
    log(`drill ${scenario.name}: ${load.length} purchases sent; waiting for the outbox to drain`)
    let drained = false
    while (Date.now() - loadEndMs < recoveryWaitMs) {
      if (outboxOpen(databasePath, DRILL_ROUTE) === 0) {
        drained = true
        break
      }
      await sleep(POLL_MS)
    }
    const recoveryMs = Date.now() - loadEndMs
    const tollgate = readEvidence(databasePath, DRILL_ROUTE, DRILL_MERCHANT.id)
    const simLedger = (await control(sim.controlUrl, 'GET', '/ledger')) as SimLedger
    const journal = (await control(
      sim.controlUrl,
      'GET',
      `/journal?limit=${JOURNAL_ENTRIES_MAX}`,
    )) as { total: number; entries: JournalEntry[] }
    const check = await fetch(`${serve.url}/v1/ledger/check`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(CONTROL_TIMEOUT_MS),
    })
    const checkBody = (await check.json()) as { balanced?: unknown }
    return buildReport({
      scenario,
      seed,
      durationMs,
      requestTimeoutMs,
      startedAt,
      issuerAccount: issuerAccountId(DRILL_ROUTE, 'CNY'),
      setupMs,
      recoveryMs,
      drained,
      load,
      tollgate,
      sim: simLedger,
      journal: journal.entries,
      journalTotal: journal.total,
      journalMax: JOURNAL_ENTRIES_MAX,
      ledgerCheck: {
        status: check.status,
        balanced: typeof checkBody.balanced === 'boolean' ? checkBody.balanced : null,
      },
      planned,
    })
  }

  try {
    return await Promise.race([
      drill(),
      new Promise<never>((_, reject) => {
        watchdog = setTimeout(
          () => reject(new Error(`the drill did not finish within ${boundMs / 1000} s`)),
          boundMs,
        )
      }),
    ])
  } finally {
    clearTimeout(watchdog)
    for (const child of [children.serve, children.sim])
      if (child !== undefined) await stopChild(child)
    if (options.keepDataDir === true) log(`drill ${scenario.name}: data directory kept: ${dataDir}`)
    else await rm(dataDir, { recursive: true, force: true })
  }
}
