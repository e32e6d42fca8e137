import type { Check, Evidence, TransactionRecord } from '../model.js'
import type { ReasonCode } from '../reasons/codes.js'

/** A field-level problem with a request: which field, what was wrong, what was expected. */
export interface FieldError {
  readonly field: string
  readonly code: string
  readonly reason: ReasonCode
  readonly expected: string
}

/**
 * The answer to one request. `decided`: approved or declined and stored (or an earlier answer
 * replayed). `rejected`: the request itself is invalid or names nothing we know; nothing is
 * stored, and the channel answers with a client error (HTTP 4xx, or field 39 on ISO 8583).
 */
export type RequestResult =
  | {
      readonly type: 'decided'
      readonly transaction: TransactionRecord
      readonly replayed: boolean
    }
  | {
      readonly type: 'rejected'
      readonly reason: ReasonCode
      readonly errors: readonly FieldError[]
      readonly checks: readonly Check[]
      readonly evidence: Evidence
    }

export function rejected(
  reason: ReasonCode,
  checks: readonly Check[],
  evidence: Evidence,
  errors: readonly FieldError[] = [],
): RequestResult {
  return { type: 'rejected', reason, errors, checks, evidence }
}
