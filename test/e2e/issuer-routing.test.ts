import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openSqliteStore, type SqliteStore } from '../../src/adapters/store/sqlite/sqlite-store.js'
import { loadConfig } from '../../src/app/config.js'
import { startTollgate, type RunningTollgate } from '../../src/app/main.js'
import { DEMO_CARDS } from '../../src/app/demo-data.js'
import { issuerAccountId, STIP_DISABLED, type IssuerRoute } from '../../src/core/routes/model.js'
import { startIssuerSim, type IssuerSimProcess } from '../support/issuer-link-client.js'
import { api, authorizeBody, freshPan, type DecisionBody } from '../support/server.js'

const TOKEN = 'test-admin-token-0123456789'
const ROUTE = 'sim_bank'

/**
 * A remote route end to end: Tollgate forwards over ISO 8583 to the issuer simulator (a real
 * separate process), records the issuer's answer, reverses what timed out until the issuer
 * acknowledges, and stands in while the route is down. Every step over real TCP and HTTP.
 */
let sim: IssuerSimProcess
let dataDir: string
let tollgate: RunningTollgate
let store: SqliteStore

const audit = (action: string) => ({
  id: `au_${action}_${Math.random().toString(36).slice(2)}`,
  atMs: Date.now(),
  actor: 'test',
  action,
  subject: ROUTE,
  detail: {},
})

function route(stip = STIP_DISABLED, timeoutMs = 800): IssuerRoute {
  return {
    id: ROUTE,
    name: 'Simulated bank',
    bankName: '模拟银行 Simulated Bank',
    kind: 'remote',
    host: '127.0.0.1',
    port: sim.isoPort,
    timeoutMs,
    stip,
    createdAtMs: Date.now(),
    updatedAtMs: Date.now(),
  }
}

async function start(): Promise<void> {
  tollgate = await startTollgate(
    loadConfig({
      TOLLGATE_DATA_DIR: dataDir,
      TOLLGATE_HTTP_PORT: '0',
      TOLLGATE_ISO_PORT: '0',
      TOLLGATE_ADMIN_TOKEN: TOKEN,
      TOLLGATE_LOG_LEVEL: 'silent',
    }),
  )
}

async function waitFor<T>(what: string, probe: () => Promise<T | null>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await probe()
    if (value !== null) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

async function signedOn(): Promise<void> {
  await waitFor('a signed-on link', () =>
    Promise.resolve(
      tollgate.issuerHealth.route(ROUTE, Date.now())?.status.state === 'up' ? true : null,
    ),
  )
}

const buy = (amount: string, card: keyof typeof DEMO_CARDS = 'debit') =>
  api(tollgate.httpUrl, TOKEN).post<DecisionBody>(
    '/v1/authorizations',
    // The supermarket has no per-payment limit: the issuer decides large amounts.
    authorizeBody({ amount, card, terminal: 'grocery' }),
  )

beforeAll(async () => {
  sim = await startIssuerSim(['--seed', '7'])
  dataDir = await mkdtemp(join(tmpdir(), 'tollgate-routing-'))
  await start()
  store = openSqliteStore({ path: tollgate.databasePath })
  expect((await store.routing.putRoute(route(), audit('route.create'))).ok).toBe(true)
  // The demo debit card's BIN goes to the simulated bank.
  const prefix = DEMO_CARDS.debit.pan.slice(0, 6)
  expect((await store.routing.putBin({ prefix, routeId: ROUTE }, audit('bin.put'))).ok).toBe(true)
  await signedOn()
}, 60_000)

afterAll(async () => {
  await store.close()
  await tollgate.close()
  await sim.stop()
  await rm(dataDir, { recursive: true, force: true })
})

describe('a remote issuer route', () => {
  it('forwards a purchase and books the approval against the route', async () => {
    const before = (await store.getAccount(issuerAccountId(ROUTE, 'CNY')))?.debitsPostedMinor ?? 0
    const answer = await buy('12.30')
    expect(answer.body).toMatchObject({ approved: true, responseCode: '00' })
    const after = (await store.getAccount(issuerAccountId(ROUTE, 'CNY')))?.debitsPostedMinor ?? 0
    expect(after - before).toBe(1_230)
    const record = await store.getTransaction(answer.body.transactionId)
    expect(record?.evidence).toMatchObject({ route: ROUTE, upstreamResponseCode: '00' })
    const ledger = await sim.control<{ totals: Record<string, number> }>('GET', '/ledger')
    expect(JSON.stringify(ledger.body)).toContain('1230')
  })

  it('keeps the issuer decline with its raw code, explained like a local one', async () => {
    const answer = await buy('9999.00')
    expect(answer.body).toMatchObject({ approved: false, reason: { code: 'insufficient_funds' } })
    const record = await store.getTransaction(answer.body.transactionId)
    expect(record?.evidence.upstreamResponseCode).toBe('51')
  })

  it('reverses a request the issuer never answered, until the reversal is acknowledged', async () => {
    await sim.control('PUT', '/faults', { dropFraction: 1, mtis: ['0200'] })
    try {
      const answer = await buy('45.60')
      expect(answer.body).toMatchObject({ approved: false, reason: { code: 'issuer_timeout' } })
      const explained = await api(tollgate.httpUrl, TOKEN).get<{
        evidence: { key: string; value: string }[]
      }>(`/v1/transactions/${answer.body.transactionId}/explanation`)
      expect(explained.body.evidence.map((e) => e.key)).toContain('reversal')
      await sim.control('PUT', '/faults', {})
      const delivered = await waitFor('the reversal delivered', async () => {
        const [message] = await store.routing.listMessages({ kind: 'reversal', limit: 1 })
        return message?.transactionId === answer.body.transactionId &&
          message.status === 'delivered'
          ? message
          : null
      })
      expect(delivered.sealedPan).toBeNull()
    } finally {
      await sim.control('PUT', '/faults', {})
    }
  })

  it('stands in within its limits while the route is in maintenance, then delivers the advice', async () => {
    const stip = {
      enabled: true,
      perTransactionMaxMinor: 50_000,
      dailyAmountMaxMinor: 100_000,
      dailyCountMax: 5,
      cardTypes: ['debit', 'credit'] as const,
      currency: 'CNY',
    }
    expect(
      (
        await store.routing.putRoute(
          route({ ...stip, cardTypes: [...stip.cardTypes] }),
          audit('route.update'),
        )
      ).ok,
    ).toBe(true)
    const now = Date.now()
    await store.routing.putWindow(
      {
        id: 'mw_test',
        routeId: ROUTE,
        startsAtMs: now - 1_000,
        endsAtMs: now + 5_000,
        mode: 'stand_in',
        note: 'core system upgrade',
        createdBy: 'test',
        createdAtMs: now,
      },
      audit('window.create'),
    )
    await waitFor('the window seen', () =>
      Promise.resolve(
        tollgate.issuerHealth.route(ROUTE, Date.now())?.status.state === 'down' ? true : null,
      ),
    )
    const within = await buy('100.00')
    expect(within.body).toMatchObject({ approved: true })
    const standIn = await store.getTransaction(within.body.transactionId)
    expect(standIn?.evidence).toMatchObject({ standIn: true, routeState: 'maintenance' })
    const above = await buy('600.00')
    expect(above.body).toMatchObject({ approved: false, reason: { code: 'issuer_maintenance' } })
    // A card the bank does not know also stands in; its advice will be refused (14).
    const stranger = await api(tollgate.httpUrl, TOKEN).post<DecisionBody>(
      '/v1/authorizations',
      authorizeBody({
        amount: '20.00',
        card: { pan: freshPan(), expiry: '3012' },
        terminal: 'grocery',
      }),
    )
    expect(stranger.body).toMatchObject({ approved: true })
    // After the window the advice reaches the bank.
    const advice = await waitFor(
      'the advice delivered',
      async () => {
        const message = await store.routing.getMessage(`advice:${within.body.transactionId}`)
        return message?.status === 'delivered' ? message : null
      },
      20_000,
    )
    expect(advice.transactionId).toBe(within.body.transactionId)
    // Refused as naming no such card: not an acknowledgement, and never retried — parked for an
    // operator to settle with the bank, with the reason.
    const parked = await waitFor(
      'the refused advice parked',
      async () => {
        const message = await store.routing.getMessage(`advice:${stranger.body.transactionId}`)
        return message?.nextAttemptAtMs === null && message.status === 'pending' ? message : null
      },
      20_000,
    )
    expect(parked.lastError).toContain('refused it with 14')
    expect(parked.attempts).toBe(1)
  }, 40_000)

  it('never stores a clear card number, even for advices and reversals', async () => {
    const files = (await readdir(dataDir)).filter((f) => f.startsWith('tollgate.db'))
    for (const file of files) {
      const bytes = await readFile(join(dataDir, file))
      expect(bytes.includes(Buffer.from(DEMO_CARDS.debit.pan)), file).toBe(false)
    }
  })
})
