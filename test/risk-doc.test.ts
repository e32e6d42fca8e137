import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { renderFeatureTable, renderRulePack, replaceSection } from '../src/core/risk/render-doc.js'

// docs/risk.md is written by hand, except its feature table and default-pack sections, which
// are generated from the code. This test keeps them in step (UPDATE_DOCS=1 rewrites them).
const DOC_PATH = fileURLToPath(new URL('../docs/risk.md', import.meta.url))

describe('docs/risk.md', () => {
  it('lists every feature and every default-pack rule as the code defines them', () => {
    const actual = readFileSync(DOC_PATH, 'utf8')
    const expected = replaceSection(
      replaceSection(actual, 'features', renderFeatureTable()),
      'rule-pack',
      renderRulePack(),
    )
    if (process.env.UPDATE_DOCS === '1') writeFileSync(DOC_PATH, expected, 'utf8')
    expect(
      actual === expected,
      'docs/risk.md is out of date: run `UPDATE_DOCS=1 npx vitest run test/risk-doc.test.ts`',
    ).toBe(true)
  })
})
