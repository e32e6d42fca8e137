/**
 * The durable write path alone: batches of purchases decided by the real core and committed
 * through the real SQLite store on a connection opened as the batch worker opens its own (WAL,
 * commits without fsync and the log synced by LogSync before the batch counts as done, rows kept
 * between batches; a temporary file on the repository's disk), as the batch worker runs them
 * (inProcessExecutor), with no network, no worker thread and no main thread. Batches run one
 * after another, so the log sync is not overlapped with the next batch as in the server. It prints the mean, median and p99 time of a batch, the time and the CPU
 * per authorization, and the bytes the process wrote to storage per authorization (WAL and
 * checkpoints, from /proc/self/io). Far steadier than the load benchmarks, for comparing store
 * changes; the machine's other load still shows, so interleave runs of the builds compared.
 *
 * Usage: npm run build && node dist/bench/store-batch.js [--batches 600] [--batch-size 128]
 */
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRandomIds } from '../src/adapters/ids/random-ids.js'
import {
  loadReferenceData,
  REFERENCE_DIR_DEFAULT,
} from '../src/adapters/reference/load-reference.js'
import { LogSync } from '../src/adapters/store/sqlite/log-sync.js'
import { openSqliteStore } from '../src/adapters/store/sqlite/sqlite-store.js'
import { contextFactory, inProcessExecutor, loadVelocity } from '../src/app/executors.js'
import { assert } from '../src/core/assert.js'
import { issueCard } from '../src/core/issue-card.js'
import type { Merchant } from '../src/core/model.js'
import type { CoreRequest } from '../src/core/pipeline/requests.js'
import type { AuditEntry } from '../src/ports/store.js'
import { exitOnFailure, integerOption, readOptions } from './support/args.js'
import { planFleet, BENCH_MERCHANT, EXPIRY } from './support/provision.js'
import { percentile, round } from './support/stats.js'

const BATCHES_DEFAULT = 600
const BATCHES_MAX = 100_000
const BATCH_SIZE_DEFAULT = 128
const BATCH_SIZE_MAX = 4_096
const FLEET = { terminals: 50, debitCards: 2_000, creditCards: 2_000, lowBalanceCards: 100 }
/** Batches before measuring: the page cache warms and the first checkpoints happen. */
const WARMUP_BATCHES = 50

const USAGE = `node dist/bench/store-batch.js [options]
  --batches <n>      measured batches (default ${BATCHES_DEFAULT})
  --batch-size <n>   purchases per batch (default ${BATCH_SIZE_DEFAULT})
  --json             print the result as JSON
`

const token = (pan: string): string =>
  `tok_${createHash('sha256').update(pan).digest('hex').slice(0, 32)}`

function audit(id: string, nowMs: number): AuditEntry {
  return { id, atMs: nowMs, actor: 'bench', action: 'create', subject: id, detail: {} }
}

async function provision(dataDir: string, nowMs: number) {
  const store = openSqliteStore({ path: join(dataDir, 'tollgate.db') })
  const fleet = planFleet(FLEET)
  const reference = loadReferenceData(REFERENCE_DIR_DEFAULT)
  let serial = 0
  const next = (prefix: string): string => `${prefix}_${String(++serial).padStart(8, '0')}`
  const merchant: Merchant = {
    ...BENCH_MERCHANT,
    status: 'approved',
    riskTier: 'low',
    createdAtMs: nowMs,
    updatedAtMs: nowMs,
  }
  assert((await store.createMerchant(merchant, audit(next('aud'), nowMs))).ok, 'merchant')
  for (const id of fleet.terminalIds) {
    const terminal = {
      id,
      merchantId: merchant.id,
      status: 'active',
      region: merchant.region,
      createdAtMs: nowMs,
      updatedAtMs: nowMs,
    } as const
    assert((await store.createTerminal(terminal, audit(next('aud'), nowMs))).ok, 'terminal')
  }
  const cards = [
    ...fleet.debitPans.map((pan) => ({ pan, type: 'debit', amountMinor: 100_000_000 }) as const),
    ...fleet.lowBalancePans.map((pan) => ({ pan, type: 'debit', amountMinor: 50 }) as const),
    ...fleet.creditPans.map((pan) => ({ pan, type: 'credit', amountMinor: 5_000_000 }) as const),
  ]
  for (const card of cards) {
    const bin = reference.bins.lookup(card.pan)
    const issued = issueCard({
      ...card,
      expiry: EXPIRY,
      status: 'active',
      currency: 'CNY',
      token: token(card.pan),
      accountId: next('acct'),
      bin,
      nowMs,
    })
    const input = { ...issued, openingTransferId: next('tr'), nowMs }
    assert((await store.createCard(input, audit(next('aud'), nowMs))).ok, 'card')
  }
  return { store, fleet, reference }
}

/** Bytes this process has caused to be written to storage (Linux), or null elsewhere. */
function writtenBytes(): number | null {
  try {
    const match = /^write_bytes: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))
    return match?.[1] === undefined ? null : Number(match[1])
  } catch {
    return null
  }
}

async function main(): Promise<void> {
  const values = readOptions(
    process.argv.slice(2),
    { batches: { type: 'string' }, 'batch-size': { type: 'string' }, json: { type: 'boolean' } },
    USAGE,
  )
  const batches = integerOption(values, 'batches', BATCHES_DEFAULT, BATCHES_MAX)
  const batchSize = integerOption(values, 'batch-size', BATCH_SIZE_DEFAULT, BATCH_SIZE_MAX)
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-bench-store-'))
  try {
    const provisioned = await provision(dataDir, Date.now())
    const { fleet, reference } = provisioned
    await provisioned.store.close()
    // The batch worker's connection (src/app/batch-worker.ts) and the main thread's log sync.
    const path = join(dataDir, 'tollgate.db')
    const store = openSqliteStore({ path, logSync: 'caller', snapshotCache: true })
    const logFile = store.logFile()
    assert(logFile !== null, 'a database file has a log')
    const logSync = new LogSync(logFile)
    const clock = { nowMs: () => Date.now() }
    const settings = { utcOffsetMinutes: 480, holdExpiryMs: 7 * 86_400_000 }
    const velocity = await loadVelocity(store, Date.now())
    const makeContext = contextFactory(settings, reference, createRandomIds(clock), velocity)
    // As the batch worker runs them: decide, commit, then fold the batch into velocity.
    const executor = inProcessExecutor(store, makeContext)
    // 80% debit, 10% credit, 10% low-balance (declined): the approvals and one decline family.
    const stans = new Map<string, number>()
    let draw = 0
    const cardDraws = new Map<readonly string[], number>()
    const request = (): CoreRequest => {
      draw += 1
      const terminalId = fleet.terminalIds[draw % fleet.terminalIds.length] ?? ''
      const stan = (stans.get(terminalId) ?? 0) + 1
      stans.set(terminalId, stan)
      const roll = draw % 10
      const pans = roll < 8 ? fleet.debitPans : roll === 8 ? fleet.creditPans : fleet.lowBalancePans
      // Round-robin within each kind of card, as the load benchmarks do.
      const used = (cardDraws.get(pans) ?? 0) + 1
      cardDraws.set(pans, used)
      const pan = pans[used % pans.length] ?? ''
      return {
        type: 'new',
        kind: 'purchase',
        channel: 'iso8583',
        terminalId,
        merchantId: BENCH_MERCHANT.id,
        stan: String(stan % 1_000_000).padStart(6, '0'),
        transmissionTime: null,
        card: { pan, expiry: EXPIRY },
        cardToken: token(pan),
        amountMinor: 100 + (draw % 19_900),
        currency: 'CNY',
        idempotencyKey: null,
      }
    }
    const wal = join(dataDir, 'tollgate.db-wal')
    const walBytes = (): number => {
      try {
        return statSync(wal).size
      } catch {
        return 0
      }
    }
    const ioStart = writtenBytes()
    const cpuStart = process.cpuUsage()
    const batchUs: number[] = []
    let approved = 0
    const startNs = process.hrtime.bigint()
    for (let b = 0; b < WARMUP_BATCHES + batches; b += 1) {
      const requests = Array.from({ length: batchSize }, request)
      const t0 = process.hrtime.bigint()
      const results = await executor.execute(requests, Date.now())
      await logSync.wait()
      const t1 = process.hrtime.bigint()
      if (b < WARMUP_BATCHES) continue
      batchUs.push(Number(t1 - t0) / 1000)
      approved += results.filter(
        (r) => r.type === 'decided' && r.transaction.outcome === 'approved',
      ).length
    }
    const totalS = Number(process.hrtime.bigint() - startNs) / 1e9
    const ioEnd = writtenBytes()
    const cpu = process.cpuUsage(cpuStart)
    const authorizations = (WARMUP_BATCHES + batches) * batchSize
    const writtenPerAuthorization =
      ioStart === null || ioEnd === null ? null : Math.round((ioEnd - ioStart) / authorizations)
    const sorted = Float64Array.from(batchUs).sort()
    const meanUs = batchUs.reduce((a, b) => a + b, 0) / batchUs.length
    const result = {
      batches,
      batchSize,
      approvedShare: round(approved / (batches * batchSize)),
      batchMs: {
        mean: round(meanUs / 1000),
        p50: round(percentile(sorted, 50) / 1000),
        p99: round(percentile(sorted, 99) / 1000),
      },
      usPerAuthorization: round(meanUs / batchSize),
      cpuUsPerAuthorization: round((cpu.user + cpu.system) / authorizations),
      authorizationsPerS: Math.round((batchSize * 1e6) / meanUs),
      bytesWrittenPerAuthorization: writtenPerAuthorization,
      walBytesAtEnd: walBytes(),
      dbBytes: statSync(join(dataDir, 'tollgate.db')).size,
      totalS: round(totalS),
    }
    logSync.close()
    await store.close()
    if (values.json === true) process.stdout.write(JSON.stringify(result, null, 2) + '\n')
    else process.stdout.write(`${JSON.stringify(result)}\n`)
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
}

main().catch(exitOnFailure)
