import {
  explainReason,
  explainTransaction,
  forAudience,
  type Explanation,
} from '../../core/explain.js'
import { findCurrency, formatAmount } from '../../core/money.js'
import type {
  Card,
  LimitRule,
  ListEntry,
  Merchant,
  Terminal,
  TransactionRecord,
} from '../../core/model.js'
import type { RequestResult } from '../../core/pipeline/result.js'
import { reasonEntry } from '../../core/reasons/catalogue.js'
import type { Lang } from '../../core/reasons/types.js'
import type { AuditEntry } from '../../ports/store.js'

/** JSON views: every amount a decimal string in major units beside its currency. */
export function money(minor: number, currency: string): string {
  return formatAmount(minor, findCurrency(currency)?.exponent ?? 2)
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString())

export function transactionView(record: TransactionRecord) {
  return {
    id: record.id,
    kind: record.kind,
    channel: record.channel,
    outcome: record.outcome,
    approved: record.outcome === 'approved',
    lifecycle: record.lifecycle,
    terminalId: record.terminalId,
    merchantId: record.merchantId,
    stan: record.stan,
    transmissionTime: record.transmissionTime,
    rrn: record.rrn,
    card:
      record.cardMasked === null
        ? null
        : { masked: record.cardMasked, last4: record.cardLast4, type: record.cardType },
    amount: money(record.amountMinor, record.currency),
    currency: record.currency,
    originalId: record.originalId,
    responseCode: record.responseCode,
    authorizationCode: record.authorizationCode,
    reason:
      record.reason === null
        ? null
        : { code: record.reason, family: reasonEntry(record.reason).family },
    balance: record.balanceMinor === null ? null : money(record.balanceMinor, record.currency),
    completedAmount: money(record.completedAmountMinor, record.currency),
    refundedAmount: money(record.refundedAmountMinor, record.currency),
    businessDate: record.localDate,
    // As the request said (null: not said, or stored before schema 6).
    entryMode: record.entryMode,
    terminalRegion: record.reportedRegion,
    createdAt: iso(record.createdAtMs),
    updatedAt: iso(record.updatedAtMs),
  }
}

/** The answer to an authorization or follow-up that reached a decision. */
export function decisionView(
  record: TransactionRecord,
  replayed: boolean,
  lang: Lang,
  utcOffsetMinutes: number,
) {
  return {
    transactionId: record.id,
    approved: record.outcome === 'approved',
    responseCode: record.responseCode,
    ...(record.authorizationCode === null ? {} : { authorizationCode: record.authorizationCode }),
    ...(record.reason === null
      ? {}
      : { reason: { code: record.reason, family: reasonEntry(record.reason).family } }),
    kind: record.kind,
    amount: money(record.amountMinor, record.currency),
    currency: record.currency,
    ...(record.balanceMinor === null
      ? {}
      : { balance: money(record.balanceMinor, record.currency) }),
    rrn: record.rrn,
    replayed,
    // The answer goes to the merchant's system: no risk-rule internals (GET …/explanation has them).
    explanation: forAudience(explainTransaction(record, lang, utcOffsetMinutes), 'merchant'),
  }
}

export function rejectionExplanation(
  result: Extract<RequestResult, { type: 'rejected' }>,
  lang: Lang,
  utcOffsetMinutes: number,
): Explanation {
  return explainReason(
    result.reason,
    'rejected',
    result.evidence,
    result.checks,
    lang,
    utcOffsetMinutes,
  )
}

export function merchantView(m: Merchant) {
  return {
    id: m.id,
    name: m.name,
    mcc: m.mcc,
    status: m.status,
    region: m.region,
    riskTier: m.riskTier,
    createdAt: iso(m.createdAtMs),
    updatedAt: iso(m.updatedAtMs),
  }
}

export function terminalView(t: Terminal) {
  return {
    id: t.id,
    merchantId: t.merchantId,
    status: t.status,
    region: t.region,
    createdAt: iso(t.createdAtMs),
    updatedAt: iso(t.updatedAtMs),
  }
}

export function cardView(
  c: Card,
  account?: { available: number; balance: number; creditLimit: number; currency: string },
) {
  return {
    token: c.token,
    masked: c.masked,
    last4: c.last4,
    bin: c.bin,
    expiry: c.expiry,
    type: c.type,
    status: c.status,
    issuerBank: c.issuerBank,
    accountId: c.accountId,
    ...(account === undefined
      ? {}
      : {
          currency: account.currency,
          available: money(account.available, account.currency),
          balance: money(account.balance, account.currency),
          creditLimit: money(account.creditLimit, account.currency),
        }),
    createdAt: iso(c.createdAtMs),
    updatedAt: iso(c.updatedAtMs),
  }
}

export function limitView(l: LimitRule) {
  const amount = (minor: number | null) => (minor === null ? null : money(minor, l.currency))
  return {
    id: l.id,
    scope: l.scope,
    cardType: l.cardType,
    mcc: l.mcc,
    entityId: l.entityId,
    currency: l.currency,
    perTransactionMax: amount(l.perTransactionMaxMinor),
    dailyAmountMax: amount(l.dailyAmountMaxMinor),
    dailyCountMax: l.dailyCountMax,
    note: l.note,
    createdAt: iso(l.createdAtMs),
    updatedAt: iso(l.updatedAtMs),
  }
}

export function listEntryView(e: ListEntry) {
  return {
    id: e.id,
    list: e.list,
    kind: e.kind,
    value: e.value,
    display: e.display,
    note: e.note,
    expiresAt: iso(e.expiresAtMs),
    createdBy: e.createdBy,
    createdAt: iso(e.createdAtMs),
  }
}

export function auditEntryView(e: AuditEntry) {
  return { ...e, at: iso(e.atMs) }
}
