import { assert } from '../assert.js'
import { localDateOf, formatLocalDate, previousDay } from '../calendar.js'
import { findCurrency } from '../money.js'
import type { TransactionRecord } from '../model.js'
import type { CoreContext } from './context.js'
import { decideFollowUp } from './decide-follow-up.js'
import { decideNew } from './decide-new.js'
import { decideIssuerAnswer } from './remote.js'
import { chooseRoute, issuerAccountId, LOCAL_ONLY, type RoutingTable } from '../routes/model.js'
import { ISSUER_MESSAGE_KINDS, issuerMessageId } from '../routes/outbox.js'
import {
  binPrefixes,
  clearingAccountId,
  counterKey,
  dedupKey,
  stipCounterKey,
  followUpDedupKey,
  traceKeys,
} from './keys.js'
import type { BatchRequest, FollowUpRequest } from './requests.js'
import type { BatchResult } from './result.js'
import { VelocityView } from '../risk/velocity.js'
import { Working, type Changes, type Snapshot, type SnapshotKeys } from './snapshot.js'

/** The largest batch the core decides at once; one database transaction each. */
export const BATCH_SIZE_MAX = 1_000

/**
 * A batch, as a store runs it: load the originals the follow-ups name, load the state their
 * keys name, decide, then write the changes, all in one database transaction.
 */
export interface BatchWork {
  readonly originalIds: readonly string[]
  /** Originals named by their trace: the dedup keys to load them by. */
  readonly originalDedupKeys: readonly string[]
  /**
   * Keys to load, given the originals the follow-ups (and issuer answers) name and, where
   * loaded, their originals, and the routing table (which route accounts a sale may touch).
   */
  keys(originals: ReadonlyMap<string, TransactionRecord>, routing: RoutingTable): SnapshotKeys
  decide(snapshot: Snapshot): {
    readonly changes: Changes
    readonly results: readonly BatchResult[]
  }
  /**
   * The store calls this once the batch has committed, before the next batch reads: folds its
   * attempts into the velocity index. Calling it again does nothing.
   */
  afterCommit(): void
}

export function planBatch(requests: readonly BatchRequest[], ctx: CoreContext): BatchWork {
  assert(
    requests.length > 0 && requests.length <= BATCH_SIZE_MAX,
    `batch of ${requests.length} within 1..${BATCH_SIZE_MAX}`,
  )
  const today = localDateOf(ctx.nowMs, ctx.settings.utcOffsetMinutes)
  const localDate = formatLocalDate(today)
  const originalIds = requests.flatMap((r) =>
    r.type === 'issuer_answer'
      ? [r.transactionId]
      : r.type === 'follow_up' && r.originalId !== undefined
        ? [r.originalId]
        : [],
  )
  const originalDedupKeys = requests.flatMap((r) =>
    r.type === 'follow_up' && r.originalTrace !== undefined
      ? traceKeys(r.originalTrace, localDate).map((t) => t.key)
      : [],
  )
  // The view of the last decide() (a store may decide again after a retry); committed after.
  let view: VelocityView | null = null
  return {
    originalIds,
    originalDedupKeys,
    keys: (originals, routing) => collectKeys(requests, originals, localDate, routing),
    afterCommit: () => {
      view?.commit()
      view = null
    },
    decide: (snapshot) => {
      view = new VelocityView(ctx.velocity)
      const working = new Working(snapshot, view)
      const results = requests.map((request): BatchResult => {
        switch (request.type) {
          case 'new':
            return decideNew(request, working, ctx, today, localDate)
          case 'follow_up':
            return decideFollowUp(request, working, ctx, localDate)
          case 'issuer_answer':
            return decideIssuerAnswer(request, working, ctx)
        }
      })
      assert(results.length === requests.length, 'one result per request')
      return { changes: working.changes(), results }
    },
  }
}

/** Every key the batch may read. Over-fetching is harmless; missing a key would be a bug. */
export function collectKeys(
  requests: readonly BatchRequest[],
  originals: ReadonlyMap<string, TransactionRecord>,
  localDate: string,
  routing: RoutingTable = LOCAL_ONLY,
): SnapshotKeys {
  const keys = {
    merchantIds: new Set<string>(),
    terminalIds: new Set<string>(),
    cardTokens: new Set<string>(),
    accountIds: new Set<string>(),
    dedupKeys: new Set<string>(),
    idempotencyKeys: new Set<string>(),
    counterKeys: new Set<string>(),
    listValues: new Set<string>(),
    transferIds: new Set<string>(),
    issuerMessageIds: new Set<string>(),
  }
  /** A remote sale's route accounts and outbox messages (for follow-ups and answers). */
  const addRemote = (record: TransactionRecord): void => {
    const route = record.evidence.route
    if (record.evidence.remote !== true || typeof route !== 'string') return
    keys.accountIds.add(issuerAccountId(route, record.currency))
    keys.accountIds.add(clearingAccountId(record.currency))
    for (const kind of ISSUER_MESSAGE_KINDS)
      keys.issuerMessageIds.add(issuerMessageId(kind, record.id))
  }
  const addCounters = (
    cardToken: string,
    merchantId: string,
    terminalId: string,
    day: string,
    currency: string,
  ): void => {
    keys.counterKeys.add(counterKey('card', cardToken, day, currency))
    keys.counterKeys.add(counterKey('merchant', merchantId, day, currency))
    keys.counterKeys.add(counterKey('terminal', terminalId, day, currency))
  }
  const byDedupKey = new Map<string, TransactionRecord>()
  for (const record of originals.values())
    if (record.dedupKey !== null) byDedupKey.set(record.dedupKey, record)
  for (const request of requests) {
    if (request.type === 'issuer_answer') {
      const pending = originals.get(request.transactionId)
      if (pending === undefined) continue
      keys.issuerMessageIds.add(issuerMessageId('request', pending.id))
      keys.issuerMessageIds.add(issuerMessageId('reversal', pending.id))
      addRemote(pending)
      if (pending.cardToken !== null) {
        addCounters(
          pending.cardToken,
          pending.merchantId,
          pending.terminalId,
          pending.localDate,
          pending.currency,
        )
        // A request the link refused to send may stand in (remote.ts).
        keys.counterKeys.add(stipCounterKey(pending.cardToken, pending.localDate, pending.currency))
      }
      continue
    }
    if (request.idempotencyKey !== null) keys.idempotencyKeys.add(request.idempotencyKey)
    if (request.type === 'new') {
      const currency = findCurrency(request.currency)?.alpha ?? request.currency
      keys.merchantIds.add(request.merchantId)
      keys.terminalIds.add(request.terminalId)
      keys.cardTokens.add(request.cardToken)
      keys.accountIds.add(clearingAccountId(currency))
      keys.dedupKeys.add(
        dedupKey(request.terminalId, request.stan, request.transmissionTime, localDate),
      )
      // Without a transmission time, a retransmission across midnight has yesterday's key.
      if (request.transmissionTime === null)
        keys.dedupKeys.add(dedupKey(request.terminalId, request.stan, null, previousDay(localDate)))
      addCounters(request.cardToken, request.merchantId, request.terminalId, localDate, currency)
      const choice = chooseRoute(routing, request.card.pan)
      if (choice.kind === 'remote') {
        keys.accountIds.add(issuerAccountId(choice.route.id, currency))
        keys.counterKeys.add(stipCounterKey(request.cardToken, localDate, currency))
      }
      keys.listValues.add(request.cardToken)
      keys.listValues.add(request.merchantId)
      keys.listValues.add(request.terminalId)
      for (const prefix of binPrefixes(request.card.pan)) keys.listValues.add(prefix)
      continue
    }
    // A reversal of an original never seen leaves a tombstone under the trace's terminal.
    if (request.originalTrace !== undefined) {
      const terminalId = request.originalTrace.terminalId
      keys.terminalIds.add(terminalId)
      // The follow-up's own key, whether or not its original is stored yet (it may be decided
      // earlier in this very batch): a repeat must be seen, never a second row under the key.
      if (request.stan !== null) {
        keys.dedupKeys.add(followUpDedupKey(terminalId, request.stan, localDate, request.kind))
        keys.dedupKeys.add(
          followUpDedupKey(terminalId, request.stan, previousDay(localDate), request.kind),
        )
      }
    }
    // By trace, every candidate (today's and yesterday's): the decision picks one.
    const candidates =
      request.originalId !== undefined
        ? [originals.get(request.originalId)]
        : traceKeys(request.originalTrace, localDate).map((t) => byDedupKey.get(t.key))
    for (const original of candidates) {
      if (original !== undefined) addFollowUpKeys(request, original)
    }
  }
  return keys

  function addFollowUpKeys(request: FollowUpRequest, original: TransactionRecord): void {
    // A completion's preauthorization (or a refund's sale): undoing gives its day's usage back.
    const parent = original.originalId === null ? undefined : originals.get(original.originalId)
    if (parent !== undefined && parent.cardToken !== null) {
      addCounters(
        parent.cardToken,
        parent.merchantId,
        parent.terminalId,
        parent.localDate,
        parent.currency,
      )
    }
    addRemote(original)
    keys.merchantIds.add(original.merchantId)
    keys.terminalIds.add(original.terminalId)
    keys.accountIds.add(clearingAccountId(original.currency))
    if (original.cardToken !== null) {
      keys.cardTokens.add(original.cardToken)
      addCounters(
        original.cardToken,
        original.merchantId,
        original.terminalId,
        original.localDate,
        original.currency,
      )
      // Undoing a stand-in approval gives its stand-in allowance back (decide-follow-up.ts).
      if (original.evidence.standIn === true)
        keys.counterKeys.add(
          stipCounterKey(original.cardToken, original.localDate, original.currency),
        )
    }
    if (original.holdTransferId !== null) keys.transferIds.add(original.holdTransferId)
    if (request.stan !== null) {
      keys.dedupKeys.add(
        followUpDedupKey(original.terminalId, request.stan, localDate, request.kind),
      )
      // A retransmission that crossed midnight carries yesterday's key (decide-follow-up.ts).
      keys.dedupKeys.add(
        followUpDedupKey(original.terminalId, request.stan, previousDay(localDate), request.kind),
      )
    }
  }
}
