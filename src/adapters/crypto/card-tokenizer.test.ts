import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { luhnCheckDigit } from '../../core/card.js'
import { createCardTokenizer } from './card-tokenizer.js'

const KEY_A = Buffer.alloc(32, 0xa5)
const KEY_B = Buffer.alloc(32, 0x5a)
const PAN = '6226097806938388'

const cardNumber = fc
  .string({ unit: fc.constantFrom(...'0123456789'), minLength: 12, maxLength: 18 })
  .map((partial) => partial + luhnCheckDigit(partial))

describe('createCardTokenizer', () => {
  it('gives tok_ and 32 lowercase hex characters', () => {
    expect(createCardTokenizer(KEY_A)(PAN)).toMatch(/^tok_[0-9a-f]{32}$/)
  })

  it('is the first 128 bits of HMAC-SHA256(key, pan)', () => {
    // Computed independently with Python's hmac module.
    expect(createCardTokenizer(KEY_A)(PAN)).toBe('tok_994674f4a73627e33be28817b98a13b9')
  })

  it('is deterministic', () => {
    fc.assert(
      fc.property(cardNumber, (pan) => {
        expect(createCardTokenizer(KEY_A)(pan)).toBe(createCardTokenizer(KEY_A)(pan))
      }),
    )
  })

  it('depends on the key and on the number', () => {
    fc.assert(
      fc.property(cardNumber, cardNumber, (pan, other) => {
        const tokenA = createCardTokenizer(KEY_A)
        expect(tokenA(pan)).not.toBe(createCardTokenizer(KEY_B)(pan))
        if (pan !== other) expect(tokenA(pan)).not.toBe(tokenA(other))
      }),
    )
  })

  it('never contains the number', () => {
    fc.assert(
      fc.property(cardNumber, (pan) => {
        const token = createCardTokenizer(KEY_A)(pan)
        expect(token).not.toContain(pan)
        expect(token).not.toContain(pan.slice(0, 12))
      }),
    )
  })

  it('keeps its own copy of the key', () => {
    const key = Buffer.alloc(32, 0x11)
    const tokenize = createCardTokenizer(key)
    const before = tokenize(PAN)
    key.fill(0)
    expect(tokenize(PAN)).toBe(before)
  })

  it('refuses a short key and a malformed number without echoing it', () => {
    expect(() => createCardTokenizer(Buffer.alloc(31))).toThrow(/at least 32 bytes/)
    const tokenize = createCardTokenizer(KEY_A)
    expect(() => tokenize('6226 0978 0693 8388')).toThrow()
    let message = ''
    try {
      tokenize(`${PAN}X`)
    } catch (error) {
      message = String(error)
    }
    expect(message).toContain('validated card number')
    expect(message).not.toContain(PAN)
  })
})
