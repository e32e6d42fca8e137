import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { RequestResult } from '../../core/pipeline/result.js'
import type { TransactionRecord } from '../../core/model.js'
import {
  balanceField,
  formatErrorResponse,
  interpret,
  kindOf,
  entryModeOf,
  respond,
  responseCodeFor,
  type IsoFields,
} from './messages.js'

const tokenize = (pan: string) => `tok_${pan.length}`
const iso = { dialect: 'iso87-ascii' as const, tokenize, localDate: '2026-11-26' }
const cup = { dialect: 'cup-pos' as const, tokenize, localDate: '2026-11-26' }
const PAN = '6212260200001234505'

function message(mti: string, entries: [number, string][]): IsoFields {
  return { mti, fields: new Map(entries) }
}

const purchase87 = message('0200', [
  [2, PAN],
  [3, '000000'],
  [4, '000000008800'],
  [7, '1126120000'],
  [11, '000123'],
  [14, '3012'],
  [41, '10000001'],
  [42, '898310058120001'],
  [49, '156'],
])

describe('interpreting ISO 8583 messages', () => {
  it('reads a 0200 purchase into a core request with the card tokenized', () => {
    expect(interpret(purchase87, iso)).toEqual({
      type: 'request',
      request: {
        type: 'new',
        kind: 'purchase',
        channel: 'iso8583',
        terminalId: '10000001',
        merchantId: '898310058120001',
        stan: '000123',
        transmissionTime: '1126120000',
        card: { pan: PAN, expiry: '3012' },
        cardToken: 'tok_19',
        amountMinor: 8800,
        currency: 'CNY',
        idempotencyKey: null,
      },
    })
    // Field 22 present: how the card was read.
    const chip = { ...purchase87, fields: new Map([...purchase87.fields, [22, '051']]) }
    expect(interpret(chip, iso)).toMatchObject({ request: { entryMode: 'chip' } })
  })

  it('reads how the card was read from field 22 (a risk feature), unknown when absent', () => {
    expect(entryModeOf('051')).toBe('chip')
    expect(entryModeOf('071')).toBe('contactless')
    expect(entryModeOf('021')).toBe('magstripe')
    expect(entryModeOf('012')).toBe('manual')
    expect(entryModeOf('999')).toBe('unknown')
    expect(entryModeOf(null)).toBe('unknown')
  })

  it('tells kinds apart by MTI and processing code, or by field 60.1 in cup-pos', () => {
    expect(kindOf(message('0100', [[3, '000000']]), 'iso87-ascii')).toBe('preauthorization')
    expect(kindOf(message('0200', [[3, '310000']]), 'iso87-ascii')).toBe('balance_inquiry')
    expect(kindOf(message('0200', [[3, '020000']]), 'iso87-ascii')).toBe('void')
    expect(kindOf(message('0220', [[3, '200000']]), 'iso87-ascii')).toBe('refund')
    expect(kindOf(message('0400', [[3, '000000']]), 'iso87-ascii')).toBe('reversal')
    expect(kindOf(message('0200', [[3, '990000']]), 'iso87-ascii')).toBeNull()
    expect(kindOf(message('0200', [[60, '22000001']]), 'cup-pos')).toBe('purchase')
    expect(kindOf(message('0200', [[60, '23000001']]), 'cup-pos')).toBe('void')
    expect(kindOf(message('0220', [[60, '25000001']]), 'cup-pos')).toBe('refund')
    expect(kindOf(message('0100', [[60, '10000001']]), 'cup-pos')).toBe('preauthorization')
  })

  it('names the original of a reversal by field 90, or by its own STAN and time', () => {
    const by90 = message('0400', [
      [3, '000000'],
      [11, '000200'],
      [41, '10000001'],
      [90, '0200000123112612000000000000000000000000000'],
    ])
    expect(interpret(by90, iso)).toMatchObject({
      type: 'request',
      request: {
        kind: 'reversal',
        originalTrace: { terminalId: '10000001', stan: '000123', transmissionTime: '1126120000' },
      },
    })
    const repeated = message('0400', [
      [3, '000000'],
      [7, '1126120000'],
      [11, '000123'],
      [41, '10000001'],
    ])
    expect(interpret(repeated, iso)).toMatchObject({
      type: 'request',
      request: { originalTrace: { stan: '000123', transmissionTime: '1126120000' } },
    })
  })

  it('names the original of a cup-pos void by field 61: batch, trace, MMDD', () => {
    const voidMessage = message('0200', [
      [11, '000124'],
      [41, '10000001'],
      [60, '23000001'],
      [61, '0000010001231126'],
    ])
    expect(interpret(voidMessage, cup)).toMatchObject({
      type: 'request',
      request: {
        kind: 'void',
        amountMinor: null,
        originalTrace: { stan: '000123', transmissionTime: null, localDate: '2026-11-26' },
      },
    })
    // On 1 January, 31 December is last year's (an original is never in the future).
    const refund = message('0220', [
      [11, '000125'],
      [41, '10000001'],
      [4, '000000001000'],
      [60, '25000001'],
      [61, '0000010001231231'],
    ])
    expect(interpret(refund, { ...cup, localDate: '2027-01-01' })).toMatchObject({
      request: { originalTrace: { localDate: '2026-12-31' } },
    })
    expect(interpret(voidMessage, { ...cup, localDate: '2027-11-26' })).toMatchObject({
      request: { originalTrace: { localDate: '2027-11-26' } },
    })
  })

  it('says which field is missing or unsupported', () => {
    expect(
      interpret(
        message('0200', [
          [3, '000000'],
          [11, '000001'],
        ]),
        iso,
      ),
    ).toEqual({ type: 'invalid', field: 41, expected: 'the terminal id (field 41)' })
    expect(
      interpret(
        message('0200', [
          [3, '770000'],
          [11, '000001'],
          [41, '10000001'],
        ]),
        iso,
      ),
    ).toMatchObject({ type: 'invalid', field: 3 })
    expect(interpret(message('0300', [[41, '10000001']]), iso)).toMatchObject({
      type: 'invalid',
      field: null,
    })
    expect(
      interpret(
        message('0200', [
          [2, PAN],
          [3, '000000'],
          [11, '000001'],
          [41, '10000001'],
          [42, '898310058120001'],
        ]),
        iso,
      ),
    ).toMatchObject({ type: 'invalid', field: 4 })
  })

  it('reads network management: sign-on, echo', () => {
    expect(
      interpret(
        message('0800', [
          [41, '10000001'],
          [70, '001'],
        ]),
        iso,
      ),
    ).toEqual({ type: 'network', action: 'sign_on', terminalId: '10000001' })
    expect(interpret(message('0800', [[70, '301']]), iso)).toMatchObject({ action: 'echo' })
    expect(
      interpret(
        message('0800', [
          [41, '10000001'],
          [60, '00000001001'],
        ]),
        cup,
      ),
    ).toMatchObject({ action: 'sign_on' })
  })
})

describe('answering', () => {
  const record = {
    id: 'tx_1',
    rrn: '633006000001',
    reason: null,
    authorizationCode: 'A1B2C3',
    balanceMinor: null,
    currency: 'CNY',
  } as unknown as TransactionRecord
  it('echoes the request, adds 37, 38 and 39 on approval', () => {
    const answer = respond(
      purchase87,
      { type: 'decided', transaction: record, replayed: false },
      'iso87-ascii',
    )
    expect(answer.mti).toBe('0210')
    expect(answer.fields.get(39)).toBe('00')
    expect(answer.fields.get(38)).toBe('A1B2C3')
    expect(answer.fields.get(37)).toBe('633006000001')
    expect(answer.fields.get(11)).toBe('000123')
    expect(answer.fields.get(4)).toBe('000000008800')
  })

  it('uses the UnionPay code where it differs, and field 54 for balances', () => {
    expect(responseCodeFor('unknown_terminal', 'iso87-ascii')).toBe('58')
    expect(responseCodeFor('unknown_terminal', 'cup-pos')).toBe('97')
    expect(balanceField(12_345, '156')).toBe('0002156C000000012345')
    const rejected: RequestResult = {
      type: 'rejected',
      reason: 'unknown_terminal',
      errors: [],
      checks: [],
      evidence: {},
    }
    expect(respond(purchase87, rejected, 'cup-pos').fields.get(39)).toBe('97')
  })

  it('answers a readable MTI with an unreadable body with 30', () => {
    expect(formatErrorResponse('0200', new Map([[11, '000001']]))).toEqual({
      mti: '0210',
      fields: new Map([
        [11, '000001'],
        [39, '30'],
      ]),
    })
    expect(formatErrorResponse('0999', new Map())).toBeNull()
  })
})

describe('interpreting arbitrary messages', () => {
  const fieldValue = fc.string({ maxLength: 40 })
  const message = fc.record({
    mti: fc.constantFrom('0100', '0200', '0220', '0400', '0420', '0800', '0300', '9999'),
    fields: fc
      .array(
        fc.tuple(
          fc.integer({ min: 2, max: 128 }),
          fc.oneof(fieldValue, fc.constantFrom(' ', '        ')),
        ),
        { maxLength: 30 },
      )
      .map((entries) => new Map(entries)),
  })

  it('never throws, and a request it reads always names a terminal and a STAN', () => {
    fc.assert(
      fc.property(message, fc.constantFrom(iso, cup), (m, ctx) => {
        const meaning = interpret(m, ctx)
        expect(['network', 'request', 'invalid']).toContain(meaning.type)
        if (meaning.type === 'request') {
          expect(meaning.request.stan).toBe(m.fields.get(11))
          if (meaning.request.type === 'new')
            expect(meaning.request.terminalId.length).toBeGreaterThan(0)
        }
        const rejected: RequestResult = {
          type: 'rejected',
          reason: 'format_error',
          errors: [],
          checks: [],
          evidence: {},
        }
        expect(respond(m, rejected, ctx.dialect).fields.get(39)).toBe('30')
      }),
      { numRuns: 2_000 },
    )
  })
})
