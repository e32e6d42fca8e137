import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { localDateKey, previousDay } from './calendar.js'

describe('previousDay', () => {
  it('crosses month and year ends and leap days', () => {
    expect(previousDay('2026-11-26')).toBe('2026-11-25')
    expect(previousDay('2026-12-01')).toBe('2026-11-30')
    expect(previousDay('2027-01-01')).toBe('2026-12-31')
    expect(previousDay('2024-03-01')).toBe('2024-02-29')
    expect(previousDay('2100-03-01')).toBe('2100-02-28')
    expect(previousDay('2000-03-01')).toBe('2000-02-29')
  })

  it('is the business day of the instant a day earlier, for any instant', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_102_444_800_000 }), (ms) => {
        expect(previousDay(localDateKey(ms, 480))).toBe(localDateKey(ms - 86_400_000, 480))
      }),
      { numRuns: 500 },
    )
  })

  it('refuses what is not a YYYY-MM-DD date as a bug', () => {
    expect(() => previousDay('26-11-2026')).toThrow()
  })
})
