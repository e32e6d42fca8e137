import { randomInt } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline/promises'
import { parseArgs } from 'node:util'
import * as z from 'zod'
import { describe, withField } from '../../adapters/iso8583/codec.js'
import type { IsoMessage } from '../../adapters/iso8583/codec.js'
import { MacKey } from '../../adapters/iso8583/mac.js'
import { isDialectName, loadDialect } from '../../adapters/iso8583/spec.js'
import type { DialectName } from '../../adapters/iso8583/spec.js'
import { isFraming } from '../../adapters/iso8583/tcp/framing.js'
import { DEMO_CARDS, DEMO_TERMINALS } from '../../app/demo-data.js'
import { maskPan } from '../../core/card.js'
import { findCurrency, formatAmount, parseAmount } from '../../core/money.js'
import type { Currency } from '../../core/money.js'
import type { Lang } from '../../core/reasons/types.js'
import { apiClientOf, langOf, STAN_MAX, UsageError, utcOffsetMinutesOf } from '../env.js'
import { formatExplanation } from '../format.js'
import type { ExplanationLike } from '../format.js'
import type { ApiClient } from '../http-client.js'
import {
  ANSWER_TIMEOUT_MS_DEFAULT,
  buildRequest,
  CONNECT_TIMEOUT_MS_DEFAULT,
  dialectCarriesMac,
  IsoConnection,
  isTerminalKind,
  isTransactionKind,
  TerminalError,
  terminalTime,
  TIMEOUT_MS_MAX,
} from './client.js'
import type {
  CardInput,
  Endpoint,
  Exchange,
  OriginalKind,
  OriginalRef,
  TerminalKind,
  TransactionKind,
} from './client.js'

/**
 * `tollgate terminal`: a POS terminal simulator over TCP, for integrators and for training
 * cashiers. One-shot (`--kind …`) or an interactive menu; it signs on, sends the transaction,
 * prints the response code and fetches the explanation of the decision through the HTTP API.
 */

type Localized = Readonly<Record<Lang, string>>
/** 0 approved, 1 declined, 2 usage or connection error. */
type ExitCode = 0 | 1 | 2

export const TERMINAL_HELP = `tollgate terminal — a POS terminal simulator over ISO 8583/TCP

Usage:
  tollgate terminal --kind <kind> [options]     one transaction, then exit
  tollgate terminal [--interactive] [options]   a menu (the default on a TTY without --kind)

Kinds: purchase preauthorization balance_inquiry void refund completion reversal sign_on echo

Options:
  --amount <12.34>            amount in major units (purchase, preauthorization; completion and
                              refund default to the original's amount)
  --card <pan> --expiry <YYMM>      (default: the demo debit card)
  --terminal <id> --merchant <id>   (default: the demo noodle house 10000001 / 898310058120001)
  --stan <6 digits>           (default: a counter kept per terminal in the OS temp directory)
  --original-stan <6 digits>  the original of a void, refund, completion or reversal
  --original-time <MMDDhhmmss>  iso87: the original's field 7 (remembered when sent from here)
  --original-date <MMDD>      cup-pos: the original's date (default: remembered, or today)
  --original-kind purchase|preauthorization|completion|refund
  --host <host> --port <port> (default 127.0.0.1, TOLLGATE_ISO_PORT or 8583)
  --dialect cup-pos|iso87-ascii|iso87-binary   --framing binary2|ascii4
  --mac-key <hex>             compute field 64 (cup-pos, iso87-binary)
  --timeout <seconds>         wait for each answer at most this long (default 30)
  --no-sign-on                skip the sign-on (0800) before the transaction
  --show-messages             print each request and answer (card number and MAC masked)
  --lang zh-CN|en  --url <HTTP API> (default TOLLGATE_URL or http://127.0.0.1:8080)

Dates in fields 12, 13 and 61 are at TOLLGATE_UTC_OFFSET_MINUTES (default 480), as the server.
Exit codes: 0 approved, 1 declined, 2 usage or connection error.`

function usage(message: string): never {
  throw new UsageError(message)
}

const STATE_RECENT_MAX = 100
const PROMPT_IDLE_MS = 10 * 60_000
const ANSWER_CHARS_MAX = 64
const MENU_INVALID_MAX = 5
const MENU_ROUNDS_MAX = 10_000
/** How far back a stored transaction may be and still be the one this terminal just sent. */
const LOOKUP_CLOCK_SKEW_MS = 10 * 60_000

const KIND_LABELS: Readonly<Record<TerminalKind, Localized>> = {
  purchase: { 'zh-CN': '消费', en: 'purchase' },
  preauthorization: { 'zh-CN': '预授权', en: 'preauthorization' },
  balance_inquiry: { 'zh-CN': '余额查询', en: 'balance inquiry' },
  void: { 'zh-CN': '撤销', en: 'void' },
  refund: { 'zh-CN': '退货', en: 'refund' },
  completion: { 'zh-CN': '预授权完成', en: 'completion' },
  reversal: { 'zh-CN': '冲正', en: 'reversal' },
  sign_on: { 'zh-CN': '签到', en: 'sign-on' },
  echo: { 'zh-CN': '回响测试', en: 'echo test' },
}

/**
 * What a response code means on the terminal's screen (China UnionPay POS display texts and the
 * ISO 8583 meanings, from reference/cup-response-codes.csv) for the codes Tollgate sends.
 */
const RESPONSE_MEANINGS: Readonly<Record<string, Localized>> = {
  '00': { 'zh-CN': '交易成功', en: 'Approved' },
  '03': { 'zh-CN': '无效商户', en: 'Invalid merchant' },
  '12': { 'zh-CN': '无效交易', en: 'Invalid transaction' },
  '13': { 'zh-CN': '无效金额', en: 'Invalid amount' },
  '14': { 'zh-CN': '无效卡号', en: 'Invalid card number' },
  '22': { 'zh-CN': '操作有误，或超出交易允许天数', en: 'Related transaction error' },
  '25': { 'zh-CN': '没有原始交易', en: 'Original transaction not found' },
  '30': { 'zh-CN': '报文格式错误', en: 'Format error' },
  '40': { 'zh-CN': '不支持的交易', en: 'Function not supported' },
  '41': { 'zh-CN': '挂失卡', en: 'Lost card' },
  '43': { 'zh-CN': '被窃卡', en: 'Stolen card' },
  '51': { 'zh-CN': '可用余额不足', en: 'Not sufficient funds' },
  '54': { 'zh-CN': '该卡已过期', en: 'Expired card' },
  '55': { 'zh-CN': '密码错', en: 'Incorrect PIN' },
  '57': { 'zh-CN': '不允许此卡交易', en: 'Not permitted to cardholder' },
  '58': { 'zh-CN': '不允许该卡在本终端进行此交易', en: 'Not permitted to terminal' },
  '59': { 'zh-CN': '有作弊嫌疑', en: 'Suspected fraud' },
  '61': { 'zh-CN': '交易金额超限', en: 'Exceeds amount limit' },
  '62': { 'zh-CN': '受限制的卡', en: 'Restricted card' },
  '63': { 'zh-CN': '违反安全保密规定', en: 'Security violation' },
  '64': { 'zh-CN': '交易金额与原交易不匹配', en: 'Original amount incorrect' },
  '65': { 'zh-CN': '超出交易次数限制', en: 'Exceeds frequency limit' },
  '68': { 'zh-CN': '交易超时，请重试', en: 'Response received too late' },
  '75': { 'zh-CN': '密码错误次数超限', en: 'PIN tries exceeded' },
  '90': { 'zh-CN': '系统日切，请稍后重试', en: 'Cutoff in progress' },
  '91': { 'zh-CN': '发卡方状态不正常，请稍后重试', en: 'Issuer or switch inoperative' },
  '92': { 'zh-CN': '发卡方线路异常，请稍后重试', en: 'Issuer cannot be reached' },
  '94': { 'zh-CN': '重复交易', en: 'Duplicate transmission' },
  '96': { 'zh-CN': '系统异常，请稍后重试', en: 'System malfunction' },
  '97': { 'zh-CN': '终端号未登记', en: 'Terminal not registered' },
  '98': { 'zh-CN': '发卡方超时', en: 'Issuer timeout' },
  A0: { 'zh-CN': 'MAC校验错，请重新签到', en: 'MAC verification failed; sign on again' },
}

const TEXT = {
  code: { 'zh-CN': '应答码', en: 'response code' },
  stan: { 'zh-CN': '流水号', en: 'STAN' },
  card: { 'zh-CN': '卡号', en: 'card' },
  original: { 'zh-CN': '原流水号', en: 'original STAN' },
  authorization: { 'zh-CN': '授权码', en: 'authorization code' },
  rrn: { 'zh-CN': '参考号', en: 'RRN' },
  balance: { 'zh-CN': '余额', en: 'balance' },
  unknownCode: { 'zh-CN': '未知应答码', en: 'unknown response code' },
  noAnswerCode: {
    'zh-CN': '应答中没有应答码（域39）',
    en: 'the answer has no response code (field 39)',
  },
  badMac: {
    'zh-CN': '警告：应答的MAC校验失败',
    en: 'warning: the MAC of the answer does not verify',
  },
  notRecorded: {
    'zh-CN': '主机未记录此交易（请求在决策前被拒收），没有可查询的解释。',
    en:
      'The host recorded no transaction for this answer (refused before a decision): ' +
      'no explanation to fetch.',
  },
  reversalAcknowledged: {
    'zh-CN': '主机确认了冲正，但没有记录：它没有该流水号的原交易，无需冲正。',
    en:
      'The host acknowledged the reversal but recorded nothing: it has no original with this ' +
      'STAN, so there was nothing to undo.',
  },
  noExplanation: { 'zh-CN': '无法获取解释', en: 'cannot fetch the explanation' },
} as const satisfies Record<string, Localized>

// ---------------------------------------------------------------------------------------------
// The per-terminal state file: the STAN counter and the recent originals (no card numbers).

const storedSchema = z.object({
  stan: z.string().regex(/^\d{6}$/),
  kind: z.enum(['purchase', 'preauthorization', 'completion', 'refund']),
  transmissionTime: z
    .string()
    .regex(/^\d{10}$/)
    .nullable(),
  localDate: z.string().regex(/^\d{4}$/),
  amountMinor: z.int().min(0).nullable(),
})
const stateSchema = z.object({
  lastStan: z.int().min(0).max(STAN_MAX),
  recent: z.array(storedSchema).max(STATE_RECENT_MAX),
})
type StoredOriginal = z.infer<typeof stateSchema>['recent'][number]

/**
 * A terminal's own trace book, kept in a small JSON file per terminal. When the file cannot be
 * read or written, STANs are random and nothing is remembered, which a one-off run survives.
 */
class TraceBook {
  readonly #path: string | null
  #lastStan: number
  #recent: StoredOriginal[]

  private constructor(path: string | null, lastStan: number, recent: StoredOriginal[]) {
    this.#path = path
    this.#lastStan = lastStan
    this.#recent = recent
  }

  static open(terminalId: string): TraceBook {
    const dir = process.env.TOLLGATE_TERMINAL_STATE_DIR ?? join(tmpdir(), 'tollgate-terminal')
    const path = join(dir, `terminal-${terminalId.replace(/[^0-9A-Za-z]/g, '_')}.json`)
    try {
      mkdirSync(dir, { recursive: true })
    } catch {
      return new TraceBook(null, randomInt(0, STAN_MAX), [])
    }
    try {
      const parsed = stateSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')))
      if (parsed.success) return new TraceBook(path, parsed.data.lastStan, parsed.data.recent)
    } catch {
      // No file yet, or not JSON: start a new book.
    }
    return new TraceBook(path, 0, [])
  }

  nextStan(): string {
    this.#lastStan =
      this.#path === null ? randomInt(1, STAN_MAX + 1) : (this.#lastStan % STAN_MAX) + 1
    this.#save()
    return String(this.#lastStan).padStart(6, '0')
  }

  remember(original: StoredOriginal): void {
    this.#recent = [original, ...this.#recent.filter((o) => o.stan !== original.stan)]
    this.#recent.length = Math.min(this.#recent.length, STATE_RECENT_MAX)
    this.#save()
  }

  find(stan: string): StoredOriginal | undefined {
    return this.#recent.find((original) => original.stan === stan)
  }

  latest(): StoredOriginal | undefined {
    return this.#recent[0]
  }

  #save(): void {
    if (this.#path === null) return
    const temporary = `${this.#path}.${process.pid}.tmp`
    try {
      writeFileSync(temporary, JSON.stringify({ lastStan: this.#lastStan, recent: this.#recent }))
      renameSync(temporary, this.#path)
    } catch {
      // A read-only temp directory: go on with what is in memory.
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Options

interface Session {
  readonly endpoint: Endpoint
  readonly dialectName: DialectName
  readonly lang: Lang
  readonly terminalId: string
  readonly merchantId: string
  readonly currency: Currency
  readonly api: ApiClient
  readonly showMessages: boolean
  readonly signOn: boolean
  readonly macKey: MacKey | null
  readonly answerTimeoutMs: number
  readonly utcOffsetMinutes: number
  readonly book: TraceBook
}

/** One transaction as asked for, before STANs and clock readings. */
interface Order {
  readonly kind: TerminalKind
  readonly card: CardInput | null
  readonly amountMinor: number | null
  readonly stan: string | null
  readonly original: OriginalRef | null
}

const OPTIONS = {
  kind: { type: 'string' },
  amount: { type: 'string' },
  card: { type: 'string' },
  expiry: { type: 'string' },
  terminal: { type: 'string' },
  merchant: { type: 'string' },
  stan: { type: 'string' },
  'original-stan': { type: 'string' },
  'original-time': { type: 'string' },
  'original-date': { type: 'string' },
  'original-kind': { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  dialect: { type: 'string' },
  framing: { type: 'string' },
  lang: { type: 'string' },
  url: { type: 'string' },
  'mac-key': { type: 'string' },
  timeout: { type: 'string' },
  currency: { type: 'string' },
  'show-messages': { type: 'boolean' },
  'no-sign-on': { type: 'boolean' },
  interactive: { type: 'boolean' },
  help: { type: 'boolean' },
} as const

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values']

function parseValues(args: string[]): Values {
  try {
    return parseArgs({ args, options: OPTIONS, strict: true }).values
  } catch (cause) {
    throw new UsageError(cause instanceof Error ? cause.message : String(cause))
  }
}

function check(value: string, pattern: RegExp, flag: string, expected: string): string {
  if (!pattern.test(value)) usage(`${flag}: expected ${expected}, got "${value}"`)
  return value
}

function integerIn(text: string, min: number, max: number, flag: string): number {
  check(text, /^\d{1,7}$/, flag, `a whole number from ${min} to ${max}`)
  const value = Number(text)
  if (value < min || value > max) {
    usage(`${flag}: expected a whole number from ${min} to ${max}, got ${text}`)
  }
  return value
}

function sessionOf(values: Values): Session {
  const lang = langOf(values.lang)
  const dialectName = values.dialect ?? process.env.TOLLGATE_ISO_DIALECT ?? 'cup-pos'
  if (!isDialectName(dialectName)) {
    usage(`--dialect: expected cup-pos, iso87-ascii or iso87-binary, got ${dialectName}`)
  }
  const framing = values.framing ?? process.env.TOLLGATE_ISO_FRAMING ?? 'binary2'
  if (!isFraming(framing)) usage(`--framing: expected binary2 or ascii4, got ${framing}`)
  const portText = values.port ?? process.env.TOLLGATE_ISO_PORT ?? '8583'
  const port = integerIn(portText, 1, 65_535, '--port')
  const dialect = loadDialect(dialectName)
  const terminalId = check(
    values.terminal ?? DEMO_TERMINALS.noodles.id,
    /^[0-9A-Za-z]{1,8}$/,
    '--terminal',
    'up to 8 letters or digits',
  )
  const merchantId = check(
    values.merchant ?? DEMO_TERMINALS.noodles.merchantId,
    /^[0-9A-Za-z]{1,15}$/,
    '--merchant',
    'up to 15 letters or digits',
  )
  const currency = findCurrency(values.currency ?? 'CNY')
  if (currency === null) usage(`--currency: unknown currency ${values.currency ?? ''}`)
  const seconds =
    values.timeout === undefined
      ? ANSWER_TIMEOUT_MS_DEFAULT / 1000
      : integerIn(values.timeout, 1, TIMEOUT_MS_MAX / 1000, '--timeout')
  const api = apiClientOf(values.url, lang)
  return {
    endpoint: {
      host: values.host ?? '127.0.0.1',
      port,
      dialect,
      framing,
      connectTimeoutMs: CONNECT_TIMEOUT_MS_DEFAULT,
    },
    dialectName,
    lang,
    terminalId,
    merchantId,
    currency,
    api,
    showMessages: values['show-messages'] === true,
    signOn: values['no-sign-on'] !== true,
    macKey: macKeyOf(values['mac-key'], dialectName),
    answerTimeoutMs: seconds * 1000,
    utcOffsetMinutes: utcOffsetMinutesOf(),
    book: TraceBook.open(terminalId),
  }
}

function macKeyOf(hex: string | undefined, dialectName: DialectName): MacKey | null {
  if (hex === undefined) return null
  if (!dialectCarriesMac(loadDialect(dialectName))) {
    usage(
      `--mac-key: ${dialectName} carries no 8-byte binary MAC in field 64 ` +
        '(use cup-pos or iso87-binary)',
    )
  }
  try {
    return MacKey.fromHex(hex)
  } catch (cause) {
    throw new UsageError(`--mac-key: ${cause instanceof Error ? cause.message : 'invalid'}`)
  }
}

function amountOf(text: string, currency: Currency): number {
  const parsed = parseAmount(text, currency.exponent)
  if (!parsed.ok) usage(`--amount: expected ${parsed.error.expected}, got "${text}"`)
  return parsed.value
}

function cardOf(pan: string | undefined, expiry: string | undefined): CardInput {
  if (pan === undefined) {
    return { pan: DEMO_CARDS.debit.pan, expiry: expiry ?? DEMO_CARDS.debit.expiry }
  }
  check(pan, /^\d{1,19}$/, '--card', 'a card number of up to 19 digits')
  const demo = Object.values(DEMO_CARDS).find((card) => card.pan === pan)
  const chosen = expiry ?? demo?.expiry
  if (chosen === undefined) throw new UsageError('--expiry is required with --card (YYMM)')
  return { pan, expiry: check(chosen, /^\d{4}$/, '--expiry', 'YYMM') }
}

const ORIGINAL_KINDS: readonly OriginalKind[] = [
  'purchase',
  'preauthorization',
  'completion',
  'refund',
]

/** The original a follow-up names, from the flags and what this terminal remembers. */
function originalOf(kind: TransactionKind, values: Values, session: Session): OriginalRef {
  const stan = values['original-stan']
  if (stan === undefined) throw new UsageError(`a ${kind} needs --original-stan <6 digits>`)
  check(stan, /^\d{6}$/, '--original-stan', '6 digits')
  const known = session.book.find(stan)
  const kindText = values['original-kind']
  if (kindText !== undefined && !(ORIGINAL_KINDS as readonly string[]).includes(kindText)) {
    usage(`--original-kind: expected ${ORIGINAL_KINDS.join(', ')}, got ${kindText}`)
  }
  const fallback: OriginalKind = kind === 'completion' ? 'preauthorization' : 'purchase'
  const originalKind = (kindText as OriginalKind | undefined) ?? known?.kind ?? fallback
  const time = values['original-time'] ?? known?.transmissionTime ?? null
  if (time !== null) check(time, /^\d{10}$/, '--original-time', 'MMDDhhmmss')
  if (time === null && session.dialectName !== 'cup-pos') {
    throw new UsageError(
      `${session.dialectName}: give --original-time <MMDDhhmmss> ` +
        `(field 7 of the original; this terminal has no record of STAN ${stan})`,
    )
  }
  const today = terminalTime(Date.now(), session.utcOffsetMinutes).localDate
  const date = values['original-date'] ?? known?.localDate ?? today
  check(date, /^\d{4}$/, '--original-date', 'MMDD')
  return { kind: originalKind, stan, transmissionTime: time, localDate: date }
}

function orderOf(values: Values, session: Session): Order {
  const kindText = values.kind ?? ''
  if (!isTerminalKind(kindText)) {
    usage(
      '--kind: expected one of purchase, preauthorization, balance_inquiry, void, refund, ' +
        `completion, reversal, sign_on, echo; got "${kindText}"`,
    )
  }
  const kind = kindText
  const stan =
    values.stan === undefined ? null : check(values.stan, /^\d{6}$/, '--stan', '6 digits')
  const amount = values.amount === undefined ? null : amountOf(values.amount, session.currency)
  if (!isTransactionKind(kind)) return { kind, card: null, amountMinor: null, stan, original: null }
  if (kind === 'purchase' || kind === 'preauthorization' || kind === 'balance_inquiry') {
    if (kind !== 'balance_inquiry' && amount === null) {
      throw new UsageError(`a ${kind} needs --amount <decimal>, e.g. --amount 88.00`)
    }
    const card = cardOf(values.card, values.expiry)
    const amountMinor = kind === 'balance_inquiry' ? null : amount
    return { kind, card, amountMinor, stan, original: null }
  }
  const original = originalOf(kind, values, session)
  const card = values.card === undefined ? null : cardOf(values.card, values.expiry)
  const remembered = session.book.find(original.stan)?.amountMinor ?? null
  return { kind, card, amountMinor: amount ?? remembered, stan, original }
}

// ---------------------------------------------------------------------------------------------
// Sending and printing

interface Outcome {
  readonly code: string | null
  readonly approved: boolean
}

function say(text: string): void {
  process.stdout.write(text + '\n')
}

function money(minor: number, session: Session): string {
  return `${formatAmount(minor, session.currency.exponent)} ${session.currency.alpha}`
}

function meaningOf(code: string | null, lang: Lang): string {
  if (code === null) return TEXT.noAnswerCode[lang]
  return RESPONSE_MEANINGS[code]?.[lang] ?? TEXT.unknownCode[lang]
}

/** Field 54 (account type, amount type, currency, C/D, 12 digits) as an amount, or null. */
function balanceOf(field54: string | undefined, session: Session): string | null {
  const match = field54 === undefined ? null : /^\d{2}\d{2}(\d{3})([CD])(\d{12})/.exec(field54)
  if (match === null) return null
  const minor = Number(match[3] ?? '0')
  const currency = findCurrency(match[1] ?? '') ?? session.currency
  const sign = match[2] === 'D' ? '-' : ''
  return `${sign}${formatAmount(minor, currency.exponent)} ${currency.alpha}`
}

function requestLine(message: IsoMessage, kind: TerminalKind, session: Session): string {
  const lang = session.lang
  const parts = [`→ ${KIND_LABELS[kind][lang]}`, message.mti]
  const amount = message.fields.get(4)
  if (amount !== undefined) parts.push(money(Number(amount), session))
  const pan = message.fields.get(2)
  if (pan !== undefined) parts.push(`${TEXT.card[lang]} ${maskPan(pan)}`)
  parts.push(`${TEXT.stan[lang]} ${message.fields.get(11) ?? ''}`)
  return parts.join('  ')
}

function answerLines(exchange: Exchange, session: Session): string[] {
  const lang = session.lang
  const answer = exchange.answer
  const code = answer.fields.get(39) ?? null
  const lines = [`← ${answer.mti}  ${TEXT.code[lang]} ${code ?? '--'}: ${meaningOf(code, lang)}`]
  const extras: string[] = []
  const authorization = answer.fields.get(38)
  if (authorization !== undefined) extras.push(`${TEXT.authorization[lang]} ${authorization}`)
  const rrn = answer.fields.get(37)
  if (rrn !== undefined) extras.push(`${TEXT.rrn[lang]} ${rrn}`)
  const balance = balanceOf(answer.fields.get(54), session)
  if (balance !== null) extras.push(`${TEXT.balance[lang]} ${balance}`)
  if (extras.length > 0) lines.push(`   ${extras.join('  ')}`)
  if (exchange.answerMacValid === false) lines.push(`   ${TEXT.badMac[lang]}`)
  return lines
}

function show(message: IsoMessage, session: Session): void {
  if (!session.showMessages) return
  // The MAC is computed at encoding; it is masked in the listing anyway.
  const sealed = session.macKey === null ? message : withField(message, 64, '0'.repeat(16))
  const text = describe(session.endpoint.dialect, sealed)
  say(
    text
      .split('\n')
      .map((line) => `   ${line}`)
      .join('\n'),
  )
}

/** Sends one message on an open link and prints both sides. */
async function send(
  link: IsoConnection,
  kind: TerminalKind,
  message: IsoMessage,
  session: Session,
): Promise<Exchange> {
  say(requestLine(message, kind, session))
  show(message, session)
  const exchange = await link.exchange(message, session.macKey, session.answerTimeoutMs)
  for (const line of answerLines(exchange, session)) say(line)
  show(exchange.answer, session)
  return exchange
}

function networkMessage(kind: 'sign_on' | 'echo', session: Session): IsoMessage {
  return buildRequest({
    kind,
    dialect: session.dialectName,
    stan: session.book.nextStan(),
    time: terminalTime(Date.now(), session.utcOffsetMinutes),
    terminalId: session.terminalId,
    merchantId: session.merchantId,
    card: null,
    amountMinor: null,
    currencyNumeric: session.currency.numeric,
    original: null,
  })
}

function transactionMessage(order: Order, session: Session): IsoMessage {
  // A cup-pos reversal repeats the original's STAN; everything else takes its own.
  const cupReversal = order.kind === 'reversal' && session.dialectName === 'cup-pos'
  const stan = cupReversal ? (order.original?.stan ?? '') : (order.stan ?? session.book.nextStan())
  const time = terminalTime(Date.now(), session.utcOffsetMinutes)
  const message = buildRequest({
    kind: order.kind,
    dialect: session.dialectName,
    stan,
    time,
    terminalId: session.terminalId,
    merchantId: session.merchantId,
    card: order.card,
    amountMinor: order.amountMinor,
    currencyNumeric: session.currency.numeric,
    original: order.original,
  })
  const kind = order.kind
  const original =
    kind === 'purchase' || kind === 'preauthorization' || kind === 'completion' || kind === 'refund'
  if (original) {
    // Remembered before sending: a terminal must be able to reverse what got no answer.
    const transmissionTime = session.dialectName === 'cup-pos' ? null : time.transmissionTime
    session.book.remember({
      stan,
      kind,
      transmissionTime,
      localDate: time.localDate,
      amountMinor: order.amountMinor,
    })
  }
  return message
}

/**
 * Runs one order on a fresh connection: sign-on first when asked, then the transaction, then
 * the explanation. Throws TerminalError when the link fails.
 */
async function runOrder(order: Order, session: Session, signOn: boolean): Promise<Outcome> {
  const link = await IsoConnection.open(session.endpoint)
  let exchange: Exchange
  let sentAtMs: number
  try {
    if (signOn && isTransactionKind(order.kind)) {
      const signed = await send(link, 'sign_on', networkMessage('sign_on', session), session)
      const code = signed.answer.fields.get(39) ?? null
      if (code !== '00') return { code, approved: false }
    }
    const message =
      order.kind === 'sign_on' || order.kind === 'echo'
        ? networkMessage(order.kind, session)
        : transactionMessage(order, session)
    sentAtMs = Date.now()
    exchange = await send(link, order.kind, message, session)
  } finally {
    link.close()
  }
  const code = exchange.answer.fields.get(39) ?? null
  if (isTransactionKind(order.kind)) {
    const stan = exchange.request.fields.get(11) ?? ''
    await printExplanation({ kind: order.kind, stan, code, sentAtMs }, session)
  }
  return { code, approved: code === '00' }
}

const listSchema = z
  .object({
    items: z.array(z.object({ id: z.string(), kind: z.string(), createdAt: z.string() }).loose()),
  })
  .loose()

interface Sent {
  readonly kind: TransactionKind
  readonly stan: string
  readonly code: string | null
  readonly sentAtMs: number
}

/**
 * Finds the transaction this terminal just sent (newest by terminal and STAN, of the same kind,
 * not older than the send) and prints why it was decided so. An answer can have no record: a
 * request refused before a decision, or a reversal of an original the host never saw.
 */
async function printExplanation(sent: Sent, session: Session): Promise<void> {
  const lang = session.lang
  try {
    const terminalId = session.terminalId
    const query = new URLSearchParams({ terminalId, stan: sent.stan, limit: '1' })
    const listed = await session.api.call('GET', `/v1/transactions?${query.toString()}`)
    const page = listSchema.safeParse(listed.body)
    if (listed.status !== 200 || !page.success) {
      process.stderr.write(`${TEXT.noExplanation[lang]}: HTTP ${listed.status}\n`)
      return
    }
    const found = page.data.items[0]
    const fresh =
      found !== undefined && Date.parse(found.createdAt) >= sent.sentAtMs - LOOKUP_CLOCK_SKEW_MS
    if (found === undefined || found.kind !== sent.kind || !fresh) {
      const acknowledged = sent.kind === 'reversal' && sent.code === '00'
      say(acknowledged ? TEXT.reversalAcknowledged[lang] : TEXT.notRecorded[lang])
      return
    }
    const path = `/v1/transactions/${encodeURIComponent(found.id)}/explanation`
    const explained = await session.api.call('GET', path)
    if (explained.status !== 200) {
      process.stderr.write(`${TEXT.noExplanation[lang]}: HTTP ${explained.status}\n`)
      return
    }
    say(found.id)
    say(formatExplanation(explained.body as unknown as ExplanationLike, lang))
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error)
    process.stderr.write(`${TEXT.noExplanation[lang]}: ${why}\n`)
  }
}

// ---------------------------------------------------------------------------------------------
// Interactive mode

interface Prompter {
  /** The answer, the default for an empty line, or null at end of input or after idling. */
  ask(question: string, fallback?: string): Promise<string | null>
  close(): void
}

function prompter(): Prompter {
  const lines = createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: process.stdin.isTTY,
  })
  // The iterator buffers lines typed (or piped) while a transaction is on the wire.
  const iterator = lines[Symbol.asyncIterator]()
  let ended = false
  return {
    async ask(question, fallback) {
      if (ended) return null
      lines.setPrompt(fallback === undefined ? `${question}: ` : `${question} [${fallback}]: `)
      lines.prompt()
      let timer: NodeJS.Timeout | undefined
      const idle = new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), PROMPT_IDLE_MS)
      })
      const next = await Promise.race([iterator.next(), idle])
      clearTimeout(timer)
      if (next === null || next.done === true) {
        ended = true
        process.stdout.write('\n')
        return null
      }
      const answer = String(next.value).trim().slice(0, ANSWER_CHARS_MAX)
      // Piped input is not echoed: write it, so a transcript reads like a session.
      if (process.stdin.isTTY !== true) process.stdout.write(`${answer}\n`)
      return answer === '' && fallback !== undefined ? fallback : answer
    },
    close() {
      ended = true
      lines.close()
    },
  }
}

const MENU: readonly (TerminalKind | 'quit')[] = [
  'quit',
  'purchase',
  'preauthorization',
  'completion',
  'balance_inquiry',
  'void',
  'refund',
  'reversal',
  'sign_on',
]

function menuText(lang: Lang): string {
  const quit = lang === 'zh-CN' ? '退出' : 'quit'
  const items = MENU.map(
    (item, index) => `${index}. ${item === 'quit' ? quit : KIND_LABELS[item][lang]}`,
  )
  return [...items.slice(1), items[0] ?? ''].join('  ')
}

function menuChoice(answer: string): TerminalKind | 'quit' | null {
  if (/^\d$/.test(answer)) return MENU[Number(answer)] ?? null
  if (answer === 'quit' || answer === 'q' || answer === '退出') return 'quit'
  const byLabel = (Object.keys(KIND_LABELS) as TerminalKind[]).find(
    (kind) => kind === answer || KIND_LABELS[kind]['zh-CN'] === answer,
  )
  return byLabel ?? null
}

const PROMPTS = {
  choose: { 'zh-CN': '请选择交易', en: 'Choose a transaction' },
  amount: { 'zh-CN': '金额', en: 'Amount' },
  card: { 'zh-CN': '卡号', en: 'Card number' },
  expiry: { 'zh-CN': '有效期 (YYMM)', en: 'Expiry (YYMM)' },
  originalStan: { 'zh-CN': '原交易流水号', en: 'Original STAN' },
  invalid: { 'zh-CN': '无效输入', en: 'invalid input' },
  bye: { 'zh-CN': '再见', en: 'bye' },
} as const satisfies Record<string, Localized>

/** Asks what an order needs, with defaults; null at end of input. Usage errors are thrown. */
async function askOrder(
  kind: TerminalKind,
  ask: Prompter,
  session: Session,
): Promise<Values | null> {
  const lang = session.lang
  const values: Record<string, string> = { kind }
  if (kind === 'purchase' || kind === 'preauthorization' || kind === 'balance_inquiry') {
    if (kind !== 'balance_inquiry') {
      const amount = await ask.ask(PROMPTS.amount[lang], '10.00')
      if (amount === null) return null
      values.amount = amount
    }
    const pan = await ask.ask(PROMPTS.card[lang], DEMO_CARDS.debit.pan)
    if (pan === null) return null
    const demo = Object.values(DEMO_CARDS).find((card) => card.pan === pan)
    const expiry = await ask.ask(PROMPTS.expiry[lang], demo?.expiry)
    if (expiry === null) return null
    return { ...values, card: pan, expiry }
  }
  if (kind === 'sign_on' || kind === 'echo') return values
  const stan = await ask.ask(PROMPTS.originalStan[lang], session.book.latest()?.stan)
  if (stan === null) return null
  values['original-stan'] = stan
  if (kind === 'completion' || kind === 'refund') {
    const remembered = /^\d{6}$/.test(stan) ? session.book.find(stan)?.amountMinor : undefined
    const fallback =
      remembered === undefined || remembered === null
        ? undefined
        : formatAmount(remembered, session.currency.exponent)
    const amount = await ask.ask(PROMPTS.amount[lang], fallback)
    if (amount === null) return null
    if (amount !== '') values.amount = amount
  }
  return values
}

/** The menu loop: until quit, end of input, or too many invalid answers in a row. */
async function interactive(session: Session): Promise<ExitCode> {
  const lang = session.lang
  const ask = prompter()
  try {
    if (session.signOn) await runOrder(orderOfSignOn(), session, false)
    let invalid = 0
    for (let round = 0; round < MENU_ROUNDS_MAX && invalid < MENU_INVALID_MAX; round += 1) {
      say(menuText(lang))
      const answer = await ask.ask(PROMPTS.choose[lang])
      if (answer === null) break
      const choice = menuChoice(answer)
      if (choice === 'quit') break
      if (choice === null) {
        invalid += 1
        say(`${PROMPTS.invalid[lang]}: "${answer}"`)
        continue
      }
      invalid = 0
      const values = await askOrder(choice, ask, session)
      if (values === null) break
      try {
        await runOrder(orderOf(values, session), session, false)
      } catch (error) {
        if (!(error instanceof UsageError || error instanceof TerminalError)) throw error
        say(`✗ ${error.message}`)
      }
    }
    say(PROMPTS.bye[lang])
    return 0
  } finally {
    ask.close()
  }
}

function orderOfSignOn(): Order {
  return { kind: 'sign_on', card: null, amountMinor: null, stan: null, original: null }
}

// ---------------------------------------------------------------------------------------------
// The command

/**
 * `tollgate terminal …`. Never throws: sets process.exitCode (0 approved, 1 declined, 2 usage
 * or connection error) and prints failures to stderr.
 *
 * @example tollgate terminal --kind purchase --amount 88.00 --lang zh-CN
 */
export async function terminal(args: string[]): Promise<void> {
  // Piped into `head`: stop quietly when the reader goes away.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error
    process.exit(process.exitCode ?? 0)
  })
  let exit: ExitCode
  try {
    exit = await run(args)
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof TerminalError)) throw error
    process.stderr.write(`tollgate terminal: ${error.message}\n`)
    exit = 2
  }
  process.exitCode = exit
}

async function run(args: string[]): Promise<ExitCode> {
  const values = parseValues(args)
  if (values.help === true) {
    say(TERMINAL_HELP)
    return 0
  }
  const session = sessionOf(values)
  const menu = values.interactive === true || (values.kind === undefined && process.stdin.isTTY)
  if (menu) return interactive(session)
  if (values.kind === undefined) {
    usage(
      'give --kind <kind> for one transaction, or --interactive for the menu ' +
        '(see tollgate terminal --help)',
    )
  }
  const order = orderOf(values, session)
  const outcome = await runOrder(order, session, session.signOn)
  return outcome.approved ? 0 : 1
}
