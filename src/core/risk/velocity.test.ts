import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  isRoundAmount,
  VELOCITY_WINDOWS,
  VelocityIndex,
  VelocityView,
  type VelocityEvent,
  type VelocityWindow,
} from './velocity.js'

const T0 = Date.UTC(2026, 10, 26, 4, 0, 0)

function event(atMs: number, parts: Partial<VelocityEvent> = {}): VelocityEvent {
  return {
    atMs,
    cardToken: 'tok_a',
    merchantId: 'm1',
    terminalId: 't1',
    amountMinor: 1_000,
    declined: false,
    pinDeclined: false,
    round: false,
    ...parts,
  }
}

const SUBJECT = { cardToken: 'tok_a', merchantId: 'm1', terminalId: 't1' }

/** The documented window: from the start of the bucket holding now − window, to now. */
const WIDTH: Record<VelocityWindow, number> = {
  '1m': 10_000,
  '10m': 10_000,
  '1h': 60_000,
  '24h': 900_000,
}
const SPAN: Record<VelocityWindow, number> = {
  '1m': 60_000,
  '10m': 600_000,
  '1h': 3_600_000,
  '24h': 86_400_000,
}
function inWindow(e: VelocityEvent, nowMs: number, w: VelocityWindow): boolean {
  const width = WIDTH[w]
  const bucket = Math.floor(e.atMs / width)
  return bucket >= Math.floor((nowMs - SPAN[w]) / width) && bucket <= Math.floor(nowMs / width)
}

describe('VelocityIndex', () => {
  it('counts and sums per window, and forgets what is older than the window', () => {
    const index = new VelocityIndex()
    index.record(event(T0 - 30 * 60_000, { amountMinor: 500 }))
    index.record(event(T0 - 5 * 60_000, { amountMinor: 700, declined: true }))
    index.record(event(T0 - 20_000, { amountMinor: 900 }))
    const f = index.figures('card', SUBJECT, T0)
    expect(f.count).toEqual({ '1m': 1, '10m': 2, '1h': 3, '24h': 3 })
    expect(f.sum).toEqual({ '1m': 900, '10m': 1_600, '1h': 2_100, '24h': 2_100 })
    expect(f.declines10m).toBe(1)
    const later = index.figures('card', SUBJECT, T0 + 25 * 3_600_000)
    expect(later.count['24h']).toBe(0)
  })

  it('keeps card, merchant, terminal and card-at-merchant apart', () => {
    const index = new VelocityIndex()
    index.record(event(T0, { merchantId: 'm1', terminalId: 't1' }))
    index.record(event(T0, { merchantId: 'm2', terminalId: 't2' }))
    index.record(event(T0, { cardToken: 'tok_b', merchantId: 'm1', terminalId: 't1' }))
    expect(index.figures('card', SUBJECT, T0).count['1m']).toBe(2)
    expect(index.figures('merchant', SUBJECT, T0).count['1m']).toBe(2)
    expect(index.figures('terminal', SUBJECT, T0).count['1m']).toBe(2)
    expect(index.figures('card_merchant', SUBJECT, T0).count['1m']).toBe(1)
    expect(index.figures('card', SUBJECT, T0).distinctTerminals10m).toBe(2)
    expect(index.figures('merchant', SUBJECT, T0).distinctTerminals10m).toBe(0)
  })

  it('stays within its key bound, dropping the least recently active first', () => {
    const index = new VelocityIndex(8)
    for (let i = 0; i < 10; i++) index.record(event(T0 + i, { cardToken: `tok_${i}` }))
    // Each event makes four keys; the shared merchant and terminal keys stay recent.
    expect(index.size).toBeLessThanOrEqual(8)
    expect(index.evicted).toBeGreaterThan(0)
    expect(index.figures('merchant', SUBJECT, T0 + 10).count['1m']).toBe(10)
    expect(index.figures('card', { ...SUBJECT, cardToken: 'tok_0' }, T0 + 10).count['1m']).toBe(0)
  })

  it('sweeps keys idle for a day', () => {
    const index = new VelocityIndex()
    index.record(event(T0))
    index.record(
      event(T0 + 2 * 86_400_000, { cardToken: 'tok_b', merchantId: 'm2', terminalId: 't2' }),
    )
    expect(index.sweep(T0 + 2 * 86_400_000)).toBe(4)
    expect(index.size).toBe(4)
  })

  it('matches a brute-force count for any sequence of events (property)', () => {
    const events = fc.array(
      fc.record({
        offset: fc.integer({ min: 0, max: 30 * 3_600_000 }),
        card: fc.constantFrom('tok_a', 'tok_b'),
        terminal: fc.constantFrom('t1', 't2', 't3'),
        amount: fc.integer({ min: 1, max: 1_000_000 }),
        declined: fc.boolean(),
      }),
      { maxLength: 120 },
    )
    fc.assert(
      fc.property(events, fc.integer({ min: 0, max: 31 * 3_600_000 }), (raw, nowOffset) => {
        const sorted = [...raw].sort((a, b) => a.offset - b.offset)
        const all = sorted.map((r) =>
          event(T0 + r.offset, {
            cardToken: r.card,
            terminalId: r.terminal,
            amountMinor: r.amount,
            declined: r.declined,
            round: isRoundAmount(r.amount, 'CNY'),
          }),
        )
        const now = T0 + nowOffset
        const index = new VelocityIndex()
        // Velocity only ever sees the past: feed what happened up to now.
        const past = all.filter((e) => e.atMs <= now)
        for (const e of past) index.record(e)
        const f = index.figures('card', SUBJECT, now)
        const mine = past.filter((e) => e.cardToken === 'tok_a')
        for (const w of VELOCITY_WINDOWS) {
          const inside = mine.filter((e) => inWindow(e, now, w))
          expect(f.count[w]).toBe(inside.length)
          expect(f.sum[w]).toBe(inside.reduce((s, e) => s + e.amountMinor, 0))
        }
        const tenMinutes = mine.filter((e) => inWindow(e, now, '10m'))
        expect(f.declines10m).toBe(tenMinutes.filter((e) => e.declined).length)
        expect(f.roundCount24h).toBe(mine.filter((e) => inWindow(e, now, '24h') && e.round).length)
        const exactTen = mine.filter((e) => e.atMs >= now - 600_000)
        expect(f.distinctTerminals10m).toBe(new Set(exactTen.map((e) => e.terminalId)).size)
      }),
      { numRuns: 200 },
    )
  })
})

describe('VelocityView (a batch over the committed index)', () => {
  it('sees its own events, and commits them only when told', () => {
    const index = new VelocityIndex()
    index.record(event(T0 - 1_000, { terminalId: 't1' }))
    const view = new VelocityView(index)
    view.record(event(T0, { terminalId: 't2' }))
    const inBatch = view.figures('card', SUBJECT, T0)
    expect(inBatch.count['1m']).toBe(2)
    expect(inBatch.distinctTerminals10m).toBe(2)
    expect(index.figures('card', SUBJECT, T0).count['1m']).toBe(1)
    view.commit()
    expect(index.figures('card', SUBJECT, T0).count['1m']).toBe(2)
    expect(view.events()).toHaveLength(0)
  })

  it('a view never committed (a failed batch) leaves the index as it was', () => {
    const index = new VelocityIndex()
    const view = new VelocityView(index)
    view.record(event(T0))
    expect(index.size).toBe(0)
  })
})

describe('isRoundAmount', () => {
  it('is a whole multiple of 100 in the major unit', () => {
    expect(isRoundAmount(10_000, 'CNY')).toBe(true)
    expect(isRoundAmount(500_000, 'CNY')).toBe(true)
    expect(isRoundAmount(10_050, 'CNY')).toBe(false)
    expect(isRoundAmount(0, 'CNY')).toBe(false)
    expect(isRoundAmount(100, 'JPY')).toBe(true)
  })
})
