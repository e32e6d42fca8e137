import { assert } from '../assert.js'
import { previousDay, type LocalDate } from '../calendar.js'
import { maskPan, panLast4 } from '../card.js'
import { hold, post, availableMinor, ledgerBalanceMinor } from '../ledger/ledger.js'
import { toAmountMinor } from '../money.js'
import type { Check, Evidence, TransactionRecord } from '../model.js'
import type { ReasonCode } from '../reasons/codes.js'
import { checkAcceptance } from './acceptance.js'
import type { CoreContext } from './context.js'
import { checkCard, fundsEvidence, fundsReason } from './issuer.js'
import { acrossMidnight, clearingAccountId, counterKey, dedupKey } from './keys.js'
import { checkLimits } from './limits.js'
import { checkLists } from './lists.js'
import { checkRisk } from './risk.js'
import { decideRemote } from './remote.js'
import { chooseRoute } from '../routes/model.js'
import { openReviewItem } from '../risk/review.js'
import { approvedRecord, declineWith, type RecordBase } from './record.js'
import type { NewTransactionRequest } from './requests.js'
import { rejected, type BatchResult, type RequestResult } from './result.js'
import type { Working } from './snapshot.js'
import { validateNew } from './validate.js'

export function fingerprintNew(request: NewTransactionRequest): string {
  return [
    request.kind,
    request.terminalId,
    request.merchantId,
    request.cardToken,
    request.amountMinor,
    request.currency,
  ].join('|')
}

/** An earlier answer with the same key: replay it if it is the same request, else reject. */
export function replayOrMismatch(
  previous: TransactionRecord,
  fingerprint: string,
  checks: readonly Check[],
  key: string,
): RequestResult {
  if (previous.fingerprint === fingerprint)
    return { type: 'decided', transaction: previous, replayed: true }
  const check: Check = {
    stage: 'duplicate',
    name: 'retransmission',
    status: 'fail',
    reason: 'duplicate_mismatch',
    evidence: { key, originalTransactionId: previous.id },
  }
  return rejected('duplicate_mismatch', [...checks, check], check.evidence ?? {})
}

/**
 * Decides a purchase, preauthorization or balance inquiry: validation, duplicate detection,
 * acceptance, route, limits, lists, then the issuer (the local ledger). Later stages stop at the
 * first blocking failure; every stage leaves a check in the record.
 */
export function decideNew(
  request: NewTransactionRequest,
  working: Working,
  ctx: CoreContext,
  today: LocalDate,
  localDate: string,
): BatchResult {
  const validation = validateNew(request, ctx.bins, today)
  const checks: Check[] = [...validation.checks]
  if (validation.errors.length > 0 || validation.currency === null) {
    const first = validation.errors[0]
    assert(first !== undefined, 'a failed validation has an error')
    return rejected(
      first.reason,
      checks,
      { fields: validation.errors.map((e) => e.field).join(', ') },
      validation.errors,
    )
  }
  const currency = validation.currency.alpha
  const fingerprint = fingerprintNew({ ...request, currency })
  const key = dedupKey(request.terminalId, request.stan, request.transmissionTime, localDate)
  // Without a transmission time the key is the day's: a retransmission that crossed local
  // midnight carries yesterday's, and is the same request if that one is recent.
  const yesterdays =
    request.transmissionTime !== null
      ? undefined
      : working.byDedupKey(dedupKey(request.terminalId, request.stan, null, previousDay(localDate)))
  const previous =
    (request.idempotencyKey === null
      ? undefined
      : working.byIdempotencyKey(request.idempotencyKey)) ??
    working.byDedupKey(key) ??
    acrossMidnight(yesterdays, ctx.nowMs)
  if (previous !== undefined) return replayOrMismatch(previous, fingerprint, checks, key)
  checks.push({ stage: 'duplicate', name: 'retransmission', status: 'pass', evidence: { key } })

  const terminal = working.terminals.get(request.terminalId)
  const merchant = working.merchants.get(request.merchantId)
  if (terminal === undefined || merchant === undefined) {
    const reason: ReasonCode = terminal === undefined ? 'unknown_terminal' : 'unknown_merchant'
    const evidence: Evidence =
      terminal === undefined
        ? { terminalId: request.terminalId }
        : { merchantId: request.merchantId }
    checks.push({
      stage: 'acceptance',
      name: terminal === undefined ? 'terminal_registered' : 'merchant_registered',
      status: 'fail',
      reason,
      evidence,
    })
    const error =
      terminal === undefined
        ? {
            field: 'terminalId',
            code: 'unknown_terminal',
            reason,
            expected: 'a terminal registered with Tollgate',
          }
        : {
            field: 'merchantId',
            code: 'unknown_merchant',
            reason,
            expected: 'a merchant registered with Tollgate',
          }
    return rejected(reason, checks, evidence, [error])
  }

  const card = working.cards.get(request.cardToken)
  const cardType = card?.type ?? validation.bin?.cardType ?? 'debit'
  const base: RecordBase = {
    kind: request.kind,
    channel: request.channel,
    terminalId: terminal.id,
    merchantId: merchant.id,
    stan: request.stan,
    transmissionTime: request.transmissionTime,
    dedupKey: key,
    idempotencyKey: request.idempotencyKey,
    fingerprint,
    cardToken: request.cardToken,
    cardMasked: maskPan(request.card.pan),
    cardLast4: panLast4(request.card.pan),
    cardType,
    amountMinor: request.amountMinor,
    currency,
    originalId: null,
    localDate,
    entryMode: request.entryMode ?? null,
    // Channels validate it; a value no channel should send is not stored (the column is bounded).
    reportedRegion:
      request.reportedRegion !== undefined &&
      request.reportedRegion !== null &&
      /^\d{6}$/.test(request.reportedRegion)
        ? request.reportedRegion
        : null,
  }
  const id = ctx.newTransactionId()
  const decline = declineWith(ctx, working, id, base, checks)
  const failedEvidence = (list: readonly Check[]): Evidence =>
    list.find((c) => c.status === 'fail')?.evidence ?? {}

  if (validation.expired) return decline('expired_card', 'validation', failedEvidence(checks))

  for (const result of checkAcceptance({ kind: request.kind, terminal, merchant, cardType })) {
    checks.push(result.check)
    if (!result.ok) return decline(result.reason, 'acceptance', result.check.evidence ?? {})
  }

  const choice = chooseRoute(working.routing, request.card.pan)
  const routeEvidence: Evidence = {
    route:
      choice.kind === 'remote' ? choice.route.id : choice.kind === 'local' ? 'local_ledger' : null,
    issuerBank:
      choice.kind === 'remote'
        ? choice.route.bankName
        : (validation.bin?.bankName ?? card?.issuerBank ?? null),
    bin: validation.bin?.bin ?? null,
    ...(choice.kind !== 'none' && choice.prefix !== null ? { routedBy: choice.prefix } : {}),
  }
  if (choice.kind === 'none') {
    checks.push({
      stage: 'route',
      name: 'issuer_route',
      status: 'fail',
      reason: 'no_route_to_issuer',
      evidence: routeEvidence,
    })
    return decline('no_route_to_issuer', 'route', routeEvidence)
  }
  checks.push({ stage: 'route', name: 'issuer_route', status: 'pass', evidence: routeEvidence })

  const subject = {
    cardToken: request.cardToken,
    merchantId: merchant.id,
    terminalId: terminal.id,
    cardType,
    mcc: merchant.mcc,
    currency,
    amountMinor: request.amountMinor,
    localDate,
  }
  if (request.kind === 'balance_inquiry') {
    checks.push({
      stage: 'limits',
      name: 'limits',
      status: 'skip',
      evidence: { why: 'balance inquiry moves no money' },
    })
  } else {
    const limits = checkLimits(working.limits, subject, (k) => working.counter(k))
    checks.push(...limits.checks)
    if (!limits.ok) return decline(limits.reason, 'limits', failedEvidence(limits.checks))
  }

  const lists = checkLists(
    working.listEntries,
    {
      cardToken: request.cardToken,
      pan: request.card.pan,
      merchantId: merchant.id,
      terminalId: terminal.id,
    },
    ctx.nowMs,
  )
  checks.push(lists.check)
  if (lists.reason !== null) return decline(lists.reason, 'lists', lists.check.evidence ?? {})

  const risk =
    request.kind === 'balance_inquiry'
      ? null
      : checkRisk(
          {
            request,
            currency,
            merchant,
            terminal,
            card,
            cardType,
            bin: validation.bin?.bin ?? request.card.pan.slice(0, 6),
            issuerBank: validation.bin?.bankName ?? card?.issuerBank ?? null,
            limitSubject: subject,
            listSubject: {
              cardToken: request.cardToken,
              pan: request.card.pan,
              merchantId: merchant.id,
              terminalId: terminal.id,
            },
          },
          working,
          ctx,
        )
  if (risk === null) {
    checks.push({ stage: 'risk', name: 'rules', status: 'skip' })
  } else {
    checks.push(...risk.checks)
    if (risk.block !== null) return decline(risk.block.reason, 'risk', risk.block.evidence)
  }

  if (choice.kind === 'remote') {
    const result = decideRemote(
      {
        request,
        route: choice.route,
        base,
        id,
        checks,
        merchant,
        terminal,
        currency,
        localDate,
        decline,
      },
      working,
      ctx,
    )
    if (
      result.type === 'decided' &&
      risk?.review === true &&
      result.transaction.outcome === 'approved'
    )
      working.insertReview(openReviewItem(result.transaction, risk.outcome))
    return result
  }

  if (card === undefined) {
    const evidence: Evidence = {
      card: base.cardMasked,
      issuerBank: validation.bin?.bankName ?? null,
    }
    checks.push({
      stage: 'issuer',
      name: 'card_on_file',
      status: 'fail',
      reason: 'card_not_found',
      evidence,
    })
    return decline('card_not_found', 'issuer', evidence)
  }
  const cardCheck = checkCard(card, request.card.expiry)
  checks.push(cardCheck.check)
  if (cardCheck.reason !== null)
    return decline(cardCheck.reason, 'issuer', cardCheck.check.evidence ?? {})

  const account = working.account(card.accountId)
  assert(account !== undefined, `account ${card.accountId} of a card on file is loaded`)
  if (account.currency !== currency) {
    const evidence: Evidence = { transactionCurrency: currency, accountCurrency: account.currency }
    checks.push({
      stage: 'issuer',
      name: 'currency',
      status: 'fail',
      reason: 'currency_mismatch',
      evidence,
    })
    return decline('currency_mismatch', 'issuer', evidence)
  }

  if (request.kind === 'balance_inquiry') {
    const evidence: Evidence = {
      available: { amountMinor: availableMinor(account), currency },
      balance: { amountMinor: ledgerBalanceMinor(account), currency },
    }
    checks.push({ stage: 'issuer', name: 'balance', status: 'pass', evidence })
    const record = approvedRecord(ctx, base, {
      id,
      lifecycle: 'none',
      checks,
      evidence,
      balanceMinor: availableMinor(account),
    })
    working.insertTransaction(record)
    return { type: 'decided', transaction: record, replayed: false }
  }

  const clearing = working.account(clearingAccountId(currency))
  assert(clearing !== undefined, `clearing account for ${currency} is loaded`)
  const amountMinor = toAmountMinor(request.amountMinor)
  const evidence = fundsEvidence(card, account, amountMinor)
  const transferId = ctx.newTransferId()
  const moved =
    request.kind === 'purchase'
      ? post({
          id: transferId,
          transactionId: id,
          debit: account,
          credit: clearing,
          amountMinor,
          nowMs: ctx.nowMs,
        })
      : hold({
          id: transferId,
          transactionId: id,
          debit: account,
          credit: clearing,
          amountMinor,
          nowMs: ctx.nowMs,
          expiresAtMs: ctx.nowMs + ctx.settings.holdExpiryMs,
        })
  if ('code' in moved) {
    const reason = fundsReason(card)
    checks.push({ stage: 'issuer', name: 'funds', status: 'fail', reason, evidence })
    return decline(reason, 'issuer', evidence)
  }
  checks.push({ stage: 'issuer', name: 'funds', status: 'pass', evidence })
  working.putAccounts(moved.accounts)
  working.insertTransfer(moved.transfer)
  for (const scope of ['card', 'merchant', 'terminal'] as const) {
    const entity =
      scope === 'card' ? request.cardToken : scope === 'merchant' ? merchant.id : terminal.id
    const counter = working.counter(counterKey(scope, entity, localDate, currency))
    working.putCounter({
      ...counter,
      count: counter.count + 1,
      amountMinor: counter.amountMinor + amountMinor,
    })
  }
  // What a support desk is asked next: how much is left after this one.
  const after = moved.accounts.find((a) => a.id === account.id)
  assert(after !== undefined, 'the cardholder account moved')
  const approvalEvidence: Evidence = {
    ...evidence,
    availableAfter: { amountMinor: availableMinor(after), currency },
  }
  const record = approvedRecord(ctx, base, {
    id,
    lifecycle: request.kind === 'purchase' ? 'posted' : 'held',
    checks,
    evidence: approvalEvidence,
    ...(request.kind === 'preauthorization' ? { holdTransferId: transferId } : {}),
  })
  working.insertTransaction(record)
  if (risk?.review === true) working.insertReview(openReviewItem(record, risk.outcome))
  return { type: 'decided', transaction: record, replayed: false }
}
