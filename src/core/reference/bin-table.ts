import { assert } from '../assert.js'

/** The card types limits and routing distinguish. */
export type BinCardType = 'debit' | 'credit'

/** The card kinds of the BIN file: debit, credit, semi-credit (准贷记卡), prepaid. */
export type BinKind = 'DC' | 'CC' | 'SCC' | 'PC'

export interface BinInfo {
  readonly bin: string
  readonly bankCode: string
  readonly bankName: string
  readonly kind: BinKind
  /** DC and PC → debit; CC and SCC → credit. */
  readonly cardType: BinCardType
  readonly cardLength: number
}

export interface BinTable {
  /**
   * The entry for a card number, or null when no BIN is a prefix of it. See `createBinTable`
   * for how a match is chosen.
   */
  lookup(pan: string): BinInfo | null
  /** Number of entries (rows) in the table. */
  readonly size: number
}

/** BINs in the reference file have 3 to 10 digits. */
export const BIN_DIGITS_MIN = 3
export const BIN_DIGITS_MAX = 10
/** Card numbers (PANs) have 13 to 19 digits (ISO/IEC 7812). */
export const CARD_LENGTH_MIN = 13
export const CARD_LENGTH_MAX = 19
assert(BIN_DIGITS_MAX < CARD_LENGTH_MIN, 'a BIN is always shorter than the card number')

const CARD_TYPE_BY_KIND: Readonly<Record<BinKind, BinCardType>> = Object.freeze({
  DC: 'debit',
  PC: 'debit',
  CC: 'credit',
  SCC: 'credit',
})

/** The card type a BIN kind counts as: `cardTypeOfKind('SCC') === 'credit'`. */
export function cardTypeOfKind(kind: BinKind): BinCardType {
  return CARD_TYPE_BY_KIND[kind]
}

export function isBinKind(text: string): text is BinKind {
  return text === 'DC' || text === 'CC' || text === 'SCC' || text === 'PC'
}

/**
 * Builds a BIN table with one Map per BIN length, so a lookup costs at most
 * `BIN_DIGITS_MAX - BIN_DIGITS_MIN + 1` map probes whatever the table's size.
 *
 * A BIN alone is not unique in the reference data: the same prefix can belong to two banks
 * whose cards have different lengths (621260 is a 16-digit 平安银行 credit card and a 19-digit
 * 常熟农商银行 debit card). An entry is therefore identified by BIN *and* card length, and
 * duplicates of that pair are rejected.
 *
 * Lookup takes the longest BIN that is a prefix of the card number and whose card length
 * equals the number's length. When no prefix has an entry of the right length, it returns the
 * entry with the longest matching prefix (the first row given, among entries of one BIN), so
 * that validation can report a length error against the bank the number most resembles.
 *
 * @example
 * const table = createBinTable(rows)
 * table.lookup('6226097806938388')?.bankCode // 'CMB'
 */
export function createBinTable(rows: readonly BinInfo[]): BinTable {
  // Index by BIN length, then by BIN; each BIN keeps its entries in row order.
  const byLength = new Map<number, Map<string, BinInfo[]>>()
  for (const row of rows) {
    assertBinInfo(row)
    let byBin = byLength.get(row.bin.length)
    if (byBin === undefined) {
      byBin = new Map()
      byLength.set(row.bin.length, byBin)
    }
    const entries = byBin.get(row.bin)
    if (entries === undefined) {
      byBin.set(row.bin, [Object.freeze({ ...row })])
    } else {
      const duplicate = entries.some((entry) => entry.cardLength === row.cardLength)
      assert(!duplicate, `duplicate BIN ${row.bin} with card length ${row.cardLength}`)
      entries.push(Object.freeze({ ...row }))
    }
  }
  // Longest first: the probe order of every lookup.
  const lengths = [...byLength.keys()].sort((a, b) => b - a)
  const size = rows.length

  function lookup(pan: string): BinInfo | null {
    let fallback: BinInfo | null = null
    for (const length of lengths) {
      if (length > pan.length) continue
      const entries = byLength.get(length)?.get(pan.slice(0, length))
      if (entries === undefined) continue
      assert(entries.length > 0, 'a BIN in the index has at least one entry')
      const exact = entries.find((entry) => entry.cardLength === pan.length)
      if (exact !== undefined) return exact
      fallback ??= entries[0] ?? null
    }
    return fallback
  }

  return Object.freeze({ lookup, size })
}

function assertBinInfo(row: BinInfo): void {
  assert(
    /^\d+$/.test(row.bin) &&
      row.bin.length >= BIN_DIGITS_MIN &&
      row.bin.length <= BIN_DIGITS_MAX,
    `BIN ${row.bin} must have ${BIN_DIGITS_MIN} to ${BIN_DIGITS_MAX} digits`,
  )
  assert(
    Number.isInteger(row.cardLength) &&
      row.cardLength >= CARD_LENGTH_MIN &&
      row.cardLength <= CARD_LENGTH_MAX,
    `BIN ${row.bin}: card length ${row.cardLength} outside ${CARD_LENGTH_MIN}..${CARD_LENGTH_MAX}`,
  )
  assert(isBinKind(row.kind), `BIN ${row.bin}: unknown kind`)
  assert(row.cardType === cardTypeOfKind(row.kind), `BIN ${row.bin}: card type contradicts kind`)
  assert(row.bankCode.length > 0 && row.bankName.length > 0, `BIN ${row.bin}: bank is named`)
}
