import { AssertionFailure, assert } from '../../../core/assert.js'
import {
  CARD_STATUSES,
  ENTRY_MODES,
  MERCHANT_STATUSES,
  RISK_TIERS,
  STAGES,
  TERMINAL_STATUSES,
  TRANSACTION_KINDS,
} from '../../../core/model.js'
import type {
  Account,
  AccountKind,
  Card,
  CardType,
  Channel,
  Check,
  CheckStatus,
  Evidence,
  LimitRule,
  LimitScope,
  Lifecycle,
  ListEntry,
  ListKind,
  ListName,
  Merchant,
  Outcome,
  Terminal,
  TransactionRecord,
  Transfer,
  TransferState,
  UsageCounter,
} from '../../../core/model.js'
import { toAmountMinor } from '../../../core/money.js'
import { REASON_CODES, type ReasonCode } from '../../../core/reasons/codes.js'
import type { AuditEntry } from '../../../ports/store.js'

/**
 * Rows as SQLite holds them, and the one place they turn into records and back. A row type is
 * also the named-parameter object of the statements that write it (`@column`), so a column
 * cannot be forgotten on one side only. Reading asserts what the schema already promises
 * (enumerations, safe integers): a failure means a damaged or foreign database.
 */

export interface MerchantRow {
  id: string
  name: string
  mcc: string
  status: string
  region: string | null
  risk_tier: string
  created_at_ms: number
  updated_at_ms: number
}

export interface TerminalRow {
  id: string
  merchant_id: string
  status: string
  region: string | null
  created_at_ms: number
  updated_at_ms: number
}

export interface CardRow {
  token: string
  masked: string
  bin: string
  last4: string
  expiry: string
  type: string
  status: string
  account_id: string
  issuer_bank: string | null
  created_at_ms: number
  updated_at_ms: number
}

export interface AccountRow {
  id: string
  kind: string
  currency: string
  credit_limit_minor: number
  debits_pending_minor: number
  debits_posted_minor: number
  credits_pending_minor: number
  credits_posted_minor: number
}

export interface TransferRow {
  id: string
  transaction_id: string
  debit_account_id: string
  credit_account_id: string
  amount_minor: number
  currency: string
  state: string
  posted_amount_minor: number
  pending_id: string | null
  created_at_ms: number
  expires_at_ms: number | null
  resolved_at_ms: number | null
}

export interface TransactionRow {
  id: string
  kind: string
  channel: string
  outcome: string
  lifecycle: string
  terminal_id: string
  merchant_id: string
  stan: string | null
  transmission_time: string | null
  rrn: string
  dedup_key: string | null
  idempotency_key: string | null
  fingerprint: string
  card_token: string | null
  card_masked: string | null
  card_last4: string | null
  card_type: string | null
  amount_minor: number
  currency: string
  original_id: string | null
  reason: string | null
  response_code: string
  authorization_code: string | null
  checks: string
  evidence: string
  balance_minor: number | null
  hold_transfer_id: string | null
  completed_amount_minor: number
  refunded_amount_minor: number
  local_date: string
  created_at_ms: number
  updated_at_ms: number
  /** Schema 6: how the card was read and the region the terminal reported; null before. */
  entry_mode: string | null
  reported_region: string | null
}

export interface CounterRow {
  key: string
  count: number
  amount_minor: number
}

export interface LimitRuleRow {
  id: string
  scope: string
  card_type: string | null
  mcc: string | null
  entity_id: string | null
  currency: string
  per_transaction_max_minor: number | null
  daily_amount_max_minor: number | null
  daily_count_max: number | null
  note: string
  created_at_ms: number
  updated_at_ms: number
}

export interface ListEntryRow {
  id: string
  list: string
  kind: string
  value: string
  display: string
  note: string
  expires_at_ms: number | null
  created_by: string
  created_at_ms: number
}

export interface AuditRow {
  id: string
  at_ms: number
  actor: string
  action: string
  subject: string
  detail_json: string
}

/** The columns of a row type, complete: the compiler flags a column missing from the list. */
function columns<Row>(record: Record<keyof Row & string, 1>): readonly (keyof Row & string)[] {
  return Object.freeze(Object.keys(record) as (keyof Row & string)[])
}

export const MERCHANT_COLUMNS = columns<MerchantRow>({
  id: 1,
  name: 1,
  mcc: 1,
  status: 1,
  region: 1,
  risk_tier: 1,
  created_at_ms: 1,
  updated_at_ms: 1,
})
export const TERMINAL_COLUMNS = columns<TerminalRow>({
  id: 1,
  merchant_id: 1,
  status: 1,
  region: 1,
  created_at_ms: 1,
  updated_at_ms: 1,
})
export const CARD_COLUMNS = columns<CardRow>({
  token: 1,
  masked: 1,
  bin: 1,
  last4: 1,
  expiry: 1,
  type: 1,
  status: 1,
  account_id: 1,
  issuer_bank: 1,
  created_at_ms: 1,
  updated_at_ms: 1,
})
export const ACCOUNT_COLUMNS = columns<AccountRow>({
  id: 1,
  kind: 1,
  currency: 1,
  credit_limit_minor: 1,
  debits_pending_minor: 1,
  debits_posted_minor: 1,
  credits_pending_minor: 1,
  credits_posted_minor: 1,
})
export const TRANSFER_COLUMNS = columns<TransferRow>({
  id: 1,
  transaction_id: 1,
  debit_account_id: 1,
  credit_account_id: 1,
  amount_minor: 1,
  currency: 1,
  state: 1,
  posted_amount_minor: 1,
  pending_id: 1,
  created_at_ms: 1,
  expires_at_ms: 1,
  resolved_at_ms: 1,
})
export const TRANSACTION_COLUMNS = columns<TransactionRow>({
  id: 1,
  kind: 1,
  channel: 1,
  outcome: 1,
  lifecycle: 1,
  terminal_id: 1,
  merchant_id: 1,
  stan: 1,
  transmission_time: 1,
  rrn: 1,
  dedup_key: 1,
  idempotency_key: 1,
  fingerprint: 1,
  card_token: 1,
  card_masked: 1,
  card_last4: 1,
  card_type: 1,
  amount_minor: 1,
  currency: 1,
  original_id: 1,
  reason: 1,
  response_code: 1,
  authorization_code: 1,
  checks: 1,
  evidence: 1,
  balance_minor: 1,
  hold_transfer_id: 1,
  completed_amount_minor: 1,
  refunded_amount_minor: 1,
  local_date: 1,
  created_at_ms: 1,
  updated_at_ms: 1,
  entry_mode: 1,
  reported_region: 1,
})
export const COUNTER_COLUMNS = columns<CounterRow>({ key: 1, count: 1, amount_minor: 1 })
export const LIMIT_RULE_COLUMNS = columns<LimitRuleRow>({
  id: 1,
  scope: 1,
  card_type: 1,
  mcc: 1,
  entity_id: 1,
  currency: 1,
  per_transaction_max_minor: 1,
  daily_amount_max_minor: 1,
  daily_count_max: 1,
  note: 1,
  created_at_ms: 1,
  updated_at_ms: 1,
})
export const LIST_ENTRY_COLUMNS = columns<ListEntryRow>({
  id: 1,
  list: 1,
  kind: 1,
  value: 1,
  display: 1,
  note: 1,
  expires_at_ms: 1,
  created_by: 1,
  created_at_ms: 1,
})
export const AUDIT_COLUMNS = columns<AuditRow>({
  id: 1,
  at_ms: 1,
  actor: 1,
  action: 1,
  subject: 1,
  detail_json: 1,
})

// Every member of each union, as a Record so that the compiler flags a member added to the model.
const ACCOUNT_KINDS = members<AccountKind>({ cardholder: 1, clearing: 1, funding: 1 })
const CARD_TYPES = members<CardType>({ debit: 1, credit: 1 })
const CHANNELS = members<Channel>({ http: 1, iso8583: 1 })
const OUTCOMES = members<Outcome>({ approved: 1, declined: 1 })
const LIFECYCLES = members<Lifecycle>({
  none: 1,
  held: 1,
  posted: 1,
  completed: 1,
  voided: 1,
  reversed: 1,
  expired: 1,
})
const TRANSFER_STATES = members<TransferState>({ pending: 1, posted: 1, voided: 1, expired: 1 })
const LIMIT_SCOPES = members<LimitScope>({ card: 1, merchant: 1, terminal: 1 })
const LIST_KINDS = members<ListKind>({ card: 1, bin: 1, merchant: 1, terminal: 1 })
const LIST_NAMES = members<ListName>({ block: 1, review: 1, allow: 1 })
const CHECK_STATUSES = members<CheckStatus>({ pass: 1, fail: 1, skip: 1 })

function members<T extends string>(record: Record<T, 1>): readonly T[] {
  return Object.freeze(Object.keys(record) as T[])
}

/**
 * Where a column value came from, for a message: `accounts.kind (acct_1)`. Row mapping runs for
 * every row of every batch, so the helpers below build this text only when a check fails.
 */
function label(table: string, column: string, id: string | undefined): string {
  return id === undefined ? `${table}.${column}` : `${table}.${column} (${id})`
}

function memberOf<T extends string>(value: string, allowed: readonly T[]): T | undefined {
  return allowed.find((member) => member === value)
}

function oneOf<T extends string>(
  value: string,
  allowed: readonly T[],
  table: string,
  column: string,
  id?: string,
): T {
  const found = memberOf(value, allowed)
  if (found === undefined) {
    throw new AssertionFailure(
      `${label(table, column, id)}: unexpected value ${JSON.stringify(value)}`,
    )
  }
  return found
}

function oneOfOrNull<T extends string>(
  value: string | null,
  allowed: readonly T[],
  table: string,
  column: string,
  id?: string,
): T | null {
  return value === null ? null : oneOf(value, allowed, table, column, id)
}

/** An integer column read back: a safe integer, or the database is damaged. */
function int(value: number, table: string, column: string, id?: string): number {
  if (!Number.isSafeInteger(value)) {
    throw new AssertionFailure(`${label(table, column, id)}: ${value} is not a safe integer`)
  }
  return value
}

function intOrNull(
  value: number | null,
  table: string,
  column: string,
  id?: string,
): number | null {
  return value === null ? null : int(value, table, column, id)
}

/** A money column read back: a safe, non-negative integer of minor units. */
function money(value: number, table: string, column: string, id?: string): number {
  if (!(Number.isSafeInteger(value) && value >= 0)) {
    throw new AssertionFailure(`${label(table, column, id)}: ${value} is not an amount`)
  }
  return value
}

function moneyOrNull(
  value: number | null,
  table: string,
  column: string,
  id?: string,
): number | null {
  return value === null ? null : money(value, table, column, id)
}

/** A count column read back: a safe, non-negative integer. */
function count(value: number, table: string, column: string, id?: string): number {
  if (!(Number.isSafeInteger(value) && value >= 0)) {
    throw new AssertionFailure(`${label(table, column, id)}: ${value} is not a count`)
  }
  return value
}

function countOrNull(
  value: number | null,
  table: string,
  column: string,
  id?: string,
): number | null {
  return value === null ? null : count(value, table, column, id)
}

/**
 * An amount or count about to be written (`what` is e.g. "account", `field` "debitsPendingMinor"):
 * the same promise as on reading, checked before it reaches disk.
 */
function nonNegativeParam(value: number, what: string, id: string, field: string): number {
  if (!(Number.isSafeInteger(value) && value >= 0)) {
    throw new AssertionFailure(`${what} ${id} ${field}: ${value} is not an amount`)
  }
  return value
}

function nonNegativeParamOrNull(
  value: number | null,
  what: string,
  id: string,
  field: string,
): number | null {
  return value === null ? null : nonNegativeParam(value, what, id, field)
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function parseJson(text: string, table: string, column: string, id: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch (error) {
    throw new AssertionFailure(`${label(table, column, id)}: not JSON (${String(error)})`)
  }
}

/**
 * The checks of a transaction, packed: most of a row was the JSON of a dozen passing checks.
 * Runs of checks of one stage form a group, groups are joined by `;`:
 *
 *   validation:message,card_expiry;duplicate:retransmission;issuer:card_status,funds!insufficient_funds|{"11":{…}}
 *
 * A bare name is a pass without a reason; otherwise a mark (`+` pass, `!` fail, `?` skip) and
 * the reason, if any, follow it. After `|`, the evidence the checks carry (only failing ones do),
 * as a JSON object keyed by the check's index, each packed as `packEvidence`. No checks: ''.
 * Names and reasons are snake_case, so none of the separators can occur in them; a list with
 * any other name is stored as JSON instead, as every row before schema version 3 was (a JSON
 * list starts with `[`, a packed one never does).
 */
const CHECK_WORD = /^[a-z][a-z0-9_]*$/
const STATUS_MARKS = { pass: '+', fail: '!', skip: '?' } as const satisfies Record<
  CheckStatus,
  string
>
const MARK_STATUSES: Readonly<Record<string, CheckStatus>> = {
  '+': 'pass',
  '!': 'fail',
  '?': 'skip',
}

/** Check names and reasons already found to be words: a few dozen, tested once each. */
const KNOWN_WORDS = new Set<string>()
const KNOWN_WORDS_MAX = 10_000

function isCheckWord(text: string): boolean {
  if (KNOWN_WORDS.has(text)) return true
  if (!CHECK_WORD.test(text)) return false
  if (KNOWN_WORDS.size < KNOWN_WORDS_MAX) KNOWN_WORDS.add(text)
  return true
}

export function packChecks(checks: readonly Check[]): string {
  let text = ''
  let stage = ''
  let evidence = ''
  for (let index = 0; index < checks.length; index += 1) {
    const check = checks[index] as Check
    const reason = check.reason ?? ''
    const packable = isCheckWord(check.name) && (reason === '' || isCheckWord(reason))
    if (!packable) return JSON.stringify(checks)
    if (check.stage === stage) text += ','
    else {
      text += text === '' ? `${check.stage}:` : `;${check.stage}:`
      stage = check.stage
    }
    text += check.name
    if (check.status !== 'pass' || reason !== '') text += STATUS_MARKS[check.status] + reason
    if (check.evidence !== undefined) {
      evidence += `${evidence === '' ? '{' : ','}"${index}":${packEvidence(check.evidence)}`
    }
  }
  return evidence === '' ? text : `${text}|${evidence}}`
}

function unpackChecks(text: string, table: string, column: string, id: string): readonly Check[] {
  if (text.startsWith('[')) return parseChecks(text, table, column, id)
  if (text === '') return []
  const bar = text.indexOf('|')
  const evidence = bar === -1 ? {} : parseJson(text.slice(bar + 1), table, `${column} evidence`, id)
  assert(isPlainObject(evidence), `${label(table, column, id)}: check evidence is an object`)
  const checks: Check[] = []
  for (const group of (bar === -1 ? text : text.slice(0, bar)).split(';')) {
    const colon = group.indexOf(':')
    const stage = memberOf(group.slice(0, colon), STAGES)
    if (stage === undefined) throw new AssertionFailure(`${label(table, column, id)}: ${group}`)
    for (const entry of group.slice(colon + 1).split(',')) {
      const mark = /[+!?]/.exec(entry)
      const name = mark === null ? entry : entry.slice(0, mark.index)
      const status = mark === null ? 'pass' : MARK_STATUSES[mark[0]]
      const reasonText = mark === null ? '' : entry.slice(mark.index + 1)
      const reason = reasonText === '' ? undefined : memberOf(reasonText, REASON_CODES)
      if (!CHECK_WORD.test(name) || status === undefined || (reasonText !== '' && !reason)) {
        throw new AssertionFailure(`${label(table, column, id)}: check ${JSON.stringify(entry)}`)
      }
      const carried = evidence[String(checks.length)]
      checks.push({
        stage,
        name,
        status,
        ...(reason === undefined ? {} : { reason }),
        ...(carried === undefined
          ? {}
          : { evidence: unpackedEvidence(carried, table, column, id) }),
      })
    }
  }
  return checks
}

/**
 * Evidence as a JSON object whose money values ({ amountMinor, currency }) are written as
 * `[amountMinor, "currency"]`: no other evidence value is an array, so reading back is exact.
 * Rows before schema version 3 hold plain JSON, which reads back the same way.
 */
export function packEvidence(evidence: Evidence): string {
  let text = ''
  for (const key of Object.keys(evidence)) {
    const value = evidence[key]
    if (value === undefined) continue // As JSON.stringify: a key without a value is left out.
    text += text === '' ? '{' : ','
    text += JSON.stringify(key) + ':'
    if (typeof value === 'object' && value !== null && isMoney(value)) {
      text += `[${value.amountMinor},${JSON.stringify(value.currency)}]`
    } else text += JSON.stringify(value)
  }
  return text === '' ? '{}' : `${text}}`
}

/** Exactly `{ amountMinor, currency }`, in that order, so that unpacking gives it back as it was. */
function isMoney(value: object): value is { amountMinor: number; currency: string } {
  const keys = Object.keys(value)
  const money = value as { amountMinor?: unknown; currency?: unknown }
  return (
    keys.length === 2 &&
    keys[0] === 'amountMinor' &&
    keys[1] === 'currency' &&
    typeof money.amountMinor === 'number' &&
    typeof money.currency === 'string'
  )
}

function unpackEvidence(text: string, table: string, column: string, id: string): Evidence {
  return unpackedEvidence(parseJson(text, table, column, id), table, column, id)
}

function unpackedEvidence(value: unknown, table: string, column: string, id: string): Evidence {
  assert(isPlainObject(value), `${label(table, column, id)}: evidence is an object`)
  for (const key of Object.keys(value)) {
    const item = value[key]
    if (!Array.isArray(item)) continue
    const [amountMinor, currency] = item as unknown[]
    if (item.length !== 2 || typeof amountMinor !== 'number' || typeof currency !== 'string') {
      throw new AssertionFailure(`${label(table, column, id)}: evidence ${key} is not money`)
    }
    value[key] = { amountMinor, currency }
  }
  return value as Evidence
}

function parseChecks(text: string, table: string, column: string, id: string): readonly Check[] {
  const value = parseJson(text, table, column, id)
  assert(Array.isArray(value), `${label(table, column, id)}: checks are an array`)
  return value.map((item: unknown, index) => {
    const fail = (what: string): never => {
      throw new AssertionFailure(`${label(table, `${column}[${index}]`, id)}${what}`)
    }
    if (!isPlainObject(item)) return fail(': a check is an object')
    const { stage, name, status, reason, evidence } = item
    if (typeof stage !== 'string' || typeof name !== 'string') return fail(': stage and name')
    if (typeof status !== 'string') return fail(': status')
    if (evidence !== undefined && !isPlainObject(evidence)) return fail(': evidence')
    const unexpected = (field: string, text: string): never =>
      fail(`.${field}: unexpected value ${JSON.stringify(text)}`)
    return {
      stage: memberOf(stage, STAGES) ?? unexpected('stage', stage),
      name,
      status: memberOf(status, CHECK_STATUSES) ?? unexpected('status', status),
      ...(typeof reason === 'string'
        ? { reason: memberOf(reason, REASON_CODES) ?? unexpected('reason', reason) }
        : {}),
      ...(evidence === undefined ? {} : { evidence: evidence as Evidence }),
    }
  })
}

export function toMerchant(row: MerchantRow): Merchant {
  return {
    id: row.id,
    name: row.name,
    mcc: row.mcc,
    status: oneOf(row.status, MERCHANT_STATUSES, 'merchants', 'status'),
    region: row.region,
    riskTier: oneOf(row.risk_tier, RISK_TIERS, 'merchants', 'risk_tier'),
    createdAtMs: int(row.created_at_ms, 'merchants', 'created_at_ms'),
    updatedAtMs: int(row.updated_at_ms, 'merchants', 'updated_at_ms'),
  }
}

export function merchantRow(merchant: Merchant): MerchantRow {
  return {
    id: merchant.id,
    name: merchant.name,
    mcc: merchant.mcc,
    status: merchant.status,
    region: merchant.region,
    risk_tier: merchant.riskTier,
    created_at_ms: merchant.createdAtMs,
    updated_at_ms: merchant.updatedAtMs,
  }
}

export function toTerminal(row: TerminalRow): Terminal {
  return {
    id: row.id,
    merchantId: row.merchant_id,
    status: oneOf(row.status, TERMINAL_STATUSES, 'terminals', 'status'),
    region: row.region,
    createdAtMs: int(row.created_at_ms, 'terminals', 'created_at_ms'),
    updatedAtMs: int(row.updated_at_ms, 'terminals', 'updated_at_ms'),
  }
}

export function terminalRow(terminal: Terminal): TerminalRow {
  return {
    id: terminal.id,
    merchant_id: terminal.merchantId,
    status: terminal.status,
    region: terminal.region,
    created_at_ms: terminal.createdAtMs,
    updated_at_ms: terminal.updatedAtMs,
  }
}

export function toCard(row: CardRow): Card {
  return {
    token: row.token,
    masked: row.masked,
    bin: row.bin,
    last4: row.last4,
    expiry: row.expiry,
    type: oneOf(row.type, CARD_TYPES, 'cards', 'type'),
    status: oneOf(row.status, CARD_STATUSES, 'cards', 'status'),
    accountId: row.account_id,
    issuerBank: row.issuer_bank,
    createdAtMs: int(row.created_at_ms, 'cards', 'created_at_ms'),
    updatedAtMs: int(row.updated_at_ms, 'cards', 'updated_at_ms'),
  }
}

export function cardRow(card: Card): CardRow {
  // The masked form is all a card row may show of the number: 6 + hidden + 4.
  assert(/^\d{6}\*+\d{4}$/.test(card.masked), `card ${card.token}: masked form expected`)
  return {
    token: card.token,
    masked: card.masked,
    bin: card.bin,
    last4: card.last4,
    expiry: card.expiry,
    type: card.type,
    status: card.status,
    account_id: card.accountId,
    issuer_bank: card.issuerBank,
    created_at_ms: card.createdAtMs,
    updated_at_ms: card.updatedAtMs,
  }
}

export function toAccount(row: AccountRow): Account {
  return {
    id: row.id,
    kind: oneOf(row.kind, ACCOUNT_KINDS, 'accounts', 'kind', row.id),
    currency: row.currency,
    creditLimitMinor: money(row.credit_limit_minor, 'accounts', 'credit_limit_minor', row.id),
    debitsPendingMinor: money(row.debits_pending_minor, 'accounts', 'debits_pending_minor', row.id),
    debitsPostedMinor: money(row.debits_posted_minor, 'accounts', 'debits_posted_minor', row.id),
    creditsPendingMinor: money(
      row.credits_pending_minor,
      'accounts',
      'credits_pending_minor',
      row.id,
    ),
    creditsPostedMinor: money(row.credits_posted_minor, 'accounts', 'credits_posted_minor', row.id),
  }
}

export function accountRow(account: Account): AccountRow {
  return {
    id: account.id,
    kind: account.kind,
    currency: account.currency,
    credit_limit_minor: nonNegativeParam(
      account.creditLimitMinor,
      'account',
      account.id,
      'creditLimitMinor',
    ),
    debits_pending_minor: nonNegativeParam(
      account.debitsPendingMinor,
      'account',
      account.id,
      'debitsPendingMinor',
    ),
    debits_posted_minor: nonNegativeParam(
      account.debitsPostedMinor,
      'account',
      account.id,
      'debitsPostedMinor',
    ),
    credits_pending_minor: nonNegativeParam(
      account.creditsPendingMinor,
      'account',
      account.id,
      'creditsPendingMinor',
    ),
    credits_posted_minor: nonNegativeParam(
      account.creditsPostedMinor,
      'account',
      account.id,
      'creditsPostedMinor',
    ),
  }
}

export function toTransfer(row: TransferRow): Transfer {
  return {
    id: row.id,
    transactionId: row.transaction_id,
    debitAccountId: row.debit_account_id,
    creditAccountId: row.credit_account_id,
    amountMinor: toAmountMinor(money(row.amount_minor, 'transfers', 'amount_minor', row.id)),
    currency: row.currency,
    state: oneOf(row.state, TRANSFER_STATES, 'transfers', 'state', row.id),
    postedAmountMinor: money(row.posted_amount_minor, 'transfers', 'posted_amount_minor', row.id),
    pendingId: row.pending_id,
    createdAtMs: int(row.created_at_ms, 'transfers', 'created_at_ms', row.id),
    expiresAtMs: intOrNull(row.expires_at_ms, 'transfers', 'expires_at_ms', row.id),
    resolvedAtMs: intOrNull(row.resolved_at_ms, 'transfers', 'resolved_at_ms', row.id),
  }
}

export function transferRow(transfer: Transfer): TransferRow {
  return {
    id: transfer.id,
    transaction_id: transfer.transactionId,
    debit_account_id: transfer.debitAccountId,
    credit_account_id: transfer.creditAccountId,
    amount_minor: nonNegativeParam(transfer.amountMinor, 'transfer', transfer.id, 'amountMinor'),
    currency: transfer.currency,
    state: transfer.state,
    posted_amount_minor: nonNegativeParam(
      transfer.postedAmountMinor,
      'transfer',
      transfer.id,
      'postedAmountMinor',
    ),
    pending_id: transfer.pendingId,
    created_at_ms: transfer.createdAtMs,
    expires_at_ms: transfer.expiresAtMs,
    resolved_at_ms: transfer.resolvedAtMs,
  }
}

export function toTransaction(row: TransactionRow): TransactionRecord {
  return {
    id: row.id,
    kind: oneOf(row.kind, TRANSACTION_KINDS, 'transactions', 'kind', row.id),
    channel: oneOf(row.channel, CHANNELS, 'transactions', 'channel', row.id),
    outcome: oneOf(row.outcome, OUTCOMES, 'transactions', 'outcome', row.id),
    lifecycle: oneOf(row.lifecycle, LIFECYCLES, 'transactions', 'lifecycle', row.id),
    terminalId: row.terminal_id,
    merchantId: row.merchant_id,
    stan: row.stan,
    transmissionTime: row.transmission_time,
    rrn: row.rrn,
    dedupKey: row.dedup_key,
    idempotencyKey: row.idempotency_key,
    fingerprint: row.fingerprint,
    cardToken: row.card_token,
    cardMasked: row.card_masked,
    cardLast4: row.card_last4,
    cardType: oneOfOrNull(row.card_type, CARD_TYPES, 'transactions', 'card_type', row.id),
    amountMinor: money(row.amount_minor, 'transactions', 'amount_minor', row.id),
    currency: row.currency,
    originalId: row.original_id,
    reason: oneOfOrNull<ReasonCode>(row.reason, REASON_CODES, 'transactions', 'reason', row.id),
    responseCode: row.response_code,
    authorizationCode: row.authorization_code,
    checks: unpackChecks(row.checks, 'transactions', 'checks', row.id),
    evidence: unpackEvidence(row.evidence, 'transactions', 'evidence', row.id),
    // A balance can be shown negative (a credit card in use), so it is an integer, not an amount.
    balanceMinor: intOrNull(row.balance_minor, 'transactions', 'balance_minor', row.id),
    holdTransferId: row.hold_transfer_id,
    completedAmountMinor: money(
      row.completed_amount_minor,
      'transactions',
      'completed_amount_minor',
      row.id,
    ),
    refundedAmountMinor: money(
      row.refunded_amount_minor,
      'transactions',
      'refunded_amount_minor',
      row.id,
    ),
    localDate: row.local_date,
    entryMode: oneOfOrNull(row.entry_mode, ENTRY_MODES, 'transactions', 'entry_mode', row.id),
    reportedRegion: row.reported_region,
    createdAtMs: int(row.created_at_ms, 'transactions', 'created_at_ms', row.id),
    updatedAtMs: int(row.updated_at_ms, 'transactions', 'updated_at_ms', row.id),
  }
}

export function transactionRow(record: TransactionRecord): TransactionRow {
  // A balance may be negative (a credit card in use): an integer, not an amount.
  if (record.balanceMinor !== null && !Number.isSafeInteger(record.balanceMinor)) {
    throw new AssertionFailure(`transaction ${record.id} balanceMinor: a safe integer`)
  }
  return {
    id: record.id,
    kind: record.kind,
    channel: record.channel,
    outcome: record.outcome,
    lifecycle: record.lifecycle,
    terminal_id: record.terminalId,
    merchant_id: record.merchantId,
    stan: record.stan,
    transmission_time: record.transmissionTime,
    rrn: record.rrn,
    dedup_key: record.dedupKey,
    idempotency_key: record.idempotencyKey,
    fingerprint: record.fingerprint,
    card_token: record.cardToken,
    card_masked: record.cardMasked,
    card_last4: record.cardLast4,
    card_type: record.cardType,
    amount_minor: nonNegativeParam(record.amountMinor, 'transaction', record.id, 'amountMinor'),
    currency: record.currency,
    original_id: record.originalId,
    reason: record.reason,
    response_code: record.responseCode,
    authorization_code: record.authorizationCode,
    checks: packChecks(record.checks),
    evidence: packEvidence(record.evidence),
    balance_minor: record.balanceMinor,
    hold_transfer_id: record.holdTransferId,
    completed_amount_minor: nonNegativeParam(
      record.completedAmountMinor,
      'transaction',
      record.id,
      'completedAmountMinor',
    ),
    refunded_amount_minor: nonNegativeParam(
      record.refundedAmountMinor,
      'transaction',
      record.id,
      'refundedAmountMinor',
    ),
    local_date: record.localDate,
    created_at_ms: record.createdAtMs,
    updated_at_ms: record.updatedAtMs,
    entry_mode: record.entryMode,
    reported_region: record.reportedRegion,
  }
}

export function toCounter(row: CounterRow): UsageCounter {
  return {
    key: row.key,
    count: count(row.count, 'usage_counters', 'count', row.key),
    amountMinor: money(row.amount_minor, 'usage_counters', 'amount_minor', row.key),
  }
}

export function counterRow(counter: UsageCounter): CounterRow {
  return {
    key: counter.key,
    count: nonNegativeParam(counter.count, 'counter', counter.key, 'count'),
    amount_minor: nonNegativeParam(counter.amountMinor, 'counter', counter.key, 'amountMinor'),
  }
}

export function toLimitRule(row: LimitRuleRow): LimitRule {
  return {
    id: row.id,
    scope: oneOf(row.scope, LIMIT_SCOPES, 'limit_rules', 'scope', row.id),
    cardType: oneOfOrNull(row.card_type, CARD_TYPES, 'limit_rules', 'card_type', row.id),
    mcc: row.mcc,
    entityId: row.entity_id,
    currency: row.currency,
    perTransactionMaxMinor: moneyOrNull(
      row.per_transaction_max_minor,
      'limit_rules',
      'per_transaction_max_minor',
      row.id,
    ),
    dailyAmountMaxMinor: moneyOrNull(
      row.daily_amount_max_minor,
      'limit_rules',
      'daily_amount_max_minor',
      row.id,
    ),
    dailyCountMax: countOrNull(row.daily_count_max, 'limit_rules', 'daily_count_max', row.id),
    note: row.note,
    createdAtMs: int(row.created_at_ms, 'limit_rules', 'created_at_ms', row.id),
    updatedAtMs: int(row.updated_at_ms, 'limit_rules', 'updated_at_ms', row.id),
  }
}

export function limitRuleRow(rule: LimitRule): LimitRuleRow {
  return {
    id: rule.id,
    scope: rule.scope,
    card_type: rule.cardType,
    mcc: rule.mcc,
    entity_id: rule.entityId,
    currency: rule.currency,
    per_transaction_max_minor: nonNegativeParamOrNull(
      rule.perTransactionMaxMinor,
      'limit',
      rule.id,
      'perTransactionMaxMinor',
    ),
    daily_amount_max_minor: nonNegativeParamOrNull(
      rule.dailyAmountMaxMinor,
      'limit',
      rule.id,
      'dailyAmountMaxMinor',
    ),
    daily_count_max: nonNegativeParamOrNull(rule.dailyCountMax, 'limit', rule.id, 'dailyCountMax'),
    note: rule.note,
    created_at_ms: rule.createdAtMs,
    updated_at_ms: rule.updatedAtMs,
  }
}

export function toListEntry(row: ListEntryRow): ListEntry {
  return {
    id: row.id,
    list: oneOf(row.list, LIST_NAMES, 'list_entries', 'list', row.id),
    kind: oneOf(row.kind, LIST_KINDS, 'list_entries', 'kind', row.id),
    value: row.value,
    display: row.display,
    note: row.note,
    expiresAtMs: intOrNull(row.expires_at_ms, 'list_entries', 'expires_at_ms', row.id),
    createdBy: row.created_by,
    createdAtMs: int(row.created_at_ms, 'list_entries', 'created_at_ms', row.id),
  }
}

export function listEntryRow(entry: ListEntry): ListEntryRow {
  return {
    id: entry.id,
    list: entry.list,
    kind: entry.kind,
    value: entry.value,
    display: entry.display,
    note: entry.note,
    expires_at_ms: entry.expiresAtMs,
    created_by: entry.createdBy,
    created_at_ms: entry.createdAtMs,
  }
}

export function toAudit(row: AuditRow): AuditEntry {
  const detail = parseJson(row.detail_json, 'audit_log', 'detail_json', row.id)
  assert(isPlainObject(detail), `audit_log.detail_json (${row.id}): an object`)
  return {
    id: row.id,
    atMs: int(row.at_ms, 'audit_log', 'at_ms', row.id),
    actor: row.actor,
    action: row.action,
    subject: row.subject,
    detail,
  }
}

export function auditRow(entry: AuditEntry): AuditRow {
  return {
    id: entry.id,
    at_ms: entry.atMs,
    actor: entry.actor,
    action: entry.action,
    subject: entry.subject,
    detail_json: JSON.stringify(entry.detail),
  }
}
