import type { BinRoute, IssuerRoute, MaintenanceWindow } from '../core/routes/model.js'
import type {
  IssuerMessage,
  IssuerMessageKind,
  IssuerMessageStatus,
} from '../core/routes/outbox.js'
import type { AuditEntry, WriteResult } from './store.js'

/**
 * Issuer routes, the BIN routing table, maintenance windows and the issuer outbox. Part of the
 * store (`Store.routing`): a route change commits with its audit entry, and the outbox rows a
 * batch creates commit with the batch.
 */
export interface RoutingStore {
  listRoutes(): Promise<readonly IssuerRoute[]>
  getRoute(id: string): Promise<IssuerRoute | null>
  /**
   * Writes a route and creates its settlement accounts in every currency. `create`: conflict if
   * it exists (or the route bound is reached); `replace`: not_found if it does not; `upsert`
   * either. Checked inside the write transaction.
   */
  putRoute(
    route: IssuerRoute,
    audit: AuditEntry,
    mode?: 'create' | 'replace' | 'upsert',
  ): Promise<WriteResult>

  listBins(): Promise<readonly BinRoute[]>
  /** Routes a BIN prefix (replacing its route); the route must exist. */
  putBin(bin: BinRoute, audit: AuditEntry): Promise<WriteResult>
  deleteBin(prefix: string, audit: AuditEntry): Promise<WriteResult>
  /** The route of cards no prefix matches: a route id, `local`, or null (no route). */
  getDefaultRoute(): Promise<string | null>
  setDefaultRoute(routeId: string | null, audit: AuditEntry): Promise<WriteResult>

  /** Windows that end after `sinceMs` (not cancelled), soonest first; all routes or one. */
  listWindows(sinceMs: number, routeId?: string): Promise<readonly MaintenanceWindow[]>
  /** Adds a window; conflict if it overlaps another window of the route or passes the bound. */
  putWindow(window: MaintenanceWindow, audit: AuditEntry): Promise<WriteResult>
  cancelWindow(id: string, atMs: number, audit: AuditEntry): Promise<WriteResult>

  getMessage(id: string): Promise<IssuerMessage | null>
  /** Pending reversals and advices due at `nowMs`, oldest due first. */
  dueMessages(nowMs: number, limit: number): Promise<readonly IssuerMessage[]>
  /**
   * The issuer acknowledged a pending message: delivered, and its sealed card number erased.
   * `note`: what the acknowledgement said when it was not a plain 00 (kept as the last error).
   */
  markDelivered(id: string, nowMs: number, note?: string): Promise<WriteResult>
  /**
   * Claims a pending message for one send: counts the attempt and leases it until `leaseUntilMs`,
   * only if it is still pending with `expectedAttempts` attempts (a batch may have dropped or
   * changed it since it was read). True: send it; false: someone else decided, do not send.
   */
  claimMessage(
    id: string,
    expectedAttempts: number,
    leaseUntilMs: number,
    note: string,
    nowMs: number,
  ): Promise<boolean>
  /**
   * Stops retrying a pending message an operator must settle with the bank (it cannot be sent
   * as it is): kept pending with no next attempt and the reason as its last error.
   */
  parkMessage(id: string, error: string, nowMs: number): Promise<WriteResult>
  /** Another attempt failed: count it and try again at `nextAttemptAtMs`. */
  reschedule(
    id: string,
    attempts: number,
    nextAttemptAtMs: number,
    error: string,
    nowMs: number,
  ): Promise<WriteResult>
  /** Erases the sealed card numbers of requests answered before `beforeMs`. Returns how many. */
  eraseSealedPans(beforeMs: number): Promise<number>
  listMessages(filter: {
    readonly routeId?: string
    readonly kind?: IssuerMessageKind
    readonly status?: IssuerMessageStatus
    readonly limit: number
  }): Promise<readonly IssuerMessage[]>
  /** Counts by route, kind and status: what a drill and the health view report. */
  countMessages(): Promise<
    readonly {
      routeId: string
      kind: IssuerMessageKind
      status: IssuerMessageStatus
      count: number
    }[]
  >
}
