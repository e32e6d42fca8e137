import { LOCAL_ONLY, type RoutingTable } from '../../src/core/routes/model.js'
import type { IssuerMessage } from '../../src/core/routes/outbox.js'
import { EMPTY_RULE_SET, type RuleSet } from '../../src/core/risk/engine.js'
import type { ReviewItem } from '../../src/core/risk/review.js'
import { assert } from '../../src/core/assert.js'
import { assertConservation, post } from '../../src/core/ledger/ledger.js'
import { CURRENCIES, toAmountMinor } from '../../src/core/money.js'
import type {
  Account,
  Card,
  LimitRule,
  ListEntry,
  Merchant,
  Terminal,
  TransactionRecord,
  Transfer,
  UsageCounter,
} from '../../src/core/model.js'
import type { BatchWork } from '../../src/core/pipeline/batch.js'
import { clearingAccountId, fundingAccountId } from '../../src/core/pipeline/keys.js'
import type { BatchResult, RequestResult } from '../../src/core/pipeline/result.js'
import type { Changes, Snapshot } from '../../src/core/pipeline/snapshot.js'
import type { DueHolds } from '../../src/ports/store.js'

/**
 * A test harness, not a product adapter: runs BatchWork against plain Maps the way the SQLite
 * adapter runs it (src/adapters/store/sqlite/sqlite-store.ts, loadSnapshot and writeChanges),
 * so that a simulation can drive the real core quickly. It loads exactly what the work's keys
 * name, and writes changes only after checking all of them, so a batch is all or nothing.
 */
export class MemoryBatchStore {
  readonly merchants = new Map<string, Merchant>()
  readonly terminals = new Map<string, Terminal>()
  readonly cards = new Map<string, Card>()
  readonly accounts = new Map<string, Account>()
  readonly transactions = new Map<string, TransactionRecord>()
  readonly transfers = new Map<string, Transfer>()
  readonly counters = new Map<string, UsageCounter>()
  readonly limits = new Map<string, LimitRule>()
  readonly listEntries = new Map<string, ListEntry>()
  readonly reviews = new Map<string, ReviewItem>()
  readonly firstSeen = new Map<string, number>()
  /** The live risk rules: a test sets them with compileRuleSet. */
  ruleSet: RuleSet = EMPTY_RULE_SET
  /** The routing table: local only unless a test sets one. */
  routing: RoutingTable = LOCAL_ONLY
  readonly issuerMessages = new Map<string, IssuerMessage>()
  private readonly byDedupKey = new Map<string, string>()
  private readonly byIdempotencyKey = new Map<string, string>()
  /** Original id → follow-up ids, oldest first (creation order, as the SQL orders them). */
  private readonly byOriginalId = new Map<string, string[]>()
  /** Transaction id → ids of the transfers it made. */
  private readonly transfersByTransaction = new Map<string, string[]>()
  /** Ids written since the last `takeWritten`, so a test can check just what changed. */
  private written = emptyWritten()

  constructor() {
    // Every currency has its clearing and funding account, as the SQLite store ensures.
    for (const currency of CURRENCIES) {
      const systemAccounts = [
        [clearingAccountId(currency.alpha), 'clearing'],
        [fundingAccountId(currency.alpha), 'funding'],
      ] as const
      for (const [id, kind] of systemAccounts) {
        this.accounts.set(id, {
          id,
          kind,
          currency: currency.alpha,
          creditLimitMinor: 0,
          debitsPendingMinor: 0,
          debitsPostedMinor: 0,
          creditsPendingMinor: 0,
          creditsPostedMinor: 0,
        })
      }
    }
  }

  putMerchant(merchant: Merchant): void {
    this.merchants.set(merchant.id, merchant)
  }

  putTerminal(terminal: Terminal): void {
    this.terminals.set(terminal.id, terminal)
  }

  putLimit(rule: LimitRule): void {
    this.limits.set(rule.id, rule)
  }

  putListEntry(entry: ListEntry): void {
    this.listEntries.set(entry.id, entry)
  }

  /** A new card with its empty account; a positive opening balance is posted from funding. */
  createCard(
    card: Card,
    account: Account,
    openingBalanceMinor: number,
    transferId: string,
    nowMs: number,
  ): void {
    assert(!this.cards.has(card.token), `card ${card.token} is new`)
    assert(!this.accounts.has(account.id), `account ${account.id} is new`)
    assert(card.accountId === account.id, 'a card names its account')
    assert(account.kind === 'cardholder', 'a card account is a cardholder account')
    this.accounts.set(account.id, account)
    this.cards.set(card.token, card)
    if (openingBalanceMinor > 0) {
      this.deposit(account.id, openingBalanceMinor, transferId, `open:${card.token}`, nowMs)
    }
  }

  /** Posts money from the currency's funding account to a cardholder (an opening or top-up). */
  deposit(
    accountId: string,
    amountMinor: number,
    transferId: string,
    reference: string,
    nowMs: number,
  ): void {
    const account = this.accounts.get(accountId)
    assert(account !== undefined, `account ${accountId} exists`)
    const funding = this.accounts.get(fundingAccountId(account.currency))
    assert(funding !== undefined, `funding account for ${account.currency}`)
    const moved = post({
      id: transferId,
      transactionId: reference,
      debit: funding,
      credit: account,
      amountMinor: toAmountMinor(amountMinor),
      nowMs,
    })
    assert(!('code' in moved), 'funding never refuses')
    assertConservation(byId([funding, account]), byId(moved.accounts))
    for (const changed of moved.accounts) this.accounts.set(changed.id, changed)
    assert(!this.transfers.has(transferId), `transfer ${transferId} is new`)
    this.putTransfer(moved.transfer)
  }

  /** The ids of the rows written since the last call. */
  takeWritten(): Written {
    const written = this.written
    this.written = emptyWritten()
    return written
  }

  transfersOf(transactionId: string): readonly Transfer[] {
    const ids = this.transfersByTransaction.get(transactionId) ?? []
    return ids.map((id) => this.mustGet(this.transfers, id))
  }

  /** Follow-ups of a transaction, oldest first. */
  followUpsOf(originalId: string): readonly TransactionRecord[] {
    const ids = this.byOriginalId.get(originalId) ?? []
    return ids.map((id) => this.mustGet(this.transactions, id))
  }

  /** Loads, decides and writes one batch, as Store.runBatch does inside one transaction. */
  run(work: BatchWork): readonly RequestResult[] {
    return this.runAny(work).map((result) => {
      assert(result.type !== 'forward', 'a local-only test never forwards: use runAny')
      return result
    })
  }

  /** As `run`, for batches that may forward to a remote route. */
  runAny(work: BatchWork): readonly BatchResult[] {
    const decided = work.decide(this.loadSnapshot(work))
    this.write(decided.changes)
    work.afterCommit()
    return decided.results
  }

  /** As Store.expireHolds: the due holds, oldest expiry first, at most `max`. */
  expireHolds(nowMs: number, max: number, decide: (due: DueHolds) => Changes): number {
    const due = [...this.transfers.values()]
      .filter((h) => h.state === 'pending' && h.expiresAtMs !== null && h.expiresAtMs <= nowMs)
      .sort((a, b) => (a.expiresAtMs ?? 0) - (b.expiresAtMs ?? 0) || compare(a.id, b.id))
      .flatMap((h) => {
        const t = this.transactions.get(h.transactionId)
        const open =
          t !== undefined &&
          t.holdTransferId === h.id &&
          t.kind === 'preauthorization' &&
          t.lifecycle === 'held' &&
          t.outcome === 'approved'
        return open ? [t] : []
      })
      .slice(0, max)
    if (due.length === 0) return 0
    const transfers = new Map<string, Transfer>()
    const accounts = new Map<string, Account>()
    for (const t of due) {
      const h = this.mustGet(this.transfers, t.holdTransferId ?? '')
      transfers.set(h.id, h)
      accounts.set(h.debitAccountId, this.mustGet(this.accounts, h.debitAccountId))
      accounts.set(h.creditAccountId, this.mustGet(this.accounts, h.creditAccountId))
    }
    this.write(decide({ transactions: due, transfers, accounts }))
    return due.length
  }

  private loadSnapshot(work: BatchWork): Snapshot {
    const transactions = new Map<string, TransactionRecord>()
    const load = (id: string | undefined): TransactionRecord | undefined => {
      const record = id === undefined ? undefined : this.transactions.get(id)
      if (record !== undefined) transactions.set(record.id, record)
      return record
    }
    const originals = new Map<string, TransactionRecord>()
    for (const id of new Set(work.originalIds)) {
      const record = load(id)
      if (record !== undefined) originals.set(id, record)
    }
    for (const key of new Set(work.originalDedupKeys)) {
      const record = load(this.byDedupKey.get(key))
      if (record !== undefined) originals.set(record.id, record)
    }
    const followUps = new Map<string, string[]>()
    for (const id of originals.keys()) {
      const ids = this.byOriginalId.get(id) ?? []
      for (const followUpId of ids) load(followUpId)
      if (ids.length > 0) followUps.set(id, [...ids])
    }
    // The originals of the originals: undoing a refund gives the refunded sale its room back.
    for (const original of originals.values()) load(original.originalId ?? undefined)

    const keys = work.keys(transactions, this.routing)
    for (const key of keys.dedupKeys) load(this.byDedupKey.get(key))
    for (const key of keys.idempotencyKeys) load(this.byIdempotencyKey.get(key))
    const cards = pickAll(this.cards, keys.cardTokens)
    const accountIds = new Set(keys.accountIds)
    for (const card of cards.values()) accountIds.add(card.accountId)
    // Every key a loaded transaction carries is a fact of the store, whichever way it came.
    const dedupKeys = new Map<string, string>()
    const idempotencyKeys = new Map<string, string>()
    for (const record of transactions.values()) {
      if (record.dedupKey !== null) dedupKeys.set(record.dedupKey, record.id)
      if (record.idempotencyKey !== null) idempotencyKeys.set(record.idempotencyKey, record.id)
    }
    return {
      merchants: pickAll(this.merchants, keys.merchantIds),
      terminals: pickAll(this.terminals, keys.terminalIds),
      cards,
      accounts: pickAll(this.accounts, accountIds),
      transactions,
      dedupKeys,
      idempotencyKeys,
      followUps,
      transfers: pickAll(this.transfers, keys.transferIds),
      counters: pickAll(this.counters, keys.counterKeys),
      limits: [...this.limits.values()].sort((a, b) => compare(a.id, b.id)),
      listEntries: [...this.listEntries.values()].filter((e) => keys.listValues.has(e.value)),
      ruleSet: this.ruleSet,
      routing: this.routing,
      issuerMessages: pickAll(this.issuerMessages, keys.issuerMessageIds),
      cardFirstSeen: new Map(
        [...keys.cardTokens].flatMap((t) => {
          const at = this.firstSeen.get(t)
          return at === undefined ? [] : [[t, at] as const]
        }),
      ),
    }
  }

  /** Checks every change against the store first (as SQL constraints would), then writes. */
  private write(changes: Changes): void {
    for (const a of changes.accounts) assert(this.accounts.has(a.id), `account ${a.id} exists`)
    for (const t of changes.insertedTransfers) {
      assert(!this.transfers.has(t.id), `transfer ${t.id} is new`)
    }
    for (const t of changes.updatedTransfers) {
      const previous = this.mustGet(this.transfers, t.id)
      assert(previous.amountMinor === t.amountMinor, `transfer ${t.id} keeps its amount`)
    }
    const newDedupKeys = new Set<string>()
    const newIdempotencyKeys = new Set<string>()
    for (const r of changes.insertedTransactions) {
      assert(!this.transactions.has(r.id), `transaction ${r.id} is new`)
      if (r.dedupKey !== null) {
        const taken = this.byDedupKey.has(r.dedupKey) || newDedupKeys.has(r.dedupKey)
        assert(!taken, `dedup key ${r.dedupKey} is unique`)
        newDedupKeys.add(r.dedupKey)
      }
      if (r.idempotencyKey !== null) {
        const key = r.idempotencyKey
        const taken = this.byIdempotencyKey.has(key) || newIdempotencyKeys.has(key)
        assert(!taken, `idempotency key ${key} is unique`)
        newIdempotencyKeys.add(key)
      }
    }
    for (const r of changes.updatedTransactions) {
      const previous = this.mustGet(this.transactions, r.id)
      const same = previous.kind === r.kind && previous.amountMinor === r.amountMinor
      assert(same, `transaction ${r.id} keeps its kind and amount`)
    }

    for (const item of changes.reviews) {
      assert(!this.reviews.has(item.transactionId), `review ${item.transactionId} is new`)
      this.reviews.set(item.transactionId, item)
    }
    for (const message of changes.issuerMessages) this.issuerMessages.set(message.id, message)
    for (const seen of changes.cardFirstSeen)
      if (!this.firstSeen.has(seen.cardToken)) this.firstSeen.set(seen.cardToken, seen.atMs)
    for (const a of changes.accounts) this.accounts.set(a.id, Object.freeze(a))
    for (const t of [...changes.insertedTransfers, ...changes.updatedTransfers]) this.putTransfer(t)
    for (const r of changes.insertedTransactions) {
      this.transactions.set(r.id, Object.freeze(r))
      this.written.transactions.add(r.id)
      if (r.dedupKey !== null) this.byDedupKey.set(r.dedupKey, r.id)
      if (r.idempotencyKey !== null) this.byIdempotencyKey.set(r.idempotencyKey, r.id)
      if (r.originalId !== null) {
        const list = this.byOriginalId.get(r.originalId) ?? []
        list.push(r.id)
        this.byOriginalId.set(r.originalId, list)
      }
    }
    for (const r of changes.updatedTransactions) {
      this.transactions.set(r.id, Object.freeze(r))
      this.written.transactions.add(r.id)
    }
    for (const c of changes.counters) {
      this.counters.set(c.key, Object.freeze(c))
      this.written.counters.add(c.key)
    }
  }

  private putTransfer(transfer: Transfer): void {
    if (!this.transfers.has(transfer.id)) {
      const list = this.transfersByTransaction.get(transfer.transactionId) ?? []
      list.push(transfer.id)
      this.transfersByTransaction.set(transfer.transactionId, list)
    }
    this.transfers.set(transfer.id, Object.freeze(transfer))
    this.written.transfers.add(transfer.id)
  }

  private mustGet<T>(map: ReadonlyMap<string, T>, id: string): T {
    const value = map.get(id)
    assert(value !== undefined, `row ${id} exists`)
    return value
  }
}

export interface Written {
  readonly transactions: Set<string>
  readonly transfers: Set<string>
  readonly counters: Set<string>
}

function emptyWritten(): Written {
  return { transactions: new Set(), transfers: new Set(), counters: new Set() }
}

function byId(accounts: readonly Account[]): Map<string, Account> {
  return new Map(accounts.map((account) => [account.id, account]))
}

function pickAll<T>(map: ReadonlyMap<string, T>, ids: Iterable<string>): Map<string, T> {
  const picked = new Map<string, T>()
  for (const id of ids) {
    const value = map.get(id)
    if (value !== undefined) picked.set(id, value)
  }
  return picked
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
