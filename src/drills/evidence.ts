import Database from 'better-sqlite3'
import { issuerAccountId } from '../core/routes/model.js'

/**
 * What a drill reads back from Tollgate's database, read-only (the switch keeps running): the
 * route's settlement account, the issuer outbox, and the drill merchant's transactions.
 */

export interface OutboxRow {
  readonly id: string
  readonly kind: 'request' | 'reversal' | 'advice'
  readonly status: string
  readonly attempts: number
  readonly transactionId: string
  readonly terminalId: string
  readonly stan: string
  readonly transmissionTime: string
  readonly amountMinor: number
  readonly createdAtMs: number
  readonly deliveredAtMs: number | null
}

export interface TransactionRow {
  readonly id: string
  readonly outcome: 'approved' | 'declined'
  readonly lifecycle: string
  readonly reason: string | null
  readonly amountMinor: number
  readonly terminalId: string
  readonly stan: string | null
  readonly createdAtMs: number
}

export interface TollgateEvidence {
  /** Debits minus credits posted on issuer:<route>:CNY: what the issuer owes for approvals. */
  readonly issuerNetMinor: number
  readonly outbox: readonly OutboxRow[]
  readonly transactions: readonly TransactionRow[]
}

const READ_TIMEOUT_MS = 5_000

export function openReadOnly(databasePath: string): Database.Database {
  return new Database(databasePath, {
    readonly: true,
    fileMustExist: true,
    timeout: READ_TIMEOUT_MS,
  })
}

/** Outbox messages still owed to the issuer (pending) or awaiting an answer (in flight). */
export function outboxOpen(databasePath: string, routeId: string): number {
  const db = openReadOnly(databasePath)
  try {
    const row = db
      .prepare<[string], { n: number }>(
        "SELECT COUNT(*) AS n FROM issuer_messages WHERE route_id = ? AND status IN ('pending', 'in_flight')",
      )
      .get(routeId)
    return row?.n ?? 0
  } finally {
    db.close()
  }
}

export function readEvidence(
  databasePath: string,
  routeId: string,
  merchantId: string,
): TollgateEvidence {
  const db = openReadOnly(databasePath)
  try {
    const account = db
      .prepare<[string], { debits: number; credits: number }>(
        'SELECT debits_posted_minor AS debits, credits_posted_minor AS credits FROM accounts WHERE id = ?',
      )
      .get(issuerAccountId(routeId, 'CNY'))
    const outbox = db
      .prepare<[string], OutboxRow>(
        `SELECT id, kind, status, attempts, transaction_id AS transactionId,
           terminal_id AS terminalId, stan, transmission_time AS transmissionTime,
           amount_minor AS amountMinor, created_at_ms AS createdAtMs,
           delivered_at_ms AS deliveredAtMs
         FROM issuer_messages WHERE route_id = ? ORDER BY created_at_ms, id`,
      )
      .all(routeId)
    const transactions = db
      .prepare<[string], TransactionRow>(
        `SELECT id, outcome, lifecycle, reason, amount_minor AS amountMinor,
           terminal_id AS terminalId, stan, created_at_ms AS createdAtMs
         FROM transactions WHERE merchant_id = ? AND kind = 'purchase' ORDER BY created_at_ms, id`,
      )
      .all(merchantId)
    return {
      issuerNetMinor: account === undefined ? 0 : account.debits - account.credits,
      outbox,
      transactions,
    }
  } finally {
    db.close()
  }
}
