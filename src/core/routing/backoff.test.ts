import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  BACKOFF_ATTEMPT_MAX,
  BACKOFF_DEFAULT,
  backoffCeilingMs,
  backoffDelayMs,
  reconnectPlan,
  validateBackoff,
  type BackoffConfig,
} from './backoff.js'

const config: BackoffConfig = { baseMs: 100, maxMs: 10_000 }
const arbConfig = fc
  .tuple(fc.integer({ min: 1, max: 60_000 }), fc.integer({ min: 0, max: 600_000 }))
  .map(([baseMs, extra]) => ({ baseMs, maxMs: baseMs + extra }))
const arbRandom = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })

describe('backoff', () => {
  it('doubles the ceiling from the base up to the maximum', () => {
    expect([0, 1, 2, 3, 6, 7, 8, 50].map((a) => backoffCeilingMs(a, config))).toEqual([
      100, 200, 400, 800, 6_400, 10_000, 10_000, 10_000,
    ])
  })

  it('draws the delay between half the ceiling and the ceiling', () => {
    expect(backoffDelayMs(0, config, 0)).toBe(50)
    expect(backoffDelayMs(0, config, 0.999_999)).toBe(100)
    expect(backoffDelayMs(30, config, 0)).toBe(5_000)
    expect(backoffDelayMs(30, config, 0.999_999)).toBe(10_000)
  })

  it('never returns zero, even with a 1 ms base and no jitter', () => {
    expect(backoffDelayMs(0, { baseMs: 1, maxMs: 1 }, 0)).toBe(1)
  })

  it('property: every delay is an integer in [ceil(ceiling/2), ceiling] within [1, maxMs]', () => {
    fc.assert(
      fc.property(arbConfig, fc.nat({ max: 1_000 }), arbRandom, (cfg, attempt, random) => {
        const ceiling = backoffCeilingMs(attempt, cfg)
        const delay = backoffDelayMs(attempt, cfg, random)
        expect(Number.isSafeInteger(delay)).toBe(true)
        expect(delay).toBeGreaterThanOrEqual(Math.max(1, Math.ceil(ceiling / 2)))
        expect(delay).toBeLessThanOrEqual(Math.min(ceiling, cfg.maxMs))
      }),
    )
  })

  it('property: the ceiling never shrinks as attempts grow', () => {
    fc.assert(
      fc.property(arbConfig, fc.nat({ max: 200 }), (cfg, attempt) => {
        expect(backoffCeilingMs(attempt + 1, cfg)).toBeGreaterThanOrEqual(
          backoffCeilingMs(attempt, cfg),
        )
      }),
    )
  })

  it('property: repeated failures make the total wait grow (no tight loop)', () => {
    fc.assert(
      fc.property(fc.array(arbRandom, { minLength: 10, maxLength: 40 }), (randoms) => {
        let failures = 0
        let totalMs = 0
        for (const random of randoms) {
          const plan = reconnectPlan(failures, null, BACKOFF_DEFAULT, random)
          totalMs += plan.delayMs
          failures = plan.failures
        }
        // Ten failures in a row wait at least 50+100+...+5000+5000 ms in total.
        expect(totalMs).toBeGreaterThanOrEqual(50 + 100 + 200 + 400 + 800 + 1_600 + 3_200 + 5_000)
        expect(failures).toBeLessThanOrEqual(BACKOFF_ATTEMPT_MAX)
      }),
    )
  })

  it('starts afresh only after a connection that stayed signed on for maxMs', () => {
    expect(reconnectPlan(5, 10_000, config, 0)).toEqual({ delayMs: 50, failures: 1 })
    expect(reconnectPlan(5, 9_999, config, 0)).toEqual({ delayMs: 1_600, failures: 6 })
    expect(reconnectPlan(5, null, config, 0)).toEqual({ delayMs: 1_600, failures: 6 })
    expect(reconnectPlan(0, null, config, 0)).toEqual({ delayMs: 50, failures: 1 })
  })

  it('validates its configuration and refuses bad arguments', () => {
    expect(validateBackoff(config)).toEqual([])
    expect(validateBackoff({ baseMs: 0, maxMs: 10 })).toHaveLength(1)
    expect(validateBackoff({ baseMs: 100, maxMs: 99 })).toHaveLength(1)
    expect(validateBackoff({ baseMs: 1.5, maxMs: 10 })).toHaveLength(1)
    expect(() => backoffDelayMs(0, config, 1)).toThrow(/random/)
    expect(() => backoffDelayMs(-1, config, 0)).toThrow(/attempt/)
    expect(() => backoffCeilingMs(0, { baseMs: 10, maxMs: 5 })).toThrow(/config/)
  })
})
