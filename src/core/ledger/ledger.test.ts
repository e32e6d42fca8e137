import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AssertionFailure } from '../assert.js'
import { AMOUNT_MINOR_MAX, toAmountMinor, type AmountMinor } from '../money.js'
import type { Account, AccountKind, Transfer } from '../model.js'
import {
  assertAccountInvariants,
  assertConservation,
  availableMinor,
  creditUsedMinor,
  hold,
  isBounded,
  ledgerBalanceMinor,
  ledgerTotals,
  post,
  postHold,
  releaseHold,
  type LedgerRefusal,
  type LedgerResult,
  type ResolveResult,
} from './ledger.js'

const NOW_MS = 1_773_100_800_000
const HOUR_MS = 3_600_000

function account(id: string, kind: AccountKind, overrides: Partial<Account> = {}): Account {
  return {
    id, kind, currency: 'CNY', creditLimitMinor: 0, debitsPendingMinor: 0, debitsPostedMinor: 0,
    creditsPendingMinor: 0, creditsPostedMinor: 0, ...overrides,
  }
}

/** A debit card's account with `balance` posted in from the funding account. */
function debitAccount(balanceMinor: number, overrides: Partial<Account> = {}): Account {
  return account('debit', 'cardholder', { creditsPostedMinor: balanceMinor, ...overrides })
}

function creditAccount(limitMinor: number, overrides: Partial<Account> = {}): Account {
  return account('credit', 'cardholder', { creditLimitMinor: limitMinor, ...overrides })
}

const clearing = (overrides: Partial<Account> = {}): Account => account('clearing:CNY', 'clearing', overrides)

const amount = (value: number): AmountMinor => value as AmountMinor

function ok(result: LedgerResult | LedgerRefusal): LedgerResult {
  if ('code' in result) throw new Error(`expected success, got refusal ${JSON.stringify(result)}`)
  return result
}

function byId(accounts: readonly Account[]): Map<string, Account> {
  return new Map(accounts.map((a) => [a.id, a]))
}

function holdOn(debit: Account, credit: Account, value: number, expiresAtMs = NOW_MS + HOUR_MS): LedgerResult {
  return ok(hold({ id: 'h1', transactionId: 'tx1', debit, credit, amountMinor: amount(value), nowMs: NOW_MS, expiresAtMs }))
}

function accountsOf(result: { readonly accounts: readonly Account[] }): [Account, Account] {
  const [debit, credit] = result.accounts
  if (debit === undefined || credit === undefined) throw new Error('two accounts expected')
  return [debit, credit]
}

describe('balances', () => {
  it('derives available, ledger balance and credit used from the four totals', () => {
    const debit = debitAccount(10_000, { debitsPostedMinor: 2_500, debitsPendingMinor: 1_000 })
    expect(ledgerBalanceMinor(debit)).toBe(7_500)
    expect(availableMinor(debit)).toBe(6_500)
    const credit = creditAccount(50_000, { debitsPostedMinor: 12_000, debitsPendingMinor: 3_000, creditsPostedMinor: 2_000 })
    expect(availableMinor(credit)).toBe(37_000)
    expect(creditUsedMinor(credit)).toBe(13_000)
    expect(ledgerBalanceMinor(credit)).toBe(-10_000)
  })

  it('bounds only cardholder accounts', () => {
    expect(isBounded(debitAccount(0))).toBe(true)
    expect(isBounded(clearing())).toBe(false)
    expect(isBounded(account('funding:CNY', 'funding'))).toBe(false)
  })

  it('asserts account totals are non-negative safe integers and available stays >= 0', () => {
    expect(() => assertAccountInvariants(debitAccount(100, { debitsPostedMinor: 100 }))).not.toThrow()
    expect(() => assertAccountInvariants(debitAccount(100, { debitsPostedMinor: 101 }))).toThrow(AssertionFailure)
    expect(() => assertAccountInvariants(debitAccount(-1))).toThrow(AssertionFailure)
    expect(() => assertAccountInvariants(debitAccount(0.5))).toThrow(AssertionFailure)
    expect(() => assertAccountInvariants(debitAccount(Number.MAX_SAFE_INTEGER + 1))).toThrow(AssertionFailure)
    // An unbounded account may be far "below zero": the clearing account is the other side of sales.
    expect(() => assertAccountInvariants(clearing({ debitsPostedMinor: 1_000_000 }))).not.toThrow()
  })
})

describe('hold', () => {
  it('reserves the amount on both sides and returns a pending transfer', () => {
    const result = holdOn(debitAccount(10_000), clearing(), 4_000)
    const [debit, credit] = accountsOf(result)
    expect(debit.debitsPendingMinor).toBe(4_000)
    expect(credit.creditsPendingMinor).toBe(4_000)
    expect(availableMinor(debit)).toBe(6_000)
    expect(result.transfer).toMatchObject({
      id: 'h1', transactionId: 'tx1', debitAccountId: 'debit', creditAccountId: 'clearing:CNY',
      amountMinor: 4_000, currency: 'CNY', state: 'pending', postedAmountMinor: 0, pendingId: null,
      createdAtMs: NOW_MS, expiresAtMs: NOW_MS + HOUR_MS, resolvedAtMs: null,
    })
  })

  it('lets a debit account hold exactly its available and not one fen more', () => {
    const debit = debitAccount(10_000, { debitsPostedMinor: 3_000, debitsPendingMinor: 2_000 })
    const exact = holdOn(debit, clearing(), 5_000)
    expect(availableMinor(accountsOf(exact)[0])).toBe(0)
    const over = hold({ id: 'h2', transactionId: 'tx2', debit, credit: clearing(), amountMinor: amount(5_001), nowMs: NOW_MS, expiresAtMs: NOW_MS + 1 })
    expect(over).toEqual({ code: 'exceeds_available', availableMinor: 5_000 })
  })

  it('lets a credit account hold exactly its limit and not one fen more', () => {
    const credit = creditAccount(20_000)
    expect(availableMinor(accountsOf(holdOn(credit, clearing(), 20_000))[0])).toBe(0)
    const over = hold({ id: 'h2', transactionId: 'tx2', debit: credit, credit: clearing(), amountMinor: amount(20_001), nowMs: NOW_MS, expiresAtMs: NOW_MS + 1 })
    expect(over).toEqual({ code: 'exceeds_available', availableMinor: 20_000 })
  })

  it('refuses a zero-balance debit account even one fen', () => {
    const refused = hold({ id: 'h', transactionId: 't', debit: debitAccount(0), credit: clearing(), amountMinor: amount(1), nowMs: NOW_MS, expiresAtMs: NOW_MS + 1 })
    expect(refused).toEqual({ code: 'exceeds_available', availableMinor: 0 })
  })

  it('asserts on impossible inputs', () => {
    const base = { id: 'h', transactionId: 't', debit: debitAccount(10_000), credit: clearing(), nowMs: NOW_MS, expiresAtMs: NOW_MS + HOUR_MS }
    for (const bad of [0, -1, 1.5, Number.NaN, AMOUNT_MINOR_MAX + 1]) {
      expect(() => hold({ ...base, amountMinor: amount(bad) }), `amount ${bad}`).toThrow(AssertionFailure)
    }
    expect(() => hold({ ...base, amountMinor: amount(1), credit: account('clearing:HKD', 'clearing', { currency: 'HKD' }) })).toThrow(/one currency/)
    expect(() => hold({ ...base, amountMinor: amount(1), credit: base.debit })).toThrow(/distinct accounts/)
    expect(() => hold({ ...base, amountMinor: amount(1), expiresAtMs: NOW_MS })).toThrow(/expires in the future/)
  })
})

describe('post', () => {
  it('moves money at once, both sides posted', () => {
    const result = ok(post({ id: 'p', transactionId: 't', debit: debitAccount(10_000), credit: clearing(), amountMinor: amount(2_500), nowMs: NOW_MS }))
    const [debit, credit] = accountsOf(result)
    expect(debit.debitsPostedMinor).toBe(2_500)
    expect(credit.creditsPostedMinor).toBe(2_500)
    expect(result.transfer).toMatchObject({ state: 'posted', postedAmountMinor: 2_500, expiresAtMs: null, resolvedAtMs: NOW_MS, pendingId: null })
  })

  it('lets a debit account spend exactly its available (holds included) and not one fen more', () => {
    const debit = debitAccount(10_000, { debitsPendingMinor: 4_000 })
    const exact = ok(post({ id: 'p', transactionId: 't', debit, credit: clearing(), amountMinor: amount(6_000), nowMs: NOW_MS }))
    expect(availableMinor(accountsOf(exact)[0])).toBe(0)
    expect(post({ id: 'p', transactionId: 't', debit, credit: clearing(), amountMinor: amount(6_001), nowMs: NOW_MS }))
      .toEqual({ code: 'exceeds_available', availableMinor: 6_000 })
  })

  it('lets a credit account use exactly its limit and not one fen more', () => {
    const credit = creditAccount(8_000, { debitsPostedMinor: 3_000, creditsPostedMinor: 1_000 })
    expect(availableMinor(accountsOf(ok(post({ id: 'p', transactionId: 't', debit: credit, credit: clearing(), amountMinor: amount(6_000), nowMs: NOW_MS })))[0])).toBe(0)
    expect(post({ id: 'p', transactionId: 't', debit: credit, credit: clearing(), amountMinor: amount(6_001), nowMs: NOW_MS }))
      .toEqual({ code: 'exceeds_available', availableMinor: 6_000 })
  })

  it('never refuses a refund-like posting from an unbounded account back to the cardholder', () => {
    const result = ok(post({ id: 'r', transactionId: 't', debit: clearing(), credit: debitAccount(0), amountMinor: amount(AMOUNT_MINOR_MAX), nowMs: NOW_MS }))
    expect(availableMinor(accountsOf(result)[1])).toBe(AMOUNT_MINOR_MAX)
  })

  it('does not change its inputs, refused or not', () => {
    const debit = Object.freeze(debitAccount(100))
    const credit = Object.freeze(clearing())
    expect(post({ id: 'p', transactionId: 't', debit, credit, amountMinor: amount(101), nowMs: NOW_MS })).toMatchObject({ code: 'exceeds_available' })
    ok(post({ id: 'p', transactionId: 't', debit, credit, amountMinor: amount(100), nowMs: NOW_MS }))
    expect(debit).toEqual(debitAccount(100))
    expect(credit).toEqual(clearing())
  })

  it('asserts on zero, negative, fractional, oversize and cross-currency amounts', () => {
    const base = { id: 'p', transactionId: 't', debit: debitAccount(10_000), credit: clearing(), nowMs: NOW_MS }
    for (const bad of [0, -5, 0.01, AMOUNT_MINOR_MAX + 1]) {
      expect(() => post({ ...base, amountMinor: amount(bad) }), `amount ${bad}`).toThrow(AssertionFailure)
    }
    expect(() => post({ ...base, amountMinor: amount(1), debit: debitAccount(10_000, { currency: 'USD' }) })).toThrow(/one currency/)
  })
})

describe('postHold', () => {
  const held = holdOn(debitAccount(10_000), clearing(), 6_000)
  const [heldDebit, heldCredit] = accountsOf(held)
  const complete = (value: number, transfer: Transfer = held.transfer): ResolveResult =>
    postHold({ holdTransfer: transfer, debit: heldDebit, credit: heldCredit, amountMinor: amount(value), postingId: 'p1', transactionId: 'tx2', nowMs: NOW_MS + 1 })

  it('posts the whole hold', () => {
    const result = complete(6_000)
    const [debit, credit] = accountsOf(result)
    expect(debit).toMatchObject({ debitsPendingMinor: 0, debitsPostedMinor: 6_000 })
    expect(credit).toMatchObject({ creditsPendingMinor: 0, creditsPostedMinor: 6_000 })
    expect(result.hold).toMatchObject({ state: 'posted', postedAmountMinor: 6_000, resolvedAtMs: NOW_MS + 1 })
    expect(result.posting).toMatchObject({ id: 'p1', transactionId: 'tx2', amountMinor: 6_000, state: 'posted', pendingId: 'h1' })
  })

  it('posts part of a hold and releases the rest', () => {
    const result = complete(2_500)
    const [debit] = accountsOf(result)
    expect(debit).toMatchObject({ debitsPendingMinor: 0, debitsPostedMinor: 2_500 })
    expect(availableMinor(debit)).toBe(7_500)
    expect(result.hold).toMatchObject({ state: 'posted', postedAmountMinor: 2_500, amountMinor: 6_000 })
    expect(result.posting?.amountMinor).toBe(2_500)
    assertConservation(byId([heldDebit, heldCredit]), byId(result.accounts))
  })

  it('asserts on posting more than the hold, nothing, or a negative amount', () => {
    expect(() => complete(6_001)).toThrow(/within the hold/)
    expect(() => complete(0)).toThrow(/within the hold/)
    expect(() => complete(-1)).toThrow(/within the hold/)
  })

  it('asserts on posting a transfer that is not pending', () => {
    const posted = complete(6_000).hold
    expect(() => complete(1, posted)).toThrow(/not pending/)
    const voided = releaseHold({ holdTransfer: held.transfer, debit: heldDebit, credit: heldCredit, state: 'voided', nowMs: NOW_MS }).hold
    expect(() => complete(1, voided)).toThrow(/not pending/)
  })

  it('asserts on accounts that are not the hold\'s', () => {
    const other = account('other', 'cardholder', { debitsPendingMinor: 6_000, creditsPostedMinor: 10_000 })
    expect(() => postHold({ holdTransfer: held.transfer, debit: other, credit: heldCredit, amountMinor: amount(1), postingId: 'p', transactionId: 't', nowMs: NOW_MS })).toThrow(/hold accounts/)
    expect(() => postHold({ holdTransfer: held.transfer, debit: debitAccount(10_000), credit: heldCredit, amountMinor: amount(1), postingId: 'p', transactionId: 't', nowMs: NOW_MS })).toThrow(/pending below hold/)
  })
})

describe('releaseHold', () => {
  const expiresAtMs = NOW_MS + HOUR_MS
  const held = holdOn(creditAccount(20_000), clearing(), 20_000, expiresAtMs)
  const [heldDebit, heldCredit] = accountsOf(held)
  const release = (state: 'voided' | 'expired', nowMs: number, transfer: Transfer = held.transfer): ResolveResult =>
    releaseHold({ holdTransfer: transfer, debit: heldDebit, credit: heldCredit, state, nowMs })

  it('voids a hold at any time, giving the whole amount back', () => {
    const result = release('voided', NOW_MS + 1)
    const [debit, credit] = accountsOf(result)
    expect(availableMinor(debit)).toBe(20_000)
    expect(credit.creditsPendingMinor).toBe(0)
    expect(result.hold).toMatchObject({ state: 'voided', resolvedAtMs: NOW_MS + 1, postedAmountMinor: 0 })
    expect(result.posting).toBeNull()
  })

  it('expires a hold exactly when it is due, and not a millisecond before', () => {
    expect(() => release('expired', expiresAtMs - 1)).toThrow(/only a due hold expires/)
    expect(release('expired', expiresAtMs).hold.state).toBe('expired')
    expect(release('expired', expiresAtMs + 5 * HOUR_MS).hold.state).toBe('expired')
  })

  it('resolves a hold at most once', () => {
    const voided = release('voided', NOW_MS).hold
    expect(() => release('voided', NOW_MS, voided)).toThrow(/not pending/)
    expect(() => release('expired', expiresAtMs, voided)).toThrow(/not pending/)
  })
})

describe('ledgerTotals and assertConservation', () => {
  it('sums per currency', () => {
    const totals = ledgerTotals([
      debitAccount(0, { debitsPendingMinor: 5, debitsPostedMinor: 7 }),
      clearing({ creditsPendingMinor: 5, creditsPostedMinor: 7 }),
      account('x', 'cardholder', { currency: 'HKD', creditsPostedMinor: 3 }),
    ])
    expect(totals.get('CNY')).toEqual({ debitsPending: 5, creditsPending: 5, debitsPosted: 7, creditsPosted: 7 })
    expect(totals.get('HKD')).toEqual({ debitsPending: 0, creditsPending: 0, debitsPosted: 0, creditsPosted: 3 })
  })

  it('accepts balanced changes and asserts on unbalanced or impossible ones', () => {
    const before = byId([debitAccount(10_000), clearing()])
    const moved = ok(post({ id: 'p', transactionId: 't', debit: debitAccount(10_000), credit: clearing(), amountMinor: amount(10), nowMs: NOW_MS }))
    expect(() => assertConservation(before, byId(moved.accounts))).not.toThrow()
    expect(() => assertConservation(before, byId([debitAccount(10_000, { debitsPostedMinor: 10 }), clearing()]))).toThrow(/posted debits and credits differ/)
    expect(() => assertConservation(before, byId([debitAccount(10_000, { debitsPendingMinor: 10 }), clearing()]))).toThrow(/pending debits and credits differ/)
    expect(() => assertConservation(before, byId([account('new', 'clearing')]))).toThrow(/appeared/)
    expect(() => assertConservation(before, byId([clearing({ currency: 'HKD' })]))).toThrow(/changed currency/)
    expect(() => assertConservation(before, byId([debitAccount(10_000, { debitsPostedMinor: 10_001 }), clearing({ creditsPostedMinor: 10_001 })]))).toThrow(/below zero/)
  })
})

// ---- property: random sequences of ledger operations against an independent model ----------

interface CardholderModel {
  readonly id: string
  readonly currency: string
  readonly openingMinor: number
  readonly creditLimitMinor: number
  /** Σ posted out (purchases, completions) minus Σ posted back (refunds). */
  postedNetMinor: number
}

interface HoldModel {
  /** The hold as created. */
  readonly transfer: Transfer
  /** The hold as the ledger last returned it. */
  current: Transfer
  resolutions: number
}

type AmountChoice =
  | { readonly kind: 'raw'; readonly value: number }
  | { readonly kind: 'exact' }
  | { readonly kind: 'over' }

type Step =
  | { readonly op: 'hold'; readonly account: number; readonly amount: AmountChoice; readonly ttlMs: number }
  | { readonly op: 'post'; readonly account: number; readonly amount: AmountChoice }
  | { readonly op: 'post_hold'; readonly hold: number; readonly fraction: number }
  | { readonly op: 'void'; readonly hold: number }
  | { readonly op: 'expire'; readonly hold: number }
  | { readonly op: 'refund'; readonly account: number; readonly fraction: number }
  | { readonly op: 'resolve_again'; readonly hold: number }
  | { readonly op: 'advance'; readonly ms: number }

const amountChoice: fc.Arbitrary<AmountChoice> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 12_000 }).map((value) => ({ kind: 'raw' as const, value })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'exact' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'over' as const }) },
)
const index = fc.nat({ max: 1_000 })
const fraction = fc.integer({ min: 1, max: 1_000 })

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('hold' as const), account: index, amount: amountChoice, ttlMs: fc.integer({ min: 1, max: 6 * HOUR_MS }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('post' as const), account: index, amount: amountChoice }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('post_hold' as const), hold: index, fraction }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('void' as const), hold: index }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('expire' as const), hold: index }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('refund' as const), account: index, fraction }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('resolve_again' as const), hold: index }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 4 * HOUR_MS }) }) },
)

/**
 * The world of the property: cardholder accounts in two currencies, each currency with its
 * clearing and funding account. Opening balances arrive as posted transfers from funding.
 */
class LedgerWorld {
  readonly accounts = new Map<string, Account>()
  readonly cardholders: CardholderModel[] = []
  readonly holds: HoldModel[] = []
  nowMs = NOW_MS
  private transferCount = 0

  constructor() {
    for (const currency of ['CNY', 'HKD']) {
      this.accounts.set(`clearing:${currency}`, account(`clearing:${currency}`, 'clearing', { currency }))
      this.accounts.set(`funding:${currency}`, account(`funding:${currency}`, 'funding', { currency }))
    }
    this.open('debit-a', 'CNY', 60_000, 0)
    this.open('debit-b', 'CNY', 3_000, 0)
    this.open('credit-a', 'CNY', 0, 80_000)
    this.open('credit-b', 'CNY', 0, 5_000)
    this.open('debit-hk', 'HKD', 30_000, 0)
  }

  private open(id: string, currency: string, openingMinor: number, creditLimitMinor: number): void {
    this.accounts.set(id, account(id, 'cardholder', { currency, creditLimitMinor }))
    this.cardholders.push({ id, currency, openingMinor, creditLimitMinor, postedNetMinor: 0 })
    if (openingMinor > 0) {
      this.apply(ok(post({ id: this.nextId(), transactionId: `open-${id}`, debit: this.get(`funding:${currency}`), credit: this.get(id), amountMinor: toAmountMinor(openingMinor), nowMs: this.nowMs })).accounts)
    }
  }

  nextId(): string {
    this.transferCount += 1
    return `tr-${this.transferCount}`
  }

  get(id: string): Account {
    const found = this.accounts.get(id)
    if (found === undefined) throw new Error(`no account ${id}`)
    return found
  }

  /** Replaces the accounts a ledger function returned, checking the change conserved money. */
  apply(changed: readonly Account[]): void {
    const before = new Map(changed.map((a) => [a.id, this.get(a.id)]))
    assertConservation(before, byId(changed))
    for (const a of changed) this.accounts.set(a.id, a)
  }

  /** The model's available: opening + credit limit − posted net − open holds. */
  modelAvailable(model: CardholderModel): number {
    const openHolds = this.holds
      .filter((h) => h.resolutions === 0 && h.transfer.debitAccountId === model.id)
      .reduce((sum, h) => sum + h.transfer.amountMinor, 0)
    return model.openingMinor + model.creditLimitMinor - model.postedNetMinor - openHolds
  }

  openHolds(): HoldModel[] {
    return this.holds.filter((h) => h.resolutions === 0)
  }

  snapshot(): string {
    return JSON.stringify([...this.accounts.values()])
  }
}

function pickAmount(choice: AmountChoice, available: number): number {
  switch (choice.kind) {
    case 'raw':
      return choice.value
    case 'exact':
      return Math.max(1, available)
    case 'over':
      return Math.max(1, available + 1)
  }
}

function pick<T>(items: readonly T[], at: number): T | undefined {
  return items.length === 0 ? undefined : items[at % items.length]
}

/** Runs one step against the ledger and the model; returns what happened, for the failure message. */
function runStep(world: LedgerWorld, step: Step): string {
  switch (step.op) {
    case 'advance':
      world.nowMs += step.ms
      return 'advanced'
    case 'hold':
    case 'post': {
      const model = pick(world.cardholders, step.account)!
      const available = world.modelAvailable(model)
      const value = pickAmount(step.amount, available)
      const before = world.snapshot()
      const input = { id: world.nextId(), transactionId: 'tx', debit: world.get(model.id), credit: world.get(`clearing:${model.currency}`), amountMinor: amount(value), nowMs: world.nowMs }
      const result = step.op === 'hold' ? hold({ ...input, expiresAtMs: world.nowMs + step.ttlMs }) : post(input)
      if ('code' in result) {
        expect(value).toBeGreaterThan(available)
        expect(result).toEqual({ code: 'exceeds_available', availableMinor: available })
        expect(world.snapshot()).toBe(before)
        return 'refused'
      }
      expect(value).toBeLessThanOrEqual(available)
      world.apply(result.accounts)
      if (step.op === 'hold') world.holds.push({ transfer: result.transfer, current: result.transfer, resolutions: 0 })
      else model.postedNetMinor += value
      return 'moved'
    }
    case 'post_hold':
    case 'void':
    case 'expire': {
      const target = pick(world.openHolds(), step.hold)
      if (target === undefined) return 'no open hold'
      const held = target.transfer
      const accounts = { holdTransfer: held, debit: world.get(held.debitAccountId), credit: world.get(held.creditAccountId), nowMs: world.nowMs }
      if (step.op === 'expire' && (held.expiresAtMs ?? Infinity) > world.nowMs) {
        const before = world.snapshot()
        expect(() => releaseHold({ ...accounts, state: 'expired' })).toThrow(AssertionFailure)
        expect(world.snapshot()).toBe(before)
        return 'not due'
      }
      const posted = step.op === 'post_hold' ? Math.max(1, Math.floor((held.amountMinor * step.fraction) / 1_000)) : 0
      const result = step.op === 'post_hold'
        ? postHold({ ...accounts, amountMinor: amount(posted), postingId: world.nextId(), transactionId: 'completion' })
        : releaseHold({ ...accounts, state: step.op === 'void' ? 'voided' : 'expired' })
      world.apply(result.accounts)
      target.current = result.hold
      target.resolutions += 1
      const model = world.cardholders.find((c) => c.id === held.debitAccountId)!
      model.postedNetMinor += posted
      expect(result.hold.state).toBe(step.op === 'post_hold' ? 'posted' : step.op === 'void' ? 'voided' : 'expired')
      expect(result.posting?.amountMinor ?? 0).toBe(posted)
      return step.op
    }
    case 'resolve_again': {
      const resolved = world.holds.filter((h) => h.resolutions > 0)
      const target = pick(resolved, step.hold)
      if (target === undefined) return 'nothing resolved yet'
      const held = target.current
      const accounts = { holdTransfer: held, debit: world.get(held.debitAccountId), credit: world.get(held.creditAccountId), nowMs: world.nowMs }
      const before = world.snapshot()
      expect(() => releaseHold({ ...accounts, state: 'voided' })).toThrow(/not pending/)
      expect(() => releaseHold({ ...accounts, state: 'expired' })).toThrow(AssertionFailure)
      expect(() => postHold({ ...accounts, amountMinor: amount(1), postingId: 'x', transactionId: 'x' })).toThrow(/not pending/)
      expect(world.snapshot()).toBe(before)
      return 'second resolution refused'
    }
    case 'refund': {
      const model = pick(world.cardholders, step.account)!
      if (model.postedNetMinor <= 0) return 'nothing to refund'
      const value = Math.max(1, Math.floor((model.postedNetMinor * step.fraction) / 1_000))
      const result = ok(post({ id: world.nextId(), transactionId: 'refund', debit: world.get(`clearing:${model.currency}`), credit: world.get(model.id), amountMinor: amount(value), nowMs: world.nowMs }))
      world.apply(result.accounts)
      model.postedNetMinor -= value
      return 'refunded'
    }
  }
}

function checkWorld(world: LedgerWorld): void {
  for (const [currency, totals] of ledgerTotals(world.accounts.values())) {
    expect(totals.debitsPending, `${currency} pending`).toBe(totals.creditsPending)
    expect(totals.debitsPosted, `${currency} posted`).toBe(totals.creditsPosted)
    const openHolds = world.openHolds().filter((h) => h.transfer.currency === currency)
    expect(totals.debitsPending, `${currency} pending equals open holds`).toBe(openHolds.reduce((s, h) => s + h.transfer.amountMinor, 0))
  }
  for (const a of world.accounts.values()) {
    expect(a.debitsPendingMinor).toBeGreaterThanOrEqual(0)
    expect(a.creditsPendingMinor).toBeGreaterThanOrEqual(0)
    assertAccountInvariants(a)
    if (isBounded(a)) expect(availableMinor(a), `${a.id} available`).toBeGreaterThanOrEqual(0)
  }
  for (const h of world.holds) expect(h.resolutions).toBeLessThanOrEqual(1)
  for (const model of world.cardholders) {
    expect(availableMinor(world.get(model.id)), `${model.id} available vs model`).toBe(world.modelAvailable(model))
  }
}

describe('ledger property', () => {
  it('conserves money and matches an independent model under random operation sequences', () => {
    fc.assert(
      fc.property(fc.array(stepArbitrary, { minLength: 1, maxLength: 200, size: 'max' }), (steps) => {
        const world = new LedgerWorld()
        checkWorld(world)
        steps.forEach((step, at) => {
          try {
            runStep(world, step)
            checkWorld(world)
          } catch (error) {
            throw new Error(`step ${at} (${JSON.stringify(step)}): ${String(error)}`, { cause: error })
          }
        })
      }),
      { numRuns: 50 },
    )
  })
})
