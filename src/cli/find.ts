import { parseArgs } from 'node:util'
import { formatInstant } from '../core/explain.js'
import { reasonEntry } from '../core/reasons/catalogue.js'
import { isReasonCode } from '../core/reasons/codes.js'
import type { Lang } from '../core/reasons/types.js'
import { utcOffsetMinutesOf } from './env.js'
import { table } from './format.js'
import type { ApiClient } from './http-client.js'

/** A decline's reason in words, from the same catalogue the server explains with. */
function reasonTitle(code: string, lang: Lang): string {
  // A code this CLI does not know (a newer server) is shown as it is.
  return isReasonCode(code) ? reasonEntry(code).title[lang] : code
}

interface TransactionRow {
  readonly id: string
  readonly kind: string
  readonly outcome: string
  readonly terminalId: string
  readonly stan: string | null
  readonly amount: string
  readonly currency: string
  readonly card: { readonly masked: string } | null
  readonly responseCode: string
  readonly reason: { readonly code: string } | null
  readonly createdAt: string
}

const FILTERS = [
  'terminal',
  'merchant',
  'last4',
  'amount',
  'currency',
  'outcome',
  'reason',
  'kind',
  'stan',
  'rrn',
  'from',
  'to',
] as const
const QUERY_NAMES: Readonly<Record<(typeof FILTERS)[number], string>> = {
  terminal: 'terminalId',
  merchant: 'merchantId',
  last4: 'cardLast4',
  amount: 'amount',
  currency: 'currency',
  outcome: 'outcome',
  reason: 'reason',
  kind: 'kind',
  stan: 'stan',
  rrn: 'rrn',
  from: 'from',
  to: 'to',
}

/**
 * `tollgate find`: the support desk's first question — "terminal 10000001 just blocked a 3,000
 * yuan sale" — answered as a table, newest first, with each decline's reason in words.
 */
export async function findTransactions(
  client: ApiClient,
  args: string[],
  lang: Lang,
): Promise<string> {
  const { values } = parseArgs({
    args,
    options: {
      ...Object.fromEntries(FILTERS.map((name) => [name, { type: 'string' as const }])),
      limit: { type: 'string', default: '20' },
      url: { type: 'string' },
      lang: { type: 'string' },
      json: { type: 'boolean' },
    },
  })
  const query = new URLSearchParams({ limit: String(values.limit) })
  const given = values as Readonly<Record<string, string | boolean | undefined>>
  for (const name of FILTERS) {
    const value = given[name]
    if (typeof value === 'string') query.set(QUERY_NAMES[name], value)
  }
  const answer = await client.call('GET', `/v1/transactions?${query.toString()}`)
  if (answer.status !== 200) {
    const errors = (answer.body.errors as { field: string; message: string }[] | undefined) ?? []
    throw new Error(
      errors.map((e) => `${e.field}: ${e.message}`).join('; ') || `HTTP ${answer.status}`,
    )
  }
  const items = (answer.body.items as TransactionRow[] | undefined) ?? []
  if (values.json === true) return JSON.stringify(items, null, 2)
  // Times are shown at the acquirer's offset, as the server's business days are.
  const utcOffsetMinutes = utcOffsetMinutesOf()
  const zh = lang === 'zh-CN'
  const headers = zh
    ? ['时间（当地）', '交易号', '类型', '金额', '卡号', '终端/流水', '结果', '应答码', '原因']
    : [
        'local time',
        'transaction',
        'kind',
        'amount',
        'card',
        'terminal/STAN',
        'outcome',
        'code',
        'reason',
      ]
  const rows = items.map((t) => [
    formatInstant(Date.parse(t.createdAt), utcOffsetMinutes).slice(0, 19),
    t.id,
    t.kind,
    `${t.amount} ${t.currency}`,
    t.card?.masked ?? '',
    `${t.terminalId}/${t.stan ?? ''}`,
    t.outcome === 'approved' ? (zh ? '批准' : 'approved') : zh ? '拒绝' : 'declined',
    t.responseCode,
    t.reason === null ? '' : reasonTitle(t.reason.code, lang),
  ])
  if (rows.length === 0) return zh ? '没有符合条件的交易。' : 'No transaction matches.'
  const hint = zh
    ? '查看某笔交易为何被拒绝：tollgate explain <交易号> --lang zh-CN'
    : 'Why was one blocked? tollgate explain <transaction>'
  return `${table(headers, rows, [19, 29, 17, 16, 19, 15, 8, 6, 40])}\n\n${hint}`
}
