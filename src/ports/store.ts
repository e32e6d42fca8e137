import type {
  Account,
  Card,
  LimitRule,
  ListEntry,
  Merchant,
  Outcome,
  Terminal,
  TransactionKind,
  TransactionRecord,
  Transfer,
} from '../core/model.js'
import type { BatchWork } from '../core/pipeline/batch.js'
import type { BatchResult } from '../core/pipeline/result.js'
import type { ReasonCode } from '../core/reasons/codes.js'
import type { Changes } from '../core/pipeline/snapshot.js'
import type { RiskStore } from './risk-store.js'
import type { RoutingStore } from './routing-store.js'

/**
 * The store port: everything Tollgate keeps. Every adapter (SQLite now, PostgreSQL later) passes
 * the same contract suite (test/store-contract.ts). Methods are async so that a networked
 * database fits; the SQLite adapter answers synchronously inside them.
 *
 * Card numbers never reach the store: cards are keyed by token and carry only the masked form.
 */
export interface Store {
  /** Risk control's rules, settings, review queue and history. */
  readonly risk: RiskStore
  /** Issuer routes, BIN routing, maintenance windows and the issuer outbox. */
  readonly routing: RoutingStore

  /**
   * Runs one batch atomically: loads the originals and the snapshot the work names, lets the
   * core decide, writes the changes, commits, calls `work.afterCommit()` (the next batch must
   * see the batch's velocity). Resolves only after the commit is durable.
   */
  runBatch(work: BatchWork): Promise<readonly BatchResult[]>

  /**
   * Expires up to `max` preauthorization holds due at `nowMs`, atomically, with the given pure
   * function deciding the changes. Returns how many expired.
   */
  expireHolds(nowMs: number, max: number, decide: (due: DueHolds) => Changes): Promise<number>

  getTransaction(id: string): Promise<TransactionRecord | null>
  listTransactions(filter: TransactionFilter): Promise<TransactionPage>
  /** Follow-ups (completions, voids, reversals, refunds) of a transaction, oldest first. */
  listFollowUps(originalId: string): Promise<readonly TransactionRecord[]>

  createMerchant(merchant: Merchant, audit: AuditEntry): Promise<WriteResult>
  updateMerchant(merchant: Merchant, audit: AuditEntry): Promise<WriteResult>
  getMerchant(id: string): Promise<Merchant | null>
  listMerchants(page: PageRequest): Promise<Page<Merchant>>

  createTerminal(terminal: Terminal, audit: AuditEntry): Promise<WriteResult>
  updateTerminal(terminal: Terminal, audit: AuditEntry): Promise<WriteResult>
  getTerminal(id: string): Promise<Terminal | null>
  listTerminals(page: PageRequest): Promise<Page<Terminal>>

  /**
   * Creates a card with its new account; a debit card's opening balance arrives as a posted
   * transfer from the funding account, so the ledger balances from the first entry.
   */
  createCard(input: NewCard, audit: AuditEntry): Promise<WriteResult>
  updateCard(card: Card, audit: AuditEntry): Promise<WriteResult>
  getCard(token: string): Promise<Card | null>
  listCards(page: PageRequest): Promise<Page<Card>>
  getAccount(id: string): Promise<Account | null>

  putLimit(rule: LimitRule, audit: AuditEntry): Promise<WriteResult>
  deleteLimit(id: string, audit: AuditEntry): Promise<WriteResult>
  listLimits(): Promise<readonly LimitRule[]>

  putListEntry(entry: ListEntry, audit: AuditEntry): Promise<WriteResult>
  deleteListEntry(id: string, audit: AuditEntry): Promise<WriteResult>
  listListEntries(page: PageRequest): Promise<Page<ListEntry>>

  listAudit(page: PageRequest): Promise<Page<AuditEntry>>

  /** Per-currency ledger totals and any account outside its bound: an operator's check. */
  checkLedger(): Promise<LedgerCheck>

  /** A key-value setting kept with the data (e.g. the hash of the generated admin token). */
  getSetting(key: string): Promise<string | null>
  putSetting(key: string, value: string): Promise<void>

  close(): Promise<void>
}

export interface NewCard {
  readonly card: Card
  readonly account: Account
  /** Opening balance of a debit card, posted from the funding account; 0 for credit cards. */
  readonly openingBalanceMinor: number
  readonly openingTransferId: string
  readonly nowMs: number
}

/** Holds due for expiry with the transactions and accounts they touch. */
export interface DueHolds {
  readonly transactions: readonly TransactionRecord[]
  readonly transfers: ReadonlyMap<string, Transfer>
  readonly accounts: ReadonlyMap<string, Account>
}

export type WriteResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: 'conflict' | 'not_found'; readonly message: string }

export interface AuditEntry {
  readonly id: string
  readonly atMs: number
  readonly actor: string
  readonly action: string
  readonly subject: string
  /** What changed; never card numbers or secrets. */
  readonly detail: Readonly<Record<string, unknown>>
}

export interface PageRequest {
  readonly limit: number
  /** Opaque cursor from a previous page. */
  readonly cursor: string | null
}

export interface Page<T> {
  readonly items: readonly T[]
  readonly nextCursor: string | null
}

export interface TransactionFilter extends PageRequest {
  readonly terminalId?: string
  readonly merchantId?: string
  readonly fromMs?: number
  readonly toMs?: number
  readonly outcome?: Outcome
  readonly reason?: ReasonCode
  readonly kind?: TransactionKind
  readonly cardLast4?: string
  readonly amountMinor?: number
  readonly stan?: string
  readonly rrn?: string
}

export type TransactionPage = Page<TransactionRecord>

export interface LedgerCheck {
  readonly balanced: boolean
  readonly currencies: readonly {
    readonly currency: string
    readonly debitsPendingMinor: number
    readonly creditsPendingMinor: number
    readonly debitsPostedMinor: number
    readonly creditsPostedMinor: number
  }[]
  readonly accountsOutOfBound: readonly string[]
  readonly accounts: number
}

/** The most rows one page may return. */
export const PAGE_LIMIT_MAX = 500

/**
 * A query the caller got wrong (a cursor that is not one of ours, a page limit out of range):
 * every adapter throws this one, so a channel answers it as bad input, never as a failure.
 */
export class StoreInputError extends Error {
  override readonly name = 'StoreInputError'
  constructor(
    readonly code: 'invalid_cursor' | 'invalid_page_limit',
    readonly field: 'cursor' | 'limit',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}
