import { mkdir, mkdtemp, realpath, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  migrate,
  MIGRATIONS,
  SCHEMA_VERSION_LATEST,
  SchemaError,
} from '../src/adapters/store/sqlite/migrations.js'
import { transactionRow } from '../src/adapters/store/sqlite/rows.js'
import {
  BUSY_TIMEOUT_MS,
  openSqliteStore,
  type SqliteStore,
} from '../src/adapters/store/sqlite/sqlite-store.js'
import type { TransactionRecord } from '../src/core/model.js'
import { CONTRACT_NOW_MS, describeStoreContract } from './store-contract.js'

async function freshDirectory(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'tollgate-sqlite-'))
}

describeStoreContract('SQLite', async () => {
  const dir = await freshDirectory()
  const path = join(dir, 'tollgate.db')
  return {
    store: openSqliteStore({ path }),
    reopen: () => Promise.resolve(openSqliteStore({ path })),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  }
})

// The batch worker's connection: COMMIT without fsync (its caller syncs the log) and rows kept
// between batches; the same contract otherwise.
describeStoreContract("SQLite, the batch worker's connection", async () => {
  const dir = await freshDirectory()
  const path = join(dir, 'tollgate.db')
  const options = { path, logSync: 'caller', snapshotCache: true } as const
  return {
    store: openSqliteStore(options),
    reopen: () => Promise.resolve(openSqliteStore(options)),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  }
})

interface MigrationRow {
  version: number
  name: string
  applied_at_ms: number
}

interface TableRow {
  name: string
  strict: number
}

interface ColumnRow {
  name: string
  type: string
}

describe('SQLite store specifics', () => {
  let dir: string
  let path: string
  const stores: SqliteStore[] = []
  const raws: Database.Database[] = []

  /** A second connection to the file, for what the port cannot show. */
  const raw = (): Database.Database => {
    const db = new Database(path)
    raws.push(db)
    return db
  }
  const open = (): SqliteStore => {
    const store = openSqliteStore({ path })
    stores.push(store)
    return store
  }
  const audit = (id: string) => ({
    id,
    atMs: CONTRACT_NOW_MS,
    actor: 'tester',
    action: 'merchant.create',
    subject: 'm',
    detail: {},
  })
  const merchant = {
    id: '898440358120001',
    name: 'Shop',
    mcc: '5411',
    status: 'approved',
    region: null,
    riskTier: 'low',
    createdAtMs: CONTRACT_NOW_MS,
    updatedAtMs: CONTRACT_NOW_MS,
  } as const

  beforeEach(async () => {
    dir = await freshDirectory()
    path = join(dir, 'nested', 'tollgate.db')
  })

  afterEach(async () => {
    for (const db of raws.splice(0)) db.close()
    for (const store of stores.splice(0)) await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('runs with WAL, synchronous=FULL, foreign keys and a busy timeout', () => {
    const store = open()
    expect(store.pragmas()).toEqual({
      journalMode: 'wal',
      synchronous: 2,
      foreignKeys: 1,
      busyTimeoutMs: BUSY_TIMEOUT_MS,
    })
    // WAL is a property of the file: another connection sees it too.
    expect(raw().pragma('journal_mode', { simple: true })).toBe('wal')
    expect(store.path).toBe(path)
  })

  it("leaves the log's sync to the caller only when asked (the batch worker's connection)", () => {
    const store = openSqliteStore({ path, logSync: 'caller' })
    stores.push(store)
    expect(store.pragmas().synchronous).toBe(1)
    expect(open().pragmas().synchronous).toBe(2)
  })

  it('names the log SQLite really writes, beside the target of a symlinked path', async () => {
    await mkdir(join(dir, 'real'))
    const target = join(dir, 'real', 'target.db')
    const link = join(dir, 'link.db')
    new Database(target).close()
    await symlink(target, link)
    const store = openSqliteStore({ path: link, logSync: 'caller' })
    stores.push(store)
    expect(store.logFile()).toBe(`${await realpath(target)}-wal`)
    const memory = openSqliteStore({ path: ':memory:' })
    stores.push(memory)
    expect(memory.logFile()).toBeNull()
  })

  it('records migrations and does not run them again on reopen', async () => {
    const first = open()
    expect(first.migrationsApplied).toEqual(MIGRATIONS.map((m) => m.version))
    expect(first.schemaVersion()).toBe(SCHEMA_VERSION_LATEST)
    await first.close()
    const second = open()
    expect(second.migrationsApplied).toEqual([])
    const rows = raw()
      .prepare<[], MigrationRow>('SELECT * FROM schema_migrations ORDER BY version')
      .all()
    expect(rows.map(({ version, name }) => ({ version, name }))).toEqual(
      MIGRATIONS.map(({ version, name }) => ({ version, name })),
    )
    expect(rows.every((row) => Number.isSafeInteger(row.applied_at_ms))).toBe(true)
  })

  it('refuses a database from a newer Tollgate, and leaves it untouched', async () => {
    await open().close()
    raw()
      .prepare('INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?, ?, ?)')
      .run(SCHEMA_VERSION_LATEST + 1, 'from_the_future', CONTRACT_NOW_MS)
    let refused: unknown = null
    try {
      open()
    } catch (error) {
      refused = error
    }
    expect(refused).toBeInstanceOf(SchemaError)
    expect(refused).toMatchObject({
      code: 'schema_too_new',
      databaseVersion: SCHEMA_VERSION_LATEST + 1,
      knownVersion: SCHEMA_VERSION_LATEST,
    })
    expect(String(refused)).toMatch(/newer than this Tollgate knows/)
    const count = raw().prepare('SELECT COUNT(*) FROM schema_migrations').pluck().get()
    expect(count).toBe(SCHEMA_VERSION_LATEST + 1)
  })

  it('refuses a database whose migration history differs', async () => {
    await open().close()
    raw().prepare("UPDATE schema_migrations SET name = 'something_else' WHERE version = 1").run()
    expect(() => open()).toThrow(expect.objectContaining({ code: 'schema_mismatch' }) as Error)
  })

  it('keeps the audit log append-only', async () => {
    const store = open()
    expect(await store.createMerchant(merchant, audit('aud_1'))).toEqual({ ok: true })
    const db = raw()
    expect(() => db.prepare("UPDATE audit_log SET actor = 'mallory'").run()).toThrow(/append-only/)
    expect(() => db.prepare('DELETE FROM audit_log').run()).toThrow(/append-only/)
    expect((await store.listAudit({ limit: 10, cursor: null })).items).toEqual([audit('aud_1')])
  })

  it('has no column that could hold a card number, track data, PIN or CVV', () => {
    open()
    const db = raw()
    const tables = db
      .prepare<[], TableRow>("SELECT name, strict FROM pragma_table_list WHERE schema = 'main'")
      .all()
      .filter((table) => !table.name.startsWith('sqlite_'))
    expect(tables.map((t) => t.name)).toContain('cards')
    const forbiddenParts = new Set(['pan', 'pin', 'cvv', 'cvv2', 'cvc', 'track', 'track1'])
    // The one exception: an advice or reversal owed to a remote issuer must carry the card
    // number, so the outbox keeps it sealed (AES-256-GCM ciphertext, key outside the database)
    // and erases it once delivered. test/e2e/issuer-routing tests that no clear number lands.
    const sealed = new Set(['issuer_messages.sealed_pan'])
    for (const table of tables) {
      expect(table.strict, `${table.name} is STRICT`).toBe(1)
      const columns = db
        .prepare<[string], ColumnRow>('SELECT name, type FROM pragma_table_info(?)')
        .all(table.name)
      for (const column of columns) {
        const name = column.name.toLowerCase()
        if (sealed.has(`${table.name}.${name}`)) continue
        const parts = name.split('_')
        expect(
          parts.some((part) => forbiddenParts.has(part)),
          `${table.name}.${name}`,
        ).toBe(false)
        expect(name, `${table.name}.${name}`).not.toMatch(/card_?number|track|cvv|cvc|pin_?block/)
        if (name.endsWith('_minor')) expect(column.type, `${table.name}.${name}`).toBe('INTEGER')
      }
    }
  })

  it('refuses money that is not an integer, and a stored amount beyond safe integers', async () => {
    const store = open()
    const db = raw()
    expect(() =>
      db.prepare("UPDATE accounts SET credits_posted_minor = 1.5 WHERE id = 'funding:CNY'").run(),
    ).toThrow(/INTEGER/)
    db.prepare("UPDATE accounts SET credits_posted_minor = ? WHERE id = 'funding:CNY'").run(
      2n ** 60n,
    )
    await expect(store.getAccount('funding:CNY')).rejects.toThrow(/credits_posted_minor/)
  })

  it('upgrades a database from before compact_transactions, keeping every row', async () => {
    const sale: TransactionRecord = {
      id: 'tx_01',
      kind: 'purchase',
      channel: 'iso8583',
      outcome: 'approved',
      lifecycle: 'voided',
      terminalId: '10000001',
      merchantId: merchant.id,
      stan: '000001',
      transmissionTime: null,
      rrn: '000000000001',
      dedupKey: '10000001|000001|2026-03-10',
      idempotencyKey: null,
      fingerprint: 'purchase|10000001|898440358120001|tok_1|8800|CNY',
      cardToken: 'tok_1',
      cardMasked: '622609******0001',
      cardLast4: '0001',
      cardType: 'debit',
      amountMinor: 8800,
      currency: 'CNY',
      originalId: null,
      reason: null,
      responseCode: '00',
      authorizationCode: 'A1B2C3',
      checks: [
        { stage: 'validation', name: 'message', status: 'pass' },
        { stage: 'issuer', name: 'funds', status: 'pass' },
      ],
      evidence: { amount: { amountMinor: 8800, currency: 'CNY' } },
      balanceMinor: null,
      holdTransferId: null,
      completedAmountMinor: 0,
      refundedAmountMinor: 0,
      localDate: '2026-03-10',
      entryMode: null,
      reportedRegion: null,
      createdAtMs: CONTRACT_NOW_MS,
      updatedAtMs: CONTRACT_NOW_MS + 1,
    }
    const voided: TransactionRecord = {
      ...sale,
      id: 'tx_02',
      kind: 'void',
      lifecycle: 'none',
      stan: '000002',
      rrn: '000000000002',
      dedupKey: '10000001|000002|2026-03-10|void',
      originalId: sale.id,
      checks: [
        {
          stage: 'duplicate',
          name: 'original_state',
          status: 'fail',
          reason: 'original_not_found',
          evidence: { original: 'tx_01' },
        },
      ],
      createdAtMs: CONTRACT_NOW_MS + 1,
    }
    // A database as the schema before compact_transactions left it: JSON checks and evidence.
    const compact = MIGRATIONS.findIndex((m) => m.name === 'compact_transactions')
    expect(compact).toBeGreaterThan(0)
    await mkdir(dirname(path), { recursive: true })
    const v1 = raw()
    migrate(v1, () => CONTRACT_NOW_MS, MIGRATIONS.slice(0, compact))
    // The columns of that schema: not those added later (schema 6: entry mode, region).
    const later = new Set(['entry_mode', 'reported_region'])
    const columns = Object.keys(transactionRow(sale)).filter((column) => !later.has(column))
    const insert = v1.prepare(
      `INSERT INTO transactions (${columns
        .map((column) => (column === 'checks' || column === 'evidence' ? `${column}_json` : column))
        .join(', ')}) VALUES (${columns.map((column) => `@${column}`).join(', ')})`,
    )
    for (const record of [sale, voided]) {
      const row: Record<string, unknown> = { ...transactionRow(record) }
      for (const column of later) delete row[column]
      insert.run({
        ...row,
        checks: JSON.stringify(record.checks),
        evidence: JSON.stringify(record.evidence),
      })
    }
    v1.prepare('INSERT INTO usage_counters (key, count, amount_minor) VALUES (?, ?, ?)').run(
      'card|tok_1|2026-03-10|CNY',
      1,
      8800,
    )
    v1.close()

    const store = open()
    expect(store.migrationsApplied).toEqual(MIGRATIONS.slice(compact).map((m) => m.version))
    expect(await store.getTransaction(sale.id)).toEqual(sale)
    expect(await store.getTransaction(voided.id)).toEqual(voided)
    expect(await store.listFollowUps(sale.id)).toEqual([voided])
    const page = await store.listTransactions({ terminalId: '10000001', limit: 10, cursor: null })
    expect(page.items.map((t) => t.id)).toEqual([voided.id, sale.id])
    const db = raw()
    expect(db.prepare('SELECT key, count, amount_minor FROM usage_counters').all()).toEqual([
      { key: 'card|tok_1|2026-03-10|CNY', count: 1, amount_minor: 8800 },
    ])
    expect(db.pragma('foreign_key_check')).toEqual([])
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
  })

  it('opens a throwaway in-memory store', async () => {
    const store = openSqliteStore({ path: ':memory:' })
    expect(store.pragmas().journalMode).toBe('memory')
    expect((await store.checkLedger()).balanced).toBe(true)
    await store.close()
    await store.close()
  })
})
