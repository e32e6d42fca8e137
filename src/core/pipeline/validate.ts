import { parseExpiry, isExpired, validatePan } from '../card.js'
import type { LocalDate } from '../calendar.js'
import { AMOUNT_MINOR_MAX, findCurrency, type Currency } from '../money.js'
import type { Check } from '../model.js'
import type { BinInfo, BinTable } from '../reference/bin-table.js'
import type { NewTransactionRequest } from './requests.js'
import type { FieldError } from './result.js'

export interface Validation {
  readonly checks: Check[]
  readonly errors: FieldError[]
  readonly currency: Currency | null
  readonly bin: BinInfo | null
  readonly expired: boolean
}

/** The forms of the identifying fields, one definition for the core and every channel. */
export const FIELD_PATTERNS = Object.freeze({
  terminalId: /^[0-9A-Za-z]{8}$/,
  merchantId: /^[0-9A-Za-z]{15}$/,
  stan: /^\d{6}$/,
  transmissionTime: /^(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])([01]\d|2[0-3])[0-5]\d[0-5]\d$/,
})
const TERMINAL_ID = FIELD_PATTERNS.terminalId
const MERCHANT_ID = FIELD_PATTERNS.merchantId
const STAN = FIELD_PATTERNS.stan
const TRANSMISSION_TIME = FIELD_PATTERNS.transmissionTime

/**
 * Stage 1: message validation. Collects every failure instead of stopping at the first, so a
 * client learns all that is wrong with a request at once. An expired card is not a malformed
 * request: it is noted here and declined (and recorded) once the terminal is known.
 */
export function validateNew(
  request: NewTransactionRequest,
  bins: BinTable,
  today: LocalDate,
): Validation {
  const errors: FieldError[] = []
  const checks: Check[] = []
  const fail = (
    field: string,
    code: string,
    reason: FieldError['reason'],
    expected: string,
  ): void => {
    errors.push({ field, code, reason, expected })
  }
  if (!TERMINAL_ID.test(request.terminalId)) {
    fail(
      'terminalId',
      'terminal_id_format',
      'format_error',
      '8 letters or digits (ISO 8583 field 41)',
    )
  }
  if (!MERCHANT_ID.test(request.merchantId)) {
    fail(
      'merchantId',
      'merchant_id_format',
      'format_error',
      '15 letters or digits (ISO 8583 field 42)',
    )
  }
  if (!STAN.test(request.stan)) fail('stan', 'stan_format', 'format_error', '6 digits')
  if (request.transmissionTime !== null && !TRANSMISSION_TIME.test(request.transmissionTime)) {
    fail('transmissionTime', 'transmission_time_format', 'format_error', 'MMDDhhmmss')
  }
  const currency = findCurrency(request.currency)
  if (currency === null) {
    fail(
      'currency',
      'currency_unknown',
      'unsupported_currency',
      'an ISO 4217 code Tollgate supports, e.g. "CNY" or "156"',
    )
  }
  const amountOk =
    Number.isSafeInteger(request.amountMinor) && request.amountMinor <= AMOUNT_MINOR_MAX
  if (request.kind === 'balance_inquiry') {
    if (request.amountMinor !== 0)
      fail('amount', 'amount_not_zero', 'invalid_amount', 'no amount for a balance inquiry')
  } else if (!amountOk || request.amountMinor <= 0) {
    fail(
      'amount',
      'amount_range',
      'invalid_amount',
      'a positive amount of at most 12 digits in minor units',
    )
  }
  const pan = validatePan(request.card.pan, bins)
  if (!pan.ok) fail('card.pan', pan.error.code, 'invalid_card_number', pan.error.expected)
  const expiry = parseExpiry(request.card.expiry)
  if (expiry === null) fail('card.expiry', 'expiry_format', 'format_error', 'YYMM with month 01-12')
  const expired = expiry !== null && isExpired(expiry, today)
  checks.push({
    stage: 'validation',
    name: 'message',
    status: errors.length === 0 ? 'pass' : 'fail',
    ...(errors.length > 0 ? { reason: errors[0]?.reason ?? 'format_error' } : {}),
    evidence: { fields: errors.length === 0 ? 'all valid' : errors.map((e) => e.field).join(', ') },
  })
  checks.push({
    stage: 'validation',
    name: 'card_expiry',
    status: expiry === null ? 'skip' : expired ? 'fail' : 'pass',
    ...(expired ? { reason: 'expired_card' as const } : {}),
    evidence: {
      expiry: request.card.expiry.slice(0, 4),
      today: `${today.year}-${String(today.month).padStart(2, '0')}`,
    },
  })
  return { checks, errors, currency, bin: pan.ok ? pan.bin : null, expired }
}
