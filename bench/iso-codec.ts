/**
 * ISO 8583 codec benchmark: messages encoded and decoded per second, in each built-in dialect,
 * and side by side with the npm package `iso_8583` on the same iso87-ascii messages.
 *
 * The messages are a realistic 0200 purchase and its 0210 answer. Before anything is timed,
 * every message is checked: it round-trips through Tollgate's codec to the same fields, and in
 * iso87-ascii both codecs produce the same bytes and each reads the other's bytes back to the
 * same fields. A benchmark of a codec that gets the wrong answer would be meaningless. Each case
 * runs for a bounded time (warm-up, then the measured seconds); nothing touches the network.
 *
 * Usage: npm run bench:codec -- [--duration 2] [--warmup 0.5] [--json]
 */
import { Buffer } from 'node:buffer'
import { createRequire } from 'node:module'
import { decode, encode, type IsoMessage } from '../src/adapters/iso8583/codec.js'
import { DIALECT_NAMES, loadDialect, type DialectName } from '../src/adapters/iso8583/spec.js'
import { DEMO_CARDS } from '../src/app/demo-data.js'
import { exitOnFailure, readOptions, UsageError, type OptionValues } from './support/args.js'
import { loadAverage1m, machineInfo } from './support/cpu.js'
import { progressLog } from './support/report.js'
import { round } from './support/stats.js'

const DURATION_S_DEFAULT = 2
const DURATION_S_MAX = 60
const WARMUP_S_DEFAULT = 0.5
const WARMUP_S_MAX = 10
/** Operations between two reads of the clock: small enough to stop on time, large enough to
 * keep the clock out of the figure. */
const BATCH = 200

// ---------------------------------------------------------------------------------------------
// The baseline: iso_8583 (CommonJS, no type declarations), typed for the part used here.

type IsoJson = Readonly<Record<string, string>>

interface Iso8583Format {
  readonly ContentType: string
  readonly Label: string
  readonly LenType: string
  readonly MaxLen: number
}

interface Iso8583Failure {
  readonly error: unknown
}

interface Iso8583UnpackConfig {
  /** false: the buffer has no 2-byte length header (Tollgate's frames are read apart). */
  readonly lenHeader: boolean
  /** 'utf8': the bitmap is hex-ASCII; 'hex': binary. */
  readonly bitmapEncoding: 'utf8' | 'hex'
}

interface Iso8583Message {
  /** The message without a length header, or an object with `error`. */
  getRawMessage(): Buffer | Iso8583Failure
  getIsoJSON(buffer: Buffer, config: Iso8583UnpackConfig): IsoJson | Iso8583Failure
}

type Iso8583Constructor = new (
  message?: IsoJson,
  customFormats?: Readonly<Record<string, Iso8583Format>>,
) => Iso8583Message

const require = createRequire(import.meta.url)
const Iso8583 = require('iso_8583') as Iso8583Constructor

/**
 * iso_8583 packs a binary bitmap by default; field 1 as 32 characters of type "an" makes it
 * hex-ASCII, upper case, as iso87-ascii (and jPOS ISO87APackager) has it. Every other field
 * uses the package's default ISO 8583:1987 formats.
 */
const ISO8583_FORMATS: Readonly<Record<string, Iso8583Format>> = {
  1: { ContentType: 'an', Label: 'Bitmap', LenType: 'fixed', MaxLen: 32 },
}
const ISO8583_UNPACK: Iso8583UnpackConfig = { lenHeader: false, bitmapEncoding: 'utf8' }

function isFailure(value: object): value is Iso8583Failure {
  return 'error' in value
}

// ---------------------------------------------------------------------------------------------
// The messages

const PAN = DEMO_CARDS.debit.pan
const CUP_HEADER = { tpdu: '6000030000', header: '603100000000' }
const CUP_ANSWER_HEADER = { tpdu: '6000000003', header: '603100000000' }

/**
 * A purchase from a supermarket terminal, read from the magnetic stripe, and its approval with
 * an authorization code, RRN and balance. In ISO 8583:1987 the 0200 carries field 100
 * (receiving institution): with a field above 64 both codecs write a secondary bitmap, so the
 * bytes can be compared one for one (iso_8583 always writes one; see `primaryOnlyNotes`).
 */
function iso87Messages(): { request: IsoMessage; answer: IsoMessage } {
  const common: [number, string][] = [
    [2, PAN],
    [3, '000000'],
    [4, '000000012345'],
    [7, '1126083015'],
    [11, '000123'],
    [12, '163015'],
    [13, '1126'],
    [14, '3012'],
    [18, '5411'],
    [22, '021'],
    [25, '00'],
    [32, '48020000'],
  ]
  const where: [number, string][] = [
    [41, '20000001'],
    [42, '898310054119999'],
  ]
  const request = new Map<number, string>([
    ...common,
    [35, `${PAN}=30121011234567890`],
    [37, '633010000123'],
    ...where,
    [43, 'Bench Supermarket       Shanghai     156'],
    [49, '156'],
    [100, '48021000'],
  ])
  const answer = new Map<number, string>([
    ...common,
    [37, '633010000123'],
    [38, '4F2K9Q'],
    [39, '00'],
    ...where,
    [49, '156'],
    [54, '0002156C000000987655'],
    [100, '48021000'],
  ])
  return { request: { mti: '0200', fields: request }, answer: { mti: '0210', fields: answer } }
}

/** The UnionPay terminal profile: TPDU and header, PIN block, field 60 subfields and a MAC. */
function cupMessages(): { request: IsoMessage; answer: IsoMessage } {
  const common: [number, string][] = [
    [2, PAN],
    [3, '000000'],
    [4, '000000012345'],
    [11, '000123'],
  ]
  const where: [number, string][] = [
    [41, '20000001'],
    [42, '898310054119999'],
  ]
  const request = new Map<number, string>([
    ...common,
    [14, '3012'],
    [22, '021'],
    [25, '00'],
    [26, '12'],
    [35, `${PAN}=30121011234567890`],
    ...where,
    [49, '156'],
    [52, '8A3C5E7F9B1D2C4E'],
    [53, '2600000000000000'],
    [60, '22000001000'],
    [64, '1F2E3D4C5B6A7988'],
  ])
  const answer = new Map<number, string>([
    ...common,
    [12, '163015'],
    [13, '1126'],
    [14, '3012'],
    [25, '00'],
    [32, '48020000'],
    [37, '633010000123'],
    [38, '4F2K9Q'],
    [39, '00'],
    ...where,
    [49, '156'],
    [54, '0002156C000000987655'],
    [60, '22000001000'],
    [64, '7A6B5C4D3E2F1A0B'],
  ])
  return {
    request: { mti: '0200', fields: request, header: CUP_HEADER },
    answer: { mti: '0210', fields: answer, header: CUP_ANSWER_HEADER },
  }
}

function messagesOf(dialect: DialectName): { request: IsoMessage; answer: IsoMessage } {
  switch (dialect) {
    case 'iso87-ascii':
    case 'iso87-binary':
      // Track 2 is written with '=' and read back as '=' (in BCD the separator is the nibble D).
      return iso87Messages()
    case 'cup-pos':
      return cupMessages()
  }
}

function toIsoJson(message: IsoMessage): IsoJson {
  const json: Record<string, string> = { 0: message.mti }
  for (const [number, value] of message.fields) json[String(number)] = value
  return json
}

// ---------------------------------------------------------------------------------------------
// Checks before timing

class CheckError extends Error {}

function sameFields(a: ReadonlyMap<number, string>, b: ReadonlyMap<number, string>): string | null {
  for (const [number, value] of a) {
    if (b.get(number) !== value) {
      return `field ${number}: ${JSON.stringify(value)} vs ${JSON.stringify(b.get(number))}`
    }
  }
  for (const number of b.keys()) if (!a.has(number)) return `field ${number} only on one side`
  return null
}

function jsonFields(json: IsoJson): Map<number, string> {
  const fields = new Map<number, string>()
  for (const [key, value] of Object.entries(json)) if (key !== '0') fields.set(Number(key), value)
  return fields
}

function tollgateBytes(dialect: DialectName, message: IsoMessage): Buffer {
  const encoded = encode(loadDialect(dialect), message)
  if (!encoded.ok) {
    const why = JSON.stringify(encoded.error)
    throw new CheckError(`${dialect} ${message.mti}: encode failed ${why}`)
  }
  return Buffer.from(encoded.bytes)
}

function iso8583Bytes(message: IsoMessage): Buffer {
  const raw = new Iso8583(toIsoJson(message), ISO8583_FORMATS).getRawMessage()
  if (isFailure(raw)) {
    throw new CheckError(`iso_8583 ${message.mti}: pack failed ${JSON.stringify(raw.error)}`)
  }
  return raw
}

/** The fields iso_8583 reads from bytes, or why it could not. */
function iso8583Read(bytes: Buffer): { mti: string; fields: Map<number, string> } | string {
  const json = new Iso8583(undefined, ISO8583_FORMATS).getIsoJSON(bytes, ISO8583_UNPACK)
  if (isFailure(json)) return `unpack failed: ${JSON.stringify(json.error)}`
  return { mti: json['0'] ?? '', fields: jsonFields(json) }
}

/** Tollgate's round trip in one dialect: encode, decode, same MTI, header and fields. */
function checkRoundTrip(dialect: DialectName, message: IsoMessage): Buffer {
  const bytes = tollgateBytes(dialect, message)
  const decoded = decode(loadDialect(dialect), bytes)
  const where = `${dialect} ${message.mti}`
  if (!decoded.ok) throw new CheckError(`${where}: decode failed ${JSON.stringify(decoded.error)}`)
  const back = decoded.message
  const header = JSON.stringify(back.header) === JSON.stringify(message.header)
  const fields = sameFields(message.fields, back.fields)
  if (back.mti !== message.mti || !header || fields !== null) {
    throw new CheckError(`${where}: round trip differs: ${fields ?? 'MTI or header'}`)
  }
  return bytes
}

/** Both codecs agree on iso87-ascii: same bytes, and each reads the other's to the fields. */
function checkAgainstBaseline(message: IsoMessage): void {
  const ours = tollgateBytes('iso87-ascii', message)
  const theirs = iso8583Bytes(message)
  const where = `iso87-ascii ${message.mti}`
  if (!ours.equals(theirs)) {
    throw new CheckError(
      `${where}: the bytes differ\n  tollgate ${ours.toString('latin1')}\n` +
        `  iso_8583 ${theirs.toString('latin1')}`,
    )
  }
  const read = iso8583Read(ours)
  if (typeof read === 'string') throw new CheckError(`${where}: iso_8583 ${read}`)
  const difference = sameFields(message.fields, read.fields)
  if (read.mti !== message.mti || difference !== null) {
    throw new CheckError(`${where}: iso_8583 reads other fields: ${difference ?? 'MTI'}`)
  }
}

/**
 * What happens without a field above 64, told rather than asserted: iso_8583 always sets bit 1
 * and writes a secondary bitmap of zeros, and with a hex-ASCII bitmap it always reads 32
 * characters of bitmap, so it misreads a message that has only a primary bitmap.
 */
function primaryOnlyNotes(message: IsoMessage): string[] {
  const fields = new Map(message.fields)
  for (const number of fields.keys()) if (number > 64) fields.delete(number)
  const primary: IsoMessage = { mti: message.mti, fields }
  const ours = tollgateBytes('iso87-ascii', primary)
  const theirs = iso8583Bytes(primary)
  const decodedTheirs = decode(loadDialect('iso87-ascii'), theirs)
  const tollgateReads =
    decodedTheirs.ok && sameFields(fields, decodedTheirs.message.fields) === null
  const read = iso8583Read(ours)
  const iso8583Reads = typeof read !== 'string' && sameFields(fields, read.fields) === null
  const misread =
    typeof read === 'string'
      ? `no (${read})`
      : `no (it reads ${read.fields.size} fields, wrongly, and reports no error)`
  return [
    `${message.mti} without field 100: Tollgate writes ${ours.length} bytes ` +
      `(primary bitmap only), iso_8583 ${theirs.length} ` +
      '(always a secondary bitmap, here all zeros)',
    `  Tollgate reads iso_8583's bytes to the same fields: ${tollgateReads ? 'yes' : 'NO'}`,
    `  iso_8583 reads Tollgate's bytes to the same fields: ${iso8583Reads ? 'yes' : misread}`,
  ]
}

// ---------------------------------------------------------------------------------------------
// Timing

interface Rate {
  readonly perS: number
  readonly nsPerMessage: number
  readonly messages: number
}

/** Keeps the results alive so that no work can be optimised away; reported at the end. */
let sink = 0

function runFor(work: () => number, durationMs: number): { messages: number; ns: number } {
  const startNs = process.hrtime.bigint()
  const endNs = startNs + BigInt(Math.round(durationMs * 1e6))
  let nowNs = startNs
  let messages = 0
  while (nowNs < endNs) {
    for (let index = 0; index < BATCH; index += 1) sink += work()
    messages += BATCH
    nowNs = process.hrtime.bigint()
  }
  return { messages, ns: Number(nowNs - startNs) }
}

function measure(work: () => number, options: Options): Rate {
  runFor(work, options.warmupS * 1_000)
  const { messages, ns } = runFor(work, options.durationS * 1_000)
  return { perS: Math.round((messages * 1e9) / ns), nsPerMessage: ns / messages, messages }
}

interface Case {
  readonly codec: 'tollgate' | 'iso_8583'
  readonly dialect: DialectName
  readonly mti: string
  readonly bytes: number
  readonly encode: Rate
  readonly decode: Rate
}

function tollgateCase(dialectName: DialectName, message: IsoMessage, options: Options): Case {
  const dialect = loadDialect(dialectName)
  const bytes = checkRoundTrip(dialectName, message)
  const encodeOne = (): number => {
    const encoded = encode(dialect, message)
    if (!encoded.ok) throw new CheckError('encode failed while timing')
    return encoded.bytes.length
  }
  const decodeOne = (): number => {
    const decoded = decode(dialect, bytes)
    if (!decoded.ok) throw new CheckError('decode failed while timing')
    return decoded.message.fields.size
  }
  progress(`tollgate ${dialectName} ${message.mti}`)
  const encodeRate = measure(encodeOne, options)
  const decodeRate = measure(decodeOne, options)
  return {
    codec: 'tollgate',
    dialect: dialectName,
    mti: message.mti,
    bytes: bytes.length,
    encode: encodeRate,
    decode: decodeRate,
  }
}

function iso8583Case(message: IsoMessage, options: Options): Case {
  const json = toIsoJson(message)
  const bytes = iso8583Bytes(message)
  // As the package's README uses it: a new message object for each message packed or read.
  const encodeOne = (): number => {
    const raw = new Iso8583(json, ISO8583_FORMATS).getRawMessage()
    if (isFailure(raw)) throw new CheckError('iso_8583 pack failed while timing')
    return raw.length
  }
  const decodeOne = (): number => {
    const read = new Iso8583(undefined, ISO8583_FORMATS).getIsoJSON(bytes, ISO8583_UNPACK)
    if (isFailure(read)) throw new CheckError('iso_8583 unpack failed while timing')
    return read['0'] === undefined ? 0 : 1
  }
  progress(`iso_8583 iso87-ascii ${message.mti}`)
  const encodeRate = measure(encodeOne, options)
  const decodeRate = measure(decodeOne, options)
  return {
    codec: 'iso_8583',
    dialect: 'iso87-ascii',
    mti: message.mti,
    bytes: bytes.length,
    encode: encodeRate,
    decode: decodeRate,
  }
}

// ---------------------------------------------------------------------------------------------
// Options, report, main

interface Options {
  readonly durationS: number
  readonly warmupS: number
  readonly json: boolean
}

const USAGE = `npm run bench:codec -- [options]
  --duration <s>   measured seconds per case and direction (default ${DURATION_S_DEFAULT})
  --warmup <s>     seconds of warm-up before each (default ${WARMUP_S_DEFAULT})
  --json           print the result as JSON
`

function secondsOption(values: OptionValues, name: string, fallback: number, max: number) {
  const raw = values[name]
  if (raw === undefined) return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value < 0 || value > max || (name === 'duration' && value === 0)) {
    const range = name === 'duration' ? `above 0, at most ${max}` : `0 to ${max}`
    throw new UsageError(`--${name}: expected seconds ${range}, got ${String(raw)}\n\n${USAGE}`)
  }
  return value
}

function parseOptions(argv: readonly string[]): Options {
  const text = { type: 'string' } as const
  const flag = { type: 'boolean' } as const
  const values = readOptions(argv, { duration: text, warmup: text, json: flag }, USAGE)
  return {
    durationS: secondsOption(values, 'duration', DURATION_S_DEFAULT, DURATION_S_MAX),
    warmupS: secondsOption(values, 'warmup', WARMUP_S_DEFAULT, WARMUP_S_MAX),
    json: values.json === true,
  }
}

const progress = progressLog('bench:codec', false)

function ratios(cases: readonly Case[]) {
  const find = (codec: Case['codec'], mti: string): Case | undefined =>
    cases.find((c) => c.codec === codec && c.dialect === 'iso87-ascii' && c.mti === mti)
  return ['0200', '0210'].flatMap((mti) => {
    const ours = find('tollgate', mti)
    const theirs = find('iso_8583', mti)
    if (ours === undefined || theirs === undefined) return []
    return [
      {
        mti,
        encode: round(ours.encode.perS / theirs.encode.perS, 1),
        decode: round(ours.decode.perS / theirs.decode.perS, 1),
      },
    ]
  })
}

function summarise(cases: readonly Case[], notes: readonly string[], options: Options) {
  return {
    date: new Date().toISOString(),
    machine: { ...machineInfo(), loadAverage1m: round(loadAverage1m()) },
    settings: { durationS: options.durationS, warmupS: options.warmupS },
    cases: cases.map((c) => ({
      codec: c.codec,
      dialect: c.dialect,
      mti: c.mti,
      bytes: c.bytes,
      encodePerS: c.encode.perS,
      decodePerS: c.decode.perS,
      encodeUs: round(c.encode.nsPerMessage / 1_000, 2),
      decodeUs: round(c.decode.nsPerMessage / 1_000, 2),
    })),
    ratioTollgateToIso8583: ratios(cases),
    checks: 'round trips in every dialect; iso87-ascii bytes identical to iso_8583, cross-read',
    notes,
    sink,
  }
}

type Summary = ReturnType<typeof summarise>

function printTable(summary: Summary): void {
  const thousands = (n: number): string => n.toLocaleString('en-US')
  const header = ['codec', 'dialect', 'MTI', 'bytes', 'encode/s', 'decode/s', 'enc µs', 'dec µs']
  const widths = [9, 13, 5, 6, 11, 11, 8, 8]
  const line = (cells: readonly (string | number)[]): string =>
    '  ' +
    cells
      .map((cell, i) => {
        const width = widths[i] ?? 8
        return i < 3 ? String(cell).padEnd(width) : String(cell).padStart(width)
      })
      .join(' ')
  const { machine } = summary
  const lines = [
    '',
    'Tollgate ISO 8583 codec benchmark',
    `  date ${summary.date}; ${machine.cpus} × ${machine.cpuModel}; Node ${machine.node}; ` +
      `load ${machine.loadAverage1m}`,
    `  ${summary.settings.warmupS} s warm-up + ${summary.settings.durationS} s per case and ` +
      'direction; one thread',
    '',
    line(header),
    ...summary.cases.map((c) =>
      line([
        c.codec,
        c.dialect,
        c.mti,
        c.bytes,
        thousands(c.encodePerS),
        thousands(c.decodePerS),
        c.encodeUs,
        c.decodeUs,
      ]),
    ),
    '',
    '  Tollgate ÷ iso_8583, iso87-ascii, same bytes (higher is faster):',
    ...summary.ratioTollgateToIso8583.map(
      (r) => `    ${r.mti}: encode × ${r.encode}, decode × ${r.decode}`,
    ),
    '',
    `  checked: ${summary.checks}`,
    ...summary.notes.map((note) => `  ${note}`),
  ]
  process.stdout.write(lines.join('\n') + '\n')
}

function main(): void {
  const options = parseOptions(process.argv.slice(2))
  progress('checking the messages in every dialect and against iso_8583')
  const all = DIALECT_NAMES.map((dialect) => ({ dialect, ...messagesOf(dialect) }))
  for (const { dialect, request, answer } of all) {
    checkRoundTrip(dialect, request)
    checkRoundTrip(dialect, answer)
  }
  const ascii = messagesOf('iso87-ascii')
  checkAgainstBaseline(ascii.request)
  checkAgainstBaseline(ascii.answer)
  const notes = [...primaryOnlyNotes(ascii.request), ...primaryOnlyNotes(ascii.answer)]
  const cases: Case[] = []
  for (const { dialect, request, answer } of all) {
    cases.push(tollgateCase(dialect, request, options), tollgateCase(dialect, answer, options))
  }
  cases.push(iso8583Case(ascii.request, options), iso8583Case(ascii.answer, options))
  const summary = summarise(cases, notes, options)
  if (options.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n')
  else printTable(summary)
}

try {
  main()
} catch (error) {
  exitOnFailure(error)
}
