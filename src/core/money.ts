import { assert } from './assert.js'

/**
 * Money is an integer number of minor units (fen for CNY). `number` is used, asserted to be a
 * safe integer at every boundary; a single amount fits ISO 8583 field 4 (n12).
 */
export type AmountMinor = number & { readonly brand: 'AmountMinor' }

/** The largest amount one transaction may carry: 12 decimal digits (ISO 8583 field 4, n12). */
export const AMOUNT_MINOR_MAX = 999_999_999_999
/** The largest balance or limit an account may hold; sums of n12 amounts stay safe integers. */
export const BALANCE_MINOR_MAX = 999_999_999_999_999
assert(Number.isSafeInteger(BALANCE_MINOR_MAX * 4), 'balance sums must stay safe integers')
assert(BALANCE_MINOR_MAX > AMOUNT_MINOR_MAX, 'a balance must hold at least one amount')

export interface Currency {
  readonly alpha: string
  readonly numeric: string
  readonly exponent: number
  readonly nameEn: string
  readonly nameZh: string
}

/** ISO 4217, the currencies Tollgate accepts. CNY first: the home currency. */
export const CURRENCIES: readonly Currency[] = Object.freeze(
  [
    { alpha: 'CNY', numeric: '156', exponent: 2, nameEn: 'Chinese yuan', nameZh: '人民币' },
    { alpha: 'HKD', numeric: '344', exponent: 2, nameEn: 'Hong Kong dollar', nameZh: '港币' },
    { alpha: 'MOP', numeric: '446', exponent: 2, nameEn: 'Macanese pataca', nameZh: '澳门元' },
    { alpha: 'TWD', numeric: '901', exponent: 2, nameEn: 'New Taiwan dollar', nameZh: '新台币' },
    { alpha: 'USD', numeric: '840', exponent: 2, nameEn: 'US dollar', nameZh: '美元' },
    { alpha: 'EUR', numeric: '978', exponent: 2, nameEn: 'Euro', nameZh: '欧元' },
    { alpha: 'GBP', numeric: '826', exponent: 2, nameEn: 'Pound sterling', nameZh: '英镑' },
    { alpha: 'JPY', numeric: '392', exponent: 0, nameEn: 'Japanese yen', nameZh: '日元' },
    { alpha: 'KRW', numeric: '410', exponent: 0, nameEn: 'South Korean won', nameZh: '韩元' },
    { alpha: 'SGD', numeric: '702', exponent: 2, nameEn: 'Singapore dollar', nameZh: '新加坡元' },
    {
      alpha: 'AUD',
      numeric: '036',
      exponent: 2,
      nameEn: 'Australian dollar',
      nameZh: '澳大利亚元',
    },
    { alpha: 'CAD', numeric: '124', exponent: 2, nameEn: 'Canadian dollar', nameZh: '加拿大元' },
    { alpha: 'CHF', numeric: '756', exponent: 2, nameEn: 'Swiss franc', nameZh: '瑞士法郎' },
    { alpha: 'THB', numeric: '764', exponent: 2, nameEn: 'Thai baht', nameZh: '泰铢' },
    { alpha: 'KWD', numeric: '414', exponent: 3, nameEn: 'Kuwaiti dinar', nameZh: '科威特第纳尔' },
  ].map((c) => Object.freeze(c)),
)

const BY_CODE = new Map<string, Currency>()
for (const currency of CURRENCIES) {
  assert(!BY_CODE.has(currency.alpha) && !BY_CODE.has(currency.numeric), 'currency codes unique')
  assert(currency.exponent >= 0 && currency.exponent <= 3, 'currency exponent in 0..3')
  BY_CODE.set(currency.alpha, currency)
  BY_CODE.set(currency.numeric, currency)
}

/** Looks a currency up by its alpha ("CNY") or numeric ("156") ISO 4217 code. */
export function findCurrency(code: string): Currency | null {
  return BY_CODE.get(code.toUpperCase()) ?? null
}

export function isAmountMinor(value: unknown): value is AmountMinor {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

export function toAmountMinor(value: number): AmountMinor {
  assert(
    Number.isSafeInteger(value) && value >= 0,
    `amount ${value} is not a safe non-negative integer`,
  )
  return value as AmountMinor
}

export type AmountParseError =
  | { readonly code: 'amount_format'; readonly expected: string }
  | { readonly code: 'amount_precision'; readonly expected: string }
  | { readonly code: 'amount_range'; readonly expected: string }

/**
 * Parses a decimal string in major units ("123.45") into minor units. Never rounds: more
 * fraction digits than the currency's exponent is an error, not a rounding.
 *
 * @example parseAmount('123.45', 2) // { ok: true, value: 12345 }
 */
export function parseAmount(
  text: string,
  exponent: number,
): { ok: true; value: AmountMinor } | { ok: false; error: AmountParseError } {
  assert(Number.isInteger(exponent) && exponent >= 0 && exponent <= 3, 'exponent in 0..3')
  const expected =
    exponent === 0
      ? 'digits, e.g. "1000"'
      : `digits with up to ${exponent} decimals, e.g. "12.${'3'.repeat(exponent)}"`
  const match = /^(\d{1,15})(?:\.(\d{1,15}))?$/.exec(text)
  if (match === null) return { ok: false, error: { code: 'amount_format', expected } }
  const fraction = match[2] ?? ''
  if (fraction.length > exponent)
    return { ok: false, error: { code: 'amount_precision', expected } }
  const digits = (match[1] ?? '') + fraction.padEnd(exponent, '0')
  const trimmed = digits.replace(/^0+(?=\d)/, '')
  if (trimmed.length > 12) {
    return {
      ok: false,
      error: {
        code: 'amount_range',
        expected: `at most ${formatAmount(toAmountMinor(AMOUNT_MINOR_MAX), exponent)}`,
      },
    }
  }
  const minor = Number(trimmed)
  assert(Number.isSafeInteger(minor) && minor <= AMOUNT_MINOR_MAX, 'parsed amount within n12')
  return { ok: true, value: minor as AmountMinor }
}

/**
 * Formats minor units as a decimal string in major units with exactly `exponent` decimals.
 * Works on any safe integer, negative included (balances can be shown as negative).
 */
export function formatAmount(minor: number, exponent: number): string {
  assert(Number.isSafeInteger(minor), `amount ${minor} is not a safe integer`)
  assert(Number.isInteger(exponent) && exponent >= 0 && exponent <= 3, 'exponent in 0..3')
  const negative = minor < 0
  const digits = String(Math.abs(minor)).padStart(exponent + 1, '0')
  const whole = digits.slice(0, digits.length - exponent)
  const fraction = digits.slice(digits.length - exponent)
  const text = exponent === 0 ? whole : `${whole}.${fraction}`
  return negative ? `-${text}` : text
}

/** Formats with the currency's own exponent: `formatMoney(12345, 'CNY') === '123.45'`. */
export function formatMoney(minor: number, currencyAlpha: string): string {
  const currency = findCurrency(currencyAlpha)
  assert(currency !== null, `unknown currency ${currencyAlpha}`)
  return formatAmount(minor, currency.exponent)
}
