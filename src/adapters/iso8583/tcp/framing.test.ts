import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { AssertionFailure } from '../../../core/assert.js'
import {
  encodeFrame,
  FRAME_PAYLOAD_BYTES_MAX,
  FRAME_PREFIX_BYTES,
  FrameReader,
  FRAMINGS,
} from './framing.js'
import type { FrameEvent, Framing } from './framing.js'

const framing = fc.constantFrom<Framing>(...FRAMINGS)

function frames(events: readonly FrameEvent[]): Buffer[] {
  return events.flatMap((event) => (event.type === 'frame' ? [event.frame] : []))
}

function errors(events: readonly FrameEvent[]): FrameEvent[] {
  return events.filter((event) => event.type === 'error')
}

/** Splits `bytes` at the given cut points (any order, duplicates and out-of-range ignored). */
function split(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.filter((cut) => cut > 0 && cut < bytes.length))].sort(
    (a, b) => a - b,
  )
  const pieces: Buffer[] = []
  let start = 0
  for (const point of [...points, bytes.length]) {
    pieces.push(bytes.subarray(start, point))
    start = point
  }
  return pieces
}

describe('encodeFrame', () => {
  it('writes a 2-byte big-endian length for binary2', () => {
    const frame = encodeFrame('binary2', Buffer.alloc(0x0123, 0x41))
    expect(frame.subarray(0, 2)).toEqual(Buffer.from([0x01, 0x23]))
    expect(frame.length).toBe(2 + 0x0123)
  })

  it('writes 4 ASCII digits for ascii4', () => {
    const frame = encodeFrame('ascii4', Buffer.from('hello'))
    expect(frame.toString('latin1')).toBe('0005hello')
  })

  it('accepts the largest payload of each framing and rejects one byte more', () => {
    for (const each of FRAMINGS) {
      const max = FRAME_PAYLOAD_BYTES_MAX[each]
      expect(encodeFrame(each, Buffer.alloc(max)).length).toBe(FRAME_PREFIX_BYTES[each] + max)
      expect(() => encodeFrame(each, Buffer.alloc(max + 1))).toThrow(AssertionFailure)
    }
  })

  it('rejects an empty payload and one over the configured maximum', () => {
    expect(() => encodeFrame('binary2', Buffer.alloc(0))).toThrow(AssertionFailure)
    expect(encodeFrame('binary2', Buffer.alloc(10), 10).length).toBe(12)
    expect(() => encodeFrame('binary2', Buffer.alloc(11), 10)).toThrow(AssertionFailure)
  })
})

describe('FrameReader', () => {
  it('reassembles frames split at random chunk boundaries', () => {
    fc.assert(
      fc.property(
        framing,
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.nat({ max: 7_000 }), { maxLength: 40 }),
        (each, payloads, cuts) => {
          const max = 300
          const stream = Buffer.concat(
            payloads.map((payload) => encodeFrame(each, Buffer.from(payload), max)),
          )
          const reader = new FrameReader(each, max)
          const received: Buffer[] = []
          for (const piece of split(stream, cuts)) {
            const events = reader.push(piece)
            expect(errors(events)).toEqual([])
            received.push(...frames(events))
            expect(reader.bufferedBytes).toBeLessThanOrEqual(max + FRAME_PREFIX_BYTES[each])
          }
          expect(received).toEqual(payloads.map((payload) => Buffer.from(payload)))
          expect(reader.bufferedBytes).toBe(0)
        },
      ),
    )
  })

  it('delivers frames one byte at a time', () => {
    const reader = new FrameReader('ascii4', 16)
    const stream = Buffer.concat([
      encodeFrame('ascii4', Buffer.from('0800'), 16),
      encodeFrame('ascii4', Buffer.from('0810abc'), 16),
    ])
    const received = [...stream].flatMap((byte) => frames(reader.push(Buffer.from([byte]))))
    expect(received.map((frame) => frame.toString('latin1'))).toEqual(['0800', '0810abc'])
  })

  it('accepts a frame of exactly the maximum and rejects one byte more', () => {
    const exact = new FrameReader('binary2', 100)
    expect(frames(exact.push(encodeFrame('binary2', Buffer.alloc(100))))).toHaveLength(1)
    const over = new FrameReader('binary2', 100)
    expect(over.push(encodeFrame('binary2', Buffer.alloc(101)))).toEqual([
      { type: 'error', code: 'frame_too_large', declared: 101, max: 100 },
    ])
  })

  it('rejects a declared length over the maximum on the prefix alone, holding nothing', () => {
    fc.assert(
      fc.property(framing, fc.integer({ min: 1, max: 9_998 }), (each, max) => {
        const declared = FRAME_PAYLOAD_BYTES_MAX[each]
        const reader = new FrameReader(each, max)
        const prefix = encodeFrame(each, Buffer.alloc(declared)).subarray(
          0,
          FRAME_PREFIX_BYTES[each],
        )
        const events = reader.push(prefix)
        expect(events).toEqual([{ type: 'error', code: 'frame_too_large', declared, max }])
        expect(reader.failed).toBe(true)
        expect(reader.bufferedBytes).toBe(0)
      }),
    )
  })

  it('keeps the frames before an error and reports the error last', () => {
    const reader = new FrameReader('binary2', 8)
    const stream = Buffer.concat([
      encodeFrame('binary2', Buffer.from('ok')),
      Buffer.from([0xff, 0xff, 0x00, 0x01, 0x02]),
    ])
    expect(reader.push(stream)).toEqual([
      { type: 'frame', frame: Buffer.from('ok') },
      { type: 'error', code: 'frame_too_large', declared: 0xffff, max: 8 },
    ])
  })

  it('rejects non-digits in an ascii4 prefix at the first bad byte', () => {
    for (const bad of ['00a5', ' 012', '-001', '1.00', '+123']) {
      const reader = new FrameReader('ascii4', 100)
      expect(reader.push(Buffer.from(`${bad}payload`, 'latin1'))).toEqual([
        { type: 'error', code: 'bad_length_prefix', declared: null, max: 100 },
      ])
    }
    const early = new FrameReader('ascii4', 100)
    expect(early.push(Buffer.from('0x', 'latin1'))).toEqual([
      { type: 'error', code: 'bad_length_prefix', declared: null, max: 100 },
    ])
  })

  it('rejects a zero length as an empty frame', () => {
    expect(new FrameReader('binary2', 10).push(Buffer.from([0, 0]))).toEqual([
      { type: 'error', code: 'empty_frame', declared: 0, max: 10 },
    ])
    expect(new FrameReader('ascii4', 10).push(Buffer.from('0000'))).toEqual([
      { type: 'error', code: 'empty_frame', declared: 0, max: 10 },
    ])
  })

  it('treats a push after an error as a bug', () => {
    const reader = new FrameReader('binary2', 10)
    reader.push(Buffer.from([0, 0]))
    expect(() => reader.push(Buffer.from([0, 1, 0]))).toThrow(AssertionFailure)
  })

  it('never throws on random bytes and ends in at most one error', () => {
    fc.assert(
      fc.property(
        framing,
        fc.integer({ min: 1, max: 64 }),
        fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 20 }),
        (each, max, chunks) => {
          const reader = new FrameReader(each, max)
          for (const chunk of chunks) {
            if (reader.failed) break
            const events = reader.push(Buffer.from(chunk))
            const errorIndex = events.findIndex((event) => event.type === 'error')
            expect(errorIndex === -1 || errorIndex === events.length - 1).toBe(true)
            for (const frame of frames(events)) {
              expect(frame.length).toBeGreaterThanOrEqual(1)
              expect(frame.length).toBeLessThanOrEqual(max)
            }
            expect(reader.bufferedBytes).toBeLessThanOrEqual(max + FRAME_PREFIX_BYTES[each])
          }
        },
      ),
    )
  })

  it('rejects a maximum the framing cannot declare', () => {
    expect(() => new FrameReader('ascii4', 10_000)).toThrow(AssertionFailure)
    expect(() => new FrameReader('binary2', 0)).toThrow(AssertionFailure)
    expect(() => new FrameReader('binary2', 0x10000)).toThrow(AssertionFailure)
  })
})
