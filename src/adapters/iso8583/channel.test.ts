import fc from 'fast-check'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import type { Authorizer } from '../../ports/authorizer.js'
import type { Store } from '../../ports/store.js'
import { Counter } from '../metrics/registry.js'
import { createIsoHandler } from './channel.js'
import { decode, encode, type IsoMessage } from './codec.js'
import { MacKey } from './mac.js'
import { DIALECT_NAMES, loadDialect, type DialectName } from './spec.js'

/**
 * Whatever bytes a terminal sends, the handler settles with null or an answer that decodes and
 * carries field 39: it never rejects (which would cost the terminal its answer), and it never
 * answers a request without a response code. The queue is always busy and no terminal is known,
 * so no path reaches the core; a MAC key is configured for every cup-pos terminal.
 */
const MAC_KEY = MacKey.fromHex('2222222222222222')
const CUP_HEADER = { tpdu: '6000030000', header: '603100000000' }

function handlerFor(
  dialectName: DialectName,
  authorizer: Authorizer = { submit: () => ({ type: 'busy', depth: 1, depthMax: 1 }), depth: 1 },
): (frame: Buffer) => Promise<Buffer | null> {
  const store = { getTerminal: () => Promise.resolve(null) } as unknown as Store
  return createIsoHandler({
    dialect: loadDialect(dialectName),
    dialectName,
    authorizer,
    store,
    tokenize: (pan) => `tok_${pan.length}`,
    localDate: () => '2026-11-26',
    macKeyOf: () => MAC_KEY,
    logger: pino({ level: 'silent' }),
    metrics: { messages: new Counter('m', 'm'), decodeErrors: new Counter('d', 'd') },
  })
}

/** A well-formed purchase to mutate, so that fuzzing reaches past the decoder. */
function seedFrame(dialectName: DialectName): Buffer {
  const fields = new Map<number, string>([
    [2, '6228480402564890018'],
    [3, '000000'],
    [4, '000000001000'],
    [11, '000123'],
    [41, 'T0000001'],
    [42, 'M00000000000001'],
  ])
  const message: IsoMessage =
    dialectName === 'cup-pos'
      ? {
          mti: '0200',
          fields: fields.set(60, '22000001000').set(64, '0'.repeat(16)),
          header: CUP_HEADER,
        }
      : { mti: '0200', fields: fields.set(7, '1126120000') }
  const encoded = encode(loadDialect(dialectName), message)
  expect(encoded.ok).toBe(true)
  return encoded.ok ? Buffer.from(encoded.bytes) : Buffer.alloc(0)
}

const mutation = fc.record({
  cut: fc.nat(),
  flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
  tail: fc.uint8Array({ maxLength: 12 }),
})

describe.each(DIALECT_NAMES)('ISO 8583 channel handler (%s) under hostile bytes', (name) => {
  const handle = handlerFor(name)
  const dialect = loadDialect(name)
  const seed = seedFrame(name)

  async function checkAnswer(frame: Buffer): Promise<void> {
    const answer = await handle(frame)
    if (answer === null) return
    const decoded = decode(dialect, answer)
    expect(decoded.ok).toBe(true)
    if (decoded.ok) expect(decoded.message.fields.get(39)).toMatch(/^[0-9A-Z]{2}$/)
  }

  it('answers the unmutated seed with field 39', async () => {
    const answer = await handle(seed)
    expect(answer).not.toBeNull()
    await checkAnswer(seed)
  })

  it('never rejects on random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), (bytes) =>
        checkAnswer(Buffer.from(bytes)),
      ),
    )
  })

  it('never rejects on a valid message cut, flipped or extended', async () => {
    await fc.assert(
      fc.asyncProperty(mutation, async ({ cut, flips, tail }) => {
        const frame = Buffer.from(seed.subarray(0, cut % (seed.length + 1)))
        for (const [at, value] of flips) if (frame.length > 0) frame[at % frame.length] = value
        await checkAnswer(Buffer.concat([frame, tail]))
      }),
    )
  })
})

describe('ISO 8583 channel handler when the store fails', () => {
  it('answers 96 instead of leaving the terminal to time out', async () => {
    // Fault injection: the batch holding this request could not be committed.
    const failing: Authorizer = {
      submit: () => ({ type: 'accepted', result: Promise.reject(new Error('disk I/O error')) }),
      depth: 0,
    }
    const handle = handlerFor('iso87-ascii', failing)
    const answer = await handle(seedFrame('iso87-ascii'))
    expect(answer).not.toBeNull()
    const decoded = decode(loadDialect('iso87-ascii'), answer ?? Buffer.alloc(0))
    expect(decoded.ok && decoded.message.mti).toBe('0210')
    expect(decoded.ok && decoded.message.fields.get(39)).toBe('96')
  })
})
