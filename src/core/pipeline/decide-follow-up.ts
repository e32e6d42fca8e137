import { previousDay } from '../calendar.js'
import { adviceNeverSent, queueReversal, remoteRouteOf } from './remote.js'
import { issuerAccountId } from '../routes/model.js'
import { issuerMessageId, type IssuerMessage } from '../routes/outbox.js'
import { assert } from '../assert.js'
import { postHold, releaseHold, post } from '../ledger/ledger.js'
import { AMOUNT_MINOR_MAX, toAmountMinor } from '../money.js'
import {
  STAGES,
  type Account,
  type Check,
  type Evidence,
  type FollowUpKind,
  type Lifecycle,
  type TransactionRecord,
} from '../model.js'
import type { ReasonCode } from '../reasons/codes.js'
import type { CoreContext } from './context.js'
import { replayOrMismatch } from './decide-new.js'
import { expireIfDue } from './expiry.js'
import {
  acrossMidnight,
  clearingAccountId,
  counterKey,
  followUpDedupKey,
  stipCounterKey,
  traceKey,
  traceKeys,
} from './keys.js'
import { approvedRecord, declineWith, skipRest, type RecordBase } from './record.js'
import type { FollowUpRequest, OriginalTrace } from './requests.js'
import { FIELD_PATTERNS } from './validate.js'
import { rejected, type FieldError, type RequestResult } from './result.js'
import type { Working } from './snapshot.js'

const STAN = FIELD_PATTERNS.stan
/** The most follow-ups (approved or declined) one original may collect. */
export const FOLLOW_UPS_PER_ORIGINAL_MAX = 200
/** Beyond that, room kept for voids and reversals (undoing is never blocked by other tries). */
const UNDO_RESERVE = 20

/** Which originals each follow-up may act on, and in which state. */
const ELIGIBLE: Readonly<
  Record<FollowUpKind, Readonly<Partial<Record<TransactionRecord['kind'], readonly Lifecycle[]>>>>
> = {
  completion: { preauthorization: ['held'] },
  void: { purchase: ['posted'], preauthorization: ['held'], completion: ['posted'] },
  reversal: {
    purchase: ['posted'],
    preauthorization: ['held'],
    completion: ['posted'],
    refund: ['posted'],
  },
  refund: { purchase: ['posted'], completion: ['posted'] },
}

const UNDONE: Readonly<Record<'void' | 'reversal', Lifecycle>> = {
  void: 'voided',
  reversal: 'reversed',
}
/** Lifecycles in which an original's money is already back: a reversal has nothing to do. */
const NOTHING_TO_UNDO: readonly Lifecycle[] = ['voided', 'reversed', 'expired']

export function fingerprintFollowUp(request: FollowUpRequest, localDate: string): string {
  const original = request.originalId ?? traceKey(request.originalTrace, localDate)
  return [request.kind, original, request.amountMinor ?? 'full'].join('|')
}

function validateFollowUp(request: FollowUpRequest): FieldError[] {
  const errors: FieldError[] = []
  if (request.stan !== null && !STAN.test(request.stan)) {
    errors.push({
      field: 'stan',
      code: 'stan_format',
      reason: 'format_error',
      expected: '6 digits',
    })
  }
  if (request.amountMinor !== null) {
    if (request.kind === 'void' || request.kind === 'reversal') {
      errors.push({
        field: 'amount',
        code: 'amount_not_allowed',
        reason: 'invalid_amount',
        expected: `no amount: a ${request.kind} undoes the whole original`,
      })
    } else if (
      !Number.isSafeInteger(request.amountMinor) ||
      request.amountMinor <= 0 ||
      request.amountMinor > AMOUNT_MINOR_MAX
    ) {
      errors.push({
        field: 'amount',
        code: 'amount_range',
        reason: 'invalid_amount',
        expected: 'a positive amount of at most 12 digits in minor units',
      })
    }
  }
  return errors
}

/**
 * Decides a completion, void, reversal or refund of an earlier transaction. A void or reversal
 * is always accepted (undoing is never blocked by merchant status), happens exactly once (a
 * repeat gets the first answer), and a reversal of a declined original is acknowledged with
 * nothing to undo.
 */
export function decideFollowUp(
  request: FollowUpRequest,
  working: Working,
  ctx: CoreContext,
  localDate: string,
): RequestResult {
  const checks: Check[] = []
  const errors = validateFollowUp(request)
  checks.push({
    stage: 'validation',
    name: 'message',
    status: errors.length === 0 ? 'pass' : 'fail',
    ...(errors.length > 0 ? { reason: errors[0]?.reason ?? 'format_error' } : {}),
  })
  if (errors.length > 0) return rejected(errors[0]?.reason ?? 'format_error', checks, {}, errors)
  const found =
    request.originalId !== undefined
      ? working.transaction(request.originalId)
      : byTrace(request.originalTrace, working, ctx, localDate)
  // A tombstone stands for a reversal of an original never seen: it answers a repeat of that
  // reversal, and nothing else (a completion or refund of it has no original).
  const original =
    found !== undefined && isTombstone(found) && request.kind !== 'reversal' ? undefined : found
  if (original === undefined) {
    const evidence: Evidence =
      request.originalId !== undefined
        ? { originalId: request.originalId }
        : {
            terminalId: request.originalTrace.terminalId,
            originalStan: request.originalTrace.stan,
            originalTransmissionTime: request.originalTrace.transmissionTime,
          }
    if (request.kind === 'reversal' && request.originalTrace !== undefined) {
      const tombstone = reverseUnseen(
        request,
        request.originalTrace,
        working,
        ctx,
        localDate,
        checks,
        evidence,
      )
      if (tombstone !== null) return tombstone
    }
    checks.push({
      stage: 'validation',
      name: 'original',
      status: 'fail',
      reason: 'original_not_found',
      evidence,
    })
    return rejected('original_not_found', checks, evidence)
  }
  if (isTombstone(original)) {
    // A repeated reversal of an original never seen: the first answer again.
    return { type: 'decided', transaction: original, replayed: true }
  }
  const fingerprint = fingerprintFollowUp(request, localDate)
  const key =
    request.stan === null
      ? null
      : followUpDedupKey(original.terminalId, request.stan, localDate, request.kind)
  // A retransmission that crossed midnight carries yesterday's key: the same follow-up, if recent.
  const yesterdays =
    request.stan === null
      ? undefined
      : acrossMidnight(
          working.byDedupKey(
            followUpDedupKey(
              original.terminalId,
              request.stan,
              previousDay(localDate),
              request.kind,
            ),
          ),
          ctx.nowMs,
        )
  const previous =
    (request.idempotencyKey === null
      ? undefined
      : working.byIdempotencyKey(request.idempotencyKey)) ??
    (key === null ? undefined : working.byDedupKey(key)) ??
    yesterdays
  if (previous !== undefined) {
    // Yesterday's follow-up was fingerprinted with yesterday's date in its trace.
    const expected =
      previous === yesterdays ? fingerprintFollowUp(request, previousDay(localDate)) : fingerprint
    return replayOrMismatch(previous, expected, checks, key ?? request.idempotencyKey ?? '')
  }
  if (request.kind === 'void' || request.kind === 'reversal') {
    const earlier = working
      .followUpsOf(original.id)
      .find((f) => f.kind === request.kind && f.outcome === 'approved')
    if (earlier !== undefined) return { type: 'decided', transaction: earlier, replayed: true }
  }
  // Declined follow-ups are stored too; a bound keeps one original's history (loaded with every
  // batch that touches it) from growing without end.
  const followUpCount = working.followUpsOf(original.id).length
  // Undoing keeps a reserve: declined refunds or completions must never block a reversal.
  const followUpsMax =
    request.kind === 'void' || request.kind === 'reversal'
      ? FOLLOW_UPS_PER_ORIGINAL_MAX + UNDO_RESERVE
      : FOLLOW_UPS_PER_ORIGINAL_MAX
  if (followUpCount >= followUpsMax) {
    const evidence: Evidence = {
      originalId: original.id,
      followUps: followUpCount,
      followUpsMax,
    }
    checks.push({
      stage: 'validation',
      name: 'follow_up_count',
      status: 'fail',
      reason: 'original_not_eligible',
      evidence,
    })
    return rejected('original_not_eligible', checks, evidence)
  }
  checks.push({
    stage: 'duplicate',
    name: 'retransmission',
    status: 'pass',
    evidence: { key: key ?? request.idempotencyKey ?? 'none' },
  })

  const wholeRemaining =
    request.kind === 'refund'
      ? original.amountMinor - original.refundedAmountMinor
      : original.amountMinor
  const amountMinor = request.amountMinor ?? wholeRemaining
  const base: RecordBase = {
    kind: request.kind,
    channel: request.channel,
    terminalId: original.terminalId,
    merchantId: original.merchantId,
    stan: request.stan,
    transmissionTime: null,
    dedupKey: key,
    idempotencyKey: request.idempotencyKey,
    fingerprint,
    cardToken: original.cardToken,
    cardMasked: original.cardMasked,
    cardLast4: original.cardLast4,
    cardType: original.cardType,
    amountMinor,
    currency: original.currency,
    originalId: original.id,
    localDate,
    entryMode: null,
    reportedRegion: null,
  }
  const id = ctx.newTransactionId()
  const decline = declineWith(ctx, working, id, base, checks)
  const money = (value: number) => ({ amountMinor: value, currency: original.currency })
  const originalEvidence: Evidence = {
    originalId: original.id,
    originalKind: original.kind,
    originalOutcome: original.outcome,
    originalState: original.lifecycle,
    originalAmount: money(original.amountMinor),
  }

  // A reversal asks "make sure this did not happen". When the original moved no money, or its
  // money is already back (voided, expired), there is nothing to undo: acknowledge, so that a
  // terminal retrying a reversal always gets a final answer.
  if (
    request.kind === 'reversal' &&
    (original.outcome === 'declined' || NOTHING_TO_UNDO.includes(original.lifecycle))
  ) {
    const evidence: Evidence = { ...originalEvidence, moneyMoved: false }
    checks.push({ stage: 'issuer', name: 'nothing_to_undo', status: 'pass', evidence })
    skipRest(checks, 'issuer', STAGES)
    return approve({ ...base, amountMinor: 0 }, id, 'none', checks, evidence)
  }
  if (
    original.kind === 'preauthorization' &&
    original.lifecycle === 'held' &&
    request.kind === 'completion'
  ) {
    const expired = expireIfDue(original, working, ctx.nowMs)
    if (expired !== null) {
      const evidence: Evidence = {
        ...originalEvidence,
        originalState: 'expired',
        expiresAtMs: expired,
      }
      checks.push({
        stage: 'validation',
        name: 'original_state',
        status: 'fail',
        reason: 'original_not_eligible',
        evidence,
      })
      return decline('original_not_eligible', 'validation', evidence)
    }
  }
  const lifecycles = ELIGIBLE[request.kind][original.kind]
  const undoingRefunded =
    (request.kind === 'void' || request.kind === 'reversal') && original.refundedAmountMinor > 0
  const fullyRefunded = request.kind === 'refund' && wholeRemaining === 0
  if (
    original.outcome !== 'approved' ||
    lifecycles === undefined ||
    !lifecycles.includes(original.lifecycle) ||
    undoingRefunded ||
    fullyRefunded
  ) {
    checks.push({
      stage: 'validation',
      name: 'original_state',
      status: 'fail',
      reason: 'original_not_eligible',
      evidence: originalEvidence,
    })
    return decline('original_not_eligible', 'validation', originalEvidence)
  }
  // A sale is voided on its business day (after that, a refund); a preauthorization may be
  // cancelled any day while it holds, or the cardholder's money stays held until expiry.
  if (
    request.kind === 'void' &&
    original.kind !== 'preauthorization' &&
    original.localDate !== localDate
  ) {
    const evidence: Evidence = {
      ...originalEvidence,
      originalDay: original.localDate,
      today: localDate,
    }
    checks.push({
      stage: 'validation',
      name: 'void_window',
      status: 'fail',
      reason: 'void_window_closed',
      evidence,
    })
    return decline('void_window_closed', 'validation', evidence)
  }
  if (amountMinor > wholeRemaining) {
    const evidence: Evidence = {
      ...originalEvidence,
      requested: money(amountMinor),
      remaining: money(wholeRemaining),
    }
    checks.push({
      stage: 'validation',
      name: 'original_amount',
      status: 'fail',
      reason: 'original_amount_exceeded',
      evidence,
    })
    return decline('original_amount_exceeded', 'validation', evidence)
  }
  checks.push({
    stage: 'validation',
    name: 'original_state',
    status: 'pass',
    evidence: originalEvidence,
  })

  if (request.kind === 'completion' || request.kind === 'refund') {
    const reason = followUpAcceptance(working, original)
    if (reason !== null) {
      const evidence: Evidence = {
        merchantId: original.merchantId,
        terminalId: original.terminalId,
        merchantStatus: working.merchants.get(original.merchantId)?.status ?? null,
      }
      checks.push({
        stage: 'acceptance',
        name: 'merchant_and_terminal',
        status: 'fail',
        reason,
        evidence,
      })
      return decline(reason, 'acceptance', evidence)
    }
    checks.push({ stage: 'acceptance', name: 'merchant_and_terminal', status: 'pass' })
  } else {
    checks.push({ stage: 'acceptance', name: 'undo_always_accepted', status: 'skip' })
  }

  const remoteRoute = remoteRouteOf(original)
  if (remoteRoute !== null && (request.kind === 'completion' || request.kind === 'refund')) {
    const evidence: Evidence = {
      ...originalEvidence,
      route: remoteRoute,
      why: 'a remote route takes voids and reversals of its sales; completions and refunds go to the issuer by other means',
    }
    checks.push({
      stage: 'issuer',
      name: 'remote_kind',
      status: 'fail',
      reason: 'transaction_kind_not_supported',
      evidence,
    })
    return decline('transaction_kind_not_supported', 'issuer', evidence)
  }
  // The issuer booked the sale (or will, from the advice): it must be told the sale is undone.
  // A sale that stood in has an advice — and may also have a request the link refused to send,
  // which the bank never saw: the advice is what to undo.
  const sent = remoteRoute === null ? undefined : issuerMessageToUndo(working, original.id)
  if (sent !== undefined && !adviceNeverSent(sent) && sent.sealedPan === null) {
    // Without the card number the bank cannot match a reversal: undoing here alone would credit
    // the cardholder in Tollgate's books while the bank keeps the debit.
    const evidence: Evidence = {
      ...originalEvidence,
      route: remoteRoute,
      why: 'the card number needed to reverse it at the bank is no longer kept (a day after the sale): settle it with the bank',
    }
    checks.push({
      stage: 'issuer',
      name: 'remote_undo',
      status: 'fail',
      reason: 'original_not_eligible',
      evidence,
    })
    return decline('original_not_eligible', 'issuer', evidence)
  }
  let accountId: string
  if (remoteRoute !== null) {
    accountId = issuerAccountId(remoteRoute, original.currency)
  } else {
    const card = original.cardToken === null ? undefined : working.cards.get(original.cardToken)
    assert(card !== undefined, `card of approved transaction ${original.id} is on file`)
    accountId = card.accountId
  }
  const account = working.account(accountId)
  const clearing = working.account(clearingAccountId(original.currency))
  assert(account !== undefined && clearing !== undefined, 'accounts of a follow-up are loaded')
  const moved = moveMoney(
    request.kind,
    original,
    account,
    clearing,
    toAmountMinor(amountMinor),
    id,
    working,
    ctx,
  )
  if (moved !== null) {
    const evidence: Evidence = {
      ...originalEvidence,
      amount: money(amountMinor),
      available: money(moved.availableMinor),
    }
    checks.push({ stage: 'issuer', name: 'funds', status: 'fail', reason: moved.reason, evidence })
    return decline(moved.reason, 'issuer', evidence)
  }
  const evidence: Evidence = { ...originalEvidence, amount: money(amountMinor) }
  checks.push({ stage: 'issuer', name: 'ledger', status: 'pass', evidence })
  skipRest(checks, 'issuer', STAGES)
  updateOriginal(request.kind, original, amountMinor, working, ctx.nowMs)
  if (sent !== undefined) queueReversal(working, sent, sent.sealedPan, ctx)
  const lifecycle: Lifecycle =
    request.kind === 'completion' || request.kind === 'refund' ? 'posted' : 'none'
  return approve(base, id, lifecycle, checks, evidence)

  function approve(
    recordBase: RecordBase,
    recordId: string,
    lifecycle: Lifecycle,
    allChecks: Check[],
    approvedEvidence: Evidence,
  ): RequestResult {
    const record = approvedRecord(ctx, recordBase, {
      id: recordId,
      lifecycle,
      checks: allChecks,
      evidence: approvedEvidence,
    })
    working.insertTransaction(record)
    return { type: 'decided', transaction: record, replayed: false }
  }
}

/** A tombstone: the record of a reversal whose original was never seen (see reverseUnseen). */
function isTombstone(record: TransactionRecord): boolean {
  return record.kind === 'reversal' && record.originalId === null
}

/**
 * A reversal whose original never reached us: nothing to undo, so it is acknowledged — and a
 * tombstone is stored under the original's own retransmission key, so that if the original
 * arrives late (a delayed packet), it is refused as a mismatched duplicate instead of charging a
 * cardholder whose terminal believes the sale reversed. Needs a terminal we know.
 */
function reverseUnseen(
  request: FollowUpRequest,
  trace: OriginalTrace,
  working: Working,
  ctx: CoreContext,
  localDate: string,
  checks: Check[],
  evidence: Evidence,
): RequestResult | null {
  const terminal = working.terminals.get(trace.terminalId)
  if (terminal === undefined) return null
  const key = traceKey(trace, localDate)
  const base: RecordBase = {
    kind: 'reversal',
    channel: request.channel,
    terminalId: terminal.id,
    merchantId: terminal.merchantId,
    stan: request.stan,
    transmissionTime: trace.transmissionTime,
    dedupKey: key,
    idempotencyKey: request.idempotencyKey,
    fingerprint: `tombstone|${key}`,
    cardToken: null,
    cardMasked: null,
    cardLast4: null,
    cardType: null,
    amountMinor: 0,
    currency: 'CNY',
    originalId: null,
    localDate,
    entryMode: null,
    reportedRegion: null,
  }
  const tombstoneEvidence: Evidence = {
    ...evidence,
    moneyMoved: false,
    why: 'original never seen: a late original will be refused',
  }
  checks.push({
    stage: 'validation',
    name: 'original',
    status: 'skip',
    evidence: tombstoneEvidence,
  })
  checks.push({
    stage: 'issuer',
    name: 'nothing_to_undo',
    status: 'pass',
    evidence: tombstoneEvidence,
  })
  skipRest(checks, 'issuer', STAGES)
  const record = approvedRecord(ctx, base, {
    id: ctx.newTransactionId(),
    lifecycle: 'none',
    checks,
    evidence: tombstoneEvidence,
  })
  working.insertTransaction(record)
  return { type: 'decided', transaction: record, replayed: false }
}

function followUpAcceptance(working: Working, original: TransactionRecord): ReasonCode | null {
  const merchant = working.merchants.get(original.merchantId)
  const terminal = working.terminals.get(original.terminalId)
  if (merchant === undefined) return 'unknown_merchant'
  if (terminal === undefined) return 'unknown_terminal'
  if (merchant.status === 'pending_audit') return 'merchant_pending_audit'
  if (merchant.status === 'suspended') return 'merchant_suspended'
  if (terminal.status !== 'active') return 'terminal_inactive'
  return null
}

/** Moves the money of a follow-up. Returns null on success, or why the ledger refused. */
function moveMoney(
  kind: FollowUpKind,
  original: TransactionRecord,
  account: Account,
  clearing: Account,
  amountMinor: ReturnType<typeof toAmountMinor>,
  transactionId: string,
  working: Working,
  ctx: CoreContext,
): { reason: ReasonCode; availableMinor: number } | null {
  const nowMs = ctx.nowMs
  if (original.kind === 'preauthorization') {
    const held =
      original.holdTransferId === null ? undefined : working.transfer(original.holdTransferId)
    assert(held !== undefined && held.state === 'pending', `hold of ${original.id} is pending`)
    const result =
      kind === 'completion'
        ? postHold({
            holdTransfer: held,
            debit: account,
            credit: clearing,
            amountMinor,
            postingId: ctx.newTransferId(),
            transactionId,
            nowMs,
          })
        : releaseHold({
            holdTransfer: held,
            debit: account,
            credit: clearing,
            state: 'voided',
            nowMs,
          })
    working.putAccounts(result.accounts)
    working.updateTransfer(result.hold)
    if (result.posting !== null) working.insertTransfer(result.posting)
    return null
  }
  // Refunds, and undoing a posted purchase or completion, credit the cardholder back; undoing a
  // refund debits the cardholder again, which a bounded account can refuse.
  const towardsCardholder = original.kind !== 'refund'
  const result = post({
    id: ctx.newTransferId(),
    transactionId,
    debit: towardsCardholder ? clearing : account,
    credit: towardsCardholder ? account : clearing,
    amountMinor,
    nowMs,
  })
  if ('code' in result)
    return {
      reason: original.cardType === 'credit' ? 'credit_limit_exceeded' : 'insufficient_funds',
      availableMinor: result.availableMinor,
    }
  working.putAccounts(result.accounts)
  working.insertTransfer(result.transfer)
  return null
}

/**
 * Daily limit usage counts what stands of a sale on the day it was made: a purchase or
 * preauthorization counts in full; a completion gives the released rest of its hold back; undoing
 * a sale (or a completion) gives back what it had counted.
 */
function releaseUsage(
  working: Working,
  sale: TransactionRecord,
  amountMinor: number,
  count: number,
): void {
  if (sale.cardToken === null) return
  for (const [scope, entity] of [
    ['card', sale.cardToken],
    ['merchant', sale.merchantId],
    ['terminal', sale.terminalId],
  ] as const) {
    const counter = working.counter(counterKey(scope, entity, sale.localDate, sale.currency))
    working.putCounter({
      ...counter,
      count: Math.max(0, counter.count - count),
      amountMinor: Math.max(0, counter.amountMinor - amountMinor),
    })
  }
  // A sale approved in stand-in also used the card's stand-in allowance for its day.
  if (sale.evidence.standIn === true) {
    const used = working.counter(stipCounterKey(sale.cardToken, sale.localDate, sale.currency))
    working.putCounter({
      ...used,
      count: Math.max(0, used.count - count),
      amountMinor: Math.max(0, used.amountMinor - amountMinor),
    })
  }
}

function updateOriginal(
  kind: FollowUpKind,
  original: TransactionRecord,
  amountMinor: number,
  working: Working,
  nowMs: number,
): void {
  if (kind === 'completion') {
    working.updateTransaction({
      ...original,
      lifecycle: 'completed',
      completedAmountMinor: amountMinor,
      updatedAtMs: nowMs,
    })
    releaseUsage(working, original, original.amountMinor - amountMinor, 0)
    return
  }
  if (kind === 'refund') {
    working.updateTransaction({
      ...original,
      refundedAmountMinor: original.refundedAmountMinor + amountMinor,
      updatedAtMs: nowMs,
    })
    return
  }
  working.updateTransaction({ ...original, lifecycle: UNDONE[kind], updatedAtMs: nowMs })
  if (original.kind === 'refund' && original.originalId !== null) {
    const sale = working.transaction(original.originalId)
    assert(
      sale !== undefined && sale.refundedAmountMinor >= original.amountMinor,
      'the refunded sale is loaded',
    )
    working.updateTransaction({
      ...sale,
      refundedAmountMinor: sale.refundedAmountMinor - original.amountMinor,
      updatedAtMs: nowMs,
    })
  }
  if (original.kind === 'purchase' || original.kind === 'preauthorization')
    releaseUsage(working, original, original.amountMinor, 1)
  if (original.kind === 'completion' && original.originalId !== null) {
    // Undoing a completion undoes the sale: the preauthorization no longer stands either.
    const preauthorization = working.transaction(original.originalId)
    assert(
      preauthorization !== undefined && preauthorization.lifecycle === 'completed',
      'the completed preauthorization is loaded',
    )
    releaseUsage(working, preauthorization, original.amountMinor, 1)
  }
}

/** What the issuer was sent for a remote sale, to undo: its advice, else a request it got. */
function issuerMessageToUndo(working: Working, transactionId: string): IssuerMessage | undefined {
  const advice = working.issuerMessage(issuerMessageId('advice', transactionId))
  const request = working.issuerMessage(issuerMessageId('request', transactionId))
  return advice ?? (request?.status === 'not_sent' ? undefined : request)
}

/**
 * The original a trace names: stored today under one of its keys, or — for a trace that names no
 * day — yesterday, if created within ACROSS_MIDNIGHT_MS (a reversal or retransmission that
 * crossed local midnight; older ones belong to a STAN the terminal has used again since).
 */
function byTrace(
  trace: OriginalTrace,
  working: Working,
  ctx: CoreContext,
  localDate: string,
): TransactionRecord | undefined {
  let fromYesterday: TransactionRecord | undefined
  for (const { key, yesterday } of traceKeys(trace, localDate)) {
    const record = working.byDedupKey(key)
    if (record === undefined) continue
    if (!yesterday) return record
    fromYesterday ??= acrossMidnight(record, ctx.nowMs)
  }
  return fromYesterday
}
