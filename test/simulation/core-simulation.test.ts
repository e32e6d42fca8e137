import { VelocityIndex } from '../../src/core/risk/velocity.js'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  loadReferenceData,
  REFERENCE_DIR_DEFAULT,
  type ReferenceData,
} from '../../src/adapters/reference/load-reference.js'
import { localDateKey } from '../../src/core/calendar.js'
import { luhnCheckDigit, maskPan, validatePan } from '../../src/core/card.js'
import {
  assertAccountInvariants,
  availableMinor,
  isBounded,
  ledgerTotals,
} from '../../src/core/ledger/ledger.js'
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
  Transfer,
} from '../../src/core/model.js'
import { planBatch } from '../../src/core/pipeline/batch.js'
import type { CoreContext } from '../../src/core/pipeline/context.js'
import { expireDueHolds } from '../../src/core/pipeline/expiry.js'
import { clearingAccountId, counterKey } from '../../src/core/pipeline/keys.js'
import { mccPermitted } from '../../src/core/pipeline/mcc-rules.js'
import type {
  CoreRequest,
  FollowUpFields,
  FollowUpRequest,
  NewTransactionRequest,
} from '../../src/core/pipeline/requests.js'
import type { RequestResult } from '../../src/core/pipeline/result.js'
import { reasonEntry } from '../../src/core/reasons/catalogue.js'
import { MemoryBatchStore, type Written } from '../support/memory-batch-store.js'

/**
 * A seeded simulation of the core: a simulated clock, a seeded random source and a small world
 * (merchants in every status, terminals, debit and credit cards, limits, block lists) driven
 * through thousands of random steps. Every invariant is checked after every step; a failure
 * names its seed and step, and `SIM_SEED=<seed> npx vitest run test/simulation` replays it
 * (SIM_STEPS changes the number of steps).
 */

const MINUTE_MS = 60_000
const HOUR_MS = 60 * MINUTE_MS
const DAY_MS = 24 * HOUR_MS
/** 2026-03-10 09:00 in Shanghai. */
const START_MS = Date.UTC(2026, 2, 10, 1, 0, 0)
const UTC_OFFSET_MINUTES = 480
const HOLD_EXPIRY_MS = 3 * DAY_MS
const SEEDS_DEFAULT = [1, 0xc0ffee, 20_260_310]
const SEEDS = process.env.SIM_SEED === undefined ? SEEDS_DEFAULT : [Number(process.env.SIM_SEED)]
const STEPS = Number(process.env.SIM_STEPS ?? 3_000)
const BATCH_SIZE_MAX = 20
/** How often the incremental checks are backed by a full check from scratch. */
const FULL_CHECK_EVERY_STEPS = 500
const CARD_EXPIRY = '3012'
/**
 * Set SIM_AVOID_KNOWN_BUGS=1 to steer the generator clear of the paths into bugs found (and
 * fixed) earlier — useful only when bisecting an old commit.
 */
const AVOID_KNOWN_BUGS = process.env.SIM_AVOID_KNOWN_BUGS !== undefined

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

  /** Mostly recent: one of the last `recent` items three times out of four. */
  pickRecent<T>(items: readonly T[], recent: number): T {
    const useRecent = items.length > recent && this.chance(0.75)
    return this.pick(useRecent ? items.slice(items.length - recent) : items)
  }
}

// ---- the world ----------------------------------------------------------------------------

const M = {
  ok: '898440358120001',
  cash: '898440358120002',
  pending: '898440358120003',
  restricted: '898440358120004',
  suspended: '898440358120005',
  listed: '898440358120006',
} as const
const T = {
  ok1: '10000001',
  ok2: '10000002',
  cash: '10000003',
  pending: '10000004',
  restricted: '10000005',
  suspended: '10000006',
  inactive: '10000007',
  other: '10000008',
  listed: '10000009',
  tempBlocked: '10000010',
} as const

/** Merchant, status, category (6011 is cash: not for credit cards). */
const MERCHANTS: readonly (readonly [string, MerchantStatus, string])[] = [
  [M.ok, 'approved', '5411'],
  [M.cash, 'approved', '6011'],
  [M.pending, 'pending_audit', '5812'],
  [M.restricted, 'restricted', '5311'],
  [M.suspended, 'suspended', '5999'],
  [M.listed, 'approved', '5732'],
]
/** Terminal, its merchant, status. `other` is bound to the cash merchant but sent with `ok`. */
const TERMINALS: readonly (readonly [string, string, 'active' | 'inactive'])[] = [
  [T.ok1, M.ok, 'active'],
  [T.ok2, M.ok, 'active'],
  [T.cash, M.cash, 'active'],
  [T.pending, M.pending, 'active'],
  [T.restricted, M.restricted, 'active'],
  [T.suspended, M.suspended, 'active'],
  [T.inactive, M.ok, 'inactive'],
  [T.other, M.cash, 'active'],
  [T.listed, M.listed, 'active'],
  [T.tempBlocked, M.ok, 'active'],
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

function spec(
  name: string,
  bin: string,
  length: number,
  type: CardType,
  fields: Partial<CardSpec> = {},
): CardSpec {
  return {
    name,
    bin,
    length,
    type,
    status: 'active',
    currency: 'CNY',
    openingMinor: 0,
    creditLimitMinor: 0,
    onFile: true,
    ...fields,
  }
}

/** Real BINs from reference/cn-card-bin.csv, each with its card length. */
const CARD_SPECS: readonly CardSpec[] = [
  spec('d1', '622609', 16, 'debit', { openingMinor: 800_000 }), // 招商银行
  spec('d2', '622848', 19, 'debit', { openingMinor: 300_000 }), // 中国农业银行
  spec('d3', '621700', 19, 'debit', { openingMinor: 50_000 }), // Block-listed for two days.
  spec('dhk', '622700', 19, 'debit', { openingMinor: 100_000, currency: 'HKD' }),
  spec('dlost', '436742', 19, 'debit', { openingMinor: 90_000, status: 'lost' }),
  spec('dbin', '623668', 19, 'debit', { openingMinor: 90_000 }), // Its BIN is block-listed.
  spec('c1', '628288', 16, 'credit', { creditLimitMinor: 1_000_000 }), // 中国工商银行
  spec('c2', '622155', 16, 'credit', { creditLimitMinor: 200_000 }), // 平安银行
  spec('cinactive', '356390', 16, 'credit', { creditLimitMinor: 300_000, status: 'inactive' }),
  spec('cstolen', '356390', 16, 'credit', { creditLimitMinor: 300_000, status: 'stolen' }),
  spec('unknown', '622609', 16, 'debit', { onFile: false }),
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
    id,
    scope: 'card',
    cardType: null,
    mcc: null,
    entityId: null,
    currency: 'CNY',
    perTransactionMaxMinor: null,
    dailyAmountMaxMinor: null,
    dailyCountMax: null,
    note: `simulation ${id}`,
    createdAtMs: START_MS,
    updatedAtMs: START_MS,
    ...fields,
  }
}

function blockEntry(
  id: string,
  kind: ListEntry['kind'],
  value: string,
  expiresAtMs: number | null,
): ListEntry {
  return {
    id,
    list: 'block',
    kind,
    value,
    display: value,
    note: `simulation ${id}`,
    expiresAtMs,
    createdBy: 'simulation',
    createdAtMs: START_MS,
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

interface Planned {
  readonly request: CoreRequest
  readonly expect: Expectation
}

const FOLLOWABLE_KINDS = new Set(['purchase', 'preauthorization', 'completion', 'refund'])

class Sim {
  readonly store = new MemoryBatchStore()
  readonly cards: SimCard[] = []
  readonly history: Sent[] = []
  /** Ids of approved purchases, preauthorizations, completions and refunds. */
  readonly followable: string[] = []
  readonly allIds: string[] = []
  nowMs = START_MS
  /** The batch being run, for a failure message. */
  lastBatch: readonly CoreRequest[] = []
  private transactionCount = 0
  private transferCount = 0
  private authorizationCount = 0
  private rrnCount = 0
  private readonly velocity = new VelocityIndex()
  private idempotencyCount = 0
  private readonly stans = new Map<string, number>()

  constructor(readonly random: Random) {
    const created = { createdAtMs: START_MS, updatedAtMs: START_MS }
    for (const [id, status, mcc] of MERCHANTS) {
      const merchant: Merchant = {
        id,
        name: `Shop ${id}`,
        mcc,
        status,
        region: '310000',
        riskTier: 'low',
        ...created,
      }
      this.store.putMerchant(merchant)
    }
    for (const [id, merchantId, status] of TERMINALS) {
      const terminal: Terminal = { id, merchantId, status, region: '310000', ...created }
      this.store.putTerminal(terminal)
    }
    CARD_SPECS.forEach((spec, at) => this.addCard(spec, makePan(spec.bin, spec.length, 1_000 + at)))
    const rules = [
      limitRule('lim_card_d1_daily', {
        scope: 'card',
        entityId: this.card('d1').token,
        dailyAmountMaxMinor: 300_000,
      }),
      limitRule('lim_terminal_ok2_count', { scope: 'terminal', entityId: T.ok2, dailyCountMax: 8 }),
      limitRule('lim_credit_per_transaction', {
        scope: 'merchant',
        cardType: 'credit',
        perTransactionMaxMinor: 500_000,
      }),
      limitRule('lim_merchant_ok_daily', {
        scope: 'merchant',
        entityId: M.ok,
        dailyAmountMaxMinor: 3_000_000,
      }),
      limitRule('lim_debit_grocery_count', {
        scope: 'card',
        cardType: 'debit',
        mcc: '5411',
        dailyCountMax: 30,
      }),
    ]
    for (const rule of rules) this.store.putLimit(rule)
    const entries = [
      blockEntry('blk_card_d3', 'card', this.card('d3').token, START_MS + 2 * DAY_MS),
      blockEntry('blk_bin', 'bin', '623668', null),
      blockEntry('blk_merchant', 'merchant', M.listed, null),
      blockEntry('blk_terminal', 'terminal', T.tempBlocked, START_MS + DAY_MS),
    ]
    for (const entry of entries) this.store.putListEntry(entry)
  }

  private addCard(spec: CardSpec, pan: string): void {
    const simCard: SimCard = {
      spec,
      pan,
      token: `tok_${spec.name}`,
      accountId: `acct_${spec.name}`,
      depositsMinor: 0,
    }
    this.cards.push(simCard)
    if (!spec.onFile) return
    const card: Card = {
      token: simCard.token,
      masked: maskPan(pan),
      bin: spec.bin,
      last4: pan.slice(-4),
      expiry: CARD_EXPIRY,
      type: spec.type,
      status: spec.status,
      accountId: simCard.accountId,
      issuerBank: null,
      createdAtMs: START_MS,
      updatedAtMs: START_MS,
    }
    const account: Account = {
      id: simCard.accountId,
      kind: 'cardholder',
      currency: spec.currency,
      creditLimitMinor: spec.creditLimitMinor,
      debitsPendingMinor: 0,
      debitsPostedMinor: 0,
      creditsPendingMinor: 0,
      creditsPostedMinor: 0,
    }
    this.store.createCard(card, account, spec.openingMinor, this.newTransferId(), START_MS)
  }

  card(name: string): SimCard {
    const found = this.cards.find((c) => c.spec.name === name)
    if (found === undefined) throw new Error(`no card ${name}`)
    return found
  }

  localDate(): string {
    return localDateKey(this.nowMs, UTC_OFFSET_MINUTES)
  }

  newTransferId(): string {
    this.transferCount += 1
    return `tr_${pad(this.transferCount, 26)}`
  }

  /** Deterministic ids: counters, in the shapes the real id source makes. */
  context(): CoreContext {
    return {
      nowMs: this.nowMs,
      settings: { utcOffsetMinutes: UTC_OFFSET_MINUTES, holdExpiryMs: HOLD_EXPIRY_MS },
      bins: reference.bins,
      mccs: reference.mccs,
      newTransactionId: () => `tx_${pad(++this.transactionCount, 26)}`,
      newTransferId: () => this.newTransferId(),
      newAuthorizationCode: () =>
        (++this.authorizationCount).toString(36).toUpperCase().padStart(6, '0'),
      newRrn: () => pad(++this.rrnCount, 12),
      velocity: this.velocity,
    }
  }

  /** STANs count up per terminal, so only a deliberate copy repeats one. */
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
    return [
      [5, 7],
      [8, 10],
      [11, 13],
      [14, 16],
      [17, 19],
    ]
      .map(([a, b]) => iso.slice(a, b))
      .join('')
  }

  /** Plans and runs one batch, then remembers what was sent and what is followable. */
  runBatch(requests: readonly CoreRequest[]): readonly RequestResult[] {
    const localDate = this.localDate()
    this.lastBatch = requests
    const results = this.store.run(planBatch(requests, this.context()))
    results.forEach((result, at) => {
      this.history.push({ request: requests[at]!, result, localDate })
      if (result.type !== 'decided' || result.replayed) return
      const t = result.transaction
      this.allIds.push(t.id)
      if (t.outcome === 'approved' && FOLLOWABLE_KINDS.has(t.kind)) this.followable.push(t.id)
    })
    return results
  }

  /** The expiry job: up to `max` due holds. */
  expire(max: number): number {
    const nowMs = this.nowMs
    return this.store.expireHolds(nowMs, max, (due) => expireDueHolds(due, nowMs))
  }

  newRequest(card: SimCard, fields: Partial<NewTransactionRequest> = {}): NewTransactionRequest {
    const terminalId = fields.terminalId ?? T.ok1
    return {
      type: 'new',
      kind: 'purchase',
      channel: 'http',
      terminalId,
      merchantId: M.ok,
      stan: this.nextStan(terminalId),
      transmissionTime: null,
      card: { pan: card.pan, expiry: CARD_EXPIRY },
      cardToken: card.token,
      amountMinor: 1_000,
      currency: card.spec.currency,
      idempotencyKey: null,
      ...fields,
    }
  }

  followUp(
    kind: FollowUpKind,
    originalId: string,
    fields: Partial<FollowUpFields> = {},
  ): FollowUpRequest {
    const original = this.store.transactions.get(originalId)
    return {
      type: 'follow_up',
      kind,
      channel: 'http',
      originalId,
      stan: original === undefined ? null : this.nextStan(original.terminalId),
      amountMinor: null,
      idempotencyKey: null,
      ...fields,
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

const CARD_WEIGHTS: Readonly<Record<string, number>> = {
  d1: 4,
  d2: 3,
  c1: 3,
  c2: 2,
  d3: 1.5,
  dhk: 1,
}

const ROUTES: readonly (readonly [readonly [string, string], number])[] = [
  [[T.ok1, M.ok], 6],
  [[T.ok2, M.ok], 3],
  [[T.cash, M.cash], 1],
  [[T.tempBlocked, M.ok], 1],
  [[T.pending, M.pending], 0.4],
  [[T.restricted, M.restricted], 0.6],
  [[T.suspended, M.suspended], 0.4],
  [[T.inactive, M.ok], 0.4],
  [[T.other, M.ok], 0.4],
  [[T.listed, M.listed], 0.4],
  [['ZZZZ9999', M.ok], 0.2],
  [[T.ok1, '999999999999999'], 0.2],
  [['bad', 'bad'], 0.1],
]

/** Now and then a card number that must not validate. */
function maybeBrokenPan(random: Random, pan: string): string {
  if (!random.chance(0.03)) return pan
  return random.pick([
    pan.slice(0, -1) + String((Number(pan.slice(-1)) + 1) % 10), // Luhn broken.
    pan.slice(0, 12), // Too short.
    `${pan.slice(0, 6)}abcdef${pan.slice(12)}`,
    pan + '0', // Wrong length for its BIN.
  ])
}

function randomNew(sim: Sim): NewTransactionRequest {
  const random = sim.random
  const kind = random.weighted<NewTransactionKind>([
    ['purchase', 5],
    ['preauthorization', 3],
    ['balance_inquiry', 1],
  ])
  const card = random.weighted<SimCard>(sim.cards.map((c) => [c, CARD_WEIGHTS[c.spec.name] ?? 0.4]))
  const [terminalId, merchantId] = random.weighted(ROUTES)
  const home = card.spec.currency
  const currency = random.weighted([
    [home, 20],
    [home === 'CNY' ? '156' : '344', 2],
    [home.toLowerCase(), 1],
    [home === 'CNY' ? 'HKD' : 'CNY', 0.5],
    ['XXX', 0.3],
  ])
  const transmissionTime = random.chance(0.5)
    ? sim.transmissionTime()
    : random.chance(0.01)
      ? '1399999999'
      : null
  const inquiryAmount = random.chance(0.03) ? 100 : 0
  return {
    type: 'new',
    kind,
    channel: transmissionTime === null ? 'http' : 'iso8583',
    terminalId,
    merchantId,
    stan: random.chance(0.01) ? '12ab' : sim.nextStan(terminalId),
    transmissionTime,
    card: {
      pan: maybeBrokenPan(random, card.pan),
      expiry: random.weighted([
        [CARD_EXPIRY, 30],
        ['2412', 0.5],
        ['2911', 0.5],
        ['3013', 0.3],
      ]),
    },
    cardToken: card.token,
    amountMinor: kind === 'balance_inquiry' ? inquiryAmount : randomAmount(random),
    currency,
    idempotencyKey: random.chance(0.4) ? sim.nextIdempotencyKey() : null,
  }
}

/** The follow-ups that make sense for an original, and a few that do not (to be declined). */
const FOLLOW_UP_KINDS: Readonly<Record<string, readonly (readonly [FollowUpKind, number])[]>> = {
  purchase: [
    ['void', 2],
    ['reversal', 2],
    ['refund', 3],
    ['completion', 0.2],
  ],
  preauthorization: [
    ['completion', 5],
    ['void', 1.5],
    ['reversal', 1.5],
    ['refund', 0.2],
  ],
  completion: [
    ['void', 1],
    ['reversal', 1],
    ['refund', 3],
  ],
  refund: [
    ['reversal', 3],
    ['void', 0.3],
    ['refund', 0.3],
  ],
  other: [
    ['reversal', 3],
    ['void', 1],
    ['refund', 1],
    ['completion', 1],
  ],
}

/** True when a follow-up would walk into one of the known bugs (see AVOID_KNOWN_BUGS). */
function knownBug(
  original: TransactionRecord,
  kind: FollowUpKind,
  amountMinor: number | null,
  batch: readonly CoreRequest[],
): boolean {
  if (!AVOID_KNOWN_BUGS) return false
  const sameBatch = batch.some((r) => r.type === 'follow_up' && r.originalId === original.id)
  const undo = kind === 'void' || kind === 'reversal'
  if (undo && original.kind === 'completion') return original.refundedAmountMinor > 0 || sameBatch
  const nothingLeft = original.refundedAmountMinor >= original.amountMinor
  return kind === 'refund' && amountMinor === null && (nothingLeft || sameBatch)
}

function randomFollowUp(sim: Sim, batch: readonly CoreRequest[]): FollowUpRequest | null {
  const random = sim.random
  const pool = random.chance(0.85) ? sim.followable : sim.allIds
  if (pool.length === 0 || random.chance(0.01)) {
    return sim.followUp('reversal', random.chance(0.5) ? `tx_${'9'.repeat(26)}` : 'nonsense')
  }
  const original = sim.store.transactions.get(random.pickRecent(pool, 40))
  if (original === undefined) throw new Error('a followable transaction is stored')
  const kind = random.weighted(FOLLOW_UP_KINDS[original.kind] ?? FOLLOW_UP_KINDS.other ?? [])
  const remaining =
    kind === 'refund' ? original.amountMinor - original.refundedAmountMinor : original.amountMinor
  let amountMinor: number | null = null
  if (kind === 'completion' || kind === 'refund') {
    amountMinor = random.weighted<number | null>([
      [null, 2],
      [Math.max(1, random.int(1, remaining)), 5],
      [remaining, 1],
      [remaining + 1, 0.5],
      [0, 0.1],
    ])
  } else if (random.chance(0.02)) {
    amountMinor = original.amountMinor // Not allowed on a void or reversal.
  }
  if (knownBug(original, kind, amountMinor, batch)) return null
  const stan = random.chance(0.01) ? 'x1' : sim.nextStan(original.terminalId)
  return sim.followUp(kind, original.id, {
    amountMinor,
    stan: random.chance(0.6) ? stan : null,
    idempotencyKey: random.chance(0.4) ? sim.nextIdempotencyKey() : null,
    channel: random.pick<Channel>(['http', 'iso8583']),
  })
}

/** True when a later copy of `sent` finds the first answer through one of its keys. */
function keyStillApplies(sent: Sent, localDate: string): boolean {
  const request = sent.request
  if (request.idempotencyKey !== null) return true
  const sameDay = sent.localDate === localDate
  if (request.type === 'new') return request.transmissionTime !== null || sameDay
  return request.stan !== null && sameDay
}

/**
 * The same request again (expects the first answer); or changed under the same keys (expects
 * duplicate_mismatch). Either way nothing executes, so no known bug can be reached.
 */
function retransmission(sim: Sim, changed: boolean): Planned | null {
  if (sim.history.length === 0) return null
  const sent = sim.random.pickRecent(sim.history, 30)
  if (sent.result.type !== 'decided' || !keyStillApplies(sent, sim.localDate())) return null
  const request = sent.request
  const transactionId = sent.result.transaction.id
  if (!changed) return { request, expect: { type: 'replay_of', transactionId } }
  // A replayed answer stored nothing under this request's keys (a repeated reversal finds the
  // first one through its original), so only a fresh answer's keys can be mismatched.
  if (sent.result.replayed) return null
  if (request.type === 'new') {
    const cardToken = `${request.cardToken}x`
    return { request: { ...request, cardToken }, expect: { type: 'mismatch' } }
  }
  // A follow-up's retransmission key includes its kind (a UnionPay reversal repeats its
  // original's STAN), so a void and a reversal with one STAN are two requests, not a mismatch.
  if (request.kind === 'void' || request.kind === 'reversal') return null
  const other: Partial<FollowUpFields> = { amountMinor: (request.amountMinor ?? 0) + 1 }
  return { request: { ...request, ...other }, expect: { type: 'mismatch' } }
}

/** A new void or reversal of something already undone: the first answer comes back. */
function repeatedUndo(sim: Sim): Planned | null {
  if (sim.allIds.length === 0) return null
  const record = sim.store.transactions.get(sim.random.pickRecent(sim.allIds, 200))
  if (record === undefined || record.originalId === null) return null
  if (record.outcome !== 'approved') return null
  if (record.kind !== 'void' && record.kind !== 'reversal') return null
  const request = sim.followUp(record.kind, record.originalId)
  return { request, expect: { type: 'replay_of', transactionId: record.id } }
}

/** A copy of a request earlier in the same batch. */
function inBatchCopy(sim: Sim, requests: readonly CoreRequest[]): Planned | null {
  if (requests.length === 0) return null
  const index = sim.random.int(0, requests.length - 1)
  const request = requests[index]!
  if (request.type === 'new' || request.stan !== null || request.idempotencyKey !== null) {
    return { request, expect: { type: 'same_as', index } }
  }
  // Without a STAN or an idempotency key a follow-up is not a retransmission but a second
  // request (though a repeated void or reversal still finds the first answer).
  const original = sim.store.transactions.get(request.originalId ?? '')
  if (original !== undefined && knownBug(original, request.kind, request.amountMinor, requests)) {
    return null
  }
  return { request, expect: { type: 'none' } }
}

const BATCH_ACTIONS = [
  ['new', 60],
  ['follow_up', 28],
  ['retransmit', 4],
  ['mismatch', 2],
  ['repeat_undo', 3],
  ['in_batch_copy', 3],
] as const

function randomBatch(sim: Sim): { requests: CoreRequest[]; expectations: Expectation[] } {
  const random = sim.random
  const size = random.chance(0.5) ? 1 : random.int(2, BATCH_SIZE_MAX)
  const requests: CoreRequest[] = []
  const expectations: Expectation[] = []
  while (requests.length < size) {
    let planned: Planned | null = null
    switch (random.weighted(BATCH_ACTIONS)) {
      case 'new':
        planned = { request: randomNew(sim), expect: { type: 'none' } }
        break
      case 'follow_up': {
        const request = randomFollowUp(sim, requests)
        planned = request === null ? null : { request, expect: { type: 'none' } }
        break
      }
      case 'retransmit':
        planned = retransmission(sim, false)
        break
      case 'mismatch':
        planned = retransmission(sim, true)
        break
      case 'repeat_undo':
        planned = repeatedUndo(sim)
        break
      case 'in_batch_copy':
        planned = inBatchCopy(sim, requests)
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

function show(result: RequestResult): string {
  if (result.type === 'rejected') return `rejected ${result.reason}`
  const t = result.transaction
  return `${result.replayed ? 'replayed' : 'fresh'} ${t.id} ${t.outcome} ${t.reason ?? ''}`
}

function checkResults(
  sim: Sim,
  requests: readonly CoreRequest[],
  results: readonly RequestResult[],
  expectations: readonly Expectation[],
  insertedCount: number,
): void {
  if (results.length !== requests.length) fail('one result per request')
  const fresh = results.flatMap((r) =>
    r.type === 'decided' && !r.replayed ? [r.transaction.id] : [],
  )
  // A retransmission never creates a second transaction: only fresh answers are stored.
  if (fresh.length !== insertedCount) fail(`${fresh.length} fresh answers, ${insertedCount} stored`)
  if (new Set(fresh).size !== fresh.length) fail('two fresh answers share a transaction id')
  results.forEach((result, at) => {
    const request = requests[at]!
    const what = request.type === 'new' ? request.kind : `${request.kind} of ${request.originalId}`
    const where = `request ${at} (${what})`
    if (result.type === 'rejected') {
      if (reasonEntry(result.reason).code !== result.reason) fail(`${where}: unknown reason`)
    } else if (!sim.store.transactions.has(result.transaction.id)) {
      fail(`${where}: decided transaction ${result.transaction.id} is not stored`)
    }
    checkExpectation(expectations[at]!, result, results, where)
    if (
      request.type === 'new' &&
      result.type === 'decided' &&
      !result.replayed &&
      result.transaction.outcome === 'approved'
    ) {
      const why = approvalForbidden(sim, request)
      if (why !== null) fail(`${where}: approved ${result.transaction.id} although ${why}`)
    }
  })
}

function checkExpectation(
  expectation: Expectation,
  result: RequestResult,
  results: readonly RequestResult[],
  where: string,
): void {
  switch (expectation.type) {
    case 'none':
      return
    case 'replay_of':
      if (
        result.type !== 'decided' ||
        !result.replayed ||
        result.transaction.id !== expectation.transactionId
      ) {
        fail(`${where}: expected a replay of ${expectation.transactionId}, got ${show(result)}`)
      }
      return
    case 'mismatch':
      if (result.type !== 'rejected' || result.reason !== 'duplicate_mismatch') {
        fail(`${where}: expected duplicate_mismatch, got ${show(result)}`)
      }
      return
    case 'same_as': {
      const first = results[expectation.index]!
      const same =
        first.type === 'rejected'
          ? result.type === 'rejected' && result.reason === first.reason
          : result.type === 'decided' &&
            result.replayed &&
            result.transaction.id === first.transaction.id
      if (!same) fail(`${where}: a copy in the same batch got ${show(result)}, not ${show(first)}`)
    }
  }
}

/** An independent reading of the rules: why this new request must not be approved, or null. */
function approvalForbidden(sim: Sim, request: NewTransactionRequest): string | null {
  const store = sim.store
  const merchant = store.merchants.get(request.merchantId)
  const terminal = store.terminals.get(request.terminalId)
  const card = store.cards.get(request.cardToken)
  const account = card === undefined ? undefined : store.accounts.get(card.accountId)
  const currency = findCurrency(request.currency)?.alpha
  const inquiry = request.kind === 'balance_inquiry'
  if (merchant === undefined || terminal === undefined) return 'merchant or terminal unknown'
  if (terminal.merchantId !== merchant.id) return 'the terminal belongs to another merchant'
  if (terminal.status !== 'active') return 'the terminal is inactive'
  const sells = merchant.status === 'approved' || (inquiry && merchant.status === 'restricted')
  if (!sells) return `the merchant is ${merchant.status}`
  if (card === undefined || card.status !== 'active') return 'card not on file or not active'
  if (request.card.expiry !== card.expiry) return 'the expiry differs from the card on file'
  if (account === undefined || account.currency !== currency) return 'the currency differs'
  if (!inquiry && !mccPermitted(card.type, merchant.mcc)) return 'card not permitted at this MCC'
  const values = [request.cardToken, merchant.id, terminal.id]
  const blocked = [...store.listEntries.values()].find(
    (e) =>
      (e.expiresAtMs === null || e.expiresAtMs > sim.nowMs) &&
      (e.kind === 'bin' ? request.card.pan.startsWith(e.value) : values.includes(e.value)),
  )
  if (blocked !== undefined) return `block list entry ${blocked.id} applies`
  if (inquiry) return null
  for (const rule of store.limits.values()) {
    const applies =
      rule.currency === currency &&
      rule.entityId === null &&
      (rule.cardType === null || rule.cardType === card.type) &&
      (rule.mcc === null || rule.mcc === merchant.mcc)
    if (
      applies &&
      rule.perTransactionMaxMinor !== null &&
      request.amountMinor > rule.perTransactionMaxMinor
    ) {
      return `over the per-transaction limit of ${rule.id}`
    }
  }
  return null
}

// ---- invariants ---------------------------------------------------------------------------

const UNDONE = new Set(['voided', 'reversed'])

interface Sums {
  debitsPending: number
  creditsPending: number
  debitsPosted: number
  creditsPosted: number
}

function noSums(): Sums {
  return { debitsPending: 0, creditsPending: 0, debitsPosted: 0, creditsPosted: 0 }
}

/** What one transaction adds to the daily usage counters: three keys and an amount. */
interface Usage {
  readonly keys: readonly string[]
  readonly amountMinor: number
  readonly count: number
}

/**
 * Keeps, next to the store, aggregates computed independently of the core: account totals from
 * the transfers, what each card spent from the transaction records, and daily usage from the
 * approved sales. `absorb` folds in rows that changed; `check` compares the aggregates with the
 * store and checks the changed rows and the originals they touch. A fresh Auditor that absorbs
 * every row is the full check from scratch.
 */
class Auditor {
  private readonly journal = new Map<string, Sums>()
  private readonly journalOf = new Map<string, Transfer>()
  private readonly postings = new Map<string, number>()
  private readonly spent = new Map<string, number>()
  private readonly spentOf = new Map<string, readonly [string, number]>()
  private readonly usage = new Map<string, { count: number; amountMinor: number }>()
  private readonly usageOf = new Map<string, Usage>()

  constructor(private readonly sim: Sim) {}

  /** Folds changed rows into the aggregates, taking out what their earlier state added. */
  absorb(written: Written): void {
    const store = this.sim.store
    for (const id of written.transfers) {
      const previous = this.journalOf.get(id)
      if (previous !== undefined) this.addTransfer(previous, -1)
      const transfer = store.transfers.get(id)!
      this.addTransfer(transfer, 1)
      this.journalOf.set(id, transfer)
    }
    for (const id of written.transactions) {
      const t = store.transactions.get(id)!
      const previousSpend = this.spentOf.get(id)
      if (previousSpend !== undefined) add(this.spent, previousSpend[0], -previousSpend[1])
      const spend = spendOf(t)
      add(this.spent, spend[0], spend[1])
      this.spentOf.set(id, spend)
      const previousUsage = this.usageOf.get(id)
      if (previousUsage !== undefined) this.addUsage(previousUsage, -1)
      const usage = usageOf(t, (original) => store.transactions.get(original))
      this.addUsage(usage, 1)
      this.usageOf.set(id, usage)
      for (const key of [...(previousUsage?.keys ?? []), ...usage.keys]) written.counters.add(key)
    }
  }

  private addTransfer(t: Transfer, sign: 1 | -1): void {
    const isHold = t.expiresAtMs !== null
    if (isHold && t.state === 'pending') {
      this.sums(t.debitAccountId).debitsPending += sign * t.amountMinor
      this.sums(t.creditAccountId).creditsPending += sign * t.amountMinor
    }
    if (!isHold) {
      this.sums(t.debitAccountId).debitsPosted += sign * t.amountMinor
      this.sums(t.creditAccountId).creditsPosted += sign * t.amountMinor
    }
    if (t.pendingId !== null) add(this.postings, t.pendingId, sign * t.amountMinor)
  }

  private addUsage(usage: Usage, sign: 1 | -1): void {
    for (const key of usage.keys) {
      const e = this.usage.get(key) ?? { count: 0, amountMinor: 0 }
      const amountMinor = e.amountMinor + sign * usage.amountMinor
      this.usage.set(key, { count: e.count + sign * usage.count, amountMinor })
    }
  }

  private sums(accountId: string): Sums {
    const found = this.journal.get(accountId) ?? noSums()
    this.journal.set(accountId, found)
    return found
  }

  /** Checks the whole ledger, and the rows in `written` with the originals they touch. */
  check(written: Written): void {
    const store = this.sim.store
    checkLedger(store)
    for (const account of store.accounts.values()) {
      const s = this.journal.get(account.id) ?? noSums()
      if (
        s.debitsPending !== account.debitsPendingMinor ||
        s.creditsPending !== account.creditsPendingMinor ||
        s.debitsPosted !== account.debitsPostedMinor ||
        s.creditsPosted !== account.creditsPostedMinor
      ) {
        fail(`account ${JSON.stringify(account)} differs from its transfers ${JSON.stringify(s)}`)
      }
    }
    for (const card of this.sim.cards.filter((c) => c.spec.onFile)) {
      const available = availableMinor(store.accounts.get(card.accountId)!)
      const { openingMinor, creditLimitMinor, name } = card.spec
      const spent = this.spent.get(card.token) ?? 0
      const expected = openingMinor + card.depositsMinor + creditLimitMinor - spent
      if (available !== expected) fail(`card ${name}: available ${available}, expected ${expected}`)
    }
    const transactionIds = new Set(written.transactions)
    for (const id of written.transfers) {
      const transfer = store.transfers.get(id)!
      this.checkTransfer(transfer)
      transactionIds.add(transfer.transactionId)
      if (transfer.pendingId !== null) this.checkTransfer(store.transfers.get(transfer.pendingId)!)
    }
    // A follow-up changes what its original's checks see; an undone refund, its sale's.
    for (const id of [...transactionIds]) {
      const original = store.transactions.get(id)?.originalId ?? null
      if (original === null) continue
      transactionIds.add(original)
      const sale = store.transactions.get(original)?.originalId ?? null
      if (sale !== null) transactionIds.add(sale)
    }
    for (const id of transactionIds) {
      const t = store.transactions.get(id)
      if (t === undefined) continue // Openings and deposits name no transaction.
      checkRecordShape(t)
      if (t.outcome !== 'approved') continue
      checkHoldLink(store, t)
      checkFollowUps(store, t)
    }
    checkCounters(store, this.usage, written.counters)
  }

  /** A hold's postings match its state; a pending hold belongs to a held preauthorization. */
  private checkTransfer(t: Transfer): void {
    if (t.expiresAtMs === null) {
      if (t.state !== 'posted') fail(`transfer ${t.id} without expiry is ${t.state}`)
      return
    }
    const posted = this.postings.get(t.id) ?? 0
    const expected = t.state === 'posted' ? t.postedAmountMinor : 0
    if (posted !== expected) fail(`hold ${t.id} (${t.state}): postings ${posted}, not ${expected}`)
    if (t.state === 'posted' && (t.postedAmountMinor <= 0 || t.postedAmountMinor > t.amountMinor)) {
      fail(`hold ${t.id} of ${t.amountMinor} posted ${t.postedAmountMinor}`)
    }
    const early = t.state === 'expired' && (t.resolvedAtMs ?? 0) < t.expiresAtMs
    if (early) fail(`hold ${t.id} expired before it was due`)
    if (t.state === 'pending') {
      const owner = this.sim.store.transactions.get(t.transactionId)
      if (owner?.lifecycle !== 'held' || owner.holdTransferId !== t.id) {
        fail(`pending transfer ${t.id} has no held transaction`)
      }
    }
  }
}

function add(map: Map<string, number>, key: string, value: number): void {
  map.set(key, (map.get(key) ?? 0) + value)
}

/** What a record says its card spent: sales and open holds count, live refunds give back. */
function spendOf(t: TransactionRecord): readonly [string, number] {
  if (t.outcome !== 'approved' || t.cardToken === null) return ['', 0]
  const live = (t.kind === 'preauthorization' ? 'held' : 'posted') === t.lifecycle
  if (!live) return ['', 0]
  if (t.kind === 'refund') return [t.cardToken, -t.amountMinor]
  return FOLLOWABLE_KINDS.has(t.kind) ? [t.cardToken, t.amountMinor] : ['', 0]
}

/**
 * What stands of a sale counts on its day: a purchase or preauthorization in full unless undone,
 * a completed preauthorization only what was completed; an undone completion takes its amount
 * (and the sale's count) back from its preauthorization's day.
 */
function usageOf(t: TransactionRecord, find: (id: string) => TransactionRecord | undefined): Usage {
  const none: Usage = { keys: [], amountMinor: 0, count: 0 }
  if (t.outcome !== 'approved' || t.cardToken === null) return none
  const keysOn = (day: string) =>
    (
      [
        ['card', t.cardToken ?? ''],
        ['merchant', t.merchantId],
        ['terminal', t.terminalId],
      ] as const
    ).map(([scope, entity]) => counterKey(scope, entity, day, t.currency))
  if (t.kind === 'completion' && UNDONE.has(t.lifecycle) && t.originalId !== null) {
    const preauthorization = find(t.originalId)
    if (preauthorization === undefined) fail(`completion ${t.id} without its preauthorization`)
    return { keys: keysOn(preauthorization.localDate), amountMinor: -t.amountMinor, count: -1 }
  }
  const sale = t.kind === 'purchase' || t.kind === 'preauthorization'
  if (!sale || UNDONE.has(t.lifecycle)) return none
  const amountMinor = t.lifecycle === 'completed' ? t.completedAmountMinor : t.amountMinor
  return { keys: keysOn(t.localDate), amountMinor, count: 1 }
}

/** Per currency, debits equal credits, pending and posted; no cardholder below zero. */
function checkLedger(store: MemoryBatchStore): void {
  for (const [currency, totals] of ledgerTotals(store.accounts.values())) {
    if (totals.debitsPending !== totals.creditsPending) {
      fail(`${currency}: pending debits ${totals.debitsPending}, credits ${totals.creditsPending}`)
    }
    if (totals.debitsPosted !== totals.creditsPosted) {
      fail(`${currency}: posted debits ${totals.debitsPosted} != credits ${totals.creditsPosted}`)
    }
  }
  for (const account of store.accounts.values()) {
    assertAccountInvariants(account)
    if (isBounded(account) && availableMinor(account) < 0) fail(`account ${account.id} below zero`)
  }
}

/** Ids and codes are well formed; a decline carries a reason whose code it answers. */
function checkRecordShape(t: TransactionRecord): void {
  if (!/^tx_[0-9A-Z]{26}$/.test(t.id)) fail(`${t.id}: id malformed`)
  if (!/^\d{12}$/.test(t.rrn)) fail(`${t.id}: RRN ${t.rrn} malformed`)
  if (t.outcome === 'declined') {
    if (t.reason === null) fail(`declined ${t.id} without a reason`)
    if (reasonEntry(t.reason).isoCode !== t.responseCode) {
      fail(`declined ${t.id}: ${t.reason} answered with ${t.responseCode}`)
    }
    if (t.authorizationCode !== null || t.lifecycle !== 'none' || t.holdTransferId !== null) {
      fail(`declined ${t.id} has an authorization, a lifecycle or a hold`)
    }
  } else {
    if (t.reason !== null || t.responseCode !== '00') fail(`approved ${t.id}: ${t.responseCode}`)
    if (!/^[0-9A-Z]{6}$/.test(t.authorizationCode ?? '')) fail(`approved ${t.id}: auth code`)
  }
  if (t.refundedAmountMinor < 0 || t.refundedAmountMinor > t.amountMinor) {
    fail(`${t.id}: refunded ${t.refundedAmountMinor} of ${t.amountMinor}`)
  }
  if (t.completedAmountMinor < 0 || t.completedAmountMinor > t.amountMinor) {
    fail(`${t.id}: completed ${t.completedAmountMinor} of ${t.amountMinor}`)
  }
}

const HOLD_STATE_BY_LIFECYCLE: Readonly<Record<string, string>> = {
  held: 'pending',
  completed: 'posted',
  expired: 'expired',
  voided: 'voided',
  reversed: 'voided',
}

/** A preauthorization's lifecycle and its hold's state agree; nothing else holds money. */
function checkHoldLink(store: MemoryBatchStore, t: TransactionRecord): void {
  if (t.kind !== 'preauthorization') {
    if (t.holdTransferId !== null || t.lifecycle === 'held') fail(`${t.kind} ${t.id} has a hold`)
    return
  }
  const held = t.holdTransferId === null ? undefined : store.transfers.get(t.holdTransferId)
  if (held === undefined || held.transactionId !== t.id || held.amountMinor !== t.amountMinor) {
    fail(`preauthorization ${t.id} without its hold`)
  }
  if (HOLD_STATE_BY_LIFECYCLE[t.lifecycle] !== held.state) {
    fail(`preauthorization ${t.id} is ${t.lifecycle} but its hold is ${held.state}`)
  }
  if (t.lifecycle === 'completed' && held.postedAmountMinor !== t.completedAmountMinor) {
    const posted = held.postedAmountMinor
    fail(`preauthorization ${t.id}: completed ${t.completedAmountMinor}, posted ${posted}`)
  }
}

/** Undoing happens once, money goes back exactly once, refunds add up, never too much back. */
function checkFollowUps(store: MemoryBatchStore, t: TransactionRecord): void {
  const followUps = store.followUpsOf(t.id).filter((f) => f.outcome === 'approved')
  // A reversal of what was already undone is acknowledged with nothing moved (amount 0).
  const undos = followUps.filter(
    (f) => (f.kind === 'void' || f.kind === 'reversal') && f.amountMinor > 0,
  )
  for (const kind of ['void', 'reversal'] as const) {
    if (undos.filter((f) => f.kind === kind).length > 1) fail(`${t.id} has two approved ${kind}s`)
  }
  const undone = UNDONE.has(t.lifecycle)
  if (undos.length !== (undone ? 1 : 0)) {
    fail(`${t.kind} ${t.id} is ${t.lifecycle} with ${undos.length} approved undos`)
  }
  const undo = undos[0]
  if (undo !== undefined) checkUndoMoved(store, t, undo)
  if (t.kind === 'purchase' || t.kind === 'completion') {
    const refunds = followUps.filter((f) => f.kind === 'refund' && f.lifecycle === 'posted')
    const refunded = refunds.reduce((sum, f) => sum + f.amountMinor, 0)
    if (refunded !== t.refundedAmountMinor) {
      fail(`${t.id}: refundedAmount ${t.refundedAmountMinor}, live refunds ${refunded}`)
    }
    const back = refunded + (undone ? t.amountMinor : 0)
    if (back > t.amountMinor) {
      const how = `${refunded} refunded, then ${t.lifecycle}`
      fail(`${t.kind} ${t.id} of ${t.amountMinor} gave back ${back} (${how})`)
    }
  }
  if (t.kind === 'preauthorization') {
    const completions = followUps.filter((f) => f.kind === 'completion')
    if (completions.length !== (t.lifecycle === 'completed' ? 1 : 0)) {
      fail(`preauthorization ${t.id} is ${t.lifecycle} with ${completions.length} completions`)
    }
    if (completions[0] !== undefined && completions[0].amountMinor !== t.completedAmountMinor) {
      fail(`completion of ${t.id} differs from its completedAmount`)
    }
  }
}

/** An undo is for the whole amount: a hold is released, posted money moves back once. */
function checkUndoMoved(
  store: MemoryBatchStore,
  t: TransactionRecord,
  undo: TransactionRecord,
): void {
  if (undo.amountMinor !== t.amountMinor) fail(`undo ${undo.id} of ${t.id}: ${undo.amountMinor}`)
  const moved = store.transfersOf(undo.id)
  if (t.kind === 'preauthorization') {
    if (moved.length !== 0) fail(`undo ${undo.id} of preauthorization ${t.id} moved money`)
    return
  }
  const cardAccount = t.cardToken === null ? undefined : store.cards.get(t.cardToken)?.accountId
  const clearing = clearingAccountId(t.currency)
  const [from, to] = t.kind === 'refund' ? [cardAccount, clearing] : [clearing, cardAccount]
  const [only] = moved
  if (
    moved.length !== 1 ||
    only?.amountMinor !== t.amountMinor ||
    only.debitAccountId !== from ||
    only.creditAccountId !== to
  ) {
    fail(`undo ${undo.id} of ${t.kind} ${t.id} did not move ${t.amountMinor} back exactly once`)
  }
}

/**
 * Daily usage counters are the day's approved purchases and preauthorizations minus the undone
 * ones; and the limits without card type or category filters are never exceeded.
 */
function checkCounters(
  store: MemoryBatchStore,
  usage: ReadonlyMap<string, { count: number; amountMinor: number }>,
  keys: Iterable<string>,
): void {
  const rules = [...store.limits.values()].filter((r) => r.cardType === null && r.mcc === null)
  for (const key of keys) {
    const counter = store.counters.get(key) ?? { key, count: 0, amountMinor: 0 }
    const e = usage.get(key) ?? { count: 0, amountMinor: 0 }
    if (counter.count !== e.count || counter.amountMinor !== e.amountMinor) {
      const actual = `${counter.count}/${counter.amountMinor}`
      fail(`counter ${key} is ${actual}, the day's sales say ${e.count}/${e.amountMinor}`)
    }
    const [scope, entity, , currency] = key.split('|')
    for (const rule of rules) {
      if (scope !== rule.scope || currency !== rule.currency) continue
      if (rule.entityId !== null && entity !== rule.entityId) continue
      if (
        (rule.dailyAmountMaxMinor !== null && counter.amountMinor > rule.dailyAmountMaxMinor) ||
        (rule.dailyCountMax !== null && counter.count > rule.dailyCountMax)
      ) {
        fail(`counter ${key} (${counter.count}/${counter.amountMinor}) is over limit ${rule.id}`)
      }
    }
  }
}

/** The full check, from scratch: every row, fresh aggregates. */
function checkInvariants(sim: Sim): void {
  const everything = (): Written => ({
    transactions: new Set(sim.store.transactions.keys()),
    transfers: new Set(sim.store.transfers.keys()),
    counters: new Set(sim.store.counters.keys()),
  })
  const auditor = new Auditor(sim)
  auditor.absorb(everything())
  auditor.check(everything())
}

// ---- the simulation -----------------------------------------------------------------------

function advanceTime(sim: Sim): void {
  const random = sim.random
  sim.nowMs += random.weighted<() => number>([
    [() => random.int(1, 30) * MINUTE_MS, 8],
    [() => random.int(1, 12) * HOUR_MS + random.int(0, 59) * MINUTE_MS, 3],
    [() => random.int(1, 4) * DAY_MS + random.int(0, 23) * HOUR_MS, 1],
  ])()
  // The expiry job runs now and then, in small batches, so a due hold may wait for it.
  if (random.chance(0.7)) while (sim.expire(random.int(1, 8)) > 0);
}

function step(sim: Sim, auditor: Auditor): void {
  const random = sim.random
  const actions = [
    ['batch', 80],
    ['advance', 15],
    ['expire', 3],
    ['deposit', 2],
  ] as const
  switch (random.weighted(actions)) {
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
      const reference = `deposit:${card.token}`
      sim.store.deposit(card.accountId, amountMinor, sim.newTransferId(), reference, sim.nowMs)
      card.depositsMinor += amountMinor
      break
    }
  }
  const written = sim.store.takeWritten()
  auditor.absorb(written)
  auditor.check(written)
}

/** What every run must have reached, or it proves little. */
const MUST_SEE_STATES = [
  'purchase:approved:posted',
  'purchase:approved:voided',
  'purchase:approved:reversed',
  'preauthorization:approved:completed',
  'preauthorization:approved:expired',
  'completion:approved:posted',
  'refund:approved:posted',
  'refund:approved:reversed',
  'purchase:declined:none',
]
const MUST_SEE_REASONS = [
  'insufficient_funds',
  'credit_limit_exceeded',
  'void_window_closed',
  'original_not_eligible',
  'card_lost',
  'card_daily_amount_limit_exceeded',
  'terminal_daily_count_limit_exceeded',
  'bin_blocked',
  'terminal_merchant_mismatch',
]

function run(seed: number): Sim {
  const sim = new Sim(new Random(seed))
  const auditor = new Auditor(sim)
  auditor.absorb(sim.store.takeWritten())
  checkInvariants(sim)
  for (let at = 0; at < STEPS; at += 1) {
    sim.lastBatch = []
    try {
      step(sim, auditor)
      if ((at + 1) % FULL_CHECK_EVERY_STEPS === 0 || at + 1 === STEPS) checkInvariants(sim)
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      const replay = `(replay: SIM_SEED=${seed} npx vitest run test/simulation)`
      const batch = sim.lastBatch.length === 0 ? '' : `\nbatch: ${JSON.stringify(sim.lastBatch)}`
      throw new Error(`seed=${seed} step=${at}: ${message} ${replay}${batch.slice(0, 4_000)}`, {
        cause: error,
      })
    }
  }
  return sim
}

describe('core simulation', () => {
  for (const seed of SEEDS) {
    it(`keeps every invariant through ${STEPS} random steps (seed=${seed})`, () => {
      const sim = run(seed)
      const transactions = [...sim.store.transactions.values()]
      const states = new Set(transactions.map((t) => `${t.kind}:${t.outcome}:${t.lifecycle}`))
      for (const state of MUST_SEE_STATES) expect(states, `seed=${seed}`).toContain(state)
      const reasons = new Set(transactions.map((t) => t.reason))
      for (const reason of MUST_SEE_REASONS) expect(reasons, `seed=${seed}`).toContain(reason)
    })
  }
})

// ---- targeted scenarios -------------------------------------------------------------------

function decided(result: RequestResult | undefined): TransactionRecord {
  if (result?.type !== 'decided') throw new Error(`not a decision: ${JSON.stringify(result)}`)
  return result.transaction
}

function available(sim: Sim, name: string): number {
  return availableMinor(sim.store.accounts.get(sim.card(name).accountId)!)
}

function preauthorize(sim: Sim, card: string, amountMinor: number): NewTransactionRequest {
  return sim.newRequest(sim.card(card), { kind: 'preauthorization', amountMinor })
}

/** Runs one request alone and returns its decision. */
function one(sim: Sim, request: CoreRequest): TransactionRecord {
  return decided(sim.runBatch([request])[0])
}

describe('core scenarios', () => {
  it('declines a void on the next business day but still accepts a reversal', () => {
    const sim = new Sim(new Random(1))
    sim.nowMs = Date.UTC(2026, 2, 10, 15, 50) // 23:50 in Shanghai.
    const d2 = sim.card('d2')
    const sale = one(sim, sim.newRequest(d2, { amountMinor: 12_345 }))
    expect(sale.outcome).toBe('approved')
    expect(available(sim, 'd2')).toBe(300_000 - 12_345)
    sim.nowMs += 20 * MINUTE_MS // 00:10 the next day in Shanghai; still 10 March in UTC.
    expect(one(sim, sim.followUp('void', sale.id))).toMatchObject({
      outcome: 'declined',
      reason: 'void_window_closed',
      responseCode: reasonEntry('void_window_closed').isoCode,
    })
    expect(sim.store.transactions.get(sale.id)?.lifecycle).toBe('posted')
    expect(one(sim, sim.followUp('reversal', sale.id)).outcome).toBe('approved')
    expect(available(sim, 'd2')).toBe(300_000)
    // The reversal gives the room back to the day the sale counted on.
    const counter = sim.store.counters.get(counterKey('card', d2.token, '2026-03-10', 'CNY'))
    expect(counter).toMatchObject({ count: 0, amountMinor: 0 })
    checkInvariants(sim)
  })

  it('expires a preauthorization past its expiry; a later completion is not eligible', () => {
    const sim = new Sim(new Random(2))
    const preauthorization = one(sim, preauthorize(sim, 'c2', 150_000))
    expect(preauthorization).toMatchObject({ outcome: 'approved', lifecycle: 'held' })
    expect(available(sim, 'c2')).toBe(50_000)
    sim.nowMs += HOLD_EXPIRY_MS - 1
    expect(sim.expire(10)).toBe(0)
    sim.nowMs += 1
    expect(sim.expire(10)).toBe(1)
    expect(sim.store.transactions.get(preauthorization.id)?.lifecycle).toBe('expired')
    expect(sim.store.transfers.get(preauthorization.holdTransferId!)?.state).toBe('expired')
    expect(available(sim, 'c2')).toBe(200_000)
    const completion = one(
      sim,
      sim.followUp('completion', preauthorization.id, {
        amountMinor: 100_000,
      }),
    )
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
    expect(results.map((r) => decided(r).reason)).toEqual([
      null,
      'insufficient_funds',
      'insufficient_funds',
      null,
    ])
    expect(available(sim, 'd3')).toBe(0)
    checkInvariants(sim)
  })

  it('replays a retransmission and rejects a changed one, in one batch and across batches', () => {
    const sim = new Sim(new Random(4))
    const request = sim.newRequest(sim.card('c1'), { amountMinor: 5_000, idempotencyKey: 'k-1' })
    const [first, copy] = sim.runBatch([request, request])
    expect(decided(copy).id).toBe(decided(first).id)
    expect(sim.runBatch([request])[0]).toMatchObject({
      type: 'decided',
      replayed: true,
      transaction: { id: decided(first).id },
    })
    expect(sim.runBatch([{ ...request, amountMinor: 5_001 }])[0]).toMatchObject({
      type: 'rejected',
      reason: 'duplicate_mismatch',
    })
    expect(sim.store.transactions.size).toBe(1)
    expect(available(sim, 'c1')).toBe(1_000_000 - 5_000)
    checkInvariants(sim)
  })

  // Found by this simulation: a void once undid a partly refunded completion in full.
  it('never gives back more than a completion took (refund, then void)', () => {
    const sim = new Sim(new Random(5))
    const preauthorization = one(sim, preauthorize(sim, 'd1', 10_000))
    const completion = one(sim, sim.followUp('completion', preauthorization.id))
    expect(completion.outcome).toBe('approved')
    const refund = one(sim, sim.followUp('refund', completion.id, { amountMinor: 3_000 }))
    expect(refund.outcome).toBe('approved')
    // A purchase in the same state gets original_not_eligible; the completion should too.
    expect(one(sim, sim.followUp('void', completion.id))).toMatchObject({
      outcome: 'declined',
      reason: 'original_not_eligible',
    })
    expect(available(sim, 'd1')).toBe(800_000 - 10_000 + 3_000)
  })

  // Found by this simulation: a completion's answer once depended on whether the sweep had run.
  it('declines completing a hold past its expiry even before the expiry job ran', () => {
    const sim = new Sim(new Random(7))
    const preauthorization = one(sim, preauthorize(sim, 'c1', 40_000))
    sim.nowMs += HOLD_EXPIRY_MS + HOUR_MS
    expect(one(sim, sim.followUp('completion', preauthorization.id))).toMatchObject({
      outcome: 'declined',
      reason: 'original_not_eligible',
    })
  })

  // Found by this simulation: a whole-remaining refund of nothing once crashed the batch.
  it('declines a whole-remaining refund of a fully refunded sale instead of crashing', () => {
    const sim = new Sim(new Random(6))
    const sale = one(sim, sim.newRequest(sim.card('d2'), { amountMinor: 8_000 }))
    expect(one(sim, sim.followUp('refund', sale.id)).outcome).toBe('approved')
    const results = sim.runBatch([
      sim.newRequest(sim.card('c1'), { amountMinor: 1_000 }),
      sim.followUp('refund', sale.id),
    ])
    expect(decided(results[0]).outcome).toBe('approved')
    expect(decided(results[1]).outcome).toBe('declined')
  })
})
