import { describe, expect, it } from 'vitest'
import type { IsoMessage } from './codec.js'
import {
  decode,
  describe as describeMessage,
  encode,
  formatDecodeError,
  maskPan,
  withField,
  withoutField,
} from './codec.js'
import { loadDialect } from './spec.js'

const ascii = loadDialect('iso87-ascii')
const cup = loadDialect('cup-pos')

const PAN = '6226097806938388'
const TRACK_2 = '6226097806938388=49122011234567890'
const PIN_BLOCK = '0123456789ABCDEF'
const MAC = 'FEDCBA9876543210'

const purchase: IsoMessage = {
  mti: '0200',
  header: { tpdu: '6000030000', header: '603100011001' },
  fields: new Map([
    [2, PAN],
    [3, '000000'],
    [4, '000000000100'],
    [35, TRACK_2],
    [41, '00000026'],
    [42, '852331059980072'],
    [52, PIN_BLOCK],
    [60, '22000015000501'],
    [64, MAC],
  ]),
}

describe('describe: masking by default', () => {
  const text = describeMessage(cup, purchase)

  it('shows the first 6 and last 4 of the card number only', () => {
    expect(text).toContain('"622609******8388"')
    expect(text).not.toContain(PAN)
  })

  it('hides track data, PIN block and MAC, giving only their size', () => {
    expect(text).toContain('[track data: 34 characters]')
    expect(text).toContain('[PIN block: 8 bytes]')
    expect(text).toContain('[MAC: 8 bytes]')
    expect(text).not.toContain('4912201')
    expect(text).not.toContain(PIN_BLOCK)
    expect(text).not.toContain(MAC)
  })

  it('names every field and lists field 60 subfields', () => {
    expect(text).toContain('cup-pos MTI 0200  TPDU 6000030000  header 603100011001')
    expect(text).toMatch(/ 41 {2}Card acceptor terminal identification +"00000026"/)
    expect(text).toMatch(/60\.2 +Batch number +"000015"/)
  })

  it('shows everything when asked for unmasked output', () => {
    const clear = describeMessage(cup, purchase, { unmasked: true })
    for (const secret of [PAN, TRACK_2, PIN_BLOCK, MAC]) expect(clear).toContain(secret)
  })

  it('keeps trailing spaces visible and escapes control characters', () => {
    const message = {
      mti: '0200',
      fields: new Map([
        [42, '0800411        '],
        [48, 'A\u0000B'],
      ]),
    }
    const text = describeMessage(ascii, message)
    expect(text).toContain('"0800411        "')
    expect(text).toContain('"A\\u0000B"')
  })
})

describe('maskPan', () => {
  it('keeps 6 + 4 of a full-length PAN and only the last 4 of a short one', () => {
    expect(maskPan('4111111111111111')).toBe('411111******1111')
    expect(maskPan('1111111110000000000')).toBe('111111*********0000')
    expect(maskPan('1234567890')).toBe('******7890')
    expect(maskPan('1234')).toBe('****')
  })
})

describe('decode errors never carry sensitive content', () => {
  it('describes a bad PAN byte without showing the PAN', () => {
    const bytes = new Uint8Array(Buffer.from('020040000000000000001641111111111X1111', 'latin1'))
    const result = decode(ascii, bytes)
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.error).toMatchObject({ code: 'bad_content', field: 2, offset: 33 })
    const line = formatDecodeError(result.error, ascii)
    expect(line).not.toMatch(/4111/)
    expect(line).not.toContain('X')
    expect(line).toContain('field 2 (Primary account number (PAN))')
  })

  it('shows the offending byte of a field that is not sensitive', () => {
    const bytes = new Uint8Array(Buffer.from('02002000000000000000123A56', 'latin1'))
    const result = decode(ascii, bytes)
    expect(result.ok ? '' : formatDecodeError(result.error, ascii)).toBe(
      'bad_content at byte 23 in field 3 (Processing code): expected ASCII digits 0-9, ' +
        "found byte 0x41 ('A') [MTI 0200]",
    )
  })
})

describe('building responses', () => {
  it('withField sets and withoutField removes, leaving the original untouched', () => {
    const response = withoutField(withField(purchase, 39, '00'), 52)
    expect(response.fields.get(39)).toBe('00')
    expect(response.fields.has(52)).toBe(false)
    expect(purchase.fields.has(39)).toBe(false)
    expect(purchase.fields.get(52)).toBe(PIN_BLOCK)
    expect(response.header).toEqual(purchase.header)
    const encoded = encode(cup, response)
    expect(encoded.ok).toBe(true)
  })
})
