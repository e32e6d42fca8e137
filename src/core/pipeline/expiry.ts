import { assert } from '../assert.js'
import { releaseHold } from '../ledger/ledger.js'
import type { Account, TransactionRecord, Transfer } from '../model.js'
import { emptySnapshot, Working, type Changes } from './snapshot.js'

/**
 * Expires preauthorization holds nobody completed in time: the hold is released, the money stays
 * with the cardholder, and the preauthorization can no longer be completed.
 */
export function expireDueHolds(
  due: {
    readonly transactions: readonly TransactionRecord[]
    readonly transfers: ReadonlyMap<string, Transfer>
    readonly accounts: ReadonlyMap<string, Account>
  },
  nowMs: number,
): Changes {
  const working = new Working(
    emptySnapshot({
      accounts: due.accounts,
      transactions: new Map(due.transactions.map((t) => [t.id, t])),
      transfers: due.transfers,
    }),
  )
  for (const transaction of due.transactions) {
    const expiredAtMs = expireIfDue(transaction, working, nowMs)
    assert(expiredAtMs !== null, `hold of ${transaction.id} is due`)
  }
  return working.changes()
}

/**
 * Expires a preauthorization's hold if it is due at `nowMs`: releases it, marks the
 * preauthorization expired, and returns the instant it was due; null when not yet due. The
 * sweep uses it, and so does a completion that arrives after the due instant but before the
 * sweep ran, so the answer never depends on the sweep's timing.
 */
export function expireIfDue(
  transaction: TransactionRecord,
  working: Working,
  nowMs: number,
): number | null {
  assert(
    transaction.kind === 'preauthorization' && transaction.lifecycle === 'held',
    `${transaction.id} is an open hold`,
  )
  const held =
    transaction.holdTransferId === null ? undefined : working.transfer(transaction.holdTransferId)
  assert(held !== undefined && held.state === 'pending', `hold of ${transaction.id} is pending`)
  if (held.expiresAtMs === null || held.expiresAtMs > nowMs) return null
  const debit = working.account(held.debitAccountId)
  const credit = working.account(held.creditAccountId)
  assert(debit !== undefined && credit !== undefined, 'accounts of a due hold are loaded')
  const result = releaseHold({ holdTransfer: held, debit, credit, state: 'expired', nowMs })
  working.putAccounts(result.accounts)
  working.updateTransfer(result.hold)
  working.updateTransaction({ ...transaction, lifecycle: 'expired', updatedAtMs: nowMs })
  return held.expiresAtMs
}
