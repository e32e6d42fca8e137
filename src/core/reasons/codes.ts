/**
 * Every reason Tollgate can give for a decline, one stable machine code each. The catalogue
 * (catalogue.ts) holds the text, codes and remediation for each; this list is the contract.
 */
export const REASON_CODES = [
  // network: links, hosts, capacity
  'system_busy',
  'issuer_unavailable',
  'issuer_timeout',
  'issuer_maintenance',
  'no_route_to_issuer',
  'cutoff_in_progress',
  // funds
  'insufficient_funds',
  'credit_limit_exceeded',
  // data: the request is wrong
  'format_error',
  'invalid_amount',
  'invalid_card_number',
  'unsupported_currency',
  'currency_mismatch',
  'transaction_kind_not_supported',
  'original_not_found',
  'original_not_eligible',
  'original_amount_exceeded',
  'void_window_closed',
  'duplicate_mismatch',
  // card
  'card_not_found',
  'expired_card',
  'expiry_mismatch',
  'card_inactive',
  'card_lost',
  'card_stolen',
  'card_not_permitted_at_merchant',
  // merchant and terminal
  'unknown_merchant',
  'merchant_pending_audit',
  'merchant_restricted',
  'merchant_suspended',
  'unknown_terminal',
  'terminal_inactive',
  'terminal_merchant_mismatch',
  // limit
  'transaction_amount_limit_exceeded',
  'card_daily_amount_limit_exceeded',
  'card_daily_count_limit_exceeded',
  'merchant_daily_amount_limit_exceeded',
  'merchant_daily_count_limit_exceeded',
  'terminal_daily_amount_limit_exceeded',
  'terminal_daily_count_limit_exceeded',
  // risk
  'card_blocked',
  'bin_blocked',
  'merchant_blocked',
  'terminal_blocked',
  'suspected_fraud',
  'do_not_honour',
  'transaction_not_permitted',
  // security
  'incorrect_pin',
  'pin_tries_exceeded',
  'mac_verification_failed',
  // system
  'system_error',
] as const

export type ReasonCode = (typeof REASON_CODES)[number]

export const REASON_FAMILIES = [
  'network',
  'funds',
  'data',
  'limit',
  'risk',
  'merchant',
  'card',
  'security',
  'system',
] as const

export type ReasonFamily = (typeof REASON_FAMILIES)[number]

export function isReasonCode(value: string): value is ReasonCode {
  return (REASON_CODES as readonly string[]).includes(value)
}
