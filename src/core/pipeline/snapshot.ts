import { assert } from '../assert.js'
import { assertConservation } from '../ledger/ledger.js'
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
} from '../model.js'
import type { RuleSet } from '../risk/engine.js'
import type { ReviewItem } from '../risk/review.js'
import { LOCAL_ONLY, type RoutingTable } from '../routes/model.js'
import type { IssuerMessage } from '../routes/outbox.js'
import { EMPTY_RULE_SET } from '../risk/engine.js'
import { VelocityIndex, VelocityView, velocityEventOf } from '../risk/velocity.js'

/** The keys of the state a batch needs. A store loads exactly these. */
export interface SnapshotKeys {
  readonly merchantIds: ReadonlySet<string>
  readonly terminalIds: ReadonlySet<string>
  readonly cardTokens: ReadonlySet<string>
  /** Accounts beyond those of the cards (system accounts). */
  readonly accountIds: ReadonlySet<string>
  readonly dedupKeys: ReadonlySet<string>
  readonly idempotencyKeys: ReadonlySet<string>
  readonly counterKeys: ReadonlySet<string>
  /** List values by kind: card tokens, BIN prefixes, merchant ids, terminal ids. */
  readonly listValues: ReadonlySet<string>
  readonly transferIds: ReadonlySet<string>
  /** Issuer outbox messages (`<kind>:<transaction id>`). */
  readonly issuerMessageIds: ReadonlySet<string>
}

/** When Tollgate first saw a card (a risk feature). */
export interface CardFirstSeen {
  readonly cardToken: string
  readonly atMs: number
}

/** The state a batch decides on, loaded in the same database transaction it commits in. */
export interface Snapshot {
  readonly merchants: ReadonlyMap<string, Merchant>
  readonly terminals: ReadonlyMap<string, Terminal>
  /** By card token. */
  readonly cards: ReadonlyMap<string, Card>
  readonly accounts: ReadonlyMap<string, Account>
  readonly transactions: ReadonlyMap<string, TransactionRecord>
  readonly dedupKeys: ReadonlyMap<string, string>
  readonly idempotencyKeys: ReadonlyMap<string, string>
  /** Original transaction id → the ids of its follow-ups (completions, voids, reversals, refunds). */
  readonly followUps: ReadonlyMap<string, readonly string[]>
  readonly transfers: ReadonlyMap<string, Transfer>
  readonly counters: ReadonlyMap<string, UsageCounter>
  readonly limits: readonly LimitRule[]
  readonly listEntries: readonly ListEntry[]
  /** The live risk rules (active and shadow) and settings, compiled. */
  readonly ruleSet: RuleSet
  /** First-seen instants of the batch's cards, where known. */
  readonly cardFirstSeen: ReadonlyMap<string, number>
  /** Issuer routes and the BIN routing table. */
  readonly routing: RoutingTable
  /** The outbox messages the keys named, by id. */
  readonly issuerMessages: ReadonlyMap<string, IssuerMessage>
}

/** What a batch writes. Rows are full new states; the store writes them in one transaction. */
export interface Changes {
  readonly insertedTransactions: readonly TransactionRecord[]
  readonly updatedTransactions: readonly TransactionRecord[]
  readonly accounts: readonly Account[]
  readonly insertedTransfers: readonly Transfer[]
  readonly updatedTransfers: readonly Transfer[]
  readonly counters: readonly UsageCounter[]
  /** Review-queue items opened by this batch's approvals. */
  readonly reviews: readonly ReviewItem[]
  /** Cards seen for the first time in this batch. */
  readonly cardFirstSeen: readonly CardFirstSeen[]
  /** Issuer outbox messages created or changed (full new states). */
  readonly issuerMessages: readonly IssuerMessage[]
}

/** A snapshot with nothing in it, to fill in the parts a caller has. */
export function emptySnapshot(parts: Partial<Snapshot> = {}): Snapshot {
  return {
    merchants: new Map(),
    terminals: new Map(),
    cards: new Map(),
    accounts: new Map(),
    transactions: new Map(),
    dedupKeys: new Map(),
    idempotencyKeys: new Map(),
    followUps: new Map(),
    transfers: new Map(),
    counters: new Map(),
    limits: [],
    listEntries: [],
    ruleSet: EMPTY_RULE_SET,
    cardFirstSeen: new Map(),
    routing: LOCAL_ONLY,
    issuerMessages: new Map(),
    ...parts,
  }
}

export function isEmptyChanges(changes: Changes): boolean {
  return (
    changes.insertedTransactions.length === 0 &&
    changes.updatedTransactions.length === 0 &&
    changes.accounts.length === 0 &&
    changes.insertedTransfers.length === 0 &&
    changes.updatedTransfers.length === 0 &&
    changes.counters.length === 0 &&
    changes.reviews.length === 0 &&
    changes.cardFirstSeen.length === 0 &&
    changes.issuerMessages.length === 0
  )
}

/**
 * The batch's working state: the snapshot plus what earlier requests of the same batch did, so
 * that two holds on one account in one batch see each other. It records what it touched and
 * turns that into Changes at the end.
 */
export class Working {
  readonly merchants: ReadonlyMap<string, Merchant>
  readonly terminals: ReadonlyMap<string, Terminal>
  readonly cards: ReadonlyMap<string, Card>
  readonly limits: readonly LimitRule[]
  readonly listEntries: readonly ListEntry[]
  readonly ruleSet: RuleSet
  readonly routing: RoutingTable
  private readonly issuerMessages: Map<string, IssuerMessage>
  private readonly touchedIssuerMessages = new Set<string>()
  /** Velocity: the committed index plus this batch's own attempts. */
  readonly velocity: VelocityView
  private readonly firstSeen: ReadonlyMap<string, number>
  private readonly newFirstSeen = new Map<string, number>()
  private readonly reviews: ReviewItem[] = []
  private readonly accounts: Map<string, Account>
  private readonly accountsBefore = new Map<string, Account>()
  private readonly transactions: Map<string, TransactionRecord>
  private readonly dedupKeys: Map<string, string>
  private readonly idempotencyKeys: Map<string, string>
  private readonly followUps: Map<string, string[]>
  private readonly transfers: Map<string, Transfer>
  private readonly counters: Map<string, UsageCounter>
  private readonly insertedTransactionIds: string[] = []
  private readonly insertedTransactionSet = new Set<string>()
  private readonly updatedTransactionIds = new Set<string>()
  private readonly insertedTransferIds: string[] = []
  private readonly insertedTransferSet = new Set<string>()
  private readonly updatedTransferIds = new Set<string>()
  private readonly touchedCounterKeys = new Set<string>()

  /** `velocity`: where the batch's attempts go; a detached view for work that makes none. */
  constructor(snapshot: Snapshot, velocity: VelocityView = new VelocityView(new VelocityIndex(1))) {
    this.velocity = velocity
    this.ruleSet = snapshot.ruleSet
    this.routing = snapshot.routing
    this.issuerMessages = new Map(snapshot.issuerMessages)
    this.firstSeen = snapshot.cardFirstSeen
    this.merchants = snapshot.merchants
    this.terminals = snapshot.terminals
    this.cards = snapshot.cards
    this.limits = snapshot.limits
    this.listEntries = snapshot.listEntries
    this.accounts = new Map(snapshot.accounts)
    this.transactions = new Map(snapshot.transactions)
    this.dedupKeys = new Map(snapshot.dedupKeys)
    this.idempotencyKeys = new Map(snapshot.idempotencyKeys)
    this.followUps = new Map([...snapshot.followUps].map(([id, ids]) => [id, [...ids]]))
    this.transfers = new Map(snapshot.transfers)
    this.counters = new Map(snapshot.counters)
  }

  account(id: string): Account | undefined {
    return this.accounts.get(id)
  }

  putAccounts(accounts: readonly Account[]): void {
    for (const account of accounts) {
      const previous = this.accounts.get(account.id)
      assert(previous !== undefined, `account ${account.id} must be in the snapshot`)
      if (!this.accountsBefore.has(account.id)) this.accountsBefore.set(account.id, previous)
      this.accounts.set(account.id, account)
    }
  }

  transaction(id: string): TransactionRecord | undefined {
    return this.transactions.get(id)
  }

  byDedupKey(key: string): TransactionRecord | undefined {
    const id = this.dedupKeys.get(key)
    return id === undefined ? undefined : this.transactions.get(id)
  }

  byIdempotencyKey(key: string): TransactionRecord | undefined {
    const id = this.idempotencyKeys.get(key)
    return id === undefined ? undefined : this.transactions.get(id)
  }

  followUpsOf(originalId: string): readonly TransactionRecord[] {
    const ids = this.followUps.get(originalId) ?? []
    return ids.flatMap((id) => {
      const record = this.transactions.get(id)
      return record === undefined ? [] : [record]
    })
  }

  insertTransaction(record: TransactionRecord): void {
    assert(!this.transactions.has(record.id), `transaction ${record.id} already exists`)
    this.transactions.set(record.id, record)
    this.insertedTransactionIds.push(record.id)
    this.insertedTransactionSet.add(record.id)
    if (record.dedupKey !== null) {
      assert(!this.dedupKeys.has(record.dedupKey), 'dedup key used once')
      this.dedupKeys.set(record.dedupKey, record.id)
    }
    if (record.idempotencyKey !== null) {
      assert(!this.idempotencyKeys.has(record.idempotencyKey), 'idempotency key used once')
      this.idempotencyKeys.set(record.idempotencyKey, record.id)
    }
    if (record.originalId !== null) {
      const list = this.followUps.get(record.originalId) ?? []
      list.push(record.id)
      this.followUps.set(record.originalId, list)
    }
    // A sale forwarded to its bank counts when its answer is recorded (recordAttempt).
    if (record.evidence.awaitingIssuer !== true) this.recordAttempt(record)
    const token = record.cardToken
    if (token !== null && !this.firstSeen.has(token) && !this.newFirstSeen.has(token))
      this.newFirstSeen.set(token, record.createdAtMs)
  }

  /** When the card was first seen before this request, or null if this is the first time. */
  cardFirstSeen(cardToken: string): number | null {
    return this.firstSeen.get(cardToken) ?? this.newFirstSeen.get(cardToken) ?? null
  }

  issuerMessage(id: string): IssuerMessage | undefined {
    return this.issuerMessages.get(id)
  }

  /** Creates or replaces an outbox message (the store upserts it by id). */
  putIssuerMessage(message: IssuerMessage): void {
    this.issuerMessages.set(message.id, message)
    this.touchedIssuerMessages.add(message.id)
  }

  insertReview(item: ReviewItem): void {
    assert(this.insertedTransactionSet.has(item.transactionId), 'a review item of this batch')
    this.reviews.push(item)
  }

  /** A review item for a transaction decided in an earlier batch (a forwarded sale). */
  insertReviewOf(item: ReviewItem): void {
    assert(this.transactions.has(item.transactionId), 'a review item of a loaded transaction')
    this.reviews.push(item)
  }

  /** Counts an authorization attempt for velocity (in this batch's overlay). */
  recordAttempt(record: TransactionRecord): void {
    const event = velocityEventOf(record)
    if (event !== null) this.velocity.record(event)
  }

  updateTransaction(record: TransactionRecord): void {
    const previous = this.transactions.get(record.id)
    assert(previous !== undefined, `transaction ${record.id} must exist to be updated`)
    assert(
      previous.kind === record.kind && previous.amountMinor === record.amountMinor,
      'immutable fields',
    )
    this.transactions.set(record.id, record)
    if (!this.insertedTransactionSet.has(record.id)) this.updatedTransactionIds.add(record.id)
  }

  transfer(id: string): Transfer | undefined {
    return this.transfers.get(id)
  }

  insertTransfer(transfer: Transfer): void {
    assert(!this.transfers.has(transfer.id), `transfer ${transfer.id} already exists`)
    this.transfers.set(transfer.id, transfer)
    this.insertedTransferIds.push(transfer.id)
    this.insertedTransferSet.add(transfer.id)
  }

  updateTransfer(transfer: Transfer): void {
    const previous = this.transfers.get(transfer.id)
    assert(previous !== undefined, `transfer ${transfer.id} must exist to be updated`)
    assert(previous.amountMinor === transfer.amountMinor, 'a transfer amount never changes')
    this.transfers.set(transfer.id, transfer)
    if (!this.insertedTransferSet.has(transfer.id)) this.updatedTransferIds.add(transfer.id)
  }

  counter(key: string): UsageCounter {
    return this.counters.get(key) ?? { key, count: 0, amountMinor: 0 }
  }

  putCounter(counter: UsageCounter): void {
    assert(counter.count >= 0 && counter.amountMinor >= 0, `counter ${counter.key} below zero`)
    this.counters.set(counter.key, counter)
    this.touchedCounterKeys.add(counter.key)
  }

  /** Asserts the batch conserved money, then lists what to write. */
  changes(): Changes {
    const after = new Map<string, Account>()
    for (const id of this.accountsBefore.keys()) {
      const account = this.accounts.get(id)
      assert(account !== undefined, 'touched account present')
      after.set(id, account)
    }
    assertConservation(this.accountsBefore, after)
    const pick = <T>(map: Map<string, T>, ids: Iterable<string>): T[] =>
      [...ids].map((id) => {
        const value = map.get(id)
        assert(value !== undefined, `changed row ${id} present`)
        return value
      })
    return {
      insertedTransactions: pick(this.transactions, this.insertedTransactionIds),
      updatedTransactions: pick(this.transactions, this.updatedTransactionIds),
      accounts: [...after.values()],
      insertedTransfers: pick(this.transfers, this.insertedTransferIds),
      updatedTransfers: pick(this.transfers, this.updatedTransferIds),
      counters: pick(this.counters, this.touchedCounterKeys),
      reviews: this.reviews,
      cardFirstSeen: [...this.newFirstSeen].map(([cardToken, atMs]) => ({ cardToken, atMs })),
      issuerMessages: pick(this.issuerMessages, this.touchedIssuerMessages),
    }
  }
}
