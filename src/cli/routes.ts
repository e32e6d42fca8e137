import { parseArgs } from 'node:util'
import type { Lang } from '../core/reasons/types.js'
import {
  ADMIN_OPTIONS,
  adminCall,
  adminContextOf,
  str,
  write,
  type AdminContext,
} from './admin-command.js'
import { UsageError } from './env.js'
import { table } from './format.js'

/**
 * `tollgate routes …` and `tollgate maintenance …`: issuer routes, the BIN routing table, the
 * default route, route health, the issuer outbox and maintenance windows, as an operator uses
 * them from a terminal. A client of /v1/routes/*: it needs TOLLGATE_ADMIN_TOKEN, and names the
 * operator with --actor (or TOLLGATE_ACTOR).
 */

export const ROUTES_USAGE = `tollgate routes <command> [options]

  (no command) | list                   every route: kind, bank, host:port, status, breaker,
                                         signed-on connections, p99 latency, pending reversals
                                         and advices
  show <id>                              one route: settings, status, link health, windows,
                                         BINs, outbox counts and its history of transitions
  add --id … --name … --bank … [--kind remote|local] --host … --port … [--timeout-ms n]
      [--stip-max 500.00 --stip-daily-amount 1000.00 --stip-daily-count 5
       --stip-card-types debit,credit --stip-currency CNY] [--note "why"]
                                         create a route (any --stip-* flag enables stand-in)
  bin <prefix> <routeId|local> [--note …]
                                         route a BIN prefix (3 to 10 digits)
  unbin <prefix>                         remove a BIN prefix
  bins                                   the BIN routing table and the default route
  default <routeId|local|none> [--note …]
                                         the route of cards no prefix matches (none: decline)
  outbox [--status pending] [--kind reversal|advice|request] [--route id] [--limit n]
                                         issuer outbox messages, newest first (no card numbers)

Options: --url <url>  --lang zh-CN|en  --json (raw answers)  --actor <name> (default
TOLLGATE_ACTOR or admin). Needs TOLLGATE_ADMIN_TOKEN.`

export const MAINTENANCE_USAGE = `tollgate maintenance <command> [options]

  <routeId> --from <ISO> --to <ISO> [--mode stand_in|decline] --note "…"
                                         schedule a window (at most 7 days; "schedule <routeId>"
                                         does the same, for routes named list or cancel)
  list [<routeId>]                       upcoming and running windows, soonest first
  cancel <windowId>                      cancel an upcoming or running window

Options: --url <url>  --lang zh-CN|en  --json  --actor <name>. Needs TOLLGATE_ADMIN_TOKEN.`

const COMMON = ADMIN_OPTIONS

const HISTORY_SHOWN_MAX = 20

type Context = AdminContext
const contextOf = adminContextOf
const call = (ctx: Context, method: string, path: string, body?: unknown) =>
  adminCall(ctx, method, path, body)

function integerFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined
  if (!/^\d{1,9}$/.test(value)) throw new UsageError(`--${flag}: expected an integer, got ${value}`)
  return Number(value)
}

// ---- views as the API sends them --------------------------------------------------------------

interface StatusView {
  readonly state: 'up' | 'down' | 'unknown'
  readonly why?: string
  readonly maintenance?: { id: string; endsAt: string; mode: string; note: string } | null
}

type OutboxCounts = Record<string, Record<string, number>>

interface RouteRow {
  readonly id: string
  readonly name: string
  readonly bankName: string
  readonly kind: string
  readonly host: string | null
  readonly port: number | null
  readonly timeoutMs: number
  readonly stip: {
    enabled: boolean
    perTransactionMax: string
    dailyAmountMax: string
    dailyCountMax: number
    cardTypes: string[]
    currency: string
  }
  readonly status: StatusView
  readonly link: {
    breaker: string | null
    signedOn: number | null
    poolSize: number | null
    latencyP99Ms: number | null
  } | null
  readonly outbox: OutboxCounts
}

interface WindowRow {
  readonly id: string
  readonly routeId: string
  readonly startsAt: string
  readonly endsAt: string
  readonly mode: string
  readonly note: string
  readonly running: boolean
  readonly createdBy: string
}

const when = (isoText: string): string => isoText.slice(0, 19).replace('T', ' ') + 'Z'

function statusText(status: StatusView, lang: Lang): string {
  const zh = lang === 'zh-CN'
  if (status.state === 'up') return zh ? '正常' : 'up'
  if (status.state === 'unknown') return zh ? '未知' : 'unknown'
  const m = status.maintenance
  if (m !== null && m !== undefined)
    return zh ? `维护中（至 ${when(m.endsAt)}）` : `maintenance until ${when(m.endsAt)}`
  return `${zh ? '中断' : 'down'}: ${status.why ?? ''}`
}

const count = (counts: OutboxCounts | undefined, kind: string, status: string): number =>
  counts?.[kind]?.[status] ?? 0

function routesTable(routes: readonly RouteRow[], lang: Lang): string {
  const zh = lang === 'zh-CN'
  if (routes.length === 0)
    return zh
      ? '还没有路由：所有卡均由本地账务处理。'
      : 'No routes yet: every card goes to the local ledger.'
  const headers = zh
    ? ['路由', '类型', '发卡行', '地址', '状态', '熔断器', '已签到', 'p99 时延', '待冲正', '待通知']
    : [
        'route',
        'kind',
        'bank',
        'host:port',
        'status',
        'breaker',
        'signed on',
        'p99',
        'reversals',
        'advices',
      ]
  const rows = routes.map((r) => [
    r.id,
    r.kind,
    r.bankName,
    r.host === null ? '—' : `${r.host}:${str(r.port)}`,
    statusText(r.status, lang),
    r.link?.breaker ?? '—',
    r.link === null ? '—' : `${str(r.link.signedOn)}/${str(r.link.poolSize)}`,
    r.link?.latencyP99Ms === null || r.link === null ? '—' : `${r.link.latencyP99Ms} ms`,
    String(count(r.outbox, 'reversal', 'pending')),
    String(count(r.outbox, 'advice', 'pending')),
  ])
  return table(headers, rows, [32, 6, 30, 28, 40, 10, 9, 10, 9, 9])
}

function windowsTable(windows: readonly WindowRow[], lang: Lang): string {
  const zh = lang === 'zh-CN'
  if (windows.length === 0)
    return zh ? '没有计划中的维护窗口。' : 'No upcoming maintenance windows.'
  const headers = zh
    ? ['窗口', '路由', '开始', '结束', '方式', '进行中', '创建人', '说明']
    : ['window', 'route', 'starts', 'ends', 'mode', 'running', 'by', 'note']
  const rows = windows.map((w) => [
    w.id,
    w.routeId,
    when(w.startsAt),
    when(w.endsAt),
    w.mode,
    w.running ? (zh ? '是' : 'yes') : '',
    w.createdBy,
    w.note,
  ])
  return table(headers, rows, [30, 24, 20, 20, 8, 7, 16, 50])
}

// ---- routes ------------------------------------------------------------------------------------

async function list(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: COMMON })
  const ctx = contextOf(values)
  const answer = await call(ctx, 'GET', '/v1/routes')
  if (answer === null || ctx.json) return
  write(routesTable((answer.body.items as RouteRow[] | undefined) ?? [], ctx.lang))
  const fallback = answer.body.defaultRouteId
  write(
    `${ctx.lang === 'zh-CN' ? '默认路由' : 'default route'}: ${fallback === null ? (ctx.lang === 'zh-CN' ? '无（拒绝）' : 'none (declined)') : str(fallback)}`,
  )
}

interface Transition {
  readonly at: string
  readonly kind: string
  readonly from: string
  readonly to: string
  readonly reason: string
}

function linkLines(link: Record<string, unknown> | null, zh: boolean): string[] {
  if (link === null) return []
  const breaker = (link.breaker ?? {}) as Record<string, unknown>
  const connections = (link.connections ?? {}) as Record<string, unknown>
  const window = (link.window ?? {}) as Record<string, unknown>
  const latency = (window.latencyMs ?? {}) as Record<string, unknown>
  const counters = (link.counters ?? {}) as Record<string, unknown>
  return [
    `  ${zh ? '链路' : 'link'}: ${str(link.status)} (${str(link.statusReason)})  ${zh ? '熔断器' : 'breaker'} ${str(breaker.state)}  ${zh ? '已签到' : 'signed on'} ${str(connections.signedOn)}/${str(connections.poolSize)}`,
    `  ${zh ? '时延' : 'latency'} p50 ${str(latency.p50) || '—'} ms  p99 ${str(latency.p99) || '—'} ms  ${zh ? '超时率' : 'timeout rate'} ${str(window.timeoutRate) || '—'}`,
    `  ${zh ? '计数' : 'counters'}: sent ${str(counters.sent)}  answered ${str(counters.answered)}  timeouts ${str(counters.timeouts)}  sign-ons ${str(counters.signOns)}  echoes ${str(counters.echoes)}`,
  ]
}

async function show(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: COMMON })
  const id = positionals[0]
  if (id === undefined) throw new UsageError('routes show: give a route id, e.g. routes show icbc')
  const ctx = contextOf(values)
  const answer = await call(ctx, 'GET', `/v1/routes/${encodeURIComponent(id)}`)
  if (answer === null || ctx.json) return
  const zh = ctx.lang === 'zh-CN'
  const route = answer.body.route as Omit<RouteRow, 'status' | 'link' | 'outbox'>
  const status = answer.body.status as StatusView
  const outbox = answer.body.outbox as OutboxCounts
  const stip = route.stip
  const lines = [
    `${route.id}  ${route.kind}  ${route.bankName}  (${route.name})`,
    `  ${zh ? '地址' : 'host'}: ${route.host === null ? '—' : `${route.host}:${str(route.port)}`}  ${zh ? '超时' : 'timeout'} ${route.timeoutMs} ms`,
    `  ${zh ? '代授权' : 'stand-in'}: ${stip.enabled ? `${zh ? '单笔' : 'per payment'} ≤ ${stip.perTransactionMax}, ${zh ? '每卡每日' : 'per card a day'} ≤ ${stip.dailyAmountMax} / ${stip.dailyCountMax}, ${stip.cardTypes.join('+')} ${stip.currency}` : zh ? '未启用' : 'disabled'}`,
    `  ${zh ? '状态' : 'status'}: ${statusText(status, ctx.lang)}`,
    ...linkLines(answer.body.link as Record<string, unknown> | null, zh),
    `  BIN: ${((answer.body.bins as string[] | undefined) ?? []).join(', ') || '—'}`,
    `  ${zh ? '存储转发' : 'outbox'}: ${zh ? '待冲正' : 'pending reversals'} ${count(outbox, 'reversal', 'pending')}  ${zh ? '待通知' : 'pending advices'} ${count(outbox, 'advice', 'pending')}  ${zh ? '在途请求' : 'requests in flight'} ${count(outbox, 'request', 'in_flight')}`,
  ]
  const windows = (answer.body.windows as WindowRow[] | undefined) ?? []
  if (windows.length > 0) lines.push('', windowsTable(windows, ctx.lang))
  const history = ((answer.body.history as Transition[] | undefined) ?? []).slice(
    -HISTORY_SHOWN_MAX,
  )
  if (history.length > 0)
    lines.push(
      '',
      table(
        zh ? ['时间', '类别', '变化', '原因'] : ['at', 'kind', 'change', 'reason'],
        history.map((t) => [when(t.at), t.kind, `${t.from} → ${t.to}`, t.reason]),
        [20, 8, 30, 70],
      ),
    )
  write(lines.join('\n'))
}

async function add(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      ...COMMON,
      id: { type: 'string' },
      name: { type: 'string' },
      bank: { type: 'string' },
      kind: { type: 'string', default: 'remote' },
      host: { type: 'string' },
      port: { type: 'string' },
      'timeout-ms': { type: 'string' },
      'stip-max': { type: 'string' },
      'stip-daily-amount': { type: 'string' },
      'stip-daily-count': { type: 'string' },
      'stip-card-types': { type: 'string' },
      'stip-currency': { type: 'string' },
      note: { type: 'string' },
    },
  })
  for (const required of ['id', 'name', 'bank'] as const)
    if (values[required] === undefined)
      throw new UsageError(`routes add: --${required} is required`)
  const ctx = contextOf(values)
  const stipGiven = [
    values['stip-max'],
    values['stip-daily-amount'],
    values['stip-daily-count'],
    values['stip-card-types'],
    values['stip-currency'],
  ].some((v) => v !== undefined)
  const body: Record<string, unknown> = {
    id: values.id,
    name: values.name,
    bankName: values.bank,
    kind: values.kind,
    ...(values.host === undefined ? {} : { host: values.host }),
    ...(values.port === undefined ? {} : { port: integerFlag(values.port, 'port') }),
    ...(values['timeout-ms'] === undefined
      ? {}
      : { timeoutMs: integerFlag(values['timeout-ms'], 'timeout-ms') }),
    ...(values.note === undefined ? {} : { changeNote: values.note }),
  }
  if (stipGiven)
    body.stip = {
      enabled: true,
      ...(values['stip-max'] === undefined ? {} : { perTransactionMax: values['stip-max'] }),
      ...(values['stip-daily-amount'] === undefined
        ? {}
        : { dailyAmountMax: values['stip-daily-amount'] }),
      ...(values['stip-daily-count'] === undefined
        ? {}
        : { dailyCountMax: integerFlag(values['stip-daily-count'], 'stip-daily-count') }),
      ...(values['stip-card-types'] === undefined
        ? {}
        : { cardTypes: values['stip-card-types'].split(',').map((t) => t.trim()) }),
      ...(values['stip-currency'] === undefined ? {} : { currency: values['stip-currency'] }),
    }
  const answer = await call(ctx, 'POST', '/v1/routes', body)
  if (answer === null || ctx.json) return
  const route = answer.body as unknown as RouteRow
  write(
    `✓ ${route.id} (${route.kind}, ${route.bankName}) ${ctx.lang === 'zh-CN' ? '已添加；链路将在一秒内连接' : 'added; its link connects within a second'}`,
  )
}

function targetText(routeId: unknown, lang: Lang): string {
  if (routeId === null)
    return lang === 'zh-CN'
      ? '无（拒绝：no_route_to_issuer）'
      : 'none (declined: no_route_to_issuer)'
  return str(routeId)
}

async function bin(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...COMMON, note: { type: 'string' } },
  })
  const [prefix, routeId] = positionals
  if (prefix === undefined || routeId === undefined)
    throw new UsageError('routes bin: give a prefix and a route, e.g. routes bin 621226 icbc')
  const ctx = contextOf(values)
  const answer = await call(ctx, 'PUT', `/v1/routes/bins/${encodeURIComponent(prefix)}`, {
    routeId,
    ...(values.note === undefined ? {} : { changeNote: values.note }),
  })
  if (answer === null || ctx.json) return
  write(`✓ BIN ${prefix} → ${targetText(answer.body.routeId, ctx.lang)}`)
}

async function unbin(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: COMMON })
  const prefix = positionals[0]
  if (prefix === undefined) throw new UsageError('routes unbin: give a prefix, e.g. 621226')
  const ctx = contextOf(values)
  const answer = await call(ctx, 'DELETE', `/v1/routes/bins/${encodeURIComponent(prefix)}`)
  if (answer === null || ctx.json) return
  write(
    `✓ BIN ${prefix} ${ctx.lang === 'zh-CN' ? '已移除' : 'removed'} (${ctx.lang === 'zh-CN' ? '原路由' : 'was'} ${str(answer.body.routeId)})`,
  )
}

async function bins(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: COMMON })
  const ctx = contextOf(values)
  const answer = await call(ctx, 'GET', '/v1/routes/bins')
  if (answer === null || ctx.json) return
  const zh = ctx.lang === 'zh-CN'
  const items =
    (answer.body.items as { prefix: string; routeId: string; bankName: string | null }[]) ?? []
  const fallback = answer.body.default as { routeId: string | null }
  write(
    [
      table(
        zh ? ['BIN 前缀', '路由', '发卡行'] : ['prefix', 'route', 'bank'],
        items.map((b) => [b.prefix, b.routeId, b.bankName ?? '']),
      ),
      `${zh ? '默认路由' : 'default route'}: ${targetText(fallback.routeId, ctx.lang)}`,
    ].join('\n'),
  )
}

async function setDefault(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...COMMON, note: { type: 'string' } },
  })
  const target = positionals[0]
  if (target === undefined) throw new UsageError('routes default: give a route id, local, or none')
  const ctx = contextOf(values)
  const answer = await call(ctx, 'PUT', '/v1/routes/default', {
    routeId: target === 'none' ? null : target,
    ...(values.note === undefined ? {} : { changeNote: values.note }),
  })
  if (answer === null || ctx.json) return
  write(
    `✓ ${ctx.lang === 'zh-CN' ? '默认路由' : 'default route'}: ${targetText(answer.body.routeId, ctx.lang)}`,
  )
}

interface MessageRow {
  readonly routeId: string
  readonly kind: string
  readonly status: string
  readonly attempts: number
  readonly terminalId: string
  readonly stan: string
  readonly amount: string
  readonly currency: string
  readonly lastError: string | null
  readonly createdAt: string
  readonly transactionId: string
}

async function outbox(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      ...COMMON,
      status: { type: 'string' },
      kind: { type: 'string' },
      route: { type: 'string' },
      limit: { type: 'string' },
    },
  })
  const ctx = contextOf(values)
  const query = new URLSearchParams()
  if (values.status !== undefined) query.set('status', values.status)
  if (values.kind !== undefined) query.set('kind', values.kind)
  if (values.route !== undefined) query.set('routeId', values.route)
  if (values.limit !== undefined) query.set('limit', String(integerFlag(values.limit, 'limit')))
  const text = query.toString()
  const answer = await call(ctx, 'GET', `/v1/routes/outbox${text === '' ? '' : `?${text}`}`)
  if (answer === null || ctx.json) return
  const zh = ctx.lang === 'zh-CN'
  const items = (answer.body.items as MessageRow[] | undefined) ?? []
  if (items.length === 0) {
    write(zh ? '存储转发队列中没有符合条件的报文。' : 'No outbox messages match.')
    return
  }
  write(
    table(
      zh
        ? ['时间', '路由', '类别', '状态', '次数', '终端', '流水号', '金额', '交易', '最近错误']
        : [
            'at',
            'route',
            'kind',
            'status',
            'tries',
            'terminal',
            'STAN',
            'amount',
            'transaction',
            'last error',
          ],
      items.map((m) => [
        when(m.createdAt),
        m.routeId,
        m.kind,
        m.status,
        String(m.attempts),
        m.terminalId,
        m.stan,
        `${m.amount} ${m.currency}`,
        m.transactionId,
        m.lastError ?? '',
      ]),
      [20, 24, 8, 9, 5, 8, 6, 18, 30, 60],
    ),
  )
}

/** `tollgate routes <command> …` */
export async function runRoutesCommand(args: string[]): Promise<void> {
  const [command, ...rest] = args
  switch (command) {
    case undefined:
    case 'list':
      return list(rest)
    case 'show':
      return show(rest)
    case 'add':
      return add(rest)
    case 'bin':
      return bin(rest)
    case 'unbin':
      return unbin(rest)
    case 'bins':
      return bins(rest)
    case 'default':
      return setDefault(rest)
    case 'outbox':
      return outbox(rest)
    case 'help':
    case '--help':
    case '-h':
      write(ROUTES_USAGE)
      return
    default:
      // Flags alone (tollgate routes --json) list the routes.
      if (command.startsWith('--')) return list(args)
      throw new UsageError(`unknown routes command "${command}"\n\n${ROUTES_USAGE}`)
  }
}

// ---- maintenance -------------------------------------------------------------------------------

async function schedule(routeId: string, args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      ...COMMON,
      from: { type: 'string' },
      to: { type: 'string' },
      mode: { type: 'string' },
      note: { type: 'string' },
    },
  })
  for (const required of ['from', 'to', 'note'] as const)
    if (values[required] === undefined)
      throw new UsageError(`maintenance: --${required} is required`)
  const ctx = contextOf(values)
  const answer = await call(ctx, 'POST', `/v1/routes/${encodeURIComponent(routeId)}/maintenance`, {
    startsAt: values.from,
    endsAt: values.to,
    ...(values.mode === undefined ? {} : { mode: values.mode }),
    note: values.note,
  })
  if (answer === null || ctx.json) return
  const w = answer.body as unknown as WindowRow
  write(
    ctx.lang === 'zh-CN'
      ? `✓ 维护窗口 ${w.id}：${w.routeId} ${when(w.startsAt)} 至 ${when(w.endsAt)}（${w.mode === 'decline' ? '全部拒绝' : '代授权'}）`
      : `✓ window ${w.id}: ${w.routeId} ${when(w.startsAt)} to ${when(w.endsAt)} (${w.mode})`,
  )
}

async function listWindows(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: COMMON })
  const routeId = positionals[0]
  const ctx = contextOf(values)
  const path =
    routeId === undefined
      ? '/v1/routes/maintenance'
      : `/v1/routes/${encodeURIComponent(routeId)}/maintenance`
  const answer = await call(ctx, 'GET', path)
  if (answer === null || ctx.json) return
  write(windowsTable((answer.body.items as WindowRow[] | undefined) ?? [], ctx.lang))
}

async function cancel(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: COMMON })
  const windowId = positionals[0]
  if (windowId === undefined)
    throw new UsageError('maintenance cancel: give a window id, e.g. mw_01J…')
  const ctx = contextOf(values)
  const answer = await call(ctx, 'DELETE', `/v1/routes/maintenance/${encodeURIComponent(windowId)}`)
  if (answer === null || ctx.json) return
  write(
    `✓ ${windowId} ${ctx.lang === 'zh-CN' ? '已取消' : 'cancelled'} (${str(answer.body.routeId)})`,
  )
}

/** `tollgate maintenance …` */
export async function runMaintenanceCommand(args: string[]): Promise<void> {
  const [command, ...rest] = args
  switch (command) {
    case 'list':
      return listWindows(rest)
    case 'cancel':
      return cancel(rest)
    case 'schedule': {
      const [routeId, ...flags] = rest
      if (routeId === undefined) throw new UsageError('maintenance schedule: give a route id')
      return schedule(routeId, flags)
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      write(MAINTENANCE_USAGE)
      return
    default:
      if (command.startsWith('-'))
        throw new UsageError(`maintenance: give the route id first\n\n${MAINTENANCE_USAGE}`)
      return schedule(command, rest)
  }
}
