import { conflict, notFound, OK, storedOneOf, type AdminWrite } from './support.js'
import type Database from 'better-sqlite3'
import { CURRENCIES } from '../../../core/money.js'
import type { Changes } from '../../../core/pipeline/snapshot.js'
import {
  BIN_ROUTES_MAX,
  issuerAccountId,
  LOCAL_ONLY,
  LOCAL_ROUTE_ID,
  ROUTE_KINDS,
  ROUTES_MAX,
  WINDOWS_PER_ROUTE_MAX,
  type BinRoute,
  type IssuerRoute,
  type MaintenanceWindow,
  type RoutingTable,
  type StipPolicy,
} from '../../../core/routes/model.js'
import {
  ISSUER_MESSAGE_KINDS,
  ISSUER_MESSAGE_STATUSES,
  type IssuerMessage,
  type IssuerMessageKind,
  type IssuerMessageStatus,
} from '../../../core/routes/outbox.js'
import type { RoutingStore } from '../../../ports/routing-store.js'
import type { AuditEntry, WriteResult } from '../../../ports/store.js'

/**
 * The routing tables in the SQLite store (migration `issuer_routing`). The batch path reads the
 * routing table (compiled once per generation) and the outbox rows a batch names, and writes the
 * outbox rows it changes, inside the batch's transaction; the rest is the RoutingStore port.
 */

const GENERATION_KEY = 'routing_generation'
const DEFAULT_ROUTE_KEY = 'routing_default'

interface RouteRow {
  id: string
  name: string
  bank_name: string
  kind: string
  host: string | null
  port: number | null
  timeout_ms: number
  stip_json: string
  created_at_ms: number
  updated_at_ms: number
}

interface WindowRow {
  id: string
  route_id: string
  starts_at_ms: number
  ends_at_ms: number
  mode: string
  note: string
  created_by: string
  created_at_ms: number
  cancelled_at_ms: number | null
}

interface MessageRow {
  id: string
  route_id: string
  kind: string
  transaction_id: string
  request_kind: string
  status: string
  attempts: number
  next_attempt_at_ms: number | null
  sealed_pan: string | null
  expiry: string
  stan: string
  transmission_time: string
  terminal_id: string
  merchant_id: string
  rrn: string
  amount_minor: number
  currency: string
  authorization_code: string | null
  original_mti: string | null
  stand_in_reason: string | null
  last_error: string | null
  created_at_ms: number
  updated_at_ms: number
  delivered_at_ms: number | null
}

const MESSAGE_COLUMNS = [
  'id',
  'route_id',
  'kind',
  'transaction_id',
  'request_kind',
  'status',
  'attempts',
  'next_attempt_at_ms',
  'sealed_pan',
  'expiry',
  'stan',
  'transmission_time',
  'terminal_id',
  'merchant_id',
  'rrn',
  'amount_minor',
  'currency',
  'authorization_code',
  'original_mti',
  'stand_in_reason',
  'last_error',
  'created_at_ms',
  'updated_at_ms',
  'delivered_at_ms',
] as const

function toRoute(row: RouteRow): IssuerRoute {
  return {
    id: row.id,
    name: row.name,
    bankName: row.bank_name,
    kind: storedOneOf(ROUTE_KINDS, row.kind, 'route kind'),
    host: row.host,
    port: row.port,
    timeoutMs: row.timeout_ms,
    stip: JSON.parse(row.stip_json) as StipPolicy,
    createdAtMs: row.created_at_ms,
    updatedAtMs: row.updated_at_ms,
  }
}

function toWindow(row: WindowRow): MaintenanceWindow {
  return {
    id: row.id,
    routeId: row.route_id,
    startsAtMs: row.starts_at_ms,
    endsAtMs: row.ends_at_ms,
    mode: row.mode === 'decline' ? 'decline' : 'stand_in',
    note: row.note,
    createdBy: row.created_by,
    createdAtMs: row.created_at_ms,
  }
}

function toMessage(row: MessageRow): IssuerMessage {
  return {
    id: row.id,
    routeId: row.route_id,
    kind: storedOneOf(ISSUER_MESSAGE_KINDS, row.kind, 'message kind'),
    transactionId: row.transaction_id,
    requestKind: row.request_kind === 'balance_inquiry' ? 'balance_inquiry' : 'purchase',
    status: storedOneOf(ISSUER_MESSAGE_STATUSES, row.status, 'message status'),
    attempts: row.attempts,
    nextAttemptAtMs: row.next_attempt_at_ms,
    sealedPan: row.sealed_pan,
    expiry: row.expiry,
    stan: row.stan,
    transmissionTime: row.transmission_time,
    terminalId: row.terminal_id,
    merchantId: row.merchant_id,
    rrn: row.rrn,
    amountMinor: row.amount_minor,
    currency: row.currency,
    authorizationCode: row.authorization_code,
    originalMti: row.original_mti,
    standInReason: row.stand_in_reason,
    lastError: row.last_error,
    createdAtMs: row.created_at_ms,
    updatedAtMs: row.updated_at_ms,
    deliveredAtMs: row.delivered_at_ms,
  }
}

function messageRow(m: IssuerMessage): MessageRow {
  return {
    id: m.id,
    route_id: m.routeId,
    kind: m.kind,
    transaction_id: m.transactionId,
    request_kind: m.requestKind,
    status: m.status,
    attempts: m.attempts,
    next_attempt_at_ms: m.nextAttemptAtMs,
    sealed_pan: m.sealedPan,
    expiry: m.expiry,
    stan: m.stan,
    transmission_time: m.transmissionTime,
    terminal_id: m.terminalId,
    merchant_id: m.merchantId,
    rrn: m.rrn,
    amount_minor: m.amountMinor,
    currency: m.currency,
    authorization_code: m.authorizationCode,
    original_mti: m.originalMti,
    stand_in_reason: m.standInReason,
    last_error: m.lastError,
    created_at_ms: m.createdAtMs,
    updated_at_ms: m.updatedAtMs,
    delivered_at_ms: m.deliveredAtMs,
  }
}

export class RoutingTables implements RoutingStore {
  private cached: RoutingTable = LOCAL_ONLY
  private readonly s

  constructor(
    db: Database.Database,
    private readonly adminWrite: AdminWrite,
  ) {
    const upsertMessage = `INSERT INTO issuer_messages (${MESSAGE_COLUMNS.join(', ')})
      VALUES (${MESSAGE_COLUMNS.map((c) => `@${c}`).join(', ')})
      ON CONFLICT (id) DO UPDATE SET ${MESSAGE_COLUMNS.filter((c) => c !== 'id')
        .map((c) => `${c} = excluded.${c}`)
        .join(', ')}`
    this.s = {
      setting: db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE key = ?'),
      setSetting: db.prepare<[string, string]>(
        'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ),
      routes: db.prepare<[], RouteRow>('SELECT * FROM issuer_routes ORDER BY id'),
      route: db.prepare<[string], RouteRow>('SELECT * FROM issuer_routes WHERE id = ?'),
      upsertRoute: db.prepare<[RouteRow]>(
        `INSERT INTO issuer_routes (id, name, bank_name, kind, host, port, timeout_ms, stip_json,
           created_at_ms, updated_at_ms)
         VALUES (@id, @name, @bank_name, @kind, @host, @port, @timeout_ms, @stip_json,
           @created_at_ms, @updated_at_ms)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, bank_name = excluded.bank_name,
           kind = excluded.kind, host = excluded.host, port = excluded.port,
           timeout_ms = excluded.timeout_ms, stip_json = excluded.stip_json,
           updated_at_ms = excluded.updated_at_ms`,
      ),
      ensureAccount: db.prepare<[string, string]>(
        `INSERT INTO accounts (id, kind, currency, credit_limit_minor, debits_pending_minor,
           debits_posted_minor, credits_pending_minor, credits_posted_minor)
         VALUES (?, 'funding', ?, 0, 0, 0, 0, 0) ON CONFLICT (id) DO NOTHING`,
      ),
      bins: db.prepare<[], { prefix: string; route_id: string }>(
        'SELECT prefix, route_id FROM bin_routes ORDER BY prefix',
      ),
      upsertBin: db.prepare<[string, string]>(
        'INSERT INTO bin_routes (prefix, route_id) VALUES (?, ?) ON CONFLICT (prefix) DO UPDATE SET route_id = excluded.route_id',
      ),
      deleteBin: db.prepare<[string]>('DELETE FROM bin_routes WHERE prefix = ?'),
      windows: db.prepare<[{ since: number; route: string | null }], WindowRow>(
        `SELECT * FROM maintenance_windows
         WHERE ends_at_ms > @since AND cancelled_at_ms IS NULL
           AND (@route IS NULL OR route_id = @route)
         ORDER BY starts_at_ms, id`,
      ),
      insertWindow: db.prepare<[WindowRow]>(
        `INSERT INTO maintenance_windows (id, route_id, starts_at_ms, ends_at_ms, mode, note,
           created_by, created_at_ms, cancelled_at_ms)
         VALUES (@id, @route_id, @starts_at_ms, @ends_at_ms, @mode, @note, @created_by,
           @created_at_ms, @cancelled_at_ms)`,
      ),
      cancelWindow: db.prepare<[number, string]>(
        'UPDATE maintenance_windows SET cancelled_at_ms = ? WHERE id = ? AND cancelled_at_ms IS NULL',
      ),
      messagesByIds: db.prepare<[string], MessageRow>(
        'SELECT * FROM issuer_messages WHERE id IN (SELECT value FROM json_each(?))',
      ),
      upsertMessage: db.prepare<[MessageRow]>(upsertMessage),
      message: db.prepare<[string], MessageRow>('SELECT * FROM issuer_messages WHERE id = ?'),
      due: db.prepare<[number, number], MessageRow>(
        `SELECT * FROM issuer_messages WHERE status = 'pending' AND next_attempt_at_ms <= ?
         ORDER BY next_attempt_at_ms, id LIMIT ?`,
      ),
      delivered: db.prepare<[number, number, string | null, string]>(
        // An advice keeps its sealed card number (erased after a day): a void may need it.
        `UPDATE issuer_messages SET status = 'delivered',
           sealed_pan = CASE WHEN kind = 'advice' THEN sealed_pan ELSE NULL END, delivered_at_ms = ?,
           updated_at_ms = ?, next_attempt_at_ms = NULL, last_error = COALESCE(?, last_error)
         WHERE id = ? AND status = 'pending'`,
      ),
      claim: db.prepare<[number, string, number, string, number]>(
        `UPDATE issuer_messages SET attempts = attempts + 1, next_attempt_at_ms = ?,
           last_error = ?, updated_at_ms = ? WHERE id = ? AND status = 'pending' AND attempts = ?`,
      ),
      park: db.prepare<[string, number, string]>(
        `UPDATE issuer_messages SET next_attempt_at_ms = NULL, last_error = ?, updated_at_ms = ?
         WHERE id = ? AND status = 'pending'`,
      ),
      reschedule: db.prepare<[number, number, string, number, string]>(
        `UPDATE issuer_messages SET attempts = ?, next_attempt_at_ms = ?, last_error = ?,
           updated_at_ms = ? WHERE id = ? AND status = 'pending'`,
      ),
      erase: db.prepare<[number]>(
        `UPDATE issuer_messages SET sealed_pan = NULL
         WHERE sealed_pan IS NOT NULL AND status IN ('answered', 'not_sent', 'delivered')
           AND updated_at_ms < ?`,
      ),
      list: db.prepare<
        [{ route: string | null; kind: string | null; status: string | null; limit: number }],
        MessageRow
      >(
        `SELECT * FROM issuer_messages
         WHERE (@route IS NULL OR route_id = @route) AND (@kind IS NULL OR kind = @kind)
           AND (@status IS NULL OR status = @status)
         ORDER BY created_at_ms DESC, id LIMIT @limit`,
      ),
      counts: db.prepare<[], { route_id: string; kind: string; status: string; count: number }>(
        `SELECT route_id, kind, status, COUNT(*) AS count FROM issuer_messages
         GROUP BY route_id, kind, status ORDER BY route_id, kind, status`,
      ),
    }
  }

  private generation(): number {
    const row = this.s.setting.get(GENERATION_KEY)
    return row === undefined ? 0 : Number(row.value)
  }

  private bump(): void {
    this.s.setSetting.run(GENERATION_KEY, String(this.generation() + 1))
  }

  /** The routing table for a batch, rebuilt only when a route, bin or default changed. */
  table(): RoutingTable {
    const generation = this.generation()
    if (generation === this.cached.generation) return this.cached
    const routes = new Map(this.s.routes.all().map((row) => [row.id, toRoute(row)]))
    const bins = new Map(this.s.bins.all().map((row) => [row.prefix, row.route_id]))
    const configured = this.s.setting.get(DEFAULT_ROUTE_KEY)?.value
    this.cached = {
      generation,
      routes,
      bins,
      defaultRouteId:
        configured === undefined ? LOCAL_ROUTE_ID : configured === '' ? null : configured,
    }
    return this.cached
  }

  messages(ids: ReadonlySet<string>): Map<string, IssuerMessage> {
    const map = new Map<string, IssuerMessage>()
    if (ids.size === 0) return map
    for (const row of this.s.messagesByIds.all(JSON.stringify([...ids])))
      map.set(row.id, toMessage(row))
    return map
  }

  /** A batch's outbox changes, inside its transaction. */
  write(changes: Changes): void {
    for (const message of changes.issuerMessages) this.s.upsertMessage.run(messageRow(message))
  }

  // ---- the port ------------------------------------------------------------------------------

  listRoutes(): Promise<readonly IssuerRoute[]> {
    return Promise.resolve().then(() => this.s.routes.all().map(toRoute))
  }

  getRoute(id: string): Promise<IssuerRoute | null> {
    return Promise.resolve().then(() => {
      const row = this.s.route.get(id)
      return row === undefined ? null : toRoute(row)
    })
  }

  putRoute(
    route: IssuerRoute,
    audit: AuditEntry,
    mode: 'create' | 'replace' | 'upsert' = 'upsert',
  ): Promise<WriteResult> {
    return this.adminWrite(audit, () => {
      const exists = this.s.route.get(route.id) !== undefined
      if (mode === 'create' && exists) return conflict(`route ${route.id} exists`)
      if (mode === 'replace' && !exists) return notFound(`no route ${route.id}`)
      if (!exists && this.s.routes.all().length >= ROUTES_MAX)
        return conflict(`at most ${ROUTES_MAX} routes`)
      this.s.upsertRoute.run({
        id: route.id,
        name: route.name,
        bank_name: route.bankName,
        kind: route.kind,
        host: route.host,
        port: route.port,
        timeout_ms: route.timeoutMs,
        stip_json: JSON.stringify(route.stip),
        created_at_ms: route.createdAtMs,
        updated_at_ms: route.updatedAtMs,
      })
      for (const currency of CURRENCIES)
        this.s.ensureAccount.run(issuerAccountId(route.id, currency.alpha), currency.alpha)
      this.bump()
      return OK
    })
  }

  listBins(): Promise<readonly BinRoute[]> {
    return Promise.resolve().then(() =>
      this.s.bins.all().map((row) => ({ prefix: row.prefix, routeId: row.route_id })),
    )
  }

  putBin(bin: BinRoute, audit: AuditEntry): Promise<WriteResult> {
    return this.adminWrite(audit, () => {
      if (bin.routeId !== LOCAL_ROUTE_ID && this.s.route.get(bin.routeId) === undefined)
        return notFound(`no route ${bin.routeId}`)
      const bins = this.s.bins.all()
      if (!bins.some((b) => b.prefix === bin.prefix) && bins.length >= BIN_ROUTES_MAX)
        return conflict(`at most ${BIN_ROUTES_MAX} BIN prefixes`)
      this.s.upsertBin.run(bin.prefix, bin.routeId)
      this.bump()
      return OK
    })
  }

  deleteBin(prefix: string, audit: AuditEntry): Promise<WriteResult> {
    return this.adminWrite(audit, () => {
      if (this.s.deleteBin.run(prefix).changes !== 1) return notFound(`no route for BIN ${prefix}`)
      this.bump()
      return OK
    })
  }

  getDefaultRoute(): Promise<string | null> {
    return Promise.resolve().then(() => this.table().defaultRouteId)
  }

  setDefaultRoute(routeId: string | null, audit: AuditEntry): Promise<WriteResult> {
    return this.adminWrite(audit, () => {
      if (routeId !== null && routeId !== LOCAL_ROUTE_ID && this.s.route.get(routeId) === undefined)
        return notFound(`no route ${routeId}`)
      this.s.setSetting.run(DEFAULT_ROUTE_KEY, routeId ?? '')
      this.bump()
      return OK
    })
  }

  listWindows(sinceMs: number, routeId?: string): Promise<readonly MaintenanceWindow[]> {
    return Promise.resolve().then(() =>
      this.s.windows.all({ since: sinceMs, route: routeId ?? null }).map(toWindow),
    )
  }

  putWindow(window: MaintenanceWindow, audit: AuditEntry): Promise<WriteResult> {
    return this.adminWrite(audit, () => {
      if (this.s.route.get(window.routeId) === undefined)
        return notFound(`no route ${window.routeId}`)
      const upcoming = this.s.windows.all({ since: window.createdAtMs, route: window.routeId })
      const overlap = upcoming.find(
        (w) => w.starts_at_ms < window.endsAtMs && window.startsAtMs < w.ends_at_ms,
      )
      if (overlap !== undefined) return conflict(`window ${overlap.id} overlaps: cancel it first`)
      if (upcoming.length >= WINDOWS_PER_ROUTE_MAX)
        return conflict(`at most ${WINDOWS_PER_ROUTE_MAX} upcoming windows per route`)
      this.s.insertWindow.run({
        id: window.id,
        route_id: window.routeId,
        starts_at_ms: window.startsAtMs,
        ends_at_ms: window.endsAtMs,
        mode: window.mode,
        note: window.note,
        created_by: window.createdBy,
        created_at_ms: window.createdAtMs,
        cancelled_at_ms: null,
      })
      return OK
    })
  }

  cancelWindow(id: string, atMs: number, audit: AuditEntry): Promise<WriteResult> {
    return this.adminWrite(audit, () =>
      this.s.cancelWindow.run(atMs, id).changes === 1 ? OK : notFound(`no open window ${id}`),
    )
  }

  getMessage(id: string): Promise<IssuerMessage | null> {
    return Promise.resolve().then(() => {
      const row = this.s.message.get(id)
      return row === undefined ? null : toMessage(row)
    })
  }

  dueMessages(nowMs: number, limit: number): Promise<readonly IssuerMessage[]> {
    return Promise.resolve().then(() => this.s.due.all(nowMs, limit).map(toMessage))
  }

  markDelivered(id: string, nowMs: number, note?: string): Promise<WriteResult> {
    return Promise.resolve().then(() =>
      this.s.delivered.run(nowMs, nowMs, note ?? null, id).changes === 1
        ? OK
        : notFound(`no pending message ${id}`),
    )
  }

  reschedule(
    id: string,
    attempts: number,
    nextAttemptAtMs: number,
    error: string,
    nowMs: number,
  ): Promise<WriteResult> {
    return Promise.resolve().then(() =>
      this.s.reschedule.run(attempts, nextAttemptAtMs, error.slice(0, 500), nowMs, id).changes === 1
        ? OK
        : notFound(`no pending message ${id}`),
    )
  }

  claimMessage(
    id: string,
    expectedAttempts: number,
    leaseUntilMs: number,
    note: string,
    nowMs: number,
  ): Promise<boolean> {
    return Promise.resolve().then(
      () =>
        this.s.claim.run(leaseUntilMs, note.slice(0, 500), nowMs, id, expectedAttempts).changes ===
        1,
    )
  }

  parkMessage(id: string, error: string, nowMs: number): Promise<WriteResult> {
    return Promise.resolve().then(() =>
      this.s.park.run(error.slice(0, 500), nowMs, id).changes === 1
        ? OK
        : notFound(`no pending message ${id}`),
    )
  }

  eraseSealedPans(beforeMs: number): Promise<number> {
    return Promise.resolve().then(() => this.s.erase.run(beforeMs).changes)
  }

  listMessages(filter: {
    readonly routeId?: string
    readonly kind?: IssuerMessageKind
    readonly status?: IssuerMessageStatus
    readonly limit: number
  }): Promise<readonly IssuerMessage[]> {
    return Promise.resolve().then(() =>
      this.s.list
        .all({
          route: filter.routeId ?? null,
          kind: filter.kind ?? null,
          status: filter.status ?? null,
          limit: Math.max(1, Math.min(filter.limit, 1_000)),
        })
        .map(toMessage),
    )
  }

  countMessages(): Promise<
    readonly {
      routeId: string
      kind: IssuerMessageKind
      status: IssuerMessageStatus
      count: number
    }[]
  > {
    return Promise.resolve().then(() =>
      this.s.counts.all().map((row) => ({
        routeId: row.route_id,
        kind: storedOneOf(ISSUER_MESSAGE_KINDS, row.kind, 'message kind'),
        status: storedOneOf(ISSUER_MESSAGE_STATUSES, row.status, 'message status'),
        count: row.count,
      })),
    )
  }
}
