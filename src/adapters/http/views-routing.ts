import {
  LOCAL_ROUTE_ID,
  type IssuerRoute,
  type MaintenanceWindow,
  type RouteStatus,
} from '../../core/routes/model.js'
import {
  ISSUER_MESSAGE_KINDS,
  ISSUER_MESSAGE_STATUSES,
  type IssuerMessage,
  type IssuerMessageKind,
  type IssuerMessageStatus,
} from '../../core/routes/outbox.js'
import type { RouteHealthView } from '../../ports/issuer-gateway.js'
import { money } from './views.js'

/**
 * JSON views of issuer routing. An outbox message never shows its sealed card number (nor the
 * expiry): the terminal, STAN, RRN and amount identify it to an operator.
 */

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString())

export function routeView(r: IssuerRoute) {
  return {
    id: r.id,
    name: r.name,
    bankName: r.bankName,
    kind: r.kind,
    host: r.host,
    port: r.port,
    timeoutMs: r.timeoutMs,
    stip: {
      enabled: r.stip.enabled,
      perTransactionMax: money(r.stip.perTransactionMaxMinor, r.stip.currency),
      dailyAmountMax: money(r.stip.dailyAmountMaxMinor, r.stip.currency),
      dailyCountMax: r.stip.dailyCountMax,
      cardTypes: [...r.stip.cardTypes],
      currency: r.stip.currency,
    },
    createdAt: iso(r.createdAtMs),
    updatedAt: iso(r.updatedAtMs),
  }
}

export function windowView(w: MaintenanceWindow, nowMs: number) {
  return {
    id: w.id,
    routeId: w.routeId,
    startsAt: iso(w.startsAtMs),
    endsAt: iso(w.endsAtMs),
    mode: w.mode,
    note: w.note,
    running: w.startsAtMs <= nowMs && nowMs < w.endsAtMs,
    createdBy: w.createdBy,
    createdAt: iso(w.createdAtMs),
  }
}

/**
 * What the switch does with the route's cards this instant. `unknown`: a remote route with no
 * link yet (the links pick up route changes every second) or no links in this process.
 */
export type RouteStatusView =
  | { readonly state: 'up' }
  | {
      readonly state: 'down'
      readonly why: string
      readonly maintenance: ReturnType<typeof maintenanceView> | null
    }
  | { readonly state: 'unknown'; readonly why: string }

function maintenanceView(m: NonNullable<Extract<RouteStatus, { state: 'down' }>['maintenance']>) {
  return { id: m.id, endsAt: iso(m.endsAtMs), mode: m.mode, note: m.note }
}

export function statusView(route: IssuerRoute, health: RouteHealthView | null): RouteStatusView {
  if (route.kind === 'local') return { state: 'up' }
  if (health === null)
    return { state: 'unknown', why: 'no link yet: route changes are picked up within a second' }
  const status = health.status
  if (status.state === 'up') return { state: 'up' }
  return {
    state: 'down',
    why: status.why,
    maintenance: status.maintenance === undefined ? null : maintenanceView(status.maintenance),
  }
}

type Counts = Record<IssuerMessageKind, Record<IssuerMessageStatus, number>>

/** Outbox counts of one route by kind and status, every pair present (zero when none). */
export function outboxCounts(
  rows: readonly {
    routeId: string
    kind: IssuerMessageKind
    status: IssuerMessageStatus
    count: number
  }[],
  routeId: string,
): Counts {
  const zero = () =>
    Object.fromEntries(ISSUER_MESSAGE_STATUSES.map((s) => [s, 0])) as Record<
      IssuerMessageStatus,
      number
    >
  const counts = Object.fromEntries(ISSUER_MESSAGE_KINDS.map((k) => [k, zero()])) as Counts
  for (const row of rows) if (row.routeId === routeId) counts[row.kind][row.status] += row.count
  return counts
}

const record = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {}
const numberOrNull = (value: unknown): number | null => (typeof value === 'number' ? value : null)

/**
 * The few figures of a link's health a table shows (its full health is in the route's detail):
 * the breaker, signed-on connections and answer latency over the health window.
 */
export function linkSummary(link: unknown) {
  if (link === null || link === undefined) return null
  const health = record(link)
  const breaker = record(health.breaker)
  const connections = record(health.connections)
  const window = record(health.window)
  const latency = record(window.latencyMs)
  return {
    linkStatus: typeof health.status === 'string' ? health.status : null,
    breaker: typeof breaker.state === 'string' ? breaker.state : null,
    signedOn: numberOrNull(connections.signedOn),
    poolSize: numberOrNull(connections.poolSize),
    latencyP50Ms: numberOrNull(latency.p50),
    latencyP99Ms: numberOrNull(latency.p99),
    timeoutRate: numberOrNull(window.timeoutRate),
  }
}

/** An outbox message for an operator: never the sealed card number, never the expiry. */
export function messageView(m: IssuerMessage) {
  return {
    id: m.id,
    routeId: m.routeId,
    kind: m.kind,
    transactionId: m.transactionId,
    requestKind: m.requestKind,
    status: m.status,
    attempts: m.attempts,
    nextAttemptAt: iso(m.nextAttemptAtMs),
    terminalId: m.terminalId,
    merchantId: m.merchantId,
    stan: m.stan,
    transmissionTime: m.transmissionTime,
    rrn: m.rrn,
    amount: money(m.amountMinor, m.currency),
    currency: m.currency,
    authorizationCode: m.authorizationCode,
    originalMti: m.originalMti,
    lastError: m.lastError,
    createdAt: iso(m.createdAtMs),
    updatedAt: iso(m.updatedAtMs),
    deliveredAt: iso(m.deliveredAtMs),
  }
}

/** Where a BIN or the default sends cards, with the bank for a reader. */
export function targetView(routeId: string | null, routes: ReadonlyMap<string, IssuerRoute>) {
  if (routeId === null) return { routeId: null, bankName: null, kind: null }
  if (routeId === LOCAL_ROUTE_ID) return { routeId, bankName: null, kind: 'local' as const }
  const route = routes.get(routeId)
  return { routeId, bankName: route?.bankName ?? null, kind: route?.kind ?? null }
}
