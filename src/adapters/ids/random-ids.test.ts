import { describe, expect, it } from 'vitest'
import { createRandomIds } from './random-ids.js'

describe('random ids', () => {
  it('sort in the order they were made, within a millisecond and when the clock steps back', () => {
    let nowMs = Date.UTC(2026, 10, 25)
    const ids = createRandomIds({ nowMs: () => nowMs })
    const made: string[] = []
    for (let i = 0; i < 5_000; i++) {
      if (i % 1_000 === 0) nowMs += 1
      if (i === 2_500) nowMs -= 5
      made.push(i % 2 === 0 ? ids.transactionId().slice(3) : ids.entityId('au').slice(3))
    }
    expect([...made].sort()).toEqual(made)
    expect(new Set(made).size).toBe(made.length)
    expect(made[0]).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/)
  })

  it('start each new millisecond at a fresh random point', () => {
    let nowMs = 1_000
    const ids = createRandomIds({ nowMs: () => nowMs })
    const a = ids.transactionId()
    nowMs += 1
    const b = ids.transactionId()
    expect(b > a).toBe(true)
    expect(a.slice(3, 13)).not.toBe(b.slice(3, 13))
  })
})
