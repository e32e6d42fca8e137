/** Terminal output: CJK-aware column widths, so Chinese and English line up in tables. */

export function displayWidth(text: string): number {
  let width = 0
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0
    const wide =
      (code >= 0x1100 && code <= 0x115f) ||
      (code >= 0x2e80 && code <= 0xa4cf) ||
      (code >= 0xac00 && code <= 0xd7a3) ||
      (code >= 0xf900 && code <= 0xfaff) ||
      (code >= 0xfe30 && code <= 0xfe4f) ||
      (code >= 0xff00 && code <= 0xff60) ||
      (code >= 0xffe0 && code <= 0xffe6)
    width += wide ? 2 : 1
  }
  return width
}

export function pad(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - displayWidth(text)))
}

export function truncate(text: string, width: number): string {
  if (displayWidth(text) <= width) return text
  let out = ''
  for (const char of text) {
    if (displayWidth(out + char) > width - 1) break
    out += char
  }
  return out + '…'
}

export function table(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  maxWidths: readonly number[] = [],
): string {
  const widths = headers.map((header, i) => {
    const natural = Math.max(displayWidth(header), ...rows.map((row) => displayWidth(row[i] ?? '')))
    return Math.min(natural, maxWidths[i] ?? natural)
  })
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => pad(truncate(cell, widths[i] ?? 0), widths[i] ?? 0))
      .join('  ')
      .trimEnd()
  return [line(headers), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

export interface ExplanationLike {
  readonly outcome: string
  readonly title: string
  readonly summary: string
  readonly responseCode: string
  readonly reason: {
    readonly code: string
    readonly familyLabel: string
    readonly isoCode: string
    readonly cupCode: string | null
  } | null
  readonly evidence: readonly { readonly label: string; readonly value: string }[]
  readonly remediation: {
    readonly cardholder: string
    readonly merchant: string
    readonly operator: string
  } | null
  readonly retry: { readonly text: string } | null
  readonly checks: readonly {
    readonly stageLabel: string
    readonly name: string
    readonly status: string
    readonly reason?: string
  }[]
}

const STATUS_MARK: Readonly<Record<string, string>> = { pass: '✓', fail: '✗', skip: '–' }

/** Renders an explanation as a person reads it at a support desk. */
export function formatExplanation(e: ExplanationLike, lang: 'zh-CN' | 'en'): string {
  const zh = lang === 'zh-CN'
  const lines: string[] = []
  lines.push(
    `${e.outcome === 'approved' ? '✓' : '✗'} ${e.title}  [${zh ? '应答码' : 'response code'} ${e.responseCode}]`,
  )
  if (e.reason !== null) {
    const cup = e.reason.cupCode === null ? '' : `, ${zh ? '银联' : 'UnionPay'} ${e.reason.cupCode}`
    lines.push(
      `  ${zh ? '原因' : 'reason'}: ${e.reason.code} (${e.reason.familyLabel}; ISO ${e.reason.isoCode}${cup})`,
    )
  }
  lines.push(`  ${e.summary}`)
  if (e.evidence.length > 0) {
    lines.push(`  ${zh ? '依据' : 'evidence'}:`)
    for (const item of e.evidence) lines.push(`    ${item.label}: ${item.value}`)
  }
  if (e.remediation !== null) {
    lines.push(`  ${zh ? '处理建议' : 'what to do'}:`)
    lines.push(`    ${zh ? '持卡人' : 'cardholder'}: ${e.remediation.cardholder}`)
    lines.push(`    ${zh ? '商户/收银员' : 'merchant/cashier'}: ${e.remediation.merchant}`)
    lines.push(`    ${zh ? '运维人员' : 'operator'}: ${e.remediation.operator}`)
  }
  if (e.retry !== null) lines.push(`  ${zh ? '重试' : 'retry'}: ${e.retry.text}`)
  lines.push(
    `  ${zh ? '检查项' : 'checks'}: ${e.checks.map((c) => `${STATUS_MARK[c.status] ?? c.status} ${c.stageLabel}/${c.name}`).join('  ')}`,
  )
  return lines.join('\n')
}
