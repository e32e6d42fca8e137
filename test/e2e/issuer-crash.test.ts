import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openSqliteStore } from '../../src/adapters/store/sqlite/sqlite-store.js'
import { outboxOpen, readEvidence, type TollgateEvidence } from '../../src/drills/evidence.js'
import { startServe, stopChild, type ServeChild } from '../../src/drills/processes.js'
import {
  addWindow,
  configureRoute,
  DRILL_MERCHANT,
  DRILL_ROUTE,
  DRILL_STIP,
  planFleet,
  provisionSim,
  provisionTollgate,
  type DrillFleet,
} from '../../src/drills/setup.js'
import type { JournalEntry } from '../../src/issuer-sim/journal.js'
import { CLI, startIssuerSim, type IssuerSimProcess } from '../support/issuer-link-client.js'

/**
 * Crash safety on a remote route: Tollgate (a child process) forwards purchases to the issuer
 * simulator, which answers slowly and loses a tenth of its purchase answers; a maintenance
 * window makes Tollgate stand in for a while, so advices are queued. SIGKILL while requests,
 * reversals and advices are in flight; restart on the same data directory. Then: no approval a
 * terminal received is lost; no approval is booked without the issuer's 00 or a stand-in
 * decision; the requests whose fate died with the process are reversed; every reversal and
 * advice is delivered; and Tollgate's route account equals the issuer's net debits.
 */

const ROUTE_TIMEOUT_MS = 1_500
const CONCURRENCY = 32
const REQUESTS_PLANNED = 3_000
/** Kill this long after the load began: the window has ended, advices are being delivered. */
const KILL_AFTER_MS = 3_000
const WINDOW_MS = 1_500
const RECOVERY_WAIT_MS = 60_000
const TOKEN = randomBytes(16).toString('hex')

interface Received {
  readonly stan: string
  readonly terminalId: string
  readonly approved: boolean | null
  readonly transactionId: string | null
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

async function waitFor(what: string, probe: () => Promise<boolean> | boolean, ms: number) {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await probe()) return
    await sleep(200)
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** Purchases from CONCURRENCY workers until the child is killed; every request bounded. */
async function loadUntilKilled(first: ServeChild, fleet: DrillFleet): Promise<Received[]> {
  const received: Received[] = []
  const startedMs = Date.now()
  let next = 0
  let killing: Promise<unknown> | null = null
  const worker = async (): Promise<void> => {
    while (next < REQUESTS_PLANNED && killing === null) {
      const index = next
      next += 1
      if (Date.now() - startedMs >= KILL_AFTER_MS) killing ??= stopChild(first, 'SIGKILL')
      const terminalId = fleet.terminalIds[index % fleet.terminalIds.length]!
      const card = fleet.cards[index % fleet.cards.length]!
      const stan = String(100_000 + index)
      const amount = `${1 + (index % 150)}.${String(index % 100).padStart(2, '0')}`
      try {
        const response = await fetch(`${first.url}/v1/authorizations`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            kind: 'purchase',
            terminalId,
            merchantId: DRILL_MERCHANT.id,
            stan,
            card: { pan: card.pan, expiry: card.expiry },
            amount,
            currency: 'CNY',
          }),
          signal: AbortSignal.timeout(ROUTE_TIMEOUT_MS + 10_000),
        })
        const body = (await response.json()) as { approved: boolean; transactionId: string }
        received.push({
          stan,
          terminalId,
          approved: body.approved,
          transactionId: body.transactionId,
        })
      } catch {
        received.push({ stan, terminalId, approved: null, transactionId: null })
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  await (killing ?? stopChild(first, 'SIGKILL'))
  return received
}

describe('crash on a remote route: SIGKILL with requests, reversals and advices in flight', () => {
  let sim: IssuerSimProcess
  let dataDir: string
  let databasePath: string
  let first: ServeChild | null = null
  let second: ServeChild | null = null
  let received: Received[] = []
  let evidence: TollgateEvidence
  let drained = false

  beforeAll(async () => {
    sim = await startIssuerSim(['--seed', '11'])
    dataDir = await mkdtemp(join(tmpdir(), 'tollgate-issuer-crash-'))
    databasePath = join(dataDir, 'tollgate.db')
    first = await startServe(CLI, dataDir, TOKEN, { TOLLGATE_ISSUER_ECHO_INTERVAL_MS: '2000' })
    const fleet = planFleet(8, 120, 30)
    await provisionTollgate(first.url, TOKEN, fleet)
    await provisionSim(`http://127.0.0.1:${sim.controlPort}`, fleet)
    await configureRoute(databasePath, {
      isoPort: sim.isoPort,
      timeoutMs: ROUTE_TIMEOUT_MS,
      stip: DRILL_STIP,
      prefixes: fleet.prefixes,
    })
    await waitFor(
      'the switch signed on',
      async () => {
        const state = await sim.control<{ connections: { open: number } }>('GET', '/state')
        return state.body.connections.open >= 2
      },
      15_000,
    )
    // Slow answers keep requests in flight; a tenth of purchase answers are lost (money moved).
    const faults = await sim.control('PUT', '/faults', {
      latency: { kind: 'uniform', minMs: 150, maxMs: 600 },
      dropFraction: 0.1,
      dropMode: 'answer',
      mtis: ['0200', '0220', '0221', '0400', '0420', '0421'],
    })
    expect(faults.status).toBe(200)
    const loadStartMs = Date.now() + 1_500
    await addWindow(databasePath, {
      startsAtMs: loadStartMs,
      endsAtMs: loadStartMs + WINDOW_MS,
      mode: 'stand_in',
      note: 'crash test',
    })
    await sleep(loadStartMs - Date.now())
    received = await loadUntilKilled(first, fleet)

    // Restart on the same data directory; the issuer is healthy again.
    await sim.control('PUT', '/faults', {})
    second = await startServe(CLI, dataDir, TOKEN, { TOLLGATE_ISSUER_ECHO_INTERVAL_MS: '2000' })
    const deadline = Date.now() + RECOVERY_WAIT_MS
    while (Date.now() < deadline && !drained) {
      drained = outboxOpen(databasePath, DRILL_ROUTE) === 0
      if (!drained) await sleep(250)
    }
    evidence = readEvidence(databasePath, DRILL_ROUTE, DRILL_MERCHANT.id)
  }, 150_000)

  afterAll(async () => {
    for (const child of [first, second]) if (child !== null) await stopChild(child)
    await sim?.stop()
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
  })

  const byTx = () => {
    const map = new Map<string, Map<string, (typeof evidence.outbox)[number]>>()
    for (const m of evidence.outbox) {
      const row = map.get(m.transactionId) ?? new Map<string, (typeof evidence.outbox)[number]>()
      row.set(m.kind, m)
      map.set(m.transactionId, row)
    }
    return map
  }

  it('was killed with requests unanswered, after approvals of both kinds', () => {
    expect(first?.child.signalCode).toBe('SIGKILL')
    expect(received.filter((r) => r.approved === true).length).toBeGreaterThan(50)
    expect(received.filter((r) => r.approved === null).length).toBeGreaterThan(0)
    expect(evidence.outbox.filter((m) => m.kind === 'advice').length).toBeGreaterThan(0)
  })

  it('lost no approval a terminal received', () => {
    const stored = new Map(evidence.transactions.map((t) => [t.id, t]))
    for (const r of received) {
      if (r.approved !== true) continue
      expect(stored.get(r.transactionId!), `approval ${r.transactionId}`).toMatchObject({
        outcome: 'approved',
        lifecycle: 'posted',
      })
    }
  })

  it("booked no approval without the issuer's 00 or a stand-in decision", async () => {
    const store = openSqliteStore({ path: databasePath })
    try {
      const approved = evidence.transactions.filter((t) => t.outcome === 'approved')
      expect(approved.length).toBeGreaterThan(0)
      for (const t of approved) {
        const record = await store.getTransaction(t.id)
        const e = record?.evidence ?? {}
        expect(
          e.upstreamResponseCode === '00' || e.standIn === true,
          `${t.id}: ${JSON.stringify(e)}`,
        ).toBe(true)
        const messages = byTx().get(t.id)
        if (e.standIn === true) expect(messages?.get('advice')?.status).toBe('delivered')
        else expect(messages?.get('request')?.status).toBe('answered')
        expect(messages?.has('reversal')).toBe(false)
      }
    } finally {
      await store.close()
    }
  })

  it('reversed the requests whose fate died with the process, and delivered everything owed', async () => {
    expect(drained).toBe(true)
    const store = openSqliteStore({ path: databasePath })
    try {
      const requests = await store.routing.listMessages({ kind: 'request', limit: 10_000 })
      // Recorded at restart as timeouts: the explanation says why and that a reversal is queued.
      const recovered: string[] = []
      for (const m of requests) {
        const record = await store.getTransaction(m.transactionId)
        const why = record?.evidence.why
        if (typeof why === 'string' && why.includes('stopped before'))
          recovered.push(m.transactionId)
      }
      expect(recovered.length).toBeGreaterThan(0)
      const messages = byTx()
      for (const id of recovered) {
        const live = await store.routing.listMessages({ limit: 10_000 })
        const mine = live.filter((m) => m.transactionId === id).map((m) => `${m.kind}:${m.status}`)
        expect(messages.get(id)?.get('reversal')?.status, `${id} ${mine.join(' ')}`).toBe(
          'delivered',
        )
        const record = await store.getTransaction(id)
        expect(record).toMatchObject({ outcome: 'declined', reason: 'issuer_timeout' })
        expect(record?.evidence).toMatchObject({ reversal: 'queued', moneyMoved: false })
      }
    } finally {
      await store.close()
    }
    for (const m of evidence.outbox) {
      if (m.kind === 'request') expect(['answered', 'not_sent']).toContain(m.status)
      else expect(m.status).toBe('delivered')
    }
    // Every timed-out or recovered request has exactly one reversal, delivered.
    for (const t of evidence.transactions.filter((x) => x.reason === 'issuer_timeout'))
      expect(byTx().get(t.id)?.get('reversal')?.status, t.id).toBe('delivered')
  })

  it("agrees with the issuer's ledger: each debit undone at most once, the totals equal", async () => {
    const ledger = await sim.control<{ byCurrency: Record<string, { postedMinor: number }> }>(
      'GET',
      '/ledger',
    )
    const approvedMinor = evidence.transactions
      .filter((t) => t.outcome === 'approved')
      .reduce((sum, t) => sum + t.amountMinor, 0)
    expect(evidence.issuerNetMinor).toBe(approvedMinor)
    expect(ledger.body.byCurrency['156']?.postedMinor).toBe(approvedMinor)
    const journal = await sim.control<{ total: number; entries: JournalEntry[] }>(
      'GET',
      '/journal?limit=10000',
    )
    expect(journal.body.total).toBeLessThanOrEqual(10_000)
    const reversedApplied = new Map<string, number>()
    for (const entry of journal.body.entries) {
      if (!['0400', '0420', '0421'].includes(entry.mti ?? '')) continue
      if (!entry.note.includes('reversal applied')) continue
      const key = `${entry.terminalId}|${entry.stan}|${entry.transmissionTime}`
      reversedApplied.set(key, (reversedApplied.get(key) ?? 0) + 1)
    }
    for (const [key, count] of reversedApplied) expect(count, key).toBe(1)
  })

  it('keeps the ledger balanced and serves again', async () => {
    const check = await fetch(`${second!.url}/v1/ledger/check`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    })
    expect(await check.json()).toMatchObject({ balanced: true, accountsOutOfBound: [] })
  })
})
