import type { IsoMessage } from '../iso8583/codec.js'
import { balanceField } from '../iso8583/messages.js'

/**
 * The issuer link: what Tollgate (the acquirer) and a card issuer's host say to each other over
 * ISO 8583:1987 (dialect `iso87-binary`, 2-byte length framing by default). The remote issuer
 * client (`client.ts`) and the issuer simulator (`src/issuer-sim/`) both speak it through this
 * module, so the two ends cannot drift apart.
 *
 * | request | response | use |
 * |---|---|---|
 * | 0800 (70 = 001 sign-on, 002 sign-off, 301 echo) | 0810 | network management |
 * | 0100 (3 = 000000) | 0110 | preauthorization |
 * | 0200 (3 = 000000 purchase, 310000 balance inquiry) | 0210 | financial request |
 * | 0220, repeated as 0221 | 0230 | advice: a stand-in approval made by the acquirer |
 * | 0400, repeated as 0420 / 0421 | 0410 / 0430 | reversal of an earlier request |
 *
 * Correlation of a response with its request is by message class (below), terminal (41), STAN
 * (11) and transmission time (7) — never the STAN alone: two terminals may use the same STAN.
 */

export const ISSUER_LINK_DIALECT = 'iso87-binary'

export type IssuerRequestKind =
  'purchase' | 'preauthorization' | 'balance_inquiry' | 'reversal' | 'advice'

/** The original of a reversal, as ISO 8583 field 90 carries it. */
export interface OriginalData {
  readonly mti: string
  readonly stan: string
  /** MMDDhhmmss */
  readonly transmissionTime: string
}

export interface IssuerRequest {
  readonly kind: IssuerRequestKind
  /** Card number: in the message only, never stored or logged by either end. */
  readonly pan: string
  /** YYMM */
  readonly expiry: string
  readonly amountMinor: number
  /** ISO 4217 numeric, e.g. 156 */
  readonly currencyNumeric: string
  /** Six digits, unique per terminal and day on the link. */
  readonly stan: string
  /** MMDDhhmmss, UTC, of this message. */
  readonly transmissionTime: string
  readonly terminalId: string
  readonly merchantId: string
  /** Field 32. */
  readonly acquirerId: string
  /** Field 37, twelve characters. */
  readonly rrn: string
  /** For a reversal: the request it undoes. */
  readonly original?: OriginalData
  /** For an advice: the stand-in authorization code given to the terminal. */
  readonly authorizationCode?: string
  /** For an advice: why the acquirer stood in, sent in field 60 as `STIP <reason>`. */
  readonly standInReason?: string
  /** 0421 / 0221: a repeat of an advice or reversal already sent. */
  readonly repeat?: boolean
}

/** What the issuer answered, as the acquirer reads it. */
export interface IssuerAnswer {
  /** Field 39 exactly as the issuer sent it. */
  readonly responseCode: string
  readonly authorizationCode: string | null
  /** Field 54's available balance, for inquiries. */
  readonly balanceMinor: number | null
}

export type ProtocolError = { readonly field: number | null; readonly expected: string }

const PROCESSING_CODE: Readonly<
  Record<'purchase' | 'preauthorization' | 'balance_inquiry', string>
> = {
  purchase: '000000',
  preauthorization: '000000',
  balance_inquiry: '310000',
}

/** The MTI of a request; repeats of advices and reversals use their own MTIs. */
export function requestMti(request: Pick<IssuerRequest, 'kind' | 'repeat'>, attempt = 0): string {
  switch (request.kind) {
    case 'preauthorization':
      return '0100'
    case 'purchase':
    case 'balance_inquiry':
      return '0200'
    case 'advice':
      return request.repeat === true || attempt > 0 ? '0221' : '0220'
    case 'reversal':
      // 0400 first; after a lost answer the reversal becomes an advice: 0420, then 0421.
      return attempt === 0 ? '0400' : attempt === 1 ? '0420' : '0421'
  }
}

/** The response MTI of a request MTI (0200 → 0210, 0221 → 0230, 0421 → 0430). */
export function responseMti(mti: string): string {
  const fn = mti[2] === '2' ? '3' : '1'
  return `${mti.slice(0, 2)}${fn}0`
}

/**
 * The class part of the correlation key: version + class + request/advice, so that a 0210
 * matches a 0200, a 0230 a 0220 or 0221, a 0430 a 0420 or 0421 — and a 0210 never a 0220.
 */
export function messageClass(mti: string): string {
  const third = mti[2] === '0' || mti[2] === '1' ? '0' : '2'
  return `${mti.slice(0, 2)}${third}`
}

export function correlationKey(
  mti: string,
  terminalId: string,
  stan: string,
  transmissionTime: string,
): string {
  return `${messageClass(mti)}|${terminalId}|${stan}|${transmissionTime}`
}

/** The key of a message (request or response), or null if it lacks a field the key needs. */
export function correlationKeyOf(message: IsoMessage): string | null {
  const terminal = message.fields.get(41)
  const stan = message.fields.get(11)
  const time = message.fields.get(7)
  if (terminal === undefined || stan === undefined || time === undefined) return null
  return correlationKey(message.mti, terminal.trim(), stan, time)
}

const pad = (value: string, width: number): string => value.padEnd(width, ' ').slice(0, width)

/** The ISO message of a request (attempt 0 is the first send; advices and reversals repeat). */
export function requestMessage(request: IssuerRequest, attempt = 0): IsoMessage {
  const mti = requestMti(request, attempt)
  const fields = new Map<number, string>([
    [2, request.pan],
    [4, String(request.amountMinor).padStart(12, '0')],
    [7, request.transmissionTime],
    [11, request.stan],
    [14, request.expiry],
    [32, request.acquirerId],
    [37, pad(request.rrn, 12)],
    [41, pad(request.terminalId, 8)],
    [42, pad(request.merchantId, 15)],
    [49, request.currencyNumeric],
  ])
  if (request.kind === 'reversal' || request.kind === 'advice') {
    fields.set(3, '000000')
  } else {
    fields.set(3, PROCESSING_CODE[request.kind])
  }
  if (request.kind === 'balance_inquiry') fields.set(4, '000000000000')
  if (request.kind === 'advice' && request.authorizationCode !== undefined) {
    fields.set(38, pad(request.authorizationCode, 6))
    fields.set(39, '00')
  }
  if (request.kind === 'advice' && request.standInReason !== undefined)
    fields.set(60, `STIP ${request.standInReason}`)
  if (request.kind === 'reversal' && request.original !== undefined) {
    const o = request.original
    const acquirer = request.acquirerId.padStart(11, '0').slice(-11)
    fields.set(90, `${o.mti}${o.stan}${o.transmissionTime}${acquirer}${'0'.repeat(11)}`)
  }
  return { mti, fields }
}

/** A network management request: sign-on (001), sign-off (002) or echo (301). */
export function networkMessage(
  code: '001' | '002' | '301',
  stan: string,
  transmissionTime: string,
  acquirerId: string,
): IsoMessage {
  return {
    mti: '0800',
    fields: new Map([
      [7, transmissionTime],
      [11, stan],
      [32, acquirerId],
      [41, pad('NETWORK', 8)],
      [70, code],
    ]),
  }
}

/** What a request message asks, read by an issuer (the simulator). */
export function readRequest(message: IsoMessage): IssuerRequest | ProtocolError {
  const f = (n: number): string | undefined => message.fields.get(n)
  const kind = kindOf(message)
  if (kind === null)
    return {
      field: null,
      expected: `a request MTI (0100, 0200, 0220/0221, 0400/0420/0421), got ${message.mti}`,
    }
  const required: readonly number[] = [2, 3, 4, 7, 11, 41, 42, 49]
  for (const n of required) if (f(n) === undefined) return { field: n, expected: `field ${n}` }
  const amount = Number(f(4))
  if (!Number.isSafeInteger(amount)) return { field: 4, expected: 'an amount of digits' }
  let original: OriginalData | undefined
  if (kind === 'reversal') {
    const data = f(90)
    if (data === undefined || data.length < 20)
      return { field: 90, expected: 'the original data elements (MTI, STAN, transmission time)' }
    original = {
      mti: data.slice(0, 4),
      stan: data.slice(4, 10),
      transmissionTime: data.slice(10, 20),
    }
  }
  const authorizationCode = f(38)?.trim()
  return {
    kind,
    pan: f(2) ?? '',
    expiry: f(14) ?? '',
    amountMinor: amount,
    currencyNumeric: f(49) ?? '',
    stan: f(11) ?? '',
    transmissionTime: f(7) ?? '',
    terminalId: (f(41) ?? '').trim(),
    merchantId: (f(42) ?? '').trim(),
    acquirerId: f(32) ?? '',
    rrn: (f(37) ?? '').trim(),
    ...(original === undefined ? {} : { original }),
    ...(authorizationCode === undefined || authorizationCode === '' ? {} : { authorizationCode }),
    ...(message.mti === '0221' || message.mti === '0421' ? { repeat: true } : {}),
  }
}

function kindOf(message: IsoMessage): IssuerRequestKind | null {
  switch (message.mti) {
    case '0100':
      return 'preauthorization'
    case '0200':
      return message.fields.get(3)?.startsWith('31') === true ? 'balance_inquiry' : 'purchase'
    case '0220':
    case '0221':
      return 'advice'
    case '0400':
    case '0420':
    case '0421':
      return 'reversal'
    default:
      return null
  }
}

/** The issuer's response to a request message (echoes the fields the acquirer correlates on). */
export function answerMessage(
  request: IsoMessage,
  answer: IssuerAnswer,
  currencyNumeric: string,
): IsoMessage {
  const fields = new Map<number, string>()
  for (const n of [2, 3, 4, 7, 11, 32, 37, 41, 42, 49, 90]) {
    const value = request.fields.get(n)
    if (value !== undefined) fields.set(n, value)
  }
  fields.set(39, answer.responseCode)
  if (answer.authorizationCode !== null) fields.set(38, pad(answer.authorizationCode, 6))
  if (answer.balanceMinor !== null)
    fields.set(54, balanceField(answer.balanceMinor, currencyNumeric))
  return { mti: responseMti(request.mti), fields }
}

/** The response to a network management request. */
export function networkAnswer(request: IsoMessage, responseCode: string): IsoMessage {
  const fields = new Map<number, string>()
  for (const n of [7, 11, 32, 41, 70]) {
    const value = request.fields.get(n)
    if (value !== undefined) fields.set(n, value)
  }
  fields.set(39, responseCode)
  return { mti: '0810', fields }
}

/** What a response message says, read by the acquirer. */
export function readAnswer(message: IsoMessage): IssuerAnswer | ProtocolError {
  const code = message.fields.get(39)
  if (code === undefined || !/^[0-9A-Z]{2}$/.test(code))
    return { field: 39, expected: 'a two-character response code' }
  const auth = message.fields.get(38)?.trim()
  const balance = message.fields.get(54)
  let balanceMinor: number | null = null
  if (balance !== undefined && balance.length >= 20) {
    const digits = Number(balance.slice(8, 20))
    if (Number.isSafeInteger(digits)) balanceMinor = balance[7] === 'D' ? -digits : digits
  }
  return {
    responseCode: code,
    authorizationCode: auth === undefined || auth === '' ? null : auth,
    balanceMinor,
  }
}

export function isProtocolError(value: object): value is ProtocolError {
  return 'expected' in value
}
