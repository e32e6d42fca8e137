import { beforeAll, describe, expect, it } from 'vitest'
import { loadReferenceData, REFERENCE_DIR_DEFAULT, type ReferenceData } from '../../src/adapters/reference/load-reference.js'
import { localDateKey } from '../../src/core/calendar.js'
import { luhnCheckDigit, maskPan, validatePan } from '../../src/core/card.js'
import { assertAccountInvariants, availableMinor, isBounded, ledgerTotals } from '../../src/core/ledger/ledger.js'
import { AMOUNT_MINOR_MAX, findCurrency } from '../../src/core/money.js'
import type {
  Account,
  Card,
  CardStatus,
  CardType,
  Channel,
  FollowUpKind,
  LimitRule,
  ListEntry,
  Merchant,
  MerchantStatus,
  NewTransactionKind,
  Terminal,
  TransactionRecord,
} from '../../src/core/model.js'
import { planBatch } from '../../src/core/pipeline/batch.js'
import type { CoreContext } from '../../src/core/pipeline/context.js'
import { expireDueHolds } from '../../src/core/pipeline/expiry.js'
import { clearingAccountId, counterKey } from '../../src/core/pipeline/keys.js'
import { mccPermitted } from '../../src/core/pipeline/mcc-rules.js'
import type { CoreRequest, FollowUpRequest, NewTransactionRequest } from '../../src/core/pipeline/requests.js'
import type { RequestResult } from '../../src/core/pipeline/result.js'
import { reasonEntry } from '../../src/core/reasons/catalogue.js'
import { MemoryBatchStore } from '../support/memory-batch-store.js'

/**
 * A seeded simulation of the core: a simulated clock, a seeded random source and a small world
 * (merchants in every status, terminals, debit and credit cards, limits, block lists) driven
 * through thousands of random steps. Every invariant is checked after every step; a failure
 * names its seed and step, and `SIM_SEED=<seed> npx vitest run test/simulation` replays it.
 */

const MINUTE_MS = 60_000
const HOUR_MS = 60 * MINUTE_MS
const DAY_MS = 24 * HOUR_MS
/** 2026-03-10 09:00 in Shanghai. */
const START_MS = Date.UTC(2026, 2, 10, 1, 0, 0)
const UTC_OFFSET_MINUTES = 480
const HOLD_EXPIRY_MS = 3 * DAY_MS
const SEEDS: readonly number[] = process.env.SIM_SEED === undefined ? [1, 0xc0ffee, 20_260_310] : [Number(process.env.SIM_SEED)]
const STEPS = Number(process.env.SIM_STEPS ?? 3_000)
const BATCH_SIZE_MAX = 20
const CARD_EXPIRY = '3012'
/**
 * The generator steers clear of the bugs kept as `it.fails` scenarios below (undoing a
 * completion after part of it was refunded; a whole-remaining refund when nothing remains), so
 * that the random run keeps finding new things. SIM_FIND_KNOWN_BUGS=1 lets it find them again.
 */
const AVOID_KNOWN_BUGS = process.env.SIM_FIND_KNOWN_BUGS === undefined

let reference: ReferenceData
beforeAll(() => {
  reference = loadReferenceData(REFERENCE_DIR_DEFAULT)
})

// ---- the random source --------------------------------------------------------------------

/** mulberry32: a small, fast, seeded generator; good enough to pick test actions. */
class Random {
  private state: number

  constructor(seed: number) {
    this.state = seed >>> 0
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }

  /** An integer in min..max, both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  chance(probability: number): boolean {
    return this.next() < probability
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)]
    if (item === undefined) throw new Error('pick from an empty list')
    return item
  }

  weighted<T>(choices: readonly (readonly [T, number])[]): T {
    const total = choices.reduce((sum, [, weight]) => sum + weight, 0)
    let roll = this.next() * total
    for (const [value, weight] of choices) {
      roll -= weight
      if (roll < 0) return value
    }
    const last = choices[choices.length - 1]
    if (last === undefined) throw new Error('no choices')
    return last[0]
  }

  /** Mostly recent: the last `recent` items three times out of four. */
  pickRecent<T>(items: readonly T[], recent: number): T {
    if (items.length > recent && this.chance(0.75)) return this.pick(items.slice(items.length - recent))
    return this.pick(items)
  }
}

// ---- the world ----------------------------------------------------------------------------

const M = {
  ok: '898440358120001', cash: '898440358120002', pending: '898440358120003',
  restricted: '898440358120004', suspended: '898440358120005', listed: '898440358120006',
} as const
const T = {
  ok1: '10000001', ok2: '10000002', cash: '10000003', pending: '10000004', restricted: '10000005',
  suspended: '10000006', inactive: '10000007', other: '10000008', listed: '10000009', tempBlocked: '10000010',
} as const

const MERCHANTS: readonly (readonly [string, MerchantStatus, string])[] = [
  [M.ok, 'approved', '5411'], [M.cash, 'approved', '6011'], [M.pending, 'pending_audit', '5812'],
  [M.restricted, 'restricted', '5311'], [M.suspended, 'suspended', '5999'], [M.listed, 'approved', '5732'],
]
/** Terminal, its merchant, its status. `other` is bound to the cash merchant but sent with `ok`. */
const TERMINALS: readonly (readonly [string, string, 'active' | 'inactive'])[] = [
  [T.ok1, M.ok, 'active'], [T.ok2, M.ok, 'active'], [T.cash, M.cash, 'active'],
  [T.pending, M.pending, 'active'], [T.restricted, M.restricted, 'active'],
  [T.suspended, M.suspended, 'active'], [T.inactive, M.ok, 'inactive'], [T.other, M.cash, 'active'],
  [T.listed, M.listed, 'active'], [T.tempBlocked, M.ok, 'active'],
]

interface CardSpec {
  readonly name: string
  readonly bin: string
  readonly length: number
  readonly type: CardType
  readonly status: CardStatus
  readonly currency: string
  readonly openingMinor: number
  readonly creditLimitMinor: number
  readonly onFile: boolean
}

const CARD_SPECS: readonly CardSpec[] = [
  { name: 'd1', bin: '622609', length: 16, type: 'debit', status: 'active', currency: 'CNY', openingMinor: 800_000, creditLimitMinor: 0, onFile: true },
  { name: 'd2', bin: '622848', length: 19, type: 'debit', status: 'active', currency: 'CNY', openingMinor: 300_000, creditLimitMinor: 0, onFile: true },
  { name: 'd3', bin: '621700', length: 19, type: 'debit', status: 'active', currency: 'CNY', openingMinor: 50_000, creditLimitMinor: 0, onFile: true },
  { name: 'dhk', bin: '622700', length: 19, type: 'debit', status: 'active', currency: 'HKD', openingMinor: 100_000, creditLimitMinor: 0, onFile: true },
  { name: 'dlost', bin: '436742', length: 19, type: 'debit', status: 'lost', currency: 'CNY', openingMinor: 90_000, creditLimitMinor: 0, onFile: true },
  { name: 'dbin', bin: '623668', length: 19, type: 'debit', status: 'active', currency: 'CNY', openingMinor: 90_000, creditLimitMinor: 0, onFile: true },
  { name: 'c1', bin: '628288', length: 16, type: 'credit', status: 'active', currency: 'CNY', openingMinor: 0, creditLimitMinor: 1_000_000, onFile: true },
  { name: 'c2', bin: '622155', length: 16, type: 'credit', status: 'active', currency: 'CNY', openingMinor: 0, creditLimitMinor: 200_000, onFile: true },
  { name: 'cinactive', bin: '356390', length: 16, type: 'credit', status: 'inactive', currency: 'CNY', openingMinor: 0, creditLimitMinor: 300_000, onFile: true },
  { name: 'cstolen', bin: '356390', length: 16, type: 'credit', status: 'stolen', currency: 'CNY', openingMinor: 0, creditLimitMinor: 300_000, onFile: true },
  { name: 'unknown', bin: '622609', length: 16, type: 'debit', status: 'active', currency: 'CNY', openingMinor: 0, creditLimitMinor: 0, onFile: false },
]

interface SimCard {
  readonly spec: CardSpec
  readonly pan: string
  readonly token: string
  readonly accountId: string
  depositsMinor: number
}

function makePan(bin: string, length: number, serial: number): string {
  const partial = (bin + String(serial).padStart(4, '0')).padEnd(length - 1, '7')
  const pan = partial + luhnCheckDigit(partial)
  const validation = validatePan(pan, reference.bins)
  if (!validation.ok || validation.bin?.bin !== bin || validation.bin.cardLength !== length) {
    throw new Error(`test PAN for BIN ${bin} does not match the reference data`)
  }
  return pan
}

const pad = (value: number, width: number): string => String(value).padStart(width, '0')

function limitRule(id: string, fields: Partial<LimitRule>): LimitRule {
  return {
    id, scope: 'card', cardType: null, mcc: null, entityId: null, currency: 'CNY',
    perTransactionMaxMinor: null, dailyAmountMaxMinor: null, dailyCountMax: null,
    note: `simulation ${id}`, createdAtMs: START_MS, updatedAtMs: START_MS, ...fields,
  }
}

function blockEntry(id: string, kind: ListEntry['kind'], value: string, expiresAtMs: number | null): ListEntry {
  return {
    id, list: 'block', kind, value, display: value, note: `simulation ${id}`, expiresAtMs,
    createdBy: 'simulation', createdAtMs: START_MS,
  }
}

/** A request as sent, with the answer it got: material for retransmissions. */
interface Sent {
  readonly request: CoreRequest
  readonly result: RequestResult
  readonly localDate: string
}

/** What a step expects of one result, checked after the batch ran. */
type Expectation =
  | { readonly type: 'replay_of'; readonly transactionId: string }
  | { readonly type: 'mismatch' }
  | { readonly type: 'same_as'; readonly index: number }
  | { readonly type: 'none' }

class Sim {
  readonly store = new MemoryBatchStore()
  readonly cards: SimCard[] = []
  readonly history: Sent[] = []
  /** Ids of approved purchases, preauthorizations, completions and refunds: follow-up targets. */
  readonly followable: string[] = []
  readonly allIds: string[] = []
  nowMs = START_MS
  /** The batch being run, for a failure message. */
  lastBatch: readonly CoreRequest[] = []
  private transactionCount = 0
  private transferCount = 0
  private authorizationCount = 0
  private rrnCount = 0
  private idempotencyCount = 0
  private readonly stans = new Map<string, number>()

  constructor(readonly random: Random) {
    for (const [id, status, mcc] of MERCHANTS) {
      const merchant: Merchant = { id, name: `Shop ${id}`, mcc, status, region: '310000', riskTier: 'low', createdAtMs: START_MS, updatedAtMs: START_MS }
      this.store.putMerchant(merchant)
    }
    for (const [id, merchantId, status] of TERMINALS) {
      const terminal: Terminal = { id, merchantId, status, region: '310000', createdAtMs: START_MS, updatedAtMs: START_MS }
      this.store.putTerminal(terminal)
    }
    CARD_SPECS.forEach((spec, at) => {
      const simCard: SimCard = { spec, pan: makePan(spec.bin, spec.length, 1_000 + at), token: `tok_${spec.name}`, accountId: `acct_${spec.name}`, depositsMinor: 0 }
      this.cards.push(simCard)
      if (!spec.onFile) return
      const card: Card = {
        token: simCard.token, masked: maskPan(simCard.pan), bin: spec.bin, last4: simCard.pan.slice(-4), expiry: CARD_EXPIRY,
        type: spec.type, status: spec.status, accountId: simCard.accountId, issuerBank: null, createdAtMs: START_MS, updatedAtMs: START_MS,
      }
      const account: Account = {
        id: simCard.accountId, kind: 'cardholder', currency: spec.currency, creditLimitMinor: spec.creditLimitMinor,
        debitsPendingMinor: 0, debitsPostedMinor: 0, creditsPendingMinor: 0, creditsPostedMinor: 0,
      }
      this.store.createCard(card, account, spec.openingMinor, this.newTransferId(), START_MS)
    })
    const d1 = this.card('d1')
    for (const rule of [
      limitRule('lim_card_d1_daily', { scope: 'card', entityId: d1.token, dailyAmountMaxMinor: 300_000 }),
      limitRule('lim_terminal_ok2_count', { scope: 'terminal', entityId: T.ok2, dailyCountMax: 25 }),
      limitRule('lim_credit_per_tx', { scope: 'merchant', cardType: 'credit', perTransactionMaxMinor: 500_000 }),
      limitRule('lim_merchant_ok_daily', { scope: 'merchant', entityId: M.ok, dailyAmountMaxMinor: 3_000_000 }),
      limitRule('lim_debit_grocery_count', { scope: 'card', cardType: 'debit', mcc: '5411', dailyCountMax: 30 }),
    ]) this.store.putLimit(rule)
    for (const entry of [
      blockEntry('blk_card_d3', 'card', this.card('d3').token, START_MS + 2 * DAY_MS),
      blockEntry('blk_bin', 'bin', '623668', null),
      blockEntry('blk_merchant', 'merchant', M.listed, null),
      blockEntry('blk_terminal', 'terminal', T.tempBlocked, START_MS + DAY_MS),
    ]) this.store.putListEntry(entry)
  }

  card(name: string): SimCard {
    const found = this.cards.find((c) => c.spec.name === name)
    if (found === undefined) throw new Error(`no card ${name}`)
    return found
  }

  localDate(nowMs = this.nowMs): string {
    return localDateKey(nowMs, UTC_OFFSET_MINUTES)
  }

  newTransferId(): string {
    this.transferCount += 1
    return `tr_${pad(this.transferCount, 26)}`
  }

  context(): CoreContext {
    return {
      nowMs: this.nowMs,
      settings: { utcOffsetMinutes: UTC_OFFSET_MINUTES, holdExpiryMs: HOLD_EXPIRY_MS },
      bins: reference.bins,
      mccs: reference.mccs,
      newTransactionId: () => `tx_${pad(++this.transactionCount, 26)}`,
      newTransferId: () => this.newTransferId(),
      newAuthorizationCode: () => (++this.authorizationCount).toString(36).toUpperCase().padStart(6, '0'),
      newRrn: () => pad(++this.rrnCount, 12),
    }
  }

  nextStan(terminalId: string): string {
    const next = ((this.stans.get(terminalId) ?? 0) % 999_999) + 1
    this.stans.set(terminalId, next)
    return pad(next, 6)
  }

  nextIdempotencyKey(): string {
    this.idempotencyCount += 1
    return `idem-${this.idempotencyCount}`
  }

  /** ISO 8583 field 7, MMDDhhmmss in UTC. */
  transmissionTime(): string {
    const iso = new Date(this.nowMs).toISOString()
    return iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19)
  }

  /** Plans and runs one batch, then remembers what was sent and what is followable. */
  runBatch(requests: readonly CoreRequest[]): readonly RequestResult[] {
    const localDate = this.localDate()
    this.lastBatch = requests
    const results = this.store.run(planBatch(requests, this.context()))
    results.forEach((result, at) => {
      const request = requests[at]!
      this.history.push({ request, result, localDate })
      if (result.type !== 'decided' || result.replayed) return
      const t = result.transaction
      this.allIds.push(t.id)
      if (t.outcome === 'approved' && ['purchase', 'preauthorization', 'completion', 'refund'].includes(t.kind)) {
        this.followable.push(t.id)
      }
    })
    return results
  }

  expire(max: number): number {
    const nowMs = this.nowMs
    return this.store.expireHolds(nowMs, max, (due) => expireDueHolds(due, nowMs))
  }

  newRequest(card: SimCard, fields: Partial<NewTransactionRequest> = {}): NewTransactionRequest {
    const terminalId = fields.terminalId ?? T.ok1
    return {
      type: 'new', kind: 'purchase', channel: 'http', terminalId, merchantId: M.ok, stan: this.nextStan(terminalId),
      transmissionTime: null, card: { pan: card.pan, expiry: CARD_EXPIRY }, cardToken: card.token,
      amountMinor: 1_000, currency: card.spec.currency, idempotencyKey: null, ...fields,
    }
  }

  followUp(kind: FollowUpKind, originalId: string, fields: Partial<FollowUpRequest> = {}): FollowUpRequest {
    const original = this.store.transactions.get(originalId)
    return {
      type: 'follow_up', kind, channel: 'http', originalId,
      stan: original === undefined ? null : this.nextStan(original.terminalId),
      amountMinor: null, idempotencyKey: null, ...fields,
    }
  }
}

// ---- random requests ----------------------------------------------------------------------

function randomAmount(random: Random): number {
  return random.weighted<() => number>([
    [() => random.int(100, 20_000), 6],
    [() => random.int(20_000, 200_000), 3],
    [() => random.int(200_000, 700_000), 1],
    [() => random.pick([0, -5, 1.5, AMOUNT_MINOR_MAX + 1, Number.NaN]), 0.3],
  ])()
}

function randomNew(sim: Sim): NewTransactionRequest {
  const random = sim.random
  const kind = random.weighted<NewTransactionKind>([['purchase', 5], ['preauthorization', 3], ['balance_inquiry', 1]])
  const card = random.weighted<SimCard>(sim.cards.map((c) => [c, { d1: 4, d2: 3, c1: 3, c2: 2, d3: 1.5, dhk: 1 }[c.spec.name] ?? 0.4]))
  const [terminalId, merchantId] = random.weighted<readonly [string, string]>([
    [[T.ok1, M.ok], 6], [[T.ok2, M.ok], 3], [[T.cash, M.cash], 1], [[T.tempBlocked, M.ok], 1],
    [[T.pending, M.pending], 0.4], [[T.restricted, M.restricted], 0.6], [[T.suspended, M.suspended], 0.4],
    [[T.inactive, M.ok], 0.4], [[T.other, M.ok], 0.4], [[T.listed, M.listed], 0.4],
    [['ZZZZ9999', M.ok], 0.2], [[T.ok1, '999999999999999'], 0.2], [['bad', 'bad'], 0.1],
  ])
  let pan = card.pan
  if (random.chance(0.03)) {
    pan = random.pick([
      pan.slice(0, -1) + String((Number(pan.slice(-1)) + 1) % 10), // Luhn broken.
      pan.slice(0, 12), // Too short.
      `${pan.slice(0, 6)}abcdef${pan.slice(12)}`,
      pan + '0', // Wrong length for its BIN.
    ])
  }
  const expiry = random.weighted([[CARD_EXPIRY, 30], ['2412', 0.5], ['2911', 0.5], ['3013', 0.3]])
  const currency = random.weighted([
    [card.spec.currency, 20], [card.spec.currency === 'CNY' ? '156' : '344', 2], [card.spec.currency.toLowerCase(), 1],
    [card.spec.currency === 'CNY' ? 'HKD' : 'CNY', 0.5], ['XXX', 0.3],
  ])
  const transmissionTime = random.chance(0.5) ? sim.transmissionTime() : random.chance(0.01) ? '1399999999' : null
  return {
    type: 'new', kind, channel: transmissionTime === null ? 'http' : 'iso8583', terminalId, merchantId,
    stan: random.chance(0.01) ? '12ab' : sim.nextStan(terminalId), transmissionTime,
    card: { pan, expiry }, cardToken: card.token,
    amountMinor: kind === 'balance_inquiry' ? (random.chance(0.03) ? 100 : 0) : randomAmount(random),
    currency, idempotencyKey: random.chance(0.4) ? sim.nextIdempotencyKey() : null,
  }
}

/** The follow-ups that make sense for an original; a few that do not, to be declined. */
const FOLLOW_UP_KINDS: Readonly<Record<string, readonly (readonly [FollowUpKind, number])[]>> = {
  purchase: [['void', 2], ['reversal', 2], ['refund', 3], ['completion', 0.2]],
  preauthorization: [['completion', 5], ['void', 1.5], ['reversal', 1.5], ['refund', 0.2]],
  completion: [['void', 1], ['reversal', 1], ['refund', 3]],
  refund: [['reversal', 3], ['void', 0.3], ['refund', 0.3]],
  other: [['reversal', 3], ['void', 1], ['refund', 1], ['completion', 1]],
}

/** True when a follow-up would walk into one of the known bugs (see AVOID_KNOWN_BUGS). */
function knownBug(original: TransactionRecord, kind: FollowUpKind, amountMinor: number | null, batch: readonly CoreRequest[]): boolean {
  if (!AVOID_KNOWN_BUGS) return false
  const sameBatch = batch.some((r) => r.type === 'follow_up' && r.originalId === original.id)
  const undo = kind === 'void' || kind === 'reversal'
  if (undo && original.kind === 'completion' && (original.refundedAmountMinor > 0 || sameBatch)) return true
  return kind === 'refund' && amountMinor === null && (original.refundedAmountMinor >= original.amountMinor || sameBatch)
}

function randomFollowUp(sim: Sim, batch: readonly CoreRequest[]): FollowUpRequest | null {
  const random = sim.random
  const pool = random.chance(0.85) ? sim.followable : sim.allIds
  if (pool.length === 0 || random.chance(0.01)) {
    return sim.followUp('reversal', random.chance(0.5) ? `tx_${'9'.repeat(26)}` : 'nonsense')
  }
  const original = sim.store.transactions.get(random.pickRecent(pool, 40))
  if (original === undefined) throw new Error('followable transaction is stored')
  const kind = random.weighted(FOLLOW_UP_KINDS[original.kind] ?? FOLLOW_UP_KINDS.other ?? [])
  const remaining = kind === 'refund' ? original.amountMinor - original.refundedAmountMinor : original.amountMinor
  let amountMinor: number | null = null
  if (kind === 'completion' || kind === 'refund') {
    amountMinor = random.weighted<number | null>([
      [null, 2], [Math.max(1, random.int(1, remaining)), 5], [remaining, 1], [remaining + 1, 0.5], [0, 0.1],
    ])
  } else if (random.chance(0.02)) {
    amountMinor = original.amountMinor // Not allowed on a void or reversal.
  }
  if (knownBug(original, kind, amountMinor, batch)) return null
  return sim.followUp(kind, original.id, {
    amountMinor,
    stan: random.chance(0.6) ? (random.chance(0.01) ? 'x1' : sim.nextStan(original.terminalId)) : null,
    idempotencyKey: random.chance(0.4) ? sim.nextIdempotencyKey() : null,
    channel: random.pick<Channel>(['http', 'iso8583']),
  })
}

/** True when a later copy of `sent` finds the first answer through a key. */
function keyStillApplies(sent: Sent, localDate: string): boolean {
  const request = sent.request
  if (request.idempotencyKey !== null) return true
  if (request.type === 'new') return request.transmissionTime !== null || sent.localDate === localDate
  return request.stan !== null && sent.localDate === localDate
}

/** The same request again; or, changed, with the same keys (expects a mismatch). */
function retransmission(sim: Sim, changed: boolean): { request: CoreRequest; expect: Expectation } | null {
  const candidates = sim.history
  if (candidates.length === 0) return null
  const sent = sim.random.pickRecent(candidates, 30)
  const request = sent.request
  if (request.type === 'follow_up') {
    const original = sim.store.transactions.get(request.originalId)
    if (original !== undefined && knownBug(original, changed && request.kind === 'void' ? 'reversal' : request.kind, request.amountMinor, [])) return null
  }
  if (sent.result.type !== 'decided' || !keyStillApplies(sent, sim.localDate())) return null
  const previous = sent.result.transaction
  // A replayed answer stored nothing under this request's keys (a repeated reversal finds the
  // first one by its original), so only a fresh answer's keys can be mismatched.
  if (changed && sent.result.replayed) return null
  if (!changed) return { request, expect: { type: 'replay_of', transactionId: previous.id } }
  if (request.type === 'new') return { request: { ...request, cardToken: `${request.cardToken}x` }, expect: { type: 'mismatch' } }
  const other: Partial<FollowUpRequest> = request.kind === 'void' ? { kind: 'reversal' }
    : request.kind === 'reversal' ? { kind: 'void' } : { amountMinor: (request.amountMinor ?? 0) + 1 }
  return { request: { ...request, ...other }, expect: { type: 'mismatch' } }
}

/** A new reversal or void of something already undone: the first answer comes back. */
function repeatedUndo(sim: Sim): { request: CoreRequest; expect: Expectation } | null {
  if (sim.allIds.length === 0) return null
  const undo = sim.random.pickRecent(sim.allIds, 200)
  const record = sim.store.transactions.get(undo)
  if (record === undefined || record.originalId === null || record.outcome !== 'approved' || (record.kind !== 'void' && record.kind !== 'reversal')) return null
  return { request: sim.followUp(record.kind, record.originalId), expect: { type: 'replay_of', transactionId: record.id } }
}

function randomBatch(sim: Sim): { requests: CoreRequest[]; expectations: Expectation[] } {
  const random = sim.random
  const size = random.chance(0.5) ? 1 : random.int(2, BATCH_SIZE_MAX)
  const requests: CoreRequest[] = []
  const expectations: Expectation[] = []
  while (requests.length < size) {
    const action = random.weighted([['new', 60], ['follow_up', 28], ['retransmit', 4], ['mismatch', 2], ['repeat_undo', 3], ['in_batch_copy', 3]] as const)
    let planned: { request: CoreRequest; expect: Expectation } | null = null
    switch (action) {
      case 'new':
        planned = { request: randomNew(sim), expect: { type: 'none' } }
        break
      case 'follow_up': {
        const request = randomFollowUp(sim, requests)
        planned = request === null ? null : { request, expect: { type: 'none' } }
        break
      }
      case 'retransmit':
      case 'mismatch':
        planned = retransmission(sim, action === 'mismatch')
        break
      case 'repeat_undo':
        planned = repeatedUndo(sim)
        break
      case 'in_batch_copy':
        if (requests.length > 0) {
          const index = random.int(0, requests.length - 1)
          const request = requests[index]!
          // Without a STAN or an idempotency key a follow-up is not a retransmission: a copy
          // is a second request (a repeated void or reversal still finds the first answer).
          const keyed = request.type === 'new' || request.stan !== null || request.idempotencyKey !== null
          const original = request.type === 'follow_up' ? sim.store.transactions.get(request.originalId) : undefined
          if (!keyed && original !== undefined && request.type === 'follow_up' && knownBug(original, request.kind, request.amountMinor, requests)) break
          planned = { request, expect: keyed ? { type: 'same_as', index } : { type: 'none' } }
        }
        break
    }
    if (planned === null) continue
    requests.push(planned.request)
    expectations.push(planned.expect)
  }
  return { requests, expectations }
}

// ---- checks of one batch's answers --------------------------------------------------------

function fail(message: string): never {
  throw new Error(message)
}

function checkResults(sim: Sim, requests: readonly CoreRequest[], results: readonly RequestResult[], expectations: readonly Expectation[], insertedCount: number): void {
  if (results.length !== requests.length) fail('one result per request')
  const fresh = results.filter((r) => r.type === 'decided' && !r.replayed)
  if (fresh.length !== insertedCount) fail(`${fresh.length} fresh decisions but ${insertedCount} transactions stored`)
  const freshIds = new Set(fresh.map((r) => (r.type === 'decided' ? r.transaction.id : '')))
  if (freshIds.size !== fresh.length) fail('a fresh decision reused a transaction id')
  results.forEach((result, at) => {
    const request = requests[at]!
    const expectation = expectations[at]!
    const where = `request ${at} (${request.type === 'new' ? request.kind : `${request.kind} of ${request.originalId}`})`
    if (result.type === 'rejected') {
      if (reasonEntry(result.reason).code !== result.reason) fail(`${where}: rejected with unknown reason`)
    } else {
      const stored = sim.store.transactions.get(result.transaction.id)
      if (stored === undefined) fail(`${where}: decided transaction ${result.transaction.id} is not stored`)
    }
    switch (expectation.type) {
      case 'none':
        break
      case 'replay_of':
        if (result.type !== 'decided' || !result.replayed || result.transaction.id !== expectation.transactionId) {
          fail(`${where}: expected a replay of ${expectation.transactionId}, got ${show(result)}`)
        }
        break
      case 'mismatch':
        if (result.type !== 'rejected' || result.reason !== 'duplicate_mismatch') fail(`${where}: expected duplicate_mismatch, got ${show(result)}`)
        break
      case 'same_as': {
        const first = results[expectation.index]!
        if (first.type === 'rejected') {
          if (result.type !== 'rejected' || result.reason !== first.reason) fail(`${where}: a copy of a rejected request got ${show(result)}`)
        } else if (result.type !== 'decided' || !result.replayed || result.transaction.id !== first.transaction.id) {
          fail(`${where}: a copy in the same batch got ${show(result)}, the first ${show(first)}`)
        }
        break
      }
    }
    if (result.type === 'decided' && !result.replayed && request.type === 'new' && result.transaction.outcome === 'approved') {
      const why = approvalForbidden(sim, request)
      if (why !== null) fail(`${where}: approved ${result.transaction.id} although ${why}`)
    }
  })
}

function show(result: RequestResult): string {
  return result.type === 'rejected'
    ? `rejected ${result.reason}`
    : `${result.replayed ? 'replayed' : 'fresh'} ${result.transaction.id} ${result.transaction.outcome} ${result.transaction.reason ?? ''}`
}

/** An independent reading of the rules: why this new request must not be approved, or null. */
function approvalForbidden(sim: Sim, request: NewTransactionRequest): string | null {
  const merchant = sim.store.merchants.get(request.merchantId)
  const terminal = sim.store.terminals.get(request.terminalId)
  const card = sim.store.cards.get(request.cardToken)
  const account = card === undefined ? undefined : sim.store.accounts.get(card.accountId)
  const currency = findCurrency(request.currency)?.alpha
  const inquiry = request.kind === 'balance_inquiry'
  if (merchant === undefined || terminal === undefined) return 'merchant or terminal unknown'
  if (terminal.merchantId !== merchant.id || terminal.status !== 'active') return 'terminal not usable for this merchant'
  if (merchant.status !== 'approved' && !(inquiry && merchant.status === 'restricted')) return `merchant is ${merchant.status}`
  if (card === undefined || card.status !== 'active') return 'card not on file or not active'
  if (request.card.expiry !== card.expiry) return 'expiry differs from the card on file'
  if (account === undefined || account.currency !== currency) return 'currency differs from the account'
  if (!inquiry && !mccPermitted(card.type, merchant.mcc)) return 'card product not permitted at this MCC'
  const blocked = [...sim.store.listEntries.values()].find((e) =>
    (e.expiresAtMs === null || e.expiresAtMs > sim.nowMs) &&
    (e.kind === 'bin' ? request.card.pan.startsWith(e.value) : [request.cardToken, merchant.id, terminal.id].includes(e.value)))
  if (blocked !== undefined) return `block list entry ${blocked.id} applies`
  for (const rule of sim.store.limits.values()) {
    const applies = rule.currency === currency && (rule.cardType === null || rule.cardType === card.type) &&
      (rule.mcc === null || rule.mcc === merchant.mcc)
    if (!inquiry && applies && rule.perTransactionMaxMinor !== null && request.amountMinor > rule.perTransactionMaxMinor && rule.entityId === null) {
      return `over the per-transaction limit of ${rule.id}`
    }
  }
  return null
}

// ---- invariants over the whole store ------------------------------------------------------

const UNDONE = new Set(['voided', 'reversed'])

function checkInvariants(sim: Sim): void {
  const store = sim.store
  checkLedger(store)
  checkJournal(store)
  checkTransactions(sim)
  checkCounters(store)
}

function checkLedger(store: MemoryBatchStore): void {
  for (const [currency, totals] of ledgerTotals(store.accounts.values())) {
    if (totals.debitsPending !== totals.creditsPending) fail(`${currency}: pending debits ${totals.debitsPending} != credits ${totals.creditsPending}`)
    if (totals.debitsPosted !== totals.creditsPosted) fail(`${currency}: posted debits ${totals.debitsPosted} != credits ${totals.creditsPosted}`)
  }
  for (const account of store.accounts.values()) {
    assertAccountInvariants(account)
    if (isBounded(account) && availableMinor(account) < 0) fail(`account ${account.id} below zero`)
  }
}

/** Every account's four totals are exactly the sums of the transfers that name it. */
function checkJournal(store: MemoryBatchStore): void {
  const sums = new Map<string, { dp: number; cp: number; dP: number; cP: number }>()
  const entry = (id: string) => {
    let found = sums.get(id)
    if (found === undefined) {
      found = { dp: 0, cp: 0, dP: 0, cP: 0 }
      sums.set(id, found)
    }
    return found
  }
  const postings = new Map<string, number>()
  for (const t of store.transfers.values()) {
    const isHold = t.expiresAtMs !== null
    if (isHold && t.state === 'pending') {
      entry(t.debitAccountId).dp += t.amountMinor
      entry(t.creditAccountId).cp += t.amountMinor
    }
    if (!isHold) {
      if (t.state !== 'posted') fail(`transfer ${t.id} without expiry is ${t.state}`)
      entry(t.debitAccountId).dP += t.amountMinor
      entry(t.creditAccountId).cP += t.amountMinor
    }
    if (t.pendingId !== null) postings.set(t.pendingId, (postings.get(t.pendingId) ?? 0) + t.amountMinor)
  }
  for (const account of store.accounts.values()) {
    const s = sums.get(account.id) ?? { dp: 0, cp: 0, dP: 0, cP: 0 }
    if (s.dp !== account.debitsPendingMinor || s.cp !== account.creditsPendingMinor ||
        s.dP !== account.debitsPostedMinor || s.cP !== account.creditsPostedMinor) {
      fail(`account ${account.id} totals differ from its transfers: ${JSON.stringify(account)} vs ${JSON.stringify(s)}`)
    }
  }
  for (const t of store.transfers.values()) {
    if (t.expiresAtMs === null) continue
    const posted = postings.get(t.id) ?? 0
    const expected = t.state === 'posted' ? t.postedAmountMinor : 0
    if (posted !== expected) fail(`hold ${t.id} (${t.state}) has postings of ${posted}, expected ${expected}`)
    if (t.state === 'posted' && (t.postedAmountMinor <= 0 || t.postedAmountMinor > t.amountMinor)) fail(`hold ${t.id} posted ${t.postedAmountMinor}`)
    if (t.state === 'expired' && (t.resolvedAtMs ?? 0) < t.expiresAtMs) fail(`hold ${t.id} expired before it was due`)
  }
}

function checkTransactions(sim: Sim): void {
  const store = sim.store
  const spentByToken = new Map<string, number>()
  const spend = (token: string | null, amount: number): void => {
    if (token !== null) spentByToken.set(token, (spentByToken.get(token) ?? 0) + amount)
  }
  for (const t of store.transactions.values()) {
    checkRecordShape(t)
    if (t.outcome !== 'approved') continue
    checkHoldLink(store, t)
    checkFollowUps(store, t)
    // An independent balance model, from the records alone: what each card has spent.
    if (t.kind === 'purchase' && t.lifecycle === 'posted') spend(t.cardToken, t.amountMinor)
    if (t.kind === 'preauthorization' && t.lifecycle === 'held') spend(t.cardToken, t.amountMinor)
    if (t.kind === 'completion' && t.lifecycle === 'posted') spend(t.cardToken, t.amountMinor)
    if (t.kind === 'refund' && t.lifecycle === 'posted') spend(t.cardToken, -t.amountMinor)
  }
  for (const t of store.transfers.values()) {
    if (t.state !== 'pending') continue
    const owner = store.transactions.get(t.transactionId)
    if (owner?.lifecycle !== 'held' || owner.holdTransferId !== t.id) fail(`pending transfer ${t.id} has no held transaction`)
  }
  for (const card of sim.cards) {
    if (!card.spec.onFile) continue
    const account = store.accounts.get(card.accountId)!
    const expected = card.spec.openingMinor + card.depositsMinor + card.spec.creditLimitMinor - (spentByToken.get(card.token) ?? 0)
    if (availableMinor(account) !== expected) fail(`card ${card.spec.name}: available ${availableMinor(account)}, records say ${expected}`)
  }
}

function checkRecordShape(t: TransactionRecord): void {
  if (!/^tx_[0-9A-Z]{26}$/.test(t.id) || !/^\d{12}$/.test(t.rrn)) fail(`transaction ${t.id}: id or RRN malformed`)
  if (t.outcome === 'declined') {
    if (t.reason === null) fail(`declined ${t.id} without a reason`)
    if (reasonEntry(t.reason).isoCode !== t.responseCode) fail(`declined ${t.id}: ${t.reason} answers ${t.responseCode}`)
    if (t.authorizationCode !== null || t.lifecycle !== 'none') fail(`declined ${t.id} has an authorization or a lifecycle`)
    if (t.holdTransferId !== null) fail(`declined ${t.id} holds money`)
  } else {
    if (t.reason !== null || t.responseCode !== '00') fail(`approved ${t.id} answers ${t.responseCode}`)
    if (t.authorizationCode === null || !/^[0-9A-Z]{6}$/.test(t.authorizationCode)) fail(`approved ${t.id}: authorization code`)
  }
  if (t.refundedAmountMinor < 0 || t.refundedAmountMinor > t.amountMinor) fail(`${t.id}: refunded ${t.refundedAmountMinor} of ${t.amountMinor}`)
  if (t.completedAmountMinor < 0 || t.completedAmountMinor > t.amountMinor) fail(`${t.id}: completed ${t.completedAmountMinor} of ${t.amountMinor}`)
}

const HOLD_STATE_BY_LIFECYCLE: Readonly<Record<string, string>> = {
  held: 'pending', completed: 'posted', expired: 'expired', voided: 'voided', reversed: 'voided',
}

/** A preauthorization's lifecycle and its hold's state agree; nothing else holds money. */
function checkHoldLink(store: MemoryBatchStore, t: TransactionRecord): void {
  if (t.kind !== 'preauthorization') {
    if (t.holdTransferId !== null || t.lifecycle === 'held') fail(`${t.kind} ${t.id} has a hold`)
    return
  }
  const held = t.holdTransferId === null ? undefined : store.transfers.get(t.holdTransferId)
  if (held === undefined || held.transactionId !== t.id || held.amountMinor !== t.amountMinor) fail(`preauthorization ${t.id} without its hold`)
  if (HOLD_STATE_BY_LIFECYCLE[t.lifecycle] !== held.state) fail(`preauthorization ${t.id} is ${t.lifecycle} but its hold is ${held.state}`)
  if (t.lifecycle === 'completed' && held.postedAmountMinor !== t.completedAmountMinor) fail(`preauthorization ${t.id} completed ${t.completedAmountMinor}, hold posted ${held.postedAmountMinor}`)
}

/** Undoing happens exactly once, money goes back exactly once, refunds add up. */
function checkFollowUps(store: MemoryBatchStore, t: TransactionRecord): void {
  const followUps = store.followUpsOf(t.id).filter((f) => f.outcome === 'approved')
  const undos = followUps.filter((f) => f.kind === 'void' || f.kind === 'reversal')
  for (const kind of ['void', 'reversal'] as const) {
    if (undos.filter((f) => f.kind === kind).length > 1) fail(`${t.id} has more than one approved ${kind}`)
  }
  const undone = UNDONE.has(t.lifecycle)
  if (undos.length !== (undone ? 1 : 0)) fail(`${t.kind} ${t.id} is ${t.lifecycle} with ${undos.length} approved undos`)
  const undo = undos[0]
  if (undo !== undefined) {
    if (undo.amountMinor !== t.amountMinor) fail(`undo ${undo.id} of ${t.id} is for ${undo.amountMinor}, not ${t.amountMinor}`)
    const moved = [...store.transfers.values()].filter((x) => x.transactionId === undo.id)
    const card = t.cardToken === null ? undefined : store.cards.get(t.cardToken)
    const clearing = clearingAccountId(t.currency)
    if (t.kind === 'preauthorization') {
      if (moved.length !== 0) fail(`void of preauthorization ${t.id} moved money`)
    } else {
      const [from, to] = t.kind === 'refund' ? [card?.accountId, clearing] : [clearing, card?.accountId]
      if (moved.length !== 1 || moved[0]?.amountMinor !== t.amountMinor || moved[0].debitAccountId !== from || moved[0].creditAccountId !== to) {
        fail(`undo ${undo.id} of ${t.kind} ${t.id} did not move ${t.amountMinor} back exactly once`)
      }
    }
  }
  if (t.kind === 'purchase' || t.kind === 'completion') {
    const refunded = followUps.filter((f) => f.kind === 'refund' && f.lifecycle === 'posted').reduce((sum, f) => sum + f.amountMinor, 0)
    if (refunded !== t.refundedAmountMinor) fail(`${t.id}: refundedAmount ${t.refundedAmountMinor}, live refunds ${refunded}`)
    const back = refunded + (undone ? t.amountMinor : 0)
    if (back > t.amountMinor) fail(`${t.kind} ${t.id} of ${t.amountMinor} gave back ${back} (refunds ${refunded}, ${t.lifecycle})`)
  }
  if (t.kind === 'preauthorization') {
    const completions = followUps.filter((f) => f.kind === 'completion')
    if (completions.length !== (t.lifecycle === 'completed' ? 1 : 0)) fail(`preauthorization ${t.id} is ${t.lifecycle} with ${completions.length} completions`)
    if (completions[0] !== undefined && completions[0].amountMinor !== t.completedAmountMinor) fail(`completion of ${t.id} differs from completedAmount`)
  }
}

/**
 * Daily usage counters are the approved purchases and preauthorizations of that day, minus the
 * undone ones; and the limits without filters are never exceeded.
 */
function checkCounters(store: MemoryBatchStore): void {
  const expected = new Map<string, { count: number; amountMinor: number }>()
  for (const t of store.transactions.values()) {
    if (t.outcome !== 'approved' || (t.kind !== 'purchase' && t.kind !== 'preauthorization') || UNDONE.has(t.lifecycle) || t.cardToken === null) continue
    for (const [scope, entity] of [['card', t.cardToken], ['merchant', t.merchantId], ['terminal', t.terminalId]] as const) {
      const key = counterKey(scope, entity, t.localDate, t.currency)
      const e = expected.get(key) ?? { count: 0, amountMinor: 0 }
      expected.set(key, { count: e.count + 1, amountMinor: e.amountMinor + t.amountMinor })
    }
  }
  for (const [key, counter] of store.counters) {
    const e = expected.get(key) ?? { count: 0, amountMinor: 0 }
    if (counter.count !== e.count || counter.amountMinor !== e.amountMinor) {
      fail(`counter ${key} is ${counter.count}/${counter.amountMinor}, transactions say ${e.count}/${e.amountMinor}`)
    }
  }
  for (const key of expected.keys()) if (!store.counters.has(key)) fail(`counter ${key} missing`)
  for (const rule of store.limits.values()) {
    if (rule.cardType !== null || rule.mcc !== null) continue
    for (const counter of store.counters.values()) {
      const [scope, entity, , currency] = counter.key.split('|')
      if (scope !== rule.scope || currency !== rule.currency || (rule.entityId !== null && entity !== rule.entityId)) continue
      if ((rule.dailyAmountMaxMinor !== null && counter.amountMinor > rule.dailyAmountMaxMinor) ||
          (rule.dailyCountMax !== null && counter.count > rule.dailyCountMax)) {
        fail(`counter ${counter.key} (${counter.count}/${counter.amountMinor}) is over limit ${rule.id}`)
      }
    }
  }
}

// ---- the simulation -----------------------------------------------------------------------

function advanceTime(sim: Sim): void {
  const random = sim.random
  sim.nowMs += random.weighted<() => number>([
    [() => random.int(1, 30) * MINUTE_MS, 8],
    [() => random.int(1, 12) * HOUR_MS + random.int(0, 59) * MINUTE_MS, 3],
    [() => random.int(1, 4) * DAY_MS + random.int(0, 23) * HOUR_MS, 1],
  ])()
  // The expiry job runs now and then, so a due hold may wait a little for it.
  if (random.chance(0.7)) while (sim.expire(random.int(1, 8)) > 0);
}

function step(sim: Sim): void {
  const random = sim.random
  const action = random.weighted([['batch', 80], ['advance', 15], ['expire', 3], ['deposit', 2]] as const)
  switch (action) {
    case 'batch': {
      const { requests, expectations } = randomBatch(sim)
      const before = sim.store.transactions.size
      const results = sim.runBatch(requests)
      checkResults(sim, requests, results, expectations, sim.store.transactions.size - before)
      break
    }
    case 'advance':
      advanceTime(sim)
      break
    case 'expire':
      sim.expire(random.int(1, 20))
      break
    case 'deposit': {
      const card = random.pick(sim.cards.filter((c) => c.spec.onFile))
      const amountMinor = random.int(10_000, 500_000)
      sim.store.deposit(card.accountId, amountMinor, sim.newTransferId(), `deposit:${card.token}`, sim.nowMs)
      card.depositsMinor += amountMinor
      break
    }
  }
  checkInvariants(sim)
}

describe('core simulation', () => {
  for (const seed of SEEDS) {
    it(`keeps every invariant through ${STEPS} random steps (seed=${seed})`, () => {
      const sim = new Sim(new Random(seed))
      checkInvariants(sim)
      for (let at = 0; at < STEPS; at += 1) {
        sim.lastBatch = []
        try {
          step(sim)
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error)
          const batch = sim.lastBatch.length === 0 ? '' : `\nbatch: ${JSON.stringify(sim.lastBatch).slice(0, 4_000)}`
          throw new Error(`seed=${seed} step=${at}: ${message} (replay: SIM_SEED=${seed} npx vitest run test/simulation)${batch}`, { cause: error })
        }
      }
      // The run must have exercised the paths it claims to, or it proves little.
      const kinds = new Set([...sim.store.transactions.values()].map((t) => `${t.kind}:${t.outcome}:${t.lifecycle}`))
      for (const seen of ['purchase:approved:posted', 'purchase:approved:voided', 'purchase:approved:reversed', 'preauthorization:approved:completed',
        'preauthorization:approved:expired', 'completion:approved:posted', 'refund:approved:posted', 'refund:approved:reversed', 'purchase:declined:none']) {
        expect(kinds, `seed=${seed}`).toContain(seen)
      }
      const reasons = new Set([...sim.store.transactions.values()].map((t) => t.reason))
      for (const reason of ['insufficient_funds', 'void_window_closed', 'original_not_eligible', 'card_lost', 'card_daily_amount_limit_exceeded', 'terminal_daily_count_limit_exceeded', 'bin_blocked']) {
        expect(reasons, `seed=${seed}`).toContain(reason)
      }
    })
  }
})

// ---- targeted scenarios -------------------------------------------------------------------

function decided(result: RequestResult | undefined): TransactionRecord {
  if (result?.type !== 'decided') throw new Error(`expected a decision, got ${JSON.stringify(result)}`)
  return result.transaction
}

function available(sim: Sim, name: string): number {
  return availableMinor(sim.store.accounts.get(sim.card(name).accountId)!)
}

describe('core scenarios', () => {
  it('declines a void on the next business day but still accepts a reversal', () => {
    const sim = new Sim(new Random(1))
    sim.nowMs = Date.UTC(2026, 2, 10, 15, 50) // 23:50 in Shanghai.
    const d2 = sim.card('d2')
    const sale = decided(sim.runBatch([sim.newRequest(d2, { amountMinor: 12_345 })])[0])
    expect(sale.outcome).toBe('approved')
    expect(available(sim, 'd2')).toBe(300_000 - 12_345)
    sim.nowMs += 20 * MINUTE_MS // 00:10 the next day in Shanghai, still the same UTC day.
    const voided = decided(sim.runBatch([sim.followUp('void', sale.id)])[0])
    expect(voided).toMatchObject({ outcome: 'declined', reason: 'void_window_closed', responseCode: reasonEntry('void_window_closed').isoCode })
    expect(sim.store.transactions.get(sale.id)?.lifecycle).toBe('posted')
    const reversed = decided(sim.runBatch([sim.followUp('reversal', sale.id)])[0])
    expect(reversed.outcome).toBe('approved')
    expect(available(sim, 'd2')).toBe(300_000)
    // Yesterday's counters give the room back, today's are untouched.
    const counter = sim.store.counters.get(counterKey('card', d2.token, '2026-03-10', 'CNY'))
    expect(counter).toMatchObject({ count: 0, amountMinor: 0 })
    checkInvariants(sim)
  })

  it('expires a preauthorization past its expiry; a later completion is not eligible', () => {
    const sim = new Sim(new Random(2))
    const c2 = sim.card('c2')
    const preauthorization = decided(sim.runBatch([sim.newRequest(c2, { kind: 'preauthorization', amountMinor: 150_000 })])[0])
    expect(preauthorization).toMatchObject({ outcome: 'approved', lifecycle: 'held' })
    expect(available(sim, 'c2')).toBe(50_000)
    sim.nowMs += HOLD_EXPIRY_MS - 1
    expect(sim.expire(10)).toBe(0)
    sim.nowMs += 1
    expect(sim.expire(10)).toBe(1)
    expect(sim.store.transactions.get(preauthorization.id)?.lifecycle).toBe('expired')
    expect(sim.store.transfers.get(preauthorization.holdTransferId!)?.state).toBe('expired')
    expect(available(sim, 'c2')).toBe(200_000)
    const completion = decided(sim.runBatch([sim.followUp('completion', preauthorization.id, { amountMinor: 100_000 })])[0])
    expect(completion).toMatchObject({ outcome: 'declined', reason: 'original_not_eligible' })
    expect(available(sim, 'c2')).toBe(200_000)
    checkInvariants(sim)
  })

  it('never lets two holds in one batch together exceed the available balance', () => {
    const sim = new Sim(new Random(3))
    const d3 = sim.card('d3')
    sim.nowMs += 3 * DAY_MS // After d3's temporary block has lapsed.
    const results = sim.runBatch([
      sim.newRequest(d3, { kind: 'preauthorization', amountMinor: 30_000 }),
      sim.newRequest(d3, { kind: 'preauthorization', amountMinor: 30_000 }),
      sim.newRequest(d3, { kind: 'purchase', amountMinor: 20_001 }),
      sim.newRequest(d3, { kind: 'purchase', amountMinor: 20_000 }),
    ])
    expect(results.map((r) => decided(r).reason)).toEqual([null, 'insufficient_funds', 'insufficient_funds', null])
    expect(available(sim, 'd3')).toBe(0)
    checkInvariants(sim)
  })

  it('replays a retransmission and rejects a changed one, within a batch and across batches', () => {
    const sim = new Sim(new Random(4))
    const c1 = sim.card('c1')
    const request = sim.newRequest(c1, { amountMinor: 5_000, idempotencyKey: 'k-1' })
    const [first, copy] = sim.runBatch([request, request])
    expect(decided(copy).id).toBe(decided(first).id)
    const [again] = sim.runBatch([request])
    expect(again).toMatchObject({ type: 'decided', replayed: true, transaction: { id: decided(first).id } })
    const [changed] = sim.runBatch([{ ...request, amountMinor: 5_001 }])
    expect(changed).toMatchObject({ type: 'rejected', reason: 'duplicate_mismatch' })
    expect(sim.store.transactions.size).toBe(1)
    expect(available(sim, 'c1')).toBe(1_000_000 - 5_000)
    checkInvariants(sim)
  })

  // BUG: src/core/pipeline/decide-follow-up.ts lets a void or reversal undo a *completion* that
  // was already partly refunded (the refundedAmount guard names only purchases), and it credits
  // the completion's whole amount back: the cardholder gets back more than was spent.
  it.fails('never gives back more than a completion took (refund, then void)', () => {
    const sim = new Sim(new Random(5))
    const d1 = sim.card('d1')
    const preauthorization = decided(sim.runBatch([sim.newRequest(d1, { kind: 'preauthorization', amountMinor: 10_000 })])[0])
    const completion = decided(sim.runBatch([sim.followUp('completion', preauthorization.id)])[0])
    expect(completion.outcome).toBe('approved')
    expect(decided(sim.runBatch([sim.followUp('refund', completion.id, { amountMinor: 3_000 })])[0]).outcome).toBe('approved')
    const voided = decided(sim.runBatch([sim.followUp('void', completion.id)])[0])
    // A purchase in the same state gets original_not_eligible; the completion should too.
    expect(voided).toMatchObject({ outcome: 'declined', reason: 'original_not_eligible' })
    expect(available(sim, 'd1')).toBe(800_000 - 10_000 + 3_000)
  })

  // BUG: src/core/pipeline/decide-follow-up.ts: a refund without an amount means "the whole
  // remaining amount"; when nothing remains, amountMinor is 0, which passes the
  // `amountMinor > wholeRemaining` check and reaches ledger.post, whose assertion
  // ("transfer amount 0 out of range") throws. The whole batch (other cardholders' sales
  // included) is lost and, by the style's rule, the process stops. It should be declined
  // (original_amount_exceeded or original_not_eligible) and recorded.
  it.fails('declines a whole-remaining refund of a fully refunded sale instead of crashing the batch', () => {
    const sim = new Sim(new Random(6))
    const d2 = sim.card('d2')
    const sale = decided(sim.runBatch([sim.newRequest(d2, { amountMinor: 8_000 })])[0])
    expect(decided(sim.runBatch([sim.followUp('refund', sale.id)])[0]).outcome).toBe('approved')
    const results = sim.runBatch([sim.newRequest(sim.card('c1'), { amountMinor: 1_000 }), sim.followUp('refund', sale.id)])
    expect(decided(results[0]).outcome).toBe('approved')
    expect(decided(results[1]).outcome).toBe('declined')
  })
})
