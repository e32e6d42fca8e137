import { auditBuilder } from './audit.js'
import type { z } from 'zod'
import {
  LOCAL_ROUTE_ID,
  type IssuerRoute,
  type MaintenanceWindow,
  BIN_ROUTES_MAX,
  ROUTES_MAX,
  WINDOWS_PER_ROUTE_MAX,
} from '../../core/routes/model.js'
import type { AuditEntry, WriteResult } from '../../ports/store.js'
import type { HttpDeps } from './deps.js'
import { problem, type FieldProblem } from './problem.js'
import { actorOf } from './routes-risk.js'
import * as S from './schemas-routing.js'
import { HttpProblem, parseWith, type Router } from './server.js'
import {
  linkSummary,
  messageView,
  outboxCounts,
  routeView,
  statusView,
  targetView,
  windowView,
} from './views-routing.js'

/**
 * Issuer routing over HTTP, all behind the administrator token: routes (where the funds
 * decision for a card is made), the BIN routing table and the default route, maintenance
 * windows, each route's live health, and the issuer outbox. Every change names who made it
 * (`X-Tollgate-Actor`, default `admin`) and commits with its audit entry. Routes, BINs and the
 * default apply from the next batch; the issuer links pick up new routes and windows within a
 * second.
 */

/** Each remote route holds a connection pool: a handful of banks, not thousands. */
/** The routing table is compiled into memory for every generation. */
/** The issuer links read every upcoming window every second. */
const WINDOWS_LISTED_MAX = ROUTES_MAX * WINDOWS_PER_ROUTE_MAX

const R = { 200: 'ok', 400: 'invalid request', 401: 'administrator token required' }
const NOT_FOUND = { 404: 'not found' }
const ACTOR_NOTE = ' Send X-Tollgate-Actor to name the operator (default admin).'

function notFound(what: string, id: string): never {
  throw new HttpProblem(problem(404, 'not_found', `No such ${what}`, `no ${what} ${id}`))
}

function conflict(code: string, title: string, detail: string): never {
  throw new HttpProblem(problem(409, code, title, detail))
}

function ensureWritten(result: WriteResult, what: string): void {
  if (result.ok) return
  if (result.code === 'conflict') conflict('conflict', `${what} changed meanwhile`, result.message)
  throw new HttpProblem(problem(404, 'not_found', `No such ${what}`, result.message))
}

function invalid(errors: FieldProblem[]): never {
  const detail = errors.map((e) => `${e.field}: ${e.message}`).join('; ')
  throw new HttpProblem(
    problem(400, 'validation_failed', 'Invalid request body', detail, { errors }),
  )
}

/** A body names a route that does not exist: 422, as an unknown merchant is for a terminal. */
function unknownRoute(routeId: string): never {
  throw new HttpProblem(
    problem(422, 'unknown_route', 'Unknown route', `routeId: no route ${routeId}`, {
      errors: [
        {
          field: 'routeId',
          code: 'unknown_route',
          message: `expected an existing route id or "${LOCAL_ROUTE_ID}"`,
        },
      ],
    }),
  )
}

/** The route fields a create or replace body gives, as the store keeps them. */
function routeFrom(
  id: string,
  body: Omit<z.output<typeof S.routeCreate>, 'id'>,
  createdAtMs: number,
  nowMs: number,
): IssuerRoute {
  return {
    id,
    name: body.name,
    bankName: body.bankName,
    kind: body.kind,
    host: body.host,
    port: body.port,
    timeoutMs: body.timeoutMs,
    stip: body.stip,
    createdAtMs,
    updatedAtMs: nowMs,
  }
}

const ROUTE_FIELDS = ['name', 'bankName', 'kind', 'host', 'port', 'timeoutMs'] as const

/** What a replacement changed, as the audit entry keeps it. */
function routeChanges(before: IssuerRoute, after: IssuerRoute) {
  const from: Record<string, unknown> = {}
  const to: Record<string, unknown> = {}
  for (const key of ROUTE_FIELDS) {
    if (before[key] !== after[key]) {
      from[key] = before[key]
      to[key] = after[key]
    }
  }
  if (JSON.stringify(before.stip) !== JSON.stringify(after.stip)) {
    from.stip = routeView(before).stip
    to.stip = routeView(after).stip
  }
  return { before: from, after: to }
}

/** Field errors of a window's times against now and the limits; empty when all is right. */
function windowTimeErrors(startsAtMs: number, endsAtMs: number, nowMs: number): FieldProblem[] {
  const errors: FieldProblem[] = []
  const add = (field: string, code: string, message: string) =>
    errors.push({ field, code, message })
  if (endsAtMs <= startsAtMs) add('endsAt', 'not_after_start', 'expected a time after startsAt')
  else if (endsAtMs - startsAtMs > S.WINDOW_DURATION_MS_MAX)
    add('endsAt', 'too_long', 'a window lasts at most 7 days (168 hours) after startsAt')
  if (endsAtMs <= nowMs) add('endsAt', 'not_in_future', 'expected a time in the future')
  if (startsAtMs > nowMs + S.WINDOW_LEAD_MS_MAX)
    add('startsAt', 'too_far_ahead', 'a window is scheduled at most 90 days ahead')
  return errors
}

export function registerRoutingRoutes(router: Router, deps: HttpDeps): void {
  const routing = deps.store.routing
  const audit = auditBuilder(deps)
  const healthOf = (routeId: string, nowMs: number) =>
    deps.issuerHealth?.route(routeId, nowMs) ?? null
  const routeOf = async (params: unknown): Promise<IssuerRoute> => {
    const { id } = parseWith(S.routeParams, params, 'path')
    return (await routing.getRoute(id)) ?? notFound('route', id)
  }
  /** A body's route reference: `local` or an existing route, else 422. */
  const ensureTarget = async (routeId: string): Promise<void> => {
    if (routeId === LOCAL_ROUTE_ID) return
    if ((await routing.getRoute(routeId)) === null) unknownRoute(routeId)
  }

  router.add(
    {
      method: 'GET',
      url: '/v1/routes',
      tag: 'routing',
      admin: true,
      query: S.langQuery,
      summary:
        'Every issuer route with its live status (remote routes: from the link), a summary of its link (breaker, signed-on connections, latency) and its outbox counts by kind and status.',
      responses: R,
    },
    async (request) => {
      parseWith(S.langQuery, request.query, 'query')
      const nowMs = deps.clock.nowMs()
      const [routes, counts, defaultRouteId] = await Promise.all([
        routing.listRoutes(),
        routing.countMessages(),
        routing.getDefaultRoute(),
      ])
      return {
        items: routes.map((route) => {
          const health = healthOf(route.id, nowMs)
          return {
            ...routeView(route),
            status: statusView(route, health),
            link: linkSummary(health?.link ?? null),
            outbox: outboxCounts(counts, route.id),
          }
        }),
        defaultRouteId,
      }
    },
  )

  router.add(
    {
      method: 'POST',
      url: '/v1/routes',
      tag: 'routing',
      admin: true,
      actor: true,
      body: S.routeCreate,
      summary:
        'Create a route: id (snake_case), name, bankName, kind local|remote; remote routes need host (IPv4 or hostname) and port; timeoutMs 50..60000 (default 2000); stip {enabled, perTransactionMax, dailyAmountMax (decimal text), dailyCountMax, cardTypes, currency} (default disabled). The links connect within a second.' +
        ACTOR_NOTE,
      responses: { ...R, 201: 'created', 409: 'the route exists, or too many routes' },
    },
    async (request, reply) => {
      const actor = actorOf(request)
      const body = parseWith(S.routeCreate, request.body, 'body')
      if ((await routing.getRoute(body.id)) !== null)
        conflict('route_exists', 'Route already exists', `route ${body.id} exists: PUT replaces it`)
      if ((await routing.listRoutes()).length >= ROUTES_MAX)
        conflict('routes_max', 'Too many routes', `at most ${ROUTES_MAX} routes`)
      const nowMs = deps.clock.nowMs()
      const route = routeFrom(body.id, body, nowMs, nowMs)
      const entry = audit(actor, 'issuer_route.create', route.id, {
        note: body.changeNote ?? null,
        route: routeView(route),
      })
      ensureWritten(await routing.putRoute(route, entry, 'create'), 'route')
      return reply.code(201).send(routeView(route))
    },
  )

  registerTableRoutes(router, deps, audit, ensureTarget)
  registerWindowRoutes(router, deps, audit)

  router.add(
    {
      method: 'GET',
      url: '/v1/routes/:id',
      tag: 'routing',
      admin: true,
      query: S.langQuery,
      summary:
        'One route: its settings, live status, link health and history (remote routes), outbox counts, upcoming windows and the BIN prefixes routed to it.',
      responses: { ...R, ...NOT_FOUND },
    },
    async (request) => {
      parseWith(S.langQuery, request.query, 'query')
      const route = await routeOf(request.params)
      const nowMs = deps.clock.nowMs()
      const health = healthOf(route.id, nowMs)
      const [counts, windows, bins] = await Promise.all([
        routing.countMessages(),
        routing.listWindows(nowMs, route.id),
        routing.listBins(),
      ])
      return {
        route: routeView(route),
        status: statusView(route, health),
        link: health?.link ?? null,
        history: health?.history ?? [],
        outbox: outboxCounts(counts, route.id),
        windows: windows.map((w) => windowView(w, nowMs)),
        bins: bins.filter((b) => b.routeId === route.id).map((b) => b.prefix),
      }
    },
  )

  router.add(
    {
      method: 'PUT',
      url: '/v1/routes/:id',
      tag: 'routing',
      admin: true,
      actor: true,
      body: S.routeReplace,
      summary:
        'Replace a route: every field of the create body but id (an omitted stip means disabled); createdAt is kept. A changed host, port or timeout reconnects the link within a second.' +
        ACTOR_NOTE,
      responses: { ...R, ...NOT_FOUND },
    },
    async (request) => {
      const actor = actorOf(request)
      const before = await routeOf(request.params)
      const body = parseWith(S.routeReplace, request.body, 'body')
      if (body.id !== undefined && body.id !== before.id)
        invalid([
          { field: 'id', code: 'id_mismatch', message: `expected the path's id, ${before.id}` },
        ])
      const route = routeFrom(before.id, body, before.createdAtMs, deps.clock.nowMs())
      const entry = audit(actor, 'issuer_route.update', route.id, {
        note: body.changeNote ?? null,
        ...routeChanges(before, route),
      })
      ensureWritten(await routing.putRoute(route, entry, 'replace'), 'route')
      return routeView(route)
    },
  )

  router.add(
    {
      method: 'GET',
      url: '/v1/routes/:id/health',
      tag: 'routing',
      admin: true,
      query: S.langQuery,
      summary:
        "A route's live status (up, or down and why: maintenance, circuit_open, no_connection; unknown before its link starts), its link's health (connections, breaker, latency, counters) and its history of transitions, oldest first.",
      responses: { ...R, ...NOT_FOUND },
    },
    async (request) => {
      parseWith(S.langQuery, request.query, 'query')
      const route = await routeOf(request.params)
      const health = healthOf(route.id, deps.clock.nowMs())
      return {
        routeId: route.id,
        kind: route.kind,
        status: statusView(route, health),
        link: health?.link ?? null,
        history: health?.history ?? [],
      }
    },
  )
}

type Audit = (
  actor: string,
  action: string,
  subject: string,
  detail: Record<string, unknown>,
) => AuditEntry

/** The BIN routing table, the default route and the outbox listing. */
function registerTableRoutes(
  router: Router,
  deps: HttpDeps,
  audit: Audit,
  ensureTarget: (routeId: string) => Promise<void>,
): void {
  const routing = deps.store.routing
  const routeMap = async () => new Map((await routing.listRoutes()).map((r) => [r.id, r]))

  router.add(
    {
      method: 'GET',
      url: '/v1/routes/bins',
      tag: 'routing',
      admin: true,
      query: S.langQuery,
      summary:
        'The BIN routing table (the longest matching prefix wins) and the default route of cards no prefix matches.',
      responses: R,
    },
    async (request) => {
      parseWith(S.langQuery, request.query, 'query')
      const [bins, routes, defaultRouteId] = await Promise.all([
        routing.listBins(),
        routeMap(),
        routing.getDefaultRoute(),
      ])
      return {
        items: bins.map((b) => ({ prefix: b.prefix, ...targetView(b.routeId, routes) })),
        default: targetView(defaultRouteId, routes),
      }
    },
  )

  router.add(
    {
      method: 'PUT',
      url: '/v1/routes/bins/:prefix',
      tag: 'routing',
      admin: true,
      actor: true,
      body: S.binPut,
      summary:
        'Route a BIN prefix (3 to 10 digits) to a route or to "local" (the local ledger), replacing its route; applies from the next batch.' +
        ACTOR_NOTE,
      responses: { ...R, 409: 'too many BIN prefixes', 422: 'unknown route' },
    },
    async (request) => {
      const actor = actorOf(request)
      const { prefix } = parseWith(S.binParams, request.params, 'path')
      const body = parseWith(S.binPut, request.body, 'body')
      await ensureTarget(body.routeId)
      const bins = await routing.listBins()
      const before = bins.find((b) => b.prefix === prefix)?.routeId ?? null
      if (before === null && bins.length >= BIN_ROUTES_MAX)
        conflict('bin_routes_max', 'Too many BIN prefixes', `at most ${BIN_ROUTES_MAX} prefixes`)
      const entry = audit(actor, 'bin_route.put', prefix, {
        note: body.changeNote ?? null,
        before: { routeId: before },
        after: { routeId: body.routeId },
      })
      ensureWritten(await routing.putBin({ prefix, routeId: body.routeId }, entry), 'route')
      return { prefix, ...targetView(body.routeId, await routeMap()) }
    },
  )

  router.add(
    {
      method: 'DELETE',
      url: '/v1/routes/bins/:prefix',
      tag: 'routing',
      admin: true,
      actor: true,
      summary:
        'Remove a BIN prefix: its cards follow a shorter prefix, else the default route.' +
        ACTOR_NOTE,
      responses: { ...R, ...NOT_FOUND },
    },
    async (request) => {
      const actor = actorOf(request)
      const { prefix } = parseWith(S.binParams, request.params, 'path')
      const before = (await routing.listBins()).find((b) => b.prefix === prefix)
      if (before === undefined) notFound('BIN prefix', prefix)
      const entry = audit(actor, 'bin_route.delete', prefix, {
        before: { routeId: before.routeId },
      })
      ensureWritten(await routing.deleteBin(prefix, entry), 'BIN prefix')
      return { prefix, deleted: true, routeId: before.routeId }
    },
  )

  router.add(
    {
      method: 'GET',
      url: '/v1/routes/default',
      tag: 'routing',
      admin: true,
      query: S.langQuery,
      summary:
        'The route of cards no BIN prefix matches: a route, "local" (the local ledger), or null (declined with no_route_to_issuer).',
      responses: R,
    },
    async (request) => {
      parseWith(S.langQuery, request.query, 'query')
      return targetView(await routing.getDefaultRoute(), await routeMap())
    },
  )

  router.add(
    {
      method: 'PUT',
      url: '/v1/routes/default',
      tag: 'routing',
      admin: true,
      actor: true,
      body: S.defaultPut,
      summary:
        'Set the default route {routeId}: a route id, "local", or null (cards no prefix matches are declined with no_route_to_issuer).' +
        ACTOR_NOTE,
      responses: { ...R, 422: 'unknown route' },
    },
    async (request) => {
      const actor = actorOf(request)
      const body = parseWith(S.defaultPut, request.body, 'body')
      if (body.routeId !== null) await ensureTarget(body.routeId)
      const before = await routing.getDefaultRoute()
      const entry = audit(actor, 'default_route.set', 'default_route', {
        note: body.changeNote ?? null,
        before: { routeId: before },
        after: { routeId: body.routeId },
      })
      ensureWritten(await routing.setDefaultRoute(body.routeId, entry), 'route')
      return targetView(body.routeId, await routeMap())
    },
  )

  router.add(
    {
      method: 'GET',
      url: '/v1/routes/outbox',
      tag: 'routing',
      admin: true,
      query: S.outboxQuery,
      summary:
        'Issuer outbox messages, newest first: forwarded requests, reversals and stand-in advices with their status, attempts and last error. Never the card number (sealed or clear) nor the expiry.',
      responses: R,
    },
    async (request) => {
      const query = parseWith(S.outboxQuery, request.query, 'query')
      const messages = await routing.listMessages({
        limit: query.limit,
        ...(query.routeId === undefined ? {} : { routeId: query.routeId }),
        ...(query.kind === undefined ? {} : { kind: query.kind }),
        ...(query.status === undefined ? {} : { status: query.status }),
      })
      return { items: messages.map(messageView) }
    },
  )
}

/** Maintenance windows: list, schedule, cancel. */
function registerWindowRoutes(router: Router, deps: HttpDeps, audit: Audit): void {
  const routing = deps.store.routing

  router.add(
    {
      method: 'GET',
      url: '/v1/routes/maintenance',
      tag: 'routing',
      admin: true,
      query: S.langQuery,
      summary: 'Upcoming and running maintenance windows of every route, soonest first.',
      responses: R,
    },
    async (request) => {
      parseWith(S.langQuery, request.query, 'query')
      const nowMs = deps.clock.nowMs()
      const windows = await routing.listWindows(nowMs)
      return { items: windows.slice(0, WINDOWS_LISTED_MAX).map((w) => windowView(w, nowMs)) }
    },
  )

  router.add(
    {
      method: 'GET',
      url: '/v1/routes/:id/maintenance',
      tag: 'routing',
      admin: true,
      query: S.langQuery,
      summary: "A route's upcoming and running maintenance windows, soonest first.",
      responses: { ...R, ...NOT_FOUND },
    },
    async (request) => {
      parseWith(S.langQuery, request.query, 'query')
      const { id } = parseWith(S.routeParams, request.params, 'path')
      if ((await routing.getRoute(id)) === null) notFound('route', id)
      const nowMs = deps.clock.nowMs()
      return { items: (await routing.listWindows(nowMs, id)).map((w) => windowView(w, nowMs)) }
    },
  )

  router.add(
    {
      method: 'POST',
      url: '/v1/routes/:id/maintenance',
      tag: 'routing',
      admin: true,
      actor: true,
      body: S.windowCreate,
      summary:
        'Schedule a maintenance window of a remote route {startsAt, endsAt (ISO 8601 instants), mode stand_in|decline (default stand_in), note}: endsAt after startsAt and in the future, at most 7 days long, starting at most 90 days ahead; no overlap with another window of the route. During it the route is down: purchases stand in within the STIP limits, or are declined with issuer_maintenance. Takes effect within a second.' +
        ACTOR_NOTE,
      responses: {
        ...R,
        ...NOT_FOUND,
        201: 'scheduled',
        409: 'a local route, an overlapping window, or too many windows',
      },
    },
    async (request, reply) => {
      const actor = actorOf(request)
      const { id } = parseWith(S.routeParams, request.params, 'path')
      const body = parseWith(S.windowCreate, request.body, 'body')
      const route = (await routing.getRoute(id)) ?? notFound('route', id)
      const nowMs = deps.clock.nowMs()
      const startsAtMs = Date.parse(body.startsAt)
      const endsAtMs = Date.parse(body.endsAt)
      const errors = windowTimeErrors(startsAtMs, endsAtMs, nowMs)
      if (errors.length > 0) invalid(errors)
      if (route.kind !== 'remote')
        conflict(
          'route_not_remote',
          'Not a remote route',
          `route ${id} is local: its cards never leave the switch, so it has no maintenance`,
        )
      const existing = await routing.listWindows(nowMs, id)
      const overlap = existing.find((w) => w.startsAtMs < endsAtMs && startsAtMs < w.endsAtMs)
      if (overlap !== undefined)
        conflict(
          'window_overlap',
          'Overlapping window',
          `window ${overlap.id} (${new Date(overlap.startsAtMs).toISOString()} to ${new Date(overlap.endsAtMs).toISOString()}) overlaps: cancel it first`,
        )
      if (existing.length >= WINDOWS_PER_ROUTE_MAX)
        conflict(
          'windows_max',
          'Too many windows',
          `at most ${WINDOWS_PER_ROUTE_MAX} upcoming windows per route`,
        )
      const window: MaintenanceWindow = {
        id: deps.ids.entityId('mw'),
        routeId: id,
        startsAtMs,
        endsAtMs,
        mode: body.mode,
        note: body.note,
        createdBy: actor,
        createdAtMs: nowMs,
      }
      const entry = audit(actor, 'maintenance_window.create', window.id, {
        routeId: id,
        window: windowView(window, nowMs),
      })
      ensureWritten(await routing.putWindow(window, entry), 'route')
      return reply.code(201).send(windowView(window, nowMs))
    },
  )

  router.add(
    {
      method: 'DELETE',
      url: '/v1/routes/maintenance/:windowId',
      tag: 'routing',
      admin: true,
      actor: true,
      summary:
        'Cancel an upcoming or running maintenance window; the route is back within a second.' +
        ACTOR_NOTE,
      responses: { ...R, ...NOT_FOUND },
    },
    async (request) => {
      const actor = actorOf(request)
      const { windowId } = parseWith(S.windowParams, request.params, 'path')
      const nowMs = deps.clock.nowMs()
      const window =
        (await routing.listWindows(nowMs)).find((w) => w.id === windowId) ??
        notFound('upcoming or running window', windowId)
      const entry = audit(actor, 'maintenance_window.cancel', windowId, {
        routeId: window.routeId,
        window: windowView(window, nowMs),
      })
      ensureWritten(await routing.cancelWindow(windowId, nowMs, entry), 'window')
      return { ...windowView(window, nowMs), cancelledAt: new Date(nowMs).toISOString() }
    },
  )
}
