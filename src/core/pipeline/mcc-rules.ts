import type { CardType } from '../model.js'

/**
 * Merchant categories a card product may not be used at. Credit cards are kept away from
 * cash-like categories, the classic cash-out (套现) channels; gambling is not accepted for any
 * card in mainland China.
 */
export const MCC_NOT_PERMITTED: Readonly<Record<CardType, ReadonlySet<string>>> = Object.freeze({
  credit: new Set(['4829', '6010', '6011', '6051', '6211', '7995']),
  debit: new Set(['7995']),
})

export function mccPermitted(cardType: CardType, mcc: string): boolean {
  return !MCC_NOT_PERMITTED[cardType].has(mcc)
}
