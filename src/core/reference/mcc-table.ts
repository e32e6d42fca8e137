import { assert } from '../assert.js'

/** A merchant category code (ISO 18245) and its description. */
export interface MccInfo {
  readonly mcc: string
  readonly description: string
}

export interface MccTable {
  /** The category for a four-digit code, or null when the code is unknown. */
  lookup(mcc: string): MccInfo | null
  /** Number of categories in the table. */
  readonly size: number
}

/** A merchant category code is exactly four digits, leading zeros kept ("0742"). */
export const MCC_PATTERN = /^\d{4}$/

/**
 * Builds a category table; codes must be four digits and unique.
 *
 * @example createMccTable([{ mcc: '5411', description: 'Grocery Stores' }]).lookup('5411')
 */
export function createMccTable(rows: readonly MccInfo[]): MccTable {
  const byCode = new Map<string, MccInfo>()
  for (const row of rows) {
    assert(MCC_PATTERN.test(row.mcc), `MCC ${row.mcc} must be four digits`)
    assert(row.description.length > 0, `MCC ${row.mcc} has a description`)
    assert(!byCode.has(row.mcc), `duplicate MCC ${row.mcc}`)
    byCode.set(row.mcc, Object.freeze({ mcc: row.mcc, description: row.description }))
  }
  assert(byCode.size === rows.length, 'one entry per row')
  const size = byCode.size

  function lookup(mcc: string): MccInfo | null {
    return byCode.get(mcc) ?? null
  }

  return Object.freeze({ lookup, size })
}
