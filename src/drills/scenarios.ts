import type { FaultsPatch } from '../issuer-sim/faults.js'

/**
 * Failure drills as data: what the issuer simulator is told to do, when, and what the drill
 * expects to have been exercised. Times are fractions of the load phase (`--duration`), so a
 * short automated run and a long operator exercise follow the same timeline. The simulator
 * expands and applies the schedule itself (`POST /schedule`), seeded by `--seed`.
 */

/** MTIs that move money or acknowledge it; echoes and sign-ons are left alone. */
export const FINANCIAL_MTIS = ['0200', '0220', '0221', '0400', '0420', '0421'] as const

export interface DrillStep {
  /** Fraction of the load phase, 0..1. */
  readonly at: number
  /** `patch` merges into the faults in force; `replace` sets exactly these (others off). */
  readonly mode: 'patch' | 'replace'
  readonly faults: FaultsPatch
  /** What an operator sees happen, for the timeline. */
  readonly note: string
}

/** Random fault changes between two fractions, one every `everyMs`, picked by the seed. */
export interface DrillRandom {
  readonly from: number
  readonly until: number
  readonly everyMs: number
  readonly pick: readonly FaultsPatch[]
  readonly note: string
}

/** A maintenance window Tollgate itself knows about (the route's schedule), in fractions. */
export interface DrillWindow {
  readonly from: number
  readonly until: number
  readonly mode: 'stand_in' | 'decline'
  readonly note: string
}

/** What the drill must have seen for it to have exercised its failure at all. */
export interface DrillExpectations {
  readonly timeouts?: boolean
  readonly reversals?: boolean
  readonly standIn?: boolean
  readonly advices?: boolean
}

export interface DrillScenario {
  readonly name: string
  readonly title: string
  /** One or two sentences for the report and `drill --list`. */
  readonly exercises: string
  /** The route's request timeout, ms. */
  readonly routeTimeoutMs: number
  /** Load-phase length when `--duration` is not given, seconds. */
  readonly durationSDefault: number
  readonly steps: readonly DrillStep[]
  readonly random?: DrillRandom
  readonly window?: DrillWindow
  readonly expect: DrillExpectations
}

const HEALTHY: DrillStep['faults'] = {}
const back = (at: number): DrillStep => ({
  at,
  mode: 'replace',
  faults: HEALTHY,
  note: 'issuer healthy again',
})

export const SCENARIOS: readonly DrillScenario[] = [
  {
    name: 'slow',
    title: 'The issuer answers slower than the route timeout',
    exercises:
      'Requests time out at the route timeout and are declined issuer_timeout; each is reversed (0400, repeated as 0420/0421) until the bank acknowledges; the breaker may open and stand-in take over until it closes.',
    routeTimeoutMs: 800,
    durationSDefault: 15,
    steps: [
      {
        at: 0.2,
        mode: 'patch',
        faults: { latency: { kind: 'uniform', minMs: 900, maxMs: 1_500 }, mtis: ['0200'] },
        note: 'issuer latency 900–1,500 ms on purchases (route timeout 800 ms)',
      },
      back(0.5),
    ],
    expect: { timeouts: true, reversals: true },
  },
  {
    name: 'dropping',
    title: 'The issuer loses a fraction of its answers',
    exercises:
      'Answers lost after the bank moved the money: Tollgate times out, declines and reverses; lost answers to reversals and advices are repeated (0420/0421) and acknowledged once.',
    routeTimeoutMs: 600,
    durationSDefault: 15,
    steps: [
      {
        at: 0.1,
        mode: 'patch',
        faults: { dropFraction: 0.1, dropMode: 'answer', mtis: [...FINANCIAL_MTIS] },
        note: '10% of answers lost (purchases, advices, reversals)',
      },
      back(0.7),
    ],
    random: {
      from: 0.3,
      until: 0.6,
      everyMs: 1_000,
      pick: [{ dropFraction: 0.05 }, { dropFraction: 0.1 }, { dropFraction: 0.2 }],
      note: 'drop fraction changes every second: 5%, 10% or 20% (seeded)',
    },
    expect: { timeouts: true, reversals: true },
  },
  {
    name: 'disconnecting',
    title: 'The issuer cuts connections mid-stream',
    exercises:
      'Connections cut with requests on them: those requests are unknown (timed out), reversed; the pool reconnects and signs on with backoff while the others carry the load.',
    routeTimeoutMs: 800,
    durationSDefault: 15,
    steps: [
      {
        at: 0.2,
        mode: 'patch',
        faults: { disconnectProbability: 0.05 },
        note: '5% of messages cut their connection',
      },
      back(0.6),
    ],
    expect: { timeouts: true, reversals: true },
  },
  {
    name: 'down',
    title: 'The issuer host goes down, then comes back',
    exercises:
      'No connection: purchases within the stand-in limits are approved by Tollgate (STIP) and advices queued; above them, declined issuer_unavailable. When the host is back, the pool reconnects and the advices are delivered.',
    routeTimeoutMs: 800,
    durationSDefault: 15,
    steps: [
      { at: 0.25, mode: 'patch', faults: { down: true }, note: 'issuer host down (not listening)' },
      back(0.55),
    ],
    expect: { standIn: true, advices: true },
  },
  {
    name: 'maintenance',
    title: 'A planned maintenance window at the bank',
    exercises:
      "The route's maintenance window (stand_in): Tollgate stops forwarding, stands in within limits and queues advices; the bank answers 91 meanwhile. After the window the advices are delivered.",
    routeTimeoutMs: 800,
    durationSDefault: 15,
    steps: [
      {
        at: 0.25,
        mode: 'patch',
        faults: { maintenance: true },
        note: 'bank in maintenance (answers 91, echo 00)',
      },
      back(0.55),
    ],
    window: { from: 0.25, until: 0.55, mode: 'stand_in', note: 'drill: core banking upgrade' },
    expect: { standIn: true, advices: true },
  },
  {
    name: 'recovering',
    title: 'Lost answers, then the host goes down, then it recovers',
    exercises:
      'Reversals queued by lost answers and advices queued by stand-in wait while the host is down (retried with backoff), and are all delivered once it is back: the two ledgers agree afterwards.',
    routeTimeoutMs: 600,
    durationSDefault: 15,
    steps: [
      {
        at: 0.05,
        mode: 'patch',
        faults: { dropFraction: 0.25, dropMode: 'answer', mtis: ['0200'] },
        note: '25% of purchase answers lost',
      },
      { at: 0.2, mode: 'replace', faults: { down: true }, note: 'issuer host down' },
      back(0.5),
    ],
    expect: { timeouts: true, reversals: true, standIn: true, advices: true },
  },
]

export function findScenario(name: string): DrillScenario | undefined {
  return SCENARIOS.find((s) => s.name === name)
}

/** The simulator's schedule body (`POST /schedule`) for a load phase of `durationMs`. */
export function simSchedule(scenario: DrillScenario, durationMs: number): Record<string, unknown> {
  const at = (fraction: number) => Math.round(fraction * durationMs)
  return {
    steps: scenario.steps.map((step) =>
      step.mode === 'patch'
        ? { atMs: at(step.at), patch: step.faults }
        : { atMs: at(step.at), replace: step.faults },
    ),
    ...(scenario.random === undefined
      ? {}
      : {
          random: {
            fromMs: at(scenario.random.from),
            untilMs: at(scenario.random.until),
            everyMs: scenario.random.everyMs,
            pick: scenario.random.pick,
          },
        }),
  }
}
