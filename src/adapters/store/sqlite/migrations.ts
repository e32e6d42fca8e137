import type Database from 'better-sqlite3'
import { assert } from '../../../core/assert.js'
import { RISK_CONTROL_SQL } from './risk-migration.js'
import { ISSUER_ROUTING_SQL, STAND_IN_REASON_SQL } from './routing-migration.js'

/**
 * Versioned schema migrations for the SQLite store. Each runs once, in order, inside its own
 * transaction, and is recorded in `schema_migrations`. A migration, once released, never
 * changes: fix a schema with a new migration. That is also why the CHECK lists below are
 * written out rather than built from the model's constants: history must not move with the code.
 *
 * Every table is STRICT (a column holds only its declared type) and money is INTEGER minor
 * units. No table has, or may ever have, a column for a clear card number, track data, PIN
 * block or CVV: cards are keyed by token and keep only the masked form.
 */
export interface Migration {
  readonly version: number
  readonly name: string
  readonly sql: string
}

const INITIAL = `
CREATE TABLE merchants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  mcc TEXT NOT NULL,
  status TEXT NOT NULL
    CHECK (status IN ('pending_audit', 'approved', 'restricted', 'suspended')),
  region TEXT,
  risk_tier TEXT NOT NULL CHECK (risk_tier IN ('low', 'medium', 'high')),
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE terminals (
  id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL REFERENCES merchants (id),
  status TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
  region TEXT,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX terminals_merchant ON terminals (merchant_id);

CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('cardholder', 'clearing', 'funding')),
  currency TEXT NOT NULL,
  credit_limit_minor INTEGER NOT NULL CHECK (credit_limit_minor >= 0),
  debits_pending_minor INTEGER NOT NULL CHECK (debits_pending_minor >= 0),
  debits_posted_minor INTEGER NOT NULL CHECK (debits_posted_minor >= 0),
  credits_pending_minor INTEGER NOT NULL CHECK (credits_pending_minor >= 0),
  credits_posted_minor INTEGER NOT NULL CHECK (credits_posted_minor >= 0)
) STRICT;

CREATE TABLE cards (
  token TEXT PRIMARY KEY,
  masked TEXT NOT NULL,
  bin TEXT NOT NULL,
  last4 TEXT NOT NULL,
  expiry TEXT NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('debit', 'credit')),
  status TEXT NOT NULL CHECK (status IN ('active', 'inactive', 'lost', 'stolen')),
  account_id TEXT NOT NULL UNIQUE REFERENCES accounts (id),
  issuer_bank TEXT,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE transfers (
  id TEXT PRIMARY KEY,
  transaction_id TEXT NOT NULL,
  debit_account_id TEXT NOT NULL REFERENCES accounts (id),
  credit_account_id TEXT NOT NULL REFERENCES accounts (id),
  amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
  currency TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'posted', 'voided', 'expired')),
  posted_amount_minor INTEGER NOT NULL CHECK (posted_amount_minor >= 0),
  pending_id TEXT,
  created_at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER,
  resolved_at_ms INTEGER
) STRICT;
CREATE INDEX transfers_transaction ON transfers (transaction_id);
CREATE INDEX transfers_pending_expiry ON transfers (expires_at_ms)
  WHERE state = 'pending' AND expires_at_ms IS NOT NULL;

CREATE TABLE transactions (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('purchase', 'preauthorization', 'completion', 'void',
    'reversal', 'refund', 'balance_inquiry')),
  channel TEXT NOT NULL CHECK (channel IN ('http', 'iso8583')),
  outcome TEXT NOT NULL CHECK (outcome IN ('approved', 'declined')),
  lifecycle TEXT NOT NULL CHECK (lifecycle IN
    ('none', 'held', 'posted', 'completed', 'voided', 'reversed', 'expired')),
  terminal_id TEXT NOT NULL,
  merchant_id TEXT NOT NULL,
  stan TEXT,
  transmission_time TEXT,
  rrn TEXT NOT NULL,
  dedup_key TEXT UNIQUE,
  idempotency_key TEXT,
  fingerprint TEXT NOT NULL,
  card_token TEXT,
  card_masked TEXT,
  card_last4 TEXT,
  card_type TEXT CHECK (card_type IS NULL OR card_type IN ('debit', 'credit')),
  amount_minor INTEGER NOT NULL CHECK (amount_minor >= 0),
  currency TEXT NOT NULL,
  original_id TEXT REFERENCES transactions (id) DEFERRABLE INITIALLY DEFERRED,
  reason TEXT,
  response_code TEXT NOT NULL,
  authorization_code TEXT,
  checks_json TEXT NOT NULL,
  evidence_json TEXT NOT NULL,
  balance_minor INTEGER,
  hold_transfer_id TEXT,
  completed_amount_minor INTEGER NOT NULL CHECK (completed_amount_minor >= 0),
  refunded_amount_minor INTEGER NOT NULL CHECK (refunded_amount_minor >= 0),
  local_date TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX transactions_terminal_time ON transactions (terminal_id, created_at_ms, id);
CREATE INDEX transactions_merchant_time ON transactions (merchant_id, created_at_ms, id);
CREATE INDEX transactions_time ON transactions (created_at_ms, id);
CREATE UNIQUE INDEX transactions_idempotency_key ON transactions (idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX transactions_original ON transactions (original_id) WHERE original_id IS NOT NULL;
CREATE INDEX transactions_rrn ON transactions (rrn);
CREATE INDEX transactions_open_holds ON transactions (hold_transfer_id)
  WHERE kind = 'preauthorization' AND lifecycle = 'held';

CREATE TABLE usage_counters (
  key TEXT PRIMARY KEY,
  count INTEGER NOT NULL CHECK (count >= 0),
  amount_minor INTEGER NOT NULL CHECK (amount_minor >= 0)
) STRICT;

CREATE TABLE limit_rules (
  id TEXT PRIMARY KEY,
  scope TEXT NOT NULL CHECK (scope IN ('card', 'merchant', 'terminal')),
  card_type TEXT CHECK (card_type IS NULL OR card_type IN ('debit', 'credit')),
  mcc TEXT,
  entity_id TEXT,
  currency TEXT NOT NULL,
  per_transaction_max_minor INTEGER CHECK (per_transaction_max_minor >= 0),
  daily_amount_max_minor INTEGER CHECK (daily_amount_max_minor >= 0),
  daily_count_max INTEGER CHECK (daily_count_max >= 0),
  note TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE list_entries (
  id TEXT PRIMARY KEY,
  list TEXT NOT NULL CHECK (list IN ('block')),
  kind TEXT NOT NULL CHECK (kind IN ('card', 'bin', 'merchant', 'terminal')),
  value TEXT NOT NULL,
  display TEXT NOT NULL,
  note TEXT NOT NULL,
  expires_at_ms INTEGER,
  created_by TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX list_entries_value ON list_entries (value);

CREATE TABLE audit_log (
  id TEXT PRIMARY KEY,
  at_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT NOT NULL,
  detail_json TEXT NOT NULL
) STRICT;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused');
END;

CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
`

/**
 * Version 3: fewer and smaller B-trees per authorization (ADR 0005, options 1 and 2).
 *
 * - `checks_json` and `evidence_json` become `checks` and `evidence`, which new rows write packed
 *   (rows.ts: packChecks, packEvidence); older rows keep their JSON, which reads the same.
 * - The index of transfers by transaction goes: no query uses it (a transaction names its hold's
 *   transfer; expiry joins from the transfer to the transaction's primary key).
 * - `usage_counters` is clustered on its key (WITHOUT ROWID): one tree per upsert instead of two
 *   (the table and the index of its key). Its rows are copied.
 */
const COMPACT_TRANSACTIONS = `
ALTER TABLE transactions RENAME COLUMN checks_json TO checks;
ALTER TABLE transactions RENAME COLUMN evidence_json TO evidence;

DROP INDEX transfers_transaction;

CREATE TABLE usage_counters_v2 (
  key TEXT NOT NULL PRIMARY KEY,
  count INTEGER NOT NULL CHECK (count >= 0),
  amount_minor INTEGER NOT NULL CHECK (amount_minor >= 0)
) STRICT, WITHOUT ROWID;
INSERT INTO usage_counters_v2 (key, count, amount_minor)
SELECT key, count, amount_minor FROM usage_counters ORDER BY key;
DROP TABLE usage_counters;
ALTER TABLE usage_counters_v2 RENAME TO usage_counters;
`

/**
 * Migration `entry_mode_and_region`: how the card was read and the region the terminal reported,
 * kept with each transaction so that a backtest replays them as the live risk stage saw them.
 * Rows written before hold null (replayed as unknown).
 */
const ENTRY_MODE_AND_REGION_SQL = `
ALTER TABLE transactions ADD COLUMN entry_mode TEXT
  CHECK (entry_mode IS NULL OR entry_mode IN ('chip', 'contactless', 'magstripe', 'manual', 'unknown'));
ALTER TABLE transactions ADD COLUMN reported_region TEXT
  CHECK (reported_region IS NULL OR length(reported_region) <= 16);
`

/** All migrations, oldest first. Append only. */
export const MIGRATIONS: readonly Migration[] = Object.freeze([
  { version: 1, name: 'initial', sql: INITIAL },
  { version: 2, name: 'risk_control', sql: RISK_CONTROL_SQL },
  { version: 3, name: 'compact_transactions', sql: COMPACT_TRANSACTIONS },
  { version: 4, name: 'issuer_routing', sql: ISSUER_ROUTING_SQL },
  { version: 5, name: 'stand_in_reason', sql: STAND_IN_REASON_SQL },
  { version: 6, name: 'entry_mode_and_region', sql: ENTRY_MODE_AND_REGION_SQL },
])

for (const [index, migration] of MIGRATIONS.entries()) {
  assert(migration.version === index + 1, 'migration versions are 1, 2, 3… without gaps')
  const named = /^[a-z0-9_]+$/.test(migration.name)
  assert(named, `migration ${migration.version} has a snake_case name`)
}

/** The newest schema version this code knows. */
export const SCHEMA_VERSION_LATEST: number = MIGRATIONS.length

export type SchemaErrorCode = 'schema_too_new' | 'schema_mismatch'

/**
 * The database's schema cannot be used by this code: it was written by a newer Tollgate
 * (`schema_too_new`: upgrade Tollgate, never downgrade a database) or its recorded migrations
 * differ from the code's (`schema_mismatch`: not a Tollgate database, or a tampered one).
 */
export class SchemaError extends Error {
  override readonly name = 'SchemaError'
  readonly code: SchemaErrorCode
  /** The highest version recorded in the database. */
  readonly databaseVersion: number
  /** The highest version this code knows. */
  readonly knownVersion: number

  constructor(code: SchemaErrorCode, databaseVersion: number, message: string) {
    super(message)
    this.code = code
    this.databaseVersion = databaseVersion
    this.knownVersion = SCHEMA_VERSION_LATEST
  }
}

interface MigrationRow {
  readonly version: number
  readonly name: string
}

const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at_ms INTEGER NOT NULL
) STRICT
`

export interface MigrationReport {
  /** Versions applied by this call, oldest first; empty when the schema was current. */
  readonly applied: readonly number[]
  readonly version: number
}

/**
 * Brings the database up to `SCHEMA_VERSION_LATEST`. Each migration runs in its own immediate
 * transaction that re-reads the recorded versions first, so two processes opening one file at
 * once apply each migration exactly once. Throws `SchemaError` for a database from the future
 * or with a different history, before changing anything.
 */
export function migrate(
  db: Database.Database,
  nowMs: () => number,
  migrations: readonly Migration[] = MIGRATIONS,
): MigrationReport {
  db.exec(CREATE_MIGRATIONS_TABLE)
  const recorded = db.prepare<[], MigrationRow>(
    'SELECT version, name FROM schema_migrations ORDER BY version',
  )
  const record = db.prepare<[number, string, number]>(
    'INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?, ?, ?)',
  )
  const applied: number[] = []
  const applyNext = db.transaction((): boolean => {
    const rows = recorded.all()
    checkHistory(rows, migrations)
    const next = migrations[rows.length]
    if (next === undefined) return false
    db.exec(next.sql)
    record.run(next.version, next.name, nowMs())
    applied.push(next.version)
    return true
  })
  // Bounded: one pass per known migration, plus the pass that finds nothing left to do.
  for (let pass = 0; pass <= migrations.length; pass += 1) {
    if (!applyNext.immediate()) break
  }
  const version = recorded.all().length
  assert(version === migrations.length, `schema at version ${version} after migrating`)
  return { applied, version }
}

function checkHistory(rows: readonly MigrationRow[], migrations: readonly Migration[]): void {
  const newest = rows.reduce((max, row) => Math.max(max, row.version), 0)
  if (newest > migrations.length) {
    throw new SchemaError(
      'schema_too_new',
      newest,
      `database schema version ${newest} is newer than this Tollgate knows ` +
        `(${migrations.length}); upgrade Tollgate to open it`,
    )
  }
  for (const [index, row] of rows.entries()) {
    const known = migrations[index]
    if (known === undefined || row.version !== known.version || row.name !== known.name) {
      throw new SchemaError(
        'schema_mismatch',
        newest,
        `database migration ${row.version} (${row.name}) does not match this Tollgate's ` +
          `migration ${index + 1} (${known?.name ?? 'none'}); is this a Tollgate database?`,
      )
    }
  }
}
