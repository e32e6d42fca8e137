import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { REASON_CATALOGUE } from '../src/core/reasons/catalogue.js'
import { REASON_CODES, REASON_FAMILIES } from '../src/core/reasons/codes.js'
import { renderReasonsMarkdown } from '../src/core/reasons/render-doc.js'

// docs/reasons.md is generated from the catalogue. This test keeps the two in step, and
// rewrites the file when UPDATE_DOCS=1 is set.
const DOC_PATH = fileURLToPath(new URL('../docs/reasons.md', import.meta.url))
const OUT_OF_DATE =
  'docs/reasons.md is out of date: run `UPDATE_DOCS=1 npx vitest run test/reasons-doc.test.ts`'

/** The 1-based number of the first line where two texts differ, or null if they are equal. */
function firstDifferentLine(a: string, b: string): number | null {
  if (a === b) return null
  const linesA = a.split('\n')
  const linesB = b.split('\n')
  let index = 0
  while (index < linesA.length && index < linesB.length && linesA[index] === linesB[index]) index++
  return index + 1
}

describe('docs/reasons.md', () => {
  it('is the rendering of the current catalogue', () => {
    const expected = renderReasonsMarkdown()
    if (process.env.UPDATE_DOCS === '1') writeFileSync(DOC_PATH, expected, 'utf8')
    const actual = existsSync(DOC_PATH) ? readFileSync(DOC_PATH, 'utf8') : ''
    const line = firstDifferentLine(actual, expected)
    const where = line === null ? '' : ` (first difference at line ${line})`
    expect(line === null, OUT_OF_DATE + where).toBe(true)
  })
})

describe('renderReasonsMarkdown', () => {
  const markdown = renderReasonsMarkdown()

  it('is deterministic and ends with exactly one newline', () => {
    expect(renderReasonsMarkdown()).toBe(markdown)
    expect(markdown.endsWith('\n')).toBe(true)
    expect(markdown.endsWith('\n\n')).toBe(false)
    expect(markdown).not.toMatch(/[ \t]+$/m)
  })

  it('has one summary row and one section per reason', () => {
    const rows = markdown.split('\n').filter((line) => line.startsWith('| [`'))
    expect(rows).toHaveLength(REASON_CODES.length)
    for (const code of REASON_CODES) {
      const entry = REASON_CATALOGUE[code]
      expect(markdown).toContain(`<a id="${code}"></a>`)
      expect(markdown).toContain(`### \`${code}\` — ${entry.title.en} · ${entry.title['zh-CN']}`)
      expect(markdown).toContain(entry.explanation.en)
      expect(markdown).toContain(entry.explanation['zh-CN'])
      expect(markdown).toContain(entry.remediation.operator['zh-CN'])
    }
  })

  it('has one section per family, in the order of REASON_FAMILIES', () => {
    const positions = REASON_FAMILIES.map((family) => markdown.indexOf(`(\`${family}\`)\n`))
    for (const position of positions) expect(position).toBeGreaterThan(0)
    expect([...positions].sort((a, b) => a - b)).toEqual(positions)
  })

  it('shows the CUP code only where it differs from the ISO code', () => {
    const row = (code: string): string =>
      markdown.split('\n').find((line) => line.startsWith(`| [\`${code}\`]`)) ?? ''
    expect(row('issuer_timeout')).toContain('| 68 | **98** |')
    expect(row('insufficient_funds')).toContain('| 51 | — |')
  })
})
