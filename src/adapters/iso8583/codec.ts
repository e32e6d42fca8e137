import { Buffer } from 'node:buffer'
import { assert } from '../../core/assert.js'
import { maskPan as maskCardNumber, PAN_DIGITS_MIN } from '../../core/card.js'
import type { Dialect, FieldDef, FieldType, Sensitivity } from './spec.js'

/**
 * ISO 8583 encode and decode driven by a Dialect (a validated spec file). Both directions return
 * errors as values; decode never throws, whatever the bytes. Field values are strings: n, an,
 * ans, z and x+n as their characters (nothing trimmed), b as upper-case hex.
 */

export interface IsoMessage {
  readonly mti: string
  /** Field number → value. Field 1 (the secondary bitmap) is never here: the codec derives it. */
  readonly fields: ReadonlyMap<number, string>
  /** TPDU and header as upper-case hex, for dialects that frame the MTI with them. */
  readonly header?: { readonly tpdu: string; readonly header: string }
}

export const DECODE_ERROR_CODES = [
  'truncated',
  'trailing_bytes',
  'bad_bitmap',
  'bad_mti',
  'length_over_max',
  'bad_length_prefix',
  'bad_content',
  'unknown_field',
  'bad_header',
] as const
export type DecodeErrorCode = (typeof DECODE_ERROR_CODES)[number]

/** Why bytes are not a message. Safe to log: never holds the content of a sensitive field. */
export interface DecodeError {
  readonly code: DecodeErrorCode
  /** The data field, or null for the header, MTI, bitmap or frame. */
  readonly field: number | null
  /** Byte offset in the input where it went wrong. */
  readonly offset: number
  readonly expected: string
  readonly found: string
  /** The MTI when it was readable, so a channel can still answer with field 39 = 30. */
  readonly mti: string | null
}

export type DecodeResult =
  | { readonly ok: true; readonly message: IsoMessage }
  | { readonly ok: false; readonly error: DecodeError }

export type EncodeErrorCode =
  'bad_mti' | 'bad_header' | 'unknown_field' | 'bad_content' | 'length_over_max'

/** Why a message cannot be encoded in a dialect. Safe to log, like DecodeError. */
export interface EncodeError {
  readonly code: EncodeErrorCode
  readonly field: number | null
  readonly expected: string
  readonly found: string
}

export type EncodeResult =
  | { readonly ok: true; readonly bytes: Uint8Array }
  | { readonly ok: false; readonly error: EncodeError }

// ---------------------------------------------------------------------------------------------
// Byte classes

const DIGIT_0 = 0x30
const DIGIT_9 = 0x39
const SPACE = 0x20
const SIGN_CREDIT = 0x43 // 'C'
const SIGN_DEBIT = 0x44 // 'D'
const EQUALS = 0x3d // '=': the track 2 separator

function isDigit(byte: number): boolean {
  return byte >= DIGIT_0 && byte <= DIGIT_9
}

function isAlphanumericOrSpace(byte: number): boolean {
  const letter = (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
  return letter || isDigit(byte) || byte === SPACE
}

function isTrackCharacter(byte: number): boolean {
  return isDigit(byte) || byte === EQUALS || byte === SIGN_DEBIT
}

/** The value of one hex digit byte, or -1. */
function hexValue(byte: number): number {
  if (isDigit(byte)) return byte - DIGIT_0
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57
  return -1
}

function isHexText(text: string): boolean {
  return /^[0-9A-Fa-f]*$/.test(text)
}

/** A byte for an error message: hex, and the character when it is printable ASCII. */
export function describeByte(byte: number): string {
  const hex = `0x${byte.toString(16).toUpperCase().padStart(2, '0')}`
  return byte >= 0x21 && byte <= 0x7e ? `${hex} ('${String.fromCharCode(byte)}')` : hex
}

function unitName(type: FieldType): string {
  switch (type) {
    case 'n':
    case 'x+n':
      return 'digits'
    case 'z':
    case 'an':
    case 'ans':
      return 'characters'
    case 'b':
      return 'bytes'
  }
}

function contentExpectation(def: FieldDef): string {
  const bcd = def.encoding === 'bcd'
  switch (def.type) {
    case 'n':
      return bcd ? 'BCD digits (nibbles 0-9)' : 'ASCII digits 0-9'
    case 'z':
      return bcd ? 'BCD track nibbles (0-9, D)' : 'track characters (0-9, =, D)'
    case 'x+n':
      return bcd ? "sign 'C' or 'D' then BCD digits" : "sign 'C' or 'D' then digits 0-9"
    case 'an':
      return 'letters, digits and spaces'
    case 'ans':
      return 'characters'
    case 'b':
      return def.encoding === 'ascii' ? 'hex digits 0-9, A-F' : 'bytes'
  }
}

// ---------------------------------------------------------------------------------------------
// Decode

interface Cursor {
  offset: number
  readonly mti: string | null
}

function fail(
  code: DecodeErrorCode,
  field: number | null,
  offset: number,
  expected: string,
  found: string,
  mti: string | null,
): DecodeError {
  return { code, field, offset, expected, found, mti }
}

function isError(value: object | null): value is DecodeError {
  return value !== null && 'code' in value
}

function bytesLeft(buf: Buffer, offset: number): string {
  const left = Math.max(0, buf.length - offset)
  return `${left} byte${left === 1 ? '' : 's'}`
}

/**
 * Decode one message (without any TCP length prefix) in a dialect.
 *
 * @example
 * const result = decode(loadDialect('iso87-ascii'), bytes)
 * if (!result.ok) log.warn(formatDecodeError(result.error))
 */
export function decode(dialect: Dialect, bytes: Uint8Array): DecodeResult {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const header = readHeader(dialect, buf)
  if (isError(header)) return { ok: false, error: header }
  const mtiStart = header === null ? 0 : header.end
  const mti = readMti(dialect, buf, mtiStart)
  if (typeof mti !== 'string') return { ok: false, error: mti }
  const cursor: Cursor = { offset: mtiStart + (dialect.mti === 'ascii' ? 4 : 2), mti }
  const bitmap = readBitmap(dialect, buf, cursor)
  if (isError(bitmap)) return { ok: false, error: bitmap }
  const fields = new Map<number, string>()
  let lastField: number | null = null
  for (let index = 0; index < bitmap.length; index += 1) {
    const bits = bitmap[index] ?? 0
    if (bits === 0) continue
    for (let bit = 0; bit < 8; bit += 1) {
      if ((bits & (0x80 >> bit)) === 0) continue
      const number = index * 8 + bit + 1
      if (number === 1) continue
      const def = dialect.fields[number]
      if (def === undefined) {
        const expected = `only fields the ${dialect.name} spec defines`
        const found = `bit ${number} set in the bitmap`
        const error = fail('unknown_field', number, cursor.offset, expected, found, mti)
        return { ok: false, error }
      }
      const value = readField(def, buf, cursor)
      if (typeof value !== 'string') return { ok: false, error: value }
      fields.set(number, value)
      lastField = number
    }
  }
  if (cursor.offset !== buf.length) {
    const after = lastField === null ? 'the bitmap' : `field ${lastField}`
    const expected = `end of message after ${after}`
    const found = `${bytesLeft(buf, cursor.offset)} more`
    return {
      ok: false,
      error: fail('trailing_bytes', lastField, cursor.offset, expected, found, mti),
    }
  }
  const message: IsoMessage =
    header === null ? { mti, fields } : { mti, fields, header: header.value }
  return { ok: true, message }
}

interface HeaderRead {
  readonly value: { readonly tpdu: string; readonly header: string }
  readonly end: number
}

function readHeader(dialect: Dialect, buf: Buffer): HeaderRead | DecodeError | null {
  if (dialect.header === null) return null
  const { tpduBytes, headerBytes, tpduIds } = dialect.header
  const end = tpduBytes + headerBytes
  if (buf.length < end) {
    const expected = `${tpduBytes}-byte TPDU and ${headerBytes}-byte header`
    return fail('truncated', null, buf.length, expected, bytesLeft(buf, 0), null)
  }
  const tpdu = buf.toString('hex', 0, tpduBytes).toUpperCase()
  if (tpduIds !== undefined && tpduBytes > 0 && !tpduIds.includes(tpdu.slice(0, 2))) {
    const expected = `TPDU id ${tpduIds.join(' or ')}`
    return fail('bad_header', null, 0, expected, tpdu.slice(0, 2), null)
  }
  const value = { tpdu, header: buf.toString('hex', tpduBytes, end).toUpperCase() }
  return { value, end }
}

function readMti(dialect: Dialect, buf: Buffer, start: number): string | DecodeError {
  const size = dialect.mti === 'ascii' ? 4 : 2
  if (buf.length < start + size) {
    const expected = `MTI (${size} bytes)`
    return fail('truncated', null, start, expected, bytesLeft(buf, start), null)
  }
  for (let index = start; index < start + size; index += 1) {
    const byte = buf[index] ?? -1
    const ok = dialect.mti === 'ascii' ? isDigit(byte) : (byte & 0x0f) <= 9 && byte >> 4 <= 9
    if (!ok) {
      const expected = dialect.mti === 'ascii' ? '4 ASCII digits' : '4 BCD digits'
      return fail('bad_mti', null, index, expected, describeByte(byte), null)
    }
  }
  return dialect.mti === 'ascii'
    ? buf.toString('latin1', start, start + size)
    : buf.toString('hex', start, start + size)
}

/** Returns the bitmap bits as 8 or 16 bytes and moves the cursor past the bitmap. */
function readBitmap(dialect: Dialect, buf: Buffer, cursor: Cursor): Uint8Array | DecodeError {
  const primary = readBitmapPart(dialect, buf, cursor, 'primary')
  if (isError(primary)) return primary
  if (((primary[0] ?? 0) & 0x80) === 0) return primary
  if (!dialect.bitmap.secondary) {
    const expected = `bit 1 clear: ${dialect.name} has no secondary bitmap`
    const at = cursor.offset - partSize(dialect)
    return fail('bad_bitmap', null, at, expected, 'bit 1 set', cursor.mti)
  }
  const secondary = readBitmapPart(dialect, buf, cursor, 'secondary')
  if (isError(secondary)) return secondary
  const bits = new Uint8Array(16)
  bits.set(primary, 0)
  bits.set(secondary, 8)
  return bits
}

function partSize(dialect: Dialect): number {
  return dialect.bitmap.encoding === 'hex-ascii' ? 16 : 8
}

function readBitmapPart(
  dialect: Dialect,
  buf: Buffer,
  cursor: Cursor,
  which: 'primary' | 'secondary',
): Uint8Array | DecodeError {
  const start = cursor.offset
  const size = partSize(dialect)
  const hex = dialect.bitmap.encoding === 'hex-ascii'
  if (buf.length < start + size) {
    const expected = `${which} bitmap (${size} ${hex ? 'hex characters' : 'bytes'})`
    return fail('truncated', null, start, expected, bytesLeft(buf, start), cursor.mti)
  }
  cursor.offset = start + size
  if (!hex) return buf.subarray(start, start + size)
  const bits = new Uint8Array(8)
  for (let index = 0; index < 16; index += 1) {
    const byte = buf[start + index] ?? -1
    const nibble = hexValue(byte)
    if (nibble < 0) {
      const expected = `${which} bitmap as 16 hex characters`
      return fail('bad_bitmap', null, start + index, expected, describeByte(byte), cursor.mti)
    }
    const at = index >> 1
    bits[at] = (bits[at] ?? 0) | (index % 2 === 0 ? nibble << 4 : nibble)
  }
  return bits
}

function readField(def: FieldDef, buf: Buffer, cursor: Cursor): string | DecodeError {
  let units = def.size
  if (def.length !== 'fixed') {
    const declared = readLengthPrefix(def, buf, cursor)
    if (typeof declared !== 'number') return declared
    units = declared
  }
  const start = cursor.offset
  const wire = wireBytes(def, units)
  if (buf.length < start + wire) {
    const what = `${units} ${unitName(def.type)} (${wire} bytes)`
    const expected = def.length === 'fixed' ? what : `${what} as the ${def.length} prefix declares`
    return fail('truncated', def.number, start, expected, bytesLeft(buf, start), cursor.mti)
  }
  cursor.offset = start + wire
  return readContent(def, buf, start, units, cursor.mti)
}

function readLengthPrefix(def: FieldDef, buf: Buffer, cursor: Cursor): number | DecodeError {
  const start = cursor.offset
  const size = def.prefixBytes
  if (buf.length < start + size) {
    const expected = `${def.length} length prefix (${size} bytes)`
    return fail('truncated', def.number, start, expected, bytesLeft(buf, start), cursor.mti)
  }
  let declared = 0
  for (let index = start; index < start + size; index += 1) {
    const byte = buf[index] ?? -1
    if (def.prefixEncoding === 'binary') {
      declared = declared * 256 + byte
      continue
    }
    const high = byte >> 4
    const low = byte & 0x0f
    const ok = def.prefixEncoding === 'ascii' ? isDigit(byte) : high <= 9 && low <= 9
    if (!ok) {
      const expected = `${def.length} length prefix in ${def.prefixEncoding.toUpperCase()} digits`
      return fail('bad_length_prefix', def.number, index, expected, describeByte(byte), cursor.mti)
    }
    declared =
      def.prefixEncoding === 'ascii'
        ? declared * 10 + byte - DIGIT_0
        : declared * 100 + high * 10 + low
  }
  if (declared > def.size) {
    const unit = unitName(def.type)
    const expected = `at most ${def.size} ${unit}`
    const found = `${def.length} prefix declares ${declared}`
    return fail('length_over_max', def.number, start, expected, found, cursor.mti)
  }
  cursor.offset = start + size
  return declared
}

/** Bytes a field's content takes on the wire for a length in the field's units. */
function wireBytes(def: FieldDef, units: number): number {
  if (def.encoding === 'binary') return units
  if (def.encoding === 'ascii') return def.type === 'b' ? units * 2 : units
  if (def.type === 'x+n') return 1 + Math.ceil((units - 1) / 2)
  return Math.ceil(units / 2)
}

function readContent(
  def: FieldDef,
  buf: Buffer,
  start: number,
  units: number,
  mti: string | null,
): string | DecodeError {
  const end = start + wireBytes(def, units)
  if (def.encoding === 'binary') return buf.toString('hex', start, end).toUpperCase()
  if (def.encoding === 'bcd') return readBcd(def, buf, start, units, mti)
  const bad = firstBadAsciiByte(def, buf, start, end)
  if (bad >= 0) return badContent(def, buf, bad, mti)
  const text = buf.toString('latin1', start, end)
  return def.type === 'b' ? text.toUpperCase() : text
}

/** Index of the first byte outside the field's character class, or -1. */
function firstBadAsciiByte(def: FieldDef, buf: Buffer, start: number, end: number): number {
  const type = def.type
  if (type === 'ans') return -1 // Any byte: ans is decoded as Latin-1, one character a byte.
  for (let index = start; index < end; index += 1) {
    const byte = buf[index] ?? -1
    let ok: boolean
    switch (type) {
      case 'n':
        ok = isDigit(byte)
        break
      case 'an':
        ok = isAlphanumericOrSpace(byte)
        break
      case 'z':
        ok = isTrackCharacter(byte)
        break
      case 'x+n':
        ok = index === start ? byte === SIGN_CREDIT || byte === SIGN_DEBIT : isDigit(byte)
        break
      case 'b':
        ok = hexValue(byte) >= 0
        break
    }
    if (!ok) return index
  }
  return -1
}

function badContent(def: FieldDef, buf: Buffer, at: number, mti: string | null): DecodeError {
  const found =
    def.sensitive === 'none'
      ? `byte ${describeByte(buf[at] ?? 0)}`
      : `a byte out of range (content of a ${def.sensitive} field is not shown)`
  return fail('bad_content', def.number, at, contentExpectation(def), found, mti)
}

/** BCD: two digits a byte; an odd length has one pad nibble (0 or F) on the padding side. */
function readBcd(
  def: FieldDef,
  buf: Buffer,
  start: number,
  units: number,
  mti: string | null,
): string | DecodeError {
  let digitsStart = start
  let sign = ''
  let digits = units
  if (def.type === 'x+n') {
    const byte = buf[start] ?? -1
    if (byte !== SIGN_CREDIT && byte !== SIGN_DEBIT) return badContent(def, buf, start, mti)
    sign = String.fromCharCode(byte)
    digitsStart = start + 1
    digits = units - 1
  }
  const end = digitsStart + Math.ceil(digits / 2)
  const odd = digits % 2 === 1
  const padIndex = def.padding === 'left' ? 0 : (end - digitsStart) * 2 - 1
  for (let index = digitsStart; index < end; index += 1) {
    const byte = buf[index] ?? -1
    for (let half = 0; half < 2; half += 1) {
      const nibble = half === 0 ? byte >> 4 : byte & 0x0f
      const position = (index - digitsStart) * 2 + half
      const ok =
        odd && position === padIndex
          ? nibble === 0 || nibble === 0x0f
          : nibble <= 9 || (def.type === 'z' && nibble === 0x0d)
      if (!ok) return badContent(def, buf, index, mti)
    }
  }
  let text = buf.toString('hex', digitsStart, end)
  if (odd) text = def.padding === 'left' ? text.slice(1) : text.slice(0, -1)
  if (def.type === 'z') text = text.replaceAll('d', '=')
  return sign + text
}

// ---------------------------------------------------------------------------------------------
// Encode

interface PlannedField {
  readonly def: FieldDef
  /** The value after padding a short fixed value. */
  readonly value: string
  readonly units: number
  readonly wire: number
}

function encodeFailure(
  code: EncodeErrorCode,
  field: number | null,
  expected: string,
  found: string,
): EncodeResult {
  return { ok: false, error: { code, field, expected, found } }
}

/**
 * Encode a message in a dialect (without any TCP length prefix). Short fixed n values are padded
 * with zeros and short fixed an/ans values with spaces, on the field's padding side.
 */
export function encode(dialect: Dialect, message: IsoMessage): EncodeResult {
  if (!/^\d{4}$/.test(message.mti)) {
    return encodeFailure('bad_mti', null, '4 digits', `${message.mti.length} characters`)
  }
  const headerProblem = checkHeader(dialect, message)
  if (headerProblem !== null) return { ok: false, error: headerProblem }
  for (const number of message.fields.keys()) {
    const known = Number.isInteger(number) && number >= 2 && number <= dialect.fieldNumberMax
    if (!known || dialect.fields[number] === undefined) {
      const expected = `a field the ${dialect.name} spec defines (2-${dialect.fieldNumberMax})`
      return encodeFailure('unknown_field', number, expected, `field ${number}`)
    }
  }
  const planned: PlannedField[] = []
  let secondary = false
  let total = (dialect.header?.tpduBytes ?? 0) + (dialect.header?.headerBytes ?? 0)
  total += dialect.mti === 'ascii' ? 4 : 2
  for (let number = 2; number <= dialect.fieldNumberMax; number += 1) {
    const value = message.fields.get(number)
    if (value === undefined) continue
    const def = dialect.fields[number]
    assert(def !== undefined, `field ${number} was checked against the dialect`)
    const plan = planField(def, value)
    if ('code' in plan) return { ok: false, error: plan }
    planned.push(plan)
    total += def.prefixBytes + plan.wire
    if (number > 64) secondary = true
  }
  total += partSize(dialect) * (secondary ? 2 : 1)
  const buf = Buffer.alloc(total)
  let offset = writeHeaderAndMti(dialect, message, buf)
  offset = writeBitmap(dialect, planned, secondary, buf, offset)
  for (const plan of planned) offset = writeField(plan, buf, offset)
  assert(offset === total, `encoded ${offset} bytes, planned ${total}`)
  return { ok: true, bytes: buf }
}

function checkHeader(dialect: Dialect, message: IsoMessage): EncodeError | null {
  const spec = dialect.header
  if (spec === null) {
    if (message.header === undefined) return null
    const expected = `no TPDU or header in ${dialect.name}`
    return { code: 'bad_header', field: null, expected, found: 'a header' }
  }
  const header = message.header
  if (header === undefined) {
    const expected = `a ${spec.tpduBytes}-byte TPDU and ${spec.headerBytes}-byte header`
    return { code: 'bad_header', field: null, expected, found: 'no header' }
  }
  const tpduOk = header.tpdu.length === spec.tpduBytes * 2 && isHexText(header.tpdu)
  const headerOk = header.header.length === spec.headerBytes * 2 && isHexText(header.header)
  if (!tpduOk || !headerOk) {
    const expected = `TPDU as ${spec.tpduBytes * 2} and header as ${spec.headerBytes * 2} hex digits`
    const found = `${header.tpdu.length} and ${header.header.length} characters`
    return { code: 'bad_header', field: null, expected, found }
  }
  return null
}

function planField(def: FieldDef, raw: string): PlannedField | EncodeError {
  const value = def.length === 'fixed' ? padFixed(def, raw) : raw
  const units = def.type === 'b' ? value.length / 2 : value.length
  const shown = lengthText(def, raw)
  if (def.type === 'b' && (value.length % 2 !== 0 || !isHexText(value))) {
    const expected = 'hex digits, two a byte'
    return { code: 'bad_content', field: def.number, expected, found: shown }
  }
  if (def.length === 'fixed' ? units !== def.size : units > def.size) {
    const bound = def.length === 'fixed' ? 'exactly' : 'at most'
    const expected = `${bound} ${def.size} ${unitName(def.type)}`
    return { code: 'length_over_max', field: def.number, expected, found: shown }
  }
  if (!valueFitsType(def, value)) {
    const found = def.sensitive === 'none' ? JSON.stringify(value) : shown
    return { code: 'bad_content', field: def.number, expected: contentExpectation(def), found }
  }
  return { def, value, units, wire: wireBytes(def, units) }
}

function lengthText(def: FieldDef, value: string): string {
  if (def.type === 'b') return `${value.length} hex characters`
  return `${value.length} ${unitName(def.type)}`
}

function padFixed(def: FieldDef, value: string): string {
  if (value.length >= def.size) return value
  let pad: string
  if (def.type === 'n') pad = '0'
  else if (def.type === 'an' || def.type === 'ans') pad = ' '
  else return value
  return def.padding === 'left' ? value.padStart(def.size, pad) : value.padEnd(def.size, pad)
}

const VALUE_PATTERNS: Readonly<Record<FieldType, RegExp>> = {
  n: /^\d*$/,
  an: /^[0-9A-Za-z ]*$/,
  ans: /^[^\u0100-\uffff]*$/, // Latin-1: one byte a character.
  z: /^[0-9=D]*$/,
  'x+n': /^[CD]\d*$/,
  b: /^[0-9A-Fa-f]*$/,
}

function valueFitsType(def: FieldDef, value: string): boolean {
  return VALUE_PATTERNS[def.type].test(value)
}

function writeHeaderAndMti(dialect: Dialect, message: IsoMessage, buf: Buffer): number {
  let offset = 0
  if (dialect.header !== null && message.header !== undefined) {
    offset += buf.write(message.header.tpdu, offset, 'hex')
    offset += buf.write(message.header.header, offset, 'hex')
  }
  offset += buf.write(message.mti, offset, dialect.mti === 'ascii' ? 'latin1' : 'hex')
  return offset
}

function writeBitmap(
  dialect: Dialect,
  planned: readonly PlannedField[],
  secondary: boolean,
  buf: Buffer,
  offset: number,
): number {
  const bits = new Uint8Array(secondary ? 16 : 8)
  if (secondary) bits[0] = 0x80
  for (const { def } of planned) {
    const index = (def.number - 1) >> 3
    bits[index] = (bits[index] ?? 0) | (0x80 >> ((def.number - 1) & 7))
  }
  if (dialect.bitmap.encoding === 'binary') {
    buf.set(bits, offset)
    return offset + bits.length
  }
  return offset + buf.write(Buffer.from(bits).toString('hex').toUpperCase(), offset, 'latin1')
}

function writeField(plan: PlannedField, buf: Buffer, start: number): number {
  const { def, value, units } = plan
  let offset = start
  if (def.length !== 'fixed') offset = writeLengthPrefix(def, units, buf, offset)
  switch (def.encoding) {
    case 'binary':
      offset += buf.write(value, offset, 'hex')
      break
    case 'ascii':
      offset += buf.write(def.type === 'b' ? value.toUpperCase() : value, offset, 'latin1')
      break
    case 'bcd':
      offset = writeBcd(def, value, buf, offset)
      break
  }
  assert(offset - start === def.prefixBytes + plan.wire, `field ${def.number} wire size`)
  return offset
}

function writeLengthPrefix(def: FieldDef, units: number, buf: Buffer, offset: number): number {
  const size = def.prefixBytes
  switch (def.prefixEncoding) {
    case 'ascii':
      return offset + buf.write(String(units).padStart(size, '0'), offset, 'latin1')
    case 'bcd':
      return offset + buf.write(String(units).padStart(size * 2, '0'), offset, 'hex')
    case 'binary':
      if (size === 1) return buf.writeUInt8(units, offset)
      return buf.writeUInt16BE(units, offset)
  }
}

function writeBcd(def: FieldDef, value: string, buf: Buffer, start: number): number {
  let offset = start
  let digits = value
  if (def.type === 'x+n') {
    offset += buf.write(value.slice(0, 1), offset, 'latin1')
    digits = value.slice(1)
  }
  if (def.type === 'z') digits = digits.replaceAll('=', 'D')
  if (digits.length % 2 === 1) digits = def.padding === 'left' ? `0${digits}` : `${digits}0`
  return offset + buf.write(digits, offset, 'hex')
}

// ---------------------------------------------------------------------------------------------
// Building responses

/** A copy of the message with one field set (or replaced). */
export function withField(message: IsoMessage, field: number, value: string): IsoMessage {
  const fields = new Map(message.fields)
  fields.set(field, value)
  return { ...message, fields }
}

/** A copy of the message without a field (the same message when it is absent). */
export function withoutField(message: IsoMessage, field: number): IsoMessage {
  if (!message.fields.has(field)) return message
  const fields = new Map(message.fields)
  fields.delete(field)
  return { ...message, fields }
}

/** A copy of the message with another MTI, e.g. the response MTI for a request. */
export function withMti(message: IsoMessage, mti: string): IsoMessage {
  return { ...message, mti }
}

// ---------------------------------------------------------------------------------------------
// Subfields (for example cup-pos field 60: 60.1 message type code, 60.2 batch number, ...)

export interface Subfield {
  readonly id: string
  readonly name: string
  readonly value: string
}

export type SubfieldsResult =
  | { readonly ok: true; readonly subfields: readonly Subfield[] }
  | { readonly ok: false; readonly reason: string }

export type JoinResult =
  { readonly ok: true; readonly value: string } | { readonly ok: false; readonly reason: string }

/**
 * Split a field value into the subfields its spec declares. Trailing subfields may be absent;
 * a value that ends inside a subfield or runs past the last one is an error.
 *
 * @example splitSubfields(cup, 60, '22000015000501') // 60.1 '22', 60.2 '000015', 60.3 '000', …
 */
export function splitSubfields(dialect: Dialect, field: number, value: string): SubfieldsResult {
  const def = dialect.fields[field]
  if (def === undefined || def.subfields.length === 0) {
    return { ok: false, reason: `field ${field} has no subfields in ${dialect.name}` }
  }
  const subfields: Subfield[] = []
  let offset = 0
  for (const spec of def.subfields) {
    if (offset === value.length) break
    if (offset + spec.size > value.length) {
      const reason = `${spec.id} needs ${spec.size} characters, ${value.length - offset} remain`
      return { ok: false, reason }
    }
    subfields.push({ id: spec.id, name: spec.name, value: value.slice(offset, offset + spec.size) })
    offset += spec.size
  }
  if (offset !== value.length) {
    return { ok: false, reason: `${value.length - offset} characters after the last subfield` }
  }
  return { ok: true, subfields }
}

/**
 * Join subfield values (by id) into a field value. The given ids must be a leading run of the
 * declared subfields, each value exactly its declared size.
 *
 * @example joinSubfields(cup, 60, { '60.1': '00', '60.2': '000001', '60.3': '001' })
 */
export function joinSubfields(
  dialect: Dialect,
  field: number,
  values: Readonly<Record<string, string>>,
): JoinResult {
  const def = dialect.fields[field]
  if (def === undefined || def.subfields.length === 0) {
    return { ok: false, reason: `field ${field} has no subfields in ${dialect.name}` }
  }
  const known = new Set(def.subfields.map((spec) => spec.id))
  const unknown = Object.keys(values).find((id) => !known.has(id))
  if (unknown !== undefined) return { ok: false, reason: `unknown subfield ${unknown}` }
  const parts: string[] = []
  let ended: string | null = null
  for (const spec of def.subfields) {
    const value = values[spec.id]
    if (value === undefined) {
      ended ??= spec.id
      continue
    }
    if (ended !== null) return { ok: false, reason: `${spec.id} given but ${ended} missing` }
    if (value.length !== spec.size) {
      const reason = `${spec.id} must be ${spec.size} characters, got ${value.length}`
      return { ok: false, reason }
    }
    parts.push(value)
  }
  return { ok: true, value: parts.join('') }
}

// ---------------------------------------------------------------------------------------------
// Describe (logs and CLI)

export interface DescribeOptions {
  /** Show PAN, track data, PIN block, MAC and keys in clear. Only for local debugging. */
  readonly unmasked?: boolean
}

/** The digits a short card number keeps in clear, as core/card.ts keeps for a full one. */
const PAN_TAIL_DIGITS = 4

/**
 * Mask field 2 for a log line or a receipt. A card number is masked as everywhere else (first 6
 * and last 4: core/card.ts). A digit string too short to be a PAN (a test or private-label card)
 * shows only its last 4, which the operator needs to tell cards apart; anything else is hidden.
 *
 * @example maskPan('1234567890') // '******7890'
 */
export function maskPan(pan: string): string {
  const short = pan.length > PAN_TAIL_DIGITS && pan.length < PAN_DIGITS_MIN && /^\d+$/.test(pan)
  if (!short) return maskCardNumber(pan)
  return '*'.repeat(pan.length - PAN_TAIL_DIGITS) + pan.slice(-PAN_TAIL_DIGITS)
}

const MASK_LABELS: Readonly<Record<Exclude<Sensitivity, 'none' | 'pan'>, string>> = {
  track: 'track data',
  pin: 'PIN block',
  mac: 'MAC',
  key: 'key material',
}

/** A field's value as it may be shown in a log line. */
export function displayValue(def: FieldDef | undefined, value: string, unmasked: boolean): string {
  if (def === undefined) return `${JSON.stringify(value)} (not in this dialect)`
  const show = (text: string): string => (def.type === 'b' ? text : JSON.stringify(text))
  if (unmasked || def.sensitive === 'none') return show(value)
  if (def.sensitive === 'pan') return show(maskPan(value))
  const length =
    def.type === 'b' ? `${value.length / 2} bytes` : `${value.length} ${unitName(def.type)}`
  return `[${MASK_LABELS[def.sensitive]}: ${length}]`
}

/**
 * A readable, multi-line listing of a message. Masks card number, track data, PIN block, MAC
 * and keys unless `unmasked` is set.
 */
export function describe(
  dialect: Dialect,
  message: IsoMessage,
  options: DescribeOptions = {},
): string {
  const unmasked = options.unmasked === true
  const head = [`${dialect.name} MTI ${message.mti}`]
  if (message.header !== undefined) {
    head.push(`TPDU ${message.header.tpdu}`, `header ${message.header.header}`)
  }
  const lines = [head.join('  ')]
  const numbers = [...message.fields.keys()].sort((a, b) => a - b)
  for (const number of numbers) {
    const value = message.fields.get(number) ?? ''
    const def = dialect.fields[number]
    const name = def?.name ?? 'unknown field'
    const shown = displayValue(def, value, unmasked)
    lines.push(`  ${String(number).padStart(3)}  ${name.padEnd(44)} ${shown}`)
    if (def === undefined || def.subfields.length === 0) continue
    if (def.sensitive !== 'none' && !unmasked) continue
    const split = splitSubfields(dialect, number, value)
    if (!split.ok) continue
    for (const subfield of split.subfields) {
      const label = `${subfield.id.padEnd(6)} ${subfield.name.padEnd(38)}`
      lines.push(`       ${label} ${JSON.stringify(subfield.value)}`)
    }
  }
  return lines.join('\n')
}

/**
 * One line for logs and metrics labels.
 *
 * @example 'truncated at byte 189 in field 55 (ICC data (EMV)): expected 30 characters (30 bytes)
 *   as the LLL prefix declares, found 17 bytes [MTI 0400]'
 */
export function formatDecodeError(error: DecodeError, dialect?: Dialect): string {
  let where = 'in the message'
  if (error.field !== null) {
    const name = dialect?.fields[error.field]?.name
    const relation = error.code === 'trailing_bytes' ? 'after' : 'in'
    where = `${relation} field ${error.field}${name === undefined ? '' : ` (${name})`}`
  }
  const mti = error.mti === null ? '' : ` [MTI ${error.mti}]`
  return (
    `${error.code} at byte ${error.offset} ${where}: expected ${error.expected}, ` +
    `found ${error.found}${mti}`
  )
}
