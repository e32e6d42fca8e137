import { DEFAULT_RULE_PACK } from './default-pack.js'
import { FEATURES } from './features.js'

/**
 * The generated parts of docs/risk.md: the feature table and the default pack. The test in
 * test/risk-doc.test.ts keeps them in step with the code (UPDATE_DOCS=1 rewrites them).
 */

const cell = (text: string): string => text.replaceAll('|', '\\|')

export function renderFeatureTable(): string {
  const lines = ['| feature | type | group | meaning | 含义 |', '|---|---|---|---|---|']
  for (const f of FEATURES) {
    const type = f.money ? `${f.type} (minor units)` : f.type
    lines.push(
      `| \`${f.name}\` | ${type} | ${f.group} | ${cell(f.label.en)} | ${cell(f.label['zh-CN'])} |`,
    )
  }
  return lines.join('\n')
}

export function renderRulePack(): string {
  const parts: string[] = []
  for (const rule of DEFAULT_RULE_PACK) {
    const action =
      rule.action === 'block'
        ? `block with \`${rule.reason ?? 'suspected_fraud'}\``
        : rule.action === 'score'
          ? `score +${rule.score}`
          : rule.action
    parts.push(
      [
        `#### \`${rule.id}\` — ${rule.name}`,
        '',
        `Priority ${rule.priority}, ${action}.`,
        '',
        '```cel',
        rule.expression,
        '```',
        '',
        rule.description.en,
        '',
        rule.description['zh-CN'],
      ].join('\n'),
    )
  }
  return parts.join('\n\n')
}

/** Replaces the text between `<!-- name:begin -->` and `<!-- name:end -->`. */
export function replaceSection(document: string, name: string, body: string): string {
  const begin = `<!-- ${name}:begin -->`
  const end = `<!-- ${name}:end -->`
  const from = document.indexOf(begin)
  const to = document.indexOf(end)
  if (from < 0 || to < from) throw new Error(`docs/risk.md lacks the ${name} markers`)
  return `${document.slice(0, from + begin.length)}\n${body}\n${document.slice(to)}`
}
