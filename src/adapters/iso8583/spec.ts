import * as z from 'zod'
import { assert } from '../../core/assert.js'
import iso87Ascii from './specs/iso87-ascii.json' with { type: 'json' }
import iso87Binary from './specs/iso87-binary.json' with { type: 'json' }
import cupPos from './specs/cup-pos.json' with { type: 'json' }

/**
 * An ISO 8583 dialect is data: a JSON spec file (see docs/iso8583.md) validated here once at load
 * and turned into a per-field table that the codec indexes by field number.
 */

export const FIELD_TYPES = ['n', 'an', 'ans', 'b', 'z', 'x+n'] as const
export type FieldType = (typeof FIELD_TYPES)[number]
export type ContentEncoding = 'ascii' | 'bcd' | 'binary'
export type PrefixEncoding = 'ascii' | 'bcd' | 'binary'
export type LengthKind = 'fixed' | 'LL' | 'LLL'
export type Padding = 'left' | 'right'
/** What kind of secret a field holds, which decides how it is masked in logs and errors. */
export type Sensitivity = 'pan' | 'track' | 'pin' | 'mac' | 'key' | 'none'

export const DIALECT_NAMES = ['iso87-ascii', 'iso87-binary', 'cup-pos'] as const
export type DialectName = (typeof DIALECT_NAMES)[number]

/** Byte-level limits: an LL prefix holds at most 99, an LLL prefix at most 999. */
export const LL_MAX = 99
export const LLL_MAX = 999
export const FIELD_NUMBER_MAX = 128

const subfieldSchema = z.strictObject({
  id: z.string().regex(/^\d{1,3}\.\d{1,2}$/, 'a subfield id looks like "60.1"'),
  name: z.string().min(1),
  size: z.int().min(1).max(LLL_MAX),
})

const fieldCommon = {
  number: z.int().min(2).max(FIELD_NUMBER_MAX),
  name: z.string().min(1),
  type: z.enum(FIELD_TYPES),
  encoding: z.enum(['ascii', 'bcd', 'binary']),
  prefixEncoding: z.enum(['ascii', 'bcd', 'binary']).optional(),
  padding: z.enum(['left', 'right']).optional(),
  sensitive: z.enum(['pan', 'track', 'pin', 'mac', 'key', 'none']).optional(),
  subfields: z.array(subfieldSchema).min(1).max(32).optional(),
}

const fieldSchema = z.discriminatedUnion('length', [
  z.strictObject({ ...fieldCommon, length: z.literal('fixed'), size: z.int().min(1).max(LLL_MAX) }),
  z.strictObject({ ...fieldCommon, length: z.literal('LL'), max: z.int().min(1).max(LL_MAX) }),
  z.strictObject({ ...fieldCommon, length: z.literal('LLL'), max: z.int().min(1).max(LLL_MAX) }),
])

const specSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9-]+$/, 'lower-case letters, digits and dashes'),
  description: z.string(),
  header: z
    .strictObject({
      tpduBytes: z.int().min(0).max(16),
      headerBytes: z.int().min(0).max(64),
      tpduIds: z
        .array(z.string().regex(/^[0-9A-F]{2}$/, 'one byte as 2 upper-case hex digits'))
        .min(1)
        .optional(),
    })
    .nullable(),
  mti: z.enum(['ascii', 'bcd']),
  bitmap: z.strictObject({
    encoding: z.enum(['hex-ascii', 'binary']),
    secondary: z.boolean(),
  }),
  lengthPrefix: z.enum(['ascii', 'bcd', 'binary']),
  fields: z.array(fieldSchema).min(1).max(FIELD_NUMBER_MAX),
})

/** A dialect spec file as written (see docs/iso8583.md). */
export type DialectSpec = z.infer<typeof specSchema>
export type FieldSpec = z.infer<typeof fieldSchema>
export type SubfieldSpec = z.infer<typeof subfieldSchema>

/** One field as the codec uses it: every default resolved, wire sizes precomputed. */
export interface FieldDef {
  readonly number: number
  readonly name: string
  readonly type: FieldType
  readonly length: LengthKind
  /** Fixed size, or the maximum for LL/LLL: digits for n/z/x+n, characters, or bytes for b. */
  readonly size: number
  readonly encoding: ContentEncoding
  readonly prefixEncoding: PrefixEncoding
  /** Bytes of the length prefix on the wire (0 for fixed fields). */
  readonly prefixBytes: number
  /** Which side gets the pad: the BCD nibble of an odd length, or a short fixed value. */
  readonly padding: Padding
  readonly sensitive: Sensitivity
  readonly subfields: readonly SubfieldSpec[]
}

/** Framing parts before the MTI: a TPDU and a header, both kept as hex on the message. */
export interface DialectHeader {
  readonly tpduBytes: number
  readonly headerBytes: number
  /** Allowed first TPDU bytes (hex), or undefined when any is accepted. */
  readonly tpduIds?: readonly string[] | undefined
}

/** A validated dialect, ready for encode/decode. Build with loadDialect or parseDialect. */
export interface Dialect {
  readonly name: string
  readonly description: string
  readonly header: DialectHeader | null
  readonly mti: 'ascii' | 'bcd'
  readonly bitmap: { readonly encoding: 'hex-ascii' | 'binary'; readonly secondary: boolean }
  /** 128 with a secondary bitmap, 64 without. */
  readonly fieldNumberMax: number
  /** Indexed by field number; undefined where the dialect does not define the field. */
  readonly fields: readonly (FieldDef | undefined)[]
}

/** A spec file that does not describe a usable dialect: names the file, the field and why. */
export class DialectSpecError extends Error {
  override readonly name = 'DialectSpecError'
  readonly code = 'iso8583_spec_invalid'
  readonly file: string
  readonly field: number | null

  constructor(file: string, field: number | null, message: string, options?: ErrorOptions) {
    super(`${file}: ${field === null ? '' : `field ${field}: `}${message}`, options)
    this.file = file
    this.field = field
  }
}

export type DialectResult =
  | { readonly ok: true; readonly dialect: Dialect }
  | { readonly ok: false; readonly error: DialectSpecError }

const BUILT_IN: Readonly<Record<DialectName, unknown>> = {
  'iso87-ascii': iso87Ascii,
  'iso87-binary': iso87Binary,
  'cup-pos': cupPos,
}

/**
 * Load and validate a built-in dialect. A broken built-in spec is a bad deployment, so this
 * throws DialectSpecError (at start-up, naming the file and field).
 *
 * @example const dialect = loadDialect('cup-pos')
 */
export function loadDialect(name: DialectName): Dialect {
  const result = parseDialect(BUILT_IN[name], `specs/${name}.json`)
  if (!result.ok) throw result.error
  assert(result.dialect.name === name, `spec ${name} declares name ${result.dialect.name}`)
  return result.dialect
}

export function isDialectName(value: string): value is DialectName {
  return (DIALECT_NAMES as readonly string[]).includes(value)
}

/** Validate a spec (already parsed from JSON) and build its field table; errors as values. */
export function parseDialect(json: unknown, file: string): DialectResult {
  const parsed = specSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    assert(issue !== undefined, 'a failed zod parse has at least one issue')
    const field = fieldNumberAt(json, issue.path)
    const where = issue.path.map(String).join('.')
    const message = `${where === '' ? '' : `${where}: `}${issue.message}`
    return { ok: false, error: new DialectSpecError(file, field, message) }
  }
  return buildDialect(parsed.data, file)
}

function fieldNumberAt(json: unknown, path: readonly PropertyKey[]): number | null {
  if (path[0] !== 'fields' || typeof path[1] !== 'number') return null
  if (typeof json !== 'object' || json === null || !('fields' in json)) return null
  const fields: unknown = json.fields
  if (!Array.isArray(fields)) return null
  const entry: unknown = fields[path[1]]
  if (typeof entry !== 'object' || entry === null || !('number' in entry)) return null
  return typeof entry.number === 'number' ? entry.number : null
}

function buildDialect(spec: DialectSpec, file: string): DialectResult {
  const fieldNumberMax = spec.bitmap.secondary ? FIELD_NUMBER_MAX : 64
  const fields: (FieldDef | undefined)[] = new Array<FieldDef | undefined>(fieldNumberMax + 1)
  for (const field of spec.fields) {
    const fail = (message: string): DialectResult => ({
      ok: false,
      error: new DialectSpecError(file, field.number, message),
    })
    if (field.number > fieldNumberMax) {
      return fail(`beyond ${fieldNumberMax}: this dialect has no secondary bitmap`)
    }
    if (fields[field.number] !== undefined) return fail('defined twice')
    const problem = fieldProblem(field)
    if (problem !== null) return fail(problem)
    fields[field.number] = toFieldDef(field, spec.lengthPrefix)
  }
  const dialect: Dialect = {
    name: spec.name,
    description: spec.description,
    header: spec.header,
    mti: spec.mti,
    bitmap: spec.bitmap,
    fieldNumberMax,
    fields,
  }
  return { ok: true, dialect }
}

const ENCODINGS_BY_TYPE: Readonly<Record<FieldType, readonly ContentEncoding[]>> = {
  n: ['ascii', 'bcd'],
  z: ['ascii', 'bcd'],
  'x+n': ['ascii', 'bcd'],
  an: ['ascii'],
  ans: ['ascii'],
  b: ['ascii', 'binary'],
}

function fieldProblem(field: FieldSpec): string | null {
  if (!ENCODINGS_BY_TYPE[field.type].includes(field.encoding)) {
    const allowed = ENCODINGS_BY_TYPE[field.type].join(' or ')
    return `type ${field.type} cannot use encoding ${field.encoding} (use ${allowed})`
  }
  const size = field.length === 'fixed' ? field.size : field.max
  if (field.type === 'x+n') {
    if (field.length !== 'fixed') return 'type x+n must have a fixed length'
    if (size < 2) return 'type x+n needs a size of at least 2 (sign and one digit)'
  }
  if (field.padding !== undefined && field.type === 'b') return 'type b takes no padding'
  if (field.subfields !== undefined) {
    if (field.type === 'b') return 'type b cannot have subfields'
    const total = field.subfields.reduce((sum, subfield) => sum + subfield.size, 0)
    if (total > size) return `subfields add up to ${total}, more than the field's ${size}`
    const prefixOk = field.subfields.every((s) => s.id.startsWith(`${field.number}.`))
    if (!prefixOk) return `subfield ids must start with "${field.number}."`
  }
  return null
}

function toFieldDef(field: FieldSpec, dialectPrefix: PrefixEncoding): FieldDef {
  const prefixEncoding = field.prefixEncoding ?? dialectPrefix
  const size = field.length === 'fixed' ? field.size : field.max
  return {
    number: field.number,
    name: field.name,
    type: field.type,
    length: field.length,
    size,
    encoding: field.encoding,
    prefixEncoding,
    prefixBytes: prefixByteCount(field.length, prefixEncoding),
    padding: field.padding ?? defaultPadding(field.type),
    sensitive: field.sensitive ?? 'none',
    subfields: field.subfields ?? [],
  }
}

function defaultPadding(type: FieldType): Padding {
  // Numbers are right-aligned (zeros on the left); text and track data are left-aligned.
  return type === 'n' || type === 'x+n' ? 'left' : 'right'
}

/** Bytes of a length prefix: LL is 2 ASCII digits or 1 byte; LLL is 3 ASCII digits or 2 bytes. */
export function prefixByteCount(length: LengthKind, encoding: PrefixEncoding): number {
  if (length === 'fixed') return 0
  if (encoding === 'ascii') return length === 'LL' ? 2 : 3
  return length === 'LL' ? 1 : 2
}
