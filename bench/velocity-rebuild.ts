/**
 * What velocity costs at start: the index is rebuilt from the stored transactions of the last
 * 24 hours (docs/risk.md, ADR 0006). This writes N synthetic purchases spread over the last day
 * straight into a real SQLite store (one transaction, through the adapter's own row mapping),
 * then times `loadVelocity` — the scan of the time index plus building the index — and reports
 * events/s, the number of keys and the heap the index holds.
 *
 * Usage: node dist/bench/velocity-rebuild.js [--transactions 1000000] [--cards 200000] [--json]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { transactionRow, TRANSACTION_COLUMNS } from '../src/adapters/store/sqlite/rows.js'
import { openSqliteStore } from '../src/adapters/store/sqlite/sqlite-store.js'
import { loadVelocity } from '../src/app/executors.js'
import type { TransactionRecord } from '../src/core/model.js'
import { exitOnFailure, integerOption, readOptions } from './support/args.js'
import { round } from './support/stats.js'

const USAGE = `node dist/bench/velocity-rebuild.js [options]
  --transactions <n>  purchases in the last 24 hours (default 1000000, at most 20000000)
  --cards <n>         distinct cards (default 200000)
  --json              print the result as JSON
`
const DAY_MS = 86_400_000

function record(i: number, nowMs: number, cards: number): TransactionRecord {
  const at = nowMs - DAY_MS + Math.floor((i * DAY_MS) / 1_000_000_000) * 1_000 + (i % 1_000)
  const id = `tx_${String(i).padStart(26, '0')}`
  return {
    id,
    kind: 'purchase',
    channel: 'iso8583',
    outcome: i % 10 === 0 ? 'declined' : 'approved',
    lifecycle: i % 10 === 0 ? 'none' : 'posted',
    terminalId: `2${String(i % 5_000).padStart(7, '0')}`,
    merchantId: `89831005411${String(i % 2_000).padStart(4, '0')}`,
    stan: String(i % 1_000_000).padStart(6, '0'),
    transmissionTime: null,
    rrn: String(i).padStart(12, '0'),
    dedupKey: `k|${i}`,
    idempotencyKey: null,
    fingerprint: 'f',
    cardToken: `tok_${i % cards}`,
    cardMasked: '622202******0001',
    cardLast4: '0001',
    cardType: 'debit',
    amountMinor: 1_000 + (i % 50_000),
    currency: 'CNY',
    originalId: null,
    reason: i % 10 === 0 ? 'insufficient_funds' : null,
    responseCode: i % 10 === 0 ? '51' : '00',
    authorizationCode: i % 10 === 0 ? null : 'A00001',
    checks: [],
    evidence: {},
    balanceMinor: null,
    holdTransferId: null,
    completedAmountMinor: 0,
    refundedAmountMinor: 0,
    localDate: '2026-11-26',
    entryMode: null,
    reportedRegion: null,
    createdAtMs: at,
    updatedAtMs: at,
  }
}

async function main(): Promise<void> {
  const options = readOptions(
    process.argv.slice(2),
    { transactions: { type: 'string' }, cards: { type: 'string' }, json: { type: 'boolean' } },
    USAGE,
  )
  const transactions = integerOption(options, 'transactions', 1_000_000, 20_000_000)
  const cards = integerOption(options, 'cards', 200_000, 10_000_000)
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-velocity-bench-'))
  try {
    const path = join(dir, 'tollgate.db')
    const nowMs = Date.now()
    openSqliteStore({ path })
      .close()
      .catch(() => undefined)
    const db = new Database(path)
    const columns = TRANSACTION_COLUMNS.join(', ')
    const insert = db.prepare(
      `INSERT INTO transactions (${columns}) VALUES (${TRANSACTION_COLUMNS.map((c) => `@${c}`).join(', ')})`,
    )
    const fill = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) insert.run(transactionRow(record(i, nowMs, cards)))
    })
    const writeStart = process.hrtime.bigint()
    for (let from = 0; from < transactions; from += 100_000)
      fill(from, Math.min(transactions, from + 100_000))
    const writeSeconds = Number(process.hrtime.bigint() - writeStart) / 1e9
    db.close()

    const store = openSqliteStore({ path })
    global.gc?.()
    const heapBefore = process.memoryUsage().heapUsed
    const start = process.hrtime.bigint()
    const index = await loadVelocity(store, nowMs)
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    global.gc?.()
    const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 1_048_576
    await store.close()
    const result = {
      transactions,
      cards,
      keys: index.size,
      rebuildSeconds: round(seconds, 2),
      eventsPerSecond: Math.round(transactions / seconds),
      heapMb: round(heapMb, 0),
      setupWriteSeconds: round(writeSeconds, 1),
    }
    if (options.json === true) process.stdout.write(JSON.stringify(result) + '\n')
    else
      process.stdout.write(
        `velocity rebuild: ${transactions} transactions (${cards} cards) in ${result.rebuildSeconds} s` +
          ` = ${result.eventsPerSecond} events/s; ${index.size} keys, ~${result.heapMb} MB heap` +
          `${global.gc === undefined ? ' (run node --expose-gc for a heap figure)' : ''}\n`,
      )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch(exitOnFailure)
