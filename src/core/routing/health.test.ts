import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { routeStatus, RouteWindow, type RouteStatusInput } from './health.js'
import { BoundedHistory, LatencySamples, nearestRank, SlidingCounts } from './window.js'

const T0 = 1_700_000_000_000
const none = { answered: 0, timeout: 0, error: 0, unavailable: 0 }
const base: RouteStatusInput = {
  breakerState: 'closed',
  signedOn: 2,
  poolSize: 2,
  outcomes: none,
  degradedFailurePercent: 10,
  requestsMin: 10,
}

describe('route status', () => {
  it('is up with the whole pool signed on and requests answered', () => {
    expect(routeStatus({ ...base, outcomes: { ...none, answered: 100 } }).status).toBe('up')
  })

  it('is down with no connection, whatever the breaker', () => {
    expect(routeStatus({ ...base, signedOn: 0, breakerState: 'open' })).toEqual({
      status: 'down',
      reason: 'no connection signed on',
    })
  })

  it('shows the circuit before a partial pool', () => {
    expect(routeStatus({ ...base, signedOn: 1, breakerState: 'open' }).status).toBe('circuit_open')
    expect(routeStatus({ ...base, breakerState: 'half_open' }).status).toBe('circuit_half_open')
    expect(routeStatus({ ...base, signedOn: 1 })).toEqual({
      status: 'degraded',
      reason: '1 of 2 connections signed on',
    })
  })

  it('is degraded at the failure percentage with enough requests, not below', () => {
    const at = { ...none, answered: 9, timeout: 1 }
    expect(routeStatus({ ...base, outcomes: at }).status).toBe('degraded')
    expect(routeStatus({ ...base, outcomes: { ...at, answered: 10 } }).status).toBe('up')
    expect(routeStatus({ ...base, outcomes: { ...none, timeout: 9 } }).status).toBe('up')
  })
})

describe('route window', () => {
  it('counts outcomes and rates over sent requests only', () => {
    const window = new RouteWindow(10_000, 10, 100)
    window.record('answered', T0, 10)
    window.record('answered', T0, 30)
    window.record('timeout', T0)
    window.record('error', T0)
    window.record('unavailable', T0)
    expect(window.snapshot(T0)).toEqual({
      windowMs: 10_000,
      outcomes: { answered: 2, timeout: 1, error: 1, unavailable: 1 },
      sent: 4,
      timeoutRate: 0.25,
      errorRate: 0.25,
      latencyMs: { p50: 10, p99: 30, samples: 2 },
    })
    expect(window.snapshot(T0 + 10_000)).toMatchObject({ sent: 0, timeoutRate: null })
  })

  it('refuses a latency without an answer', () => {
    expect(() => new RouteWindow(1_000, 10, 10).record('timeout', T0, 5)).toThrow(/latency/)
  })
})

describe('window helpers', () => {
  it('nearest-rank percentiles', () => {
    expect(nearestRank([1, 2, 3, 4], 50)).toBe(2)
    expect(nearestRank([1, 2, 3, 4], 99)).toBe(4)
    expect(nearestRank([7], 1)).toBe(7)
    expect(nearestRank([], 50)).toBeNull()
  })

  it('latency samples keep only the last capacity and only the window', () => {
    const samples = new LatencySamples(3)
    for (const [i, ms] of [5, 6, 7, 8].entries()) samples.add(ms, T0 + i)
    expect(samples.percentiles(T0 + 3, 10, [1, 100])).toEqual({ samples: 3, values: [6, 8] })
    expect(samples.percentiles(T0 + 12, 10, [50])).toEqual({ samples: 1, values: [8] })
  })

  it('bounded history keeps the last entries in order and counts what it dropped', () => {
    const history = new BoundedHistory<number>(3)
    expect(history.last()).toBeNull()
    for (let i = 1; i <= 5; i += 1) history.push(i)
    expect(history.list()).toEqual([3, 4, 5])
    expect(history.last()).toBe(5)
    expect(history.dropped).toBe(2)
  })

  it('property: sliding counts equal a brute-force count over the same window', () => {
    const windowMs = 1_000
    const buckets = 10
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 400 }), fc.boolean()), { maxLength: 200 }),
        (events) => {
          const counts = new SlidingCounts(['a', 'b'] as const, windowMs, buckets)
          const log: { atMs: number; key: 'a' | 'b' }[] = []
          let now = T0
          for (const [step, isA] of events) {
            now += step
            const key = isA ? 'a' : 'b'
            counts.add(key, now)
            log.push({ atMs: now, key })
            const bucketMs = windowMs / buckets
            const epoch = Math.floor(now / bucketMs)
            const inWindow = log.filter((e) => epoch - Math.floor(e.atMs / bucketMs) < buckets)
            expect(counts.totals(now)).toEqual({
              a: inWindow.filter((e) => e.key === 'a').length,
              b: inWindow.filter((e) => e.key === 'b').length,
            })
          }
        },
      ),
    )
  })
})
