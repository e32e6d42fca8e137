import { AssertionFailure } from '../../../core/assert.js'
import type { AuditEntry, WriteResult } from '../../../ports/store.js'

/** Small pieces the SQLite tables share (risk-tables.ts, routing-tables.ts). */

export const OK: WriteResult = Object.freeze({ ok: true })

export function notFound(message: string): WriteResult {
  return { ok: false, code: 'not_found', message }
}

export function conflict(message: string): WriteResult {
  return { ok: false, code: 'conflict', message }
}

/** Runs a change with its audit entry in one immediate transaction (the store's admin write). */
export type AdminWrite = (audit: AuditEntry, change: () => WriteResult) => Promise<WriteResult>

/** A stored enum value read back: one of `values`, or the database is damaged. */
export function storedOneOf<T extends string>(
  values: readonly T[],
  value: string,
  what: string,
): T {
  if ((values as readonly string[]).includes(value)) return value as T
  throw new AssertionFailure(`stored ${what} "${value}" is not one of ${values.join(', ')}`)
}
