import type { ReferenceData } from '../../src/adapters/reference/load-reference.js'
import { luhnCheckDigit } from '../../src/core/card.js'
import { issueCard } from '../../src/core/issue-card.js'
import { availableMinor } from '../../src/core/ledger/ledger.js'
import type { CoreContext } from '../../src/core/pipeline/context.js'
import { VelocityIndex } from '../../src/core/risk/velocity.js'
import { MemoryBatchStore } from './memory-batch-store.js'

/**
 * The small world of the trace tests (test/core/trace-follow-up, across-midnight): one merchant,
 * one terminal, one debit card with 1,000.00, decided in memory by the real core.
 */
export const TRACE_NOW = Date.UTC(2026, 10, 26, 4, 0, 0)
const PARTIAL = '621226020000777701'
export const TRACE_PAN = PARTIAL.slice(0, 18) + luhnCheckDigit(PARTIAL.slice(0, 18))
export const TRACE_TERMINAL = '10000001'
export const TRACE_MERCHANT = '898310058120001'
let sequence = 0

export function traceContext(reference: ReferenceData, nowMs = TRACE_NOW): CoreContext {
  return {
    nowMs,
    settings: { utcOffsetMinutes: 480, holdExpiryMs: 86_400_000 },
    bins: reference.bins,
    mccs: reference.mccs,
    newTransactionId: () => `tx_${String(++sequence).padStart(26, '0')}`,
    newTransferId: () => `tr_${++sequence}`,
    newAuthorizationCode: () => 'A00001',
    newRrn: () => String(++sequence).padStart(12, '0'),
    velocity: new VelocityIndex(),
  }
}

export function traceWorld(reference: ReferenceData): MemoryBatchStore {
  const store = new MemoryBatchStore()
  store.putMerchant({
    id: TRACE_MERCHANT,
    name: 'Noodles',
    mcc: '5812',
    status: 'approved',
    region: null,
    riskTier: 'low',
    createdAtMs: TRACE_NOW,
    updatedAtMs: TRACE_NOW,
  })
  store.putTerminal({
    id: TRACE_TERMINAL,
    merchantId: TRACE_MERCHANT,
    status: 'active',
    region: null,
    createdAtMs: TRACE_NOW,
    updatedAtMs: TRACE_NOW,
  })
  const issued = issueCard({
    pan: TRACE_PAN,
    expiry: '3012',
    type: 'debit',
    status: 'active',
    amountMinor: 100_000,
    currency: 'CNY',
    token: 'tok_trace',
    accountId: 'ac_trace',
    bin: reference.bins.lookup(TRACE_PAN),
    nowMs: TRACE_NOW,
  })
  store.createCard(issued.card, issued.account, issued.openingBalanceMinor, 'tr_open', TRACE_NOW)
  return store
}

/** What the trace world's card can spend now. */
export function traceAvailable(store: MemoryBatchStore): number {
  const account = store.accounts.get('ac_trace')
  if (account === undefined) throw new Error('the card account exists')
  return availableMinor(account)
}
