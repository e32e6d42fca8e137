import { availableMinor, creditUsedMinor, ledgerBalanceMinor } from '../ledger/ledger.js'
import type { Account, Card, Check, Evidence } from '../model.js'
import type { ReasonCode } from '../reasons/codes.js'

/**
 * Stage 7, the local ledger issuer: the card is on file and usable, and the account can carry the
 * amount. In acquirer-switch mode this stage is the issuer's answer instead.
 */
export function checkCard(
  card: Card,
  expiry: string,
): { readonly check: Check; readonly reason: ReasonCode | null } {
  const evidence: Evidence = { card: card.masked, cardStatus: card.status, cardType: card.type }
  const statusReason: ReasonCode | null =
    card.status === 'active'
      ? null
      : card.status === 'lost'
        ? 'card_lost'
        : card.status === 'stolen'
          ? 'card_stolen'
          : 'card_inactive'
  if (statusReason !== null) {
    return {
      reason: statusReason,
      check: {
        stage: 'issuer',
        name: 'card_status',
        status: 'fail',
        reason: statusReason,
        evidence,
      },
    }
  }
  if (card.expiry !== expiry) {
    // The evidence does not echo either expiry: a mismatch is a hint of a guessed card.
    return {
      reason: 'expiry_mismatch',
      check: {
        stage: 'issuer',
        name: 'card_expiry_on_file',
        status: 'fail',
        reason: 'expiry_mismatch',
        evidence,
      },
    }
  }
  return { reason: null, check: { stage: 'issuer', name: 'card_status', status: 'pass', evidence } }
}

/** The evidence a funds decision shows: what the account had and what was asked. */
export function fundsEvidence(card: Card, account: Account, amountMinor: number): Evidence {
  const money = (value: number) => ({ amountMinor: value, currency: account.currency })
  if (card.type === 'credit') {
    return {
      amount: money(amountMinor),
      available: money(availableMinor(account)),
      creditLimit: money(account.creditLimitMinor),
      creditUsed: money(creditUsedMinor(account)),
      holds: money(account.debitsPendingMinor),
    }
  }
  return {
    amount: money(amountMinor),
    available: money(availableMinor(account)),
    balance: money(ledgerBalanceMinor(account)),
    holds: money(account.debitsPendingMinor),
  }
}

export function fundsReason(card: Card): ReasonCode {
  return card.type === 'credit' ? 'credit_limit_exceeded' : 'insufficient_funds'
}
