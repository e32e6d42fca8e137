import { existsSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BinInfo, BinTable } from '../../core/reference/bin-table.js'
import {
  BIN_DIGITS_MAX,
  BIN_DIGITS_MIN,
  CARD_LENGTH_MAX,
  CARD_LENGTH_MIN,
  cardTypeOfKind,
  createBinTable,
  isBinKind,
} from '../../core/reference/bin-table.js'
import type { MccInfo, MccTable } from '../../core/reference/mcc-table.js'
import { MCC_PATTERN, createMccTable } from '../../core/reference/mcc-table.js'
import { assert } from '../../core/assert.js'
import type { CsvRecord } from './csv.js'
import { parseCsv } from './csv.js'

export interface ReferenceData {
  readonly bins: BinTable
  readonly mccs: MccTable
  /** Bank code → Chinese bank name. */
  readonly bankNames: ReadonlyMap<string, string>
  readonly binRows: number
  readonly mccRows: number
}

/** A reference file that is missing, unreadable or malformed. Loading stops at the first one. */
export class ReferenceDataError extends Error {
  override readonly name = 'ReferenceDataError'
  readonly code = 'reference_data_invalid'
  /** The file's path. */
  readonly file: string
  /** 1-based line of the problem, or null when it concerns the whole file. */
  readonly line: number | null

  constructor(file: string, line: number | null, message: string, options?: ErrorOptions) {
    super(`${file}${line === null ? '' : `:${line}`}: ${message}`, options)
    this.file = file
    this.line = line
  }
}

export const BIN_FILE = 'cn-card-bin.csv'
export const MCC_FILE = 'mcc.csv'
export const BANK_NAMES_FILE = 'cn-bank-names.csv'

const BIN_HEADER = ['bin', 'bank_code', 'bank_name_cn', 'card_type', 'card_length'] as const
const MCC_HEADER = [
  'mcc',
  'edited_description',
  'combined_description',
  'usda_description',
  'irs_description',
  'irs_reportable',
] as const
const BANK_NAMES_HEADER = ['bank', 'name'] as const

/** Reference files are small; anything bigger than this is not the file we expect. */
export const REFERENCE_FILE_BYTES_MAX = 8 * 1024 * 1024
/** How far up from this module to look for the package root. */
const PACKAGE_ROOT_SEARCH_DEPTH_MAX = 16
const BANK_CODE_PATTERN = /^[A-Z0-9]{1,32}$/
const BIN_PATTERN = new RegExp(`^\\d{${BIN_DIGITS_MIN},${BIN_DIGITS_MAX}}$`)

/**
 * The directory that holds `package.json`, searched upwards from `startDir`; null if there is
 * none within `PACKAGE_ROOT_SEARCH_DEPTH_MAX` levels.
 */
export function findPackageRoot(startDir: string): string | null {
  let dir = resolve(startDir)
  for (let depth = 0; depth < PACKAGE_ROOT_SEARCH_DEPTH_MAX; depth += 1) {
    if (existsSync(join(dir, 'package.json'))) return dir
    const parent = dirname(dir)
    if (parent === dir) return null
    dir = parent
  }
  return null
}

/**
 * `<package root>/reference`. The module runs from `src/adapters/reference/` under Vitest and
 * from `dist/src/adapters/reference/` once compiled, so the root is found by walking up to the
 * nearest `package.json` rather than by a fixed number of `..`. If none is found, the source
 * layout is assumed, and loading then fails with the path it tried.
 */
export const REFERENCE_DIR_DEFAULT: string = (() => {
  const moduleDir = dirname(fileURLToPath(import.meta.url))
  const root = findPackageRoot(moduleDir)
  if (root !== null) return join(root, 'reference')
  return fileURLToPath(new URL('../../../reference/', import.meta.url))
})()

/**
 * Reads the BIN, merchant category and bank name files from `dir` and builds the tables.
 * Every row is checked; the first problem throws a `ReferenceDataError` naming the file, the
 * line and what was expected. No row is ever skipped.
 *
 * @example const reference = loadReferenceData(REFERENCE_DIR_DEFAULT)
 */
export function loadReferenceData(dir: string): ReferenceData {
  const bankNames = loadBankNames(join(dir, BANK_NAMES_FILE))
  const binRows = loadBinRows(join(dir, BIN_FILE), bankNames)
  const mccRows = loadMccRows(join(dir, MCC_FILE))
  const bins = createBinTable(binRows)
  const mccs = createMccTable(mccRows)
  assert(bins.size === binRows.length, 'one BIN entry per row')
  assert(mccs.size === mccRows.length, 'one MCC entry per row')
  return Object.freeze({
    bins,
    mccs,
    bankNames,
    binRows: binRows.length,
    mccRows: mccRows.length,
  })
}

function loadBankNames(file: string): ReadonlyMap<string, string> {
  const names = new Map<string, string>()
  for (const record of readTable(file, BANK_NAMES_HEADER)) {
    const [code, name] = record.fields
    const problem = fail(file, record.line)
    if (code === undefined || !BANK_CODE_PATTERN.test(code)) {
      throw problem('a bank code of 1 to 32 capital letters or digits')
    }
    if (name === undefined || name.trim() === '') throw problem(`a name for bank ${code}`)
    if (names.has(code)) throw problem(`bank code ${code} only once`)
    names.set(code, name)
  }
  return names
}

function loadBinRows(file: string, bankNames: ReadonlyMap<string, string>): BinInfo[] {
  const rows: BinInfo[] = []
  const seen = new Set<string>()
  for (const record of readTable(file, BIN_HEADER)) {
    const [bin, bankCode, bankName, kind, cardLengthText] = record.fields
    const problem = fail(file, record.line)
    if (bin === undefined || !BIN_PATTERN.test(bin)) {
      throw problem(`a BIN of ${BIN_DIGITS_MIN} to ${BIN_DIGITS_MAX} digits`)
    }
    if (bankCode === undefined || !bankNames.has(bankCode)) {
      throw problem(`a bank code listed in ${BANK_NAMES_FILE}`)
    }
    if (bankName === undefined || bankName.trim() === '') throw problem('a bank name')
    if (kind === undefined || !isBinKind(kind)) throw problem('a card type of DC, CC, SCC or PC')
    const cardLength = Number(cardLengthText)
    if (
      cardLengthText === undefined ||
      !/^\d{2}$/.test(cardLengthText) ||
      cardLength < CARD_LENGTH_MIN ||
      cardLength > CARD_LENGTH_MAX
    ) {
      throw problem(`a card length of ${CARD_LENGTH_MIN} to ${CARD_LENGTH_MAX}`)
    }
    // A BIN repeats in the file only for cards of different lengths (see createBinTable).
    const key = `${bin}/${cardLength}`
    if (seen.has(key)) throw problem(`BIN ${bin} with card length ${cardLength} only once`)
    seen.add(key)
    rows.push({ bin, bankCode, bankName, kind, cardType: cardTypeOfKind(kind), cardLength })
  }
  return rows
}

function loadMccRows(file: string): MccInfo[] {
  const rows: MccInfo[] = []
  const seen = new Set<string>()
  for (const record of readTable(file, MCC_HEADER)) {
    const [mcc, description] = record.fields
    const problem = fail(file, record.line)
    if (mcc === undefined || !MCC_PATTERN.test(mcc)) {
      throw problem('a merchant category of 4 digits')
    }
    if (description === undefined || description.trim() === '') {
      throw problem(`a description for merchant category ${mcc}`)
    }
    if (seen.has(mcc)) throw problem(`merchant category ${mcc} only once`)
    seen.add(mcc)
    rows.push({ mcc, description })
  }
  return rows
}

/**
 * Reads and parses a CSV file, checks its header and that every record has the header's
 * number of columns, and returns the records after the header.
 */
function readTable(file: string, header: readonly string[]): readonly CsvRecord[] {
  const parsed = parseCsv(readText(file))
  if (!parsed.ok) {
    const { code, line, expected } = parsed.error
    throw new ReferenceDataError(file, line, `malformed CSV (${code}): expected ${expected}`)
  }
  const [first, ...records] = parsed.records
  const expectedHeader = header.join(',')
  if (first === undefined) {
    throw new ReferenceDataError(file, 1, `expected header ${expectedHeader}`)
  }
  if (first.fields.join(',') !== expectedHeader || first.fields.length !== header.length) {
    throw new ReferenceDataError(
      file,
      first.line,
      `expected header ${expectedHeader}, found ${first.fields.join(',')}`,
    )
  }
  for (const record of records) {
    if (record.fields.length !== header.length) {
      throw new ReferenceDataError(
        file,
        record.line,
        `expected ${header.length} columns (${expectedHeader}), found ${record.fields.length}`,
      )
    }
  }
  return records
}

function readText(file: string): string {
  let bytes: Buffer
  try {
    const size = statSync(file).size
    if (size > REFERENCE_FILE_BYTES_MAX) {
      throw new ReferenceDataError(
        file,
        null,
        `expected at most ${REFERENCE_FILE_BYTES_MAX} bytes, found ${size}`,
      )
    }
    bytes = readFileSync(file)
  } catch (error) {
    if (error instanceof ReferenceDataError) throw error
    throw new ReferenceDataError(file, null, 'expected a readable file', { cause: error })
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch (error) {
    throw new ReferenceDataError(file, null, 'expected UTF-8 text', { cause: error })
  }
}

function fail(file: string, line: number): (expected: string) => ReferenceDataError {
  return (expected) => new ReferenceDataError(file, line, `expected ${expected}`)
}
