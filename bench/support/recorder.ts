/** The measured window and what is recorded in it: throughput per second, latency, outcomes. */
import { setTimeout as sleep } from 'node:timers/promises'

export interface MeasureWindow {
  readonly measureStartNs: bigint
  readonly endNs: bigint
}

/** From now: `warmupS` seconds of load, then `durationS` measured seconds. */
export function measureWindow(warmupS: number, durationS: number): MeasureWindow {
  const startNs = process.hrtime.bigint()
  return {
    measureStartNs: startNs + BigInt(warmupS) * 1_000_000_000n,
    endNs: startNs + BigInt(warmupS + durationS) * 1_000_000_000n,
  }
}

/** Sleeps until the monotonic clock reaches `ns`. */
export async function sleepUntil(ns: bigint): Promise<void> {
  await sleep(Math.max(0, Number((ns - process.hrtime.bigint()) / 1_000_000n)))
}

export function increment<K>(map: Map<K, number>, key: K, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by)
}

/** Counts answers in the window per second, and samples the latency of those started in it. */
export class WindowRecorder<C> {
  readonly latenciesMs: Float64Array
  samples = 0
  samplesDropped = 0
  /** Answers received inside the measured window, whenever their request started. */
  completedInWindow = 0
  readonly byOutcome = new Map<string, number>()
  readonly unexpected = new Map<C, Map<string, number>>()
  readonly perSecond: Uint32Array

  constructor(
    protected readonly window: MeasureWindow,
    durationS: number,
    samplesMax: number,
    /** The outcome each category must get. */
    private readonly expected: (category: C) => string | undefined,
  ) {
    this.latenciesMs = new Float64Array(samplesMax)
    this.perSecond = new Uint32Array(durationS)
  }

  /** Counts every answer that arrives inside the window: throughput. */
  completed(doneNs: bigint): void {
    if (doneNs < this.window.measureStartNs || doneNs > this.window.endNs) return
    this.completedInWindow += 1
    const second = Number((doneNs - this.window.measureStartNs) / 1_000_000_000n)
    if (second < this.perSecond.length) this.perSecond[second] = (this.perSecond[second] ?? 0) + 1
  }

  /** Records a request that started inside the window: latency and outcome. */
  sampled(category: C, outcome: string, latencyMs: number): void {
    if (this.samples < this.latenciesMs.length) this.latenciesMs[this.samples++] = latencyMs
    else this.samplesDropped += 1
    increment(this.byOutcome, outcome)
    if (outcome === this.expected(category)) return
    const unexpected = this.unexpected.get(category) ?? new Map<string, number>()
    increment(unexpected, outcome)
    this.unexpected.set(category, unexpected)
  }

  /** The latencies sampled, sorted. */
  sortedLatencies(): Float64Array {
    return this.latenciesMs.subarray(0, this.samples).sort()
  }
}
