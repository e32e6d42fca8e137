import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import { createIssuerClient, type IssuerClient } from '../adapters/issuer/client.js'
import type { IssuerLogger } from '../adapters/issuer/logger.js'
import type { IssuerRequest } from '../adapters/issuer/protocol.js'
import { findCurrency } from '../core/money.js'
import type { IssuerOutcome } from '../core/pipeline/requests.js'
import {
  activeWindow,
  type IssuerRoute,
  type MaintenanceWindow,
  type RouteStatus,
} from '../core/routes/model.js'
import { nextAttemptAt, type IssuerMessage } from '../core/routes/outbox.js'
import type { Clock } from '../ports/clock.js'
import type { IssuerGateway, IssuerHealth, RouteHealthView } from '../ports/issuer-gateway.js'
import type { Store } from '../ports/store.js'

/**
 * The issuer links of a running switch: one client (connection pool, breaker, health) per
 * remote route, the state of every route for each batch (health and maintenance windows), card
 * numbers sealed for the outbox, and the outbox sender that delivers reversals and stand-in
 * advices until the issuer acknowledges them — across restarts, since the outbox is stored.
 */

const REFRESH_MS = 1_000
const OUTBOX_TICK_MS = 200
const OUTBOX_BATCH = 32
/** Sealed card numbers of answered requests are kept for a day: a void may need them. */
const SEALED_RETENTION_MS = 86_400_000
/** While a message is being sent, the outbox does not pick it again for this long. */
const SEND_LEASE_MS = 60_000
/**
 * Answers to a reversal or an advice that are refusals of the message itself (12 invalid
 * transaction, 14 invalid card number, 30 format error): parked for an operator, never counted as
 * delivered. "Nothing to reverse" (25) and the like still acknowledge.
 */
const MALFORMED_REFUSALS: ReadonlySet<string> = new Set(['12', '14', '30'])

/** AES-256-GCM with a key derived from the card-token key: base64url(iv | tag | ciphertext). */
export class PanSealer {
  private readonly key: Buffer

  constructor(cardTokenKey: Buffer) {
    this.key = Buffer.from(hkdfSync('sha256', cardTokenKey, 'tollgate', 'pan-seal-v1', 32))
  }

  seal(pan: string): string {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.key, iv)
    const body = Buffer.concat([cipher.update(pan, 'utf8'), cipher.final()])
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')
  }

  /** The card number, or null if the text was not sealed with this key (or was tampered with). */
  unseal(sealed: string): string | null {
    try {
      const bytes = Buffer.from(sealed, 'base64url')
      if (bytes.length < 29) return null
      const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, 12))
      decipher.setAuthTag(bytes.subarray(12, 28))
      return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8')
    } catch {
      return null
    }
  }
}

export interface IssuerLinksOptions {
  readonly clock: Clock
  readonly logger: IssuerLogger
  readonly sealer: PanSealer
  /** Field 32 of every message: this acquirer's institution id. */
  readonly acquirerId: string
  readonly poolSize: number
  readonly echoIntervalMs: number
}

interface Link {
  readonly route: IssuerRoute
  readonly client: IssuerClient
}

function sameLink(a: IssuerRoute, b: IssuerRoute): boolean {
  return a.host === b.host && a.port === b.port && a.timeoutMs === b.timeoutMs
}

export class IssuerLinks implements IssuerGateway, IssuerHealth {
  private readonly links = new Map<string, Link>()
  private windows: readonly MaintenanceWindow[] = []
  private timers: NodeJS.Timeout[] = []
  private sending = false
  private closed = false

  constructor(
    private readonly store: Store,
    private readonly options: IssuerLinksOptions,
  ) {}

  /** Loads the routes and windows, connects, and starts the refresh and outbox loops. */
  async start(): Promise<void> {
    await this.refresh()
    const every = (ms: number, run: () => Promise<void>) => {
      const timer = setInterval(() => {
        run().catch((error: unknown) =>
          this.options.logger.error({ err: error }, 'issuer link housekeeping failed'),
        )
      }, ms)
      timer.unref()
      this.timers.push(timer)
    }
    every(REFRESH_MS, () => this.refresh())
    every(OUTBOX_TICK_MS, () => this.deliver())
    every(60_000, async () => {
      await this.store.routing.eraseSealedPans(this.options.clock.nowMs() - SEALED_RETENTION_MS)
    })
  }

  /** Picks up route changes (new, changed, removed) and the maintenance windows. */
  async refresh(): Promise<void> {
    if (this.closed) return
    const nowMs = this.options.clock.nowMs()
    const routes = (await this.store.routing.listRoutes()).filter((r) => r.kind === 'remote')
    this.windows = await this.store.routing.listWindows(nowMs)
    const wanted = new Map(routes.map((r) => [r.id, r]))
    for (const [id, link] of this.links) {
      const next = wanted.get(id)
      if (next === undefined || !sameLink(next, link.route)) {
        this.links.delete(id)
        await link.client.close()
      }
    }
    for (const route of routes) {
      const link = this.links.get(route.id)
      if (link !== undefined) {
        this.links.set(route.id, { route, client: link.client })
        continue
      }
      if (route.host === null || route.port === null) continue
      const client = createIssuerClient(
        {
          name: route.id,
          host: route.host,
          port: route.port,
          dialect: 'iso87-binary',
          framing: 'binary2',
          poolSize: this.options.poolSize,
          requestTimeoutMs: route.timeoutMs,
          echoIntervalMs: this.options.echoIntervalMs,
          acquirerId: this.options.acquirerId,
        },
        { clock: this.options.clock, random: Math.random, logger: this.options.logger },
      )
      this.links.set(route.id, { route, client })
    }
  }

  get hasRemoteRoutes(): boolean {
    return this.links.size > 0
  }

  routeStatus(nowMs: number): ReadonlyMap<string, RouteStatus> {
    const status = new Map<string, RouteStatus>()
    for (const [id, link] of this.links) status.set(id, this.statusOf(id, link, nowMs))
    return status
  }

  private statusOf(id: string, link: Link, nowMs: number): RouteStatus {
    const window = activeWindow(this.windows, id, nowMs)
    if (window !== null)
      return {
        state: 'down',
        why: 'maintenance',
        maintenance: {
          id: window.id,
          endsAtMs: window.endsAtMs,
          mode: window.mode,
          note: window.note,
        },
      }
    // Asked for every batch: the status alone, not the whole health report.
    const status = link.client.status()
    // Half-open lets only the breaker's probes (and echoes) through: for sales the route is still
    // down, so they stand in rather than be refused at send time.
    if (status === 'circuit_open' || status === 'circuit_half_open')
      return { state: 'down', why: 'circuit_open' }
    if (status === 'down') return { state: 'down', why: 'no_connection' }
    return { state: 'up' }
  }

  sealPan(pan: string): string | undefined {
    return this.links.size > 0 ? this.options.sealer.seal(pan) : undefined
  }

  async send(message: IssuerMessage, pan: string): Promise<IssuerOutcome> {
    const link = this.links.get(message.routeId)
    if (link === undefined) return { type: 'not_sent', why: `route ${message.routeId} has no link` }
    const started = this.options.clock.nowMs()
    const result = await link.client.send(requestOf(message, pan, this.options.acquirerId))
    const latencyMs = this.options.clock.nowMs() - started
    switch (result.type) {
      case 'answered':
        return {
          type: 'answered',
          responseCode: result.answer.responseCode,
          authorizationCode: result.answer.authorizationCode,
          balanceMinor: result.answer.balanceMinor,
          latencyMs: result.latencyMs,
        }
      case 'timeout':
        return { type: 'timeout', latencyMs }
      case 'rejected':
        // The issuer answered something unreadable: whether it approved is unknown. Reverse.
        return { type: 'timeout', latencyMs }
      case 'unavailable':
        // Written and then the pool closed: unknown, reverse. Anything else never left.
        if (result.why === 'closed_in_flight') return { type: 'timeout', latencyMs }
        return {
          type: 'not_sent',
          why: `${result.why}${result.detail === undefined ? '' : `: ${result.detail}`}`,
          // The route went down after the batch saw it up: the sale may stand in.
          ...(result.why === 'circuit_open' || result.why === 'no_connection'
            ? { routeDown: result.why }
            : {}),
        }
    }
  }

  /** One pass of the outbox: sends what is due, marks what the issuer acknowledged. */
  async deliver(): Promise<void> {
    // Without a link there is nothing to deliver to: no outbox query every tick.
    if (this.sending || this.closed || this.links.size === 0) return
    this.sending = true
    try {
      const nowMs = this.options.clock.nowMs()
      const due = await this.store.routing.dueMessages(nowMs, OUTBOX_BATCH)
      await Promise.all(due.map((message) => this.deliverOne(message, nowMs)))
    } finally {
      this.sending = false
    }
  }

  private async deliverOne(message: IssuerMessage, nowMs: number): Promise<void> {
    // `attempts` counts messages written to the bank: it picks the repeat MTI (0420, 0221 …).
    const wait = (attempts: number, error: string) =>
      this.store.routing.reschedule(
        message.id,
        attempts,
        nextAttemptAt(nowMs, Math.max(1, attempts)),
        error,
        this.options.clock.nowMs(),
      )
    const link = this.links.get(message.routeId)
    if (link === undefined) {
      await wait(message.attempts, `route ${message.routeId} has no link`)
      return
    }
    const status = this.statusOf(message.routeId, link, nowMs)
    if (status.state === 'down') {
      await wait(message.attempts, `route ${status.why}`)
      return
    }
    // The reversal of a stand-in sale waits for its advice: the bank must book before it undoes.
    if (message.kind === 'reversal' && message.originalMti === '0220') {
      const advice = await this.store.routing.getMessage(`advice:${message.transactionId}`)
      if (advice?.status === 'pending') {
        await wait(message.attempts, 'waiting for the advice of the sale it reverses')
        return
      }
    }
    // A message must name the card: without it the bank cannot match it, and would refuse it in
    // a way that could pass for an acknowledgement. Never sent; an operator settles it.
    const pan = message.sealedPan === null ? null : this.options.sealer.unseal(message.sealedPan)
    if (pan === null || pan === '') {
      await this.park(message, 'the card number this message needs is no longer kept', nowMs)
      return
    }
    // Claimed (and counted) before the write, only if still as read: a void that comes now must
    // know the advice may be at the bank, and one that came since has dropped it (not sent).
    // This commit is also what makes sending safe: the batch worker's commits are synced by the
    // main thread after the fact (log-sync.ts), so the message read above may not be on disk
    // yet; this connection commits with synchronous=FULL, and its fsync of the log covers every
    // frame written before, the message's batch included. Nothing is sent before it returns.
    const claimed = await this.store.routing.claimMessage(
      message.id,
      message.attempts,
      nowMs + SEND_LEASE_MS,
      message.lastError ?? 'sending',
      nowMs,
    )
    if (!claimed) return
    const retry = (error: string) => wait(message.attempts + 1, error)
    const request = requestOf(message, pan, this.options.acquirerId)
    const result = await link.client.send(request, message.attempts)
    if (result.type === 'answered') {
      const code = result.answer.responseCode
      if (code === '91' || code === '96') {
        await retry(`issuer answered ${code}`)
        return
      }
      // Refused as malformed or naming no such card or transaction type: not an acknowledgement
      // (the bank may still hold the money) and repeating will not change it.
      if (MALFORMED_REFUSALS.has(code)) {
        await this.park(message, `the bank refused it with ${code}: settle it with the bank`, nowMs)
        return
      }
      // Any other answer acknowledges: 00, or "nothing to reverse" (25, 94 …). An advice the
      // bank acknowledged with a refusal is still delivered, and the code stays visible.
      const note = code === '00' ? undefined : `acknowledged with ${code}`
      if (note !== undefined && message.kind === 'advice')
        this.options.logger.warn(
          { transactionId: message.transactionId, route: message.routeId, code },
          'the bank acknowledged a stand-in advice with a refusal: check the sale with the bank',
        )
      await this.store.routing.markDelivered(message.id, this.options.clock.nowMs(), note)
      return
    }
    await retry(
      result.type === 'timeout' ? `no answer (${result.why})` : `${result.type}: ${result.why}`,
    )
  }

  /** Stops retrying a message an operator must settle with the bank, and says so in the log. */
  private async park(message: IssuerMessage, why: string, nowMs: number): Promise<void> {
    await this.store.routing.parkMessage(message.id, why, nowMs)
    this.options.logger.error(
      { messageId: message.id, route: message.routeId, transactionId: message.transactionId, why },
      'an issuer message cannot be delivered as it is: settle it with the bank',
    )
  }

  routes(nowMs: number): readonly RouteHealthView[] {
    return [...this.links.keys()].flatMap((id) => {
      const view = this.route(id, nowMs)
      return view === null ? [] : [view]
    })
  }

  route(routeId: string, nowMs: number): RouteHealthView | null {
    const link = this.links.get(routeId)
    if (link === undefined) return null
    return {
      routeId,
      status: this.statusOf(routeId, link, nowMs),
      link: link.client.health(),
      history: link.client.history(),
    }
  }

  /** Waits until every route has a signed-on connection (tests, drills), false on timeout. */
  async whenReady(timeoutMs: number): Promise<boolean> {
    const ready = await Promise.all(
      [...this.links.values()].map((l) => l.client.whenSignedOn(1, timeoutMs)),
    )
    return ready.every(Boolean)
  }

  async close(): Promise<void> {
    this.closed = true
    for (const timer of this.timers) clearInterval(timer)
    this.timers = []
    await Promise.all([...this.links.values()].map((l) => l.client.close()))
    this.links.clear()
  }
}

/** The issuer-link request of an outbox message (a forwarded sale, a reversal, an advice). */
export function requestOf(message: IssuerMessage, pan: string, acquirerId: string): IssuerRequest {
  const currencyNumeric = findCurrency(message.currency)?.numeric ?? '156'
  const common = {
    pan,
    expiry: message.expiry === '' ? '0000' : message.expiry,
    amountMinor: message.amountMinor,
    currencyNumeric,
    // Repeats keep STAN and transmission time: the issuer recognises a repeat by them.
    stan: message.stan,
    transmissionTime: message.transmissionTime,
    terminalId: message.terminalId,
    merchantId: message.merchantId,
    acquirerId,
    rrn: message.rrn,
  }
  switch (message.kind) {
    case 'request':
      return { ...common, kind: message.requestKind }
    case 'advice':
      return {
        ...common,
        kind: 'advice',
        ...(message.authorizationCode === null
          ? {}
          : { authorizationCode: message.authorizationCode }),
        ...(message.standInReason === null ? {} : { standInReason: message.standInReason }),
      }
    case 'reversal':
      return {
        ...common,
        kind: 'reversal',
        original: {
          mti: message.originalMti ?? '0200',
          stan: message.stan,
          transmissionTime: message.transmissionTime,
        },
      }
  }
}
