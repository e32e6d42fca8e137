import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { REPO_ROOT, SHARED_DATA_DIR } from '../../../test/support/paths.js'
import type { DecodeErrorCode, IsoMessage } from './codec.js'
import { decode, encode, joinSubfields, splitSubfields } from './codec.js'
import type * as specModule from './spec.js'
import { DIALECT_NAMES, loadDialect, parseDialect } from './spec.js'
import { checkFrameLength, encodeFrame, readLengthPrefixedFrame } from './tcp/framing.js'

type SpecModule = typeof specModule

const VECTORS_DIR = join(SHARED_DATA_DIR, 'iso8583-vectors')
const CUP_EXAMPLES = join(SHARED_DATA_DIR, 'iso8583-cup-pos-examples.json')

interface VectorEntry {
  readonly file: string
  readonly valid: boolean
  readonly fields?: Readonly<Record<string, string>>
  readonly what_is_wrong?: string
}

interface CupExample {
  readonly hex: string
  readonly parts: readonly (readonly [string, string, unknown])[]
  readonly fields: Readonly<Record<string, { readonly value: string }>>
}

const vectorsText = readFileSync(join(VECTORS_DIR, 'expected.json'), 'utf8')
const vectors = JSON.parse(vectorsText) as VectorEntry[]
const cupExamples = JSON.parse(readFileSync(CUP_EXAMPLES, 'utf8')) as Record<string, CupExample>
const ascii = loadDialect('iso87-ascii')
const cup = loadDialect('cup-pos')

function readVector(file: string): Uint8Array {
  return new Uint8Array(readFileSync(join(VECTORS_DIR, file)))
}

/** The secondary bitmap as hex, as an independent decoder reports it in field "1". */
function secondaryBitmapHex(message: IsoMessage): string | null {
  const bits = new Uint8Array(8)
  let any = false
  for (const number of message.fields.keys()) {
    if (number <= 64) continue
    any = true
    const bit = number - 65
    bits[bit >> 3] = (bits[bit >> 3] ?? 0) | (0x80 >> (bit & 7))
  }
  return any ? Buffer.from(bits).toString('hex').toUpperCase() : null
}

function decodeOk(bytes: Uint8Array, dialect = ascii): IsoMessage {
  const result = decode(dialect, bytes)
  if (!result.ok) throw new Error(`expected a message, got ${JSON.stringify(result.error)}`)
  return result.message
}

function cupExample(kind: '0210' | '0800'): CupExample {
  const entry = Object.entries(cupExamples).find(([name]) => name.includes(kind))
  expect(entry).toBeDefined()
  return entry![1]
}

function exampleFields(example: CupExample): (readonly [number, string])[] {
  return Object.entries(example.fields).map(([key, field]) => [Number(key), field.value] as const)
}

function partHex(example: CupExample, prefix: string): string {
  const part = example.parts.find(([name]) => name.startsWith(prefix))
  expect(part).toBeDefined()
  return part![1].toUpperCase()
}

describe('iso87-ascii: valid vectors decode to exactly the expected fields', () => {
  const valid = vectors.filter((entry) => entry.valid)
  it('has the valid vectors the data set promises', () => {
    expect(valid.length).toBe(7)
  })

  for (const entry of valid) {
    it(entry.file, () => {
      const bytes = readVector(entry.file)
      const message = decodeOk(bytes)
      const expected = entry.fields ?? {}
      expect(message.mti).toBe(expected.t)
      const expectedFields = Object.entries(expected)
        .filter(([key]) => key !== 't' && key !== '1')
        .map(([key, value]) => [Number(key), value] as const)
        .sort(([a], [b]) => a - b)
      expect([...message.fields.entries()]).toEqual(expectedFields)
      expect(secondaryBitmapHex(message)).toBe(expected['1'] ?? null)
      expect(message.header).toBeUndefined()
    })

    it(`${entry.file} re-encodes to the same bytes`, () => {
      const bytes = readVector(entry.file)
      const encoded = encode(ascii, decodeOk(bytes))
      expect(encoded.ok && Buffer.from(encoded.bytes).equals(bytes)).toBe(true)
    })
  }

  it('keeps the empty LLVAR and the trailing spaces', () => {
    const reversal = decodeOk(readVector('iso_reversal_message.dat'))
    expect(reversal.fields.get(32)).toBe('')
    expect(reversal.fields.get(42)).toBe('00003430003948 ')
    const response = decodeOk(readVector('financial_transaction_message_response.dat'))
    const field48 = response.fields.get(48) ?? ''
    expect(field48).toHaveLength(163)
    expect(field48.endsWith(' '.repeat(100))).toBe(true)
  })
})

describe('iso87-ascii: invalid vectors are rejected with their specific error', () => {
  // Each invalid vector, the words its description must contain, and the error it must give.
  const EXPECTED_ERRORS: Readonly<
    Record<
      string,
      {
        readonly described: RegExp
        readonly code: DecodeErrorCode
        readonly field: number | null
        readonly offset: number
        readonly mti: string
      }
    >
  > = {
    'error_message.dat': {
      described: /truncated inside LLL field 55/,
      code: 'truncated',
      field: 55,
      offset: 185,
      mti: '0400',
    },
    'neg_extra_data.txt': {
      described: /empty bitmap followed by junk/,
      code: 'trailing_bytes',
      field: null,
      offset: 20,
      mti: '0210',
    },
    'neg_nonhex_bitmap.txt': {
      described: /non-hex ASCII bitmap/,
      code: 'bad_bitmap',
      field: null,
      offset: 4,
      mti: '0210',
    },
    'neg_short_secondary_bitmap.txt': {
      described: /secondary bitmap truncated/,
      code: 'truncated',
      field: null,
      offset: 20,
      mti: '0210',
    },
  }

  const invalid = vectors.filter((entry) => !entry.valid)
  it('has an expectation for every invalid vector', () => {
    const files = invalid.map((entry) => entry.file).sort()
    expect(files).toEqual(Object.keys(EXPECTED_ERRORS).sort())
  })

  for (const entry of invalid) {
    it(`${entry.file}: ${entry.what_is_wrong}`, () => {
      const expected = EXPECTED_ERRORS[entry.file]!
      expect(entry.what_is_wrong).toMatch(expected.described)
      const result = decode(ascii, readVector(entry.file))
      expect(result.ok).toBe(false)
      if (result.ok) return
      expect(result.error).toMatchObject({
        code: expected.code,
        field: expected.field,
        offset: expected.offset,
        mti: expected.mti,
      })
    })
  }

  it('says how much of field 55 was declared and how much arrived', () => {
    const result = decode(ascii, readVector('error_message.dat'))
    expect(result.ok ? null : result.error).toMatchObject({
      expected: '30 characters (30 bytes) as the LLL prefix declares',
      found: '21 bytes',
    })
  })
})

describe('cup-pos: the UnionPay samples', () => {
  it('decodes the 0800 sign-on to the sample fields, TPDU and header', () => {
    const example = cupExample('0800')
    const bytes = new Uint8Array(Buffer.from(example.hex, 'hex'))
    const message = decodeOk(bytes, cup)
    expect(message.mti).toBe('0800')
    expect(message.header).toEqual({
      tpdu: partHex(example, 'TPDU'),
      header: partHex(example, 'header'),
    })
    expect([...message.fields.entries()]).toEqual(exampleFields(example))
    const encoded = encode(cup, message)
    expect(encoded.ok && Buffer.from(encoded.bytes).equals(bytes)).toBe(true)
  })

  it('splits field 60 of the 0800 into its subfields and joins them back', () => {
    const message = decodeOk(new Uint8Array(Buffer.from(cupExample('0800').hex, 'hex')), cup)
    const split = splitSubfields(cup, 60, message.fields.get(60) ?? '')
    expect(split).toEqual({
      ok: true,
      subfields: [
        { id: '60.1', name: 'Message type code', value: '00' },
        { id: '60.2', name: 'Batch number', value: '002199' },
        { id: '60.3', name: 'Network management information code', value: '001' },
      ],
    })
    const joined = joinSubfields(cup, 60, { '60.1': '00', '60.2': '002199', '60.3': '001' })
    expect(joined).toEqual({ ok: true, value: '00002199001' })
  })

  it('detects the 0210 sample whose length prefix declares 170 bytes but 142 follow', () => {
    const bytes = new Uint8Array(Buffer.from(cupExample('0210').hex, 'hex'))
    const checked = checkFrameLength(bytes, 'binary2')
    expect(checked).toMatchObject({
      ok: false,
      declaredBytes: 170,
      error: {
        code: 'truncated',
        field: null,
        offset: 144,
        expected: '170 bytes after the 2-byte length prefix',
        found: '142 bytes',
      },
    })
    const streamed = readLengthPrefixedFrame(bytes, 'binary2')
    expect(streamed.ok ? null : streamed.error.code).toBe('truncated')
  })

  it('decodes the 142 bytes of the 0210 that did arrive, field by field', () => {
    const example = cupExample('0210')
    const payload = new Uint8Array(Buffer.from(example.hex, 'hex')).subarray(2)
    const message = decodeOk(payload, cup)
    expect(message.mti).toBe('0210')
    expect(message.header).toEqual({
      tpdu: partHex(example, 'TPDU'),
      header: partHex(example, 'header'),
    })
    expect([...message.fields.entries()]).toEqual(exampleFields(example))
    const encoded = encode(cup, message)
    expect(encoded.ok && Buffer.from(encoded.bytes).equals(payload)).toBe(true)
  })

  it('accepts a frame whose prefix matches, and frames a payload', () => {
    const payload = Buffer.from(cupExample('0800').hex, 'hex')
    const framed = encodeFrame('binary2', payload)
    const checked = checkFrameLength(framed, 'binary2')
    expect(checked.ok && Buffer.from(checked.payload).equals(payload)).toBe(true)
    const extra = new Uint8Array([...framed, 0x00])
    expect(checkFrameLength(extra, 'binary2')).toMatchObject({
      ok: false,
      error: { code: 'trailing_bytes', offset: framed.length },
    })
    const ascii4 = checkFrameLength(new Uint8Array(Buffer.from('00x2ab')), 'ascii4')
    expect(ascii4).toMatchObject({ ok: false, error: { code: 'bad_length_prefix', offset: 2 } })
  })
})

describe('dialect specs', () => {
  it('loads every built-in dialect', () => {
    for (const name of DIALECT_NAMES) {
      const dialect = loadDialect(name)
      expect(dialect.name).toBe(name)
    }
    expect(loadDialect('iso87-ascii').fields.filter(Boolean)).toHaveLength(127)
    expect(loadDialect('cup-pos').fieldNumberMax).toBe(64)
  })

  const minimal = {
    name: 'test',
    description: '',
    header: null,
    mti: 'ascii',
    bitmap: { encoding: 'hex-ascii', secondary: false },
    lengthPrefix: 'ascii',
  }
  const field = { number: 35, name: 'Track 2', type: 'z', length: 'LL', max: 37, encoding: 'ascii' }

  it('names the file, the field and what is wrong', () => {
    const cases: readonly [unknown, RegExp][] = [
      [{ ...field, max: 120 }, /^bad\.json: field 35: fields\.0\.max: .*99/],
      [{ ...field, type: 'q' }, /^bad\.json: field 35: fields\.0\.type: /],
      [{ ...field, encoding: 'bcd', type: 'an' }, /^bad\.json: field 35: type an cannot use/],
      [{ ...field, number: 70 }, /^bad\.json: field 70: beyond 64/],
      [{ ...field, type: 'b', padding: 'left' }, /^bad\.json: field 35: type b takes no padding/],
    ]
    for (const [spec, message] of cases) {
      const result = parseDialect({ ...minimal, fields: [spec] }, 'bad.json')
      expect(result.ok ? 'ok' : result.error.message).toMatch(message)
      if (!result.ok) expect(result.error.file).toBe('bad.json')
    }
  })

  it('rejects a field defined twice and subfields longer than the field', () => {
    const twice = parseDialect({ ...minimal, fields: [field, field] }, 'twice.json')
    expect(twice.ok ? 'ok' : twice.error.message).toBe('twice.json: field 35: defined twice')
    const subfields = [{ id: '35.1', name: 'All', size: 40 }]
    const long = parseDialect({ ...minimal, fields: [{ ...field, subfields }] }, 'sub.json')
    expect(long.ok ? 'ok' : long.error.field).toBe(35)
  })

  const distSpec = join(REPO_ROOT, 'dist', 'src', 'adapters', 'iso8583', 'spec.js')
  // `npm test` builds first; a bare `vitest run` before any build skips this one.
  it.skipIf(!existsSync(distSpec))('loads every dialect from the built dist/', async () => {
    const built = (await import(pathToFileURL(distSpec).href)) as SpecModule
    for (const name of DIALECT_NAMES) expect(built.loadDialect(name).name).toBe(name)
  })
})
