import { createHmac } from 'node:crypto'
import { assert } from '../../core/assert.js'

/** HMAC-SHA256 keys shorter than the hash output weaken it; 32 bytes is the floor. */
export const CARD_TOKEN_KEY_BYTES_MIN = 32
/** 32 hex characters: the first 128 bits of the MAC. */
const TOKEN_HEX_CHARS = 32
const TOKEN_PREFIX = 'tok_'
const PAN_PATTERN = /^\d{13,19}$/

/**
 * Returns a function that turns a card number into a stable keyed token, so that cards can be
 * stored, counted and matched without keeping the number: `tok_` followed by the first 32 hex
 * characters (128 bits) of HMAC-SHA256(key, pan).
 *
 * Collision margin: by the birthday bound, n distinct cards collide with probability about
 * n² / 2¹²⁹; for 10⁹ cards that is about 1.5 × 10⁻²¹. Without the key the token cannot be
 * recomputed, which matters because card numbers are few enough (a known BIN, Luhn, ~10⁹
 * candidates) to enumerate against a plain hash. Rotating the key changes every token.
 *
 * @example createCardTokenizer(key)('6226097806938388') // 'tok_3f1c…' (36 characters)
 */
export function createCardTokenizer(key: Buffer): (pan: string) => string {
  assert(
    key.length >= CARD_TOKEN_KEY_BYTES_MIN,
    `card token key must be at least ${CARD_TOKEN_KEY_BYTES_MIN} bytes`,
  )
  // A private copy: a caller that later reuses or zeroes its buffer cannot change the tokens.
  const ownKey = Buffer.from(key)

  return function tokenizeCard(pan: string): string {
    // The message names no part of the number: assertion messages can reach logs.
    assert(PAN_PATTERN.test(pan), 'card tokenizer takes a validated card number')
    const mac = createHmac('sha256', ownKey).update(pan, 'utf8').digest('hex')
    const token = TOKEN_PREFIX + mac.slice(0, TOKEN_HEX_CHARS)
    assert(token.length === TOKEN_PREFIX.length + TOKEN_HEX_CHARS, 'token has a fixed length')
    return token
  }
}
