import { assert } from '../assert.js'
import { findCurrency } from '../money.js'
import type { TransactionRecord } from '../model.js'

/**
 * Velocity: how much a card, merchant, terminal, or card at one merchant did recently. Kept in
 * memory as time buckets per key, rebuilt from the stored transactions of the last 24 hours at
 * start (the transactions table is the durable truth; see docs/risk.md), and bounded: at most
 * `maxKeys` keys, the least recently active evicted first, and nothing older than 24 hours.
 *
 * Windows end now and start at the beginning of the bucket that holds `now - window`: a window
 * may reach back up to one bucket further (10 s for 1 minute and 10 minutes, 1 minute for an
 * hour, 15 minutes for a day). Risk rules err on the side of counting slightly more.
 */

export const VELOCITY_SCOPES = ['card', 'merchant', 'terminal', 'card_merchant'] as const
export type VelocityScope = (typeof VELOCITY_SCOPES)[number]
export const VELOCITY_WINDOWS = ['1m', '10m', '1h', '24h'] as const
export type VelocityWindow = (typeof VELOCITY_WINDOWS)[number]

const WINDOW_MS: Readonly<Record<VelocityWindow, number>> = {
  '1m': 60_000,
  '10m': 600_000,
  '1h': 3_600_000,
  '24h': 86_400_000,
}

/** Bucket rings: [bucket width, how far back it reaches]. */
const FINE_MS = 10_000
const FINE_SPAN_MS = 600_000
const MEDIUM_MS = 60_000
const MEDIUM_SPAN_MS = 3_600_000
const COARSE_MS = 900_000
const COARSE_SPAN_MS = 86_400_000
/** Terminals remembered per card for the distinct-terminals feature. */
const CARD_TERMINALS_MAX = 64

export const VELOCITY_KEYS_MAX_DEFAULT = 500_000
/** The longest window: velocity needs no event older than this. */
export const VELOCITY_SPAN_MS = 86_400_000

/** One authorization attempt as velocity sees it. */
export interface VelocityEvent {
  readonly atMs: number
  readonly cardToken: string
  readonly merchantId: string
  readonly terminalId: string
  readonly amountMinor: number
  readonly declined: boolean
  /** Declined for a wrong PIN (or too many wrong PINs). */
  readonly pinDeclined: boolean
  /** A whole multiple of 100 in the currency's major unit (100.00, 5,000.00 yuan). */
  readonly round: boolean
}

/** What a key did in each window, not counting the transaction being decided. */
export interface VelocityFigures {
  readonly count: Readonly<Record<VelocityWindow, number>>
  /** Minor units, all attempts (approved and declined). */
  readonly sum: Readonly<Record<VelocityWindow, number>>
  readonly declines10m: number
  readonly pinDeclines10m: number
  readonly roundCount1h: number
  readonly roundCount24h: number
  /** Distinct terminals in 10 minutes (card keys only; 0 elsewhere). */
  readonly distinctTerminals10m: number
}

interface Bucket {
  epoch: number
  count: number
  sum: number
  declines: number
  pinDeclines: number
  round: number
}

/**
 * A key's history. Most keys (cards, a card at a merchant) see a handful of attempts a day:
 * they keep the attempts themselves, packed as [atMs, amount, flags] triples (a few dozen bytes
 * each). A key that passes EVENTS_MAX attempts in a day (a busy merchant or terminal) switches
 * to bucket rings, whose size no longer grows with traffic. Both give the same figures: windows
 * are computed on bucket boundaries either way.
 */
interface KeyState {
  events: number[] | null
  rings: { fine: Ring; medium: Ring; coarse: Ring } | null
  /** Card keys: recent terminals, oldest first. */
  terminals: { terminalId: string; atMs: number }[] | null
  lastAtMs: number
}

/** Attempts a key keeps one by one before it switches to bucket rings. */
const EVENTS_MAX = 32
const DECLINED = 1
const PIN_DECLINED = 2
const ROUND = 4

function flagsOf(event: VelocityEvent): number {
  return (
    (event.declined ? DECLINED : 0) |
    (event.pinDeclined ? PIN_DECLINED : 0) |
    (event.round ? ROUND : 0)
  )
}

/** Whether an amount is "round": a whole multiple of 100 major units of its currency. */
export function isRoundAmount(amountMinor: number, currency: string): boolean {
  const exponent = findCurrency(currency)?.exponent ?? 2
  return amountMinor > 0 && amountMinor % (100 * 10 ** exponent) === 0
}

const PIN_REASONS = new Set(['incorrect_pin', 'pin_tries_exceeded'])

/** The velocity event of a stored transaction, or null if velocity does not count it. */
export function velocityEventOf(
  record: Pick<
    TransactionRecord,
    | 'kind'
    | 'cardToken'
    | 'createdAtMs'
    | 'merchantId'
    | 'terminalId'
    | 'amountMinor'
    | 'currency'
    | 'outcome'
    | 'reason'
  >,
): VelocityEvent | null {
  if (record.kind !== 'purchase' && record.kind !== 'preauthorization') return null
  if (record.cardToken === null) return null
  return {
    atMs: record.createdAtMs,
    cardToken: record.cardToken,
    merchantId: record.merchantId,
    terminalId: record.terminalId,
    amountMinor: record.amountMinor,
    declined: record.outcome === 'declined',
    pinDeclined: record.reason !== null && PIN_REASONS.has(record.reason),
    round: isRoundAmount(record.amountMinor, record.currency),
  }
}

export interface VelocitySubject {
  readonly cardToken: string
  readonly merchantId: string
  readonly terminalId: string
}

type Packed = { readonly atMs: number; readonly amountMinor: number; readonly flags: number }

function emptyBucket(epoch: number): Bucket {
  return { epoch, count: 0, sum: 0, declines: 0, pinDeclines: 0, round: 0 }
}

function addTo(bucket: Bucket, e: Packed, sign: 1 | -1 = 1): void {
  bucket.count += sign
  bucket.sum += sign * e.amountMinor
  if ((e.flags & DECLINED) !== 0) bucket.declines += sign
  if ((e.flags & PIN_DECLINED) !== 0) bucket.pinDeclines += sign
  if ((e.flags & ROUND) !== 0) bucket.round += sign
}

function subtract(total: Bucket, b: Bucket): void {
  total.count -= b.count
  total.sum -= b.sum
  total.declines -= b.declines
  total.pinDeclines -= b.pinDeclines
  total.round -= b.round
}

/**
 * Buckets of one width over one span, oldest first, with their running total: a window is the
 * total minus the few buckets outside it at either end, not a walk over every bucket.
 */
class Ring {
  readonly buckets: Bucket[] = []
  readonly total: Bucket = emptyBucket(0)

  constructor(
    readonly width: number,
    readonly span: number,
  ) {}

  add(e: Packed): void {
    const epoch = Math.floor(e.atMs / this.width)
    const ring = this.buckets
    const last = ring[ring.length - 1]
    let bucket: Bucket
    if (last !== undefined && last.epoch === epoch) bucket = last
    else if (last === undefined || last.epoch < epoch) {
      bucket = emptyBucket(epoch)
      ring.push(bucket)
    } else {
      // An event older than the newest bucket (replay out of order): find or insert its bucket.
      let index = ring.length - 1
      while (index >= 0 && (ring[index]?.epoch ?? -1) > epoch) index--
      const found = ring[index]
      if (found !== undefined && found.epoch === epoch) bucket = found
      else {
        bucket = emptyBucket(epoch)
        ring.splice(index + 1, 0, bucket)
      }
    }
    addTo(bucket, e)
    addTo(this.total, e)
  }

  prune(nowMs: number): void {
    const oldest = Math.floor((nowMs - this.span) / this.width)
    let drop = 0
    const ring = this.buckets
    while (drop < ring.length && (ring[drop]?.epoch ?? 0) < oldest) {
      const b = ring[drop]
      if (b !== undefined) subtract(this.total, b)
      drop++
    }
    if (drop > 0) ring.splice(0, drop)
  }

  /** The totals of the buckets with epochs in [from, to], summed from the newest end. */
  recent(from: number, to: number, out: Bucket): Bucket {
    out.count = 0
    out.sum = 0
    out.declines = 0
    out.pinDeclines = 0
    out.round = 0
    const ring = this.buckets
    for (let i = ring.length - 1; i >= 0; i--) {
      const b = ring[i]
      if (b === undefined || b.epoch < from) break
      if (b.epoch > to) continue
      out.count += b.count
      out.sum += b.sum
      out.declines += b.declines
      out.pinDeclines += b.pinDeclines
      out.round += b.round
    }
    return out
  }

  /** The same, as the running total minus the buckets outside [from, to] at either end. */
  window(from: number, to: number, out: Bucket): Bucket {
    out.count = this.total.count
    out.sum = this.total.sum
    out.declines = this.total.declines
    out.pinDeclines = this.total.pinDeclines
    out.round = this.total.round
    const ring = this.buckets
    let i = 0
    while (i < ring.length && (ring[i]?.epoch ?? 0) < from) subtract(out, ring[i++] as Bucket)
    for (let j = ring.length - 1; j >= i && (ring[j]?.epoch ?? 0) > to; j--)
      subtract(out, ring[j] as Bucket)
    return out
  }
}

export const EMPTY_FIGURES: VelocityFigures = {
  count: { '1m': 0, '10m': 0, '1h': 0, '24h': 0 },
  sum: { '1m': 0, '10m': 0, '1h': 0, '24h': 0 },
  declines10m: 0,
  pinDeclines10m: 0,
  roundCount1h: 0,
  roundCount24h: 0,
  distinctTerminals10m: 0,
}

/**
 * The velocity of many keys. Pure data: the caller feeds events and asks for figures at a time
 * it passes in. One instance lives with the batch executor (committed events); each batch adds
 * its own events to a small overlay first, so requests later in a batch see earlier ones.
 */
/** A card's state, with its card-at-merchant states under it (evicted together). */
interface CardState extends KeyState {
  merchants: Map<string, KeyState> | null
}

/** Card-at-merchant states a card keeps before the stale ones are swept. */
const CARD_MERCHANTS_SWEEP_AT = 16

function newState(atMs: number): KeyState {
  return { events: [], rings: null, terminals: null, lastAtMs: atMs }
}

/** Re-inserts a key so that a map's order is the order of last activity (oldest first). */
function touch<T>(map: Map<string, T>, key: string, make: () => T): T {
  const found = map.get(key)
  if (found === undefined) {
    const made = make()
    map.set(key, made)
    return made
  }
  map.delete(key)
  map.set(key, found)
  return found
}

function recordInto(state: KeyState, event: VelocityEvent, card: boolean): void {
  if (event.atMs > state.lastAtMs) state.lastAtMs = event.atMs
  const now = state.lastAtMs
  const packed = { atMs: event.atMs, amountMinor: event.amountMinor, flags: flagsOf(event) }
  if (state.events !== null) {
    insertEvent(state.events, packed)
    pruneEvents(state.events, now)
    if (state.events.length > EVENTS_MAX * 3) promote(state, state.events)
  } else if (state.rings !== null) {
    for (const ring of [state.rings.fine, state.rings.medium, state.rings.coarse]) {
      ring.add(packed)
      ring.prune(now)
    }
  }
  if (card) {
    const terminals = (state.terminals ??= [])
    const at = terminals.findIndex((t) => t.terminalId === event.terminalId)
    if (at >= 0) terminals.splice(at, 1)
    terminals.push({ terminalId: event.terminalId, atMs: event.atMs })
    if (terminals.length > CARD_TERMINALS_MAX) terminals.shift()
  }
}

/**
 * The velocity of many keys. Pure data: the caller feeds events and asks for figures at a time
 * it passes in. One instance lives with the batch executor (committed events); each batch adds
 * its own events to a small overlay first, so requests later in a batch see earlier ones.
 *
 * Keys live in one map per scope, keyed by the raw id (no key strings built per lookup); a
 * card's card-at-merchant states live under the card.
 */
export class VelocityIndex {
  private readonly cards = new Map<string, CardState>()
  private readonly merchants = new Map<string, KeyState>()
  private readonly terminals = new Map<string, KeyState>()
  private cardMerchantKeys = 0
  private evictedCount = 0

  constructor(readonly maxKeys: number = VELOCITY_KEYS_MAX_DEFAULT) {
    assert(Number.isSafeInteger(maxKeys) && maxKeys > 0, 'velocity key bound is positive')
  }

  /** Keys held: cards, cards at merchants, merchants and terminals. */
  get size(): number {
    return this.cards.size + this.cardMerchantKeys + this.merchants.size + this.terminals.size
  }

  /** Keys dropped to stay within `maxKeys` (their history is lost: velocity undercounts). */
  get evicted(): number {
    return this.evictedCount
  }

  record(event: VelocityEvent): void {
    const card = touch<CardState>(this.cards, event.cardToken, () => ({
      ...newState(event.atMs),
      merchants: null,
    }))
    recordInto(card, event, true)
    const merchants = (card.merchants ??= new Map<string, KeyState>())
    if (merchants.size >= CARD_MERCHANTS_SWEEP_AT) this.sweepCardMerchants(merchants, card.lastAtMs)
    const before = merchants.size
    recordInto(
      touch(merchants, event.merchantId, () => newState(event.atMs)),
      event,
      false,
    )
    this.cardMerchantKeys += merchants.size - before
    recordInto(
      touch(this.merchants, event.merchantId, () => newState(event.atMs)),
      event,
      false,
    )
    recordInto(
      touch(this.terminals, event.terminalId, () => newState(event.atMs)),
      event,
      false,
    )
    while (this.size > this.maxKeys && this.evictOldest()) this.evictedCount++
  }

  private sweepCardMerchants(merchants: Map<string, KeyState>, nowMs: number): void {
    for (const [id, state] of merchants) {
      if (state.lastAtMs >= nowMs - COARSE_SPAN_MS) break
      merchants.delete(id)
      this.cardMerchantKeys--
    }
  }

  /** Evicts the least recently active card (with its merchants), else merchant, else terminal. */
  private evictOldest(): boolean {
    const card = this.cards.entries().next()
    if (card.done !== true) {
      this.cards.delete(card.value[0])
      this.cardMerchantKeys -= card.value[1].merchants?.size ?? 0
      return true
    }
    for (const map of [this.merchants, this.terminals]) {
      const oldest = map.keys().next()
      if (oldest.done !== true) {
        map.delete(oldest.value)
        return true
      }
    }
    return false
  }

  /** Drops keys with no activity in the last 24 hours; returns how many. */
  sweep(nowMs: number, max = 10_000): number {
    let dropped = 0
    const since = nowMs - COARSE_SPAN_MS
    for (const [id, state] of this.cards) {
      if (dropped >= max || state.lastAtMs >= since) break
      this.cards.delete(id)
      this.cardMerchantKeys -= state.merchants?.size ?? 0
      dropped += 1 + (state.merchants?.size ?? 0)
    }
    for (const map of [this.merchants, this.terminals]) {
      for (const [id, state] of map) {
        if (dropped >= max || state.lastAtMs >= since) break
        map.delete(id)
        dropped++
      }
    }
    return dropped
  }

  private stateOf(scope: VelocityScope, subject: VelocitySubject): KeyState | undefined {
    switch (scope) {
      case 'card':
        return this.cards.get(subject.cardToken)
      case 'card_merchant':
        return this.cards.get(subject.cardToken)?.merchants?.get(subject.merchantId)
      case 'merchant':
        return this.merchants.get(subject.merchantId)
      case 'terminal':
        return this.terminals.get(subject.terminalId)
    }
  }

  figures(scope: VelocityScope, subject: VelocitySubject, nowMs: number): VelocityFigures {
    const state = this.stateOf(scope, subject)
    if (state === undefined) return EMPTY_FIGURES
    return figuresOf(state, scope, nowMs)
  }

  /** The terminals a card used since `sinceMs` (for merging with a batch overlay). */
  cardTerminals(cardToken: string, sinceMs: number): readonly string[] {
    const terminals = this.cards.get(cardToken)?.terminals
    if (terminals === undefined || terminals === null) return []
    return terminals.filter((t) => t.atMs >= sinceMs).map((t) => t.terminalId)
  }
}

/** Keeps the packed events in time order (a replay may deliver one late). */
function insertEvent(
  events: number[],
  e: { readonly atMs: number; readonly amountMinor: number; readonly flags: number },
): void {
  let at = events.length
  while (at > 0 && (events[at - 3] ?? 0) > e.atMs) at -= 3
  if (at === events.length) events.push(e.atMs, e.amountMinor, e.flags)
  else events.splice(at, 0, e.atMs, e.amountMinor, e.flags)
}

/** Drops attempts outside the day window (by the coarse buckets, as the rings would). */
function pruneEvents(events: number[], nowMs: number): void {
  const oldest = Math.floor((nowMs - COARSE_SPAN_MS) / COARSE_MS)
  let drop = 0
  while (drop < events.length && Math.floor((events[drop] ?? 0) / COARSE_MS) < oldest) drop += 3
  if (drop > 0) events.splice(0, drop)
}

function promote(state: KeyState, events: readonly number[]): void {
  const rings = {
    fine: new Ring(FINE_MS, FINE_SPAN_MS),
    medium: new Ring(MEDIUM_MS, MEDIUM_SPAN_MS),
    coarse: new Ring(COARSE_MS, COARSE_SPAN_MS),
  }
  for (let i = 0; i < events.length; i += 3) {
    const e = { atMs: events[i] ?? 0, amountMinor: events[i + 1] ?? 0, flags: events[i + 2] ?? 0 }
    for (const ring of [rings.fine, rings.medium, rings.coarse]) ring.add(e)
  }
  for (const ring of [rings.fine, rings.medium, rings.coarse]) ring.prune(state.lastAtMs)
  state.rings = rings
  state.events = null
}

/** Running totals of every window, filled in one pass over a key's history. */
class Accumulator {
  c1 = 0
  s1 = 0
  c10 = 0
  s10 = 0
  d10 = 0
  p10 = 0
  c60 = 0
  s60 = 0
  r60 = 0
  c24 = 0
  s24 = 0
  r24 = 0

  figures(distinctTerminals10m: number): VelocityFigures {
    return {
      count: { '1m': this.c1, '10m': this.c10, '1h': this.c60, '24h': this.c24 },
      sum: { '1m': this.s1, '10m': this.s10, '1h': this.s60, '24h': this.s24 },
      declines10m: this.d10,
      pinDeclines10m: this.p10,
      roundCount1h: this.r60,
      roundCount24h: this.r24,
      distinctTerminals10m,
    }
  }
}

/**
 * Every window of a key in one pass (this runs four times per transaction). A window holds the
 * buckets from the one containing `now - window` to the one containing `now`.
 */
function figuresOf(state: KeyState, scope: VelocityScope, nowMs: number): VelocityFigures {
  const f1 = Math.floor((nowMs - WINDOW_MS['1m']) / FINE_MS)
  const f10 = Math.floor((nowMs - WINDOW_MS['10m']) / FINE_MS)
  const fTo = Math.floor(nowMs / FINE_MS)
  const m60 = Math.floor((nowMs - WINDOW_MS['1h']) / MEDIUM_MS)
  const mTo = Math.floor(nowMs / MEDIUM_MS)
  const c24 = Math.floor((nowMs - WINDOW_MS['24h']) / COARSE_MS)
  const cTo = Math.floor(nowMs / COARSE_MS)
  const a = new Accumulator()
  const events = state.events
  if (events !== null) {
    // Bucket boundaries as instants: an attempt is in a window when from <= at < to.
    const from1 = f1 * FINE_MS
    const from10 = f10 * FINE_MS
    const toFine = (fTo + 1) * FINE_MS
    const from60 = m60 * MEDIUM_MS
    const toMedium = (mTo + 1) * MEDIUM_MS
    const from24 = c24 * COARSE_MS
    const toCoarse = (cTo + 1) * COARSE_MS
    for (let i = events.length - 3; i >= 0; i -= 3) {
      const at = events[i] ?? 0
      if (at < from24) break
      if (at >= toCoarse) continue
      const amount = events[i + 1] ?? 0
      const flags = events[i + 2] ?? 0
      const round = (flags & ROUND) !== 0 ? 1 : 0
      a.c24++
      a.s24 += amount
      a.r24 += round
      if (at >= from60 && at < toMedium) {
        a.c60++
        a.s60 += amount
        a.r60 += round
      }
      if (at >= from10 && at < toFine) {
        a.c10++
        a.s10 += amount
        if ((flags & DECLINED) !== 0) a.d10++
        if ((flags & PIN_DECLINED) !== 0) a.p10++
        if (at >= from1) {
          a.c1++
          a.s1 += amount
        }
      }
    }
  } else if (state.rings !== null) {
    const { fine, medium, coarse } = state.rings
    const b = emptyBucket(0)
    fine.recent(f1, fTo, b)
    a.c1 = b.count
    a.s1 = b.sum
    fine.window(f10, fTo, b)
    a.c10 = b.count
    a.s10 = b.sum
    a.d10 = b.declines
    a.p10 = b.pinDeclines
    medium.window(m60, mTo, b)
    a.c60 = b.count
    a.s60 = b.sum
    a.r60 = b.round
    coarse.window(c24, cTo, b)
    a.c24 = b.count
    a.s24 = b.sum
    a.r24 = b.round
  }
  let distinct = 0
  if (scope === 'card' && state.terminals !== null) {
    const since = nowMs - WINDOW_MS['10m']
    for (const t of state.terminals) if (t.atMs >= since) distinct++
  }
  return a.figures(distinct)
}

function addFigures(a: VelocityFigures, b: VelocityFigures): VelocityFigures {
  if (b === EMPTY_FIGURES) return a
  if (a === EMPTY_FIGURES) return b
  const add = (x: Readonly<Record<VelocityWindow, number>>, y: typeof x) => ({
    '1m': x['1m'] + y['1m'],
    '10m': x['10m'] + y['10m'],
    '1h': x['1h'] + y['1h'],
    '24h': x['24h'] + y['24h'],
  })
  return {
    count: add(a.count, b.count),
    sum: add(a.sum, b.sum),
    declines10m: a.declines10m + b.declines10m,
    pinDeclines10m: a.pinDeclines10m + b.pinDeclines10m,
    roundCount1h: a.roundCount1h + b.roundCount1h,
    roundCount24h: a.roundCount24h + b.roundCount24h,
    distinctTerminals10m: a.distinctTerminals10m + b.distinctTerminals10m,
  }
}

/**
 * The committed index plus the events of the batch being decided. `commit()` moves the batch's
 * events into the index; the executor calls it only after the batch's database commit, so a
 * failed batch leaves velocity as it was.
 */
export class VelocityView {
  private readonly pending: VelocityEvent[] = []
  private readonly overlay = new VelocityIndex(Number.MAX_SAFE_INTEGER)
  /** Pending events already in the overlay: it is built only when figures are asked for. */
  private overlaid = 0

  constructor(private readonly index: VelocityIndex) {}

  record(event: VelocityEvent): void {
    this.pending.push(event)
  }

  figures(scope: VelocityScope, subject: VelocitySubject, nowMs: number): VelocityFigures {
    const committed = this.index.figures(scope, subject, nowMs)
    if (this.pending.length === 0) return committed
    while (this.overlaid < this.pending.length) {
      const event = this.pending[this.overlaid++]
      if (event !== undefined) this.overlay.record(event)
    }
    const batch = this.overlay.figures(scope, subject, nowMs)
    if (scope !== 'card' || batch === EMPTY_FIGURES) return addFigures(committed, batch)
    const since = nowMs - WINDOW_MS['10m']
    const distinct = new Set([
      ...this.index.cardTerminals(subject.cardToken, since),
      ...this.overlay.cardTerminals(subject.cardToken, since),
    ])
    return { ...addFigures(committed, batch), distinctTerminals10m: distinct.size }
  }

  /** The batch's events, in order. */
  events(): readonly VelocityEvent[] {
    return this.pending
  }

  commit(): void {
    for (const event of this.pending) this.index.record(event)
    this.pending.length = 0
    this.overlaid = 0
  }
}
