import type { Check, Evidence, TransactionRecord } from '../model.js'
import type { ReasonCode } from '../reasons/codes.js'
import type { IssuerMessage } from '../routes/outbox.js'

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

/**
 * What a batch answers for one request: a channel's answer, or (for a remote route) a request
 * to forward to the issuer first. Channels only ever see RequestResult.
 */
export type BatchResult =
  | RequestResult
  | {
      /**
       * Passed every acquirer check; the funds decision is the issuer's. `transaction` is stored
       * as an issuer timeout (what stands if the answer never comes) and `message` as in flight:
       * the app sends it, then submits the answer (IssuerAnswerRequest) for the final decision.
       */
      readonly type: 'forward'
      readonly transaction: TransactionRecord
      readonly message: IssuerMessage
    }

export function rejected(
  reason: ReasonCode,
  checks: readonly Check[],
  evidence: Evidence,
  errors: readonly FieldError[] = [],
): RequestResult {
  return { type: 'rejected', reason, errors, checks, evidence }
}
