import { beforeAll, describe, expect, it } from 'vitest'
import {
  loadReferenceData,
  REFERENCE_DIR_DEFAULT,
  type ReferenceData,
} from '../../src/adapters/reference/load-reference.js'
import { planBatch } from '../../src/core/pipeline/batch.js'
import type { CoreContext } from '../../src/core/pipeline/context.js'
import type { CoreRequest, NewTransactionRequest } from '../../src/core/pipeline/requests.js'
import type { MemoryBatchStore } from '../support/memory-batch-store.js'
import {
  TRACE_NOW,
  TRACE_PAN,
  traceAvailable,
  traceContext,
  traceWorld,
} from '../support/trace-world.js'

/**
 * Messages that cross local midnight (UTC+8): a UnionPay reversal names its original by STAN
 * alone, a retransmission repeats its STAN, and keys without a transmission time are the day's.
 * Yesterday's transaction counts only if it is recent (ACROSS_MIDNIGHT_MS); a tombstone answers
 * reversals only; a reversal of a void is declined, never acknowledged as done.
 */
let reference: ReferenceData

const NOW = TRACE_NOW
const PAN = TRACE_PAN
const context = (nowMs = NOW): CoreContext => traceContext(reference, nowMs)
const world = (): MemoryBatchStore => traceWorld(reference)

// Local (UTC+8) D = 2026-11-26; 23:59:50 local = 15:59:50Z; D+1 00:00:10 local = 16:00:10Z
const LATE = Date.UTC(2026, 10, 26, 15, 59, 50)
const AFTER = Date.UTC(2026, 10, 26, 16, 0, 10)
const T = '10000001'
const M = '898310058120001'
const sale = (o: Partial<NewTransactionRequest> = {}): NewTransactionRequest => ({
  type: 'new',
  kind: 'purchase',
  channel: 'iso8583',
  terminalId: T,
  merchantId: M,
  stan: '000042',
  transmissionTime: null,
  card: { pan: PAN, expiry: '3012' },
  cardToken: 'tok_trace',
  amountMinor: 30_000,
  currency: 'CNY',
  idempotencyKey: null,
  ...o,
})
const fu = (
  kind: 'reversal' | 'void' | 'refund' | 'completion',
  stan: string,
  origStan: string,
  amountMinor: number | null = null,
  localDate: string | null = null,
): CoreRequest => ({
  type: 'follow_up',
  kind,
  channel: 'iso8583',
  stan,
  amountMinor,
  idempotencyKey: null,
  originalTrace: { terminalId: T, stan: origStan, transmissionTime: null, localDate },
})
const at = (store: MemoryBatchStore, nowMs: number, reqs: readonly CoreRequest[]) =>
  store.run(planBatch(reqs, context(nowMs)))

describe('across local midnight', () => {
  beforeAll(() => {
    reference = loadReferenceData(REFERENCE_DIR_DEFAULT)
  })

  it('a UnionPay reversal just after midnight undoes the sale made just before it', () => {
    const store = world()
    const [original] = at(store, LATE, [sale()])
    if (original?.type !== 'decided') throw new Error('decided')
    const [reversal] = at(store, AFTER, [fu('reversal', '000042', '000042')])
    expect(reversal).toMatchObject({
      type: 'decided',
      transaction: { kind: 'reversal', outcome: 'approved', originalId: original.transaction.id },
    })
    expect(available(store)).toBe(100_000)
  })

  it("never takes yesterday's sale with the same STAN once it is not recent (a STAN used again)", () => {
    const store = world()
    at(store, LATE - 3 * 3_600_000, [sale()])
    const [reversal] = at(store, AFTER, [fu('reversal', '000042', '000042')])
    // Nothing to reverse today: acknowledged with a tombstone, yesterday's sale untouched.
    expect(reversal).toMatchObject({ transaction: { outcome: 'approved', originalId: null } })
    expect(available(store)).toBe(70_000)
  })

  it('a refund retransmitted across midnight gets its first answer, not a second refund', () => {
    const store = world()
    at(store, LATE - 60_000, [sale()])
    const refund = fu('refund', '000050', '000042', 10_000, '2026-11-26')
    expect(at(store, LATE, [refund])[0]).toMatchObject({ transaction: { outcome: 'approved' } })
    expect(at(store, AFTER, [refund])[0]).toMatchObject({
      type: 'decided',
      replayed: true,
      transaction: { outcome: 'approved' },
    })
    expect(available(store)).toBe(80_000)
  })

  it('a completion advice retransmitted across midnight gets its first answer', () => {
    const store = world()
    at(store, LATE - 60_000, [sale({ kind: 'preauthorization' })])
    const completion = fu('completion', '000050', '000042', 20_000, '2026-11-26')
    expect(at(store, LATE, [completion])[0]).toMatchObject({ transaction: { outcome: 'approved' } })
    expect(at(store, AFTER, [completion])[0]).toMatchObject({
      replayed: true,
      transaction: { outcome: 'approved' },
    })
  })

  it('a UnionPay purchase retransmitted across midnight is charged once', () => {
    const store = world()
    at(store, LATE, [sale()])
    expect(at(store, AFTER, [sale()])[0]).toMatchObject({
      replayed: true,
      transaction: { outcome: 'approved' },
    })
    expect(available(store)).toBe(70_000)
  })

  it('a reversal naming a completion by field 90 the next day undoes it', () => {
    const store = world()
    at(store, LATE - 60_000, [sale({ kind: 'preauthorization', transmissionTime: '1126235850' })])
    const completion: CoreRequest = {
      type: 'follow_up',
      kind: 'completion',
      channel: 'iso8583',
      stan: '000050',
      amountMinor: 20_000,
      idempotencyKey: null,
      originalTrace: { terminalId: T, stan: '000042', transmissionTime: '1126235850' },
    }
    expect(at(store, LATE, [completion])[0]).toMatchObject({ transaction: { outcome: 'approved' } })
    const reversal: CoreRequest = {
      type: 'follow_up',
      kind: 'reversal',
      channel: 'iso8583',
      stan: '000051',
      amountMinor: null,
      idempotencyKey: null,
      originalTrace: { terminalId: T, stan: '000050', transmissionTime: '1126235950' },
    }
    const [undone] = at(store, AFTER, [reversal])
    expect(undone).toMatchObject({ transaction: { outcome: 'approved' } })
    expect(undone?.type === 'decided' ? undone.transaction.originalId : null).not.toBeNull()
    expect(available(store)).toBe(100_000)
  })
})

describe('follow-ups that name the wrong thing', () => {
  beforeAll(() => {
    reference = loadReferenceData(REFERENCE_DIR_DEFAULT)
  })

  it('a reversal of a void is declined, never acknowledged as done', () => {
    const store = world()
    at(store, NOW, [sale()])
    const voided = at(store, NOW, [fu('void', '000043', '000042', null, '2026-11-26')])[0]
    expect(voided).toMatchObject({ transaction: { outcome: 'approved' } })
    const [reversal] = at(store, NOW, [fu('reversal', '000044', '000043')])
    expect(reversal).toMatchObject({
      transaction: { outcome: 'declined', reason: 'original_not_eligible' },
    })
    expect(available(store)).toBe(100_000)
  })

  it('a tombstone answers a repeat of its reversal, and no completion or refund', () => {
    const store = world()
    const [first] = at(store, NOW, [fu('reversal', '000042', '000042')])
    expect(at(store, NOW, [fu('reversal', '000042', '000042')])[0]).toMatchObject({
      replayed: true,
      transaction: { id: first?.type === 'decided' ? first.transaction.id : '' },
    })
    const completion = fu('completion', '000050', '000042', 20_000, '2026-11-26')
    expect(at(store, NOW, [completion])[0]).toMatchObject({
      type: 'rejected',
      reason: 'original_not_found',
    })
    const refund = fu('refund', '000051', '000042', 20_000, '2026-11-26')
    expect(at(store, NOW, [refund])[0]).toMatchObject({
      type: 'rejected',
      reason: 'original_not_found',
    })
    expect(available(store)).toBe(100_000)
  })

  it("sees a follow-up's own earlier key even when its original is decided in the same batch", () => {
    const store = world()
    // A sale (STAN 40) reversed by a reversal with STAN 60: that reversal's key is stored.
    at(store, NOW, [sale({ stan: '000040' })])
    expect(at(store, NOW, [fu('reversal', '000060', '000040')])[0]).toMatchObject({
      transaction: { outcome: 'approved' },
    })
    // Then a sale, and in the same batch a reversal reusing STAN 60 for it: the key is taken,
    // so it is a mismatched repeat — declined, not a second row that would fail the batch.
    const [sold, reused] = at(store, NOW + 1_000, [
      sale({ stan: '000051' }),
      fu('reversal', '000060', '000051'),
    ])
    expect(sold).toMatchObject({ transaction: { outcome: 'approved' } })
    expect(reused).toMatchObject({ type: 'rejected', reason: 'duplicate_mismatch' })
  })

  it('declined refunds never use up the room a reversal needs', () => {
    const store = world()
    const [s] = at(store, NOW, [sale()])
    if (s?.type !== 'decided') throw new Error('decided')
    const over: CoreRequest = {
      type: 'follow_up',
      kind: 'refund',
      channel: 'http',
      stan: null,
      amountMinor: 999_999,
      idempotencyKey: null,
      originalId: s.transaction.id,
    }
    at(
      store,
      NOW,
      Array.from({ length: 200 }, () => over),
    )
    const [reversal] = at(store, NOW, [{ ...over, kind: 'reversal', amountMinor: null }])
    expect(reversal).toMatchObject({ transaction: { outcome: 'approved' } })
    expect(available(store)).toBe(100_000)
  })

  it('a preauthorization may be cancelled on a later day; a sale may not be voided', () => {
    const store = world()
    at(store, LATE - 60_000, [sale({ kind: 'preauthorization' }), sale({ stan: '000045' })])
    const cancel = fu('void', '000046', '000042', null, '2026-11-26')
    expect(at(store, AFTER + 3_600_000, [cancel])[0]).toMatchObject({
      transaction: { outcome: 'approved' },
    })
    const late = fu('void', '000047', '000045', null, '2026-11-26')
    expect(at(store, AFTER + 3_600_000, [late])[0]).toMatchObject({
      transaction: { outcome: 'declined', reason: 'void_window_closed' },
    })
    expect(available(store)).toBe(70_000)
  })
})

const available = traceAvailable
