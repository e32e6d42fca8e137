import { assert } from '../../../core/assert.js'
import { describeByte, type DecodeError } from '../codec.js'

/**
 * Length-prefixed framing for ISO 8583 over TCP. Pure: no sockets, no timers.
 *
 * - `binary2`: a 2-byte big-endian binary length, then that many bytes (the default).
 * - `ascii4`: 4 ASCII decimal digits, then that many bytes.
 *
 * The length counts the payload only, never the prefix itself.
 */
export type Framing = 'binary2' | 'ascii4'

export const FRAMINGS: readonly Framing[] = ['binary2', 'ascii4']

export const FRAMING_DEFAULT: Framing = 'binary2'

/** Bytes of the length prefix, per framing. */
export const FRAME_PREFIX_BYTES: Readonly<Record<Framing, number>> = { binary2: 2, ascii4: 4 }

/** The largest payload a prefix can declare, per framing. */
export const FRAME_PAYLOAD_BYTES_MAX: Readonly<Record<Framing, number>> = {
  binary2: 0xffff,
  ascii4: 9_999,
}

const ASCII_ZERO = 0x30
const ASCII_NINE = 0x39

export function isFraming(value: unknown): value is Framing {
  return value === 'binary2' || value === 'ascii4'
}

export type FrameErrorCode = 'frame_too_large' | 'bad_length_prefix' | 'empty_frame'

export type FrameEvent =
  | { readonly type: 'frame'; readonly frame: Buffer }
  | {
      readonly type: 'error'
      readonly code: FrameErrorCode
      /** The declared payload length, or null when the prefix was not a length at all. */
      readonly declared: number | null
      readonly max: number
    }

/**
 * Reassembles frames from arbitrary chunks of a byte stream.
 *
 * The declared length is checked against `frameBytesMax` as soon as the prefix is complete and
 * before any payload byte is kept, so a hostile prefix costs nothing but the prefix. At most
 * `frameBytesMax + prefix` bytes are held between pushes. An error is terminal: after a bad
 * prefix the stream position is unknowable, so the caller must drop the connection, and pushing
 * again is a bug.
 *
 * ```ts
 * const reader = new FrameReader('binary2', 4096)
 * for (const event of reader.push(chunk)) if (event.type === 'frame') handle(event.frame)
 * ```
 */
export class FrameReader {
  readonly framing: Framing
  readonly frameBytesMax: number
  readonly #prefix: Buffer
  #prefixFilled = 0
  #payload: Buffer | null = null
  #payloadFilled = 0
  #failed = false

  constructor(framing: Framing, frameBytesMax: number) {
    assert(isFraming(framing), `FrameReader: unknown framing ${String(framing)}`)
    assert(
      Number.isSafeInteger(frameBytesMax) &&
        frameBytesMax >= 1 &&
        frameBytesMax <= FRAME_PAYLOAD_BYTES_MAX[framing],
      `FrameReader: frameBytesMax ${frameBytesMax} out of range for ${framing}`,
    )
    this.framing = framing
    this.frameBytesMax = frameBytesMax
    this.#prefix = Buffer.alloc(FRAME_PREFIX_BYTES[framing])
  }

  /** True after an error event: the stream can no longer be read. */
  get failed(): boolean {
    return this.#failed
  }

  /** Bytes of an incomplete frame received so far (prefix and payload). */
  get bufferedBytes(): number {
    return this.#prefixFilled + this.#payloadFilled
  }

  /** Consumes a chunk; returns the frames it completed, in order, and at most one final error. */
  push(chunk: Buffer): FrameEvent[] {
    assert(!this.#failed, 'FrameReader: push after a framing error')
    const events: FrameEvent[] = []
    let offset = 0
    while (offset < chunk.length && !this.#failed) {
      offset =
        this.#payload === null
          ? this.#readPrefix(chunk, offset, events)
          : this.#readPayload(chunk, offset, events)
    }
    assert(offset === chunk.length || this.#failed, 'FrameReader: chunk not fully consumed')
    assert(
      this.bufferedBytes <= this.frameBytesMax + this.#prefix.length,
      'FrameReader: buffered beyond the maximum',
    )
    return events
  }

  #readPrefix(chunk: Buffer, offset: number, events: FrameEvent[]): number {
    const prefixBytes = this.#prefix.length
    const take = Math.min(prefixBytes - this.#prefixFilled, chunk.length - offset)
    chunk.copy(this.#prefix, this.#prefixFilled, offset, offset + take)
    if (this.framing === 'ascii4') {
      // Reject at the first non-digit: there is no point in waiting for the rest of the prefix.
      for (let index = this.#prefixFilled; index < this.#prefixFilled + take; index += 1) {
        if (!isAsciiDigit(this.#prefix[index] ?? 0)) {
          return this.#fail(events, 'bad_length_prefix', null, offset + take)
        }
      }
    }
    this.#prefixFilled += take
    const next = offset + take
    if (this.#prefixFilled < prefixBytes) return next

    const declared = this.#declaredLength()
    if (declared === 0) return this.#fail(events, 'empty_frame', 0, next)
    if (declared > this.frameBytesMax) return this.#fail(events, 'frame_too_large', declared, next)
    this.#payload = Buffer.allocUnsafe(declared)
    this.#payloadFilled = 0
    return next
  }

  #readPayload(chunk: Buffer, offset: number, events: FrameEvent[]): number {
    const payload = this.#payload
    assert(payload !== null, 'FrameReader: reading payload without a declared length')
    const take = Math.min(payload.length - this.#payloadFilled, chunk.length - offset)
    chunk.copy(payload, this.#payloadFilled, offset, offset + take)
    this.#payloadFilled += take
    if (this.#payloadFilled === payload.length) {
      events.push({ type: 'frame', frame: payload })
      this.#payload = null
      this.#payloadFilled = 0
      this.#prefixFilled = 0
    }
    return offset + take
  }

  #declaredLength(): number {
    const declared = declaredFrameLength(this.#prefix, this.framing)
    assert(declared !== null, 'FrameReader: ascii4 digits were checked as they arrived')
    return declared
  }

  #fail(events: FrameEvent[], code: FrameErrorCode, declared: number | null, next: number): number {
    events.push({ type: 'error', code, declared, max: this.frameBytesMax })
    this.#failed = true
    this.#payload = null
    this.#payloadFilled = 0
    this.#prefixFilled = 0
    return next
  }
}

/**
 * Prefixes a payload with its length, in one buffer (one write, one segment when small).
 * The payload must not be empty and must fit both the framing and `frameBytesMax`.
 */
export function encodeFrame(
  framing: Framing,
  payload: Buffer,
  frameBytesMax: number = FRAME_PAYLOAD_BYTES_MAX[framing],
): Buffer {
  assert(isFraming(framing), `encodeFrame: unknown framing ${String(framing)}`)
  assert(
    frameBytesMax >= 1 && frameBytesMax <= FRAME_PAYLOAD_BYTES_MAX[framing],
    `encodeFrame: frameBytesMax ${frameBytesMax} out of range for ${framing}`,
  )
  assert(
    payload.length >= 1 && payload.length <= frameBytesMax,
    `encodeFrame: payload of ${payload.length} bytes outside 1..${frameBytesMax}`,
  )
  const prefixBytes = FRAME_PREFIX_BYTES[framing]
  const frame = Buffer.allocUnsafe(prefixBytes + payload.length)
  if (framing === 'binary2') frame.writeUInt16BE(payload.length, 0)
  else frame.write(String(payload.length).padStart(prefixBytes, '0'), 0, 'latin1')
  payload.copy(frame, prefixBytes)
  return frame
}

/**
 * The payload length a frame prefix declares, or null when fewer bytes than the prefix are
 * present or an ascii4 prefix is not four digits. Lets a reader check a limit before buffering.
 */
export function declaredFrameLength(bytes: Uint8Array, framing: Framing): number | null {
  const prefixBytes = FRAME_PREFIX_BYTES[framing]
  if (bytes.length < prefixBytes) return null
  let declared = 0
  for (let index = 0; index < prefixBytes; index += 1) {
    const byte = bytes[index] ?? -1
    if (framing === 'binary2') {
      declared = declared * 256 + byte
      continue
    }
    if (byte < ASCII_ZERO || byte > ASCII_NINE) return null
    declared = declared * 10 + byte - ASCII_ZERO
  }
  return declared
}

/** One frame read from a whole buffer (a capture, a test vector), with a diagnosis when not. */
export type FrameResult =
  | { readonly ok: true; readonly payload: Uint8Array; readonly consumed: number }
  | {
      readonly ok: false
      readonly error: DecodeError
      /** The declared payload length when the prefix was readable, else null. */
      readonly declaredBytes: number | null
    }

function frameError(
  code: 'truncated' | 'trailing_bytes' | 'bad_length_prefix',
  offset: number,
  expected: string,
  found: string,
  declaredBytes: number | null,
): FrameResult {
  const error: DecodeError = { code, field: null, offset, expected, found, mti: null }
  return { ok: false, error, declaredBytes }
}

/**
 * Read the first length-prefixed frame from the start of `bytes`. When fewer bytes follow than
 * the prefix declares, the error is `truncated` with the declared and actual counts (on a stream
 * that means "wait for more"; a stream is read with FrameReader).
 */
export function readLengthPrefixedFrame(bytes: Uint8Array, framing: Framing): FrameResult {
  const prefixBytes = FRAME_PREFIX_BYTES[framing]
  const declared = declaredFrameLength(bytes, framing)
  if (declared === null) {
    if (bytes.length < prefixBytes) {
      const expected = `${prefixBytes}-byte length prefix`
      return frameError('truncated', bytes.length, expected, `${bytes.length} bytes`, null)
    }
    let bad = 0
    while (bad < prefixBytes && isAsciiDigit(bytes[bad] ?? -1)) bad += 1
    const found = describeByte(bytes[bad] ?? 0)
    return frameError('bad_length_prefix', bad, `${prefixBytes} ASCII digits`, found, null)
  }
  const actual = bytes.length - prefixBytes
  if (actual < declared) {
    const expected = `${declared} bytes after the ${prefixBytes}-byte length prefix`
    return frameError('truncated', bytes.length, expected, `${actual} bytes`, declared)
  }
  const consumed = prefixBytes + declared
  return { ok: true, payload: bytes.subarray(prefixBytes, consumed), consumed }
}

/**
 * Check that `bytes` is exactly one frame: the declared length must match what follows.
 * Reports `truncated` (fewer bytes) or `trailing_bytes` (more), each with declared vs actual.
 */
export function checkFrameLength(bytes: Uint8Array, framing: Framing): FrameResult {
  const frame = readLengthPrefixedFrame(bytes, framing)
  if (!frame.ok || frame.consumed === bytes.length) return frame
  const prefixBytes = FRAME_PREFIX_BYTES[framing]
  const declared = frame.consumed - prefixBytes
  const expected = `${declared} bytes after the ${prefixBytes}-byte length prefix`
  const found = `${bytes.length - prefixBytes} bytes`
  return frameError('trailing_bytes', frame.consumed, expected, found, declared)
}

function isAsciiDigit(byte: number): boolean {
  return byte >= ASCII_ZERO && byte <= ASCII_NINE
}
