import { assert } from '../assert.js'
import { post } from '../ledger/ledger.js'
import { toAmountMinor } from '../money.js'
import type {
  Check,
  Evidence,
  Merchant,
  Terminal,
  TransactionRecord,
  UsageCounter,
} from '../model.js'
import { STAGES } from '../model.js'
import { reasonEntry } from '../reasons/catalogue.js'
import type { ReasonCode } from '../reasons/codes.js'
import { reasonForIssuerCode } from '../routes/issuer-codes.js'
import { issuerAccountId, type IssuerRoute, type RouteStatus } from '../routes/model.js'
import { issuerMessageId, transmissionTimeOf, type IssuerMessage } from '../routes/outbox.js'
import { standIn } from '../routes/stip.js'
import { reviewItemOf } from '../risk/review.js'
import type { CoreContext } from './context.js'
import { riskSignals } from './risk.js'
import { clearingAccountId, counterKey, stipCounterKey } from './keys.js'
import { approvedRecord, declinedRecord, skipRest, type RecordBase } from './record.js'
import type { IssuerAnswerRequest, NewTransactionRequest } from './requests.js'
import type { BatchResult, RequestResult } from './result.js'
import type { Working } from './snapshot.js'

/**
 * Remote routes (acquirer-switch mode): after every acquirer check passed, the issuer decides.
 *
 * - Route up: the transaction is stored as an issuer timeout (what stands if no answer ever
 *   comes) with an `in_flight` outbox message, its limit usage reserved; the app sends it and
 *   submits the answer, which `decideIssuerAnswer` records: approved (money booked against the
 *   route's settlement account), declined (usage given back, the issuer's code kept), timed out
 *   (a reversal queued), or never sent (declined, nothing to undo).
 * - Route down (maintenance, circuit open, no connection): stand-in processing within the
 *   route's limits (approved here, an advice queued for the issuer), or a decline that says why.
 */

const money = (amountMinor: number, currency: string) => ({ amountMinor, currency })

/** Reserves (or gives back) what a sale uses of the daily limits. */
export function countUsage(
  working: Working,
  sale: {
    readonly cardToken: string
    readonly merchantId: string
    readonly terminalId: string
    readonly localDate: string
    readonly currency: string
    readonly amountMinor: number
  },
  sign: 1 | -1,
): void {
  for (const scope of ['card', 'merchant', 'terminal'] as const) {
    const entity =
      scope === 'card' ? sale.cardToken : scope === 'merchant' ? sale.merchantId : sale.terminalId
    const counter = working.counter(counterKey(scope, entity, sale.localDate, sale.currency))
    working.putCounter({
      ...counter,
      count: counter.count + sign,
      amountMinor: counter.amountMinor + sign * sale.amountMinor,
    })
  }
}

export interface RemoteInput {
  readonly request: NewTransactionRequest
  readonly route: IssuerRoute
  readonly base: RecordBase
  readonly id: string
  readonly checks: Check[]
  readonly merchant: Merchant
  readonly terminal: Terminal
  readonly currency: string
  readonly localDate: string
  readonly decline: (reason: ReasonCode, stage: Check['stage'], evidence: Evidence) => RequestResult
}

function routeEvidence(route: IssuerRoute): Evidence {
  return { route: route.id, issuerBank: route.bankName, remote: true }
}

function statusOf(ctx: CoreContext, route: IssuerRoute): RouteStatus {
  return ctx.routeStatus?.get(route.id) ?? { state: 'down', why: 'no_connection' }
}

function newMessage(
  input: RemoteInput,
  ctx: CoreContext,
  kind: IssuerMessage['kind'],
  fields: Pick<IssuerMessage, 'status' | 'authorizationCode' | 'nextAttemptAtMs' | 'rrn'>,
): IssuerMessage {
  const { request } = input
  return {
    id: issuerMessageId(kind, input.id),
    routeId: input.route.id,
    kind,
    transactionId: input.id,
    requestKind: request.kind === 'balance_inquiry' ? 'balance_inquiry' : 'purchase',
    attempts: 0,
    sealedPan: request.sealedPan ?? null,
    expiry: request.card.expiry,
    stan: request.stan,
    transmissionTime: request.transmissionTime ?? transmissionTimeOf(ctx.nowMs),
    terminalId: request.terminalId,
    merchantId: request.merchantId,
    amountMinor: request.amountMinor,
    currency: input.currency,
    lastError: null,
    originalMti: null,
    standInReason: null,
    createdAtMs: ctx.nowMs,
    updatedAtMs: ctx.nowMs,
    deliveredAtMs: null,
    ...fields,
  }
}

/** The issuer stage of a new transaction on a remote route. */
export function decideRemote(input: RemoteInput, working: Working, ctx: CoreContext): BatchResult {
  const { request, route, checks } = input
  if (request.kind === 'preauthorization') {
    const evidence: Evidence = {
      ...routeEvidence(route),
      why: 'remote routes carry purchases and balance inquiries; preauthorizations stay local',
    }
    checks.push({
      stage: 'issuer',
      name: 'remote_kind',
      status: 'fail',
      reason: 'transaction_kind_not_supported',
      evidence,
    })
    return input.decline('transaction_kind_not_supported', 'issuer', evidence)
  }
  const status = statusOf(ctx, route)
  if (status.state === 'up') return forward(input, working, ctx)
  return standInOrDecline(input, status, working, ctx)
}

function forward(input: RemoteInput, working: Working, ctx: CoreContext): BatchResult {
  const { request, route, checks } = input
  const evidence: Evidence = { ...routeEvidence(route), awaitingIssuer: true }
  checks.push({
    stage: 'issuer',
    name: 'remote_issuer',
    status: 'fail',
    reason: 'issuer_timeout',
    evidence,
  })
  const record = declinedRecord(ctx, input.id, input.base, 'issuer_timeout', checks, evidence)
  working.insertTransaction(record)
  if (request.kind === 'purchase') countUsage(working, record as Sale, 1)
  const message = newMessage(input, ctx, 'request', {
    status: 'in_flight',
    authorizationCode: null,
    nextAttemptAtMs: null,
    rrn: record.rrn,
  })
  working.putIssuerMessage(message)
  return { type: 'forward', transaction: record, message }
}

type Sale = TransactionRecord & { readonly cardToken: string }

function standInOrDecline(
  input: RemoteInput,
  status: Extract<RouteStatus, { state: 'down' }>,
  working: Working,
  ctx: CoreContext,
): BatchResult {
  const { request, route, checks, currency, localDate } = input
  const maintenance = status.maintenance
  const downEvidence: Evidence = {
    ...routeEvidence(route),
    routeState: status.why,
    ...(maintenance === undefined
      ? {}
      : { maintenanceEndsAtMs: maintenance.endsAtMs, maintenanceNote: maintenance.note }),
  }
  const downReason: ReasonCode =
    status.why === 'maintenance' ? 'issuer_maintenance' : 'issuer_unavailable'
  // A stand-in approval owes the bank an advice, which needs the card number kept sealed: a
  // request that came in before the app knew of any remote route has none, so it cannot stand in.
  const noSealedCard = request.sealedPan === undefined
  if (maintenance?.mode === 'decline' || request.kind === 'balance_inquiry' || noSealedCard) {
    const evidence: Evidence = {
      ...downEvidence,
      standIn: false,
      why:
        request.kind === 'balance_inquiry'
          ? 'only the issuer knows the balance: no stand-in for inquiries'
          : noSealedCard
            ? 'the card number could not be kept for the advice the bank would need'
            : 'the maintenance window declines instead of standing in',
    }
    checks.push({ stage: 'issuer', name: 'stand_in', status: 'fail', reason: downReason, evidence })
    return input.decline(downReason, 'issuer', evidence)
  }
  const cardType = input.base.cardType ?? 'debit'
  const stipKey = stipCounterKey(request.cardToken, localDate, currency)
  const used = working.counter(stipKey)
  const decision = standIn(
    route.stip,
    { amountMinor: request.amountMinor, currency, cardType },
    used,
  )
  if (!decision.ok) {
    const evidence: Evidence = { ...downEvidence, standIn: false, ...decision.evidence }
    checks.push({ stage: 'issuer', name: 'stand_in', status: 'fail', reason: downReason, evidence })
    return input.decline(downReason, 'issuer', evidence)
  }
  bookAgainstRoute(working, ctx, route.id, {
    id: input.id,
    amountMinor: request.amountMinor,
    currency,
  })
  useStandIn(working, used, request.amountMinor)
  const evidence: Evidence = {
    ...downEvidence,
    standIn: true,
    amount: money(request.amountMinor, currency),
    ...decision.evidence,
  }
  checks.push({ stage: 'issuer', name: 'stand_in', status: 'pass', evidence })
  const record = approvedRecord(ctx, input.base, {
    id: input.id,
    lifecycle: 'posted',
    checks,
    evidence,
  })
  working.insertTransaction(record)
  countUsage(working, record as Sale, 1)
  working.putIssuerMessage({
    ...newMessage(input, ctx, 'advice', {
      status: 'pending',
      authorizationCode: record.authorizationCode,
      nextAttemptAtMs: ctx.nowMs,
      rrn: record.rrn,
    }),
    standInReason: status.why,
  })
  return { type: 'decided', transaction: record, replayed: false }
}

/**
 * Books an approved remote sale (the bank's, or a stand-in): the amount moves from the route's
 * settlement account (what the issuer owes) to clearing.
 */
function bookAgainstRoute(
  working: Working,
  ctx: CoreContext,
  routeId: string,
  sale: { readonly id: string; readonly amountMinor: number; readonly currency: string },
): void {
  const issuer = working.account(issuerAccountId(routeId, sale.currency))
  const clearing = working.account(clearingAccountId(sale.currency))
  assert(issuer !== undefined && clearing !== undefined, `accounts of route ${routeId} loaded`)
  const moved = post({
    id: ctx.newTransferId(),
    transactionId: sale.id,
    debit: issuer,
    credit: clearing,
    amountMinor: toAmountMinor(sale.amountMinor),
    nowMs: ctx.nowMs,
  })
  assert(!('code' in moved), 'a route settlement account is unbounded')
  working.putAccounts(moved.accounts)
  working.insertTransfer(moved.transfer)
}

/** Counts a stand-in approval against the card's stand-in allowance of the day. */
function useStandIn(working: Working, used: UsageCounter, amountMinor: number): void {
  working.putCounter({
    ...used,
    count: used.count + 1,
    amountMinor: used.amountMinor + amountMinor,
  })
}

/** Records what the issuer said about a forwarded request (or that it said nothing). */
export function decideIssuerAnswer(
  request: IssuerAnswerRequest,
  working: Working,
  ctx: CoreContext,
): RequestResult {
  const pending = working.transaction(request.transactionId)
  const message = working.issuerMessage(issuerMessageId('request', request.transactionId))
  assert(
    pending !== undefined && message !== undefined,
    `forwarded ${request.transactionId} loaded`,
  )
  if (message.status !== 'in_flight') {
    // Already recorded (a restart converted it, or a duplicate answer): the stored answer stands.
    return { type: 'decided', transaction: pending, replayed: true }
  }
  const route = working.routing.routes.get(message.routeId)
  const bank = route?.bankName ?? message.routeId
  const base: Evidence = { route: message.routeId, issuerBank: bank, remote: true }
  const outcome = request.outcome
  const withoutIssuerCheck = pending.checks.filter((c) => c.stage !== 'issuer')
  const sale = pending as Sale
  const isPurchase = pending.kind === 'purchase'
  const finish = (
    record: TransactionRecord,
    nextMessage: Partial<IssuerMessage>,
  ): RequestResult => {
    working.updateTransaction(record)
    working.putIssuerMessage({ ...message, ...nextMessage, updatedAtMs: ctx.nowMs })
    // Velocity counts the sale's final outcome (a forward is not counted as it waits).
    working.recordAttempt(record)
    // What the risk stage sent to review opens its item once the bank approves.
    const risk = riskSignals(pending)
    if (record.outcome === 'approved' && risk?.outcome === 'review') {
      const evidence = pending.checks.find(
        (c) => c.stage === 'risk' && c.name === 'rules',
      )?.evidence
      working.insertReviewOf(
        reviewItemOf(record, {
          decidedBy: risk.decidedBy ?? 'rule',
          ruleHits: typeof evidence?.ruleHits === 'string' ? evidence.ruleHits : '',
          score: typeof evidence?.score === 'number' ? evidence.score : 0,
        }),
      )
    }
    return { type: 'decided', transaction: record, replayed: false }
  }

  // The terminal gave up and reversed (or voided) while the request was at the bank: whatever
  // the bank says, the sale must not stand. An approval is reversed at the bank, not booked.
  const undone = working
    .followUpsOf(pending.id)
    .some((f) => (f.kind === 'reversal' || f.kind === 'void') && f.outcome === 'approved')
  if (undone && outcome.type === 'answered' && reasonForIssuerCode(outcome.responseCode) === null) {
    if (isPurchase) countUsage(working, sale, -1)
    const evidence: Evidence = {
      ...base,
      upstreamResponseCode: outcome.responseCode,
      issuerLatencyMs: outcome.latencyMs,
      why: 'the terminal reversed the sale before the bank answered: the approval is reversed at the bank',
      reversal: 'queued',
      moneyMoved: false,
    }
    const checks: Check[] = [
      ...withoutIssuerCheck,
      {
        stage: 'issuer',
        name: 'remote_issuer',
        status: 'fail',
        reason: 'issuer_timeout',
        evidence,
      },
    ]
    queueReversal(working, message, request.sealedPan ?? message.sealedPan, ctx)
    return finish(redecline(pending, 'issuer_timeout', checks, evidence, ctx), {
      status: 'answered',
    })
  }

  if (outcome.type === 'answered') {
    const reason = reasonForIssuerCode(outcome.responseCode)
    const evidence: Evidence = {
      ...base,
      upstreamResponseCode: outcome.responseCode,
      issuerLatencyMs: outcome.latencyMs,
    }
    if (reason === null) {
      let lifecycle: TransactionRecord['lifecycle'] = 'none'
      if (isPurchase) {
        bookAgainstRoute(working, ctx, message.routeId, pending)
        lifecycle = 'posted'
      }
      const approvedEvidence: Evidence = {
        ...evidence,
        ...(outcome.balanceMinor === null
          ? {}
          : { available: money(outcome.balanceMinor, pending.currency) }),
      }
      const checks: Check[] = [
        ...withoutIssuerCheck,
        { stage: 'issuer', name: 'remote_issuer', status: 'pass', evidence: approvedEvidence },
      ]
      const approved = approvedRecord(ctx, pending, {
        id: pending.id,
        lifecycle,
        checks,
        evidence: approvedEvidence,
        ...(outcome.balanceMinor === null ? {} : { balanceMinor: outcome.balanceMinor }),
      })
      return finish(
        {
          ...approved,
          rrn: pending.rrn,
          authorizationCode: outcome.authorizationCode ?? approved.authorizationCode,
          createdAtMs: pending.createdAtMs,
        },
        { status: 'answered' },
      )
    }
    if (isPurchase) countUsage(working, sale, -1)
    const checks: Check[] = [
      ...withoutIssuerCheck,
      { stage: 'issuer', name: 'remote_issuer', status: 'fail', reason, evidence },
    ]
    return finish(redecline(pending, reason, checks, evidence, ctx), {
      status: 'answered',
      sealedPan: null,
    })
  }

  // Refused at send time because the route went down after the batch saw it up: stand in as
  // the batch would have, within the route's limits (the usage stays counted).
  const stood =
    outcome.type === 'not_sent' && outcome.routeDown !== undefined && isPurchase && !undone
      ? standInForUnsent(pending as Sale, message, outcome.routeDown, request, working, ctx)
      : null
  if (stood?.ok === true) return finish(stood.record, { status: 'not_sent', sealedPan: null })
  if (isPurchase) countUsage(working, sale, -1)
  if (outcome.type === 'not_sent') {
    // Refused by the stand-in limits (or a declining maintenance window): their `why` leads,
    // the link's reason stays as `notSent`.
    const evidence: Evidence =
      stood === null
        ? { ...base, why: outcome.why, moneyMoved: false }
        : { ...base, notSent: outcome.why, moneyMoved: false, standIn: false, ...stood.evidence }
    const reason: ReasonCode =
      stood?.evidence.routeState === 'maintenance' ? 'issuer_maintenance' : 'issuer_unavailable'
    const checks: Check[] = [
      ...withoutIssuerCheck,
      { stage: 'issuer', name: 'remote_issuer', status: 'fail', reason, evidence },
    ]
    return finish(redecline(pending, reason, checks, evidence, ctx), {
      status: 'not_sent',
      sealedPan: null,
    })
  }
  // Timed out: the issuer may have approved. Reverse it, durably, until acknowledged.
  const evidence: Evidence = {
    ...base,
    ...(outcome.recovered === true
      ? { why: 'the switch stopped before the issuer’s answer was recorded' }
      : outcome.unrecorded === true
        ? { why: 'the issuer’s answer could not be recorded; the terminal was told it failed' }
        : { issuerLatencyMs: outcome.latencyMs }),
    reversal: 'queued',
    moneyMoved: false,
  }
  const checks: Check[] = [
    ...withoutIssuerCheck,
    { stage: 'issuer', name: 'remote_issuer', status: 'fail', reason: 'issuer_timeout', evidence },
  ]
  queueReversal(working, message, request.sealedPan ?? message.sealedPan, ctx)
  return finish(redecline(pending, 'issuer_timeout', checks, evidence, ctx), { status: 'answered' })
}

function redecline(
  pending: TransactionRecord,
  reason: ReasonCode,
  checks: Check[],
  evidence: Evidence,
  ctx: CoreContext,
): TransactionRecord {
  skipRest(checks, 'issuer', STAGES)
  const record = declinedRecord(ctx, pending.id, pending, reason, checks, evidence)
  return {
    ...record,
    rrn: pending.rrn,
    responseCode: reasonEntry(reason).isoCode,
    createdAtMs: pending.createdAtMs,
  }
}

/**
 * Stand-in for a sale the link refused to send (the route went down since the batch decided):
 * the same limits and advice as a sale that found the route down. Null when it cannot stand in
 * at all (no route, no card number kept for the advice); otherwise the approval, or the stand-in
 * limits' refusal as evidence for the decline.
 */
function standInForUnsent(
  pending: Sale,
  message: IssuerMessage,
  why: 'circuit_open' | 'no_connection',
  request: IssuerAnswerRequest,
  working: Working,
  ctx: CoreContext,
):
  | { readonly ok: true; readonly record: TransactionRecord }
  | { readonly ok: false; readonly evidence: Evidence }
  | null {
  const route = working.routing.routes.get(message.routeId)
  const sealedPan = request.sealedPan ?? message.sealedPan
  if (route === undefined || sealedPan === null) return null
  // A maintenance window that began since, and declines rather than stands in, decides.
  const now = ctx.routeStatus?.get(route.id)
  if (now?.state === 'down' && now.maintenance?.mode === 'decline') {
    return {
      ok: false,
      evidence: {
        routeState: 'maintenance',
        maintenanceEndsAtMs: now.maintenance.endsAtMs,
        why: 'the maintenance window declines instead of standing in',
      },
    }
  }
  const currency = pending.currency
  const used = working.counter(stipCounterKey(pending.cardToken, pending.localDate, currency))
  const decision = standIn(
    route.stip,
    { amountMinor: pending.amountMinor, currency, cardType: pending.cardType ?? 'debit' },
    used,
  )
  if (!decision.ok) return { ok: false, evidence: decision.evidence }
  bookAgainstRoute(working, ctx, route.id, pending)
  useStandIn(working, used, pending.amountMinor)
  const evidence: Evidence = {
    ...routeEvidence(route),
    routeState: why,
    standIn: true,
    notSent: 'the link refused the request: the route went down after the decision to forward',
    amount: money(pending.amountMinor, currency),
    ...decision.evidence,
  }
  const checks: Check[] = [
    ...pending.checks.filter((c) => c.stage !== 'issuer'),
    { stage: 'issuer', name: 'stand_in', status: 'pass', evidence },
  ]
  const approved = approvedRecord(ctx, pending, {
    id: pending.id,
    lifecycle: 'posted',
    checks,
    evidence,
  })
  const record: TransactionRecord = {
    ...approved,
    rrn: pending.rrn,
    createdAtMs: pending.createdAtMs,
  }
  working.putIssuerMessage({
    ...message,
    id: issuerMessageId('advice', pending.id),
    kind: 'advice',
    status: 'pending',
    attempts: 0,
    nextAttemptAtMs: ctx.nowMs,
    sealedPan,
    authorizationCode: record.authorizationCode,
    originalMti: null,
    standInReason: why,
    lastError: null,
    createdAtMs: ctx.nowMs,
    updatedAtMs: ctx.nowMs,
    deliveredAtMs: null,
  })
  return { ok: true, record }
}

/** A stand-in advice no attempt has written to the bank: undoing its sale just drops it. */
export function adviceNeverSent(message: IssuerMessage): boolean {
  return message.kind === 'advice' && message.status === 'pending' && message.attempts === 0
}

/**
 * Queues a reversal of what the issuer was sent for a transaction (0400, then 0420/0421 until
 * acknowledged): of a forwarded request, or of a stand-in advice already delivered. An advice
 * not yet delivered is simply never sent.
 */
export function queueReversal(
  working: Working,
  sent: IssuerMessage,
  sealedPan: string | null,
  ctx: CoreContext,
): void {
  const id = issuerMessageId('reversal', sent.transactionId)
  if (working.issuerMessage(id) !== undefined) return
  // An advice never written to the bank is simply not sent; one that may be at the bank (an
  // attempt was made) is reversed after it is delivered.
  if (adviceNeverSent(sent)) {
    working.putIssuerMessage({
      ...sent,
      status: 'not_sent',
      sealedPan: null,
      lastError: 'the stand-in approval was undone before its advice was delivered',
      updatedAtMs: ctx.nowMs,
    })
    return
  }
  working.putIssuerMessage({
    ...sent,
    id,
    kind: 'reversal',
    status: 'pending',
    attempts: 0,
    nextAttemptAtMs: ctx.nowMs,
    sealedPan,
    authorizationCode: null,
    originalMti: sent.kind === 'advice' ? '0220' : '0200',
    standInReason: null,
    lastError: null,
    createdAtMs: ctx.nowMs,
    updatedAtMs: ctx.nowMs,
    deliveredAtMs: null,
  })
}

/** The route a stored transaction was decided on, when it was a remote one. */
export function remoteRouteOf(record: TransactionRecord): string | null {
  const route = record.evidence.route
  return record.evidence.remote === true && typeof route === 'string' ? route : null
}
