import type { CardType } from '../model.js'

/**
 * Issuer routes: where the funds decision for a card is made. `local`: Tollgate's own ledger
 * (issuer-processor mode). `remote`: an issuer host over ISO 8583 (acquirer-switch mode); the
 * money Tollgate records for it moves between the route's settlement account (what the issuer
 * owes) and the clearing account.
 */
export const ROUTE_KINDS = ['local', 'remote'] as const
export type RouteKind = (typeof ROUTE_KINDS)[number]

/** What stand-in processing (STIP) may approve while a remote route is unavailable. */
export interface StipPolicy {
  readonly enabled: boolean
  /** The largest single stand-in approval, minor units. */
  readonly perTransactionMaxMinor: number
  /** Per card and business day, across stand-in approvals only. */
  readonly dailyAmountMaxMinor: number
  readonly dailyCountMax: number
  readonly cardTypes: readonly CardType[]
  readonly currency: string
}

export const STIP_DISABLED: StipPolicy = {
  enabled: false,
  perTransactionMaxMinor: 0,
  dailyAmountMaxMinor: 0,
  dailyCountMax: 0,
  cardTypes: [],
  currency: 'CNY',
}

export interface IssuerRoute {
  readonly id: string
  readonly name: string
  /** The bank, as explanations name it (工商银行, ICBC…). */
  readonly bankName: string
  readonly kind: RouteKind
  /** Remote routes: the host. Ignored for local. */
  readonly host: string | null
  readonly port: number | null
  readonly timeoutMs: number
  readonly stip: StipPolicy
  readonly createdAtMs: number
  readonly updatedAtMs: number
}

/** A BIN prefix (3–10 digits) routed to a route; the longest matching prefix wins. */
export interface BinRoute {
  readonly prefix: string
  readonly routeId: string
}

/** A scheduled maintenance window of a route. */
export interface MaintenanceWindow {
  readonly id: string
  readonly routeId: string
  readonly startsAtMs: number
  readonly endsAtMs: number
  /** During the window: approve within stand-in limits, or decline everything. */
  readonly mode: 'stand_in' | 'decline'
  readonly note: string
  readonly createdBy: string
  readonly createdAtMs: number
}

/** Why a remote route cannot take a request right now. */
export type RouteDownReason = 'maintenance' | 'circuit_open' | 'no_connection'

/** A route's state for one batch, computed by the app from its health and maintenance windows. */
export type RouteStatus =
  | { readonly state: 'up' }
  | {
      readonly state: 'down'
      readonly why: RouteDownReason
      /** The window, when `why` is maintenance. */
      readonly maintenance?: Pick<MaintenanceWindow, 'id' | 'endsAtMs' | 'mode' | 'note'>
    }

/** The routing table as the core reads it. */
export interface RoutingTable {
  readonly generation: number
  readonly routes: ReadonlyMap<string, IssuerRoute>
  /** Prefix → route id. */
  readonly bins: ReadonlyMap<string, string>
  /** The route of a card no prefix matches; null: such cards get `no_route_to_issuer`. */
  readonly defaultRouteId: string | null
}

/** No table configured: every card goes to the local ledger, as before routing existed. */
export const LOCAL_ONLY: RoutingTable = {
  generation: 0,
  routes: new Map(),
  bins: new Map(),
  defaultRouteId: null,
}

export const LOCAL_ROUTE_ID = 'local'
/** Bounds the store enforces inside its write transactions (the API checks them too). */
export const ROUTES_MAX = 64
export const BIN_ROUTES_MAX = 10_000
export const WINDOWS_PER_ROUTE_MAX = 32
export const BIN_PREFIX_MIN = 3
export const BIN_PREFIX_MAX = 10

/** Where a card goes: the local ledger, a remote route, or nowhere. */
export type RouteChoice =
  | { readonly kind: 'local'; readonly route: IssuerRoute | null; readonly prefix: string | null }
  | { readonly kind: 'remote'; readonly route: IssuerRoute; readonly prefix: string | null }
  | { readonly kind: 'none' }

export function chooseRoute(table: RoutingTable, pan: string): RouteChoice {
  if (table.routes.size === 0) return { kind: 'local', route: null, prefix: null }
  let routeId: string | undefined
  let prefix: string | null = null
  for (let length = Math.min(BIN_PREFIX_MAX, pan.length); length >= BIN_PREFIX_MIN; length--) {
    const candidate = pan.slice(0, length)
    const found = table.bins.get(candidate)
    if (found !== undefined) {
      routeId = found
      prefix = candidate
      break
    }
  }
  routeId ??= table.defaultRouteId ?? undefined
  if (routeId === undefined) return { kind: 'none' }
  if (routeId === LOCAL_ROUTE_ID) return { kind: 'local', route: null, prefix }
  const route = table.routes.get(routeId)
  if (route === undefined) return { kind: 'none' }
  return route.kind === 'local'
    ? { kind: 'local', route, prefix }
    : { kind: 'remote', route, prefix }
}

/** The account a remote route's approvals are booked against (what the issuer owes). */
export function issuerAccountId(routeId: string, currency: string): string {
  return `issuer:${routeId}:${currency}`
}

/** The route's maintenance window at `nowMs`, if one is running. */
export function activeWindow(
  windows: readonly MaintenanceWindow[],
  routeId: string,
  nowMs: number,
): MaintenanceWindow | null {
  let found: MaintenanceWindow | null = null
  for (const w of windows) {
    if (w.routeId !== routeId || w.startsAtMs > nowMs || w.endsAtMs <= nowMs) continue
    if (found === null || w.endsAtMs > found.endsAtMs) found = w
  }
  return found
}
