import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import {
  REFERENCE_DIR_DEFAULT,
  loadReferenceData,
} from '../../adapters/reference/load-reference.js'
import { luhnCheckDigit, validatePan } from '../card.js'
import type { BinInfo, BinKind } from './bin-table.js'
import { cardTypeOfKind, createBinTable } from './bin-table.js'

function row(bin: string, cardLength: number, bankCode = 'TEST', kind: BinKind = 'DC'): BinInfo {
  const cardType = cardTypeOfKind(kind)
  return { bin, bankCode, bankName: `${bankCode} bank`, kind, cardType, cardLength }
}

/** A card number of `length` digits starting with `prefix`, padded with a digit. */
function pan(prefix: string, length: number, fill = '0'): string {
  return prefix + fill.repeat(length - prefix.length)
}

describe('createBinTable', () => {
  it('maps kinds to card types', () => {
    expect(cardTypeOfKind('DC')).toBe('debit')
    expect(cardTypeOfKind('PC')).toBe('debit')
    expect(cardTypeOfKind('CC')).toBe('credit')
    expect(cardTypeOfKind('SCC')).toBe('credit')
  })

  it('takes the longest prefix', () => {
    const table = createBinTable([
      row('955', 19, 'SHORT'),
      row('9558', 19, 'MID'),
      row('95588', 19, 'LONG'),
      row('9558812345', 19, 'TEN'),
    ])
    expect(table.size).toBe(4)
    expect(table.lookup(pan('95588', 19))?.bankCode).toBe('LONG')
    expect(table.lookup(pan('95587', 19))?.bankCode).toBe('MID')
    expect(table.lookup(pan('9559', 19))?.bankCode).toBe('SHORT')
    expect(table.lookup(pan('9558812345', 19))?.bankCode).toBe('TEN')
    expect(table.lookup(pan('9558812346', 19))?.bankCode).toBe('LONG')
    expect(table.lookup(pan('954', 19))).toBeNull()
  })

  it('is independent of row order', () => {
    const rows = [
      row('622', 16, 'A'),
      row('6228', 16, 'B'),
      row('622848', 16, 'C'),
      row('6228480402', 16, 'D'),
    ]
    fc.assert(
      fc.property(fc.shuffledSubarray(rows, { minLength: rows.length }), (shuffled) => {
        const table = createBinTable(shuffled)
        expect(table.lookup(pan('6228480402', 16))?.bankCode).toBe('D')
        expect(table.lookup(pan('6228480403', 16))?.bankCode).toBe('C')
        expect(table.lookup(pan('6228490403', 16))?.bankCode).toBe('B')
        expect(table.lookup(pan('6229', 16))?.bankCode).toBe('A')
      }),
    )
  })

  it('prefers a prefix whose card length matches the number', () => {
    // As in the reference file: 621260 is a 16-digit credit card of one bank and a 19-digit
    // debit card of another, and 621260001 is a 19-digit card of a third.
    const table = createBinTable([
      row('621260', 16, 'SPABANK', 'CC'),
      row('621260', 19, 'CSRCB'),
      row('621260001', 19, 'XFRCB'),
    ])
    expect(table.lookup(pan('621260', 16, '5'))?.bankCode).toBe('SPABANK')
    expect(table.lookup(pan('621260', 19, '5'))?.bankCode).toBe('CSRCB')
    expect(table.lookup(pan('621260001', 19))?.bankCode).toBe('XFRCB')
    // A 16-digit number under 621260001 belongs to the 16-digit 621260 BIN.
    expect(table.lookup(pan('621260001', 16))?.bankCode).toBe('SPABANK')
  })

  it('falls back to the longest prefix when no length matches', () => {
    const table = createBinTable([row('6226', 19, 'SHORT'), row('622609', 16, 'LONG')])
    expect(table.lookup(pan('622609', 17))?.bankCode).toBe('LONG')
  })

  it('never matches a BIN longer than the input', () => {
    const table = createBinTable([row('622609', 16)])
    expect(table.lookup('6226')).toBeNull()
    expect(table.lookup('')).toBeNull()
  })

  it('refuses a duplicate BIN and card length', () => {
    expect(() => createBinTable([row('622609', 16, 'A'), row('622609', 16, 'B')])).toThrow(
      /duplicate BIN 622609/,
    )
  })

  it('refuses malformed rows', () => {
    expect(() => createBinTable([row('62', 16)])).toThrow()
    expect(() => createBinTable([row('62260912345', 16)])).toThrow()
    expect(() => createBinTable([row('6226AB', 16)])).toThrow()
    expect(() => createBinTable([row('622609', 12)])).toThrow()
    expect(() => createBinTable([{ ...row('622609', 16), cardType: 'credit' }])).toThrow()
  })
})

describe('the real BIN file', () => {
  const { bins } = loadReferenceData(REFERENCE_DIR_DEFAULT)
  const withCheckDigit = (partial: string): string => partial + luhnCheckDigit(partial)

  it('finds the bank of the shared test vector card', () => {
    const info = bins.lookup('6226097806938388')
    expect(info).toEqual({
      bin: '622609',
      bankCode: 'CMB',
      bankName: '招商银行',
      kind: 'DC',
      cardType: 'debit',
      cardLength: 16,
    })
    expect(validatePan('6226097806938388', bins)).toMatchObject({ ok: true })
  })

  it('takes 95588 over 9558 and 621260001 over 621260', () => {
    expect(bins.lookup(pan('95588', 19))?.bin).toBe('95588')
    expect(bins.lookup(pan('95581', 19))?.bin).toBe('9558')
    expect(bins.lookup(pan('621260001', 19))?.bankCode).toBe('XFRCB')
    expect(bins.lookup(pan('621260999', 19))?.bankCode).toBe('CSRCB')
    expect(bins.lookup(pan('621260999', 16))).toMatchObject({
      bankCode: 'SPABANK',
      cardType: 'credit',
    })
  })

  it('resolves a BIN listed twice by the card length', () => {
    expect(bins.lookup(pan('690755', 15))?.cardLength).toBe(15)
    expect(bins.lookup(pan('690755', 18))?.cardLength).toBe(18)
    expect(bins.lookup(pan('622302', 16))?.bankCode).toBe('GDRCC')
    expect(bins.lookup(pan('622302', 18))?.bankCode).toBe('ICBC')
  })

  it('rejects a number whose length does not fit its BIN', () => {
    const result = validatePan(withCheckDigit(pan('622848', 17)), bins)
    expect(result).toMatchObject({ ok: false, error: { code: 'pan_length' } })
  })

  it('knows no BIN for an unissued prefix', () => {
    expect(bins.lookup(pan('000000', 16))).toBeNull()
  })
})
