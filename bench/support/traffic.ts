/**
 * The request mix both load benchmarks send: about 80% approvals and 20% declines, every STAN
 * unique for its terminal, cards used round-robin and none beyond what its limits allow.
 */
import { DEMO_CARDS, DEMO_MERCHANTS, DEMO_TERMINALS } from '../../src/app/demo-data.js'
import { assert } from '../../src/core/assert.js'
import type { ReasonCode } from '../../src/core/reasons/codes.js'
import { BENCH_MERCHANT, EXPIRY, type Fleet } from './provision.js'
import { seededRandom } from './random.js'

const STAN_MAX = 999_999
/** The demo credit rule allows 30 payments a day; stay one below it. */
const CREDIT_PAYMENTS_PER_CARD_MAX = 29
/** Debit: 100,000.00 a day per card; 450 payments of at most 199.99 stay far below it. */
const DEBIT_PAYMENTS_PER_CARD_MAX = 450
/** Everyday amounts: 1.00 to 199.99. */
const AMOUNT_MINOR_MIN = 100
const AMOUNT_MINOR_SPAN = 19_900
/** Above the noodle house's 2,000.00 per payment: 2,000.01 to 2,990.00. */
const OVER_LIMIT_MINOR_MIN = 200_001
const OVER_LIMIT_MINOR_SPAN = 99_000
assert(
  DEBIT_PAYMENTS_PER_CARD_MAX * (AMOUNT_MINOR_MIN + AMOUNT_MINOR_SPAN) < 10_000_000,
  'the debit plan stays below the demo daily limit of 100,000.00',
)
assert(
  CREDIT_PAYMENTS_PER_CARD_MAX * (AMOUNT_MINOR_MIN + AMOUNT_MINOR_SPAN) < 1_000_000,
  'the credit plan stays below the demo daily limit of 10,000.00',
)

export type Category =
  | 'debit_purchase'
  | 'credit_purchase'
  | 'insufficient_funds'
  | 'blocked_card'
  | 'suspended_merchant'
  | 'amount_limit'

/** The mix, in percent of requests, and the reason of each decline (null: approved). */
export const MIX: readonly {
  readonly category: Category
  readonly percent: number
  readonly reason: ReasonCode | null
}[] = [
  { category: 'debit_purchase', percent: 70, reason: null },
  { category: 'credit_purchase', percent: 10, reason: null },
  { category: 'insufficient_funds', percent: 8, reason: 'insufficient_funds' },
  { category: 'blocked_card', percent: 4, reason: 'card_blocked' },
  { category: 'suspended_merchant', percent: 4, reason: 'merchant_suspended' },
  { category: 'amount_limit', percent: 4, reason: 'transaction_amount_limit_exceeded' },
]
assert(MIX.reduce((sum, m) => sum + m.percent, 0) === 100, 'the mix adds up to 100%')

interface Where {
  readonly terminalId: string
  readonly merchantId: string
}

/** One planned purchase, ready to be written in a protocol. */
export interface Purchase extends Where {
  readonly category: Category
  readonly pan: string
  readonly expiry: string
  readonly amountMinor: number
  /** Six digits, unique for the terminal. */
  readonly stan: string
}

/**
 * Plans the purchases and hands each to `write`. Returns null when the cards have used their
 * day (not at default settings). With `amountEveryTime`, an everyday amount is drawn for every
 * request, also for a per-payment-limit one that does not use it (so that bench/iso-tcp.ts
 * keeps its sequence for a seed); otherwise only when one is used.
 */
export class PurchaseStream<T> {
  private readonly random: () => number
  private readonly stans = new Map<string, number>()
  private terminalNext = 0
  private debitSent = 0
  private creditSent = 0
  private lowSent = 0
  /** Credit requests sent with a debit card because the credit cards had used their day. */
  creditFallbacks = 0

  constructor(
    private readonly fleet: Fleet,
    seed: number,
    private readonly write: (purchase: Purchase) => T,
    private readonly amountEveryTime: boolean,
  ) {
    this.random = seededRandom(seed)
  }

  next(): T | null {
    const category = this.pickCategory()
    const terminalId = this.pick(this.fleet.terminalIds, this.terminalNext++)
    const bench = { terminalId, merchantId: BENCH_MERCHANT.id }
    const drawn = this.amountEveryTime ? this.everydayAmount() : null
    const amount = (): number => drawn ?? this.everydayAmount()
    switch (category) {
      case 'debit_purchase':
        return this.withDebitCard(category, bench, amount())
      case 'credit_purchase': {
        const pans = this.fleet.creditPans
        if (this.creditSent >= pans.length * CREDIT_PAYMENTS_PER_CARD_MAX) {
          this.creditFallbacks += 1
          return this.withDebitCard(category, bench, amount())
        }
        const pan = this.pick(pans, this.creditSent++)
        return this.build(category, { ...bench, pan, expiry: EXPIRY, amountMinor: amount() })
      }
      case 'insufficient_funds': {
        const pan = this.pick(this.fleet.lowBalancePans, this.lowSent++)
        return this.build(category, { ...bench, pan, expiry: EXPIRY, amountMinor: amount() })
      }
      case 'blocked_card': {
        const { pan, expiry } = DEMO_CARDS.listed
        return this.build(category, { ...bench, pan, expiry, amountMinor: amount() })
      }
      case 'suspended_merchant': {
        const fuel = { terminalId: DEMO_TERMINALS.fuel.id, merchantId: DEMO_MERCHANTS.fuel.id }
        return this.withDebitCard(category, fuel, amount())
      }
      case 'amount_limit': {
        const noodles = {
          terminalId: DEMO_TERMINALS.noodles.id,
          merchantId: DEMO_MERCHANTS.noodles.id,
        }
        const over = OVER_LIMIT_MINOR_MIN + Math.floor(this.random() * OVER_LIMIT_MINOR_SPAN)
        return this.withDebitCard(category, noodles, over)
      }
    }
  }

  private pickCategory(): Category {
    let roll = this.random() * 100
    for (const entry of MIX) {
      roll -= entry.percent
      if (roll < 0) return entry.category
    }
    return 'debit_purchase'
  }

  private everydayAmount(): number {
    return AMOUNT_MINOR_MIN + Math.floor(this.random() * AMOUNT_MINOR_SPAN)
  }

  private pick(items: readonly string[], index: number): string {
    const item = items[index % items.length]
    assert(item !== undefined, 'a non-empty list')
    return item
  }

  private withDebitCard(category: Category, where: Where, amountMinor: number): T | null {
    const pans = this.fleet.debitPans
    if (this.debitSent >= pans.length * DEBIT_PAYMENTS_PER_CARD_MAX) return null
    const pan = this.pick(pans, this.debitSent++)
    return this.build(category, { ...where, pan, expiry: EXPIRY, amountMinor })
  }

  private build(category: Category, purchase: Omit<Purchase, 'category' | 'stan'>): T {
    const stan = (this.stans.get(purchase.terminalId) ?? 0) + 1
    if (stan > STAN_MAX) {
      throw new Error(`terminal ${purchase.terminalId} has used all STANs of the day`)
    }
    this.stans.set(purchase.terminalId, stan)
    return this.write({ ...purchase, category, stan: String(stan).padStart(6, '0') })
  }
}
