/**
 * A small, strict RFC 4180 CSV parser for the reference files: comma separated, fields may be
 * quoted, `""` inside quotes is one quote, quoted fields may span lines, records end with CRLF
 * or LF, and a leading UTF-8 byte order mark is ignored. Anything else is an error with the
 * line where it happened, never a guess.
 *
 * Empty lines at the very end of the input are ignored (several published files end with one);
 * an empty line anywhere else is a record with one empty field, which the caller's column check
 * rejects.
 */

export interface CsvRecord {
  /** 1-based line on which the record starts. */
  readonly line: number
  readonly fields: readonly string[]
}

export type CsvErrorCode =
  | 'csv_unterminated_quote'
  | 'csv_quote_in_unquoted_field'
  | 'csv_text_after_closing_quote'
  | 'csv_bare_carriage_return'

export interface CsvError {
  readonly code: CsvErrorCode
  /** 1-based line of the offending character (for an unterminated quote: where it opened). */
  readonly line: number
  readonly expected: string
}

export type CsvResult =
  | { readonly ok: true; readonly records: readonly CsvRecord[] }
  | { readonly ok: false; readonly error: CsvError }

const QUOTE = '"'
const COMMA = ','
const CR = '\r'
const LF = '\n'

/**
 * Parses CSV text into records with their line numbers.
 *
 * @example parseCsv('a,"b ""c"""\r\n1,2\r\n') // records: [['a', 'b "c"'], ['1', '2']]
 */
export function parseCsv(input: string): CsvResult {
  const text = input.startsWith('\uFEFF') ? input.slice(1) : input
  const records: CsvRecord[] = []
  if (text.length === 0) return { ok: true, records }

  let fields: string[] = []
  let field = ''
  let line = 1
  let recordLine = 1
  let index = 0
  // Start of a field: either a quoted field or an unquoted one follows.
  let atFieldStart = true

  const endRecord = (): void => {
    fields.push(field)
    records.push({ line: recordLine, fields })
    fields = []
    field = ''
  }

  while (index < text.length) {
    const char = text[index]
    if (atFieldStart && char === QUOTE) {
      const quoted = readQuoted(text, index + 1, line)
      if (!quoted.ok) return quoted
      field = quoted.value
      line = quoted.line
      index = quoted.next
      const after = text[index]
      if (after !== undefined && after !== COMMA && after !== CR && after !== LF) {
        const expected = 'a comma or a line break after a closing quote'
        return fail('csv_text_after_closing_quote', line, expected)
      }
      atFieldStart = false
      continue
    }
    atFieldStart = false
    if (char === COMMA) {
      fields.push(field)
      field = ''
      atFieldStart = true
      index += 1
    } else if (char === CR || char === LF) {
      if (char === CR && text[index + 1] !== LF) {
        return fail('csv_bare_carriage_return', line, 'a line feed after a carriage return')
      }
      endRecord()
      index += char === CR ? 2 : 1
      line += 1
      recordLine = line
      atFieldStart = true
    } else if (char === QUOTE) {
      const expected = 'a field that contains a quote to be quoted as a whole'
      return fail('csv_quote_in_unquoted_field', line, expected)
    } else {
      field += char
      index += 1
    }
  }
  // The last record may or may not end with a line break.
  if (!(atFieldStart && fields.length === 0 && field === '')) endRecord()
  dropTrailingEmptyLines(records)
  return { ok: true, records }
}

type QuotedResult =
  | { readonly ok: true; readonly value: string; readonly next: number; readonly line: number }
  | { readonly ok: false; readonly error: CsvError }

/** Reads a quoted field's content from just after its opening quote. */
function readQuoted(text: string, start: number, startLine: number): QuotedResult {
  let value = ''
  let line = startLine
  let index = start
  while (index < text.length) {
    const char = text[index]
    if (char === QUOTE) {
      if (text[index + 1] === QUOTE) {
        value += QUOTE
        index += 2
        continue
      }
      return { ok: true, value, next: index + 1, line }
    }
    if (char === LF) line += 1
    value += char
    index += 1
  }
  return fail('csv_unterminated_quote', startLine, 'a closing quote for the field opened here')
}

function fail(code: CsvErrorCode, line: number, expected: string): { ok: false; error: CsvError } {
  return { ok: false, error: { code, line, expected } }
}

/** Drops the records that are empty lines at the very end of the input. */
function dropTrailingEmptyLines(records: CsvRecord[]): void {
  for (let last = records.at(-1); last !== undefined; last = records.at(-1)) {
    if (last.fields.length !== 1 || last.fields[0] !== '') return
    records.pop()
  }
}
