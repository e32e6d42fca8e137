import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { SHARED_DATA_DIR } from '../../test/support/paths.js'
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { parseCsv } from '../adapters/reference/csv.js'
import {
  findCardNumber,
  isExpired,
  luhnCheckDigit,
  luhnValid,
  maskPan,
  panLast4,
  parseExpiry,
  validatePan,
} from './card.js'
import type { BinInfo } from './reference/bin-table.js'
import { createBinTable } from './reference/bin-table.js'

// The shared test vectors of the project (not part of the product's reference data).
const VECTORS_FILE = join(SHARED_DATA_DIR, 'validation-test-vectors.csv')

interface Vector {
  readonly kind: string
  readonly value: string
  readonly expected: string
}

function readVectors(): Vector[] {
  const parsed = parseCsv(readFileSync(VECTORS_FILE, 'utf8'))
  if (!parsed.ok) throw new Error(`${VECTORS_FILE}:${parsed.error.line}: ${parsed.error.code}`)
  const [header, ...records] = parsed.records
  expect(header?.fields.slice(0, 3)).toEqual(['kind', 'value', 'expected'])
  return records.map((record) => {
    const [kind = '', value = '', expected = ''] = record.fields
    return { kind, value, expected }
  })
}

const panDigits = (min: number, max: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max })

/** A Luhn-valid card number of the given length range. */
const validPan = (min = 13, max = 19): fc.Arbitrary<string> =>
  panDigits(min - 1, max - 1).map((partial) => partial + luhnCheckDigit(partial))

describe('Luhn', () => {
  const vectors = readVectors()

  it('agrees with the luhn rows of the shared test vectors', () => {
    const pans = vectors.filter((vector) => vector.kind === 'pan')
    expect(pans.length).toBeGreaterThanOrEqual(2)
    for (const vector of pans) {
      expect(['valid_luhn', 'invalid_luhn']).toContain(vector.expected)
      expect(luhnValid(vector.value)).toBe(vector.expected === 'valid_luhn')
    }
  })

  it('agrees with the licence rows (Luhn over "8" + the digits after Z)', () => {
    const licences = vectors.filter((vector) => vector.kind === 'pboc_license')
    expect(licences.length).toBeGreaterThanOrEqual(2)
    for (const vector of licences) {
      const digits = `8${vector.value.slice(1)}`
      expect(luhnValid(digits)).toBe(vector.expected === 'valid_format')
    }
  })

  it('knows textbook numbers', () => {
    expect(luhnValid('79927398713')).toBe(true)
    expect(luhnValid('79927398710')).toBe(false)
    expect(luhnCheckDigit('7992739871')).toBe('3')
    expect(luhnCheckDigit('622609780693838')).toBe('8')
    expect(luhnCheckDigit('')).toBe('0')
  })

  it('is false for anything but digits', () => {
    for (const text of ['', ' 79927398713', '7992739871x', '7992-7398-713', '٧٩']) {
      expect(luhnValid(text)).toBe(false)
    }
  })

  it('the check digit always makes the number valid', () => {
    fc.assert(
      fc.property(panDigits(0, 30), (partial) => {
        const digit = luhnCheckDigit(partial)
        expect(digit).toMatch(/^\d$/)
        expect(luhnValid(partial + digit)).toBe(true)
      }),
    )
  })

  it('changing any single digit breaks the check', () => {
    fc.assert(
      fc.property(
        validPan(2, 30),
        fc.nat(),
        fc.integer({ min: 1, max: 9 }),
        (pan, position, delta) => {
          const index = position % pan.length
          const digit = (Number(pan[index]) + delta) % 10
          const changed = pan.slice(0, index) + String(digit) + pan.slice(index + 1)
          expect(changed).not.toBe(pan)
          expect(luhnValid(changed)).toBe(false)
        },
      ),
    )
  })
})

describe('maskPan and panLast4', () => {
  it('shows the first 6 and the last 4 digits', () => {
    expect(maskPan('6228480402561234')).toBe('622848******1234')
    expect(maskPan('6228480402564890018')).toBe('622848*********0018')
    expect(maskPan('4111111111111')).toBe('411111***1111')
    expect(panLast4('6228480402561234')).toBe('1234')
  })

  it('never reveals digits 7 to n-4', () => {
    fc.assert(
      fc.property(panDigits(13, 19), (pan) => {
        const masked = maskPan(pan)
        expect(masked.length).toBe(pan.length)
        expect(masked.slice(0, 6)).toBe(pan.slice(0, 6))
        expect(masked.slice(-4)).toBe(pan.slice(-4))
        expect(masked.slice(6, -4)).toMatch(/^\*+$/)
        expect(masked.slice(6, -4).length).toBe(pan.length - 10)
      }),
    )
  })

  it('masks malformed input entirely', () => {
    expect(maskPan('622848040256')).toBe('************')
    expect(maskPan('6228 4804 0256 1234')).toMatch(/^\*+$/)
    expect(maskPan('6'.repeat(40))).toBe('*'.repeat(19))
    expect(maskPan('')).toBe('')
  })

  it('panLast4 refuses an unvalidated number', () => {
    expect(() => panLast4('1234')).toThrow()
  })
})

describe('validatePan', () => {
  const bin = (fields: Partial<BinInfo> & Pick<BinInfo, 'bin' | 'cardLength'>): BinInfo => ({
    bankCode: 'CMB',
    bankName: '招商银行',
    kind: 'DC',
    cardType: 'debit',
    ...fields,
  })
  const bins = createBinTable([
    bin({ bin: '622609', cardLength: 16 }),
    bin({ bin: '622848', bankCode: 'ABC', bankName: '中国农业银行', cardLength: 19 }),
  ])
  const cmbPan = '6226097806938388'

  it('accepts a valid number and finds its BIN', () => {
    const result = validatePan(cmbPan, bins)
    expect(result).toMatchObject({ ok: true, bin: { bin: '622609', bankCode: 'CMB' } })
  })

  it('accepts a valid number of an unknown BIN with a null bin', () => {
    const pan = '411111111111111' + luhnCheckDigit('411111111111111')
    expect(validatePan(pan, bins)).toEqual({ ok: true, bin: null })
  })

  it.each([
    ['letters', '62260978069383A8'],
    ['spaces', '6226 0978 0693 8388'],
    ['too short', '622609780693'],
    ['too long', '62260978069383880000'],
    ['empty', ''],
    ['sign', '-6226097806938388'],
  ])('pan_format: %s', (_name, pan) => {
    const result = validatePan(pan, bins)
    expect(result).toMatchObject({ ok: false, error: { code: 'pan_format' } })
  })

  it('pan_length: a known BIN with the wrong card length', () => {
    const partial = '62260978069383881'
    const pan = partial + luhnCheckDigit(partial)
    const result = validatePan(pan, bins)
    expect(result).toMatchObject({ ok: false, error: { code: 'pan_length' } })
    if (!result.ok) expect(result.error.expected).toContain('16 digits')
  })

  it('pan_luhn: a wrong check digit', () => {
    const result = validatePan('6226097806938389', bins)
    expect(result).toMatchObject({ ok: false, error: { code: 'pan_luhn' } })
  })

  it('errors never contain the number or its hidden digits', () => {
    const partial = '62284804025648900'
    const badLength = partial + luhnCheckDigit(partial)
    const cases = ['6226097806938389', badLength, '6226097806938388X']
    for (const pan of cases) {
      const result = validatePan(pan, bins)
      expect(result.ok).toBe(false)
      const text = JSON.stringify(result)
      expect(text).not.toContain(pan)
      expect(text).not.toContain(pan.slice(6, -4))
    }
  })
})

describe('expiry', () => {
  it('parses YYMM', () => {
    expect(parseExpiry('2912')).toEqual({ year: 2029, month: 12 })
    expect(parseExpiry('0001')).toEqual({ year: 2000, month: 1 })
    expect(parseExpiry('9905')).toEqual({ year: 2099, month: 5 })
  })

  it.each(['2900', '2913', '291', '29123', '29-1', '', 'ab12', ' 2912'])('rejects %j', (text) => {
    expect(parseExpiry(text)).toBeNull()
  })

  it('is valid through the end of the expiry month', () => {
    const expiry = { year: 2029, month: 12 }
    expect(isExpired(expiry, { year: 2029, month: 11 })).toBe(false)
    expect(isExpired(expiry, { year: 2029, month: 12 })).toBe(false)
    expect(isExpired(expiry, { year: 2030, month: 1 })).toBe(true)
    expect(isExpired(expiry, { year: 2028, month: 12 })).toBe(false)
    expect(isExpired({ year: 2026, month: 3 }, { year: 2026, month: 4 })).toBe(true)
    expect(isExpired({ year: 2026, month: 3 }, { year: 2026, month: 3 })).toBe(false)
  })

  it('agrees with month ordering for any two months', () => {
    const month = fc.record({
      year: fc.integer({ min: 2000, max: 2099 }),
      month: fc.integer({ min: 1, max: 12 }),
    })
    fc.assert(
      fc.property(month, month, (expiry, today) => {
        const ordinal = (m: { year: number; month: number }): number => m.year * 12 + m.month
        expect(isExpired(expiry, today)).toBe(ordinal(today) > ordinal(expiry))
      }),
    )
  })

  it('refuses an impossible month as a bug', () => {
    expect(() => isExpired({ year: 2029, month: 13 }, { year: 2029, month: 1 })).toThrow()
  })
})

describe('findCardNumber (card numbers kept out of free text)', () => {
  const bins = createBinTable([
    {
      bin: '622609',
      bankCode: 'CMB',
      bankName: '招商银行',
      kind: 'DC',
      cardType: 'debit',
      cardLength: 16,
    },
  ])
  const pan = '6226097806938388'

  it('finds a card number however it is written in a text', () => {
    expect(findCardNumber(pan, bins)).toEqual({ offset: 0 })
    expect(findCardNumber(`stolen card ${pan}, call the bank`, bins)).toEqual({ offset: 12 })
    expect(findCardNumber('6226 0978 0693 8388', bins)).not.toBeNull()
    expect(findCardNumber('6226-0978-0693-8388', bins)).not.toBeNull()
    expect(findCardNumber(`ref 99${pan}77`, bins)).not.toBeNull()
  })

  it('leaves ids, tokens, amounts and dates alone', () => {
    for (const text of [
      '898310058120001', // a merchant id: no card BIN
      'tok_05cc484043c40cfc807e971bf9daf0d6',
      '6226097806938389', // fails the Luhn check
      '622609780693', // too short
      '2026-11-26 12:00, 100000.00 CNY',
      '',
    ])
      expect(findCardNumber(text, bins), text).toBeNull()
  })
})
