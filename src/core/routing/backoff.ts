import { assert } from '../assert.js'

/**
 * Reconnect delays: exponential with "equal jitter". The ceiling doubles per failed attempt from
 * `baseMs` up to `maxMs`; the delay is drawn in [ceiling / 2, ceiling], so it is never zero (no
 * tight loop, even at attempt 0) and never beyond `maxMs`, and a pool of connections that failed
 * together does not come back in lockstep. Randomness is an argument in [0, 1).
 *
 * ```ts
 * backoffDelayMs(0, { baseMs: 100, maxMs: 10_000 }, 0.5) // 75 (between 50 and 100)
 * backoffDelayMs(20, { baseMs: 100, maxMs: 10_000 }, 0) // 5_000 (between 5_000 and 10_000)
 * ```
 */
export interface BackoffConfig {
  /** The first ceiling; the first delay is between half of it and all of it. */
  readonly baseMs: number
  /** The largest ceiling. */
  readonly maxMs: number
}

export const BACKOFF_DEFAULT: BackoffConfig = { baseMs: 100, maxMs: 10_000 }

/** Largest base and ceiling accepted: an hour. */
export const BACKOFF_MS_LIMIT = 3_600_000

/** Attempts beyond this do not grow the ceiling further (2^20 × base is past any sane maxMs). */
export const BACKOFF_ATTEMPT_MAX = 20

export function validateBackoff(config: BackoffConfig): string[] {
  const errors: string[] = []
  const { baseMs, maxMs } = config
  if (!Number.isSafeInteger(baseMs) || baseMs < 1 || baseMs > BACKOFF_MS_LIMIT)
    errors.push(`baseMs must be an integer in 1..${BACKOFF_MS_LIMIT}, got ${String(baseMs)}`)
  if (!Number.isSafeInteger(maxMs) || maxMs < baseMs || maxMs > BACKOFF_MS_LIMIT)
    errors.push(`maxMs must be an integer in baseMs..${BACKOFF_MS_LIMIT}, got ${String(maxMs)}`)
  return errors
}

/** The ceiling for an attempt (0 = the first retry): min(maxMs, baseMs × 2^attempt). */
export function backoffCeilingMs(attempt: number, config: BackoffConfig): number {
  assert(Number.isSafeInteger(attempt) && attempt >= 0, `backoff: bad attempt ${attempt}`)
  assert(validateBackoff(config).length === 0, 'backoff: invalid config')
  const exponent = Math.min(attempt, BACKOFF_ATTEMPT_MAX)
  const ceiling = Math.min(config.maxMs, config.baseMs * 2 ** exponent)
  assert(ceiling >= config.baseMs && ceiling <= config.maxMs, 'backoff: ceiling out of range')
  return ceiling
}

/** The delay before the next connect: an integer in [ceil(ceiling / 2), ceiling]. */
export function backoffDelayMs(attempt: number, config: BackoffConfig, random01: number): number {
  assert(random01 >= 0 && random01 < 1, `backoff: random ${random01} outside [0, 1)`)
  const ceiling = backoffCeilingMs(attempt, config)
  const floor = Math.ceil(ceiling / 2)
  const delay = Math.min(ceiling, floor + Math.floor(random01 * (ceiling - floor + 1)))
  assert(delay >= 1 && delay >= floor && delay <= ceiling, 'backoff: delay out of range')
  return delay
}

/**
 * What to do after a connection ends: wait `delayMs`, then connect again; `failures` is the new
 * count of consecutive failures to pass next time. A connection that stayed signed on for at
 * least `maxMs` earns a fresh start (the short delay of attempt 0); one that failed to connect
 * or sign on, or dropped soon after (a host that accepts and then closes), counts as one more
 * failure, so a flapping host is retried ever more slowly rather than in a loop.
 *
 * @param failures consecutive failures before this one (0 at first)
 * @param readyForMs how long the connection was usable, or null if it never was
 */
export function reconnectPlan(
  failures: number,
  readyForMs: number | null,
  config: BackoffConfig,
  random01: number,
): { readonly delayMs: number; readonly failures: number } {
  assert(Number.isSafeInteger(failures) && failures >= 0, `backoff: bad failures ${failures}`)
  assert(readyForMs === null || Number.isFinite(readyForMs), 'backoff: readyForMs must be finite')
  const attempt = readyForMs !== null && readyForMs >= config.maxMs ? 0 : failures
  const delayMs = backoffDelayMs(attempt, config, random01)
  const next = Math.min(attempt + 1, BACKOFF_ATTEMPT_MAX)
  assert(next >= 1, 'backoff: a reconnect always counts')
  return { delayMs, failures: next }
}
