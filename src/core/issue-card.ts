import { assert } from './assert.js'
import { maskPan, panLast4 } from './card.js'
import type { Account, Card, CardStatus, CardType } from './model.js'
import type { BinInfo } from './reference/bin-table.js'

/**
 * The records for a newly issued card: the card (token and masked form only) and its account.
 * A debit card's amount is its opening balance, to be posted from the funding account; a credit
 * card's amount is its credit limit, the bound of its account.
 */
export function issueCard(input: {
  readonly pan: string
  readonly expiry: string
  readonly type: CardType
  readonly status: CardStatus
  readonly amountMinor: number
  readonly currency: string
  readonly token: string
  readonly accountId: string
  readonly bin: BinInfo | null
  readonly nowMs: number
}): { readonly card: Card; readonly account: Account; readonly openingBalanceMinor: number } {
  assert(
    Number.isSafeInteger(input.amountMinor) && input.amountMinor >= 0,
    'opening amount is a non-negative integer',
  )
  assert(input.token !== input.pan, 'a card is kept by token, never by number')
  const card: Card = {
    token: input.token,
    masked: maskPan(input.pan),
    bin: input.bin?.bin ?? input.pan.slice(0, 6),
    last4: panLast4(input.pan),
    expiry: input.expiry,
    type: input.type,
    status: input.status,
    accountId: input.accountId,
    issuerBank: input.bin?.bankName ?? null,
    createdAtMs: input.nowMs,
    updatedAtMs: input.nowMs,
  }
  const account: Account = {
    id: input.accountId,
    kind: 'cardholder',
    currency: input.currency,
    creditLimitMinor: input.type === 'credit' ? input.amountMinor : 0,
    debitsPendingMinor: 0,
    debitsPostedMinor: 0,
    creditsPendingMinor: 0,
    creditsPostedMinor: 0,
  }
  return { card, account, openingBalanceMinor: input.type === 'debit' ? input.amountMinor : 0 }
}
