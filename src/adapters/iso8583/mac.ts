import { createCipheriv, timingSafeEqual } from 'node:crypto'
import type { Cipher } from 'node:crypto'
import { inspect } from 'node:util'
import { assert } from '../../core/assert.js'

// The China UnionPay POS terminal "ECB MAC" over DES, which protects field 64 of cup-pos
// messages. Algorithm, sources and key-length decision: docs/decisions/0004-cup-ecb-mac.md.

/** DES works on 8-byte blocks. */
export const DES_BLOCK_BYTES = 8
/** A single-length DES key: 16 hex characters. */
export const MAC_KEY_SINGLE_BYTES = 8
/** A double-length key (K1‖K2), used as 3DES-EDE with K1, K2, K1: 32 hex characters. */
export const MAC_KEY_DOUBLE_BYTES = 16
/** Field 64 (b64): the first 8 of the 16 uppercase hex characters of the last block. */
export const CUP_MAC_BYTES = 8
/**
 * The largest MAC block accepted. A cup-pos frame has a 2-byte length, so no message that
 * reached the decoder can be longer; a longer block is a bug in the caller.
 */
export const MAC_BLOCK_BYTES_MAX = 65_535

/** What is printed, serialized or inspected in place of a key. */
export const MAC_KEY_REDACTED = '[mac key]'

// OpenSSL 3 keeps single DES in the legacy provider, which Node 20 does not load. 3DES-EDE with
// K1 = K2 = K3 is single DES (the first encryption is undone by the decryption under the same
// key), so DES(k) is des-ede3-ecb with k‖k‖k. mac.test.ts checks this on published vectors.
const CIPHER = 'des-ede3-ecb'
const CIPHER_KEY_BYTES = 24
const HEX_DIGITS_UPPER = Buffer.from('0123456789ABCDEF', 'latin1')
const HEX_PATTERN = /^[0-9A-Fa-f]*$/

assert(CUP_MAC_BYTES / 2 <= DES_BLOCK_BYTES, 'the MAC is the hex of part of one block')
assert(MAC_KEY_DOUBLE_BYTES === 2 * MAC_KEY_SINGLE_BYTES, 'a double-length key is K1‖K2')

type BlockEncryptor = (block: Uint8Array) => Buffer

// Set by MacKey's static block (so declared before the class): this module reaches a key's
// private cipher, nothing outside it does.
let encryptorOf: (key: MacKey) => BlockEncryptor

export type MacKeyProblem = 'length' | 'not_hex'

/**
 * A MAC key that cannot be used: wrong length or not hexadecimal. The message never contains
 * the key or any part of it, because configuration errors are logged.
 */
export class MacKeyError extends Error {
  override readonly name = 'MacKeyError'
  readonly code = 'mac_key_invalid'
  readonly problem: MacKeyProblem

  constructor(problem: MacKeyProblem, message: string) {
    super(message)
    this.problem = problem
  }
}

/**
 * Encrypts one 8-byte block with single DES under an 8-byte key (ECB, no padding).
 *
 * @example desEncryptBlock(hex('133457799BBCDFF1'), hex('0123456789ABCDEF')) // 85E813540F0AB405
 */
export function desEncryptBlock(key: Buffer, block: Buffer): Buffer {
  assert(key.length === MAC_KEY_SINGLE_BYTES, 'single DES takes an 8-byte key')
  return createBlockEncryptor(key)(block)
}

/**
 * A terminal's MAC key (MAK). Holds the key only inside an OpenSSL cipher context, never as a
 * readable property, and prints as '[mac key]' through String(), JSON.stringify and
 * util.inspect, so that logging a terminal or a config object cannot leak it.
 *
 * The cipher context is created once and reused: an ECB encryption of whole blocks keeps no
 * state between calls, and reuse skips the key schedule (≈ 4 times faster than a fresh one).
 */
export class MacKey {
  /** 8 for a single-length DES key, 16 for a double-length 3DES key. */
  readonly lengthBytes: 8 | 16
  readonly #encrypt: BlockEncryptor

  private constructor(bytes: Uint8Array) {
    assert(
      bytes.length === MAC_KEY_SINGLE_BYTES || bytes.length === MAC_KEY_DOUBLE_BYTES,
      'MAC key length was checked by the factory',
    )
    this.lengthBytes = bytes.length === MAC_KEY_SINGLE_BYTES ? 8 : 16
    this.#encrypt = createBlockEncryptor(bytes)
  }

  /**
   * Parses 16 hex characters (single-length DES) or 32 (double-length, 3DES-EDE K1,K2,K1).
   * Upper- and lowercase are accepted; parity bits are not checked (DES ignores them).
   *
   * @example MacKey.fromHex('2222222222222222')
   * @throws MacKeyError when the text is not 16 or 32 hex characters.
   */
  static fromHex(text: string): MacKey {
    if (text.length !== 2 * MAC_KEY_SINGLE_BYTES && text.length !== 2 * MAC_KEY_DOUBLE_BYTES) {
      throw new MacKeyError(
        'length',
        `MAC key must be 16 hex characters (single DES) or 32 (double-length 3DES), ` +
          `got ${text.length}`,
      )
    }
    if (!HEX_PATTERN.test(text)) {
      throw new MacKeyError('not_hex', 'MAC key must contain only hex characters 0-9, A-F')
    }
    const bytes = Buffer.from(text, 'hex')
    try {
      return new MacKey(bytes)
    } finally {
      bytes.fill(0)
    }
  }

  /**
   * Takes 8 or 16 key bytes (for example a MAK just decrypted from a sign-on response). The
   * bytes are copied into the cipher context: the caller may and should zero its buffer.
   *
   * @throws MacKeyError when there are not 8 or 16 bytes.
   */
  static fromBytes(bytes: Uint8Array): MacKey {
    if (bytes.length !== MAC_KEY_SINGLE_BYTES && bytes.length !== MAC_KEY_DOUBLE_BYTES) {
      throw new MacKeyError('length', `MAC key must be 8 or 16 bytes, got ${bytes.length}`)
    }
    return new MacKey(bytes)
  }

  static {
    encryptorOf = (key) => key.#encrypt
  }

  toString(): string {
    return MAC_KEY_REDACTED
  }

  toJSON(): string {
    return MAC_KEY_REDACTED
  }

  [Symbol.toPrimitive](): string {
    return MAC_KEY_REDACTED
  }

  [inspect.custom](): string {
    return MAC_KEY_REDACTED
  }
}

/**
 * The UnionPay POS ECB MAC of a MAC block (MAB: the message from the MTI up to, not including,
 * field 64; no length, TPDU or header). Returns the 8 bytes of field 64: ASCII uppercase hex.
 *
 * 1. XOR the MAB's 8-byte blocks together, the last one padded with 0x00.
 * 2. Expand the result to 16 uppercase hex characters, H = H1‖H2 (8 bytes each).
 * 3. E1 = E(K, H1); E2 = E(K, E1 ⊕ H2), where E is DES (or 3DES-EDE for a double key).
 * 4. The MAC is the first 8 of the 16 uppercase hex characters of E2.
 *
 * @example cupEcbMac(MacKey.fromHex('2222222222222222'), hex('1234567890ABCDEFABCDEF1234567890'))
 *   // Buffer of 'E267B6E2'
 */
export function cupEcbMac(key: MacKey | Uint8Array, macBlock: Uint8Array): Buffer {
  assert(macBlock.length <= MAC_BLOCK_BYTES_MAX, 'MAC block is longer than any cup-pos frame')
  const encrypt = key instanceof MacKey ? encryptorOf(key) : createBlockEncryptor(key)
  const expanded = hexUpperAscii(xorFold(macBlock))
  const first = encrypt(expanded.subarray(0, DES_BLOCK_BYTES))
  const second = encrypt(xorBlocks(first, expanded.subarray(DES_BLOCK_BYTES)))
  // Only the first half of E2 is expanded: the rest never leaves this function.
  const mac = hexUpperAscii(second.subarray(0, CUP_MAC_BYTES / 2))
  assert(mac.length === CUP_MAC_BYTES, 'the MAC is 8 hex characters')
  return mac
}

/**
 * Whether `mac` (field 64 as received) is the MAC of `macBlock` under `key`. The comparison
 * takes the same time wherever the first difference is, so a terminal cannot find a valid MAC
 * byte by byte. A MAC of the wrong length is simply not valid.
 */
export function verifyCupEcbMac(
  key: MacKey | Uint8Array,
  macBlock: Uint8Array,
  mac: Uint8Array,
): boolean {
  const expected = cupEcbMac(key, macBlock)
  if (mac.length !== expected.length) return false
  return timingSafeEqual(expected, mac)
}

function createBlockEncryptor(key: Uint8Array): BlockEncryptor {
  assert(
    key.length === MAC_KEY_SINGLE_BYTES || key.length === MAC_KEY_DOUBLE_BYTES,
    'a MAC key has 8 or 16 bytes',
  )
  const cipherKey = Buffer.alloc(CIPHER_KEY_BYTES)
  // Single: K‖K‖K (3DES that is DES). Double: K1‖K2‖K1 (two-key 3DES-EDE).
  cipherKey.set(key.subarray(0, MAC_KEY_SINGLE_BYTES), 0)
  cipherKey.set(key.subarray(key.length - MAC_KEY_SINGLE_BYTES), MAC_KEY_SINGLE_BYTES)
  cipherKey.set(key.subarray(0, MAC_KEY_SINGLE_BYTES), 2 * MAC_KEY_SINGLE_BYTES)
  let cipher: Cipher
  try {
    cipher = createCipheriv(CIPHER, cipherKey, null)
  } finally {
    cipherKey.fill(0) // OpenSSL has its own copy (the key schedule).
  }
  cipher.setAutoPadding(false)
  return function encryptBlock(block: Uint8Array): Buffer {
    assert(block.length === DES_BLOCK_BYTES, 'DES encrypts 8-byte blocks')
    // With whole blocks and no padding, update() returns exactly one block and keeps nothing.
    const output = cipher.update(block)
    assert(output.length === DES_BLOCK_BYTES, 'ECB gives one block for one block')
    return output
  }
}

/** XOR of all 8-byte blocks; the missing bytes of a short last block count as 0x00. */
function xorFold(bytes: Uint8Array): Buffer {
  const folded = Buffer.alloc(DES_BLOCK_BYTES)
  for (let index = 0; index < bytes.length; index++) {
    const position = index % DES_BLOCK_BYTES
    folded[position] = (folded[position] ?? 0) ^ (bytes[index] ?? 0)
  }
  return folded
}

function xorBlocks(left: Uint8Array, right: Uint8Array): Buffer {
  assert(left.length === DES_BLOCK_BYTES && right.length === DES_BLOCK_BYTES, 'two DES blocks')
  const result = Buffer.alloc(DES_BLOCK_BYTES)
  for (let index = 0; index < DES_BLOCK_BYTES; index++) {
    result[index] = (left[index] ?? 0) ^ (right[index] ?? 0)
  }
  return result
}

/** Each byte as two ASCII characters 0-9, A-F (uppercase, as the UnionPay algorithm says). */
function hexUpperAscii(bytes: Uint8Array): Buffer {
  const text = Buffer.alloc(2 * bytes.length)
  for (let index = 0; index < bytes.length; index++) {
    const byte = bytes[index] ?? 0
    text[2 * index] = HEX_DIGITS_UPPER[byte >> 4] ?? 0
    text[2 * index + 1] = HEX_DIGITS_UPPER[byte & 0x0f] ?? 0
  }
  return text
}
