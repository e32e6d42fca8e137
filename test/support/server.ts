import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { Problem } from '../../src/adapters/http/problem.js'
import type { decisionView, transactionView } from '../../src/adapters/http/views.js'
import { loadConfig } from '../../src/app/config.js'
import { DEMO_CARDS, DEMO_MERCHANTS, DEMO_TERMINALS } from '../../src/app/demo-data.js'
import { startTollgate } from '../../src/app/main.js'
import { luhnCheckDigit, maskPan } from '../../src/core/card.js'
import type { Explanation } from '../../src/core/explain.js'

/**
 * End-to-end test support: a real Tollgate on 127.0.0.1 with a real SQLite file in a fresh
 * temporary directory, and small typed helpers for talking to it over real HTTP.
 */

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789'

export interface TestServer {
  readonly url: string
  /** The ISO 8583 listener's port on 127.0.0.1. */
  readonly isoPort: number
  readonly adminToken: string
  readonly dataDir: string
  /** Stops the server (draining in-flight work) and removes its data directory. */
  close(): Promise<void>
}

/** Starts Tollgate in-process with demo data in a new temporary data directory. */
export async function startTestServer(overrides: Record<string, string> = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tollgate-e2e-'))
  try {
    const running = await startTollgate(
      loadConfig({
        TOLLGATE_DATA_DIR: dataDir,
        TOLLGATE_HTTP_PORT: '0',
        TOLLGATE_ISO_PORT: '0',
        TOLLGATE_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
        TOLLGATE_LOG_LEVEL: 'silent',
        ...overrides,
      }),
    )
    return {
      url: running.httpUrl,
      isoPort: running.isoPort,
      adminToken: overrides.TOLLGATE_ADMIN_TOKEN ?? TEST_ADMIN_TOKEN,
      dataDir,
      close: async () => {
        try {
          await running.close()
        } finally {
          await rm(dataDir, { recursive: true, force: true })
        }
      },
    }
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true })
    throw error
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/** The JSON views the server sends, as the client sees them. */
export type DecisionBody = ReturnType<typeof decisionView>
export type TransactionBody = ReturnType<typeof transactionView>
export type ProblemBody = Problem
export type { Explanation }

export interface ApiResponse<T> {
  readonly status: number
  readonly headers: Headers
  /** The parsed JSON body, or null when the body is not JSON. */
  readonly body: T
  /** The raw text of the body, for "never contains" checks. */
  readonly text: string
}

export interface CallOptions {
  /** Send `Authorization: Bearer <token>`. */
  readonly token?: string
  readonly headers?: Readonly<Record<string, string>>
}

/** Each call is bounded: no test waits forever on a server that stopped answering. */
export const REQUEST_TIMEOUT_MS = 10_000

/**
 * Sends one request. `body` is sent as JSON unless it is a string, which is sent verbatim
 * (for malformed-JSON tests) with `content-type: application/json`.
 */
export async function call<T = unknown>(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  options: CallOptions = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers }
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
  let payload: string | undefined
  if (body !== undefined) {
    headers['content-type'] ??= 'application/json'
    payload = typeof body === 'string' ? body : JSON.stringify(body)
  }
  const response = await fetch(url + path, {
    method,
    headers,
    ...(payload === undefined ? {} : { body: payload }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  })
  const text = await response.text()
  let parsed: unknown = null
  try {
    parsed = text === '' ? null : JSON.parse(text)
  } catch {
    parsed = null
  }
  return { status: response.status, headers: response.headers, body: parsed as T, text }
}

export interface Api {
  get<T = unknown>(path: string, options?: CallOptions): Promise<ApiResponse<T>>
  post<T = unknown>(path: string, body?: unknown, options?: CallOptions): Promise<ApiResponse<T>>
  put<T = unknown>(path: string, body?: unknown, options?: CallOptions): Promise<ApiResponse<T>>
  patch<T = unknown>(path: string, body?: unknown, options?: CallOptions): Promise<ApiResponse<T>>
  delete<T = unknown>(path: string, options?: CallOptions): Promise<ApiResponse<T>>
}

/** JSON calls against one server; `token` is sent on every call unless a call overrides it. */
export function api(url: string, token?: string): Api {
  const withToken = (options: CallOptions = {}): CallOptions =>
    token === undefined || options.token !== undefined ? options : { ...options, token }
  return {
    get: (path, options) => call(url, 'GET', path, undefined, withToken(options)),
    post: (path, body, options) => call(url, 'POST', path, body ?? {}, withToken(options)),
    put: (path, body, options) => call(url, 'PUT', path, body ?? {}, withToken(options)),
    patch: (path, body, options) => call(url, 'PATCH', path, body ?? {}, withToken(options)),
    delete: (path, options) => call(url, 'DELETE', path, undefined, withToken(options)),
  }
}

// ---------------------------------------------------------------------------------------------
// Request builders
// ---------------------------------------------------------------------------------------------

let stanCounter = 0
const STAN_MAX = 999_999

/** A STAN not used before by this test process (6 digits). */
export function freshStan(): string {
  stanCounter += 1
  if (stanCounter > STAN_MAX) throw new Error('freshStan: more than 999999 STANs in one process')
  return String(stanCounter).padStart(6, '0')
}

export interface CardData {
  readonly pan: string
  readonly expiry: string
}

export type TerminalRef = { readonly id: string; readonly merchantId: string }

export interface AuthorizeOptions {
  readonly kind?: 'purchase' | 'preauthorization' | 'balance_inquiry'
  /** A demo terminal by name, or any terminal with the merchant it is bound to. */
  readonly terminal?: keyof typeof DEMO_TERMINALS | TerminalRef
  /** Overrides the terminal's own merchant. */
  readonly merchantId?: string
  readonly card?: keyof typeof DEMO_CARDS | CardData
  /** Omitted for a balance inquiry unless given. */
  readonly amount?: string
  readonly currency?: string
  readonly stan?: string
  readonly transmissionTime?: string
  /** Replaces the card's expiry. */
  readonly expiry?: string
}

/**
 * An authorization body from demo constants; by default a 10.00 CNY purchase at the noodle
 * house on the demo debit card, with a fresh STAN.
 */
export function authorizeBody(options: AuthorizeOptions = {}): Record<string, unknown> {
  const kind = options.kind ?? 'purchase'
  const terminal =
    typeof options.terminal === 'object'
      ? options.terminal
      : DEMO_TERMINALS[options.terminal ?? 'noodles']
  const card = typeof options.card === 'object' ? options.card : DEMO_CARDS[options.card ?? 'debit']
  const amount = options.amount ?? (kind === 'balance_inquiry' ? undefined : '10.00')
  const time = options.transmissionTime
  return {
    kind,
    terminalId: terminal.id,
    merchantId: options.merchantId ?? terminal.merchantId,
    stan: options.stan ?? freshStan(),
    ...(time === undefined ? {} : { transmissionTime: time }),
    card: { pan: card.pan, expiry: options.expiry ?? card.expiry },
    ...(amount === undefined ? {} : { amount }),
    currency: options.currency ?? 'CNY',
  }
}

let panCounter = 0

/**
 * A Luhn-valid 19-digit card number on the ICBC debit BIN of the demo cards, distinct within
 * this process (a counter, not randomness, so failures reproduce).
 */
export function freshPan(): string {
  panCounter += 1
  const body = '62122602' + String(90_000_000 + panCounter).padStart(10, '0')
  return body + luhnCheckDigit(body)
}

let shopCounter = 0

/** Creates an approved merchant with one active terminal bound to it, via the admin API. */
export async function createShop(server: TestServer, mcc = '5411'): Promise<TerminalRef> {
  const admin = api(server.url, server.adminToken)
  shopCounter += 1
  const n = String(shopCounter).padStart(5, '0')
  const merchantId = `8989900000${n}`
  const id = `T${n}00`
  const merchant = await admin.post('/v1/merchants', {
    id: merchantId,
    name: `Test shop ${merchantId}`,
    mcc,
    status: 'approved',
  })
  if (merchant.status !== 201) throw new Error(`createShop: ${merchant.status} ${merchant.text}`)
  const terminal = await admin.post('/v1/terminals', { id, merchantId, status: 'active' })
  if (terminal.status !== 201) throw new Error(`createShop: ${terminal.status} ${terminal.text}`)
  return { id, merchantId }
}

export interface TestCard extends CardData {
  readonly token: string
}

/** Issues a card via the admin API: debit with a balance, or credit with a credit limit. */
export async function createCard(
  server: TestServer,
  type: 'debit' | 'credit',
  amount: string,
  expiry = '3012',
): Promise<TestCard> {
  const pan = freshPan()
  const funds = type === 'debit' ? { balance: amount } : { creditLimit: amount }
  const admin = api(server.url, server.adminToken)
  const created = await admin.post<{ token: string }>('/v1/cards', { pan, expiry, type, ...funds })
  if (created.status !== 201) throw new Error(`createCard: ${created.status} ${created.text}`)
  return { pan, expiry, token: created.body.token }
}

export interface CardAccountView {
  readonly token: string
  readonly masked: string
  readonly available: string
  readonly balance: string
  readonly creditLimit: string
  readonly currency: string
}

/** The token of a card on file, found by its masked number among the listed cards. */
export async function cardTokenOf(server: TestServer, pan: string): Promise<string> {
  const admin = api(server.url, server.adminToken)
  const listed = await admin.get<{ items: CardAccountView[] }>('/v1/cards?limit=500')
  const found = listed.body.items.filter((card) => card.masked === maskPan(pan))
  const only = found[0]
  if (found.length !== 1 || only === undefined) {
    throw new Error(`cardTokenOf: ${found.length} cards match ${maskPan(pan)}`)
  }
  return only.token
}

/** A card's account as GET /v1/cards/:token shows it. */
export async function cardAccount(server: TestServer, token: string): Promise<CardAccountView> {
  const answer = await api(server.url, server.adminToken).get<CardAccountView>(`/v1/cards/${token}`)
  if (answer.status !== 200) throw new Error(`cardAccount: ${answer.status} ${answer.text}`)
  return answer.body
}

/** Explanation evidence as key → rendered value. */
export function evidenceOf(explanation: Explanation | undefined | null): Record<string, string> {
  return Object.fromEntries((explanation?.evidence ?? []).map((item) => [item.key, item.value]))
}

export { DEMO_CARDS, DEMO_MERCHANTS, DEMO_TERMINALS }

// ---------------------------------------------------------------------------------------------
// The database file, read-only
// ---------------------------------------------------------------------------------------------

export interface RowCounts {
  readonly transactions: number
  readonly transfers: number
  readonly accounts: number
}

interface AccountRow {
  readonly id: string
  readonly debits_pending_minor: number
  readonly debits_posted_minor: number
  readonly credits_pending_minor: number
  readonly credits_posted_minor: number
}

export interface ReadOnlyDatabase {
  counts(): RowCounts
  /** Every account's four totals (pending and posted debits and credits), by account id. */
  accountTotals(): Record<string, string>
  all<T>(sql: string, ...params: unknown[]): T[]
  close(): void
}

const ACCOUNT_TOTALS_SQL = `SELECT id, debits_pending_minor, debits_posted_minor,
  credits_pending_minor, credits_posted_minor FROM accounts ORDER BY id`

/** Opens the server's SQLite file read-only, to see what was (not) persisted. */
export function openDatabaseReadOnly(dataDir: string): ReadOnlyDatabase {
  const db = new Database(join(dataDir, 'tollgate.db'), { readonly: true, fileMustExist: true })
  const count = (table: keyof RowCounts): number =>
    (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n
  const totals = (row: AccountRow): string =>
    [
      row.debits_pending_minor,
      row.debits_posted_minor,
      row.credits_pending_minor,
      row.credits_posted_minor,
    ].join('/')
  return {
    counts: () => ({
      transactions: count('transactions'),
      transfers: count('transfers'),
      accounts: count('accounts'),
    }),
    accountTotals: () => {
      const rows = db.prepare(ACCOUNT_TOTALS_SQL).all() as AccountRow[]
      return Object.fromEntries(rows.map((row) => [row.id, totals(row)]))
    },
    all: <T>(sql: string, ...params: unknown[]) => db.prepare(sql).all(...params) as T[],
    close: () => db.close(),
  }
}

export interface DatabaseSnapshot {
  readonly counts: RowCounts
  readonly totals: Record<string, string>
}

/** Row counts and account totals in one read; closes the file before returning. */
export function snapshotDatabase(dataDir: string): DatabaseSnapshot {
  const db = openDatabaseReadOnly(dataDir)
  try {
    return { counts: db.counts(), totals: db.accountTotals() }
  } finally {
    db.close()
  }
}
