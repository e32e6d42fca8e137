import { assert } from '../../../core/assert.js'

/**
 * Rows a batch connection keeps between batches instead of reading them again (ADR 0005): cards,
 * accounts, usage counters, merchants, terminals and first-seen instants, and the knowledge
 * that a key has no row. Loading them was ≈ 10% of the batch worker's time.
 *
 * Correctness rests on two rules:
 * - **Only this connection's batches change the cached rows without telling it.** A batch's
 *   committed changes are written through (`afterCommit`); a write by any other connection
 *   changes SQLite's `PRAGMA data_version` for this one, and the store empties the cache before
 *   it reads (`checkVersion`, inside the batch's transaction, so the check and the reads see the
 *   same database). So the cache is enabled only on a connection that writes nothing but batches
 *   and hold expiry (the batch worker's), and the store empties it on any other write it does.
 * - **A batch that does not commit leaves no trace**: changes are written through only after
 *   COMMIT returned, and a failed batch empties the cache.
 *
 * Bounded: past `rowsMax` keys in one map, that map is emptied (the next batch reads again).
 */
export class KeyedCache<V> {
  /** key → row, or null: known to have no row. */
  private readonly rows = new Map<string, V | null>()

  constructor(private readonly rowsMax: number) {
    assert(Number.isSafeInteger(rowsMax) && rowsMax > 0, 'cache bound is a positive count')
  }

  get size(): number {
    return this.rows.size
  }

  /**
   * The rows of `keys`: cached ones as they are, the others loaded with `loadMissing` (which
   * returns the rows that exist, keyed) and remembered, absent ones as known absent.
   */
  load(
    keys: Iterable<string>,
    loadMissing: (keys: readonly string[]) => Map<string, V>,
  ): Map<string, V> {
    const found = new Map<string, V>()
    const missing: string[] = []
    for (const key of keys) {
      const row = this.rows.get(key)
      if (row === undefined) missing.push(key)
      else if (row !== null) found.set(key, row)
    }
    if (missing.length === 0) return found
    const loaded = loadMissing(missing)
    if (this.rows.size + missing.length > this.rowsMax) this.rows.clear()
    const remember = missing.length <= this.rowsMax
    for (const key of missing) {
      const row = loaded.get(key)
      if (remember) this.rows.set(key, row ?? null)
      if (row !== undefined) found.set(key, row)
    }
    return found
  }

  /** A row as this connection just committed it. */
  set(key: string, row: V): void {
    if (!this.rows.has(key) && this.rows.size >= this.rowsMax) this.rows.clear()
    this.rows.set(key, row)
  }

  clear(): void {
    this.rows.clear()
  }
}
