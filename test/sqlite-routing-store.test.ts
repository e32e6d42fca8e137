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
