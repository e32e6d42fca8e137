import { z } from 'zod'
import { assert } from '../core/assert.js'
import { mulberry32, type Random } from './prng.js'

/**
 * Faults the simulated issuer can inject, as data: set at start (flags, a schedule file), and at
 * any time through the control endpoint. Every random choice is drawn from a seeded stream per
 * message (see prng.ts), so a drill with the same seed and the same traffic replays exactly.
 */

/** A latency above this is a configuration mistake: the acquirer would have timed out long ago. */
export const LATENCY_MS_MAX = 60_000
export const SCHEDULE_STEPS_MAX = 1_000
/** A schedule longer than a day is not a drill. */
export const SCHEDULE_SPAN_MS_MAX = 86_400_000
export const LATENCY_POINTS_MAX = 32
export const FAULT_MTIS_MAX = 16

const latencyMs = z.number().int().min(0).max(LATENCY_MS_MAX)
const fraction = z.number().min(0).max(1)
const mti = z.string().regex(/^\d{4}$/, 'an MTI of 4 digits')

/**
 * Latency added before a request is answered:
 * - `fixed`: always `ms`;
 * - `uniform`: uniform in [minMs, maxMs];
 * - `percentiles`: a piecewise-linear distribution through (0 %, 0 ms) and the given points,
 *   e.g. p50 10 ms, p99 200 ms, p100 1000 ms. The last point must be p 100.
 */
export const latencySchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('fixed'), ms: latencyMs }).strict(),
  z
    .object({ kind: z.literal('uniform'), minMs: latencyMs, maxMs: latencyMs })
    .strict()
    .refine((l) => l.minMs <= l.maxMs, { message: 'minMs must not exceed maxMs', path: ['maxMs'] }),
  z
    .object({
      kind: z.literal('percentiles'),
      points: z
        .array(z.object({ p: z.number().gt(0).max(100), ms: latencyMs }).strict())
        .min(1)
        .max(LATENCY_POINTS_MAX),
    })
    .strict()
    .refine((l) => l.points.every((point, i) => i === 0 || point.p > (l.points[i - 1]?.p ?? 0)), {
      message: 'points must have strictly increasing p',
      path: ['points'],
    })
    .refine(
      (l) => l.points.every((point, i) => i === 0 || point.ms >= (l.points[i - 1]?.ms ?? 0)),
      {
        message: 'points must have non-decreasing ms',
        path: ['points'],
      },
    )
    .refine((l) => l.points[l.points.length - 1]?.p === 100, {
      message: 'the last point must be p 100',
      path: ['points'],
    }),
])
export type Latency = z.infer<typeof latencySchema>

const faultFields = {
  latency: latencySchema,
  /** Fraction of requests that get no answer at all. */
  dropFraction: fraction,
  /**
   * `answer`: the issuer processes the request and the answer is lost (money moved; the acquirer
   * must reverse). `request`: the request is lost before the issuer sees it (nothing moved).
   */
  dropMode: z.enum(['answer', 'request']),
  /** Fraction of requests answered with `errorCode` instead of being processed. */
  errorFraction: fraction,
  errorCode: z.string().regex(/^[0-9A-Z]{2}$/, 'two characters, e.g. "96"'),
  /** Cut a connection when a message arrives after this many on it (that message is lost). */
  disconnectAfterMessages: z.number().int().min(1).max(1_000_000_000).nullable(),
  /** Probability that a message cuts its connection (that message is lost). */
  disconnectProbability: fraction,
  /** New connections are accepted and closed at once. */
  refuseConnections: z.boolean(),
  /** Everything is answered 91 except an echo test (0800, field 70 = 301), which gets 00. */
  maintenance: z.boolean(),
  /** Not listening; every connection is closed. */
  down: z.boolean(),
  /** Only these request MTIs get latency, drops and error codes; null: every MTI. */
  mtis: z.array(mti).min(1).max(FAULT_MTIS_MAX).nullable(),
}

export const faultsSchema = z.object(faultFields).strict()
export type Faults = z.infer<typeof faultsSchema>

/** For PATCH and schedule steps: any subset; `latency` is replaced as a whole. */
export const faultsPatchSchema = z.object(faultFields).partial().strict()
export type FaultsPatch = z.infer<typeof faultsPatchSchema>

export const NO_FAULTS: Faults = Object.freeze<Faults>({
  latency: { kind: 'fixed', ms: 0 },
  dropFraction: 0,
  dropMode: 'answer',
  errorFraction: 0,
  errorCode: '96',
  disconnectAfterMessages: null,
  disconnectProbability: 0,
  refuseConnections: false,
  maintenance: false,
  down: false,
  mtis: null,
})

/** For PUT: a full replacement; keys left out take their no-fault value. */
export const faultsReplaceSchema = faultsPatchSchema.transform((patch) =>
  mergeFaults(NO_FAULTS, patch),
)

export function mergeFaults(base: Faults, patch: FaultsPatch): Faults {
  const merged: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(patch)) if (value !== undefined) merged[key] = value
  return faultsSchema.parse(merged)
}

/** A latency drawn from its distribution with one uniform number u in [0, 1). */
export function sampleLatencyMs(latency: Latency, u: number): number {
  assert(u >= 0 && u < 1, 'sampleLatencyMs: u in [0, 1)')
  switch (latency.kind) {
    case 'fixed':
      return latency.ms
    case 'uniform':
      return latency.minMs + Math.floor(u * (latency.maxMs - latency.minMs + 1))
    case 'percentiles': {
      const at = u * 100
      let previous = { p: 0, ms: 0 }
      for (const point of latency.points) {
        if (at < point.p) {
          const share = (at - previous.p) / (point.p - previous.p)
          return Math.round(previous.ms + share * (point.ms - previous.ms))
        }
        previous = point
      }
      return previous.ms
    }
  }
}

/** What happens to one request, decided before it is processed. */
export interface FaultDecision {
  readonly disconnect: boolean
  readonly drop: boolean
  readonly error: boolean
  readonly latencyMs: number
}

/**
 * Decides the fate of one message. Draws exactly four numbers, always in the same order, so a
 * change of one fault setting does not shift the draws of the others.
 */
export function decideFaults(
  faults: Faults,
  random: Random,
  message: { readonly mti: string; readonly messagesOnConnection: number },
): FaultDecision {
  const [uDisconnect, uDrop, uError, uLatency] = [random(), random(), random(), random()]
  assert(uLatency !== undefined, 'four draws')
  const after = faults.disconnectAfterMessages
  const disconnect =
    (after !== null && message.messagesOnConnection >= after) ||
    uDisconnect < faults.disconnectProbability
  const applies = faults.mtis === null || faults.mtis.includes(message.mti)
  if (!applies) return { disconnect, drop: false, error: false, latencyMs: 0 }
  return {
    disconnect,
    drop: uDrop < faults.dropFraction,
    error: uError < faults.errorFraction,
    latencyMs: sampleLatencyMs(faults.latency, uLatency),
  }
}

// ---------------------------------------------------------------------------------------------
// Schedules

const stepSchema = z
  .object({
    atMs: z.number().int().min(0).max(SCHEDULE_SPAN_MS_MAX),
    /** Merged into the faults in force (like PATCH /faults). */
    patch: faultsPatchSchema.optional(),
    /** Replaces the faults in force (like PUT /faults). */
    replace: faultsPatchSchema.optional(),
  })
  .strict()
  .refine((s) => (s.patch === undefined) !== (s.replace === undefined), {
    message: 'a step has exactly one of patch or replace',
  })

/** Every `everyMs` from `fromMs` until `untilMs`, one of `pick` chosen with the seeded PRNG. */
const randomSchema = z
  .object({
    fromMs: z.number().int().min(0).max(SCHEDULE_SPAN_MS_MAX).default(0),
    everyMs: z.number().int().min(10).max(SCHEDULE_SPAN_MS_MAX),
    untilMs: z.number().int().min(0).max(SCHEDULE_SPAN_MS_MAX),
    pick: z.array(faultsPatchSchema).min(1).max(100),
  })
  .strict()
  .refine((r) => r.fromMs <= r.untilMs, { message: 'fromMs must not exceed untilMs' })

export const scheduleSchema = z
  .object({
    steps: z.array(stepSchema).max(SCHEDULE_STEPS_MAX).default([]),
    random: randomSchema.optional(),
  })
  .strict()
export type ScheduleInput = z.input<typeof scheduleSchema>

/** One step of an expanded schedule: at `atMs` after the schedule starts, patch or replace. */
export interface ScheduleStep {
  readonly atMs: number
  readonly mode: 'patch' | 'replace'
  readonly faults: FaultsPatch
}

/**
 * Expands a schedule into explicit steps, sorted by time (stable). The random part is drawn from
 * its own stream of the seed, so the same seed always gives the same timeline — and the expanded
 * timeline is what `/state` shows, so an operator can read what will happen.
 */
export function expandSchedule(
  input: z.infer<typeof scheduleSchema>,
  seed: number,
): ScheduleStep[] | string {
  const steps: ScheduleStep[] = input.steps.map((step) =>
    step.patch !== undefined
      ? { atMs: step.atMs, mode: 'patch', faults: step.patch }
      : { atMs: step.atMs, mode: 'replace', faults: step.replace ?? {} },
  )
  const random = input.random
  if (random !== undefined) {
    const draw = mulberry32(seed ^ 0x5eed)
    for (let at = random.fromMs; at <= random.untilMs; at += random.everyMs) {
      if (steps.length >= SCHEDULE_STEPS_MAX)
        return `the schedule expands to more than ${SCHEDULE_STEPS_MAX} steps`
      const choice = random.pick[Math.floor(draw() * random.pick.length)]
      assert(choice !== undefined, 'a pick within the list')
      steps.push({ atMs: at, mode: 'patch', faults: choice })
    }
  }
  return steps
    .map((step, index) => ({ step, index }))
    .sort((a, b) => a.step.atMs - b.step.atMs || a.index - b.index)
    .map(({ step }) => step)
}
