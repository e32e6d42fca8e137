import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openSqliteStore, type SqliteStore } from '../src/adapters/store/sqlite/sqlite-store.js'
import {
  issuerAccountId,
  ROUTES_MAX,
  STIP_DISABLED,
  type IssuerRoute,
} from '../src/core/routes/model.js'
import type { IssuerMessage } from '../src/core/routes/outbox.js'
import type { Changes } from '../src/core/pipeline/snapshot.js'

const NOW = Date.UTC(2026, 10, 26, 4, 0, 0)
let dir: string
let store: SqliteStore
let sequence = 0
const audit = () => ({
  id: `au_${++sequence}`,
  atMs: NOW,
  actor: 'ops',
  action: 'test',
  subject: 's',
  detail: {},
})
const route = (id: string): IssuerRoute => ({
  id,
  name: id,
  bankName: 'Bank',
  kind: 'remote',
  host: '127.0.0.1',
  port: 9000,
  timeoutMs: 1_000,
  stip: STIP_DISABLED,
  createdAtMs: NOW,
  updatedAtMs: NOW,
})

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tollgate-routing-store-'))
  store = openSqliteStore({ path: join(dir, 'tollgate.db') })
})

afterEach(async () => {
  await store.close()
  await rm(dir, { recursive: true, force: true })
})

describe('issuer routes in SQLite', () => {
  it('creates a route once, with its settlement accounts; replaces only an existing one', async () => {
    expect((await store.routing.putRoute(route('a'), audit(), 'create')).ok).toBe(true)
    expect(await store.routing.putRoute(route('a'), audit(), 'create')).toMatchObject({
      ok: false,
      code: 'conflict',
    })
    expect(await store.routing.putRoute(route('b'), audit(), 'replace')).toMatchObject({
      ok: false,
      code: 'not_found',
    })
    expect(await store.getAccount(issuerAccountId('a', 'CNY'))).toMatchObject({ kind: 'funding' })
  })

  it('bounds the number of routes inside the write', async () => {
    for (let i = 0; i < ROUTES_MAX; i++)
      expect((await store.routing.putRoute(route(`r${i}`), audit())).ok).toBe(true)
    expect(await store.routing.putRoute(route('one_more'), audit())).toMatchObject({
      ok: false,
      code: 'conflict',
    })
    // Replacing an existing route is still possible.
    expect((await store.routing.putRoute(route('r0'), audit(), 'replace')).ok).toBe(true)
  })

  it('routes BINs to existing routes or the local ledger, and refuses overlapping windows', async () => {
    await store.routing.putRoute(route('a'), audit())
    expect((await store.routing.putBin({ prefix: '622202', routeId: 'a' }, audit())).ok).toBe(true)
    expect((await store.routing.putBin({ prefix: '4392', routeId: 'local' }, audit())).ok).toBe(
      true,
    )
    expect(await store.routing.putBin({ prefix: '4367', routeId: 'nope' }, audit())).toMatchObject({
      ok: false,
      code: 'not_found',
    })
    const window = {
      id: 'mw_1',
      routeId: 'a',
      startsAtMs: NOW + 60_000,
      endsAtMs: NOW + 3_600_000,
      mode: 'stand_in' as const,
      note: 'upgrade',
      createdBy: 'ops',
      createdAtMs: NOW,
    }
    expect((await store.routing.putWindow(window, audit())).ok).toBe(true)
    expect(
      await store.routing.putWindow(
        { ...window, id: 'mw_2', startsAtMs: NOW + 1_800_000, endsAtMs: NOW + 7_200_000 },
        audit(),
      ),
    ).toMatchObject({ ok: false, code: 'conflict' })
    expect(
      (
        await store.routing.putWindow(
          { ...window, id: 'mw_3', startsAtMs: NOW + 3_600_000, endsAtMs: NOW + 7_200_000 },
          audit(),
        )
      ).ok,
    ).toBe(true)
    expect((await store.routing.cancelWindow('mw_1', NOW, audit())).ok).toBe(true)
    expect((await store.routing.listWindows(NOW)).map((w) => w.id)).toEqual(['mw_3'])
    const table = (await store.routing.listBins()).map((b) => `${b.prefix}→${b.routeId}`)
    expect(table).toEqual(['4392→local', '622202→a'])
  })
})

describe('the issuer outbox in SQLite', () => {
  const advice: IssuerMessage = {
    id: 'advice:tx_1',
    routeId: 'a',
    kind: 'advice',
    transactionId: 'tx_1',
    requestKind: 'purchase',
    status: 'pending',
    attempts: 0,
    nextAttemptAtMs: NOW,
    sealedPan: 'sealed',
    expiry: '3012',
    stan: '000001',
    transmissionTime: '1126120000',
    terminalId: '10000001',
    merchantId: '898310054110001',
    rrn: '000000000001',
    amountMinor: 100,
    currency: 'CNY',
    authorizationCode: 'S00001',
    originalMti: null,
    standInReason: 'circuit_open',
    lastError: null,
    createdAtMs: NOW,
    updatedAtMs: NOW,
    deliveredAtMs: null,
  }
  // As a batch writes it (the batch worker's connection, in the server).
  const put = (message: IssuerMessage) =>
    store.routing.write({ issuerMessages: [message] } as unknown as Changes)

  it('claims a message for one send only while it is as read', async () => {
    put(advice)
    expect(await store.routing.claimMessage(advice.id, 0, NOW + 60_000, 'sending', NOW)).toBe(true)
    // A second sender that read the same row loses: the attempt was counted.
    expect(await store.routing.claimMessage(advice.id, 0, NOW + 60_000, 'sending', NOW)).toBe(false)
    expect(await store.routing.getMessage(advice.id)).toMatchObject({
      attempts: 1,
      nextAttemptAtMs: NOW + 60_000,
    })
    // A void dropped it (never sent) after the sender read it: the sender must not send it.
    put({ ...advice, id: 'advice:tx_2', transactionId: 'tx_2' })
    put({ ...advice, id: 'advice:tx_2', transactionId: 'tx_2', status: 'not_sent' })
    expect(await store.routing.claimMessage('advice:tx_2', 0, NOW + 60_000, 'x', NOW)).toBe(false)
  })

  it('parks a message for an operator: pending, never due again, with the reason', async () => {
    put(advice)
    expect((await store.routing.parkMessage(advice.id, 'refused with 14', NOW + 1)).ok).toBe(true)
    expect(await store.routing.getMessage(advice.id)).toMatchObject({
      status: 'pending',
      nextAttemptAtMs: null,
      lastError: 'refused with 14',
    })
    expect(await store.routing.dueMessages(NOW + 86_400_000, 10)).toEqual([])
    expect(await store.routing.parkMessage('advice:nope', 'x', NOW)).toMatchObject({
      ok: false,
      code: 'not_found',
    })
  })
})
