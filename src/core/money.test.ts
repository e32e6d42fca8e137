import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import {
  AMOUNT_MINOR_MAX,
  CURRENCIES,
  findCurrency,
  formatAmount,
  parseAmount,
  toAmountMinor,
} from './money.js'

function exponentOf(alpha: string): number {
  const currency = findCurrency(alpha)
  expect(currency).not.toBeNull()
  return currency?.exponent ?? -1
}

describe('parseAmount and formatAmount', () => {
  it('round-trip every amount in range for every currency', () => {
    for (const currency of CURRENCIES) {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: AMOUNT_MINOR_MAX }), (minor) => {
          const text = formatAmount(minor, currency.exponent)
          const parsed = parseAmount(text, currency.exponent)
          expect(parsed).toEqual({ ok: true, value: minor })
        }),
        { numRuns: 200 },
      )
    }
  })

  it('format then parse keeps exactly the exponent as decimals', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...CURRENCIES),
        fc.integer({ min: 0, max: AMOUNT_MINOR_MAX }),
        (currency, minor) => {
          const text = formatAmount(minor, currency.exponent)
          const fraction = text.split('.')[1] ?? ''
          expect(fraction.length).toBe(currency.exponent)
          expect(text.includes('.')).toBe(currency.exponent > 0)
        },
      ),
    )
  })

  it('parse then format returns the canonical text for inputs with all decimals', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...CURRENCIES),
        fc.stringMatching(/^[1-9]\d{0,8}$/),
        fc.stringMatching(/^\d{3}$/),
        (currency, whole, decimals) => {
          const fraction = decimals.slice(0, currency.exponent)
          const text = currency.exponent === 0 ? whole : `${whole}.${fraction}`
          const parsed = parseAmount(text, currency.exponent)
          expect(parsed.ok).toBe(true)
          if (parsed.ok) expect(formatAmount(parsed.value, currency.exponent)).toBe(text)
        },
      ),
    )
  })

  it('reads decimals as minor units without rounding', () => {
    expect(parseAmount('123.45', exponentOf('CNY'))).toEqual({ ok: true, value: 12345 })
    expect(parseAmount('0.01', exponentOf('CNY'))).toEqual({ ok: true, value: 1 })
    expect(parseAmount('7', exponentOf('CNY'))).toEqual({ ok: true, value: 700 })
    expect(parseAmount('1.5', exponentOf('CNY'))).toEqual({ ok: true, value: 150 })
    expect(parseAmount('1.234', exponentOf('KWD'))).toEqual({ ok: true, value: 1234 })
    expect(parseAmount('1000', exponentOf('JPY'))).toEqual({ ok: true, value: 1000 })
  })
})

describe('parseAmount rejects', () => {
  const cny = exponentOf('CNY')
  const jpy = exponentOf('JPY')

  it('more decimals than the currency has', () => {
    const precision = { ok: false, error: { code: 'amount_precision' } }
    expect(parseAmount('0.001', cny)).toMatchObject(precision)
    expect(parseAmount('1.5', jpy)).toMatchObject(precision)
    expect(parseAmount('1.0', jpy)).toMatchObject(precision)
  })

  it.each(['-1', '1e3', ' 1', '1 ', '', '.5', '1.', '+1', '1,000.00', '0x10', '１', 'NaN'])(
    'malformed text %j',
    (text) => {
      expect(parseAmount(text, cny)).toMatchObject({ ok: false, error: { code: 'amount_format' } })
    },
  )

  it('amounts of 13 or more minor-unit digits', () => {
    const range = { ok: false, error: { code: 'amount_range' } }
    expect(parseAmount('1000000000000', jpy)).toMatchObject(range)
    expect(parseAmount('10000000000.00', cny)).toMatchObject(range)
    expect(parseAmount('10000000000', cny)).toMatchObject(range)
    expect(parseAmount('9999999999999', jpy)).toMatchObject(range)
  })

  it('"123456789012345.67" as over range, never as a nearby wrong number', () => {
    const parsed = parseAmount('123456789012345.67', cny)
    expect(parsed).toMatchObject({ ok: false, error: { code: 'amount_range' } })
    if (!parsed.ok) expect(parsed.error.expected).toContain('9999999999.99')
  })

  it('every error says what was expected', () => {
    for (const text of ['-1', '0.001', '10000000000.00']) {
      const parsed = parseAmount(text, cny)
      expect(parsed.ok).toBe(false)
      if (!parsed.ok) expect(parsed.error.expected.length).toBeGreaterThan(0)
    }
  })
})

describe('parseAmount accepts the boundary', () => {
  it('the largest n12 amount in each exponent', () => {
    expect(parseAmount('999999999999', exponentOf('JPY'))).toEqual({
      ok: true,
      value: AMOUNT_MINOR_MAX,
    })
    expect(parseAmount('9999999999.99', exponentOf('CNY'))).toEqual({
      ok: true,
      value: AMOUNT_MINOR_MAX,
    })
    expect(parseAmount('999999999.999', exponentOf('KWD'))).toEqual({
      ok: true,
      value: AMOUNT_MINOR_MAX,
    })
  })

  it('zero and leading zeros', () => {
    expect(parseAmount('0', exponentOf('CNY'))).toEqual({ ok: true, value: 0 })
    expect(parseAmount('0.00', exponentOf('CNY'))).toEqual({ ok: true, value: 0 })
    expect(parseAmount('000000000001.00', exponentOf('CNY'))).toEqual({ ok: true, value: 100 })
  })
})

describe('formatAmount', () => {
  it('formats negatives with the sign before the whole part', () => {
    expect(formatAmount(-12345, 2)).toBe('-123.45')
    expect(formatAmount(-5, 2)).toBe('-0.05')
    expect(formatAmount(-7, 0)).toBe('-7')
    expect(formatAmount(-1, 3)).toBe('-0.001')
  })

  it('pads small amounts and keeps zero unsigned', () => {
    expect(formatAmount(0, 2)).toBe('0.00')
    expect(formatAmount(0, 0)).toBe('0')
    expect(formatAmount(1, 2)).toBe('0.01')
    expect(formatAmount(toAmountMinor(AMOUNT_MINOR_MAX), 2)).toBe('9999999999.99')
  })

  it('negation only adds the sign', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 0, max: 3 }),
        (minor, exponent) => {
          expect(formatAmount(-minor, exponent)).toBe(`-${formatAmount(minor, exponent)}`)
        },
      ),
    )
  })

  it('refuses a non-integer amount', () => {
    expect(() => formatAmount(1.5, 2)).toThrow()
    expect(() => formatAmount(Number.MAX_SAFE_INTEGER + 1, 2)).toThrow()
  })
})
