import { beforeAll, describe, expect, it } from 'vitest'
import {
  loadReferenceData,
  REFERENCE_DIR_DEFAULT,
  type ReferenceData,
} from '../../src/adapters/reference/load-reference.js'
import { planBatch } from '../../src/core/pipeline/batch.js'
import { FOLLOW_UPS_PER_ORIGINAL_MAX } from '../../src/core/pipeline/decide-follow-up.js'
import type { CoreContext } from '../../src/core/pipeline/context.js'
import type { CoreRequest, NewTransactionRequest } from '../../src/core/pipeline/requests.js'
import type { RequestResult } from '../../src/core/pipeline/result.js'
import type { MemoryBatchStore } from '../support/memory-batch-store.js'
import {
  TRACE_NOW,
  TRACE_PAN,
  traceAvailable,
  traceContext,
  traceWorld,
} from '../support/trace-world.js'

/**
 * A terminal names the original of a reversal by its own trace: terminal, STAN and
 * transmission time (ISO 8583 0400). The core resolves it inside the batch, so a reversal
 * queued right behind its original still finds it.
 */
let reference: ReferenceData

const NOW = TRACE_NOW
const PAN = TRACE_PAN
const context = (nowMs = NOW): CoreContext => traceContext(reference, nowMs)
const world = (): MemoryBatchStore => traceWorld(reference)

const purchase: NewTransactionRequest = {
  type: 'new',
  kind: 'purchase',
  channel: 'iso8583',
  terminalId: '10000001',
  merchantId: '898310058120001',
  stan: '000042',
  transmissionTime: '1126120000',
  card: { pan: PAN, expiry: '3012' },
  cardToken: 'tok_trace',
  amountMinor: 30_000,
  currency: 'CNY',
  idempotencyKey: null,
}
const reversal: CoreRequest = {
  type: 'follow_up',
  kind: 'reversal',
  channel: 'iso8583',
  stan: '000043',
  amountMinor: null,
  idempotencyKey: null,
  originalTrace: { terminalId: '10000001', stan: '000042', transmissionTime: '1126120000' },
}

function run(store: MemoryBatchStore, requests: readonly CoreRequest[]): readonly RequestResult[] {
  return store.run(planBatch(requests, context()))
}

const available = traceAvailable

describe('follow-ups that name their original by trace', () => {
  beforeAll(() => {
    reference = loadReferenceData(REFERENCE_DIR_DEFAULT)
  })

  it('reverses an original committed in an earlier batch, exactly once', () => {
    const store = world()
    expect(run(store, [purchase])[0]).toMatchObject({
      type: 'decided',
      transaction: { outcome: 'approved' },
    })
    expect(available(store)).toBe(70_000)
    const [first] = run(store, [reversal])
    expect(first).toMatchObject({
      type: 'decided',
      replayed: false,
      transaction: { kind: 'reversal', outcome: 'approved', amountMinor: 30_000 },
    })
    const [again] = run(store, [{ ...reversal, stan: '000044' }])
    expect(again).toMatchObject({ type: 'decided', replayed: true })
    expect(available(store)).toBe(100_000)
  })

  it('finds an original decided earlier in the same batch', () => {
    const store = world()
    const [sale, undo] = run(store, [purchase, reversal])
    expect(sale).toMatchObject({ type: 'decided', transaction: { outcome: 'approved' } })
    expect(undo).toMatchObject({
      type: 'decided',
      transaction: { kind: 'reversal', outcome: 'approved' },
    })
    expect(available(store)).toBe(100_000)
  })

  it('finds a completion by its own trace: its reversal gives the money back', () => {
    const store = world()
    const preauthorization: NewTransactionRequest = {
      ...purchase,
      kind: 'preauthorization',
      stan: '000050',
    }
    expect(run(store, [preauthorization])[0]).toMatchObject({
      type: 'decided',
      transaction: { outcome: 'approved' },
    })
    const completion: CoreRequest = {
      type: 'follow_up',
      kind: 'completion',
      channel: 'iso8583',
      stan: '000051',
      amountMinor: 20_000,
      idempotencyKey: null,
      originalTrace: { terminalId: '10000001', stan: '000050', transmissionTime: '1126120000' },
    }
    expect(run(store, [completion])[0]).toMatchObject({
      type: 'decided',
      transaction: { kind: 'completion', outcome: 'approved' },
    })
    expect(available(store)).toBe(80_000)
    // A UnionPay reversal names the completion by the completion's own STAN, with no time.
    const undo: CoreRequest = {
      type: 'follow_up',
      kind: 'reversal',
      channel: 'iso8583',
      stan: '000051',
      amountMinor: null,
      idempotencyKey: null,
      originalTrace: { terminalId: '10000001', stan: '000051', transmissionTime: null },
    }
    expect(run(store, [undo])[0]).toMatchObject({
      type: 'decided',
      transaction: { kind: 'reversal', outcome: 'approved', amountMinor: 20_000 },
    })
    expect(available(store)).toBe(100_000)
  })

  it('acknowledges a reversal of an original never seen, and refuses that original if it arrives late', () => {
    const store = world()
    const [tombstone] = run(store, [reversal])
    expect(tombstone).toMatchObject({
      type: 'decided',
      replayed: false,
      transaction: { kind: 'reversal', outcome: 'approved', amountMinor: 0, originalId: null },
    })
    const [late] = run(store, [purchase])
    expect(late).toMatchObject({ type: 'rejected', reason: 'duplicate_mismatch' })
    expect(available(store)).toBe(100_000)
    const [again] = run(store, [{ ...reversal, stan: '000099' }])
    expect(again).toMatchObject({ type: 'decided', replayed: true })
    expect(store.transactions.size).toBe(1)
  })

  it('bounds the follow-ups one original may collect', () => {
    const store = world()
    const [sale] = run(store, [purchase])
    if (sale?.type !== 'decided') throw new Error('the sale is decided')
    const overRefund: CoreRequest = {
      type: 'follow_up',
      kind: 'refund',
      channel: 'http',
      stan: null,
      amountMinor: 99_999,
      idempotencyKey: null,
      originalId: sale.transaction.id,
    }
    const results = run(
      store,
      Array.from({ length: FOLLOW_UPS_PER_ORIGINAL_MAX + 1 }, () => overRefund),
    )
    expect(results.slice(0, -1).every((r) => r.type === 'decided')).toBe(true)
    expect(results.at(-1)).toMatchObject({
      type: 'rejected',
      reason: 'original_not_eligible',
      evidence: { followUpsMax: FOLLOW_UPS_PER_ORIGINAL_MAX },
    })
    expect(store.transactions.size).toBe(FOLLOW_UPS_PER_ORIGINAL_MAX + 1)
  })

  it('rejects a trace from an unknown terminal, and stores nothing', () => {
    const store = world()
    const unknown: CoreRequest = {
      ...reversal,
      originalTrace: { terminalId: '99999999', stan: '000042', transmissionTime: '1126120000' },
    }
    const [result] = run(store, [unknown])
    expect(result).toMatchObject({
      type: 'rejected',
      reason: 'original_not_found',
      evidence: { originalStan: '000042' },
    })
    expect(store.transactions.size).toBe(0)
  })
})
