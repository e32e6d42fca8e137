import { describe, expect, it } from 'vitest'
import { KeyedCache } from './snapshot-cache.js'

describe('KeyedCache', () => {
  it('loads only what it does not know, and remembers absent keys', () => {
    const cache = new KeyedCache<number>(100)
    const asked: string[][] = []
    const load = (keys: readonly string[]) => {
      asked.push([...keys])
      return new Map(keys.filter((k) => k !== 'none').map((k) => [k, k.length]))
    }
    expect(cache.load(['a', 'bb', 'none'], load)).toEqual(
      new Map([
        ['a', 1],
        ['bb', 2],
      ]),
    )
    expect(cache.load(['a', 'none', 'ccc'], load)).toEqual(
      new Map([
        ['a', 1],
        ['ccc', 3],
      ]),
    )
    expect(asked).toEqual([['a', 'bb', 'none'], ['ccc']])
  })

  it('serves what was written through, and forgets everything on clear', () => {
    const cache = new KeyedCache<number>(100)
    const load = (keys: readonly string[]) => new Map(keys.map((k) => [k, 0]))
    cache.load(['a'], load)
    cache.set('a', 7)
    expect(cache.load(['a'], () => new Map())).toEqual(new Map([['a', 7]]))
    cache.clear()
    expect(cache.load(['a'], load)).toEqual(new Map([['a', 0]]))
  })

  it('stays within its bound', () => {
    const cache = new KeyedCache<number>(10)
    const load = (keys: readonly string[]) => new Map(keys.map((k) => [k, 1]))
    for (let i = 0; i < 100; i += 1) {
      cache.load([`k${i}`, `l${i}`], load)
      cache.set(`m${i}`, 2)
      expect(cache.size).toBeLessThanOrEqual(10)
    }
  })
})
