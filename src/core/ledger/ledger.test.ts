import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AssertionFailure } from '../assert.js'
import { AMOUNT_MINOR_MAX, type AmountMinor } from '../money.js'
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
    id,
    kind,
    currency: 'CNY',
    creditLimitMinor: 0,
    debitsPendingMinor: 0,
    debitsPostedMinor: 0,
    creditsPendingMinor: 0,
    creditsPostedMinor: 0,
    ...overrides,
  }
}

/** A debit card's account with `balanceMinor` posted in (as if from the funding account). */
function debitAccount(balanceMinor: number, overrides: Partial<Account> = {}): Account {
  return account('debit', 'cardholder', { creditsPostedMinor: balanceMinor, ...overrides })
}

function creditAccount(limitMinor: number, overrides: Partial<Account> = {}): Account {
  return account('credit', 'cardholder', { creditLimitMinor: limitMinor, ...overrides })
}

function clearing(overrides: Partial<Account> = {}): Account {
  return account('clearing:CNY', 'clearing', overrides)
}

/** Casts without checking, so that tests can hand the ledger impossible amounts. */
const amount = (value: number): AmountMinor => value as AmountMinor

/** The input of a hold or post: `debit` pays `credit` `value` at NOW_MS. */
function moving(debit: Account, credit: Account, value: number) {
  const amountMinor = amount(value)
  return { id: 't1', transactionId: 'tx1', debit, credit, amountMinor, nowMs: NOW_MS }
}

function holding(debit: Account, credit: Account, value: number, expiresAtMs = NOW_MS + HOUR_MS) {
  return { ...moving(debit, credit, value), expiresAtMs }
}

function ok(result: LedgerResult | LedgerRefusal): LedgerResult {
  if ('code' in result) throw new Error(`expected success, got ${JSON.stringify(result)}`)
  return result
}

function byId(accounts: readonly Account[]): Map<string, Account> {
  return new Map(accounts.map((a) => [a.id, a]))
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
    const credit = creditAccount(50_000, {
      debitsPostedMinor: 12_000,
      debitsPendingMinor: 3_000,
      creditsPostedMinor: 2_000,
    })
    expect(availableMinor(credit)).toBe(37_000)
    expect(creditUsedMinor(credit)).toBe(13_000)
    expect(ledgerBalanceMinor(credit)).toBe(-10_000)
  })

  it('bounds only cardholder accounts', () => {
    expect(isBounded(debitAccount(0))).toBe(true)
    expect(isBounded(clearing())).toBe(false)
    expect(isBounded(account('funding:CNY', 'funding'))).toBe(false)
  })

  it('asserts totals are non-negative safe integers and a cardholder stays >= 0', () => {
    const check = (a: Account) => () => assertAccountInvariants(a)
    expect(check(debitAccount(100, { debitsPostedMinor: 100 }))).not.toThrow()
    expect(check(debitAccount(100, { debitsPostedMinor: 101 }))).toThrow(AssertionFailure)
    expect(check(debitAccount(-1))).toThrow(AssertionFailure)
    expect(check(debitAccount(0.5))).toThrow(AssertionFailure)
    expect(check(debitAccount(Number.MAX_SAFE_INTEGER + 1))).toThrow(AssertionFailure)
    // The clearing account is the other side of every sale: it may be far "below zero".
    expect(check(clearing({ debitsPostedMinor: 1_000_000 }))).not.toThrow()
  })
})

describe('hold', () => {
  it('reserves the amount on both sides and returns a pending transfer', () => {
    const result = ok(hold(holding(debitAccount(10_000), clearing(), 4_000)))
    const [debit, credit] = accountsOf(result)
    expect(debit.debitsPendingMinor).toBe(4_000)
    expect(credit.creditsPendingMinor).toBe(4_000)
    expect(availableMinor(debit)).toBe(6_000)
    expect(result.transfer).toMatchObject({
      id: 't1',
      transactionId: 'tx1',
      debitAccountId: 'debit',
      creditAccountId: 'clearing:CNY',
      amountMinor: 4_000,
      currency: 'CNY',
      state: 'pending',
      postedAmountMinor: 0,
      pendingId: null,
      createdAtMs: NOW_MS,
      expiresAtMs: NOW_MS + HOUR_MS,
      resolvedAtMs: null,
    })
  })

  it('lets a debit account hold exactly its available and not one fen more', () => {
    const debit = debitAccount(10_000, { debitsPostedMinor: 3_000, debitsPendingMinor: 2_000 })
    const exact = ok(hold(holding(debit, clearing(), 5_000)))
    expect(availableMinor(accountsOf(exact)[0])).toBe(0)
    expect(hold(holding(debit, clearing(), 5_001))).toEqual({
      code: 'exceeds_available',
      availableMinor: 5_000,
    })
  })

  it('lets a credit account hold exactly its limit and not one fen more', () => {
    const credit = creditAccount(20_000)
    expect(availableMinor(accountsOf(ok(hold(holding(credit, clearing(), 20_000))))[0])).toBe(0)
    expect(hold(holding(credit, clearing(), 20_001))).toEqual({
      code: 'exceeds_available',
      availableMinor: 20_000,
    })
  })

  it('refuses a zero-balance debit account even one fen', () => {
    expect(hold(holding(debitAccount(0), clearing(), 1))).toEqual({
      code: 'exceeds_available',
      availableMinor: 0,
    })
  })

  it('asserts on impossible inputs', () => {
    const debit = debitAccount(10_000)
    for (const bad of [0, -1, 1.5, Number.NaN, AMOUNT_MINOR_MAX + 1]) {
      expect(() => hold(holding(debit, clearing(), bad)), `amount ${bad}`).toThrow(AssertionFailure)
    }
    const hongKong = account('clearing:HKD', 'clearing', { currency: 'HKD' })
    expect(() => hold(holding(debit, hongKong, 1))).toThrow(/one currency/)
    expect(() => hold(holding(debit, debit, 1))).toThrow(/distinct accounts/)
    expect(() => hold(holding(debit, clearing(), 1, NOW_MS))).toThrow(/expires in the future/)
  })
})

describe('post', () => {
  it('moves money at once, both sides posted', () => {
    const result = ok(post(moving(debitAccount(10_000), clearing(), 2_500)))
    const [debit, credit] = accountsOf(result)
    expect(debit.debitsPostedMinor).toBe(2_500)
    expect(credit.creditsPostedMinor).toBe(2_500)
    expect(result.transfer).toMatchObject({
      state: 'posted',
      postedAmountMinor: 2_500,
      expiresAtMs: null,
      resolvedAtMs: NOW_MS,
      pendingId: null,
    })
  })

  it('lets a debit account spend exactly its available (holds count) and not one fen more', () => {
    const debit = debitAccount(10_000, { debitsPendingMinor: 4_000 })
    expect(availableMinor(accountsOf(ok(post(moving(debit, clearing(), 6_000))))[0])).toBe(0)
    expect(post(moving(debit, clearing(), 6_001))).toEqual({
      code: 'exceeds_available',
      availableMinor: 6_000,
    })
  })

  it('lets a credit account use exactly its limit and not one fen more', () => {
    const credit = creditAccount(8_000, { debitsPostedMinor: 3_000, creditsPostedMinor: 1_000 })
    expect(availableMinor(accountsOf(ok(post(moving(credit, clearing(), 6_000))))[0])).toBe(0)
    expect(post(moving(credit, clearing(), 6_001))).toEqual({
      code: 'exceeds_available',
      availableMinor: 6_000,
    })
  })

  it('never refuses a refund-like posting from an unbounded account to a cardholder', () => {
    const result = ok(post(moving(clearing(), debitAccount(0), AMOUNT_MINOR_MAX)))
    expect(availableMinor(accountsOf(result)[1])).toBe(AMOUNT_MINOR_MAX)
  })

  it('does not change its inputs, refused or not', () => {
    const debit = Object.freeze(debitAccount(100))
    const credit = Object.freeze(clearing())
    expect(post(moving(debit, credit, 101))).toMatchObject({ code: 'exceeds_available' })
    ok(post(moving(debit, credit, 100)))
    expect(debit).toEqual(debitAccount(100))
    expect(credit).toEqual(clearing())
  })

  it('asserts on zero, negative, fractional, oversize and cross-currency amounts', () => {
    const debit = debitAccount(10_000)
    for (const bad of [0, -5, 0.01, AMOUNT_MINOR_MAX + 1]) {
      expect(() => post(moving(debit, clearing(), bad)), `amount ${bad}`).toThrow(AssertionFailure)
    }
    const dollars = debitAccount(10_000, { currency: 'USD' })
    expect(() => post(moving(dollars, clearing(), 1))).toThrow(/one currency/)
  })
})

describe('postHold', () => {
  const held = ok(hold(holding(debitAccount(10_000), clearing(), 6_000)))
  const [heldDebit, heldCredit] = accountsOf(held)
  const complete = (value: number, transfer: Transfer = held.transfer): ResolveResult =>
    postHold({
      holdTransfer: transfer,
      debit: heldDebit,
      credit: heldCredit,
      amountMinor: amount(value),
      postingId: 'p1',
      transactionId: 'tx2',
      nowMs: NOW_MS + 1,
    })

  it('posts the whole hold', () => {
    const result = complete(6_000)
    const [debit, credit] = accountsOf(result)
    expect(debit).toMatchObject({ debitsPendingMinor: 0, debitsPostedMinor: 6_000 })
    expect(credit).toMatchObject({ creditsPendingMinor: 0, creditsPostedMinor: 6_000 })
    expect(result.hold).toMatchObject({
      state: 'posted',
      postedAmountMinor: 6_000,
      resolvedAtMs: NOW_MS + 1,
    })
    expect(result.posting).toMatchObject({
      id: 'p1',
      transactionId: 'tx2',
      amountMinor: 6_000,
      state: 'posted',
      pendingId: 't1',
    })
  })

  it('posts part of a hold and releases the rest', () => {
    const result = complete(2_500)
    const [debit] = accountsOf(result)
    expect(debit).toMatchObject({ debitsPendingMinor: 0, debitsPostedMinor: 2_500 })
    expect(availableMinor(debit)).toBe(7_500)
    expect(result.hold).toMatchObject({
      state: 'posted',
      postedAmountMinor: 2_500,
      amountMinor: 6_000,
    })
    expect(result.posting?.amountMinor).toBe(2_500)
    assertConservation(byId([heldDebit, heldCredit]), byId(result.accounts))
  })

  it('asserts on posting more than the hold, nothing, or a negative amount', () => {
    expect(() => complete(6_001)).toThrow(/within the hold/)
    expect(() => complete(0)).toThrow(/within the hold/)
    expect(() => complete(-1)).toThrow(/within the hold/)
  })

  it('asserts on posting a transfer that is not pending', () => {
    expect(() => complete(1, complete(6_000).hold)).toThrow(/not pending/)
    const voided = releaseHold({
      holdTransfer: held.transfer,
      debit: heldDebit,
      credit: heldCredit,
      state: 'voided',
      nowMs: NOW_MS,
    })
    expect(() => complete(1, voided.hold)).toThrow(/not pending/)
  })

  it("asserts on accounts that are not the hold's", () => {
    const posting = (debit: Account) => () =>
      postHold({
        holdTransfer: held.transfer,
        debit,
        credit: heldCredit,
        amountMinor: amount(1),
        postingId: 'p',
        transactionId: 't',
        nowMs: NOW_MS,
      })
    const other = account('other', 'cardholder', {
      debitsPendingMinor: 6_000,
      creditsPostedMinor: 10_000,
    })
    expect(posting(other)).toThrow(/hold accounts/)
    expect(posting(debitAccount(10_000))).toThrow(/pending below hold/)
  })
})

describe('releaseHold', () => {
  const expiresAtMs = NOW_MS + HOUR_MS
  const held = ok(hold(holding(creditAccount(20_000), clearing(), 20_000, expiresAtMs)))
  const [heldDebit, heldCredit] = accountsOf(held)
  const release = (
    state: 'voided' | 'expired',
    nowMs: number,
    transfer: Transfer = held.transfer,
  ): ResolveResult =>
    releaseHold({ holdTransfer: transfer, debit: heldDebit, credit: heldCredit, state, nowMs })

  it('voids a hold at any time, giving the whole amount back', () => {
    const result = release('voided', NOW_MS + 1)
    const [debit, credit] = accountsOf(result)
    expect(availableMinor(debit)).toBe(20_000)
    expect(credit.creditsPendingMinor).toBe(0)
    expect(result.hold).toMatchObject({
      state: 'voided',
      resolvedAtMs: NOW_MS + 1,
      postedAmountMinor: 0,
    })
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
    expect(totals.get('CNY')).toEqual({
      debitsPending: 5,
      creditsPending: 5,
      debitsPosted: 7,
      creditsPosted: 7,
    })
    expect(totals.get('HKD')).toEqual({
      debitsPending: 0,
      creditsPending: 0,
      debitsPosted: 0,
      creditsPosted: 3,
    })
  })

  it('accepts balanced changes and asserts on unbalanced or impossible ones', () => {
    const before = byId([debitAccount(10_000), clearing()])
    const after =
      (...accounts: Account[]) =>
      () =>
        assertConservation(before, byId(accounts))
    const moved = ok(post(moving(debitAccount(10_000), clearing(), 10)))
    expect(after(...moved.accounts)).not.toThrow()
    expect(after(debitAccount(10_000, { debitsPostedMinor: 10 }), clearing())).toThrow(
      /posted debits and credits differ/,
    )
    expect(after(debitAccount(10_000, { debitsPendingMinor: 10 }), clearing())).toThrow(
      /pending debits and credits differ/,
    )
    expect(after(account('new', 'clearing'))).toThrow(/appeared/)
    expect(after(clearing({ currency: 'HKD' }))).toThrow(/changed currency/)
    const overdrawn = debitAccount(10_000, { debitsPostedMinor: 10_001 })
    expect(after(overdrawn, clearing({ creditsPostedMinor: 10_001 }))).toThrow(/below zero/)
  })
})

// ---- property: random operation sequences against an independent model -------------------

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

/** A raw amount, or exactly the account's available, or one fen more. */
type AmountChoice =
  | { readonly kind: 'raw'; readonly value: number }
  | { readonly kind: 'exact' }
  | { readonly kind: 'over' }

type Step =
  | {
      readonly op: 'hold' | 'post'
      readonly account: number
      readonly amount: AmountChoice
      /** How long a hold lives; a post ignores it. */
      readonly ttlMs: number
    }
  | { readonly op: 'post_hold'; readonly hold: number; readonly fraction: number }
  | { readonly op: 'void'; readonly hold: number }
  | { readonly op: 'expire'; readonly hold: number }
  | { readonly op: 'refund'; readonly account: number; readonly fraction: number }
  | { readonly op: 'resolve_again'; readonly hold: number }
  | { readonly op: 'advance'; readonly ms: number }

const rawAmount = fc
  .integer({ min: 1, max: 12_000 })
  .map((value) => ({ kind: 'raw' as const, value }))
const amountChoice: fc.Arbitrary<AmountChoice> = fc.oneof(
  { weight: 6, arbitrary: rawAmount },
  { weight: 1, arbitrary: fc.constant({ kind: 'exact' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'over' as const }) },
)
const index = fc.nat({ max: 1_000 })
/** Thousandths of an amount. */
const fraction = fc.integer({ min: 1, max: 1_000 })
const op = <T extends Step['op']>(name: T) => fc.constant(name)

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  ...(['hold', 'post'] as const).map((name) => ({
    weight: name === 'hold' ? 6 : 3,
    arbitrary: fc.record({
      op: op(name),
      account: index,
      amount: amountChoice,
      ttlMs: fc.integer({ min: 1, max: 6 * HOUR_MS }),
    }),
  })),
  { weight: 3, arbitrary: fc.record({ op: op('post_hold'), hold: index, fraction }) },
  { weight: 2, arbitrary: fc.record({ op: op('void'), hold: index }) },
  { weight: 2, arbitrary: fc.record({ op: op('expire'), hold: index }) },
  { weight: 2, arbitrary: fc.record({ op: op('refund'), account: index, fraction }) },
  { weight: 1, arbitrary: fc.record({ op: op('resolve_again'), hold: index }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: op('advance'), ms: fc.integer({ min: 1, max: 4 * HOUR_MS }) }),
  },
)

/**
 * The world of the property: debit and credit cardholder accounts in two currencies, and each
 * currency's clearing and funding account. Opening balances are posted from funding.
 */
class LedgerWorld {
  readonly accounts = new Map<string, Account>()
  readonly cardholders: CardholderModel[] = []
  readonly holds: HoldModel[] = []
  nowMs = NOW_MS
  private transferCount = 0

  constructor() {
    for (const currency of ['CNY', 'HKD']) {
      for (const kind of ['clearing', 'funding'] as const) {
        this.accounts.set(`${kind}:${currency}`, account(`${kind}:${currency}`, kind, { currency }))
      }
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
    if (openingMinor === 0) return
    const funding = this.get(`funding:${currency}`)
    const opening = post({ ...moving(funding, this.get(id), openingMinor), id: this.nextId() })
    this.apply(ok(opening).accounts)
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
    assertConservation(new Map(changed.map((a) => [a.id, this.get(a.id)])), byId(changed))
    for (const a of changed) this.accounts.set(a.id, a)
  }

  /** The model's available: opening + credit limit − posted net − open holds. */
  modelAvailable(model: CardholderModel): number {
    const holds = this.openHolds().filter((h) => h.transfer.debitAccountId === model.id)
    const heldMinor = holds.reduce((sum, h) => sum + h.transfer.amountMinor, 0)
    return model.openingMinor + model.creditLimitMinor - model.postedNetMinor - heldMinor
  }

  openHolds(): HoldModel[] {
    return this.holds.filter((h) => h.resolutions === 0)
  }

  /** Ledger inputs for resolving `held`, with the accounts as they are now. */
  resolving(held: Transfer) {
    return {
      holdTransfer: held,
      debit: this.get(held.debitAccountId),
      credit: this.get(held.creditAccountId),
      nowMs: this.nowMs,
    }
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

function part(amountMinor: number, thousandths: number): number {
  return Math.max(1, Math.floor((amountMinor * thousandths) / 1_000)) // Rounds down, at least 1.
}

/** A hold or a post by a cardholder; a refusal must leave everything as it was. */
function spend(world: LedgerWorld, step: Extract<Step, { op: 'hold' | 'post' }>): void {
  const model = pick(world.cardholders, step.account)!
  const available = world.modelAvailable(model)
  const value = pickAmount(step.amount, available)
  const before = world.snapshot()
  const input = {
    ...moving(world.get(model.id), world.get(`clearing:${model.currency}`), value),
    id: world.nextId(),
    nowMs: world.nowMs,
  }
  const result =
    step.op === 'hold' ? hold({ ...input, expiresAtMs: world.nowMs + step.ttlMs }) : post(input)
  if ('code' in result) {
    expect(value).toBeGreaterThan(available)
    expect(result).toEqual({ code: 'exceeds_available', availableMinor: available })
    expect(world.snapshot()).toBe(before)
    return
  }
  expect(value).toBeLessThanOrEqual(available)
  world.apply(result.accounts)
  if (step.op === 'hold') {
    world.holds.push({ transfer: result.transfer, current: result.transfer, resolutions: 0 })
  } else {
    model.postedNetMinor += value
  }
}

/** Completes (maybe partly), voids or expires an open hold; expiring one not yet due asserts. */
function resolve(
  world: LedgerWorld,
  step: Extract<Step, { op: 'post_hold' | 'void' | 'expire' }>,
): void {
  const target = pick(world.openHolds(), step.hold)
  if (target === undefined) return
  const held = target.transfer
  if (step.op === 'expire' && (held.expiresAtMs ?? Infinity) > world.nowMs) {
    const before = world.snapshot()
    const early = () => releaseHold({ ...world.resolving(held), state: 'expired' })
    expect(early).toThrow(AssertionFailure)
    expect(world.snapshot()).toBe(before)
    return
  }
  const posted = step.op === 'post_hold' ? part(held.amountMinor, step.fraction) : 0
  const result =
    step.op === 'post_hold'
      ? postHold({
          ...world.resolving(held),
          amountMinor: amount(posted),
          postingId: world.nextId(),
          transactionId: 'completion',
        })
      : releaseHold({ ...world.resolving(held), state: step.op === 'void' ? 'voided' : 'expired' })
  world.apply(result.accounts)
  target.current = result.hold
  target.resolutions += 1
  world.cardholders.find((c) => c.id === held.debitAccountId)!.postedNetMinor += posted
  const state = { post_hold: 'posted', void: 'voided', expire: 'expired' }[step.op]
  expect(result.hold.state).toBe(state)
  expect(result.posting?.amountMinor ?? 0).toBe(posted)
}

/** Runs one step against the ledger and the model. */
function runStep(world: LedgerWorld, step: Step): void {
  switch (step.op) {
    case 'advance':
      world.nowMs += step.ms
      return
    case 'hold':
    case 'post':
      spend(world, step)
      return
    case 'post_hold':
    case 'void':
    case 'expire':
      resolve(world, step)
      return
    case 'resolve_again': {
      // A resolved hold, as the ledger returned it, can be neither resolved nor posted again.
      const target = pick(
        world.holds.filter((h) => h.resolutions > 0),
        step.hold,
      )
      if (target === undefined) return
      const inputs = world.resolving(target.current)
      const before = world.snapshot()
      expect(() => releaseHold({ ...inputs, state: 'voided' })).toThrow(/not pending/)
      expect(() => releaseHold({ ...inputs, state: 'expired' })).toThrow(AssertionFailure)
      const posting = { amountMinor: amount(1), postingId: 'x', transactionId: 'x' }
      expect(() => postHold({ ...inputs, ...posting })).toThrow(/not pending/)
      expect(world.snapshot()).toBe(before)
      return
    }
    case 'refund': {
      // Money posted back from clearing, up to what the cardholder has spent.
      const model = pick(world.cardholders, step.account)!
      if (model.postedNetMinor <= 0) return
      const value = part(model.postedNetMinor, step.fraction)
      const clearingAccount = world.get(`clearing:${model.currency}`)
      const refund = { ...moving(clearingAccount, world.get(model.id), value), id: world.nextId() }
      const result = ok(post(refund))
      world.apply(result.accounts)
      model.postedNetMinor -= value
      return
    }
  }
}

function checkWorld(world: LedgerWorld): void {
  for (const [currency, totals] of ledgerTotals(world.accounts.values())) {
    expect(totals.debitsPending, `${currency} pending`).toBe(totals.creditsPending)
    expect(totals.debitsPosted, `${currency} posted`).toBe(totals.creditsPosted)
    const holds = world.openHolds().filter((h) => h.transfer.currency === currency)
    const heldMinor = holds.reduce((sum, h) => sum + h.transfer.amountMinor, 0)
    expect(totals.debitsPending, `${currency} pending equals open holds`).toBe(heldMinor)
  }
  for (const a of world.accounts.values()) {
    expect(a.debitsPendingMinor).toBeGreaterThanOrEqual(0)
    expect(a.creditsPendingMinor).toBeGreaterThanOrEqual(0)
    assertAccountInvariants(a)
    if (isBounded(a)) expect(availableMinor(a), `${a.id} available`).toBeGreaterThanOrEqual(0)
  }
  for (const h of world.holds) expect(h.resolutions).toBeLessThanOrEqual(1)
  for (const model of world.cardholders) {
    expect(availableMinor(world.get(model.id)), `${model.id} available vs model`).toBe(
      world.modelAvailable(model),
    )
  }
}

describe('ledger property', () => {
  it('conserves money and matches an independent model under random operation sequences', () => {
    const sequences = fc.array(stepArbitrary, { minLength: 1, maxLength: 200, size: 'max' })
    fc.assert(
      fc.property(sequences, (steps) => {
        const world = new LedgerWorld()
        checkWorld(world)
        steps.forEach((step, at) => {
          try {
            runStep(world, step)
            checkWorld(world)
          } catch (error) {
            const message = `step ${at} (${JSON.stringify(step)}): ${String(error)}`
            throw new Error(message, { cause: error })
          }
        })
      }),
      { numRuns: 50 },
    )
  })
})
