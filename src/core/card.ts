import { assert } from './assert.js'
import type { BinInfo, BinTable } from './reference/bin-table.js'
import { CARD_LENGTH_MAX, CARD_LENGTH_MIN } from './reference/bin-table.js'

/** Card numbers (PANs) have 13 to 19 digits (ISO/IEC 7812). */
export const PAN_DIGITS_MIN = CARD_LENGTH_MIN
export const PAN_DIGITS_MAX = CARD_LENGTH_MAX
/** The masked form shows the first 6 and the last 4 digits, nothing in between. */
const MASK_HEAD_DIGITS = 6
const MASK_TAIL_DIGITS = 4
assert(MASK_HEAD_DIGITS + MASK_TAIL_DIGITS < PAN_DIGITS_MIN, 'a mask always hides some digits')

const PAN_PATTERN = /^\d{13,19}$/

/**
 * True when a digit string passes the Luhn (mod 10) check. Anything that is not a non-empty
 * string of ASCII digits is not valid.
 *
 * @example luhnValid('6226097806938388') // true
 */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false
  return luhnSum(digits, false) % 10 === 0
}

/**
 * Where a text holds something that looks like a card number: a run of 13–19 digits (spaces or
 * dashes between digit groups allowed, as people paste them) that passes the Luhn check and
 * starts with a BIN the table knows. Used to keep card numbers out of notes, list values, ids and
 * other free text that would be stored in clear. Null when there is none.
 */
export function findCardNumber(
  text: string,
  bins: { lookup(pan: string): unknown },
): { readonly offset: number } | null {
  const runs = /\d(?:[ -]?\d){12,}/g
  for (let match = runs.exec(text); match !== null; match = runs.exec(text)) {
    const digits = match[0].replace(/[ -]/g, '')
    // Every 13–19-digit window: a card number inside a longer run of digits counts too.
    for (let length = 13; length <= Math.min(19, digits.length); length += 1) {
      for (let start = 0; start + length <= digits.length; start += 1) {
        const candidate = digits.slice(start, start + length)
        if (luhnValid(candidate) && bins.lookup(candidate) !== null) return { offset: match.index }
      }
    }
  }
  return null
}

/**
 * The check digit that makes `partial + digit` pass the Luhn check.
 *
 * @example luhnCheckDigit('622609780693838') // '8'
 */
export function luhnCheckDigit(partial: string): string {
  assert(/^\d*$/.test(partial), 'Luhn payload must be ASCII digits')
  const digit = String((10 - (luhnSum(partial, true) % 10)) % 10)
  assert(/^\d$/.test(digit), 'check digit is one digit')
  return digit
}

/**
 * Luhn sum from the right. `doubleFirst` says whether the rightmost digit is doubled: it is
 * when computing a check digit that will be appended after it.
 */
function luhnSum(digits: string, doubleFirst: boolean): number {
  let sum = 0
  let double = doubleFirst
  for (let index = digits.length - 1; index >= 0; index -= 1) {
    const value = digits.charCodeAt(index) - 48
    assert(value >= 0 && value <= 9, 'Luhn input is digits')
    const added = double ? value * 2 : value
    sum += added > 9 ? added - 9 : added
    double = !double
  }
  return sum
}

/**
 * The masked card number: first 6 digits, one '*' per hidden digit, last 4 digits. Input that
 * is not a 13–19 digit number is masked entirely, so that a malformed number reaching a log or
 * an error can never leak through the mask.
 *
 * @example maskPan('6228480402564890018') // '622848*********0018'
 */
export function maskPan(pan: string): string {
  if (!PAN_PATTERN.test(pan)) return '*'.repeat(Math.min(pan.length, PAN_DIGITS_MAX))
  const hidden = pan.length - MASK_HEAD_DIGITS - MASK_TAIL_DIGITS
  const masked =
    pan.slice(0, MASK_HEAD_DIGITS) + '*'.repeat(hidden) + pan.slice(pan.length - MASK_TAIL_DIGITS)
  assert(masked.length === pan.length, 'mask keeps the length')
  return masked
}

/** The last four digits of a card number that has already passed format validation. */
export function panLast4(pan: string): string {
  assert(PAN_PATTERN.test(pan), 'panLast4 takes a validated card number')
  return pan.slice(pan.length - MASK_TAIL_DIGITS)
}

export type PanErrorCode = 'pan_format' | 'pan_length' | 'pan_luhn'

/** A card number error. It says what was expected and never contains the number itself. */
export interface PanError {
  readonly code: PanErrorCode
  readonly expected: string
}

export type PanValidation =
  | { readonly ok: true; readonly bin: BinInfo | null }
  | { readonly ok: false; readonly error: PanError }

/**
 * Checks a card number: digits only and 13–19 long (`pan_format`); when its BIN is known, as
 * long as the BIN's cards are (`pan_length`); and the Luhn check digit (`pan_luhn`). An
 * unknown BIN is not an error here: `bin` is null and routing decides.
 *
 * @example validatePan('6226097806938388', bins) // { ok: true, bin: { bankCode: 'CMB', ... } }
 */
export function validatePan(pan: string, bins: BinTable): PanValidation {
  if (!PAN_PATTERN.test(pan)) {
    const expected = `${PAN_DIGITS_MIN} to ${PAN_DIGITS_MAX} digits, nothing else`
    return { ok: false, error: { code: 'pan_format', expected } }
  }
  const bin = bins.lookup(pan)
  if (bin !== null && bin.cardLength !== pan.length) {
    const expected = `${bin.cardLength} digits for this BIN (bank ${bin.bankCode})`
    return { ok: false, error: { code: 'pan_length', expected } }
  }
  if (!luhnValid(pan)) {
    const expected = 'a card number whose last digit is its Luhn check digit'
    return { ok: false, error: { code: 'pan_luhn', expected } }
  }
  assert(bin === null || pan.startsWith(bin.bin), 'the BIN found is a prefix of the number')
  return { ok: true, bin }
}

/** A card's expiry month. */
export interface CardExpiry {
  readonly year: number
  readonly month: number
}

/** A calendar month in the terminal's or the acquirer's local time. */
export interface LocalMonth {
  readonly year: number
  readonly month: number
}

/**
 * Parses an expiry date as carried in ISO 8583 field 14 and track 2: 'YYMM', years 2000–2099.
 * Returns null for anything else, including month 00 or 13.
 *
 * @example parseExpiry('2912') // { year: 2029, month: 12 }
 */
export function parseExpiry(text: string): CardExpiry | null {
  const match = /^(\d{2})(\d{2})$/.exec(text)
  if (match === null) return null
  const year = 2000 + Number(match[1])
  const month = Number(match[2])
  if (month < 1 || month > 12) return null
  assert(Number.isInteger(year) && year >= 2000 && year <= 2099, 'expiry year in 2000..2099')
  return { year, month }
}

/**
 * True when the card has expired on `localDate`. A card is valid through the last day of its
 * expiry month: expiry 2912 still works on 31 December 2029 and fails from 1 January 2030.
 */
export function isExpired(expiry: CardExpiry, localDate: LocalMonth): boolean {
  assertMonth(expiry, 'expiry')
  assertMonth(localDate, 'local date')
  if (localDate.year !== expiry.year) return localDate.year > expiry.year
  return localDate.month > expiry.month
}

function assertMonth(value: LocalMonth, what: string): void {
  assert(Number.isSafeInteger(value.year) && value.year >= 0, `${what} year is an integer`)
  assert(
    Number.isInteger(value.month) && value.month >= 1 && value.month <= 12,
    `${what} month in 1..12`,
  )
}
