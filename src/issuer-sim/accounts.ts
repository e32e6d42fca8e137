import { z } from 'zod'
import { DEMO_CARDS } from '../app/demo-data.js'
import { assert } from '../core/assert.js'
import { maskPan, parseExpiry } from '../core/card.js'
import { AMOUNT_MINOR_MAX, BALANCE_MINOR_MAX, parseAmount } from '../core/money.js'
import type { IssuerAnswer, IssuerRequest } from '../adapters/issuer/protocol.js'
import { correlationKey } from '../adapters/issuer/protocol.js'

/**
 * The simulated issuer's ledger: cards by PAN, in memory only (never written anywhere; logs,
 * answers and the control endpoint show the masked number and an account id). Purchases debit,
 * preauthorizations hold, advices (stand-in approvals made by the acquirer) debit even when the
 * bank would have declined, and reversals undo their original exactly once.
 *
 * Synchronous and clock-free like the core: the month used for expiry comes in as an argument.
 */

export const ACCOUNTS_MAX = 100_000
/** Requests remembered for retransmissions and reversals; the oldest are forgotten first. */
export const TRANSACTIONS_MAX = 200_000

export const ACCOUNT_STATUSES = ['active', 'inactive', 'blocked', 'lost', 'stolen'] as const
export type AccountStatus = (typeof ACCOUNT_STATUSES)[number]

export const accountInputSchema = z
  .object({
    /** Letters, digits, `_` and `-`; default `acct_<n>`. Used in URLs instead of the PAN. */
    id: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,40}$/, 'letters, digits, _ or -, at most 40')
      .optional(),
    pan: z.string().regex(/^\d{12,19}$/, 'a card number of 12 to 19 digits'),
    expiry: z.string().refine((text) => parseExpiry(text) !== null, 'YYMM, e.g. "3012"'),
    type: z.enum(['debit', 'credit']).default('debit'),
    /** Debit: the balance; credit: the credit line. A decimal string in major units. */
    amount: z.string().regex(/^\d{1,12}(\.\d{1,3})?$/, 'a decimal amount, e.g. "5000.00"'),
    status: z.enum(ACCOUNT_STATUSES).default('active'),
    currency: z
      .string()
      .regex(/^\d{3}$/, 'ISO 4217 numeric, e.g. "156"')
      .default('156'),
    /** Decimals of the currency (2 for CNY). */
    exponent: z.number().int().min(0).max(3).default(2),
    /** Above this per request: 61 (exceeds withdrawal limit). Optional. */
    perTransactionMax: z
      .string()
      .regex(/^\d{1,12}(\.\d{1,3})?$/, 'a decimal amount')
      .optional(),
  })
  .strict()
export type AccountInput = z.input<typeof accountInputSchema>

export interface Account {
  readonly id: string
  readonly pan: string
  readonly maskedPan: string
  readonly expiry: string
  readonly type: 'debit' | 'credit'
  status: AccountStatus
  readonly currency: string
  /** The balance (debit) or credit line (credit) the account started with. */
  readonly openingMinor: number
  readonly perTransactionMaxMinor: number | null
  /** Debits posted (purchases and advices) minus those reversed. */
  postedMinor: number
  /** Preauthorization holds outstanding. */
  heldMinor: number
}

/** What the control endpoint shows of an account: never the PAN. */
export function accountView(account: Account) {
  return {
    id: account.id,
    maskedPan: account.maskedPan,
    type: account.type,
    status: account.status,
    currency: account.currency,
    openingMinor: account.openingMinor,
    postedMinor: account.postedMinor,
    heldMinor: account.heldMinor,
    availableMinor: availableMinor(account),
  }
}

export function availableMinor(account: Account): number {
  return account.openingMinor - account.postedMinor - account.heldMinor
}

type Effect = 'debit' | 'hold' | 'none'

interface TransactionRecord {
  readonly kind: 'purchase' | 'preauthorization' | 'balance_inquiry' | 'advice'
  readonly accountId: string | null
  readonly amountMinor: number
  readonly effect: Effect
  readonly answer: IssuerAnswer
  reversed: boolean
}

/** A reversal seen before its original: the original is refused if it arrives late. */
interface Tombstone {
  readonly kind: 'tombstone'
}

export interface LedgerTotals {
  purchases: { count: number; amountMinor: number }
  holds: { count: number; amountMinor: number }
  advices: { count: number; amountMinor: number; standInOverLimit: number }
  reversals: {
    count: number
    amountMinor: number
    withoutOriginal: number
    repeated: number
  }
  declines: Record<string, number>
}

export interface LedgerOutcome {
  readonly answer: IssuerAnswer
  readonly accountId: string | null
  /** For the journal: what happened, in a few words. Never the PAN. */
  readonly note: string
}

function newTotals(): LedgerTotals {
  return {
    purchases: { count: 0, amountMinor: 0 },
    holds: { count: 0, amountMinor: 0 },
    advices: { count: 0, amountMinor: 0, standInOverLimit: 0 },
    reversals: { count: 0, amountMinor: 0, withoutOriginal: 0, repeated: 0 },
    declines: {},
  }
}

export type AddAccountResult =
  | { readonly ok: true; readonly account: Account; readonly replaced: boolean }
  | { readonly ok: false; readonly error: string }

/** The demo cards of Tollgate (src/app/demo-data.ts): same numbers, amounts and statuses. */
export function demoAccountInputs(): AccountInput[] {
  return Object.entries(DEMO_CARDS).map(([name, card]) => ({
    id: `demo_${name}`,
    pan: card.pan,
    expiry: card.expiry,
    type: card.type,
    amount: card.amount,
    status: card.status,
    currency: '156',
  }))
}

export class Ledger {
  readonly #byPan = new Map<string, Account>()
  readonly #byId = new Map<string, Account>()
  readonly #transactions = new Map<string, TransactionRecord | Tombstone>()
  /** Reversals applied, by the original's key: a repeat answers 00 and moves nothing. */
  readonly #reversed = new Set<string>()
  #totals = newTotals()
  #accountIdNext = 1
  #authorizationCodeNext = 1

  get accountCount(): number {
    return this.#byPan.size
  }

  get totals(): Readonly<LedgerTotals> {
    return this.#totals
  }

  accounts(): readonly Account[] {
    return [...this.#byId.values()]
  }

  accountById(id: string): Account | null {
    return this.#byId.get(id) ?? null
  }

  accountsByMasked(masked: string): Account[] {
    return [...this.#byId.values()].filter((account) => account.maskedPan === masked)
  }

  /** Why `raw` cannot be added, or null when it can. Changes nothing. */
  validateAccount(raw: unknown): string | null {
    const prepared = this.#prepare(raw)
    return prepared.ok ? null : prepared.error
  }

  /** Adds an account, or replaces the one with the same PAN (a fresh ledger state, same id). */
  addAccount(raw: unknown): AddAccountResult {
    const prepared = this.#prepare(raw)
    if (!prepared.ok) return prepared
    const { account, existing } = prepared
    if (account.id === `acct_${this.#accountIdNext}`) this.#accountIdNext += 1
    if (existing !== undefined) this.#byId.delete(existing.id)
    this.#byPan.set(account.pan, account)
    this.#byId.set(account.id, account)
    assert(this.#byPan.size === this.#byId.size, 'one id per card')
    return { ok: true, account, replaced: existing !== undefined }
  }

  #prepare(
    raw: unknown,
  ):
    | { readonly ok: true; readonly account: Account; readonly existing: Account | undefined }
    | { readonly ok: false; readonly error: string } {
    const parsed = accountInputSchema.safeParse(raw)
    if (!parsed.success) return { ok: false, error: formatIssues(parsed.error) }
    const input = parsed.data
    const opening = parseAmount(input.amount, input.exponent)
    if (!opening.ok) return { ok: false, error: `amount: ${opening.error.expected}` }
    let perTransactionMaxMinor: number | null = null
    if (input.perTransactionMax !== undefined) {
      const max = parseAmount(input.perTransactionMax, input.exponent)
      if (!max.ok) return { ok: false, error: `perTransactionMax: ${max.error.expected}` }
      perTransactionMaxMinor = max.value
    }
    const existing = this.#byPan.get(input.pan)
    const id = input.id ?? existing?.id ?? this.#freeId()
    const clash = this.#byId.get(id)
    if (clash !== undefined && clash !== existing)
      return { ok: false, error: `id: ${id} belongs to another card` }
    if (existing === undefined && this.#byPan.size >= ACCOUNTS_MAX)
      return { ok: false, error: `at most ${ACCOUNTS_MAX} accounts` }
    const account: Account = {
      id,
      pan: input.pan,
      maskedPan: maskPan(input.pan),
      expiry: input.expiry,
      type: input.type,
      status: input.status,
      currency: input.currency,
      openingMinor: opening.value,
      perTransactionMaxMinor,
      postedMinor: 0,
      heldMinor: 0,
    }
    return { ok: true, account, existing }
  }

  /**
   * Decides and applies one request. `month` is the current month (UTC) for expiry checks.
   * Retransmissions (same class, terminal, STAN, transmission time) get the first answer.
   */
  apply(
    request: IssuerRequest,
    mti: string,
    month: { year: number; month: number },
  ): LedgerOutcome {
    assert(Number.isSafeInteger(request.amountMinor) && request.amountMinor >= 0, 'amount >= 0')
    if (request.kind === 'reversal') return this.#reverse(request)
    const key = correlationKey(mti, request.terminalId, request.stan, request.transmissionTime)
    const seen = this.#transactions.get(key)
    if (seen !== undefined) {
      if (seen.kind === 'tombstone')
        return this.#outcome(answerOf('94'), null, 'refused: reversed before it arrived')
      const record = seen
      return this.#outcome(record.answer, record.accountId, 'retransmission: first answer')
    }
    const account = this.#byPan.get(request.pan) ?? null
    const outcome =
      request.kind === 'advice'
        ? this.#advise(request, account)
        : this.#authorize(request, account, month)
    return outcome.record === null
      ? outcome.outcome
      : this.#remember(key, outcome.record, outcome.outcome)
  }

  #authorize(
    request: IssuerRequest,
    account: Account | null,
    month: { year: number; month: number },
  ): { record: TransactionRecord | null; outcome: LedgerOutcome } {
    const kind = request.kind as 'purchase' | 'preauthorization' | 'balance_inquiry'
    const decline = (code: string, note: string) => {
      this.#totals.declines[code] = (this.#totals.declines[code] ?? 0) + 1
      const answer = answerOf(code)
      const record: TransactionRecord = {
        kind,
        accountId: account?.id ?? null,
        amountMinor: request.amountMinor,
        effect: 'none',
        answer,
        reversed: false,
      }
      return { record, outcome: this.#outcome(answer, account?.id ?? null, note) }
    }
    if (account === null) return decline('14', 'declined: unknown card')
    const refusal = cardRefusal(account, request.expiry, month)
    if (refusal !== null) return decline(refusal.code, `declined: ${refusal.note}`)
    if (kind === 'balance_inquiry') {
      const answer: IssuerAnswer = {
        responseCode: '00',
        authorizationCode: null,
        balanceMinor: availableMinor(account),
      }
      return { record: null, outcome: this.#outcome(answer, account.id, 'balance inquiry') }
    }
    if (request.amountMinor <= 0 || request.amountMinor > AMOUNT_MINOR_MAX)
      return decline('13', 'declined: invalid amount')
    if (
      account.perTransactionMaxMinor !== null &&
      request.amountMinor > account.perTransactionMaxMinor
    )
      return decline('61', 'declined: exceeds withdrawal limit')
    if (request.amountMinor > availableMinor(account))
      return decline('51', 'declined: insufficient funds')
    const effect: Effect = kind === 'purchase' ? 'debit' : 'hold'
    this.#move(account, effect, request.amountMinor)
    const totals = kind === 'purchase' ? this.#totals.purchases : this.#totals.holds
    totals.count += 1
    totals.amountMinor += request.amountMinor
    const answer: IssuerAnswer = {
      responseCode: '00',
      authorizationCode: this.#authorizationCode(),
      balanceMinor: null,
    }
    const record: TransactionRecord = {
      kind,
      accountId: account.id,
      amountMinor: request.amountMinor,
      effect,
      answer,
      reversed: false,
    }
    const note = kind === 'purchase' ? 'approved: debited' : 'approved: held'
    return { record, outcome: this.#outcome(answer, account.id, note) }
  }

  /** The acquirer approved in stand-in and took the risk: the debit is applied regardless. */
  #advise(
    request: IssuerRequest,
    account: Account | null,
  ): { record: TransactionRecord | null; outcome: LedgerOutcome } {
    if (account === null) {
      // Nothing to post to; not remembered, so a repeat after the card is added can apply.
      this.#totals.declines['14'] = (this.#totals.declines['14'] ?? 0) + 1
      return { record: null, outcome: this.#outcome(answerOf('14'), null, 'advice: unknown card') }
    }
    if (request.amountMinor <= 0 || request.amountMinor > AMOUNT_MINOR_MAX)
      return {
        record: null,
        outcome: this.#outcome(answerOf('13'), account.id, 'advice: bad amount'),
      }
    const over = request.amountMinor > availableMinor(account) || account.status !== 'active'
    this.#move(account, 'debit', request.amountMinor)
    this.#totals.advices.count += 1
    this.#totals.advices.amountMinor += request.amountMinor
    if (over) this.#totals.advices.standInOverLimit += 1
    const answer: IssuerAnswer = {
      responseCode: '00',
      authorizationCode: request.authorizationCode ?? null,
      balanceMinor: null,
    }
    const record: TransactionRecord = {
      kind: 'advice',
      accountId: account.id,
      amountMinor: request.amountMinor,
      effect: 'debit',
      answer,
      reversed: false,
    }
    const note = over ? 'advice applied: stand-in accepted over limit' : 'advice applied'
    return { record, outcome: this.#outcome(answer, account.id, note) }
  }

  #reverse(request: IssuerRequest): LedgerOutcome {
    const original = request.original
    assert(original !== undefined, 'a reversal request carries its original')
    const key = correlationKey(
      original.mti,
      request.terminalId,
      original.stan,
      original.transmissionTime,
    )
    if (this.#reversed.has(key)) {
      this.#totals.reversals.repeated += 1
      return this.#outcome(answerOf('00'), null, 'reversal repeated: nothing more to undo')
    }
    const seen = this.#transactions.get(key)
    if (seen === undefined || seen.kind === 'tombstone') {
      // Nothing to undo: acknowledge, so the acquirer stops repeating, and refuse the original
      // should it arrive late (the acquirer already believes it reversed).
      if (seen === undefined) {
        this.#totals.reversals.withoutOriginal += 1
        this.#rememberEntry(key, { kind: 'tombstone' })
      } else this.#totals.reversals.repeated += 1
      return this.#outcome(answerOf('00'), null, 'reversal without original: acknowledged')
    }
    const record = seen
    assert(!record.reversed, 'a reversed original is in the reversed set')
    record.reversed = true
    this.#rememberReversal(key)
    const account = record.accountId === null ? null : (this.#byId.get(record.accountId) ?? null)
    if (record.effect === 'none' || account === null) {
      return this.#outcome(answerOf('00'), record.accountId, 'reversal: original moved nothing')
    }
    this.#move(account, record.effect, -record.amountMinor)
    this.#totals.reversals.count += 1
    this.#totals.reversals.amountMinor += record.amountMinor
    return this.#outcome(answerOf('00'), account.id, `reversal applied: ${record.effect} undone`)
  }

  #move(account: Account, effect: Effect, amountMinor: number): void {
    if (effect === 'debit') account.postedMinor += amountMinor
    if (effect === 'hold') account.heldMinor += amountMinor
    assert(account.heldMinor >= 0, 'holds never negative')
    assert(Math.abs(account.postedMinor) <= BALANCE_MINOR_MAX, 'posted within the balance range')
  }

  #remember(key: string, record: TransactionRecord, outcome: LedgerOutcome): LedgerOutcome {
    this.#rememberEntry(key, record)
    return outcome
  }

  #rememberEntry(key: string, entry: TransactionRecord | Tombstone): void {
    if (this.#transactions.size >= TRANSACTIONS_MAX) {
      const oldest = this.#transactions.keys().next().value
      if (oldest !== undefined) this.#transactions.delete(oldest)
    }
    this.#transactions.set(key, entry)
  }

  #rememberReversal(key: string): void {
    if (this.#reversed.size >= TRANSACTIONS_MAX) {
      const oldest = this.#reversed.values().next().value
      if (oldest !== undefined) this.#reversed.delete(oldest)
    }
    this.#reversed.add(key)
  }

  #outcome(answer: IssuerAnswer, accountId: string | null, note: string): LedgerOutcome {
    return { answer, accountId, note }
  }

  #authorizationCode(): string {
    const code = String(this.#authorizationCodeNext).padStart(6, '0')
    this.#authorizationCodeNext = (this.#authorizationCodeNext % 999_999) + 1
    return code
  }

  /** The next free `acct_<n>`; taken by addAccount. */
  #freeId(): string {
    while (this.#byId.has(`acct_${this.#accountIdNext}`)) this.#accountIdNext += 1
    return `acct_${this.#accountIdNext}`
  }
}

function answerOf(code: string): IssuerAnswer {
  return { responseCode: code, authorizationCode: null, balanceMinor: null }
}

/** Why the bank refuses this card whatever the amount, or null. Same order as Tollgate. */
function cardRefusal(
  account: Account,
  expiry: string,
  month: { year: number; month: number },
): { code: string; note: string } | null {
  switch (account.status) {
    case 'active':
      break
    case 'lost':
      return { code: '41', note: 'card lost' }
    case 'stolen':
      return { code: '43', note: 'card stolen' }
    case 'inactive':
    case 'blocked':
      return { code: '62', note: `card ${account.status}` }
  }
  if (expiry !== account.expiry) return { code: '54', note: 'expiry does not match' }
  const onFile = parseExpiry(account.expiry)
  assert(onFile !== null, 'expiry validated when the account was added')
  const expired = month.year !== onFile.year ? month.year > onFile.year : month.month > onFile.month
  return expired ? { code: '54', note: 'card expired' } : null
}

export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map(
      (issue) => `${issue.path.length === 0 ? '(body)' : issue.path.join('.')}: ${issue.message}`,
    )
    .join('; ')
}
