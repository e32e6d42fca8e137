import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { DecodeError, IsoMessage } from './codec.js'
import { DECODE_ERROR_CODES, decode, encode } from './codec.js'
import type { Dialect, FieldDef } from './spec.js'
import { DIALECT_NAMES, loadDialect } from './spec.js'

const DIALECTS: readonly Dialect[] = DIALECT_NAMES.map((name) => loadDialect(name))
const RUNS = 300

function chars(alphabet: string, minLength: number, maxLength: number): fc.Arbitrary<string> {
  const letters = [...alphabet]
  return fc
    .array(fc.constantFrom(...letters), { minLength, maxLength })
    .map((array) => array.join(''))
}

const DIGITS = '0123456789'
const ALPHANUMERIC = `${DIGITS}ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz `
const HEX = '0123456789ABCDEF'
const LATIN1 = Array.from({ length: 256 }, (_, code) => String.fromCharCode(code)).join('')

/** Values the field's spec allows, at its fixed size or any length up to its maximum. */
function fieldValue(def: FieldDef): fc.Arbitrary<string> {
  const fixed = def.length === 'fixed'
  const min = fixed ? def.size : 0
  const max = fixed ? def.size : Math.min(def.size, 64)
  switch (def.type) {
    case 'n':
      return chars(DIGITS, min, max)
    case 'an':
      return chars(ALPHANUMERIC, min, max)
    case 'ans':
      return chars(LATIN1, min, max)
    case 'z':
      return chars(`${DIGITS}=`, min, max)
    case 'x+n':
      return fc
        .tuple(fc.constantFrom('C', 'D'), chars(DIGITS, def.size - 1, def.size - 1))
        .map(([sign, digits]) => sign + digits)
    case 'b':
      return fc
        .uint8Array({ minLength: min, maxLength: fixed ? def.size : Math.min(def.size, 32) })
        .map((bytes) => Buffer.from(bytes).toString('hex').toUpperCase())
  }
}

function messageArbitrary(dialect: Dialect): fc.Arbitrary<IsoMessage> {
  const defs = dialect.fields.filter((def): def is FieldDef => def !== undefined)
  const fieldsArbitrary = fc
    .subarray(defs, { minLength: 0, maxLength: 20 })
    .chain((chosen) =>
      fc.tuple(...chosen.map((def) => fieldValue(def).map((v) => [def.number, v] as const))),
    )
    .map((entries) => new Map<number, string>(entries))
  const mti = chars(DIGITS, 4, 4)
  if (dialect.header === null) {
    return fc.record({ mti, fields: fieldsArbitrary })
  }
  const { tpduBytes, headerBytes } = dialect.header
  const header = fc.record({
    tpdu: chars(HEX, (tpduBytes - 1) * 2, (tpduBytes - 1) * 2).map((rest) => `60${rest}`),
    header: chars(HEX, headerBytes * 2, headerBytes * 2),
  })
  return fc.record({ mti, fields: fieldsArbitrary, header })
}

function encodeOk(dialect: Dialect, message: IsoMessage): Uint8Array {
  const result = encode(dialect, message)
  if (!result.ok) throw new Error(`encode failed: ${JSON.stringify(result.error)}`)
  return result.bytes
}

function decodeError(dialect: Dialect, bytes: Uint8Array): DecodeError {
  const result = decode(dialect, bytes)
  if (result.ok) throw new Error('expected a decode error')
  return result.error
}

/** Bytes a field's content takes on the wire, written out independently of the codec. */
function contentBytes(def: FieldDef, value: string): number {
  if (def.type === 'b') return def.encoding === 'ascii' ? value.length : value.length / 2
  if (def.encoding === 'ascii') return value.length
  if (def.type === 'x+n') return 1 + Math.ceil((value.length - 1) / 2)
  return Math.ceil(value.length / 2)
}

function lastField(message: IsoMessage): number | null {
  const numbers = [...message.fields.keys()]
  return numbers.length === 0 ? null : Math.max(...numbers)
}

function expectTypedError(result: ReturnType<typeof decode>, length: number): void {
  if (result.ok) return
  const error = result.error
  expect(DECODE_ERROR_CODES).toContain(error.code)
  expect(error.offset).toBeGreaterThanOrEqual(0)
  expect(error.offset).toBeLessThanOrEqual(length)
  if (error.field !== null) expect(error.field).toBeGreaterThanOrEqual(2)
  expect(typeof error.expected).toBe('string')
  expect(typeof error.found).toBe('string')
}

for (const dialect of DIALECTS) {
  describe(`${dialect.name}: properties`, () => {
    it('decode(encode(message)) is the message, and re-encodes to the same bytes', () => {
      fc.assert(
        fc.property(messageArbitrary(dialect), (message) => {
          const bytes = encodeOk(dialect, message)
          const result = decode(dialect, bytes)
          expect(result.ok).toBe(true)
          if (!result.ok) return
          expect(result.message.mti).toBe(message.mti)
          expect(result.message.header).toEqual(message.header)
          const sorted = [...message.fields.entries()].sort(([a], [b]) => a - b)
          expect([...result.message.fields.entries()]).toEqual(sorted)
          const again = encodeOk(dialect, result.message)
          expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true)
        }),
        { numRuns: RUNS },
      )
    })

    it('random bytes never throw and give a typed error or a message', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
          expectTypedError(decode(dialect, bytes), bytes.length)
        }),
        { numRuns: RUNS * 3 },
      )
    })

    it('mutated messages never throw and give a typed error or a message', () => {
      const mutation = fc.record({
        at: fc.nat(),
        byte: fc.integer({ min: 0, max: 255 }),
        cut: fc.nat(),
        kind: fc.constantFrom('flip', 'cut', 'insert', 'delete'),
      })
      const editList = fc.array(mutation, { maxLength: 4 })
      fc.assert(
        fc.property(messageArbitrary(dialect), editList, (msg, edits) => {
          let bytes = [...encodeOk(dialect, msg)]
          for (const edit of edits) {
            const at = bytes.length === 0 ? 0 : edit.at % bytes.length
            if (edit.kind === 'flip') bytes[at] = edit.byte
            if (edit.kind === 'cut') bytes = bytes.slice(0, edit.cut % (bytes.length + 1))
            if (edit.kind === 'insert') bytes.splice(at, 0, edit.byte)
            if (edit.kind === 'delete') bytes.splice(at, 1)
          }
          expectTypedError(decode(dialect, new Uint8Array(bytes)), bytes.length)
        }),
        { numRuns: RUNS },
      )
    })

    it('trailing bytes: trailing_bytes after the last field, at the end of the message', () => {
      fc.assert(
        fc.property(
          messageArbitrary(dialect),
          fc.uint8Array({ minLength: 1, maxLength: 20 }),
          (message, extra) => {
            const bytes = encodeOk(dialect, message)
            const error = decodeError(dialect, new Uint8Array([...bytes, ...extra]))
            expect(error).toMatchObject({
              code: 'trailing_bytes',
              field: lastField(message),
              offset: bytes.length,
              mti: message.mti,
            })
          },
        ),
        { numRuns: RUNS },
      )
    })

    it('a cut-off field: truncated, naming the field and where its content starts', () => {
      const withContent = messageArbitrary(dialect).filter((message) => {
        const last = lastField(message)
        return last !== null && (message.fields.get(last) ?? '').length > 0
      })
      fc.assert(
        fc.property(withContent, fc.nat(), (message, seed) => {
          const bytes = encodeOk(dialect, message)
          const last = lastField(message)!
          const def = dialect.fields[last]!
          const content = contentBytes(def, message.fields.get(last)!)
          const cutBy = 1 + (seed % content)
          const error = decodeError(dialect, bytes.subarray(0, bytes.length - cutBy))
          expect(error).toMatchObject({
            code: 'truncated',
            field: last,
            offset: bytes.length - content,
            mti: message.mti,
          })
        }),
        { numRuns: RUNS },
      )
    })
  })
}

describe('each malformation has its own error code, field and offset', () => {
  const ascii = loadDialect('iso87-ascii')
  const binary = loadDialect('iso87-binary')
  const cup = loadDialect('cup-pos')
  const text = (value: string): Uint8Array => new Uint8Array(Buffer.from(value, 'latin1'))
  const hex = (value: string): Uint8Array => new Uint8Array(Buffer.from(value, 'hex'))
  // 0100 with fields 2, 3, 4: MTI 0-4, bitmap 4-20, field 2 prefix 20-22 and content 22-38.
  const VALID_0100 = '0100700000000000000016424242424242424212345600000000010'

  it('the reference message decodes', () => {
    expect(decode(ascii, text(`${VALID_0100}0`)).ok).toBe(true)
  })

  type Case = readonly [string, Dialect, Uint8Array, Partial<DecodeError>]
  const cases: readonly Case[] = [
    [
      'ascii: a cut-off field 4',
      ascii,
      text(VALID_0100),
      { code: 'truncated', field: 4, offset: 44 },
    ],
    [
      'ascii: junk after field 4',
      ascii,
      text(`${VALID_0100}0X`),
      { code: 'trailing_bytes', field: 4, offset: 56 },
    ],
    [
      'ascii: non-hex bitmap',
      ascii,
      text('0100700000000G000000'),
      { code: 'bad_bitmap', field: null, offset: 13 },
    ],
    [
      'ascii: PAN longer than 19',
      ascii,
      text('01004000000000000000204242424242424242424242'),
      { code: 'length_over_max', field: 2, offset: 20 },
    ],
    [
      'ascii: LL prefix not digits',
      ascii,
      text('010040000000000000001A'),
      { code: 'bad_length_prefix', field: 2, offset: 21 },
    ],
    [
      'ascii: letters in a numeric field',
      ascii,
      text('01002000000000000000123A56'),
      { code: 'bad_content', field: 3, offset: 23 },
    ],
    [
      'ascii: MTI not digits',
      ascii,
      text('01X0'),
      { code: 'bad_mti', field: null, offset: 2, mti: null },
    ],
    [
      'ascii: MTI cut short',
      ascii,
      text('01'),
      { code: 'truncated', field: null, offset: 0, mti: null },
    ],
    [
      'binary: PAN over 19 in BCD',
      binary,
      hex('0100400000000000000020'),
      { code: 'length_over_max', field: 2, offset: 10 },
    ],
    [
      'binary: bad BCD nibble',
      binary,
      hex('01002000000000000000123A56'),
      { code: 'bad_content', field: 3, offset: 11 },
    ],
    [
      'binary: secondary bitmap cut short',
      binary,
      hex('01008000000000000000000000'),
      { code: 'truncated', field: null, offset: 10 },
    ],
    [
      'cup: bit 1 set (no secondary bitmap)',
      cup,
      hex('600003000060220000000008008000000000000000'),
      { code: 'bad_bitmap', field: null, offset: 13, mti: '0800' },
    ],
    [
      'cup: field 5 is not in the dialect',
      cup,
      hex('600003000060220000000008000800000000000000'),
      { code: 'unknown_field', field: 5, offset: 21 },
    ],
    [
      'cup: TPDU id is not 60',
      cup,
      hex('120003000060220000000008000000000000000000'),
      { code: 'bad_header', field: null, offset: 0, mti: null },
    ],
    [
      'cup: header cut short',
      cup,
      hex('6000030000'),
      { code: 'truncated', field: null, offset: 5 },
    ],
  ]
  for (const [name, dialect, bytes, expected] of cases) {
    it(name, () => {
      expect(decodeError(dialect, bytes)).toMatchObject(expected)
    })
  }
})

describe('encode rejects what it cannot write, as values', () => {
  const ascii = loadDialect('iso87-ascii')
  const cup = loadDialect('cup-pos')
  const message = (fields: [number, string][], mti = '0200'): IsoMessage => ({
    mti,
    fields: new Map(fields),
  })

  it('pads short fixed values: n with zeros on the left, an/ans with spaces on the right', () => {
    const result = encode(
      ascii,
      message([
        [4, '100'],
        [41, 'T1'],
      ]),
    )
    expect(result.ok && decode(ascii, result.bytes)).toMatchObject({
      ok: true,
      message: {
        fields: new Map([
          [4, '000000000100'],
          [41, 'T1      '],
        ]),
      },
    })
  })

  it('names the field and the problem', () => {
    const header = { tpdu: '6000030000', header: '602200000000' }
    const cases: readonly [IsoMessage, Dialect, object][] = [
      [message([[2, '4'.repeat(20)]]), ascii, { code: 'length_over_max', field: 2 }],
      [message([[3, '12A456']]), ascii, { code: 'bad_content', field: 3 }],
      [message([[1, '00']]), ascii, { code: 'unknown_field', field: 1 }],
      [{ ...message([[70, '001']]), header }, cup, { code: 'unknown_field', field: 70 }],
      [message([[52, 'ABC']]), ascii, { code: 'bad_content', field: 52 }],
      [message([], '08000'), ascii, { code: 'bad_mti', field: null }],
      [message([[11, '000001']]), cup, { code: 'bad_header', field: null }],
    ]
    for (const [input, dialect, expected] of cases) {
      const result = encode(dialect, input)
      expect(result.ok ? 'ok' : result.error).toMatchObject(expected)
    }
  })

  it('never echoes a sensitive value in an encode error', () => {
    const result = encode(ascii, message([[2, '4111111111111111X']]))
    expect(result.ok ? 'ok' : result.error.found).toBe('17 digits')
  })
})
