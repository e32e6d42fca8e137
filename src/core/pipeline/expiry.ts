import { assert } from '../assert.js'
import { releaseHold } from '../ledger/ledger.js'
import type { Account, TransactionRecord, Transfer } from '../model.js'
import { Working, type Changes } from './snapshot.js'

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
  const working = new Working({
    merchants: new Map(), terminals: new Map(), cards: new Map(), accounts: due.accounts,
    transactions: new Map(due.transactions.map((t) => [t.id, t])), dedupKeys: new Map(),
    idempotencyKeys: new Map(), followUps: new Map(), transfers: due.transfers, counters: new Map(),
    limits: [], listEntries: [],
  })
  for (const transaction of due.transactions) {
    assert(transaction.kind === 'preauthorization' && transaction.lifecycle === 'held', `${transaction.id} is an open hold`)
    assert(transaction.holdTransferId !== null, `${transaction.id} has a hold transfer`)
    const held = working.transfer(transaction.holdTransferId)
    assert(held !== undefined && held.state === 'pending', `hold of ${transaction.id} is pending`)
    assert(held.expiresAtMs !== null && held.expiresAtMs <= nowMs, `hold of ${transaction.id} is due`)
    const debit = working.account(held.debitAccountId)
    const credit = working.account(held.creditAccountId)
    assert(debit !== undefined && credit !== undefined, 'accounts of a due hold are loaded')
    const result = releaseHold({ holdTransfer: held, debit, credit, state: 'expired', nowMs })
    working.putAccounts(result.accounts)
    working.updateTransfer(result.hold)
    working.updateTransaction({ ...transaction, lifecycle: 'expired', updatedAtMs: nowMs })
  }
  return working.changes()
}
