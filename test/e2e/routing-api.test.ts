import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type {
  messageView,
  routeView,
  windowView,
  RouteStatusView,
} from '../../src/adapters/http/views-routing.js'
import { formatInstant } from '../../src/core/explain.js'
import { startIssuerSim, type IssuerSimProcess } from '../support/issuer-link-client.js'
import { REPO_ROOT } from '../support/paths.js'
import {
  api,
  authorizeBody,
  call,
  DEMO_CARDS,
  DEMO_TERMINALS,
  evidenceOf,
  openDatabaseReadOnly,
  startTestServer,
  type Api,
  type DecisionBody,
  type ProblemBody,
  type TestServer,
} from '../support/server.js'

/**
 * The routing API over real HTTP against a real SQLite file and the issuer simulator (a real
 * separate process over real TCP): routes, the BIN table and the default route, route health,
 * maintenance windows that make purchases stand in or decline, the outbox listing (never a card
 * number), and the CLI against the built dist.
 */

const ROUTE = 'sim_bank'
const BANK = '模拟银行 Simulated Bank'
const DEBIT_PREFIX = DEMO_CARDS.debit.pan.slice(0, 6)
const MINUTE_MS = 60_000

type RouteBody = ReturnType<typeof routeView>
type WindowBody = ReturnType<typeof windowView>
type MessageBody = ReturnType<typeof messageView>
interface HealthBody {
  readonly routeId: string
  readonly kind: string
  readonly status: RouteStatusView
  readonly link: {
    readonly connections: { readonly signedOn: number }
    readonly breaker: { readonly state: string }
  } | null
  readonly history: { readonly kind: string; readonly to: string }[]
}

let server: TestServer
let sim: IssuerSimProcess
let admin: Api

const as = (actor: string) => ({ headers: { 'x-tollgate-actor': actor } })

async function waitFor<T>(what: string, probe: () => Promise<T | null>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await probe()
    if (value !== null) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Waits until the route's live status is in `state` (the links refresh every second). */
function statusOf(state: 'up' | 'down', routeId = ROUTE): Promise<HealthBody> {
  return waitFor(`route ${routeId} ${state}`, async () => {
    const health = await admin.get<HealthBody>(`/v1/routes/${routeId}/health`)
    return health.body.status.state === state ? health.body : null
  })
}

const buy = (amount: string, card: keyof typeof DEMO_CARDS = 'debit') =>
  admin.post<DecisionBody>(
    '/v1/authorizations',
    // The supermarket has no per-payment limit: the issuer decides large amounts.
    authorizeBody({ amount, card, terminal: 'grocery' }),
  )

const remoteRoute = (overrides: Record<string, unknown> = {}) => ({
  id: ROUTE,
  name: 'Simulated bank',
  bankName: BANK,
  kind: 'remote',
  host: '127.0.0.1',
  port: sim.isoPort,
  timeoutMs: 800,
  stip: {
    enabled: true,
    perTransactionMax: '500.00',
    dailyAmountMax: '1000.00',
    dailyCountMax: 5,
    cardTypes: ['debit', 'credit'],
    currency: 'CNY',
  },
  ...overrides,
})

const fields = (problem: ProblemBody) => (problem.errors ?? []).map((e) => e.field).sort()

beforeAll(async () => {
  sim = await startIssuerSim(['--seed', '7'])
  server = await startTestServer()
  admin = api(server.url, server.adminToken)
}, 60_000)

afterAll(async () => {
  await server.close()
  await sim.stop()
})

describe('routes', () => {
  it('needs the administrator token', async () => {
    const answer = await call(server.url, 'GET', '/v1/routes')
    expect(answer.status).toBe(401)
  })

  it('refuses a bad route naming every field', async () => {
    const bad = await admin.post<ProblemBody>('/v1/routes', {
      id: 'Bad-Id',
      name: 'x',
      bankName: 'x',
      kind: 'remote',
      timeoutMs: 49,
    })
    expect(bad.status).toBe(400)
    expect(fields(bad.body)).toEqual(['id', 'timeoutMs'])
    const noLink = await admin.post<ProblemBody>(
      '/v1/routes',
      remoteRoute({ host: undefined, port: null }),
    )
    expect(noLink.status).toBe(400)
    expect(fields(noLink.body)).toEqual(['host', 'port'])
    const badHost = await admin.post<ProblemBody>('/v1/routes', remoteRoute({ host: 'no host!' }))
    expect(fields(badHost.body)).toEqual(['host'])
    const reserved = await admin.post<ProblemBody>('/v1/routes', remoteRoute({ id: 'local' }))
    expect(reserved.body.errors).toEqual([
      expect.objectContaining({ field: 'id', code: 'reserved' }),
    ])
    const stip = await admin.post<ProblemBody>(
      '/v1/routes',
      remoteRoute({
        stip: {
          enabled: true,
          perTransactionMax: '1.234',
          dailyAmountMax: '10.00',
          dailyCountMax: 0,
        },
      }),
    )
    expect(stip.status).toBe(400)
    expect(stip.body.errors).toContainEqual(
      expect.objectContaining({ field: 'stip.perTransactionMax', code: 'amount_precision' }),
    )
    const above = await admin.post<ProblemBody>(
      '/v1/routes',
      remoteRoute({
        stip: {
          enabled: true,
          perTransactionMax: '20.00',
          dailyAmountMax: '10.00',
          dailyCountMax: 0,
        },
      }),
    )
    expect(fields(above.body)).toEqual(['stip.dailyCountMax', 'stip.perTransactionMax'])
    const timeoutMax = await admin.post<ProblemBody>(
      '/v1/routes',
      remoteRoute({ timeoutMs: 60_001 }),
    )
    expect(fields(timeoutMax.body)).toEqual(['timeoutMs'])
    const listed = await admin.get<{ items: RouteBody[] }>('/v1/routes')
    expect(listed.body.items).toEqual([])
  })

  it('creates a remote and a local route, audited with the actor', async () => {
    const created = await admin.post<RouteBody>('/v1/routes', remoteRoute(), as('li.wei'))
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      id: ROUTE,
      kind: 'remote',
      host: '127.0.0.1',
      port: sim.isoPort,
      timeoutMs: 800,
      stip: { enabled: true, perTransactionMax: '500.00', dailyAmountMax: '1000.00' },
    })
    const local = await admin.post<RouteBody>('/v1/routes', {
      id: 'branch_ledger',
      name: 'Own cards',
      bankName: '本行 Own bank',
      kind: 'local',
    })
    expect(local.status).toBe(201)
    expect(local.body).toMatchObject({ host: null, port: null, timeoutMs: 2000 })
    expect(local.body.stip.enabled).toBe(false)
    const again = await admin.post<ProblemBody>('/v1/routes', remoteRoute())
    expect(again.status).toBe(409)
    const localWithHost = await admin.post<ProblemBody>('/v1/routes', {
      id: 'other_local',
      name: 'x',
      bankName: 'x',
      kind: 'local',
      host: '127.0.0.1',
    })
    expect(localWithHost.body.errors).toEqual([
      expect.objectContaining({ field: 'host', code: 'not_applicable' }),
    ])
    const audit = await admin.get<{ items: { action: string; actor: string; subject: string }[] }>(
      '/v1/audit?limit=50',
    )
    expect(audit.body.items).toContainEqual(
      expect.objectContaining({ action: 'issuer_route.create', actor: 'li.wei', subject: ROUTE }),
    )
  })

  it('replaces a route, keeping when it was created', async () => {
    const before = await admin.get<{ route: RouteBody }>(`/v1/routes/${ROUTE}`)
    // Without its id: a replacement names the route in its path.
    const body = { ...remoteRoute({ name: 'Simulated bank (renamed)' }), id: undefined }
    const replaced = await admin.put<RouteBody>(`/v1/routes/${ROUTE}`, body)
    expect(replaced.status).toBe(200)
    expect(replaced.body.name).toBe('Simulated bank (renamed)')
    expect(replaced.body.createdAt).toBe(before.body.route.createdAt)
    const mismatch = await admin.put<ProblemBody>(
      `/v1/routes/${ROUTE}`,
      remoteRoute({ id: 'other' }),
    )
    expect(mismatch.body.errors).toEqual([expect.objectContaining({ field: 'id' })])
    const missing = await admin.put<ProblemBody>('/v1/routes/no_such_route', body)
    expect(missing.status).toBe(404)
    expect((await admin.get('/v1/routes/no_such_route')).status).toBe(404)
    expect((await admin.get<ProblemBody>('/v1/routes/NO')).body.errors).toEqual([
      expect.objectContaining({ field: 'id' }),
    ])
  })

  it('shows a remote route up with its link health once the link signs on', async () => {
    const health = await statusOf('up')
    expect(health.kind).toBe('remote')
    expect(health.link?.connections.signedOn).toBeGreaterThanOrEqual(1)
    expect(health.link?.breaker.state).toBe('closed')
    expect(Array.isArray(health.history)).toBe(true)
    const listed = await admin.get<{
      items: (RouteBody & { status: RouteStatusView; link: { breaker: string } | null })[]
    }>('/v1/routes')
    const remote = listed.body.items.find((r) => r.id === ROUTE)
    expect(remote).toMatchObject({ status: { state: 'up' }, link: { breaker: 'closed' } })
    expect(remote).toHaveProperty('outbox.reversal.pending', 0)
    const local = await admin.get<HealthBody>('/v1/routes/branch_ledger/health')
    expect(local.body).toMatchObject({ kind: 'local', status: { state: 'up' }, link: null })
  })
})

describe('BIN table and default route', () => {
  it('routes a BIN prefix, validating the prefix and the route', async () => {
    const short = await admin.put<ProblemBody>('/v1/routes/bins/62', { routeId: ROUTE })
    expect(short.status).toBe(400)
    expect(fields(short.body)).toEqual(['prefix'])
    const long = await admin.put<ProblemBody>('/v1/routes/bins/62122602000', { routeId: ROUTE })
    expect(fields(long.body)).toEqual(['prefix'])
    const unknown = await admin.put<ProblemBody>('/v1/routes/bins/621226', { routeId: 'nowhere' })
    expect(unknown.status).toBe(422)
    expect(fields(unknown.body)).toEqual(['routeId'])
    const put = await admin.put(`/v1/routes/bins/${DEBIT_PREFIX}`, { routeId: ROUTE })
    expect(put.body).toEqual({
      prefix: DEBIT_PREFIX,
      routeId: ROUTE,
      bankName: BANK,
      kind: 'remote',
    })
    const local = await admin.put('/v1/routes/bins/999', { routeId: 'local' })
    expect(local.status).toBe(200)
    const listed = await admin.get<{ items: { prefix: string; routeId: string }[] }>(
      '/v1/routes/bins',
    )
    expect(listed.body.items.map((b) => [b.prefix, b.routeId])).toEqual([
      [DEBIT_PREFIX, ROUTE],
      ['999', 'local'],
    ])
    expect((await admin.delete('/v1/routes/bins/999')).status).toBe(200)
    expect((await admin.delete('/v1/routes/bins/999')).status).toBe(404)
  })

  it('forwards a purchase on the routed BIN to the issuer', async () => {
    const answer = await buy('12.30')
    expect(answer.body).toMatchObject({ approved: true, responseCode: '00' })
  })

  it('declines cards no prefix matches when the default is none, local again after', async () => {
    expect((await admin.get('/v1/routes/default')).body).toMatchObject({ routeId: 'local' })
    const bad = await admin.put<ProblemBody>('/v1/routes/default', { routeId: 'Nope' })
    expect(fields(bad.body)).toEqual(['routeId'])
    const missing = await admin.put<ProblemBody>('/v1/routes/default', {})
    expect(fields(missing.body)).toEqual(['routeId'])
    expect((await admin.put('/v1/routes/default', { routeId: null })).body).toMatchObject({
      routeId: null,
    })
    const declined = await buy('10.00', 'credit')
    expect(declined.body).toMatchObject({
      approved: false,
      reason: { code: 'no_route_to_issuer' },
    })
    await admin.put('/v1/routes/default', { routeId: 'local' })
    const approved = await buy('10.00', 'credit')
    expect(approved.body).toMatchObject({ approved: true })
  })
})

describe('maintenance windows', () => {
  const iso = (ms: number) => new Date(ms).toISOString()
  const schedule = (body: Record<string, unknown>, routeId = ROUTE) =>
    admin.post<WindowBody & ProblemBody>(`/v1/routes/${routeId}/maintenance`, body, as('ops.zhang'))

  it('refuses bad windows naming the field', async () => {
    const now = Date.now()
    const base = { startsAt: iso(now), endsAt: iso(now + 10 * MINUTE_MS), note: 'core upgrade' }
    const backwards = await schedule({ ...base, endsAt: iso(now - MINUTE_MS) })
    expect(backwards.status).toBe(400)
    expect(backwards.body.errors?.map((e) => e.code).sort()).toEqual([
      'not_after_start',
      'not_in_future',
    ])
    const past = await schedule({
      startsAt: iso(now - 20 * MINUTE_MS),
      endsAt: iso(now - MINUTE_MS),
      note: 'x',
    })
    expect(past.body.errors).toEqual([
      expect.objectContaining({ field: 'endsAt', code: 'not_in_future' }),
    ])
    const tooLong = await schedule({ ...base, endsAt: iso(now + 7 * 86_400_000 + MINUTE_MS) })
    expect(tooLong.body.errors).toEqual([
      expect.objectContaining({ field: 'endsAt', code: 'too_long' }),
    ])
    const exactlyAWeek = await schedule({
      startsAt: iso(now + 30 * 86_400_000),
      endsAt: iso(now + 37 * 86_400_000),
      note: 'the longest window',
    })
    expect(exactlyAWeek.status).toBe(201)
    expect((await admin.delete(`/v1/routes/maintenance/${exactlyAWeek.body.id}`)).status).toBe(200)
    const shapes = await schedule({
      startsAt: 'tomorrow',
      endsAt: iso(now),
      mode: 'pause',
      note: '',
    })
    expect(fields(shapes.body)).toEqual(['mode', 'note', 'startsAt'])
    expect((await schedule(base, 'no_such_route')).status).toBe(404)
    const local = await schedule(base, 'branch_ledger')
    expect(local.status).toBe(409)
    expect(local.body.code).toBe('route_not_remote')
    expect((await admin.delete('/v1/routes/maintenance/mw_unknown')).status).toBe(404)
  })

  it('declines with issuer_maintenance naming the bank and the end, then back up on cancel', async () => {
    const now = Date.now()
    const created = await schedule({
      startsAt: iso(now - 1_000),
      endsAt: iso(now + 30 * MINUTE_MS),
      mode: 'decline',
      note: 'core system upgrade',
    })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ mode: 'decline', running: true, createdBy: 'ops.zhang' })
    const endsAtMs = Date.parse(created.body.endsAt ?? '')
    const overlap = await schedule({
      startsAt: iso(now + 10 * MINUTE_MS),
      endsAt: iso(now + 40 * MINUTE_MS),
      note: 'overlaps',
    })
    expect(overlap.status).toBe(409)
    expect(overlap.body.code).toBe('window_overlap')
    const listed = await admin.get<{ items: WindowBody[] }>(`/v1/routes/${ROUTE}/maintenance`)
    expect(listed.body.items.map((w) => w.id)).toEqual([created.body.id])
    const all = await admin.get<{ items: WindowBody[] }>('/v1/routes/maintenance')
    expect(all.body.items.map((w) => w.id)).toContain(created.body.id)

    const down = await statusOf('down')
    expect(down.status).toMatchObject({ why: 'maintenance', maintenance: { id: created.body.id } })
    const declined = await buy('20.00')
    expect(declined.body).toMatchObject({
      approved: false,
      reason: { code: 'issuer_maintenance' },
    })
    const evidence = evidenceOf(declined.body.explanation)
    expect(evidence.issuerBank).toBe(BANK)
    expect(evidence.maintenanceEndsAtMs).toBe(formatInstant(endsAtMs, 480))

    const cancelled = await admin.delete<WindowBody>(`/v1/routes/maintenance/${created.body.id}`)
    expect(cancelled.status).toBe(200)
    expect((await admin.delete(`/v1/routes/maintenance/${created.body.id}`)).status).toBe(404)
    await statusOf('up')
    expect((await buy('20.00')).body).toMatchObject({ approved: true, responseCode: '00' })
  }, 40_000)

  it('stands in within the limits during a stand_in window', async () => {
    const now = Date.now()
    const created = await schedule({
      startsAt: iso(now - 1_000),
      endsAt: iso(now + 30 * MINUTE_MS),
      note: 'network change',
    })
    expect(created.body.mode).toBe('stand_in')
    try {
      await statusOf('down')
      const within = await buy('100.00')
      expect(within.body).toMatchObject({ approved: true })
      const above = await buy('600.00')
      expect(above.body).toMatchObject({
        approved: false,
        reason: { code: 'issuer_maintenance' },
      })
      expect(evidenceOf(above.body.explanation).issuerBank).toBe(BANK)
    } finally {
      await admin.delete(`/v1/routes/maintenance/${created.body.id}`)
    }
    await statusOf('up')
    const history = await admin.get<HealthBody>(`/v1/routes/${ROUTE}/health`)
    expect(history.body.history.length).toBeGreaterThan(0)
  }, 40_000)
})

describe('GET /v1/routes/outbox', () => {
  it('lists messages without any card number, sealed or clear', async () => {
    const answer = await admin.get<{ items: MessageBody[] }>(`/v1/routes/outbox?routeId=${ROUTE}`)
    expect(answer.status).toBe(200)
    expect(answer.body.items.map((m) => m.kind)).toEqual(
      expect.arrayContaining(['request', 'advice']),
    )
    expect(answer.body.items[0]).toMatchObject({
      routeId: ROUTE,
      terminalId: DEMO_TERMINALS.grocery.id,
    })
    const db = openDatabaseReadOnly(server.dataDir)
    let sealed: string[]
    try {
      sealed = db
        .all<{ sealed_pan: string }>(
          'SELECT sealed_pan FROM issuer_messages WHERE sealed_pan IS NOT NULL',
        )
        .map((row) => row.sealed_pan)
    } finally {
      db.close()
    }
    // Answered requests keep their sealed number for a day (a void may need it): the check bites.
    expect(sealed.length).toBeGreaterThan(0)
    for (const value of sealed) expect(answer.text).not.toContain(value)
    expect(answer.text).not.toContain(DEMO_CARDS.debit.pan)
    expect(answer.text).not.toMatch(/sealed|expiry/i)
    const advices = await admin.get<{ items: MessageBody[] }>(
      '/v1/routes/outbox?kind=advice&limit=1',
    )
    expect(advices.body.items).toHaveLength(1)
    expect(advices.body.items[0]?.kind).toBe('advice')
  })

  it('refuses bad filters naming them', async () => {
    const bad = await admin.get<ProblemBody>('/v1/routes/outbox?status=lost&limit=0&kind=x')
    expect(bad.status).toBe(400)
    expect(fields(bad.body)).toEqual(['kind', 'limit', 'status'])
  })

  it('is in the OpenAPI document behind the token', async () => {
    const doc = await call<{ paths: Record<string, Record<string, { security?: unknown }>> }>(
      server.url,
      'GET',
      '/openapi.json',
    )
    for (const path of [
      '/v1/routes',
      '/v1/routes/{id}',
      '/v1/routes/{id}/health',
      '/v1/routes/{id}/maintenance',
      '/v1/routes/maintenance/{windowId}',
      '/v1/routes/bins/{prefix}',
      '/v1/routes/default',
      '/v1/routes/outbox',
    ])
      expect(Object.values(doc.body.paths[path] ?? {})[0]?.security, path).toEqual([{ bearer: [] }])
  })
})

describe('tollgate routes and maintenance (CLI)', () => {
  const run = promisify(execFile)
  const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js')
  const tollgate = (...args: string[]) => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`)
    return run(process.execPath, [CLI, ...args, '--url', server.url], {
      timeout: 30_000,
      env: { ...process.env, TOLLGATE_ADMIN_TOKEN: server.adminToken, TOLLGATE_ACTOR: 'cli.user' },
    })
  }
  const failure = async (promise: Promise<unknown>) => {
    await expect(promise).rejects.toMatchObject({ code: 2 })
    return (await promise.catch((e: unknown) => e)) as { stdout: string; stderr: string }
  }

  it('lists routes with status, breaker and outbox figures, in either language', async () => {
    const en = await tollgate('routes')
    expect(en.stdout).toMatch(new RegExp(`${ROUTE}\\s+remote\\s+${BANK.split(' ')[0]}`))
    expect(en.stdout).toContain(`127.0.0.1:${sim.isoPort}`)
    expect(en.stdout).toMatch(/\bup\b.*closed/)
    const zh = await tollgate('routes', '--lang', 'zh-CN')
    expect(zh.stdout).toContain('熔断器')
    expect(zh.stdout).toContain('正常')
    const shown = await tollgate('routes', 'show', ROUTE)
    expect(shown.stdout).toContain(BANK)
    expect(shown.stdout).toContain(`BIN: ${DEBIT_PREFIX}`)
    expect(shown.stdout).toContain('→') // the history of transitions
    const json = await tollgate('routes', 'show', ROUTE, '--json')
    expect(JSON.parse(json.stdout)).toMatchObject({ route: { id: ROUTE }, status: { state: 'up' } })
  })

  it('adds a route, routes and unroutes a BIN, sets the default', async () => {
    const added = await tollgate(
      'routes',
      'add',
      '--id',
      'cli_bank',
      '--name',
      'CLI bank',
      '--bank',
      'CLI Bank',
      '--kind',
      'remote',
      '--host',
      '127.0.0.1',
      '--port',
      String(sim.isoPort),
      '--timeout-ms',
      '1500',
      '--stip-max',
      '500.00',
      '--stip-daily-amount',
      '1000.00',
      '--stip-daily-count',
      '5',
      '--stip-card-types',
      'debit,credit',
    )
    expect(added.stdout).toContain('✓ cli_bank (remote, CLI Bank)')
    const detail = await admin.get<{ route: RouteBody }>('/v1/routes/cli_bank')
    expect(detail.body.route).toMatchObject({
      timeoutMs: 1500,
      stip: { enabled: true, perTransactionMax: '500.00', dailyCountMax: 5 },
    })
    const bad = await failure(
      tollgate('routes', 'add', '--id', 'cli_bad', '--name', 'x', '--bank', 'x', '--port', '1'),
    )
    expect(bad.stderr).toContain('host:')
    expect((await tollgate('routes', 'bin', '888888', 'cli_bank')).stdout).toContain(
      '✓ BIN 888888 → cli_bank',
    )
    expect((await tollgate('routes', 'bins')).stdout).toMatch(/888888\s+cli_bank\s+CLI Bank/)
    expect((await tollgate('routes', 'unbin', '888888')).stdout).toContain('888888')
    const unknown = await failure(tollgate('routes', 'bin', '888888', 'nowhere'))
    expect(unknown.stderr).toContain('routeId:')
    expect((await tollgate('routes', 'default', 'none')).stdout).toContain('no_route_to_issuer')
    expect((await tollgate('routes', 'default', 'local')).stdout).toContain('local')
  })

  it('schedules, lists and cancels a maintenance window', async () => {
    const from = new Date(Date.now() + 60 * MINUTE_MS).toISOString()
    const to = new Date(Date.now() + 120 * MINUTE_MS).toISOString()
    const scheduled = await tollgate(
      'maintenance',
      'cli_bank',
      '--from',
      from,
      '--to',
      to,
      '--mode',
      'decline',
      '--note',
      'planned from the CLI',
    )
    const id = /window (mw_\w+)/.exec(scheduled.stdout)?.[1]
    expect(id, scheduled.stdout).toBeDefined()
    const listed = await tollgate('maintenance', 'list', 'cli_bank')
    expect(listed.stdout).toContain(id)
    expect(listed.stdout).toContain('planned from the CLI')
    expect((await tollgate('maintenance', 'list')).stdout).toContain(id)
    const windows = await admin.get<{ items: WindowBody[] }>('/v1/routes/cli_bank/maintenance')
    expect(windows.body.items[0]).toMatchObject({ createdBy: 'cli.user', mode: 'decline' })
    expect((await tollgate('maintenance', 'cancel', id ?? '')).stdout).toContain('cancelled')
    expect((await tollgate('maintenance', 'list', 'cli_bank')).stdout).toContain('No upcoming')
    const bad = await failure(
      tollgate('maintenance', 'cli_bank', '--from', 'soon', '--to', to, '--note', 'x'),
    )
    expect(bad.stderr).toContain('startsAt:')
  })

  it('lists the outbox without card numbers', async () => {
    const text = await tollgate('routes', 'outbox', '--route', ROUTE)
    expect(text.stdout).toContain('advice')
    expect(text.stdout).not.toContain(DEMO_CARDS.debit.pan)
    const json = await tollgate('routes', 'outbox', '--status', 'pending', '--json')
    const body = JSON.parse(json.stdout) as { items: MessageBody[] }
    expect(body.items.every((m) => m.status === 'pending')).toBe(true)
    expect(json.stdout).not.toMatch(/sealed/i)
  })
})
