import { describe, expect, it } from 'vitest'
import { manualClock } from '../adapters/clock/system-clock.js'
import { createTollgateMetrics } from '../adapters/metrics/registry.js'
import { loadReferenceData, REFERENCE_DIR_DEFAULT } from '../adapters/reference/load-reference.js'
import { planBatch, type BatchWork } from '../core/pipeline/batch.js'
import type { CoreContext } from '../core/pipeline/context.js'
import type { CoreRequest } from '../core/pipeline/requests.js'
import type { BatchResult } from '../core/pipeline/result.js'
import { emptySnapshot, type Snapshot } from '../core/pipeline/snapshot.js'
import { VelocityIndex } from '../core/risk/velocity.js'
import type { BatchExecutor } from '../ports/batch-executor.js'
import { Processor, StoreFailure } from './processor.js'

const reference = loadReferenceData(REFERENCE_DIR_DEFAULT)
const EMPTY: Snapshot = emptySnapshot()

/** Fault injection: an executor whose batches commit only when the test says so, or fail. */
function gatedStore() {
  const gates: { work: BatchWork; release: () => void; fail: (error: unknown) => void }[] = []
  const store: BatchExecutor = {
    execute: (requests, nowMs) =>
      new Promise<readonly BatchResult[]>((resolve, reject) => {
        const work = planBatch(requests, context(nowMs))
        gates.push({ work, release: () => resolve(work.decide(EMPTY).results), fail: reject })
      }),
    expireHolds: () => Promise.resolve(0),
    close: () => Promise.resolve(),
  }
  return { store, gates }
}

let counter = 0
function context(nowMs: number): CoreContext {
  return {
    nowMs,
    settings: { utcOffsetMinutes: 480, holdExpiryMs: 86_400_000 },
    bins: reference.bins,
    mccs: reference.mccs,
    newTransactionId: () => `tx_${String(++counter).padStart(26, '0')}`,
    newTransferId: () => `tr_${++counter}`,
    newAuthorizationCode: () => 'A00001',
    newRrn: () => '000000000001',
    velocity: new VelocityIndex(),
  }
}

/** A request the core rejects at validation, so an empty snapshot suffices. */
function badRequest(stan: string): CoreRequest {
  return {
    type: 'new',
    kind: 'purchase',
    channel: 'http',
    terminalId: 'bad',
    merchantId: 'bad',
    stan,
    transmissionTime: null,
    card: { pan: '4111111111111111', expiry: '3012' },
    cardToken: 'tok',
    amountMinor: 100,
    currency: 'CNY',
    idempotencyKey: null,
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

function processor(
  store: BatchExecutor,
  depthMax: number,
  onFatal: (e: unknown) => void = () => undefined,
  batchesInFlightMax = 1,
) {
  return new Processor(
    store,
    manualClock(1_790_000_000_000),
    { depthMax, batchSizeMax: 10, batchesInFlightMax },
    createTollgateMetrics(),
    onFatal,
  )
}

describe('processor: bounded queue and group commit', () => {
  it('answers busy at once when the queue is full, and counts it', () => {
    const { store } = gatedStore()
    const p = processor(store, 3)
    const outcomes = ['000001', '000002', '000003', '000004'].map((stan) =>
      p.submit(badRequest(stan)),
    )
    expect(outcomes.map((o) => o.type)).toEqual(['accepted', 'accepted', 'accepted', 'busy'])
    expect(outcomes[3]).toMatchObject({ type: 'busy', depth: 3, depthMax: 3 })
  })

  it('commits queued requests as one batch and answers only after the commit', async () => {
    const { store, gates } = gatedStore()
    const p = processor(store, 100)
    const answered: string[] = []
    const submitted = ['000001', '000002', '000003'].map((stan) => {
      const outcome = p.submit(badRequest(stan))
      if (outcome.type !== 'accepted') throw new Error('accepted')
      void outcome.result.then(() => answered.push(stan))
      return outcome.result
    })
    await tick()
    expect(gates).toHaveLength(1)
    expect(answered).toEqual([])
    gates[0]?.release()
    const results = await Promise.all(submitted)
    expect(results.map((r) => r.type)).toEqual(['rejected', 'rejected', 'rejected'])
    expect(answered).toEqual(['000001', '000002', '000003'])
  })

  it('fails every request of a batch the store could not commit, then goes on', async () => {
    const { store, gates } = gatedStore()
    const p = processor(store, 100)
    const first = p.submit(badRequest('000001'))
    await tick()
    gates[0]?.fail(new Error('disk I/O error'))
    if (first.type !== 'accepted') throw new Error('accepted')
    await expect(first.result).rejects.toBeInstanceOf(StoreFailure)
    const second = p.submit(badRequest('000002'))
    await tick()
    gates[1]?.release()
    if (second.type !== 'accepted') throw new Error('accepted')
    await expect(second.result).resolves.toMatchObject({ type: 'rejected' })
  })

  it('keeps at most batchesInFlightMax batches with the executor, and hands over the next before answering', async () => {
    const { store, gates } = gatedStore()
    const p = processor(store, 100, () => undefined, 2)
    const first = p.submit(badRequest('000001'))
    await tick()
    const second = p.submit(badRequest('000002'))
    await tick()
    const third = p.submit(badRequest('000003'))
    await tick()
    expect(gates).toHaveLength(2)
    gates[0]?.release()
    if (first.type !== 'accepted' || second.type !== 'accepted' || third.type !== 'accepted')
      throw new Error('accepted')
    await first.result
    await tick()
    expect(gates).toHaveLength(3)
    gates[1]?.release()
    gates[2]?.release()
    await expect(Promise.all([second.result, third.result])).resolves.toHaveLength(2)
  })

  it('close() waits for queued work, then refuses new work', async () => {
    const { store, gates } = gatedStore()
    const p = processor(store, 100)
    const first = p.submit(badRequest('000001'))
    let closed = false
    const closing = p.close().then(() => {
      closed = true
    })
    expect(p.submit(badRequest('000002')).type).toBe('closing')
    await tick()
    expect(closed).toBe(false)
    gates[0]?.release()
    await closing
    expect(closed).toBe(true)
    if (first.type !== 'accepted') throw new Error('accepted')
    await expect(first.result).resolves.toMatchObject({ type: 'rejected' })
  })
})
