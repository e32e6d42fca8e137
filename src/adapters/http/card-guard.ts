import { findCardNumber } from '../../core/card.js'
import type { BinTable } from '../../core/reference/bin-table.js'

/**
 * Keeps card numbers out of what the API stores in clear: notes, list values, ids, change notes,
 * reasons — any string of a request body except the fields meant for a card number (`pan`, which
 * the API tokenizes at once). A body is walked without recursion (a deeply nested body cannot
 * exhaust the stack) and within `BODY_NODES_MAX` values (bodies are size-limited anyway).
 */
const BODY_NODES_MAX = 100_000
const PAN_FIELDS: ReadonlySet<string> = new Set(['pan'])

/** The path of the first string in `body` that holds a card number (e.g. `note`), or null. */
export function cardNumberField(body: unknown, bins: BinTable): string | null {
  const stack: { readonly value: unknown; readonly path: string }[] = [{ value: body, path: '' }]
  for (let visited = 0; stack.length > 0 && visited < BODY_NODES_MAX; visited += 1) {
    const { value, path } = stack.pop() as { value: unknown; path: string }
    if (typeof value === 'string') {
      if (findCardNumber(value, bins) !== null) return path === '' ? '(body)' : path
    } else if (Array.isArray(value)) {
      value.forEach((item, index) => stack.push({ value: item, path: `${path}[${index}]` }))
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, item] of Object.entries(value)) {
        if (PAN_FIELDS.has(key)) continue
        stack.push({ value: item, path: path === '' ? key : `${path}.${key}` })
      }
    }
  }
  return null
}
