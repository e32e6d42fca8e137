import type { Check, Merchant, NewTransactionKind, Terminal, CardType } from '../model.js'
import type { ReasonCode } from '../reasons/codes.js'
import { mccPermitted } from './mcc-rules.js'

export type StageResult =
  | { readonly ok: true; readonly check: Check }
  | { readonly ok: false; readonly check: Check; readonly reason: ReasonCode }

function failed(check: Omit<Check, 'status'>, reason: ReasonCode): StageResult {
  return { ok: false, reason, check: { ...check, status: 'fail', reason } }
}

/**
 * Stage 3: acceptance — the terminal is ours, active and bound to the merchant; the merchant has
 * passed audit and may sell; the merchant's category is allowed for the card product.
 */
export function checkAcceptance(input: {
  readonly kind: NewTransactionKind
  readonly terminal: Terminal
  readonly merchant: Merchant
  readonly cardType: CardType
}): StageResult[] {
  const { terminal, merchant } = input
  const results: StageResult[] = []
  const bindingEvidence = {
    terminalId: terminal.id,
    boundMerchantId: terminal.merchantId,
    merchantId: merchant.id,
  }
  results.push(
    terminal.merchantId === merchant.id
      ? {
          ok: true,
          check: {
            stage: 'acceptance',
            name: 'terminal_binding',
            status: 'pass',
            evidence: bindingEvidence,
          },
        }
      : failed(
          { stage: 'acceptance', name: 'terminal_binding', evidence: bindingEvidence },
          'terminal_merchant_mismatch',
        ),
  )
  const terminalEvidence = { terminalId: terminal.id, terminalStatus: terminal.status }
  results.push(
    terminal.status === 'active'
      ? {
          ok: true,
          check: {
            stage: 'acceptance',
            name: 'terminal_status',
            status: 'pass',
            evidence: terminalEvidence,
          },
        }
      : failed(
          { stage: 'acceptance', name: 'terminal_status', evidence: terminalEvidence },
          'terminal_inactive',
        ),
  )
  const merchantEvidence = {
    merchantId: merchant.id,
    merchantName: merchant.name,
    merchantStatus: merchant.status,
  }
  const merchantReason = merchantStatusReason(merchant, input.kind)
  results.push(
    merchantReason === null
      ? {
          ok: true,
          check: {
            stage: 'acceptance',
            name: 'merchant_status',
            status: 'pass',
            evidence: merchantEvidence,
          },
        }
      : failed(
          { stage: 'acceptance', name: 'merchant_status', evidence: merchantEvidence },
          merchantReason,
        ),
  )
  const mccEvidence = { mcc: merchant.mcc, cardType: input.cardType }
  results.push(
    input.kind === 'balance_inquiry' || mccPermitted(input.cardType, merchant.mcc)
      ? {
          ok: true,
          check: {
            stage: 'acceptance',
            name: 'card_product_at_mcc',
            status: 'pass',
            evidence: mccEvidence,
          },
        }
      : failed(
          { stage: 'acceptance', name: 'card_product_at_mcc', evidence: mccEvidence },
          'card_not_permitted_at_merchant',
        ),
  )
  return results
}

/** A restricted merchant may still answer inquiries and undo or refund sales, not make new ones. */
function merchantStatusReason(merchant: Merchant, kind: NewTransactionKind): ReasonCode | null {
  switch (merchant.status) {
    case 'approved':
      return null
    case 'pending_audit':
      return 'merchant_pending_audit'
    case 'suspended':
      return 'merchant_suspended'
    case 'restricted':
      return kind === 'balance_inquiry' ? null : 'merchant_restricted'
  }
}
