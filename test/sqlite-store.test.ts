import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  MIGRATIONS,
  SCHEMA_VERSION_LATEST,
  SchemaError,
} from '../src/adapters/store/sqlite/migrations.js'
import {
  BUSY_TIMEOUT_MS,
  openSqliteStore,
  type SqliteStore,
} from '../src/adapters/store/sqlite/sqlite-store.js'
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
    for (const table of tables) {
      expect(table.strict, `${table.name} is STRICT`).toBe(1)
      const columns = db
        .prepare<[string], ColumnRow>('SELECT name, type FROM pragma_table_info(?)')
        .all(table.name)
      for (const column of columns) {
        const name = column.name.toLowerCase()
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

  it('opens a throwaway in-memory store', async () => {
    const store = openSqliteStore({ path: ':memory:' })
    expect(store.pragmas().journalMode).toBe('memory')
    expect((await store.checkLedger()).balanced).toBe(true)
    await store.close()
    await store.close()
  })
})
