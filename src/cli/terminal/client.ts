import { Buffer } from 'node:buffer'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { decode, encode, formatDecodeError } from '../../adapters/iso8583/codec.js'
import type { IsoMessage } from '../../adapters/iso8583/codec.js'
import { cupEcbMac, verifyCupEcbMac } from '../../adapters/iso8583/mac.js'
import type { MacKey } from '../../adapters/iso8583/mac.js'
import type { Dialect, DialectName } from '../../adapters/iso8583/spec.js'
import { encodeFrame, FrameReader } from '../../adapters/iso8583/tcp/framing.js'
import type { Framing } from '../../adapters/iso8583/tcp/framing.js'
import { assert } from '../../core/assert.js'

/**
 * The ISO 8583 side of the virtual terminal: builds the messages a POS terminal sends, in each
 * dialect, and exchanges them with a host over one TCP connection. Every wait is bounded (connect,
 * answer) and so is every buffer (the frame reader, the frames kept while waiting).
 */

export const TRANSACTION_KINDS = [
  'purchase',
  'preauthorization',
  'balance_inquiry',
  'void',
  'refund',
  'completion',
  'reversal',
] as const
export type TransactionKind = (typeof TRANSACTION_KINDS)[number]
export const NETWORK_KINDS = ['sign_on', 'echo'] as const
export type NetworkKind = (typeof NETWORK_KINDS)[number]
export type TerminalKind = TransactionKind | NetworkKind
/** What a follow-up (void, refund, completion, reversal) can name as its original. */
export type OriginalKind = 'purchase' | 'preauthorization' | 'completion' | 'refund'

export function isTerminalKind(value: string): value is TerminalKind {
  return (
    (TRANSACTION_KINDS as readonly string[]).includes(value) ||
    (NETWORK_KINDS as readonly string[]).includes(value)
  )
}

export function isTransactionKind(kind: TerminalKind): kind is TransactionKind {
  return (TRANSACTION_KINDS as readonly string[]).includes(kind)
}

/** Longest answer accepted: the largest frame any Tollgate listener sends (ascii4 caps at 9999). */
export const ANSWER_BYTES_MAX = 9_999
/** Frames that are not the answer (late answers to an abandoned request) tolerated per exchange. */
export const STRAY_FRAMES_MAX = 8
export const CONNECT_TIMEOUT_MS_DEFAULT = 5_000
export const ANSWER_TIMEOUT_MS_DEFAULT = 30_000
export const TIMEOUT_MS_MAX = 300_000

/** The batch number the simulator always reports (cup-pos 60.2, 61.1). */
export const BATCH_NUMBER = '000001'
/** The cup-pos TPDU (id 60, destination 0003, source 0000) and a version-31 terminal header. */
export const CUP_TPDU = '6000030000'
export const CUP_HEADER = '603100000000'
/** Manually keyed card number and expiry, no PIN. */
const ENTRY_MODE_KEYED = '012'
const CONDITION_NORMAL = '00'
const CONDITION_PREAUTHORIZATION = '06'
const NETWORK_CODE: Readonly<Record<NetworkKind, string>> = { sign_on: '001', echo: '301' }
const MAC_FIELD = 64
const MAC_BYTES = 8

interface KindProfile {
  readonly isoMti: string
  readonly isoProcessingCode: string
  readonly cupMti: string
  readonly cupProcessingCode: string
  /** cup-pos field 60.1; for a void, the type for a purchase original. */
  readonly cupMessageType: string
}

/** MTI, processing code and cup-pos message type code (60.1) of each transaction. */
const PROFILES: Readonly<Record<Exclude<TransactionKind, 'reversal'>, KindProfile>> = {
  purchase: {
    isoMti: '0200',
    isoProcessingCode: '000000',
    cupMti: '0200',
    cupProcessingCode: '000000',
    cupMessageType: '22',
  },
  preauthorization: {
    isoMti: '0100',
    isoProcessingCode: '030000',
    cupMti: '0100',
    cupProcessingCode: '030000',
    cupMessageType: '10',
  },
  balance_inquiry: {
    isoMti: '0200',
    isoProcessingCode: '310000',
    cupMti: '0200',
    cupProcessingCode: '310000',
    cupMessageType: '01',
  },
  void: {
    isoMti: '0200',
    isoProcessingCode: '020000',
    cupMti: '0200',
    cupProcessingCode: '200000',
    cupMessageType: '23',
  },
  refund: {
    isoMti: '0220',
    isoProcessingCode: '200000',
    cupMti: '0220',
    cupProcessingCode: '200000',
    cupMessageType: '25',
  },
  completion: {
    isoMti: '0220',
    isoProcessingCode: '000000',
    cupMti: '0200',
    cupProcessingCode: '000000',
    cupMessageType: '20',
  },
}

/** cup-pos 60.1 of a void, by what it voids (purchase, preauthorization or completion void). */
const CUP_VOID_TYPE: Readonly<Record<OriginalKind, string>> = {
  purchase: '23',
  preauthorization: '11',
  completion: '21',
  refund: '23',
}

/** The terminal's clock readings for one message (taken once, outside the builders). */
export interface TerminalTime {
  /** Field 7, MMDDhhmmss (GMT, as ISO 8583 says). */
  readonly transmissionTime: string
  /** Field 12, hhmmss at the terminal's UTC offset. */
  readonly localTime: string
  /** Field 13, MMDD at the terminal's UTC offset. */
  readonly localDate: string
}

/**
 * Clock readings at `utcOffsetMinutes` (the acquirer's business day, which cup-pos field 61 must
 * name: use the server's TOLLGATE_UTC_OFFSET_MINUTES).
 */
export function terminalTime(nowMs: number, utcOffsetMinutes: number): TerminalTime {
  const two = (n: number): string => String(n).padStart(2, '0')
  const utc = new Date(nowMs)
  const local = new Date(nowMs + utcOffsetMinutes * 60_000)
  const mmdd = (d: Date): string => two(d.getUTCMonth() + 1) + two(d.getUTCDate())
  const hhmmss = (d: Date): string =>
    two(d.getUTCHours()) + two(d.getUTCMinutes()) + two(d.getUTCSeconds())
  return {
    transmissionTime: mmdd(utc) + hhmmss(utc),
    localTime: hhmmss(local),
    localDate: mmdd(local),
  }
}

/** How a follow-up names its original: the terminal's own trace of it. */
export interface OriginalRef {
  readonly kind: OriginalKind
  readonly stan: string
  /** iso87: the original's field 7 (MMDDhhmmss), which the host keys the original by. */
  readonly transmissionTime: string | null
  /** cup-pos 61.3: the original's local date, MMDD. */
  readonly localDate: string
}

export interface CardInput {
  readonly pan: string
  readonly expiry: string
}

export interface RequestInput {
  readonly kind: TerminalKind
  readonly dialect: DialectName
  readonly stan: string
  readonly time: TerminalTime
  readonly terminalId: string
  readonly merchantId: string
  readonly card: CardInput | null
  readonly amountMinor: number | null
  readonly currencyNumeric: string
  /** Required for void, refund, completion and reversal. */
  readonly original: OriginalRef | null
}

/** Processing code, MTI and cup-pos 60.1 of a message; the reversal repeats its original's. */
interface Wire {
  readonly mti: string
  readonly processingCode: string
  readonly cupMessageType: string
}

function wireOf(input: RequestInput, original: OriginalRef | null): Wire {
  const cup = input.dialect === 'cup-pos'
  assert(input.kind !== 'sign_on' && input.kind !== 'echo', 'network messages have no profile')
  const profileKind = input.kind === 'reversal' ? (original?.kind ?? 'purchase') : input.kind
  const profile = PROFILES[profileKind]
  const mti = input.kind === 'reversal' ? '0400' : cup ? profile.cupMti : profile.isoMti
  const processingCode = cup ? profile.cupProcessingCode : profile.isoProcessingCode
  let cupMessageType = profile.cupMessageType
  if (input.kind === 'void' && original !== null) cupMessageType = CUP_VOID_TYPE[original.kind]
  return { mti, processingCode, cupMessageType }
}

/** The MTI an original of this kind was sent with, for iso87 field 90.1. */
function originalMti(kind: OriginalKind): string {
  return PROFILES[kind].isoMti
}

/**
 * The request a terminal sends for a kind, in a dialect. Pure: time, STAN and card come in.
 * A cup-pos reversal repeats the original's STAN in field 11 (the caller passes it as `stan`).
 *
 * @example buildRequest({ kind: 'purchase', dialect: 'cup-pos', stan: '000123', ... })
 */
export function buildRequest(input: RequestInput): IsoMessage {
  assert(/^\d{6}$/.test(input.stan), 'a STAN is 6 digits')
  const cup = input.dialect === 'cup-pos'
  const header = cup ? { header: { tpdu: CUP_TPDU, header: CUP_HEADER } } : {}
  if (input.kind === 'sign_on' || input.kind === 'echo') {
    return { mti: '0800', fields: networkFields(input, input.kind), ...header }
  }
  const original = input.original
  const followUp =
    input.kind === 'void' ||
    input.kind === 'refund' ||
    input.kind === 'completion' ||
    input.kind === 'reversal'
  assert(!followUp || original !== null, `a ${input.kind} names its original`)
  const wire = wireOf(input, original)
  const fields = new Map<number, string>()
  if (input.card !== null) fields.set(2, input.card.pan)
  fields.set(3, wire.processingCode)
  if (input.amountMinor !== null) fields.set(4, String(input.amountMinor).padStart(12, '0'))
  if (!cup) fields.set(7, input.time.transmissionTime)
  fields.set(11, input.stan)
  fields.set(12, input.time.localTime)
  fields.set(13, input.time.localDate)
  if (input.card !== null) {
    fields.set(14, input.card.expiry)
    fields.set(22, ENTRY_MODE_KEYED)
  }
  const preauthorization =
    input.kind === 'preauthorization' ||
    (input.kind === 'reversal' && original?.kind === 'preauthorization')
  fields.set(25, preauthorization && cup ? CONDITION_PREAUTHORIZATION : CONDITION_NORMAL)
  fields.set(41, input.terminalId)
  fields.set(42, input.merchantId)
  fields.set(49, input.currencyNumeric)
  if (cup) {
    fields.set(60, wire.cupMessageType + BATCH_NUMBER + '000')
    if (followUp && input.kind !== 'reversal' && original !== null) {
      fields.set(61, BATCH_NUMBER + original.stan + original.localDate)
    }
  } else if (followUp && original !== null) {
    const time = original.transmissionTime ?? '0000000000'
    fields.set(90, originalMti(original.kind) + original.stan + time + '0'.repeat(22))
  }
  return { mti: wire.mti, fields, ...header }
}

function networkFields(input: RequestInput, kind: NetworkKind): Map<number, string> {
  const fields = new Map<number, string>()
  if (input.dialect !== 'cup-pos') fields.set(7, input.time.transmissionTime)
  fields.set(11, input.stan)
  fields.set(41, input.terminalId)
  fields.set(42, input.merchantId)
  if (input.dialect === 'cup-pos') fields.set(60, '00' + BATCH_NUMBER + NETWORK_CODE[kind])
  else fields.set(70, NETWORK_CODE[kind])
  return fields
}

/** The response MTI of a request MTI: 0200 → 0210, 0400 → 0410, 0800 → 0810. */
export function responseMtiOf(mti: string): string {
  assert(/^\d{4}$/.test(mti), 'an MTI is 4 digits')
  const kind = Number(mti.charAt(2))
  assert(kind % 2 === 0, `${mti} is a request MTI`)
  return mti.slice(0, 2) + String(kind + 1) + '0'
}

// ---------------------------------------------------------------------------------------------
// MAC (field 64), as the host's channel computes it: over the bytes after the TPDU and header,
// up to but not including field 64.

/** Whether a dialect's field 64 is 8 raw bytes on the wire, which is how the host reads a MAC. */
export function dialectCarriesMac(dialect: Dialect): boolean {
  const def = dialect.fields[MAC_FIELD]
  return def !== undefined && def.encoding === 'binary' && def.size === MAC_BYTES
}

function headerBytesOf(dialect: Dialect): number {
  return dialect.header === null ? 0 : dialect.header.tpduBytes + dialect.header.headerBytes
}

/** Encodes a message with field 64 set to the MAC of the rest; errors as values. */
export function encodeWithMac(
  dialect: Dialect,
  message: IsoMessage,
  macKey: MacKey | null,
): { readonly ok: true; readonly bytes: Buffer } | { readonly ok: false; readonly reason: string } {
  const fields = new Map(message.fields)
  if (macKey === null) fields.delete(MAC_FIELD)
  else fields.set(MAC_FIELD, '0'.repeat(MAC_BYTES * 2))
  assert(macKey === null || dialectCarriesMac(dialect), 'MAC only where field 64 is 8 bytes')
  const encoded = encode(dialect, { ...message, fields })
  if (!encoded.ok) {
    const { field, expected, found } = encoded.error
    const where = field === null ? 'the message' : `field ${field}`
    return { ok: false, reason: `cannot encode ${where}: expected ${expected}, found ${found}` }
  }
  const bytes = Buffer.from(encoded.bytes)
  if (macKey !== null) {
    const block = bytes.subarray(headerBytesOf(dialect), bytes.length - MAC_BYTES)
    cupEcbMac(macKey, block).copy(bytes, bytes.length - MAC_BYTES)
  }
  return { ok: true, bytes }
}

/** null when the answer carries no MAC; else whether it is the MAC of the answer under the key. */
function answerMacValid(
  dialect: Dialect,
  frame: Buffer,
  answer: IsoMessage,
  key: MacKey,
): boolean | null {
  const mac = answer.fields.get(MAC_FIELD)
  if (mac === undefined) return null
  const block = frame.subarray(headerBytesOf(dialect), frame.length - MAC_BYTES)
  return verifyCupEcbMac(key, block, Buffer.from(mac, 'hex'))
}

// ---------------------------------------------------------------------------------------------
// TCP

export type TerminalErrorCode =
  | 'connect_refused'
  | 'connect_timeout'
  | 'connect_failed'
  | 'answer_timeout'
  | 'connection_closed'
  | 'bad_frame'
  | 'bad_answer'
  | 'encode_failed'

/** An operating failure of the terminal's link to the host: a stable code and a clear message. */
export class TerminalError extends Error {
  override readonly name = 'TerminalError'
  readonly code: TerminalErrorCode

  constructor(code: TerminalErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

export interface Endpoint {
  readonly host: string
  readonly port: number
  readonly dialect: Dialect
  readonly framing: Framing
  readonly connectTimeoutMs: number
}

export interface Exchange {
  readonly request: IsoMessage
  readonly answer: IsoMessage
  /** null: no key given or no MAC in the answer. */
  readonly answerMacValid: boolean | null
}

type Arrival = { readonly type: 'frame'; readonly frame: Buffer } | { readonly type: 'ended' }

/**
 * One TCP connection to an ISO 8583 host. `exchange` sends one request and waits (bounded) for
 * the answer with the response MTI and the same STAN.
 *
 * ```ts
 * const link = await IsoConnection.open({ host, port, dialect, framing, connectTimeoutMs })
 * try { const { answer } = await link.exchange(request, null, 30_000) } finally { link.close() }
 * ```
 */
export class IsoConnection {
  readonly #socket: Socket
  readonly #endpoint: Endpoint
  readonly #reader: FrameReader
  readonly #frames: Buffer[] = []
  #ended: string | null = null
  #wake: (() => void) | null = null

  private constructor(socket: Socket, endpoint: Endpoint) {
    this.#socket = socket
    this.#endpoint = endpoint
    this.#reader = new FrameReader(endpoint.framing, ANSWER_BYTES_MAX)
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('close', () => this.#end('the host closed the connection'))
    socket.on('error', (error) => this.#end(`connection error: ${error.message}`))
  }

  /** Connects, or fails with a TerminalError within `connectTimeoutMs`. */
  static open(endpoint: Endpoint): Promise<IsoConnection> {
    const where = `${endpoint.host}:${endpoint.port}`
    return new Promise((resolve, reject) => {
      const socket = connect({ host: endpoint.host, port: endpoint.port })
      const timer = setTimeout(() => {
        socket.destroy()
        const limit = `${endpoint.connectTimeoutMs} ms`
        reject(new TerminalError('connect_timeout', `cannot connect to ${where} within ${limit}`))
      }, endpoint.connectTimeoutMs)
      socket.once('connect', () => {
        clearTimeout(timer)
        socket.removeAllListeners('error')
        socket.setNoDelay(true)
        resolve(new IsoConnection(socket, endpoint))
      })
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer)
        socket.destroy()
        const refused = error.code === 'ECONNREFUSED'
        const why = refused
          ? 'connection refused (is `tollgate serve` running, on this ISO port?)'
          : error.message
        reject(
          new TerminalError(
            refused ? 'connect_refused' : 'connect_failed',
            `cannot connect to ${where}: ${why}`,
            { cause: error },
          ),
        )
      })
    })
  }

  /** Sends a request and returns its answer; throws TerminalError on a timeout or a bad link. */
  async exchange(request: IsoMessage, macKey: MacKey | null, timeoutMs: number): Promise<Exchange> {
    assert(timeoutMs > 0 && timeoutMs <= TIMEOUT_MS_MAX, `answer timeout ${timeoutMs} ms`)
    const dialect = this.#endpoint.dialect
    const encoded = encodeWithMac(dialect, request, macKey)
    if (!encoded.ok) throw new TerminalError('encode_failed', encoded.reason)
    if (this.#ended !== null) throw new TerminalError('connection_closed', this.#ended)
    this.#socket.write(encodeFrame(this.#endpoint.framing, encoded.bytes))
    const expectedMti = responseMtiOf(request.mti)
    const stan = request.fields.get(11)
    const deadline = Date.now() + timeoutMs
    for (let stray = 0; stray <= STRAY_FRAMES_MAX; stray += 1) {
      const arrival = await this.#next(deadline)
      if (arrival === null) {
        throw new TerminalError(
          'answer_timeout',
          `no ${expectedMti} answer to STAN ${stan ?? '?'} within ${timeoutMs} ms`,
        )
      }
      if (arrival.type === 'ended') {
        throw new TerminalError('connection_closed', `${this.#ended ?? 'closed'} before answering`)
      }
      const decoded = decode(dialect, arrival.frame)
      if (!decoded.ok) {
        if (decoded.error.mti !== expectedMti) continue
        const text = formatDecodeError(decoded.error, dialect)
        throw new TerminalError('bad_answer', `the ${expectedMti} answer cannot be read: ${text}`)
      }
      const answer = decoded.message
      const answerStan = answer.fields.get(11)
      // A format-error answer may carry no STAN: with one request in flight it is ours.
      if (answer.mti !== expectedMti || (answerStan !== undefined && answerStan !== stan)) continue
      const valid = macKey === null ? null : answerMacValid(dialect, arrival.frame, answer, macKey)
      return { request, answer, answerMacValid: valid }
    }
    const why = `more than ${STRAY_FRAMES_MAX} frames that are not the answer`
    throw new TerminalError('bad_answer', why)
  }

  close(): void {
    this.#end('closed by the terminal')
    this.#socket.destroy()
  }

  #onData(chunk: Buffer): void {
    if (this.#reader.failed) return
    for (const event of this.#reader.push(chunk)) {
      if (event.type === 'error') {
        const declared = event.declared === null ? 'not a length' : `${event.declared} bytes`
        this.#end(`bad frame from the host (${event.code}: ${declared}, max ${event.max})`)
        this.#socket.destroy()
        return
      }
      // The frames kept are bounded: more than the strays an exchange tolerates is an error.
      if (this.#frames.length > STRAY_FRAMES_MAX) {
        this.#end('the host sent more frames than were asked for')
        this.#socket.destroy()
        return
      }
      this.#frames.push(event.frame)
    }
    this.#notify()
  }

  #end(reason: string): void {
    this.#ended ??= reason
    this.#notify()
  }

  #notify(): void {
    const wake = this.#wake
    this.#wake = null
    wake?.()
  }

  /** The next frame, 'ended' once the link is gone and drained, or null at the deadline. */
  async #next(deadline: number): Promise<Arrival | null> {
    for (;;) {
      const frame = this.#frames.shift()
      if (frame !== undefined) return { type: 'frame', frame }
      if (this.#ended !== null) return { type: 'ended' }
      const left = deadline - Date.now()
      if (left <= 0) return null
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.#wake = null
    }
  }
}
