import { assert } from '../assert.js'
import { AMOUNT_MINOR_MAX, BALANCE_MINOR_MAX, type AmountMinor } from '../money.js'
import type { Account, Transfer } from '../model.js'

/**
 * The double-entry ledger, as pure functions over immutable accounts. Each operation returns
 * the accounts it changed and the transfer it made, or a refusal when a bound would break.
 * Callers replace the accounts they hold with the returned ones.
 */

export function isBounded(account: Account): boolean {
  return account.kind === 'cardholder'
}

/** Ledger balance: what has posted (credit limit not included). */
export function ledgerBalanceMinor(account: Account): number {
  return account.creditsPostedMinor - account.debitsPostedMinor
}

/** What the cardholder can still spend: balance + credit limit - holds. */
export function availableMinor(account: Account): number {
  return (
    account.creditsPostedMinor -
    account.debitsPostedMinor -
    account.debitsPendingMinor +
    account.creditLimitMinor
  )
}

/** Credit used on a credit account: posted debt plus holds. */
export function creditUsedMinor(account: Account): number {
  return account.debitsPostedMinor + account.debitsPendingMinor - account.creditsPostedMinor
}

export function assertAccountInvariants(account: Account): void {
  const totals = [
    account.debitsPendingMinor,
    account.debitsPostedMinor,
    account.creditsPendingMinor,
    account.creditsPostedMinor,
    account.creditLimitMinor,
  ]
  for (const total of totals) {
    assert(
      Number.isSafeInteger(total) && total >= 0,
      `account ${account.id}: total ${total} out of range`,
    )
    assert(total <= BALANCE_MINOR_MAX * 4, `account ${account.id}: total ${total} over maximum`)
  }
  if (isBounded(account)) {
    assert(availableMinor(account) >= 0, `account ${account.id}: available below zero`)
  }
}

export type LedgerRefusal = { readonly code: 'exceeds_available'; readonly availableMinor: number }

export interface LedgerResult {
  readonly accounts: readonly Account[]
  readonly transfer: Transfer
}

interface TransferInput {
  readonly id: string
  readonly transactionId: string
  readonly debit: Account
  readonly credit: Account
  readonly amountMinor: AmountMinor
  readonly nowMs: number
}

function checkPair(input: TransferInput): void {
  assert(input.debit.id !== input.credit.id, 'transfer between distinct accounts')
  assert(input.debit.currency === input.credit.currency, 'transfer within one currency')
  assert(
    Number.isSafeInteger(input.amountMinor) &&
      input.amountMinor > 0 &&
      input.amountMinor <= AMOUNT_MINOR_MAX,
    `transfer amount ${input.amountMinor} out of range`,
  )
}

function refusal(debit: Account, amountMinor: number): LedgerRefusal | null {
  if (!isBounded(debit)) return null
  const after = availableMinor(debit) - amountMinor
  return after < 0 ? { code: 'exceeds_available', availableMinor: availableMinor(debit) } : null
}

/** A new transfer record: pending (a hold, with its expiry) or posted (optionally from a hold). */
function newTransfer(
  input: {
    readonly id: string
    readonly transactionId: string
    readonly debit: Account
    readonly credit: Account
    readonly amountMinor: AmountMinor
    readonly nowMs: number
  },
  as:
    | { readonly state: 'pending'; readonly expiresAtMs: number }
    | { readonly state: 'posted'; readonly pendingId: string | null },
): Transfer {
  const posted = as.state === 'posted'
  return {
    id: input.id,
    transactionId: input.transactionId,
    debitAccountId: input.debit.id,
    creditAccountId: input.credit.id,
    amountMinor: input.amountMinor,
    currency: input.debit.currency,
    state: as.state,
    postedAmountMinor: posted ? input.amountMinor : 0,
    pendingId: posted ? as.pendingId : null,
    createdAtMs: input.nowMs,
    expiresAtMs: posted ? null : as.expiresAtMs,
    resolvedAtMs: posted ? input.nowMs : null,
  }
}

/** A hold: a pending transfer that reserves the amount on the debit account. */
export function hold(
  input: TransferInput & { readonly expiresAtMs: number },
): LedgerResult | LedgerRefusal {
  checkPair(input)
  assert(input.expiresAtMs > input.nowMs, 'a hold expires in the future')
  const refused = refusal(input.debit, input.amountMinor)
  if (refused !== null) return refused
  const debit: Account = {
    ...input.debit,
    debitsPendingMinor: input.debit.debitsPendingMinor + input.amountMinor,
  }
  const credit: Account = {
    ...input.credit,
    creditsPendingMinor: input.credit.creditsPendingMinor + input.amountMinor,
  }
  assertAccountInvariants(debit)
  assertAccountInvariants(credit)
  const transfer = newTransfer(input, { state: 'pending', expiresAtMs: input.expiresAtMs })
  return { accounts: [debit, credit], transfer }
}

/** A posted transfer: money moves at once. Refused if a bounded debit account would go below. */
export function post(input: TransferInput): LedgerResult | LedgerRefusal {
  checkPair(input)
  const refused = refusal(input.debit, input.amountMinor)
  if (refused !== null) return refused
  const debit: Account = {
    ...input.debit,
    debitsPostedMinor: input.debit.debitsPostedMinor + input.amountMinor,
  }
  const credit: Account = {
    ...input.credit,
    creditsPostedMinor: input.credit.creditsPostedMinor + input.amountMinor,
  }
  assertAccountInvariants(debit)
  assertAccountInvariants(credit)
  const transfer = newTransfer(input, { state: 'posted', pendingId: null })
  return { accounts: [debit, credit], transfer }
}

export interface ResolveResult {
  readonly accounts: readonly Account[]
  /** The hold, now resolved. */
  readonly hold: Transfer
  /** The posting made from the hold, when any. */
  readonly posting: Transfer | null
}

function releasePending(
  debit: Account,
  credit: Account,
  holdTransfer: Transfer,
): [Account, Account] {
  assert(
    debit.id === holdTransfer.debitAccountId && credit.id === holdTransfer.creditAccountId,
    'hold accounts',
  )
  assert(
    debit.debitsPendingMinor >= holdTransfer.amountMinor,
    `account ${debit.id}: pending below hold`,
  )
  assert(
    credit.creditsPendingMinor >= holdTransfer.amountMinor,
    `account ${credit.id}: pending below hold`,
  )
  return [
    { ...debit, debitsPendingMinor: debit.debitsPendingMinor - holdTransfer.amountMinor },
    { ...credit, creditsPendingMinor: credit.creditsPendingMinor - holdTransfer.amountMinor },
  ]
}

/**
 * Posts `amountMinor` (at most the held amount) of a hold and releases the rest. Posting never
 * needs more room than the hold reserved, so it cannot be refused.
 */
export function postHold(input: {
  readonly holdTransfer: Transfer
  readonly debit: Account
  readonly credit: Account
  readonly amountMinor: AmountMinor
  readonly postingId: string
  readonly transactionId: string
  readonly nowMs: number
}): ResolveResult {
  const held = input.holdTransfer
  assert(held.state === 'pending', `transfer ${held.id} is ${held.state}, not pending`)
  assert(input.amountMinor > 0 && input.amountMinor <= held.amountMinor, 'posting within the hold')
  const [released, releasedCredit] = releasePending(input.debit, input.credit, held)
  const debit: Account = {
    ...released,
    debitsPostedMinor: released.debitsPostedMinor + input.amountMinor,
  }
  const credit: Account = {
    ...releasedCredit,
    creditsPostedMinor: releasedCredit.creditsPostedMinor + input.amountMinor,
  }
  assertAccountInvariants(debit)
  assertAccountInvariants(credit)
  const resolved: Transfer = {
    ...held,
    state: 'posted',
    postedAmountMinor: input.amountMinor,
    resolvedAtMs: input.nowMs,
  }
  const posting = newTransfer(
    {
      id: input.postingId,
      transactionId: input.transactionId,
      debit,
      credit,
      amountMinor: input.amountMinor,
      nowMs: input.nowMs,
    },
    { state: 'posted', pendingId: held.id },
  )
  return { accounts: [debit, credit], hold: resolved, posting }
}

/** Releases a hold without moving money: `voided` by a void or reversal, `expired` by time. */
export function releaseHold(input: {
  readonly holdTransfer: Transfer
  readonly debit: Account
  readonly credit: Account
  readonly state: 'voided' | 'expired'
  readonly nowMs: number
}): ResolveResult {
  const held = input.holdTransfer
  assert(held.state === 'pending', `transfer ${held.id} is ${held.state}, not pending`)
  if (input.state === 'expired') {
    assert(held.expiresAtMs !== null && held.expiresAtMs <= input.nowMs, 'only a due hold expires')
  }
  const [debit, credit] = releasePending(input.debit, input.credit, held)
  assertAccountInvariants(debit)
  assertAccountInvariants(credit)
  return {
    accounts: [debit, credit],
    hold: { ...held, state: input.state, resolvedAtMs: input.nowMs },
    posting: null,
  }
}

/** Per-currency sums that must balance: every debit has its credit. */
export interface LedgerTotals {
  debitsPending: number
  creditsPending: number
  debitsPosted: number
  creditsPosted: number
}

export function ledgerTotals(accounts: Iterable<Account>): Map<string, LedgerTotals> {
  const totals = new Map<string, LedgerTotals>()
  for (const account of accounts) {
    const entry = totals.get(account.currency) ?? {
      debitsPending: 0,
      creditsPending: 0,
      debitsPosted: 0,
      creditsPosted: 0,
    }
    entry.debitsPending += account.debitsPendingMinor
    entry.creditsPending += account.creditsPendingMinor
    entry.debitsPosted += account.debitsPostedMinor
    entry.creditsPosted += account.creditsPostedMinor
    totals.set(account.currency, entry)
  }
  return totals
}

/**
 * Asserts that a set of account changes conserves money: per currency, what was debited equals
 * what was credited, pending and posted alike. `before` and `after` hold the same account ids.
 */
export function assertConservation(
  before: ReadonlyMap<string, Account>,
  after: ReadonlyMap<string, Account>,
): void {
  const delta = new Map<string, LedgerTotals>()
  for (const [id, next] of after) {
    const previous = before.get(id)
    assert(previous !== undefined, `account ${id} appeared without a previous state`)
    assert(previous.currency === next.currency, `account ${id} changed currency`)
    assertAccountInvariants(next)
    const entry = delta.get(next.currency) ?? {
      debitsPending: 0,
      creditsPending: 0,
      debitsPosted: 0,
      creditsPosted: 0,
    }
    entry.debitsPending += next.debitsPendingMinor - previous.debitsPendingMinor
    entry.creditsPending += next.creditsPendingMinor - previous.creditsPendingMinor
    entry.debitsPosted += next.debitsPostedMinor - previous.debitsPostedMinor
    entry.creditsPosted += next.creditsPostedMinor - previous.creditsPostedMinor
    delta.set(next.currency, entry)
  }
  for (const [currency, entry] of delta) {
    assert(
      entry.debitsPending === entry.creditsPending,
      `${currency}: pending debits and credits differ`,
    )
    assert(
      entry.debitsPosted === entry.creditsPosted,
      `${currency}: posted debits and credits differ`,
    )
  }
}
