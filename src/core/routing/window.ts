import { assert } from '../assert.js'

/**
 * Counts over a sliding time window, in fixed buckets: memory is `bucketCount` buckets whatever
 * the traffic. A bucket covers `windowMs / bucketCount`; the window is the bucket holding `nowMs`
 * and the `bucketCount - 1` before it, so it spans between `windowMs - bucketMs` and `windowMs`.
 * Time is passed in. A clock that steps back keeps its counts (a bucket "from the future" still
 * counts) rather than losing them.
 *
 * ```ts
 * const counts = new SlidingCounts(['success', 'failure'], 20_000, 10)
 * counts.add('failure', nowMs)
 * counts.totals(nowMs) // { success: 0, failure: 1 }
 * ```
 */
export class SlidingCounts<K extends string> {
  readonly keys: readonly K[]
  readonly windowMs: number
  readonly bucketMs: number
  readonly #epochs: number[]
  readonly #counts: number[][]

  constructor(keys: readonly K[], windowMs: number, bucketCount: number) {
    assert(keys.length >= 1 && new Set(keys).size === keys.length, 'SlidingCounts: keys unique')
    assert(
      Number.isSafeInteger(bucketCount) && bucketCount >= 1 && bucketCount <= BUCKETS_MAX,
      `SlidingCounts: bucketCount ${bucketCount} outside 1..${BUCKETS_MAX}`,
    )
    assert(
      Number.isSafeInteger(windowMs) && windowMs >= bucketCount && windowMs % bucketCount === 0,
      `SlidingCounts: windowMs ${windowMs} must be a multiple of bucketCount ${bucketCount}`,
    )
    this.keys = keys
    this.windowMs = windowMs
    this.bucketMs = windowMs / bucketCount
    this.#epochs = new Array<number>(bucketCount).fill(Number.NEGATIVE_INFINITY)
    this.#counts = Array.from({ length: bucketCount }, () => new Array<number>(keys.length).fill(0))
  }

  add(key: K, nowMs: number, count = 1): void {
    assert(Number.isFinite(nowMs), 'SlidingCounts.add: time must be finite')
    assert(Number.isSafeInteger(count) && count >= 1, 'SlidingCounts.add: count must be >= 1')
    const index = this.keys.indexOf(key)
    assert(index >= 0, `SlidingCounts.add: unknown key ${key}`)
    const epoch = Math.floor(nowMs / this.bucketMs)
    const slot = epoch % this.#epochs.length
    const bucket = this.#counts[slot]
    assert(bucket !== undefined, 'SlidingCounts: bucket hole')
    // A slot holding an older epoch is reused; one holding a newer epoch (the clock stepped back)
    // is added to as it is.
    if ((this.#epochs[slot] ?? 0) < epoch) {
      this.#epochs[slot] = epoch
      bucket.fill(0)
    }
    bucket[index] = (bucket[index] ?? 0) + count
  }

  totals(nowMs: number): Readonly<Record<K, number>> {
    const epoch = Math.floor(nowMs / this.bucketMs)
    const sums = new Array<number>(this.keys.length).fill(0)
    for (let slot = 0; slot < this.#epochs.length; slot += 1) {
      const age = epoch - (this.#epochs[slot] ?? Number.NEGATIVE_INFINITY)
      if (age >= this.#epochs.length) continue
      const bucket = this.#counts[slot] ?? []
      for (let index = 0; index < sums.length; index += 1) {
        sums[index] = (sums[index] ?? 0) + (bucket[index] ?? 0)
      }
    }
    const result = {} as Record<K, number>
    this.keys.forEach((key, index) => {
      const sum = sums[index] ?? 0
      assert(sum >= 0, 'SlidingCounts: negative count')
      result[key] = sum
    })
    return result
  }

  clear(): void {
    this.#epochs.fill(Number.NEGATIVE_INFINITY)
    for (const bucket of this.#counts) bucket.fill(0)
  }
}

export const BUCKETS_MAX = 1_000

/**
 * The last `capacity` latency samples with their times; percentiles over those inside a window.
 * Nearest-rank percentiles (p50 of [1, 2, 3, 4] is 2), null when there is no sample.
 */
export class LatencySamples {
  readonly capacity: number
  readonly #atMs: number[] = []
  readonly #latencyMs: number[] = []
  #next = 0

  constructor(capacity: number) {
    assert(
      Number.isSafeInteger(capacity) && capacity >= 1 && capacity <= LATENCY_SAMPLES_MAX,
      `LatencySamples: capacity ${capacity} outside 1..${LATENCY_SAMPLES_MAX}`,
    )
    this.capacity = capacity
  }

  add(latencyMs: number, nowMs: number): void {
    assert(Number.isFinite(latencyMs) && latencyMs >= 0, 'LatencySamples: latency must be >= 0')
    if (this.#atMs.length < this.capacity) {
      this.#atMs.push(nowMs)
      this.#latencyMs.push(latencyMs)
    } else {
      this.#atMs[this.#next] = nowMs
      this.#latencyMs[this.#next] = latencyMs
    }
    this.#next = (this.#next + 1) % this.capacity
    assert(this.#atMs.length <= this.capacity, 'LatencySamples: beyond capacity')
  }

  /** Percentiles (each in 1..100) over the samples taken in the last `windowMs`. */
  percentiles(
    nowMs: number,
    windowMs: number,
    ranks: readonly number[],
  ): { readonly samples: number; readonly values: readonly (number | null)[] } {
    const recent: number[] = []
    this.#atMs.forEach((atMs, index) => {
      if (nowMs - atMs < windowMs) recent.push(this.#latencyMs[index] ?? 0)
    })
    recent.sort((a, b) => a - b)
    const values = ranks.map((rank) => nearestRank(recent, rank))
    return { samples: recent.length, values }
  }
}

export const LATENCY_SAMPLES_MAX = 100_000

/** The nearest-rank percentile of sorted values, or null for none. */
export function nearestRank(sorted: readonly number[], rank: number): number | null {
  assert(rank > 0 && rank <= 100, `nearestRank: rank ${rank} outside (0, 100]`)
  if (sorted.length === 0) return null
  const index = Math.ceil((rank / 100) * sorted.length) - 1
  const value = sorted[Math.min(sorted.length - 1, Math.max(0, index))]
  assert(value !== undefined, 'nearestRank: index out of range')
  return value
}

/** A bounded history: the last `capacity` entries, oldest first, and how many were dropped. */
export class BoundedHistory<T> {
  readonly capacity: number
  readonly #entries: T[] = []
  #head = 0
  #dropped = 0

  constructor(capacity: number) {
    assert(
      Number.isSafeInteger(capacity) && capacity >= 1 && capacity <= HISTORY_MAX,
      `BoundedHistory: capacity ${capacity} outside 1..${HISTORY_MAX}`,
    )
    this.capacity = capacity
  }

  push(entry: T): void {
    if (this.#entries.length < this.capacity) {
      this.#entries.push(entry)
      return
    }
    this.#entries[this.#head] = entry
    this.#head = (this.#head + 1) % this.capacity
    this.#dropped += 1
  }

  /** Oldest first. */
  list(): T[] {
    return [...this.#entries.slice(this.#head), ...this.#entries.slice(0, this.#head)]
  }

  last(): T | null {
    if (this.#entries.length === 0) return null
    const index = (this.#head + this.#entries.length - 1) % this.#entries.length
    return this.#entries[index] ?? null
  }

  get dropped(): number {
    return this.#dropped
  }
}

export const HISTORY_MAX = 100_000
