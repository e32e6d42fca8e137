import type { ReasonCode } from '../reasons/codes.js'

/**
 * An issuer's field 39 in Tollgate's reason catalogue, so that an issuer's decline is explained
 * as well as a local one. The raw code is always kept beside the reason (`upstreamResponseCode`
 * in the evidence). A code not listed here is a generic decline (`do_not_honour`), never an
 * approval: only 00 approves (and 10/11, partial and VIP approvals, are not accepted by
 * Tollgate's POS kinds, so they decline too).
 */
const ISSUER_CODES: Readonly<Record<string, ReasonCode>> = {
  '03': 'unknown_merchant',
  '04': 'card_blocked',
  '05': 'do_not_honour',
  '12': 'transaction_kind_not_supported',
  '13': 'invalid_amount',
  '14': 'card_not_found',
  '15': 'no_route_to_issuer',
  '30': 'format_error',
  '33': 'expired_card',
  '34': 'suspected_fraud',
  '41': 'card_lost',
  '43': 'card_stolen',
  '51': 'insufficient_funds',
  '54': 'expired_card',
  '55': 'incorrect_pin',
  '57': 'transaction_not_permitted',
  '58': 'transaction_not_permitted',
  '59': 'suspected_fraud',
  '61': 'card_daily_amount_limit_exceeded',
  '62': 'card_inactive',
  '65': 'card_daily_count_limit_exceeded',
  '68': 'issuer_timeout',
  '75': 'pin_tries_exceeded',
  '91': 'issuer_unavailable',
  '92': 'no_route_to_issuer',
  '94': 'duplicate_mismatch',
  '96': 'issuer_unavailable',
}

/** The reason an issuer's response code declines with, or null for an approval (00). */
export function reasonForIssuerCode(code: string): ReasonCode | null {
  if (code === '00') return null
  return ISSUER_CODES[code] ?? 'do_not_honour'
}
