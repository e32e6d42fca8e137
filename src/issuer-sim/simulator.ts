import type { Logger } from 'pino'
import { loadDialect } from '../adapters/iso8583/spec.js'
import type { Framing } from '../adapters/iso8583/tcp/framing.js'
import { startFramedServer, type FramedServer } from '../adapters/iso8583/tcp/server.js'
import { ISSUER_LINK_DIALECT } from '../adapters/issuer/protocol.js'
import type { Ledger } from './accounts.js'
import {
  expandSchedule,
  LATENCY_MS_MAX,
  mergeFaults,
  NO_FAULTS,
  scheduleSchema,
  type Faults,
  type FaultsPatch,
  type ScheduleStep,
} from './faults.js'
import { startGate, type Gate } from './gate.js'
import { createHost, type Host } from './host.js'
import { Counters, Journal } from './journal.js'

/** Everything the simulator runs with; main.ts builds it from flags, tests may build it too. */
export interface SimulatorOptions {
  readonly host: string
  readonly port: number
  readonly framing: Framing
  readonly seed: number
  readonly connectionsMax: number
  readonly inFlightPerConnectionMax: number
  readonly frameBytesMax: number
  readonly idleTimeoutMs: number
  readonly shutdownGraceMs: number
  readonly faults: Faults
  readonly logger: Logger
}

export interface ScheduleState {
  readonly startedAtMs: number
  readonly steps: readonly ScheduleStep[]
  readonly applied: number
}

export interface Simulator {
  readonly ledger: Ledger
  readonly journal: Journal
  readonly counters: Counters
  readonly seed: number
  readonly startedAtMs: number
  readonly port: number
  readonly listening: boolean
  readonly openConnections: number
  faults(): Faults
  /** Replaces the faults in force (PATCH merges before calling). */
  setFaults(faults: Faults, why: string): Promise<void>
  /** Replaces the schedule; its times count from now. Returns an error text, or null. */
  setSchedule(input: unknown): string | null
  schedule(): ScheduleState
  /** Graceful: stop accepting, answer in-flight requests (latency cut short), close. */
  close(): Promise<void>
}

/** Above the largest latency, so a slow answer is never abandoned by the framed server. */
const HANDLER_TIMEOUT_MS = LATENCY_MS_MAX + 5_000

export async function startSimulator(
  options: SimulatorOptions,
  ledger: Ledger,
): Promise<Simulator> {
  const dialect = loadDialect(ISSUER_LINK_DIALECT)
  const journal = new Journal()
  const counters = new Counters()
  const logger = options.logger
  let faults = options.faults
  let gate: Gate | null = null
  let schedule: ScheduleState = { startedAtMs: Date.now(), steps: [], applied: 0 }
  let scheduleTimers: NodeJS.Timeout[] = []
  let closing: Promise<void> | null = null

  const host: Host = createHost({
    dialect,
    ledger,
    journal,
    counters,
    seed: options.seed,
    faults: () => faults,
    nowMs: () => Date.now(),
    cut: (connection) => gate?.cut(connection.remote),
    logger,
  })

  const framed: FramedServer = await startFramedServer(
    {
      host: '127.0.0.1',
      port: 0,
      framing: options.framing,
      frameBytesMax: options.frameBytesMax,
      // The gate bounds client connections; one spare for a connection being replaced.
      connectionsMax: options.connectionsMax + 1,
      inFlightPerConnectionMax: options.inFlightPerConnectionMax,
      idleTimeoutMs: options.idleTimeoutMs,
      handlerTimeoutMs: HANDLER_TIMEOUT_MS,
      shutdownGraceMs: options.shutdownGraceMs,
    },
    host.handle,
    (event) => {
      // The framed server reports much more; the counters that matter here come from the gate
      // and the host, so only closes (to forget per-connection counts) and failures are read.
      if (event.type === 'connection_closed') host.connectionClosed(event.connection.id)
      if (event.type === 'frame_error') {
        counters.connection('frameErrors')
        logger.warn({ code: event.code, declared: event.declared }, 'framing error: closed')
      }
      if (event.type === 'handler_error') logger.error({ err: event.error }, 'handler failed')
    },
  )

  try {
    gate = await startGate(
      {
        host: options.host,
        port: options.port,
        upstreamPort: framed.port,
        connectionsMax: options.connectionsMax,
        shutdownGraceMs: options.shutdownGraceMs,
      },
      {
        opened: () => counters.connection('opened'),
        refused: () => counters.connection('refused'),
        closed: () => counters.connection('closed'),
      },
    )
  } catch (error) {
    await framed.close()
    throw error
  }
  const theGate = gate

  const setFaults = async (next: Faults, why: string): Promise<void> => {
    if (closing !== null) return
    faults = next
    theGate.setRefusing(next.refuseConnections)
    await theGate.setDown(next.down)
    logger.info({ faults: next, why }, 'faults set')
  }

  const applyStep = (step: ScheduleStep): void => {
    const next =
      step.mode === 'patch' ? mergeFaults(faults, step.faults) : mergeFaults(NO_FAULTS, step.faults)
    schedule = { ...schedule, applied: schedule.applied + 1 }
    setFaults(next, `schedule step at ${step.atMs} ms`).catch((error: unknown) => {
      logger.error({ err: error }, 'a schedule step failed (cannot listen again?)')
    })
  }

  const setSchedule = (input: unknown): string | null => {
    const parsed = scheduleSchema.safeParse(input)
    if (!parsed.success)
      return parsed.error.issues
        .map((issue) => `${issue.path.join('.') || '(schedule)'}: ${issue.message}`)
        .join('; ')
    const steps = expandSchedule(parsed.data, options.seed)
    if (typeof steps === 'string') return steps
    for (const timer of scheduleTimers) clearTimeout(timer)
    schedule = { startedAtMs: Date.now(), steps, applied: 0 }
    scheduleTimers = steps.map((step) => setTimeout(() => applyStep(step), step.atMs))
    return null
  }

  await setFaults(faults, 'start')

  return {
    ledger,
    journal,
    counters,
    seed: options.seed,
    startedAtMs: Date.now(),
    get port() {
      return theGate.port
    },
    get listening() {
      return theGate.listening
    },
    get openConnections() {
      return theGate.open
    },
    faults: () => faults,
    setFaults,
    setSchedule,
    schedule: () => schedule,
    close() {
      closing ??= (async () => {
        for (const timer of scheduleTimers) clearTimeout(timer)
        host.hurry()
        // The gate stops accepting at once; the framed server answers what is in flight, then
        // ends its sockets, which ends the piped client connections.
        await Promise.all([framed.close(), theGate.close()])
      })()
      return closing
    },
  }
}

export type { FaultsPatch }
