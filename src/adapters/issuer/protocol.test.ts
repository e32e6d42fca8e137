import { describe, expect, it } from 'vitest'
import { decode, encode } from '../iso8583/codec.js'
import { loadDialect } from '../iso8583/spec.js'
import {
  correlationKeyOf,
  messageClass,
  readRequest,
  requestMessage,
  requestMti,
  responseMti,
  type IssuerRequest,
} from './protocol.js'

const dialect = loadDialect('iso87-binary')
const base: IssuerRequest = {
  kind: 'advice',
  pan: '6212260200001234505',
  expiry: '3012',
  amountMinor: 12_000,
  currencyNumeric: '156',
  stan: '000123',
  transmissionTime: '1126120000',
  terminalId: '10000001',
  merchantId: '898310058120001',
  acquirerId: '48020000',
  rrn: '000000000001',
  authorizationCode: 'S00001',
  standInReason: 'maintenance',
}

/** Through the real codec, both ways, as the link sends it. */
function wire(request: IssuerRequest, attempt = 0) {
  const encoded = encode(dialect, requestMessage(request, attempt))
  if (!encoded.ok) throw new Error(JSON.stringify(encoded))
  const decoded = decode(dialect, encoded.bytes)
  if (!decoded.ok) throw new Error(JSON.stringify(decoded))
  return decoded.message
}

describe('the issuer link protocol', () => {
  it('an advice carries the stand-in code, 39 = 00 and the stand-in reason in field 60', () => {
    const message = wire(base)
    expect(message.mti).toBe('0220')
    expect(message.fields.get(38)).toBe('S00001')
    expect(message.fields.get(39)).toBe('00')
    expect(message.fields.get(60)).toBe('STIP maintenance')
    expect(readRequest(message)).toMatchObject({ kind: 'advice', authorizationCode: 'S00001' })
    const repeat = wire(base, 1)
    expect(repeat.mti).toBe('0221')
    expect(readRequest(repeat)).toMatchObject({ repeat: true })
  })

  it('a reversal names its original in field 90 and repeats as 0420 then 0421', () => {
    const reversal: IssuerRequest = {
      ...base,
      kind: 'reversal',
      original: { mti: '0200', stan: '000123', transmissionTime: '1126120000' },
    }
    expect([0, 1, 2, 3].map((attempt) => requestMti(reversal, attempt))).toEqual([
      '0400',
      '0420',
      '0421',
      '0421',
    ])
    const message = wire(reversal)
    expect(message.fields.get(90)?.slice(0, 20)).toBe('02000001231126120000')
    expect(readRequest(message)).toMatchObject({
      kind: 'reversal',
      original: { mti: '0200', stan: '000123', transmissionTime: '1126120000' },
    })
  })

  it('correlates a response with its request by class, terminal, STAN and time — not STAN alone', () => {
    expect(responseMti('0200')).toBe('0210')
    expect(responseMti('0221')).toBe('0230')
    expect(responseMti('0421')).toBe('0430')
    expect(messageClass('0210')).toBe(messageClass('0200'))
    expect(messageClass('0230')).not.toBe(messageClass('0210'))
    const sale = wire({ ...base, kind: 'purchase' })
    const other = wire({ ...base, kind: 'purchase', terminalId: '10000002' })
    expect(correlationKeyOf(sale)).not.toBe(correlationKeyOf(other))
    expect(correlationKeyOf({ ...sale, mti: '0210' })).toBe(correlationKeyOf(sale))
  })
})
