/**
 * The fleet and card traffic of `npm run bench:risk`: merchants, terminals and cards drawn from a
 * seed, and an endless stream of purchase attempts over them. The same seed gives the same
 * fleet and the same stream, which lets the benchmark replay identical traffic for each engine.
 *
 * Traffic is skewed as card traffic is: a few merchants take much of it (a supermarket chain, a
 * transit operator), cards are used a few times a day with some used much more, about 7% of
 * attempts are declined (1% for a wrong PIN), 5% are round amounts, and 1% come from a card
 * being tested (small amounts, a new terminal each time, a few attempts within minutes).
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Card, CardType, Channel, Merchant, RiskTier, Terminal } from '../../src/core/model.js'
import type { EntryMode } from '../../src/core/risk/features.js'
import { seededRandom } from './random.js'

export interface FleetSize {
  readonly cards: number
  readonly merchants: number
  readonly terminals: number
}

export interface BenchCard {
  readonly token: string
  readonly bin: string
  readonly type: CardType
  readonly issuer: string
  /** Issued by Tollgate (a Card row exists), as about one card in five. */
  readonly record: Card | undefined
}

export interface Fleet {
  readonly merchants: readonly Merchant[]
  readonly terminals: readonly Terminal[]
  readonly terminalsOf: readonly (readonly Terminal[])[]
  readonly cards: readonly BenchCard[]
  readonly merchantMap: ReadonlyMap<string, Merchant>
  readonly terminalMap: ReadonlyMap<string, Terminal>
  readonly cardsOnFile: ReadonlyMap<string, Card>
  /** When Tollgate first saw each card (about 3% are new: no entry). */
  readonly firstSeen: ReadonlyMap<string, number>
  readonly mccs: readonly string[]
  readonly regions: readonly string[]
  readonly bins: readonly string[]
  readonly issuers: readonly string[]
}

const DAY_MS = 86_400_000

/** Cities (6-digit administrative codes); the first four digits name the city. */
const REGIONS = [
  '310000', '110000', '440300', '440100', '330100', '320100', '510100', '420100', '500000',
  '610100', '120000', '370200', '350200', '430100', '410100', '210100', '320500', '330200',
  '530100', '450100', '220100', '230100', '340100', '360100',
] // prettier-ignore

/** MCCs by weight: groceries and restaurants dominate card-present traffic. */
const MCC_WEIGHTS: readonly (readonly [string, number])[] = [
  ['5411', 20], ['5812', 18], ['5814', 10], ['5499', 8], ['5311', 5], ['5541', 5], ['4111', 4],
  ['5912', 4], ['5691', 3], ['5651', 3], ['5732', 3], ['5722', 2], ['7011', 2], ['4121', 2],
  ['5942', 1], ['5943', 1], ['8062', 1], ['8220', 1], ['5944', 1], ['7230', 1], ['4829', 1],
  ['6051', 1], ['6540', 1], ['7995', 1], ['5993', 1], ['5921', 1], ['7832', 1], ['4511', 1],
] // prettier-ignore

const BIN_BANKS = new Set([
  'ICBC',
  'ABC',
  'CCB',
  'BOC',
  'CMB',
  'COMM',
  'PAB',
  'CITIC',
  'SPDB',
  'CEB',
])
const BINS_USED = 48

interface BinRow {
  readonly bin: string
  readonly bank: string
  readonly type: CardType
}

/** Six-digit debit and credit BINs of ten large banks, from the reference table. */
function loadBins(referenceDir: string): BinRow[] {
  const rows: BinRow[] = []
  for (const line of readFileSync(join(referenceDir, 'cn-card-bin.csv'), 'utf8').split('\n')) {
    const [bin, code, bank, kind] = line.split(',')
    if (bin === undefined || code === undefined || bank === undefined || kind === undefined)
      continue
    if (!/^\d{6}$/.test(bin) || !BIN_BANKS.has(code)) continue
    if (kind !== 'DC' && kind !== 'CC') continue
    rows.push({ bin, bank, type: kind === 'CC' ? 'credit' : 'debit' })
  }
  return rows
}

function weighted<T>(random: () => number, items: readonly (readonly [T, number])[]): T {
  const total = items.reduce((sum, [, w]) => sum + w, 0)
  let roll = random() * total
  for (const [item, w] of items) {
    roll -= w
    if (roll < 0) return item
  }
  const last = items[items.length - 1]
  if (last === undefined) throw new Error('no items')
  return last[0]
}

function at<T>(list: readonly T[], index: number): T {
  const item = list[index]
  if (item === undefined) throw new Error(`index ${index} out of ${list.length}`)
  return item
}

/** A skewed draw in 0..n-1: `power` > 1 favours the low indexes. */
const skewed = (random: () => number, n: number, power: number): number =>
  Math.min(n - 1, Math.floor(n * random() ** power))

const MERCHANT_SKEW = 2.5
const CARD_SKEW = 1.3

export function buildFleet(
  size: FleetSize,
  seed: number,
  referenceDir: string,
  t0Ms: number,
): Fleet {
  const random = seededRandom(seed ^ 0x0f1e_e700)
  const allBins = loadBins(referenceDir)
  const bins: BinRow[] = []
  while (bins.length < Math.min(BINS_USED, allBins.length)) {
    const [row] = allBins.splice(Math.floor(random() * allBins.length), 1)
    if (row !== undefined) bins.push(row)
  }
  if (!bins.some((b) => b.type === 'credit') || !bins.some((b) => b.type === 'debit')) {
    throw new Error('the reference BIN table gave no debit or no credit BIN')
  }

  const tiers: readonly (readonly [RiskTier, number])[] = [
    ['low', 70],
    ['medium', 25],
    ['high', 5],
  ]
  const merchants: Merchant[] = []
  for (let i = 0; i < size.merchants; i++) {
    const createdAtMs = t0Ms - Math.floor((1 + random() * 1_500) * DAY_MS)
    merchants.push({
      id: `89831${String(i).padStart(10, '0')}`,
      name: `merchant ${i}`,
      mcc: weighted(random, MCC_WEIGHTS),
      status: 'approved',
      region: REGIONS[skewed(random, REGIONS.length, 1.5)] ?? null,
      riskTier: weighted(random, tiers),
      createdAtMs,
      updatedAtMs: createdAtMs,
    })
  }
  // One terminal each, the rest to merchants as skewed as their traffic.
  const terminalsOf: Terminal[][] = merchants.map(() => [])
  const terminals: Terminal[] = []
  for (let i = 0; i < size.terminals; i++) {
    const m = i < merchants.length ? i : skewed(random, merchants.length, MERCHANT_SKEW)
    const merchant = at(merchants, m)
    const terminal: Terminal = {
      id: String(30_000_000 + i),
      merchantId: merchant.id,
      status: 'active',
      region:
        random() < 0.97 ? merchant.region : at(REGIONS, Math.floor(random() * REGIONS.length)),
      createdAtMs: merchant.createdAtMs,
      updatedAtMs: merchant.createdAtMs,
    }
    terminals.push(terminal)
    at(terminalsOf, m).push(terminal)
  }
  const cards: BenchCard[] = []
  const firstSeen = new Map<string, number>()
  const cardsOnFile = new Map<string, Card>()
  for (let i = 0; i < size.cards; i++) {
    const row = at(bins, skewed(random, bins.length, 1.5))
    const token = `tok_${createHash('sha256').update(`${seed}:${i}`).digest('hex').slice(0, 32)}`
    const onFile = random() < 0.2
    const createdAtMs = t0Ms - Math.floor(random() * 700 * DAY_MS)
    const record: Card | undefined = onFile
      ? {
          token,
          masked: `${row.bin}******${String(i % 10_000).padStart(4, '0')}`,
          bin: row.bin,
          last4: String(i % 10_000).padStart(4, '0'),
          expiry: '3012',
          type: row.type,
          status: 'active',
          accountId: `acct_${i}`,
          issuerBank: row.bank,
          createdAtMs,
          updatedAtMs: createdAtMs,
        }
      : undefined
    if (record !== undefined) cardsOnFile.set(token, record)
    if (random() >= 0.03) firstSeen.set(token, t0Ms - Math.floor(random() * 400 * DAY_MS))
    cards.push({ token, bin: row.bin, type: row.type, issuer: row.bank, record })
  }
  return {
    merchants,
    terminals,
    terminalsOf,
    cards,
    merchantMap: new Map(merchants.map((m) => [m.id, m])),
    terminalMap: new Map(terminals.map((t) => [t.id, t])),
    cardsOnFile,
    firstSeen,
    mccs: MCC_WEIGHTS.map(([mcc]) => mcc),
    regions: REGIONS,
    bins: bins.map((b) => b.bin),
    issuers: [...new Set(bins.map((b) => b.bank))],
  }
}

/** One purchase attempt; the time is the caller's (velocity history or the batch's). */
export interface Attempt {
  readonly card: BenchCard
  readonly merchant: Merchant
  readonly terminal: Terminal
  readonly kind: 'purchase' | 'preauthorization'
  readonly channel: Channel
  readonly amountMinor: number
  readonly entryMode: EntryMode
  readonly reportedRegion: string | null
  readonly declined: boolean
  readonly pinDeclined: boolean
  /** Part of a card-testing run. */
  readonly testing: boolean
}

const ENTRY_MODES: readonly (readonly [EntryMode, number])[] = [
  ['chip', 45], ['contactless', 40], ['magstripe', 8], ['manual', 2], ['unknown', 5],
] // prettier-ignore
const TESTING_SHARE = 0.01
const TESTING_RUN = 6

/** The endless, deterministic stream of attempts. */
export class TrafficStream {
  private readonly random: () => number
  private testingCard: BenchCard | null = null
  private testingLeft = 0

  constructor(
    private readonly fleet: Fleet,
    seed: number,
  ) {
    this.random = seededRandom(seed ^ 0x7a11_1c00)
  }

  next(): Attempt {
    const random = this.random
    const fleet = this.fleet
    if (random() < TESTING_SHARE) return this.testing()
    const card = at(fleet.cards, skewed(random, fleet.cards.length, CARD_SKEW))
    const m = skewed(random, fleet.merchants.length, MERCHANT_SKEW)
    const merchant = at(fleet.merchants, m)
    const own = at(fleet.terminalsOf, m)
    const terminal = at(own, Math.floor(random() * own.length))
    // Log-normal around 80.00 yuan; 5% round amounts (100.00 to 5,000.00).
    const amountMinor =
      random() < 0.05
        ? 10_000 * (1 + Math.floor(random() * 50))
        : Math.max(100, Math.round(8_000 * Math.exp(1.2 * gaussian(random))))
    const roll = random()
    const reported = random()
    return {
      card,
      merchant,
      terminal,
      kind: random() < 0.95 ? 'purchase' : 'preauthorization',
      channel: random() < 0.7 ? 'iso8583' : 'http',
      amountMinor,
      entryMode: weighted(random, ENTRY_MODES),
      reportedRegion:
        reported < 0.4
          ? null
          : reported < 0.99
            ? terminal.region
            : at(fleet.regions, Math.floor(random() * fleet.regions.length)),
      declined: roll < 0.07,
      pinDeclined: roll < 0.01,
      testing: false,
    }
  }

  private testing(): Attempt {
    const random = this.random
    const fleet = this.fleet
    if (this.testingCard === null || this.testingLeft === 0) {
      this.testingCard = at(fleet.cards, Math.floor(random() * fleet.cards.length))
      this.testingLeft = TESTING_RUN
    }
    this.testingLeft--
    const terminal = at(fleet.terminals, Math.floor(random() * fleet.terminals.length))
    const merchant = fleet.merchantMap.get(terminal.merchantId)
    if (merchant === undefined) throw new Error('terminal without merchant')
    return {
      card: this.testingCard,
      merchant,
      terminal,
      kind: 'purchase',
      channel: 'iso8583',
      amountMinor: 100 + Math.floor(random() * 900),
      entryMode: random() < 0.5 ? 'manual' : 'magstripe',
      reportedRegion: null,
      declined: random() < 0.6,
      pinDeclined: false,
      testing: true,
    }
  }
}

/** A standard normal draw (Box–Muller). */
function gaussian(random: () => number): number {
  const u = 1 - random()
  const v = random()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}
