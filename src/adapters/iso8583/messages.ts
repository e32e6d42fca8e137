import type { EntryMode } from '../../core/risk/features.js'
import { findCurrency } from '../../core/money.js'
import type { TransactionRecord } from '../../core/model.js'
import type { CoreRequest, OriginalTrace } from '../../core/pipeline/requests.js'
import type { RequestResult } from '../../core/pipeline/result.js'
import { reasonEntry } from '../../core/reasons/catalogue.js'
import type { ReasonCode } from '../../core/reasons/codes.js'
import type { IsoMessage } from './codec.js'
import type { DialectName } from './spec.js'

/**
 * What ISO 8583 messages mean to Tollgate, and how its answers are written back. Pure: no
 * sockets, no encoding — decoded messages in, core requests and response fields out.
 */

/** The MTI and fields of a decoded message (no TPDU or header: the channel carries those). */
export type IsoFields = Pick<IsoMessage, 'mti' | 'fields'>

export type NetworkAction = 'sign_on' | 'sign_off' | 'echo' | 'key_exchange' | 'unknown'

/** What an inbound message asks for. */
export type Interpretation =
  | { readonly type: 'network'; readonly action: NetworkAction; readonly terminalId: string | null }
  | { readonly type: 'request'; readonly request: CoreRequest }
  | { readonly type: 'invalid'; readonly field: number | null; readonly expected: string }

/** The MTIs Tollgate answers, with their response MTI. */
export const RESPONSE_MTI: Readonly<Record<string, string>> = {
  '0100': '0110',
  '0200': '0210',
  '0220': '0230',
  '0400': '0410',
  '0401': '0410',
  '0420': '0430',
  '0421': '0430',
  '0800': '0810',
}

/** The cup-pos message type code (field 60.1) of each transaction. */
export const CUP_MESSAGE_TYPE = {
  balanceInquiry: '01',
  preauthorization: '10',
  preauthorizationVoid: '11',
  completion: '20',
  completionVoid: '21',
  purchase: '22',
  purchaseVoid: '23',
  completionAdvice: '24',
  refund: '25',
} as const

const NETWORK_CODES: Readonly<Record<string, NetworkAction>> = {
  '001': 'sign_on',
  '002': 'sign_off',
  '101': 'key_exchange',
  '301': 'echo',
}

export interface InterpretContext {
  readonly dialect: DialectName
  readonly tokenize: (pan: string) => string
  /** YYYY-MM-DD today, at the acquirer's offset (for originals named by an MMDD date). */
  readonly localDate: string
}

const field = (m: IsoFields, n: number): string | null => m.fields.get(n) ?? null

/** Minor units from an n12 amount field; the core validates the range. */
function amountOf(m: IsoFields): number | null {
  const text = field(m, 4)
  return text === null || !/^\d{1,12}$/.test(text) ? null : Number(text)
}

function currencyOf(m: IsoFields): string {
  const numeric = field(m, 49)
  // A terminal that sends no currency trades in the home currency.
  return numeric === null ? 'CNY' : (findCurrency(numeric)?.alpha ?? numeric)
}

function cupMessageType(m: IsoFields): string | null {
  const f60 = field(m, 60)
  return f60 === null || f60.length < 2 ? null : f60.slice(0, 2)
}

/** The processing code's transaction type: the first two digits of field 3. */
function processingType(m: IsoFields): string | null {
  const f3 = field(m, 3)
  return f3 === null || !/^\d{6}$/.test(f3) ? null : f3.slice(0, 2)
}

/**
 * The original a follow-up names. ISO 8583:1987 carries it in field 90 (original MTI, STAN,
 * transmission time); a reversal without field 90 repeats the original's STAN and time. A
 * cup-pos message carries the original's batch, trace and MMDD date in field 61.
 */
function originalTraceOf(
  m: IsoFields,
  ctx: InterpretContext,
  terminalId: string,
): OriginalTrace | null {
  if (ctx.dialect === 'cup-pos') {
    const isReversal = m.mti.startsWith('04')
    const f61 = field(m, 61)
    if (isReversal) {
      const stan = field(m, 11)
      return stan === null ? null : { terminalId, stan, transmissionTime: null }
    }
    if (f61 === null || !/^\d{12}/.test(f61)) return null
    const stan = f61.slice(6, 12)
    const mmdd = f61.length >= 16 ? f61.slice(12, 16) : null
    // The original is never in the future: an MMDD after today's is last year's (31 December
    // named on 1 January).
    const monthDay = mmdd === null ? null : `${mmdd.slice(0, 2)}-${mmdd.slice(2, 4)}`
    const thisYear = Number(ctx.localDate.slice(0, 4))
    const year = monthDay !== null && monthDay > ctx.localDate.slice(5) ? thisYear - 1 : thisYear
    const localDate = monthDay === null ? null : `${String(year).padStart(4, '0')}-${monthDay}`
    return { terminalId, stan, transmissionTime: null, localDate }
  }
  const f90 = field(m, 90)
  if (f90 !== null && /^\d{20}/.test(f90)) {
    return { terminalId, stan: f90.slice(4, 10), transmissionTime: f90.slice(10, 20) }
  }
  const stan = field(m, 11)
  if (stan === null) return null
  return { terminalId, stan, transmissionTime: field(m, 7) }
}

type Kind =
  | 'purchase'
  | 'preauthorization'
  | 'balance_inquiry'
  | 'completion'
  | 'void'
  | 'refund'
  | 'reversal'

/** Which transaction an MTI plus processing code (or cup-pos field 60.1) is. */
export function kindOf(m: IsoFields, dialect: DialectName): Kind | null {
  if (m.mti.startsWith('04')) return 'reversal'
  if (dialect === 'cup-pos') {
    switch (cupMessageType(m)) {
      case CUP_MESSAGE_TYPE.purchase:
        return 'purchase'
      case CUP_MESSAGE_TYPE.balanceInquiry:
        return 'balance_inquiry'
      case CUP_MESSAGE_TYPE.preauthorization:
        return 'preauthorization'
      case CUP_MESSAGE_TYPE.completion:
      case CUP_MESSAGE_TYPE.completionAdvice:
        return 'completion'
      case CUP_MESSAGE_TYPE.purchaseVoid:
      case CUP_MESSAGE_TYPE.preauthorizationVoid:
      case CUP_MESSAGE_TYPE.completionVoid:
        return 'void'
      case CUP_MESSAGE_TYPE.refund:
        return 'refund'
      case null:
      default:
        return null
    }
  }
  const type = processingType(m)
  if (m.mti === '0100') return type === '00' || type === '03' ? 'preauthorization' : null
  if (m.mti === '0200') {
    if (type === '00') return 'purchase'
    if (type === '31') return 'balance_inquiry'
    if (type === '02') return 'void'
    if (type === '20') return 'refund'
    return null
  }
  if (m.mti === '0220') return type === '20' ? 'refund' : type === '00' ? 'completion' : null
  return null
}

/** Reads what a decoded message asks for. Never throws. */
export function interpret(m: IsoFields, ctx: InterpretContext): Interpretation {
  const trimmed = field(m, 41)?.trim() ?? ''
  const terminalId = trimmed === '' ? null : trimmed
  if (m.mti === '0800') {
    const code = ctx.dialect === 'cup-pos' ? (field(m, 60)?.slice(8, 11) ?? null) : field(m, 70)
    return {
      type: 'network',
      action: code === null ? 'unknown' : (NETWORK_CODES[code] ?? 'unknown'),
      terminalId,
    }
  }
  if (RESPONSE_MTI[m.mti] === undefined)
    return {
      type: 'invalid',
      field: null,
      expected: 'an MTI Tollgate answers: 0100, 0200, 0220, 0400, 0420 or 0800',
    }
  if (terminalId === null)
    return { type: 'invalid', field: 41, expected: 'the terminal id (field 41)' }
  const kind = kindOf(m, ctx.dialect)
  if (kind === null) {
    return ctx.dialect === 'cup-pos'
      ? {
          type: 'invalid',
          field: 60,
          expected: 'a message type code Tollgate supports in field 60.1 (01, 10, 11, 20–25)',
        }
      : {
          type: 'invalid',
          field: 3,
          expected: 'a processing code Tollgate supports (00, 02, 20, 31)',
        }
  }
  const stan = field(m, 11)
  if (stan === null) return { type: 'invalid', field: 11, expected: 'a 6-digit STAN (field 11)' }
  const base = { channel: 'iso8583' as const, idempotencyKey: null }
  if (kind === 'purchase' || kind === 'preauthorization' || kind === 'balance_inquiry') {
    const pan = field(m, 2)
    const expiry = field(m, 14)
    const merchantText = field(m, 42)?.trim() ?? ''
    const merchantId = merchantText === '' ? null : merchantText
    if (pan === null) return { type: 'invalid', field: 2, expected: 'the card number (field 2)' }
    if (merchantId === null)
      return { type: 'invalid', field: 42, expected: 'the merchant id (field 42)' }
    const amountMinor = kind === 'balance_inquiry' ? 0 : amountOf(m)
    if (amountMinor === null)
      return { type: 'invalid', field: 4, expected: 'the amount in minor units, n12 (field 4)' }
    return {
      type: 'request',
      request: {
        ...base,
        type: 'new',
        kind,
        terminalId,
        merchantId,
        stan,
        transmissionTime: field(m, 7),
        card: { pan, expiry: expiry ?? '' },
        cardToken: /^\d{13,19}$/.test(pan) ? ctx.tokenize(pan) : 'tok_invalid',
        amountMinor,
        currency: currencyOf(m),
        // Absent field 22: not said (null when stored), as an HTTP request without entryMode.
        ...(field(m, 22) === null ? {} : { entryMode: entryModeOf(field(m, 22)) }),
      },
    }
  }
  const trace = originalTraceOf(m, ctx, terminalId)
  if (trace === null) {
    return {
      type: 'invalid',
      field: ctx.dialect === 'cup-pos' ? 61 : 90,
      expected: 'the original transaction (batch, trace and date in field 61; or field 90)',
    }
  }
  const amountMinor = kind === 'completion' || kind === 'refund' ? amountOf(m) : null
  return {
    type: 'request',
    request: { ...base, type: 'follow_up', kind, stan, amountMinor, originalTrace: trace },
  }
}

/** The response code a dialect's terminals read for a reason. */
export function responseCodeFor(reason: ReasonCode, dialect: DialectName): string {
  const entry = reasonEntry(reason)
  return dialect === 'cup-pos' ? (entry.cupCode ?? entry.isoCode) : entry.isoCode
}

/**
 * Field 22 (POS entry mode), first two digits: how the card number was read. A risk feature;
 * an absent or unknown value is 'unknown', never a format error (it decides nothing by itself).
 */
export function entryModeOf(value: string | null): EntryMode {
  const mode = value === null ? '' : value.slice(0, 2)
  switch (mode) {
    case '01':
      return 'manual'
    case '02':
    case '90':
      return 'magstripe'
    case '05':
    case '95':
      return 'chip'
    case '07':
    case '91':
    case '98':
      return 'contactless'
    default:
      return 'unknown'
  }
}

/** Fields a response echoes from its request (ISO 8583:1987 mandatory echoes). */
const ECHOED = [2, 3, 4, 7, 11, 12, 13, 14, 22, 25, 32, 41, 42, 49, 60, 61, 90] as const

/**
 * Field 54, additional amounts: account type 00, amount type 02 (available balance), the
 * currency, C or D, and twelve digits.
 */
export function balanceField(availableMinor: number, currencyNumeric: string): string {
  const sign = availableMinor < 0 ? 'D' : 'C'
  return `0002${currencyNumeric}${sign}${String(Math.abs(availableMinor)).padStart(12, '0')}`
}

/** The response to a request that reached the core: field 39, 38 on approval, 54 for balances. */
export function respond(m: IsoFields, result: RequestResult, dialect: DialectName): IsoFields {
  const fields = new Map<number, string>()
  for (const n of ECHOED) {
    const value = m.fields.get(n)
    if (value !== undefined) fields.set(n, value)
  }
  const mti = RESPONSE_MTI[m.mti] ?? m.mti
  if (result.type === 'rejected') {
    fields.set(39, responseCodeFor(result.reason, dialect))
    return { mti, fields }
  }
  const record: TransactionRecord = result.transaction
  fields.set(37, m.fields.get(37) ?? record.rrn)
  fields.set(39, record.reason === null ? '00' : responseCodeFor(record.reason, dialect))
  if (record.authorizationCode !== null) fields.set(38, record.authorizationCode)
  if (record.balanceMinor !== null) {
    fields.set(
      54,
      balanceField(record.balanceMinor, findCurrency(record.currency)?.numeric ?? '156'),
    )
  }
  return { mti, fields }
}

/** A format-error answer for a message whose MTI could be read but whose body could not. */
export function formatErrorResponse(
  mti: string,
  echo: ReadonlyMap<number, string>,
): IsoFields | null {
  const responseMti = RESPONSE_MTI[mti]
  if (responseMti === undefined) return null
  const fields = new Map<number, string>()
  for (const n of [3, 11, 41, 42] as const) {
    const value = echo.get(n)
    if (value !== undefined) fields.set(n, value)
  }
  fields.set(39, '30')
  return { mti: responseMti, fields }
}

/** The answer to a network management message. */
export function networkResponse(
  m: IsoFields,
  approved: boolean,
  reason: ReasonCode | null,
  dialect: DialectName,
): IsoFields {
  const fields = new Map<number, string>()
  for (const n of [7, 11, 12, 13, 32, 41, 42, 60, 70] as const) {
    const value = m.fields.get(n)
    if (value !== undefined) fields.set(n, value)
  }
  fields.set(39, approved || reason === null ? '00' : responseCodeFor(reason, dialect))
  return { mti: '0810', fields }
}
