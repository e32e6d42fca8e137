import type { Clock } from '../../ports/clock.js'

export const systemClock: Clock = { nowMs: () => Date.now() }

/** A clock that only moves when told: for simulations and tests. */
export function manualClock(
  startMs: number,
): Clock & { advance(ms: number): void; set(ms: number): void } {
  let now = startMs
  return {
    nowMs: () => now,
    advance: (ms: number) => {
      now += ms
    },
    set: (ms: number) => {
      now = ms
    },
  }
}
