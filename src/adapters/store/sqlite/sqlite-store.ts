import { RoutingTables } from './routing-tables.js'
import { RiskTables } from './risk-tables.js'
import { KeyedCache } from './snapshot-cache.js'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { AssertionFailure, assert } from '../../../core/assert.js'
import { assertConservation, post } from '../../../core/ledger/ledger.js'
import { CURRENCIES, toAmountMinor } from '../../../core/money.js'
import type {
  Account,
  Card,
  LimitRule,
  ListEntry,
  Merchant,
  Terminal,
  TransactionRecord,
  UsageCounter,
} from '../../../core/model.js'
import type { BatchWork } from '../../../core/pipeline/batch.js'
import { clearingAccountId, fundingAccountId } from '../../../core/pipeline/keys.js'
import type { BatchResult } from '../../../core/pipeline/result.js'
import type { Changes, Snapshot } from '../../../core/pipeline/snapshot.js'
import {
  PAGE_LIMIT_MAX,
  StoreInputError,
  type AuditEntry,
  type DueHolds,
  type LedgerCheck,
  type NewCard,
  type Page,
  type PageRequest,
  type Store,
  type TransactionFilter,
  type TransactionPage,
  type WriteResult,
} from '../../../ports/store.js'
import { migrate } from './migrations.js'
import {
  ACCOUNT_COLUMNS,
  AUDIT_COLUMNS,
  CARD_COLUMNS,
  COUNTER_COLUMNS,
  LIMIT_RULE_COLUMNS,
  LIST_ENTRY_COLUMNS,
  MERCHANT_COLUMNS,
  TERMINAL_COLUMNS,
  TRANSACTION_COLUMNS,
  TRANSFER_COLUMNS,
  accountRow,
  auditRow,
  cardRow,
  counterRow,
  limitRuleRow,
  listEntryRow,
  merchantRow,
  terminalRow,
  toAccount,
  toAudit,
  toCard,
  toCounter,
  toLimitRule,
  toListEntry,
  toMerchant,
  toTerminal,
  toTransaction,
  toTransfer,
  transactionRow,
  transferRow,
  type AccountRow,
  type AuditRow,
  type CardRow,
  type CounterRow,
  type LimitRuleRow,
  type ListEntryRow,
  type MerchantRow,
  type TerminalRow,
  type TransactionRow,
  type TransferRow,
} from './rows.js'

/** How long a writer waits for another connection's lock before failing with SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5_000
/** Pages of write-ahead log after which a commit checkpoints it. */
export const WAL_AUTOCHECKPOINT_PAGES = 10_000
/** SQLite page cache per connection, in KiB. */
export const CACHE_SIZE_KIB = 65_536
/** The most follow-ups `listFollowUps` returns (oldest first): a bound on a read for display. */
export const FOLLOW_UPS_LISTED_MAX = PAGE_LIMIT_MAX
/** The most out-of-bound account ids one ledger check lists. */
export const LEDGER_CHECK_ACCOUNTS_MAX = 1_000
/** Rows of one kind a batch connection keeps between batches (snapshot-cache.ts). */
export const SNAPSHOT_CACHE_ROWS_MAX = 500_000
/** `PRAGMA synchronous` reads back as a number: 1 is NORMAL, 2 is FULL. */
const SYNCHRONOUS_NORMAL = 1
const SYNCHRONOUS_FULL = 2

export type SqliteStoreErrorCode = 'open_failed' | 'pragma_not_applied'

/** An operating failure of the SQLite store, with a stable code and the underlying cause. */
export class SqliteStoreError extends Error {
  override readonly name = 'SqliteStoreError'
  readonly code: SqliteStoreErrorCode

  constructor(code: SqliteStoreErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }
}

export interface SqliteStoreOptions {
  /** The database file; its directory is created if missing. ':memory:' for a throwaway store. */
  readonly path: string
  /**
   * Who makes a commit durable. `commit` (default): SQLite fsyncs the log inside every COMMIT
   * (`synchronous = FULL`); a method resolves once its change is on disk. `caller`: for the
   * batch worker's connection: COMMIT writes the log without waiting for the disk
   * (`synchronous = NORMAL`) and methods resolve at commit; the caller must sync the log
   * (`LogSync` on `<path>-wal`, log-sync.ts) before it releases anything this connection wrote.
   */
  readonly logSync?: 'commit' | 'caller'
  /**
   * Keep cards, accounts, counters, merchants, terminals and first-seen instants between
   * batches (snapshot-cache.ts). Only for a connection that writes nothing but batches and hold
   * expiry (the batch worker's): writes by other connections are detected and empty the cache.
   */
  readonly snapshotCache?: boolean
}

/** The pragmas in effect on the store's connection, read back from SQLite. */
export interface SqlitePragmas {
  readonly journalMode: string
  readonly synchronous: number
  readonly foreignKeys: number
  readonly busyTimeoutMs: number
}

/**
 * Opens (creating if needed) the SQLite store at `options.path`: sets the pragmas, runs the
 * migrations and makes sure every currency has its clearing and funding account. Throws
 * `SqliteStoreError` when the file cannot be opened or a pragma does not take, and
 * `SchemaError` for a database written by a newer Tollgate.
 *
 * @example const store = openSqliteStore({ path: './data/tollgate.db' })
 */
export function openSqliteStore(options: SqliteStoreOptions): SqliteStore {
  const path = options.path
  const memory = path === ':memory:'
  let db: Database.Database
  try {
    if (!memory) mkdirSync(dirname(path), { recursive: true })
    db = new Database(path, { timeout: BUSY_TIMEOUT_MS })
  } catch (error) {
    throw new SqliteStoreError('open_failed', `cannot open SQLite database ${path}`, {
      cause: error,
    })
  }
  try {
    const byCaller = options.logSync === 'caller' && !memory
    applyPragmas(db, memory, byCaller ? SYNCHRONOUS_NORMAL : SYNCHRONOUS_FULL)
    const report = migrate(db, () => Date.now())
    ensureSystemAccounts(db)
    return new SqliteStore(path, db, report.applied, options.snapshotCache === true)
  } catch (error) {
    db.close()
    throw error
  }
}

function applyPragmas(db: Database.Database, memory: boolean, synchronous: number): void {
  const expect = (name: string, actual: unknown, wanted: unknown): void => {
    if (actual !== wanted) {
      throw new SqliteStoreError(
        'pragma_not_applied',
        `PRAGMA ${name} is ${String(actual)}, expected ${String(wanted)}`,
      )
    }
  }
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
  expect('busy_timeout', db.pragma('busy_timeout', { simple: true }), BUSY_TIMEOUT_MS)
  // An in-memory database has no file to keep a write-ahead log beside; it reports 'memory'.
  const journalMode = db.pragma('journal_mode = WAL', { simple: true })
  expect('journal_mode', journalMode, memory ? 'memory' : 'wal')
  db.pragma(`synchronous = ${synchronous}`)
  expect('synchronous', db.pragma('synchronous', { simple: true }), synchronous)
  db.pragma('foreign_keys = ON')
  expect('foreign_keys', db.pragma('foreign_keys', { simple: true }), 1)
  // A page cache large enough for the hot index pages of a day's traffic (64 MiB, in KiB).
  db.pragma(`cache_size = -${CACHE_SIZE_KIB}`)
  // Fewer, larger checkpoints (≈ 40 MiB of log between them): ≈ 3% more authorizations/s.
  db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`)
}

/** Every currency gets a clearing account (the other side of sales) and a funding account. */
function ensureSystemAccounts(db: Database.Database): void {
  const insert = db.prepare<[AccountRow]>(
    `${insertSql('accounts', ACCOUNT_COLUMNS)} ON CONFLICT (id) DO NOTHING`,
  )
  const read = db.prepare<[string], AccountRow>('SELECT * FROM accounts WHERE id = ?')
  db.transaction(() => {
    for (const currency of CURRENCIES) {
      const system = [
        { id: clearingAccountId(currency.alpha), kind: 'clearing' },
        { id: fundingAccountId(currency.alpha), kind: 'funding' },
      ] as const
      for (const { id, kind } of system) {
        insert.run(
          accountRow({
            id,
            kind,
            currency: currency.alpha,
            creditLimitMinor: 0,
            debitsPendingMinor: 0,
            debitsPostedMinor: 0,
            creditsPendingMinor: 0,
            creditsPostedMinor: 0,
          }),
        )
        const row = read.get(id)
        assert(
          row !== undefined && row.kind === kind && row.currency === currency.alpha,
          `system account ${id} is a ${kind} account in ${currency.alpha}`,
        )
      }
    }
  }).immediate()
}

function insertSql(table: string, columns: readonly string[]): string {
  const names = columns.join(', ')
  const values = columns.map((column) => `@${column}`).join(', ')
  return `INSERT INTO ${table} (${names}) VALUES (${values})`
}

/** `a = @a, b = @b` for every column but the key and those that never change. */
function assignments(columns: readonly string[], fixed: readonly string[]): string {
  return columns
    .filter((column) => !fixed.includes(column))
    .map((column) => `${column} = @${column}`)
    .join(', ')
}

function updateSql(
  table: string,
  columns: readonly string[],
  key: string,
  fixed: readonly string[],
): string {
  return `UPDATE ${table} SET ${assignments(columns, [key, ...fixed])} WHERE ${key} = @${key}`
}

/** Insert, or on an existing key overwrite every column but the key and the fixed ones. */
function upsertSql(
  table: string,
  columns: readonly string[],
  key: string,
  fixed: readonly string[],
): string {
  const sets = columns
    .filter((column) => column !== key && !fixed.includes(column))
    .map((column) => `${column} = excluded.${column}`)
    .join(', ')
  return `${insertSql(table, columns)} ON CONFLICT (${key}) DO UPDATE SET ${sets}`
}

/** A statement that writes one row, bound from the row's values. */
interface RowStatement<Row> {
  run(row: Row): Database.RunResult
}

/**
 * Prepares `sql`, written with `@column` parameters, with `?` in their place, and binds a row by
 * position in the order the SQL names its columns. Binding by name costs a lookup through the V8
 * API per parameter (≈ 3 µs for a transaction's 32 columns), so the statements every batch runs
 * are prepared this way; the order comes from the SQL itself, so the two cannot disagree.
 */
function prepareByPosition<Row>(
  db: Database.Database,
  sql: string,
  columns: readonly (keyof Row & string)[],
): RowStatement<Row> {
  const order: (keyof Row & string)[] = []
  const positional = sql.replace(/@([a-z_0-9]+)/g, (_, name: string) => {
    const column = columns.find((c) => c === name)
    assert(column !== undefined, `parameter @${name} is a column`)
    order.push(column)
    return '?'
  })
  const statement = db.prepare<unknown[]>(positional)
  const count = order.length
  return {
    run: (row) => {
      const values = new Array<unknown>(count)
      for (let index = 0; index < count; index += 1) values[index] = row[order[index]!]
      return statement.run(values)
    },
  }
}

const IN_JSON = 'IN (SELECT value FROM json_each(?))'

/** A set of keys as the one JSON array parameter of an `IN (… json_each(?))` statement. */
function jsonArray(values: Iterable<string>): string {
  return JSON.stringify([...values])
}

interface LedgerSumRow {
  currency: string
  debits_pending_minor: number
  credits_pending_minor: number
  debits_posted_minor: number
  credits_posted_minor: number
  accounts: number
}

/** Every statement the store runs, prepared once when it opens. */
function prepareStatements(db: Database.Database) {
  const byKeys = <Row>(table: string, column: string, order = 'id') =>
    db.prepare<[string], Row>(`SELECT * FROM ${table} WHERE ${column} ${IN_JSON} ORDER BY ${order}`)
  const pages = <Row>(table: string, key: string) => ({
    first: db.prepare<[number], Row>(`SELECT * FROM ${table} ORDER BY ${key} LIMIT ?`),
    after: db.prepare<[string, number], Row>(
      `SELECT * FROM ${table} WHERE ${key} > ? ORDER BY ${key} LIMIT ?`,
    ),
  })
  return {
    merchantById: db.prepare<[string], MerchantRow>('SELECT * FROM merchants WHERE id = ?'),
    merchantsByIds: byKeys<MerchantRow>('merchants', 'id'),
    merchantPages: pages<MerchantRow>('merchants', 'id'),
    insertMerchant: db.prepare<[MerchantRow]>(
      `${insertSql('merchants', MERCHANT_COLUMNS)} ON CONFLICT DO NOTHING`,
    ),
    updateMerchant: db.prepare<[MerchantRow]>(
      updateSql('merchants', MERCHANT_COLUMNS, 'id', ['created_at_ms']),
    ),

    terminalById: db.prepare<[string], TerminalRow>('SELECT * FROM terminals WHERE id = ?'),
    terminalsByIds: byKeys<TerminalRow>('terminals', 'id'),
    terminalPages: pages<TerminalRow>('terminals', 'id'),
    insertTerminal: db.prepare<[TerminalRow]>(
      `${insertSql('terminals', TERMINAL_COLUMNS)} ON CONFLICT DO NOTHING`,
    ),
    updateTerminal: db.prepare<[TerminalRow]>(
      updateSql('terminals', TERMINAL_COLUMNS, 'id', ['created_at_ms']),
    ),

    cardByToken: db.prepare<[string], CardRow>('SELECT * FROM cards WHERE token = ?'),
    cardsByTokens: byKeys<CardRow>('cards', 'token', 'token'),
    cardPages: pages<CardRow>('cards', 'token'),
    insertCard: db.prepare<[CardRow]>(insertSql('cards', CARD_COLUMNS)),
    updateCard: db.prepare<[CardRow]>(
      updateSql('cards', CARD_COLUMNS, 'token', ['account_id', 'created_at_ms']),
    ),

    accountById: db.prepare<[string], AccountRow>('SELECT * FROM accounts WHERE id = ?'),
    accountsByIds: byKeys<AccountRow>('accounts', 'id'),
    insertAccount: db.prepare<[AccountRow]>(insertSql('accounts', ACCOUNT_COLUMNS)),
    // Absolute values, as the core computed them inside this same transaction. Kind and currency
    // are part of the key so that a change can never turn an account into another.
    updateAccount: prepareByPosition<AccountRow>(
      db,
      `${updateSql('accounts', ACCOUNT_COLUMNS, 'id', ['kind', 'currency'])}` +
        ' AND kind = @kind AND currency = @currency',
      ACCOUNT_COLUMNS,
    ),

    transfersByIds: byKeys<TransferRow>('transfers', 'id'),
    insertTransfer: prepareByPosition<TransferRow>(
      db,
      insertSql('transfers', TRANSFER_COLUMNS),
      TRANSFER_COLUMNS,
    ),
    updateTransfer: prepareByPosition<TransferRow>(
      db,
      `${updateSql('transfers', TRANSFER_COLUMNS, 'id', ['amount_minor'])}` +
        ' AND amount_minor = @amount_minor',
      TRANSFER_COLUMNS,
    ),

    transactionById: db.prepare<[string], TransactionRow>(
      'SELECT * FROM transactions WHERE id = ?',
    ),
    transactionsByIds: byKeys<TransactionRow>('transactions', 'id'),
    transactionsByDedupKeys: byKeys<TransactionRow>('transactions', 'dedup_key'),
    transactionsByIdempotencyKeys: byKeys<TransactionRow>('transactions', 'idempotency_key'),
    followUpsOfMany: byKeys<TransactionRow>('transactions', 'original_id', 'created_at_ms, id'),
    followUpsOf: db.prepare<[string, number], TransactionRow>(
      'SELECT * FROM transactions WHERE original_id = ? ORDER BY created_at_ms, id LIMIT ?',
    ),
    insertTransaction: prepareByPosition<TransactionRow>(
      db,
      insertSql('transactions', TRANSACTION_COLUMNS),
      TRANSACTION_COLUMNS,
    ),
    updateTransaction: prepareByPosition<TransactionRow>(
      db,
      `${updateSql('transactions', TRANSACTION_COLUMNS, 'id', ['kind', 'amount_minor'])}` +
        ' AND kind = @kind AND amount_minor = @amount_minor',
      TRANSACTION_COLUMNS,
    ),
    // Due holds, found through the partial index of pending transfers by expiry.
    dueHolds: db.prepare<[number, number], TransactionRow>(`
      SELECT t.* FROM transfers h JOIN transactions t ON t.id = h.transaction_id
      WHERE h.state = 'pending' AND h.expires_at_ms IS NOT NULL AND h.expires_at_ms <= ?
        AND t.hold_transfer_id = h.id AND t.kind = 'preauthorization'
        AND t.lifecycle = 'held' AND t.outcome = 'approved'
      ORDER BY h.expires_at_ms, h.id
      LIMIT ?`),

    countersByKeys: byKeys<CounterRow>('usage_counters', 'key', 'key'),
    upsertCounter: prepareByPosition<CounterRow>(
      db,
      upsertSql('usage_counters', COUNTER_COLUMNS, 'key', []),
      COUNTER_COLUMNS,
    ),

    allLimits: db.prepare<[], LimitRuleRow>('SELECT * FROM limit_rules ORDER BY id'),
    upsertLimit: db.prepare<[LimitRuleRow]>(
      upsertSql('limit_rules', LIMIT_RULE_COLUMNS, 'id', ['created_at_ms']),
    ),
    deleteLimit: db.prepare<[string]>('DELETE FROM limit_rules WHERE id = ?'),

    listEntriesByValues: byKeys<ListEntryRow>('list_entries', 'value'),
    listEntryPages: pages<ListEntryRow>('list_entries', 'id'),
    upsertListEntry: db.prepare<[ListEntryRow]>(
      upsertSql('list_entries', LIST_ENTRY_COLUMNS, 'id', ['created_at_ms', 'created_by']),
    ),
    deleteListEntry: db.prepare<[string]>('DELETE FROM list_entries WHERE id = ?'),

    insertAudit: db.prepare<[AuditRow]>(insertSql('audit_log', AUDIT_COLUMNS)),
    auditPages: pages<AuditRow>('audit_log', 'id'),

    ledgerSums: db.prepare<[], LedgerSumRow>(`
      SELECT currency,
        SUM(debits_pending_minor) AS debits_pending_minor,
        SUM(credits_pending_minor) AS credits_pending_minor,
        SUM(debits_posted_minor) AS debits_posted_minor,
        SUM(credits_posted_minor) AS credits_posted_minor,
        COUNT(*) AS accounts
      FROM accounts GROUP BY currency ORDER BY currency`),
    accountsOutOfBound: db
      .prepare<[number], string>(
        `
        SELECT id FROM accounts
        WHERE kind = 'cardholder' AND credits_posted_minor - debits_posted_minor
          - debits_pending_minor + credit_limit_minor < 0
        ORDER BY id LIMIT ?`,
      )
      .pluck(),

    getSetting: db.prepare<[string], string>('SELECT value FROM settings WHERE key = ?').pluck(),
    putSetting: db.prepare<[{ key: string; value: string }]>(
      'INSERT INTO settings (key, value) VALUES (@key, @value) ' +
        'ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ),
    schemaVersion: db
      .prepare<[], number>('SELECT COALESCE(MAX(version), 0) FROM schema_migrations')
      .pluck(),
    // Changes when another connection commits (snapshot-cache.ts).
    dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
  }
}

type Statements = ReturnType<typeof prepareStatements>
interface PageStatements<Row> {
  readonly first: Database.Statement<[number], Row>
  readonly after: Database.Statement<[string, number], Row>
}

/**
 * The filters of `listTransactions`, each a condition on one named parameter. A time range
 * includes `fromMs` and excludes `toMs`, so consecutive ranges never count a row twice.
 */
const TRANSACTION_FILTERS = {
  terminalId: 'terminal_id = @terminalId',
  merchantId: 'merchant_id = @merchantId',
  fromMs: 'created_at_ms >= @fromMs',
  toMs: 'created_at_ms < @toMs',
  outcome: 'outcome = @outcome',
  reason: 'reason = @reason',
  kind: 'kind = @kind',
  cardLast4: 'card_last4 = @cardLast4',
  amountMinor: 'amount_minor = @amountMinor',
  stan: 'stan = @stan',
  rrn: 'rrn = @rrn',
} as const satisfies Record<Exclude<keyof TransactionFilter, keyof PageRequest>, string>
type FilterName = keyof typeof TRANSACTION_FILTERS
const FILTER_NAMES = Object.keys(TRANSACTION_FILTERS) as FilterName[]
/** One statement per combination of filters and cursor: a bound fixed by construction. */
const TRANSACTION_QUERIES_MAX = 2 ** (FILTER_NAMES.length + 1)

type QueryParams = Record<string, string | number>
type TransactionQuery = Database.Statement<[QueryParams], TransactionRow>

const OK: WriteResult = Object.freeze({ ok: true })

function conflict(message: string): WriteResult {
  return { ok: false, code: 'conflict', message }
}

function notFound(message: string): WriteResult {
  return { ok: false, code: 'not_found', message }
}

/** Runs synchronous work as a promise: a throw becomes a rejection, never an escape. */
function settle<T>(work: () => T): Promise<T> {
  return new Promise<T>((resolve) => {
    resolve(work())
  })
}

/** `what` and `id` name the row in the message, built only when the check fails (hot path). */
function expectOneRow(result: Database.RunResult, what: string, id: string): void {
  if (result.changes !== 1) {
    const message = `${what} ${id}: expected to change one row, changed ${result.changes}`
    throw new AssertionFailure(message)
  }
}

/**
 * The SQLite store: one connection, every batch and admin write in one immediate transaction.
 * better-sqlite3 is synchronous, so a batch runs start to finish without yielding; the methods
 * are async only to fit the port. Open it with `openSqliteStore`, which migrates first.
 */
export class SqliteStore implements Store {
  readonly path: string
  /** Migration versions applied when this store opened; empty if the schema was current. */
  readonly migrationsApplied: readonly number[]
  private readonly db: Database.Database
  private readonly statements: Statements
  private readonly transactionQueries = new Map<string, TransactionQuery>()
  private readonly batchTransaction: (work: BatchWork) => readonly BatchResult[]
  private readonly expireTransaction: (
    nowMs: number,
    max: number,
    decide: (due: DueHolds) => Changes,
  ) => number
  private readonly adminTransaction: (audit: AuditEntry, change: () => WriteResult) => WriteResult
  private closed = false
  /** Risk control's rules, settings, review queue and history (risk-tables.ts). */
  readonly risk: RiskTables
  /** Issuer routes, BIN routing, maintenance windows and the issuer outbox (routing-tables.ts). */
  readonly routing: RoutingTables

  /** Rows kept between batches, or null (snapshot-cache.ts). */
  private readonly cache: SnapshotCache | null
  /** `PRAGMA data_version` when the cache was last known current. */
  private cacheVersion = -1

  constructor(
    path: string,
    db: Database.Database,
    migrationsApplied: readonly number[],
    snapshotCache = false,
  ) {
    this.path = path
    this.db = db
    this.cache = snapshotCache ? newSnapshotCache() : null
    this.migrationsApplied = Object.freeze([...migrationsApplied])
    this.statements = prepareStatements(db)
    const batch = db.transaction((work: BatchWork) => this.batchInside(work))
    this.batchTransaction = (work) => batch.immediate(work)
    const expire = db.transaction(
      (nowMs: number, max: number, decide: (due: DueHolds) => Changes) =>
        this.expireInside(nowMs, max, decide),
    )
    this.expireTransaction = (nowMs, max, decide) => expire.immediate(nowMs, max, decide)
    const admin = db.transaction((audit: AuditEntry, change: () => WriteResult): WriteResult => {
      const result = change()
      if (result.ok) this.statements.insertAudit.run(auditRow(audit))
      return result
    })
    this.adminTransaction = (audit, change) => admin.immediate(audit, change)
    this.risk = new RiskTables(
      db,
      (audit, change) => this.adminWrite(audit, change),
      toTransaction,
      (entry) => this.statements.upsertListEntry.run(listEntryRow(entry)),
    )
    this.routing = new RoutingTables(db, (audit, change) => this.adminWrite(audit, change))
  }

  // ---- batches -------------------------------------------------------------------------------

  runBatch(work: BatchWork): Promise<readonly BatchResult[]> {
    // Loading, deciding and writing happen in one immediate transaction: any throw, an
    // assertion in the core included, rolls the whole batch back and rejects.
    return settle(() => {
      let results: readonly BatchResult[]
      try {
        results = this.batchTransaction(work)
      } catch (error) {
        this.clearCache()
        throw error
      }
      // Committed: the next batch reads it, so its attempts count for velocity from here on.
      this.writeThrough()
      work.afterCommit()
      return results
    })
  }

  /** The changes of the transaction in progress, written through to the cache at its commit. */
  private committing: Changes | null = null

  private writeThrough(): void {
    const changes = this.committing
    this.committing = null
    const cache = this.cache
    if (cache === null || changes === null) return
    for (const account of changes.accounts) cache.accounts.set(account.id, account)
    for (const counter of changes.counters) cache.counters.set(counter.key, counter)
    for (const seen of changes.cardFirstSeen) cache.firstSeen.set(seen.cardToken, seen.atMs)
  }

  private clearCache(): void {
    this.committing = null
    if (this.cache === null) return
    const parts: readonly { clear(): void }[] = Object.values(this.cache)
    for (const part of parts) part.clear()
    this.cacheVersion = -1
  }

  /** Inside a transaction: empties the cache if another connection has written since. */
  private checkCacheVersion(): void {
    if (this.cache === null) return
    const version = this.statements.dataVersion.get()
    assert(typeof version === 'number', 'data_version is a number')
    if (version !== this.cacheVersion) {
      this.clearCache()
      this.cacheVersion = version
    }
  }

  private batchInside(work: BatchWork): readonly BatchResult[] {
    const snapshot = this.loadSnapshot(work)
    const decided = work.decide(snapshot)
    this.writeChanges(decided.changes)
    return decided.results
  }

  private loadSnapshot(work: BatchWork): Snapshot {
    const s = this.statements
    this.checkCacheVersion()
    const transactions = new Map<string, TransactionRecord>()
    const addAll = (rows: readonly TransactionRow[]): TransactionRecord[] =>
      rows.map((row) => {
        const record = toTransaction(row)
        transactions.set(record.id, record)
        return record
      })
    const originals = new Map<string, TransactionRecord>()
    for (const record of addAll(s.transactionsByIds.all(jsonArray(new Set(work.originalIds))))) {
      originals.set(record.id, record)
    }
    // Originals a terminal names by its own trace (terminal, STAN, transmission time).
    for (const record of addAll(
      s.transactionsByDedupKeys.all(jsonArray(new Set(work.originalDedupKeys))),
    )) {
      originals.set(record.id, record)
    }
    const followUps = new Map<string, string[]>()
    for (const record of addAll(s.followUpsOfMany.all(jsonArray(originals.keys())))) {
      assert(record.originalId !== null, 'a follow-up names its original')
      const list = followUps.get(record.originalId) ?? []
      list.push(record.id)
      followUps.set(record.originalId, list)
    }
    // The originals of the originals: undoing a refund gives the refunded sale its room back.
    const parents = new Set<string>()
    for (const original of originals.values()) {
      if (original.originalId !== null && !transactions.has(original.originalId)) {
        parents.add(original.originalId)
      }
    }
    addAll(s.transactionsByIds.all(jsonArray(parents)))

    const routing = this.routing.table()
    const keys = work.keys(transactions, routing)
    addAll(s.transactionsByDedupKeys.all(jsonArray(keys.dedupKeys)))
    addAll(s.transactionsByIdempotencyKeys.all(jsonArray(keys.idempotencyKeys)))
    const cache = this.cache
    const cards = cached(cache?.cards, keys.cardTokens, (tokens) =>
      s.cardsByTokens.all(jsonArray(tokens)).map((row) => [row.token, toCard(row)]),
    )
    const accountIds = new Set(keys.accountIds)
    for (const card of cards.values()) accountIds.add(card.accountId)
    // Every key a loaded transaction carries is a fact of the database, whichever way it came.
    const dedupKeys = new Map<string, string>()
    const idempotencyKeys = new Map<string, string>()
    for (const record of transactions.values()) {
      if (record.dedupKey !== null) dedupKeys.set(record.dedupKey, record.id)
      if (record.idempotencyKey !== null) idempotencyKeys.set(record.idempotencyKey, record.id)
    }
    return {
      merchants: cached(cache?.merchants, keys.merchantIds, (ids) =>
        s.merchantsByIds.all(jsonArray(ids)).map((row) => [row.id, toMerchant(row)]),
      ),
      terminals: cached(cache?.terminals, keys.terminalIds, (ids) =>
        s.terminalsByIds.all(jsonArray(ids)).map((row) => [row.id, toTerminal(row)]),
      ),
      cards,
      accounts: cached(cache?.accounts, accountIds, (ids) =>
        s.accountsByIds.all(jsonArray(ids)).map((row) => [row.id, toAccount(row)]),
      ),
      transactions,
      dedupKeys,
      idempotencyKeys,
      followUps,
      transfers: byId(s.transfersByIds.all(jsonArray(keys.transferIds)).map(toTransfer)),
      counters: cached(cache?.counters, keys.counterKeys, (counterKeys) =>
        s.countersByKeys.all(jsonArray(counterKeys)).map((row) => [row.key, toCounter(row)]),
      ),
      limits: s.allLimits.all().map(toLimitRule),
      listEntries: s.listEntriesByValues.all(jsonArray(keys.listValues)).map(toListEntry),
      ruleSet: this.risk.ruleSet(),
      routing,
      issuerMessages: this.routing.messages(keys.issuerMessageIds),
      cardFirstSeen: cached(cache?.firstSeen, keys.cardTokens, (tokens) => [
        ...this.risk.cardFirstSeen(new Set(tokens)),
      ]),
    }
  }

  /** Writes a batch's changes exactly as given; a row that is not where it should be is a bug. */
  private writeChanges(changes: Changes): void {
    const s = this.statements
    this.committing = changes
    for (const account of changes.accounts) {
      expectOneRow(s.updateAccount.run(accountRow(account)), 'account', account.id)
    }
    for (const transfer of changes.insertedTransfers) s.insertTransfer.run(transferRow(transfer))
    for (const transfer of changes.updatedTransfers) {
      expectOneRow(s.updateTransfer.run(transferRow(transfer)), 'transfer', transfer.id)
    }
    for (const record of changes.insertedTransactions) {
      s.insertTransaction.run(transactionRow(record))
    }
    for (const record of changes.updatedTransactions) {
      expectOneRow(s.updateTransaction.run(transactionRow(record)), 'transaction', record.id)
    }
    for (const counter of changes.counters) s.upsertCounter.run(counterRow(counter))
    this.risk.write(changes)
    this.routing.write(changes)
  }

  expireHolds(nowMs: number, max: number, decide: (due: DueHolds) => Changes): Promise<number> {
    return settle(() => {
      assert(Number.isSafeInteger(nowMs), `expiry instant ${nowMs} is an integer`)
      assert(Number.isSafeInteger(max) && max >= 0, `expiry batch size ${max} is a count`)
      let expired: number
      try {
        expired = this.expireTransaction(nowMs, max, decide)
      } catch (error) {
        this.clearCache()
        throw error
      }
      this.writeThrough()
      return expired
    })
  }

  private expireInside(nowMs: number, max: number, decide: (due: DueHolds) => Changes): number {
    const s = this.statements
    const transactions = s.dueHolds.all(nowMs, max).map(toTransaction)
    if (transactions.length === 0) return 0
    const holdIds = transactions.flatMap((t) =>
      t.holdTransferId === null ? [] : [t.holdTransferId],
    )
    const transfers = byId(s.transfersByIds.all(jsonArray(holdIds)).map(toTransfer))
    assert(transfers.size === transactions.length, 'every due hold has its transfer')
    const accountIds = new Set<string>()
    for (const transfer of transfers.values()) {
      accountIds.add(transfer.debitAccountId)
      accountIds.add(transfer.creditAccountId)
    }
    const accounts = byId(s.accountsByIds.all(jsonArray(accountIds)).map(toAccount))
    this.writeChanges(decide({ transactions, transfers, accounts }))
    return transactions.length
  }

  // ---- transactions --------------------------------------------------------------------------

  getTransaction(id: string): Promise<TransactionRecord | null> {
    return settle(() => {
      const row = this.statements.transactionById.get(id)
      return row === undefined ? null : toTransaction(row)
    })
  }

  listTransactions(filter: TransactionFilter): Promise<TransactionPage> {
    return settle(() => {
      const limit = pageLimit(filter.limit)
      const params: QueryParams = { limit: limit + 1 }
      const used: FilterName[] = []
      for (const name of FILTER_NAMES) {
        const value = filter[name]
        if (value === undefined) continue
        used.push(name)
        params[name] = value
      }
      const cursor = filter.cursor === null ? null : decodeTransactionCursor(filter.cursor)
      if (cursor !== null) {
        params.cursorMs = cursor.createdAtMs
        params.cursorId = cursor.id
      }
      const rows = this.transactionQuery(used, cursor !== null).all(params)
      const items = rows.slice(0, limit).map(toTransaction)
      const last = items[items.length - 1]
      const nextCursor =
        rows.length > limit && last !== undefined ? encodeTransactionCursor(last) : null
      return { items, nextCursor }
    })
  }

  /** The statement for one combination of filters, prepared on first use and kept. */
  private transactionQuery(used: readonly FilterName[], after: boolean): TransactionQuery {
    const key = `${used.join(',')}|${after ? 'after' : 'first'}`
    const cached = this.transactionQueries.get(key)
    if (cached !== undefined) return cached
    const conditions: string[] = used.map((name) => TRANSACTION_FILTERS[name])
    if (after) conditions.push('(created_at_ms, id) < (@cursorMs, @cursorId)')
    const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`
    const query = this.db.prepare<[QueryParams], TransactionRow>(
      `SELECT * FROM transactions ${where} ORDER BY created_at_ms DESC, id DESC LIMIT @limit`,
    )
    assert(this.transactionQueries.size < TRANSACTION_QUERIES_MAX, 'transaction queries bounded')
    this.transactionQueries.set(key, query)
    return query
  }

  listFollowUps(originalId: string): Promise<readonly TransactionRecord[]> {
    return settle(() =>
      this.statements.followUpsOf.all(originalId, FOLLOW_UPS_LISTED_MAX).map(toTransaction),
    )
  }

  // ---- merchants and terminals ---------------------------------------------------------------

  createMerchant(merchant: Merchant, audit: AuditEntry): Promise<WriteResult> {
    return this.adminWrite(audit, () =>
      this.statements.insertMerchant.run(merchantRow(merchant)).changes === 1
        ? OK
        : conflict(`merchant ${merchant.id} already exists`),
    )
  }

  updateMerchant(merchant: Merchant, audit: AuditEntry): Promise<WriteResult> {
    return this.adminWrite(audit, () =>
      this.statements.updateMerchant.run(merchantRow(merchant)).changes === 1
        ? OK
        : notFound(`merchant ${merchant.id} not found`),
    )
  }

  getMerchant(id: string): Promise<Merchant | null> {
    return settle(() => {
      const row = this.statements.merchantById.get(id)
      return row === undefined ? null : toMerchant(row)
    })
  }

  listMerchants(page: PageRequest): Promise<Page<Merchant>> {
    return settle(() =>
      keyPage('merchants', this.statements.merchantPages, page, toMerchant, (m) => m.id),
    )
  }

  createTerminal(terminal: Terminal, audit: AuditEntry): Promise<WriteResult> {
    return this.adminWrite(audit, () => {
      const s = this.statements
      if (s.terminalById.get(terminal.id) !== undefined) {
        return conflict(`terminal ${terminal.id} already exists`)
      }
      if (s.merchantById.get(terminal.merchantId) === undefined) {
        return notFound(`merchant ${terminal.merchantId} of terminal ${terminal.id} not found`)
      }
      expectOneRow(s.insertTerminal.run(terminalRow(terminal)), 'terminal', terminal.id)
      return OK
    })
  }

  updateTerminal(terminal: Terminal, audit: AuditEntry): Promise<WriteResult> {
    return this.adminWrite(audit, () => {
      const s = this.statements
      if (s.terminalById.get(terminal.id) === undefined) {
        return notFound(`terminal ${terminal.id} not found`)
      }
      if (s.merchantById.get(terminal.merchantId) === undefined) {
        return notFound(`merchant ${terminal.merchantId} of terminal ${terminal.id} not found`)
      }
      expectOneRow(s.updateTerminal.run(terminalRow(terminal)), 'terminal', terminal.id)
      return OK
    })
  }

  getTerminal(id: string): Promise<Terminal | null> {
    return settle(() => {
      const row = this.statements.terminalById.get(id)
      return row === undefined ? null : toTerminal(row)
    })
  }

  listTerminals(page: PageRequest): Promise<Page<Terminal>> {
    return settle(() =>
      keyPage('terminals', this.statements.terminalPages, page, toTerminal, (t) => t.id),
    )
  }

  // ---- cards and accounts --------------------------------------------------------------------

  createCard(input: NewCard, audit: AuditEntry): Promise<WriteResult> {
    return this.adminWrite(audit, () => this.createCardInside(input, audit))
  }

  /**
   * Inserts the account empty, then posts the opening balance from the funding account, so the
   * ledger balances from the first entry. The opening transfer names the audit entry as its
   * transaction: that entry is the record of why the money appeared.
   */
  private createCardInside(input: NewCard, audit: AuditEntry): WriteResult {
    const { card, account, openingBalanceMinor } = input
    assert(card.accountId === account.id, `card ${card.token} names its new account`)
    assert(account.kind === 'cardholder', `the account of card ${card.token} is a cardholder's`)
    const totals = [
      account.debitsPendingMinor,
      account.debitsPostedMinor,
      account.creditsPendingMinor,
      account.creditsPostedMinor,
    ]
    assert(
      totals.every((total) => total === 0),
      `new account ${account.id} starts empty`,
    )
    assert(
      Number.isSafeInteger(openingBalanceMinor) && openingBalanceMinor >= 0,
      `opening balance ${openingBalanceMinor} is an amount`,
    )
    const s = this.statements
    if (s.cardByToken.get(card.token) !== undefined) {
      return conflict(`card ${card.masked} already exists`)
    }
    if (s.accountById.get(account.id) !== undefined) {
      return conflict(`account ${account.id} already exists`)
    }
    const fundingRow = s.accountById.get(fundingAccountId(account.currency))
    if (fundingRow === undefined) {
      return notFound(`currency ${account.currency} is not one Tollgate keeps accounts in`)
    }
    s.insertAccount.run(accountRow(account))
    s.insertCard.run(cardRow(card))
    if (openingBalanceMinor === 0) return OK
    const funding = toAccount(fundingRow)
    const moved = post({
      id: input.openingTransferId,
      transactionId: audit.id,
      debit: funding,
      credit: account,
      amountMinor: toAmountMinor(openingBalanceMinor),
      nowMs: input.nowMs,
    })
    assert(!('code' in moved), 'a funding account is unbounded and never refuses')
    assertConservation(byId([funding, account]), byId(moved.accounts))
    for (const changed of moved.accounts) {
      expectOneRow(s.updateAccount.run(accountRow(changed)), 'account', changed.id)
    }
    s.insertTransfer.run(transferRow(moved.transfer))
    return OK
  }

  updateCard(card: Card, audit: AuditEntry): Promise<WriteResult> {
    return this.adminWrite(audit, () => {
      const s = this.statements
      const existing = s.cardByToken.get(card.token)
      if (existing === undefined) return notFound(`card ${card.masked} not found`)
      if (existing.account_id !== card.accountId) {
        return conflict(`card ${card.masked} keeps its account ${existing.account_id}`)
      }
      expectOneRow(s.updateCard.run(cardRow(card)), 'card', card.masked)
      return OK
    })
  }

  getCard(token: string): Promise<Card | null> {
    return settle(() => {
      const row = this.statements.cardByToken.get(token)
      return row === undefined ? null : toCard(row)
    })
  }

  listCards(page: PageRequest): Promise<Page<Card>> {
    return settle(() => keyPage('cards', this.statements.cardPages, page, toCard, (c) => c.token))
  }

  getAccount(id: string): Promise<Account | null> {
    return settle(() => {
      const row = this.statements.accountById.get(id)
      return row === undefined ? null : toAccount(row)
    })
  }

  // ---- limits, lists, audit ------------------------------------------------------------------

  putLimit(rule: LimitRule, audit: AuditEntry): Promise<WriteResult> {
    return this.adminWrite(audit, () => {
      this.statements.upsertLimit.run(limitRuleRow(rule))
      return OK
    })
  }

  deleteLimit(id: string, audit: AuditEntry): Promise<WriteResult> {
    return this.adminWrite(audit, () =>
      this.statements.deleteLimit.run(id).changes === 1 ? OK : notFound(`limit ${id} not found`),
    )
  }

  listLimits(): Promise<readonly LimitRule[]> {
    return settle(() => this.statements.allLimits.all().map(toLimitRule))
  }

  putListEntry(entry: ListEntry, audit: AuditEntry): Promise<WriteResult> {
    return this.adminWrite(audit, () => {
      this.statements.upsertListEntry.run(listEntryRow(entry))
      return OK
    })
  }

  deleteListEntry(id: string, audit: AuditEntry): Promise<WriteResult> {
    return this.adminWrite(audit, () =>
      this.statements.deleteListEntry.run(id).changes === 1
        ? OK
        : notFound(`list entry ${id} not found`),
    )
  }

  listListEntries(page: PageRequest): Promise<Page<ListEntry>> {
    return settle(() =>
      keyPage('list_entries', this.statements.listEntryPages, page, toListEntry, (e) => e.id),
    )
  }

  listAudit(page: PageRequest): Promise<Page<AuditEntry>> {
    return settle(() =>
      keyPage('audit_log', this.statements.auditPages, page, toAudit, (a) => a.id),
    )
  }

  /** An admin change and its audit entry commit together; a refused change writes neither. */
  private adminWrite(audit: AuditEntry, change: () => WriteResult): Promise<WriteResult> {
    // A batch connection is not meant for admin writes; if one comes, the cache cannot vouch
    // for what it changed (data_version only sees other connections).
    this.clearCache()
    return settle(() => this.adminTransaction(audit, change))
  }

  // ---- ledger check, settings, lifecycle -----------------------------------------------------

  checkLedger(): Promise<LedgerCheck> {
    return settle(() => {
      const s = this.statements
      const read = this.db.transaction(() => ({
        sums: s.ledgerSums.all(),
        outOfBound: s.accountsOutOfBound.all(LEDGER_CHECK_ACCOUNTS_MAX),
      }))
      // One read transaction, so the sums and the bound check see the same state.
      const { sums, outOfBound } = read.deferred()
      let accounts = 0
      const currencies = sums.map((row) => {
        const total = (value: number, column: string): number => {
          assert(Number.isSafeInteger(value) && value >= 0, `${row.currency} ${column}: ${value}`)
          return value
        }
        accounts += total(row.accounts, 'accounts')
        return {
          currency: row.currency,
          debitsPendingMinor: total(row.debits_pending_minor, 'debits pending'),
          creditsPendingMinor: total(row.credits_pending_minor, 'credits pending'),
          debitsPostedMinor: total(row.debits_posted_minor, 'debits posted'),
          creditsPostedMinor: total(row.credits_posted_minor, 'credits posted'),
        }
      })
      const balanced = currencies.every(
        (c) =>
          c.debitsPendingMinor === c.creditsPendingMinor &&
          c.debitsPostedMinor === c.creditsPostedMinor,
      )
      return { balanced, currencies, accountsOutOfBound: outOfBound, accounts }
    })
  }

  getSetting(key: string): Promise<string | null> {
    return settle(() => this.statements.getSetting.get(key) ?? null)
  }

  putSetting(key: string, value: string): Promise<void> {
    return settle(() => {
      this.statements.putSetting.run({ key, value })
    })
  }

  /** The schema version recorded in the database (`SCHEMA_VERSION_LATEST` once open). */
  schemaVersion(): number {
    const version = this.statements.schemaVersion.get()
    assert(version !== undefined && Number.isSafeInteger(version), 'schema version is a number')
    return version
  }

  /**
   * The write-ahead log SQLite writes for this database: beside the file it really opened (a
   * symlinked path resolves to its target), or null for an in-memory database.
   */
  logFile(): string | null {
    const main = (this.db.pragma('database_list') as { name: string; file: string }[]).find(
      (entry) => entry.name === 'main',
    )
    return main === undefined || main.file === '' ? null : `${main.file}-wal`
  }

  /** The pragmas in effect on this connection, as SQLite reports them. */
  pragmas(): SqlitePragmas {
    const read = (name: string): unknown => this.db.pragma(name, { simple: true })
    const journalMode = read('journal_mode')
    const synchronous = read('synchronous')
    const foreignKeys = read('foreign_keys')
    const busyTimeoutMs = read('busy_timeout')
    assert(typeof journalMode === 'string', 'journal_mode is text')
    assert(typeof synchronous === 'number' && typeof foreignKeys === 'number', 'pragma numbers')
    assert(typeof busyTimeoutMs === 'number', 'busy_timeout is a number')
    return { journalMode, synchronous, foreignKeys, busyTimeoutMs }
  }

  /** Closes the connection; closing twice is harmless. */
  close(): Promise<void> {
    return settle(() => {
      if (this.closed) return
      this.closed = true
      this.db.close()
    })
  }
}

/** The parts of a batch's snapshot a batch connection keeps (snapshot-cache.ts). */
interface SnapshotCache {
  readonly cards: KeyedCache<Card>
  readonly accounts: KeyedCache<Account>
  readonly counters: KeyedCache<UsageCounter>
  readonly merchants: KeyedCache<Merchant>
  readonly terminals: KeyedCache<Terminal>
  readonly firstSeen: KeyedCache<number>
}

function newSnapshotCache(): SnapshotCache {
  const max = SNAPSHOT_CACHE_ROWS_MAX
  return {
    cards: new KeyedCache(max),
    accounts: new KeyedCache(max),
    counters: new KeyedCache(max),
    merchants: new KeyedCache(max),
    terminals: new KeyedCache(max),
    firstSeen: new KeyedCache(max),
  }
}

/** Rows by key: through the cache when there is one, else straight from the loader. */
function cached<V>(
  cache: KeyedCache<V> | undefined,
  keys: Iterable<string>,
  load: (keys: readonly string[]) => Iterable<readonly [string, V]>,
): Map<string, V> {
  if (cache === undefined) return new Map(load([...keys]))
  return cache.load(keys, (missing) => new Map(load(missing)))
}

function byId<T extends { readonly id: string }>(items: readonly T[]): Map<string, T> {
  return new Map(items.map((item) => [item.id, item]))
}

function pageLimit(limit: number): number {
  if (!Number.isSafeInteger(limit)) {
    throw new StoreInputError(
      'invalid_page_limit',
      'limit',
      `page limit ${limit} is not an integer`,
    )
  }
  return Math.min(Math.max(limit, 1), PAGE_LIMIT_MAX)
}

/** One page of a list ordered by its key, ascending; the cursor is the last key returned. */
function keyPage<Row, T>(
  list: string,
  statements: PageStatements<Row>,
  page: PageRequest,
  toRecord: (row: Row) => T,
  keyOf: (record: T) => string,
): Page<T> {
  const limit = pageLimit(page.limit)
  const rows =
    page.cursor === null
      ? statements.first.all(limit + 1)
      : statements.after.all(decodeKeyCursor(list, page.cursor), limit + 1)
  const items = rows.slice(0, limit).map(toRecord)
  const last = items[items.length - 1]
  const more = rows.length > limit && last !== undefined
  const nextCursor = more ? encodeCursor({ l: list, k: keyOf(last) }) : null
  return { items, nextCursor }
}

// Cursors are opaque to clients: base64url of a small JSON object, checked when read back. They
// stay short (an HTTP query may cap them): `l` names the list, `k` is the last key, `t` the last
// transaction's creation time.

const TRANSACTIONS_LIST = 'transactions'

function encodeCursor(value: Readonly<Record<string, string | number>>): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url')
}

function invalidCursor(list: string, cause?: unknown): StoreInputError {
  const message = `the page cursor is not one this store issued for the ${list} list`
  return new StoreInputError(
    'invalid_cursor',
    'cursor',
    message,
    cause === undefined ? {} : { cause },
  )
}

function decodeCursor(list: string, cursor: string): Record<string, unknown> {
  if (!/^[A-Za-z0-9_-]{1,1024}$/.test(cursor)) throw invalidCursor(list)
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch (error) {
    throw invalidCursor(list, error)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidCursor(list)
  const fields = value as Record<string, unknown>
  if (fields.l !== list) throw invalidCursor(list)
  return fields
}

function decodeKeyCursor(list: string, cursor: string): string {
  const { k } = decodeCursor(list, cursor)
  if (typeof k !== 'string') throw invalidCursor(list)
  return k
}

function encodeTransactionCursor(record: TransactionRecord): string {
  return encodeCursor({ l: TRANSACTIONS_LIST, t: record.createdAtMs, k: record.id })
}

function decodeTransactionCursor(cursor: string): { createdAtMs: number; id: string } {
  const { t, k } = decodeCursor(TRANSACTIONS_LIST, cursor)
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || typeof k !== 'string') {
    throw invalidCursor(TRANSACTIONS_LIST)
  }
  return { createdAtMs: t, id: k }
}
