import { describe, expect, it } from 'vitest'
import {
  decideFaults,
  expandSchedule,
  faultsPatchSchema,
  faultsReplaceSchema,
  mergeFaults,
  NO_FAULTS,
  sampleLatencyMs,
  scheduleSchema,
  type Latency,
} from './faults.js'
import { mulberry32, streamFor } from './prng.js'

describe('issuer-sim faults', () => {
  it('samples fixed, uniform and percentile latencies within their bounds', () => {
    expect(sampleLatencyMs({ kind: 'fixed', ms: 40 }, 0.7)).toBe(40)
    const uniform = { kind: 'uniform', minMs: 10, maxMs: 20 } as const
    expect(sampleLatencyMs(uniform, 0)).toBe(10)
    expect(sampleLatencyMs(uniform, 0.999_999)).toBe(20)
    const mix: Latency = {
      kind: 'percentiles',
      points: [
        { p: 50, ms: 10 },
        { p: 99, ms: 200 },
        { p: 100, ms: 1000 },
      ],
    }
    expect(sampleLatencyMs(mix, 0.25)).toBe(5)
    expect(sampleLatencyMs(mix, 0.5)).toBe(10)
    expect(sampleLatencyMs(mix, 0.99)).toBe(200)
    expect(sampleLatencyMs(mix, 0.999_999)).toBeLessThanOrEqual(1000)
  })

  it('rejects bad latencies, fractions and unknown keys with the field named', () => {
    const cases: unknown[] = [
      { latency: { kind: 'uniform', minMs: 5, maxMs: 1 } },
      { latency: { kind: 'percentiles', points: [{ p: 50, ms: 1 }] } },
      { latency: { kind: 'fixed', ms: 60_001 } },
      { dropFraction: -0.1 },
      { errorCode: '9' },
      { surprise: true },
    ]
    for (const body of cases) expect(faultsPatchSchema.safeParse(body).success).toBe(false)
    expect(faultsReplaceSchema.parse({ dropFraction: 1 })).toEqual({
      ...NO_FAULTS,
      dropFraction: 1,
    })
  })

  it('merges a patch and keeps the rest', () => {
    const faults = mergeFaults({ ...NO_FAULTS, maintenance: true }, { dropFraction: 0.5 })
    expect(faults).toMatchObject({ maintenance: true, dropFraction: 0.5 })
  })

  it('decides the same fate for the same seed, key and occurrence', () => {
    const faults = { ...NO_FAULTS, dropFraction: 0.5, errorFraction: 0.5 }
    const decide = (seed: number, key: string, occurrence: number) =>
      decideFaults(faults, streamFor(seed, key, occurrence), {
        mti: '0200',
        messagesOnConnection: 0,
      })
    expect(decide(1, 'k', 0)).toEqual(decide(1, 'k', 0))
    const fates = Array.from({ length: 200 }, (_, i) => decide(1, `k${i}`, 0).drop)
    const dropped = fates.filter(Boolean).length
    expect(dropped).toBeGreaterThan(60)
    expect(dropped).toBeLessThan(140)
  })

  it('limits latency, drops and errors to the listed MTIs, but not disconnects', () => {
    const faults = { ...NO_FAULTS, dropFraction: 1, disconnectAfterMessages: 3, mtis: ['0200'] }
    const echo = decideFaults(faults, mulberry32(1), { mti: '0800', messagesOnConnection: 3 })
    expect(echo).toMatchObject({ drop: false, disconnect: true })
    const sale = decideFaults(faults, mulberry32(1), { mti: '0200', messagesOnConnection: 2 })
    expect(sale).toMatchObject({ drop: true, disconnect: false })
  })

  it('expands a random schedule the same way for the same seed, in time order', () => {
    const input = scheduleSchema.parse({
      steps: [{ atMs: 500, replace: {} }],
      random: { everyMs: 100, untilMs: 1000, pick: [{ dropFraction: 1 }, { maintenance: true }] },
    })
    const first = expandSchedule(input, 9)
    expect(first).toEqual(expandSchedule(input, 9))
    if (typeof first === 'string') throw new Error(first)
    expect(first).toHaveLength(12)
    expect(first.map((s) => s.atMs)).toEqual([...first.map((s) => s.atMs)].sort((a, b) => a - b))
    const tooMany = scheduleSchema.parse({
      random: { everyMs: 10, untilMs: 86_400_000, pick: [{}] },
    })
    expect(typeof expandSchedule(tooMany, 1)).toBe('string')
  })
})
