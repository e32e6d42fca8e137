import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, it, expect } from 'vitest'
import { parseCsv } from './csv.js'
import {
  BANK_NAMES_FILE,
  BIN_FILE,
  MCC_FILE,
  REFERENCE_DIR_DEFAULT,
  ReferenceDataError,
  findPackageRoot,
  loadReferenceData,
} from './load-reference.js'

const BIN_HEADER = 'bin,bank_code,bank_name_cn,card_type,card_length'

describe('parseCsv', () => {
  it('reads quoted fields, escaped quotes, CRLF and LF, and a BOM', () => {
    const result = parseCsv('\uFEFFa,b\r\n"x, y","say ""hi"""\n"two\r\nlines",\n')
    expect(result).toEqual({
      ok: true,
      records: [
        { line: 1, fields: ['a', 'b'] },
        { line: 2, fields: ['x, y', 'say "hi"'] },
        { line: 3, fields: ['two\r\nlines', ''] },
      ],
    })
  })

  it('reads a last record without a line break and ignores empty lines at the end', () => {
    const twoRecords = { ok: true, records: [{ fields: ['a'] }, { fields: ['1'] }] }
    expect(parseCsv('a\n1')).toMatchObject(twoRecords)
    const trailing = parseCsv('a\n1\n\n\r\n')
    expect(trailing).toMatchObject(twoRecords)
    expect(trailing.ok && trailing.records.length).toBe(2)
    expect(parseCsv('')).toEqual({ ok: true, records: [] })
  })

  it('keeps an empty line inside the file as a record', () => {
    const result = parseCsv('a,b\n\n1,2\n')
    expect(result).toMatchObject({
      ok: true,
      records: [{ line: 1 }, { line: 2, fields: [''] }, { line: 3 }],
    })
  })

  it('reports an unterminated quote at the line it opened', () => {
    const result = parseCsv('a,b\n1,2\n3,"open\n4,5\n')
    expect(result).toMatchObject({ ok: false, error: { code: 'csv_unterminated_quote', line: 3 } })
  })

  it('reports stray quotes and text after a closing quote', () => {
    expect(parseCsv('a\nx"y\n')).toMatchObject({
      ok: false,
      error: { code: 'csv_quote_in_unquoted_field', line: 2 },
    })
    expect(parseCsv('a\n"x"y\n')).toMatchObject({
      ok: false,
      error: { code: 'csv_text_after_closing_quote', line: 2 },
    })
    expect(parseCsv('a\rb\n')).toMatchObject({
      ok: false,
      error: { code: 'csv_bare_carriage_return', line: 1 },
    })
  })
})

describe('loadReferenceData on the real files', () => {
  const reference = loadReferenceData(REFERENCE_DIR_DEFAULT)

  it('finds the reference folder at the package root', () => {
    const root = resolve(fileURLToPath(new URL('../../../', import.meta.url)))
    expect(findPackageRoot(fileURLToPath(new URL('.', import.meta.url)))).toBe(root)
    expect(REFERENCE_DIR_DEFAULT).toBe(join(root, 'reference'))
  })

  it('loads every row', () => {
    expect(reference.binRows).toBe(1709)
    expect(reference.bins.size).toBe(1709)
    expect(reference.mccRows).toBe(981)
    expect(reference.mccs.size).toBe(981)
    expect(reference.bankNames.size).toBe(275)
  })

  it('reads merchant categories with their leading zeros', () => {
    const vets = { mcc: '0742', description: 'Veterinary Services' }
    expect(reference.mccs.lookup('0742')).toEqual(vets)
    expect(reference.mccs.lookup('0780')?.description).toBe(
      'Horticultural Services, Landscaping Services',
    )
    expect(reference.mccs.lookup('742')).toBeNull()
    expect(reference.mccs.lookup('0000')).toBeNull()
  })

  it('reads bank names', () => {
    expect(reference.bankNames.get('ABC')).toBe('中国农业银行')
    expect(reference.bankNames.get('CMB')).toBe('招商银行')
  })
})

describe('loadReferenceData on malformed files', () => {
  const dirs: string[] = []
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
  })

  /** A temporary reference folder: the real files, with one of them replaced. */
  function folderWith(file: string, text: string): string {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-reference-'))
    dirs.push(dir)
    for (const name of [BIN_FILE, MCC_FILE, BANK_NAMES_FILE]) {
      copyFileSync(join(REFERENCE_DIR_DEFAULT, name), join(dir, name))
    }
    writeFileSync(join(dir, file), text)
    return dir
  }

  function loadError(dir: string): ReferenceDataError {
    try {
      loadReferenceData(dir)
    } catch (error) {
      expect(error).toBeInstanceOf(ReferenceDataError)
      return error as ReferenceDataError
    }
    throw new Error('expected loadReferenceData to throw')
  }

  it('names the line of a broken quote', () => {
    const text = `${BIN_HEADER}\r\n622609,CMB,招商银行,DC,16\r\n622848,ABC,"中国农业银行,DC,19\r\n`
    const error = loadError(folderWith(BIN_FILE, text))
    expect(error.code).toBe('reference_data_invalid')
    expect(error.file.endsWith(BIN_FILE)).toBe(true)
    expect(error.line).toBe(3)
    expect(error.message).toMatch(/cn-card-bin\.csv:3: .*closing quote/)
  })

  it('names the line of a missing column', () => {
    const text = `${BIN_HEADER}\n622609,CMB,招商银行,DC,16\n622848,ABC,中国农业银行,DC\n`
    const error = loadError(folderWith(BIN_FILE, text))
    expect(error.line).toBe(3)
    expect(error.message).toContain('expected 5 columns')
  })

  it('names the line of a missing MCC column', () => {
    const header =
      'mcc,edited_description,combined_description,usda_description,irs_description,irs_reportable'
    const text = `${header}\n0742,Vets,Vets,Vets,Vets,Yes\n0763,Co-ops,Co-ops,Co-ops,Yes\n`
    const error = loadError(folderWith(MCC_FILE, text))
    expect(error.file.endsWith(MCC_FILE)).toBe(true)
    expect(error.line).toBe(3)
  })

  it('rejects a wrong header', () => {
    const text = 'bin,bank,bank_name_cn,card_type,card_length\n622609,CMB,招商银行,DC,16\n'
    const error = loadError(folderWith(BIN_FILE, text))
    expect(error.line).toBe(1)
    expect(error.message).toContain(`expected header ${BIN_HEADER}`)
  })

  it.each([
    ['an unknown card type', '622609,CMB,招商银行,XX,16', 'DC, CC, SCC or PC'],
    ['a card length out of range', '622609,CMB,招商银行,DC,12', 'card length of 13 to 19'],
    ['a BIN with letters', '6226AB,CMB,招商银行,DC,16', 'BIN of 3 to 10 digits'],
    ['an unknown bank code', '622609,NOBANK,某银行,DC,16', 'bank code listed'],
    ['an empty line', '', 'expected 5 columns'],
  ])('rejects %s with its line', (_name, bad, expected) => {
    const text = `${BIN_HEADER}\n622848,ABC,中国农业银行,DC,19\n${bad}\n622609,CMB,招商银行,DC,16\n`
    const error = loadError(folderWith(BIN_FILE, text))
    expect(error.line).toBe(3)
    expect(error.message).toContain(expected)
  })

  it('rejects a BIN listed twice with the same card length', () => {
    const text = `${BIN_HEADER}\n622609,CMB,招商银行,DC,16\n622609,CMB,招商银行,DC,16\n`
    const error = loadError(folderWith(BIN_FILE, text))
    expect(error.line).toBe(3)
    expect(error.message).toContain('only once')
  })

  it('rejects a duplicate bank code and a missing file', () => {
    const names = 'bank,name\nABC,中国农业银行\nABC,农行\n'
    expect(loadError(folderWith(BANK_NAMES_FILE, names)).line).toBe(3)
    const dir = folderWith(MCC_FILE, '')
    rmSync(join(dir, MCC_FILE))
    const missing = loadError(dir)
    expect(missing.line).toBeNull()
    expect(missing.cause).toBeDefined()
  })

  it('rejects a file that is not UTF-8', () => {
    const dir = folderWith(MCC_FILE, '')
    writeFileSync(join(dir, MCC_FILE), Buffer.from([0x6d, 0x63, 0x63, 0xff, 0x0a]))
    expect(loadError(dir).message).toContain('UTF-8')
  })
})
