import { readFile, stat } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import type { Lang } from '../core/reasons/types.js'
import {
  ADMIN_OPTIONS,
  adminCall,
  adminContextOf,
  write,
  type AdminContext,
  type FieldError,
} from './admin-command.js'
import { UsageError } from './env.js'
import { displayWidth, formatExplanation, table, type ExplanationLike } from './format.js'
import type { ApiAnswer } from './http-client.js'
import { runBacktestCommand } from './risk-backtest.js'

/**
 * `tollgate risk …`: risk rules, their lifecycle, the settings' companion commands and the
 * review queue, as an analyst uses them from a terminal. A client of /v1/risk/*: it needs
 * TOLLGATE_ADMIN_TOKEN, and names the analyst with --actor (or TOLLGATE_ACTOR).
 */

export const RISK_USAGE = `tollgate risk <command> [options]

  rules                                  the newest version of every rule, as a table
  rule <id>                              one rule and all its versions
  add --file rule.json | --id … --name … --expression … --action block|review|score|allow
      [--reason …] [--score n] [--priority n] [--description-zh …] [--description-en …]
      [--status draft|shadow] --note "why"
                                         add a rule (version 1); flags override the file
  set-status <id> draft|shadow|active|disabled --note "why" [--base-version n]
                                         move a rule (a new version; default: from the newest)
  check '<expression>'                   check an expression; an error is shown with a caret
  features                               the features an expression may read
  reviews [--status open|claimed|resolved] [--limit n]
                                         the review queue, oldest first
  review <transaction-id>                one review item with the transaction's explanation
  claim <transaction-id> [--note …]      claim an open item
  release <transaction-id> [--note …]    give a claimed item back to the queue
  resolve <transaction-id> fraud|genuine --note "…" [--no-list]
                                         fraud: the card goes on the block list; genuine: on
                                         the allow list (--no-list: neither)
  backtest …                             replay stored traffic through rules (risk backtest --help)

Options: --url <url>  --lang zh-CN|en  --json (raw answers)  --actor <name> (default
TOLLGATE_ACTOR or admin). Needs TOLLGATE_ADMIN_TOKEN.`

const RULE_FILE_BYTES_MAX = 1_000_000
const COMMON = ADMIN_OPTIONS
type Context = AdminContext
const contextOf = adminContextOf

/**
 * The offending line of an expression with a caret under the column (both 1-based), indented.
 * Wide (CJK) characters before the column count as two, as the terminal shows them.
 */
export function caret(
  expression: string,
  line: number | null,
  column: number | null,
  indent = '  ',
): string {
  const lines = expression.split('\n')
  if (line === null || column === null) return lines.map((l) => indent + l).join('\n')
  const text = lines[line - 1] ?? ''
  const before = text.slice(0, Math.max(0, column - 1))
  const prefix = line > 1 ? `${indent}(line ${line})\n` : ''
  return `${prefix}${indent}${text}\n${indent}${' '.repeat(displayWidth(before))}^`
}

/** Calls the API; on a refusal prints it (a caret under a bad expression) and returns null. */
function call(
  ctx: Context,
  method: string,
  path: string,
  body?: unknown,
  expression?: string,
): Promise<ApiAnswer | null> {
  return adminCall(ctx, method, path, body, (e) =>
    e.field === 'expression' && expression !== undefined
      ? caret(expression, e.line ?? null, e.column ?? null, '      ')
      : null,
  )
}

interface RuleRow {
  readonly id: string
  readonly version: number
  readonly status: string
  readonly name: string
  readonly expression: string
  readonly action: string
  readonly reason: string | null
  readonly score: number
  readonly priority: number
  readonly description: { readonly 'zh-CN': string; readonly en: string }
  readonly author: string
  readonly changeNote: string
  readonly createdAt: string
}

const actionText = (r: RuleRow): string =>
  r.action === 'block'
    ? `block → ${r.reason ?? ''}`
    : r.action === 'score'
      ? `score +${r.score}`
      : r.action

function rulesTable(rules: readonly RuleRow[], lang: Lang): string {
  if (rules.length === 0) return lang === 'zh-CN' ? '还没有规则。' : 'No rules yet.'
  const headers =
    lang === 'zh-CN'
      ? ['规则', '版本', '状态', '动作', '优先级', '名称', '表达式']
      : ['rule', 'v', 'status', 'action', 'priority', 'name', 'expression']
  const rows = rules.map((r) => [
    r.id,
    String(r.version),
    r.status,
    actionText(r),
    String(r.priority),
    r.name,
    r.expression.replace(/\s+/g, ' '),
  ])
  return table(headers, rows, [32, 4, 8, 34, 8, 30, 60])
}

async function rules(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: COMMON })
  const ctx = contextOf(values)
  const answer = await call(ctx, 'GET', '/v1/risk/rules')
  if (answer === null || ctx.json) return
  write(rulesTable((answer.body.items as RuleRow[] | undefined) ?? [], ctx.lang))
}

async function rule(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: COMMON })
  const id = positionals[0]
  if (id === undefined)
    throw new UsageError('risk rule: give a rule id, e.g. tollgate risk rule large_sale')
  const ctx = contextOf(values)
  const answer = await call(ctx, 'GET', `/v1/risk/rules/${encodeURIComponent(id)}`)
  if (answer === null || ctx.json) return
  const newest = answer.body.rule as RuleRow
  const versions = (answer.body.versions as RuleRow[] | undefined) ?? []
  const zh = ctx.lang === 'zh-CN'
  write(
    [
      `${newest.id} v${newest.version}  ${newest.status}  ${actionText(newest)}  ${zh ? '优先级' : 'priority'} ${newest.priority}`,
      `  ${newest.name}`,
      `  ${newest.description[ctx.lang]}`,
      caret(newest.expression, null, null, '    '),
      '',
      table(
        zh
          ? ['版本', '状态', '动作', '作者', '时间', '变更说明']
          : ['v', 'status', 'action', 'author', 'at', 'change note'],
        versions.map((v) => [
          String(v.version),
          v.status,
          actionText(v),
          v.author,
          v.createdAt.slice(0, 19),
          v.changeNote,
        ]),
        [4, 8, 34, 20, 19, 60],
      ),
    ].join('\n'),
  )
}

/** Reads a rule from a JSON file (an object), bounded in size. */
async function ruleFile(path: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    // Its size first: a huge file is refused before it is read into memory.
    if ((await stat(path)).size > RULE_FILE_BYTES_MAX)
      throw new UsageError(`--file: ${path} is larger than ${RULE_FILE_BYTES_MAX} bytes`)
    text = await readFile(path, 'utf8')
  } catch (cause) {
    if (cause instanceof UsageError) throw cause
    throw new UsageError(`--file: cannot read ${path} (${String(cause)})`)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (cause) {
    throw new UsageError(`--file: ${path} is not JSON (${String(cause)})`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new UsageError(`--file: ${path} must hold one rule as a JSON object`)
  return value as Record<string, unknown>
}

function integerFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined
  if (!/^-?\d{1,9}$/.test(value))
    throw new UsageError(`--${flag}: expected an integer, got ${value}`)
  return Number(value)
}

async function add(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      ...COMMON,
      file: { type: 'string' },
      id: { type: 'string' },
      name: { type: 'string' },
      expression: { type: 'string' },
      action: { type: 'string' },
      reason: { type: 'string' },
      score: { type: 'string' },
      priority: { type: 'string' },
      'description-zh': { type: 'string' },
      'description-en': { type: 'string' },
      status: { type: 'string' },
      note: { type: 'string' },
    },
  })
  const ctx = contextOf(values)
  const body: Record<string, unknown> = values.file === undefined ? {} : await ruleFile(values.file)
  const flags: Record<string, unknown> = {
    id: values.id,
    name: values.name,
    expression: values.expression,
    action: values.action,
    reason: values.reason,
    score: integerFlag(values.score, 'score'),
    priority: integerFlag(values.priority, 'priority'),
    status: values.status,
    changeNote: values.note,
  }
  for (const [key, value] of Object.entries(flags)) if (value !== undefined) body[key] = value
  const zh = values['description-zh']
  const en = values['description-en']
  if (zh !== undefined || en !== undefined) {
    const given = (body.description ?? {}) as Record<string, unknown>
    body.description = {
      ...given,
      ...(zh === undefined ? {} : { 'zh-CN': zh }),
      ...(en === undefined ? {} : { en }),
    }
  }
  const expression = typeof body.expression === 'string' ? body.expression : undefined
  const answer = await call(ctx, 'POST', '/v1/risk/rules', body, expression)
  if (answer === null || ctx.json) return
  const created = answer.body as unknown as RuleRow
  write(
    `✓ ${created.id} v${created.version} (${created.status}) ${actionText(created)} — ${ctx.lang === 'zh-CN' ? '已添加' : 'added'}`,
  )
}

async function setStatus(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...COMMON, note: { type: 'string' }, 'base-version': { type: 'string' } },
  })
  const [id, status] = positionals
  if (id === undefined || status === undefined)
    throw new UsageError(
      'risk set-status: give a rule id and a status, e.g. set-status large_sale active --note "…"',
    )
  if (values.note === undefined) throw new UsageError('risk set-status: --note is required (why)')
  const ctx = contextOf(values)
  let baseVersion = integerFlag(values['base-version'], 'base-version')
  if (baseVersion === undefined) {
    const current = await call(
      { ...ctx, json: false },
      'GET',
      `/v1/risk/rules/${encodeURIComponent(id)}`,
    )
    if (current === null) return
    baseVersion = (current.body.rule as RuleRow).version
  }
  const answer = await call(ctx, 'POST', `/v1/risk/rules/${encodeURIComponent(id)}/status`, {
    status,
    baseVersion,
    changeNote: values.note,
  })
  if (answer === null || ctx.json) return
  const moved = answer.body as unknown as RuleRow
  write(`✓ ${moved.id} v${moved.version}: ${moved.status}`)
}

async function check(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: COMMON })
  const expression = positionals.join(' ')
  if (expression === '')
    throw new UsageError("risk check: give an expression, e.g. risk check 'amount > 100000'")
  const ctx = contextOf(values)
  const answer = await call(ctx, 'POST', '/v1/risk/rules/check', { expression })
  if (answer === null) return
  const zh = ctx.lang === 'zh-CN'
  if (answer.body.valid === true) {
    if (!ctx.json) {
      const features = (answer.body.features as string[] | undefined) ?? []
      write(`✓ ${zh ? '表达式有效；读取' : 'valid; reads'}: ${features.join(', ') || '—'}`)
    }
    return
  }
  const error = answer.body.error as FieldError & { readonly offset: number | null }
  if (!ctx.json) {
    const at =
      error.line === null || error.line === undefined
        ? ''
        : zh
          ? `（第 ${error.line} 行，第 ${String(error.column)} 列）`
          : ` (line ${error.line}, column ${String(error.column)})`
    write(`✗ ${zh ? '表达式无效' : 'invalid expression'}${at}: ${error.message}`)
    write(caret(expression, error.line ?? null, error.column ?? null))
  }
  process.exitCode = 1
}

interface FeatureRow {
  readonly name: string
  readonly type: string
  readonly group: string
  readonly money: boolean
  readonly label: string
}

async function features(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: COMMON })
  const ctx = contextOf(values)
  const answer = await call(ctx, 'GET', '/v1/risk/features')
  if (answer === null || ctx.json) return
  const zh = ctx.lang === 'zh-CN'
  const rows = ((answer.body.items as FeatureRow[] | undefined) ?? []).map((f) => [
    f.name,
    f.type + (f.money ? (zh ? '（分）' : ' (minor units)') : ''),
    f.group,
    f.label,
  ])
  write(
    table(zh ? ['特征', '类型', '分组', '说明'] : ['feature', 'type', 'group', 'meaning'], rows),
  )
}

interface ReviewRow {
  readonly transactionId: string
  readonly status: string
  readonly decidedBy: string
  readonly ruleHits: string
  readonly score: number
  readonly card: { readonly masked: string } | null
  readonly terminalId: string
  readonly amount: string
  readonly currency: string
  readonly claimedBy: string | null
  readonly resolution: string | null
  readonly resolvedBy: string | null
  readonly createdAt: string
}

function reviewsTable(items: readonly ReviewRow[], lang: Lang): string {
  const zh = lang === 'zh-CN'
  if (items.length === 0) return zh ? '队列中没有符合条件的复核。' : 'No review matches.'
  const headers = zh
    ? ['时间', '交易号', '状态', '金额', '卡号', '终端', '依据', '命中规则', '处理人']
    : ['at', 'transaction', 'status', 'amount', 'card', 'terminal', 'by', 'rules', 'analyst']
  const rows = items.map((r) => [
    r.createdAt.slice(0, 19),
    r.transactionId,
    r.status === 'resolved' ? `${r.status}: ${r.resolution ?? ''}` : r.status,
    `${r.amount} ${r.currency}`,
    r.card?.masked ?? '',
    r.terminalId,
    r.decidedBy,
    r.ruleHits,
    r.resolvedBy ?? r.claimedBy ?? '',
  ])
  return table(headers, rows, [19, 29, 18, 16, 19, 8, 11, 40, 20])
}

async function reviews(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { ...COMMON, status: { type: 'string' }, limit: { type: 'string', default: '50' } },
  })
  const ctx = contextOf(values)
  const query = new URLSearchParams({ limit: values.limit })
  if (values.status !== undefined) query.set('status', values.status)
  const answer = await call(ctx, 'GET', `/v1/risk/reviews?${query.toString()}`)
  if (answer === null || ctx.json) return
  write(reviewsTable((answer.body.items as ReviewRow[] | undefined) ?? [], ctx.lang))
}

function transactionIdOf(positionals: readonly string[], command: string): string {
  const id = positionals[0]
  if (id === undefined)
    throw new UsageError(
      `risk ${command}: give a transaction id, e.g. tollgate risk ${command} tx_01J…`,
    )
  return encodeURIComponent(id)
}

async function review(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: COMMON })
  const id = transactionIdOf(positionals, 'review')
  const ctx = contextOf(values)
  const answer = await call(ctx, 'GET', `/v1/risk/reviews/${id}`)
  if (answer === null || ctx.json) return
  const item = answer.body.review as ReviewRow
  write(reviewsTable([item], ctx.lang))
  const explanation = answer.body.explanation as ExplanationLike | null
  if (explanation !== null) write('\n' + formatExplanation(explanation, ctx.lang))
}

async function claimOrRelease(args: string[], command: 'claim' | 'release'): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...COMMON, note: { type: 'string' } },
  })
  const id = transactionIdOf(positionals, command)
  const ctx = contextOf(values)
  const body = values.note === undefined ? {} : { note: values.note }
  const answer = await call(ctx, 'POST', `/v1/risk/reviews/${id}/${command}`, body)
  if (answer === null || ctx.json) return
  const item = answer.body as unknown as ReviewRow
  write(
    `✓ ${item.transactionId}: ${item.status}${item.claimedBy === null ? '' : ` (${item.claimedBy})`}`,
  )
}

async function resolve(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...COMMON, note: { type: 'string' }, 'no-list': { type: 'boolean' } },
  })
  const id = transactionIdOf(positionals, 'resolve')
  const resolution = positionals[1]
  if (resolution !== 'fraud' && resolution !== 'genuine')
    throw new UsageError(
      'risk resolve: give the resolution, fraud or genuine, after the transaction id',
    )
  if (values.note === undefined)
    throw new UsageError('risk resolve: --note is required (what you found)')
  const ctx = contextOf(values)
  const answer = await call(ctx, 'POST', `/v1/risk/reviews/${id}/resolve`, {
    resolution,
    note: values.note,
    list: values['no-list'] !== true,
  })
  if (answer === null || ctx.json) return
  const item = answer.body.review as ReviewRow
  const entry = answer.body.listEntry as { list: string; display: string } | null
  const zh = ctx.lang === 'zh-CN'
  write(
    `✓ ${item.transactionId}: ${item.resolution ?? ''}` +
      (entry === null
        ? ''
        : zh
          ? `；${entry.display} 已加入${entry.list === 'block' ? '黑名单' : '白名单'}`
          : `; ${entry.display} is on the ${entry.list} list`),
  )
}

/** `tollgate risk <command> …` */
export async function runRiskCommand(args: string[]): Promise<void> {
  const [command, ...rest] = args
  switch (command) {
    case 'rules':
      return rules(rest)
    case 'rule':
      return rule(rest)
    case 'add':
      return add(rest)
    case 'set-status':
      return setStatus(rest)
    case 'check':
      return check(rest)
    case 'features':
      return features(rest)
    case 'reviews':
      return reviews(rest)
    case 'review':
      return review(rest)
    case 'claim':
    case 'release':
      return claimOrRelease(rest, command)
    case 'resolve':
      return resolve(rest)
    case 'backtest':
      return runBacktestCommand(rest)
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      write(RISK_USAGE)
      return
    default:
      throw new UsageError(`unknown risk command "${command}"\n\n${RISK_USAGE}`)
  }
}
