import { mulberry32 } from '../issuer-sim/prng.js'
import { DRILL_MERCHANT, type DrillCard } from './setup.js'

/**
 * The drill's traffic: purchases over HTTP at a paced rate with at most `concurrency` in flight,
 * each with a STAN fresh for its terminal, amounts drawn from the seed. Bounded: it stops
 * starting requests when the load phase ends, and every request has its own timeout.
 */

export interface LoadOptions {
  readonly url: string
  readonly terminalIds: readonly string[]
  readonly cards: readonly DrillCard[]
  readonly concurrency: number
  /** Purchases started per second; null: closed loop (each worker sends as soon as answered). */
  readonly ratePerSecond: number | null
  readonly durationMs: number
  /** Per HTTP request: the route timeout plus the switch's own margin. */
  readonly requestTimeoutMs: number
  readonly seed: number
  /** Share of purchases above the stand-in limit (declined while the route is down). */
  readonly largeShare: number
  readonly largeMinor: readonly [number, number]
  /** The first STAN of every terminal (a second load on the same terminals starts above). */
  readonly stanFirst?: number
}

export interface LoadResult {
  readonly index: number
  readonly terminalId: string
  readonly stan: string
  readonly amountMinor: number
  /** Start, ms after the load phase began. */
  readonly startedAtMs: number
  readonly latencyMs: number
  /** null: no answer within the timeout (or the connection failed). */
  readonly status: number | null
  readonly approved: boolean | null
  readonly transactionId: string | null
  readonly responseCode: string | null
  readonly reason: string | null
  readonly error: string | null
}

interface DecisionLike {
  readonly transactionId?: unknown
  readonly approved?: unknown
  readonly responseCode?: unknown
  readonly reason?: { readonly code?: unknown }
}

function formatMinor(minor: number): string {
  return `${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, '0')}`
}

export async function runLoad(options: LoadOptions): Promise<LoadResult[]> {
  const random = mulberry32(options.seed ^ 0x10ad)
  const stans = new Map<string, number>()
  const results: LoadResult[] = []
  const started = performance.now()
  const spacingMs = options.ratePerSecond === null ? 0 : 1_000 / options.ratePerSecond
  const elapsed = () => performance.now() - started
  let next = 0

  const one = async (index: number): Promise<void> => {
    const terminalId = options.terminalIds[index % options.terminalIds.length] as string
    const card = options.cards[index % options.cards.length] as DrillCard
    const counter = (stans.get(terminalId) ?? (options.stanFirst ?? 1) - 1) + 1
    stans.set(terminalId, counter)
    const stan = String(counter).padStart(6, '0')
    const [lo, hi] = options.largeMinor
    const amountMinor =
      random() < options.largeShare
        ? lo + Math.floor(random() * (hi - lo))
        : 100 + Math.floor(random() * 19_900)
    const body = {
      kind: 'purchase',
      terminalId,
      merchantId: DRILL_MERCHANT.id,
      stan,
      card: { pan: card.pan, expiry: card.expiry },
      amount: formatMinor(amountMinor),
      currency: 'CNY',
    }
    const t0 = performance.now()
    const base = { index, terminalId, stan, amountMinor, startedAtMs: Math.round(t0 - started) }
    try {
      const response = await fetch(`${options.url}/v1/authorizations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(options.requestTimeoutMs),
      })
      const answer = (await response.json()) as DecisionLike
      results.push({
        ...base,
        latencyMs: performance.now() - t0,
        status: response.status,
        approved: typeof answer.approved === 'boolean' ? answer.approved : null,
        transactionId: typeof answer.transactionId === 'string' ? answer.transactionId : null,
        responseCode: typeof answer.responseCode === 'string' ? answer.responseCode : null,
        reason: typeof answer.reason?.code === 'string' ? answer.reason.code : null,
        error: null,
      })
    } catch (error) {
      results.push({
        ...base,
        latencyMs: performance.now() - t0,
        status: null,
        approved: null,
        transactionId: null,
        responseCode: null,
        reason: null,
        error: error instanceof Error ? error.name : 'error',
      })
    }
  }

  const worker = async (): Promise<void> => {
    // Bounded: nothing starts after the load phase, and each request has its own timeout.
    while (next * spacingMs < options.durationMs && elapsed() < options.durationMs) {
      const index = next
      next += 1
      const dueMs = index * spacingMs - elapsed()
      if (dueMs > 0) await new Promise((resolve) => setTimeout(resolve, dueMs))
      await one(index)
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, worker))
  return results.sort((a, b) => a.index - b.index)
}
