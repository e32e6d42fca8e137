import { assert } from '../core/assert.js'

/**
 * Seeded randomness for the issuer simulator. Every fault decision about a message is drawn from
 * a stream seeded by the run's seed and the message itself (its correlation key and how many
 * times that key was seen), not from one shared stream: so the fate of a message does not depend
 * on how concurrent connections happened to interleave, and a drill replays exactly.
 */

/** A stream of uniform numbers in [0, 1). */
export type Random = () => number

/** mulberry32: 32 bits of state, good enough for fault injection, fully reproducible. */
export function mulberry32(seed: number): Random {
  assert(Number.isInteger(seed), 'mulberry32: integer seed')
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** FNV-1a over the UTF-16 code units of a string, mixed with a seed. */
export function hashSeed(seed: number, text: string): number {
  let hash = (0x811c9dc5 ^ (seed >>> 0)) >>> 0
  for (let index = 0; index < text.length; index += 1) {
    hash ^= text.charCodeAt(index)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash >>> 0
}

/** The stream for one message: the same seed, key and occurrence always give the same draws. */
export function streamFor(seed: number, key: string, occurrence: number): Random {
  assert(Number.isSafeInteger(occurrence) && occurrence >= 0, 'streamFor: occurrence >= 0')
  return mulberry32(hashSeed(seed, `${key}#${occurrence}`))
}
