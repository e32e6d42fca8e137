import { z } from 'zod'
import type { CardType } from '../../core/model.js'
import { findCurrency } from '../../core/money.js'
import {
  BIN_PREFIX_MAX,
  BIN_PREFIX_MIN,
  LOCAL_ROUTE_ID,
  ROUTE_KINDS,
  STIP_DISABLED,
  type StipPolicy,
} from '../../core/routes/model.js'
import { ISSUER_MESSAGE_KINDS, ISSUER_MESSAGE_STATUSES } from '../../core/routes/outbox.js'
import { AMOUNT_TEXT, amountIn, CURRENCY_TEXT, LANG } from './schemas.js'
import { CHANGE_NOTE_LENGTH_MAX } from './schemas-risk.js'

/**
 * Request schemas of the routing API (routes-routing.ts): issuer routes, the BIN routing table,
 * the default route, maintenance windows and the outbox listing. Static, built at module load.
 * Whether a referenced route exists is the handler's question (it reads the store), not the
 * schema's.
 */

export const ROUTE_ID_LENGTH_MAX = 32
/** The ids the API's own paths use under /v1/routes/, and the local ledger's: never a route. */
export const RESERVED_ROUTE_IDS: readonly string[] = [
  LOCAL_ROUTE_ID,
  'bins',
  'default',
  'maintenance',
  'outbox',
]
export const ROUTE_NAME_LENGTH_MAX = 100
export const ROUTE_TIMEOUT_MS_MIN = 50
export const ROUTE_TIMEOUT_MS_MAX = 60_000
export const ROUTE_TIMEOUT_MS_DEFAULT = 2_000
export const STIP_DAILY_COUNT_MAX = 1_000
/** A window is an outage the bank announced: a week at most; longer is a route change. */
export const WINDOW_DURATION_MS_MAX = 7 * 86_400_000
/** How far ahead a window may be scheduled. */
export const WINDOW_LEAD_MS_MAX = 90 * 86_400_000
export const WINDOW_NOTE_LENGTH_MAX = 500
export const OUTBOX_LIMIT_MAX = 500
export const OUTBOX_LIMIT_DEFAULT = 50

const ROUTE_ID_PATTERN = new RegExp(`^[a-z][a-z0-9_]{0,${ROUTE_ID_LENGTH_MAX - 1}}$`)
const ROUTE_ID_MESSAGE = `expected snake_case: a-z, 0-9 and _, 1 to ${ROUTE_ID_LENGTH_MAX}, a letter first`

/** A route id as a reference (path, filter): any well-formed id. */
export const ROUTE_REF = z.string().regex(ROUTE_ID_PATTERN, ROUTE_ID_MESSAGE)

/** The id of a new route: well-formed and not one the API reserves. */
export const ROUTE_ID = ROUTE_REF.refine((id) => !RESERVED_ROUTE_IDS.includes(id), {
  message: `reserved: not one of ${RESERVED_ROUTE_IDS.join(', ')}`,
  params: { code: 'reserved' },
})

/** Where a BIN or the default sends cards: a route id or `local` (the local ledger). */
const ROUTE_TARGET = z
  .string({ error: `expected a route id or "${LOCAL_ROUTE_ID}"` })
  .regex(ROUTE_ID_PATTERN, `expected a route id or "${LOCAL_ROUTE_ID}"`)

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/
const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/
const HOST = z
  .string()
  .refine(
    (host) => IPV4.test(host) || (HOSTNAME.test(host) && !/^[\d.]+$/.test(host)),
    'expected an IPv4 address such as 127.0.0.1 or a hostname',
  )

const changeNote = z
  .string()
  .trim()
  .max(CHANGE_NOTE_LENGTH_MAX, `at most ${CHANGE_NOTE_LENGTH_MAX} characters`)
  .optional()

const text = (what: string, max: number) =>
  z
    .string({ error: `expected ${what}` })
    .trim()
    .min(1, `expected ${what}`)
    .max(max, `at most ${max} characters`)

const stip = z.strictObject({
  enabled: z.boolean({ error: 'expected true or false' }),
  perTransactionMax: AMOUNT_TEXT.default('0'),
  dailyAmountMax: AMOUNT_TEXT.default('0'),
  dailyCountMax: z.number().int().min(0).max(STIP_DAILY_COUNT_MAX).default(0),
  cardTypes: z
    .array(z.enum(['debit', 'credit']))
    .max(2)
    .refine((types) => new Set(types).size === types.length, 'expected each card type once')
    .default(['debit', 'credit']),
  currency: CURRENCY_TEXT.default('CNY'),
})

const routeFields = {
  name: text('a name', ROUTE_NAME_LENGTH_MAX),
  bankName: text('the bank, as explanations name it', ROUTE_NAME_LENGTH_MAX),
  kind: z.enum(ROUTE_KINDS),
  host: HOST.nullable().optional(),
  port: z.number().int().min(1).max(65_535).nullable().optional(),
  timeoutMs: z
    .number()
    .int()
    .min(ROUTE_TIMEOUT_MS_MIN)
    .max(ROUTE_TIMEOUT_MS_MAX)
    .default(ROUTE_TIMEOUT_MS_DEFAULT),
  stip: stip.optional(),
  changeNote,
}

interface RouteBody {
  readonly kind: (typeof ROUTE_KINDS)[number]
  readonly host?: string | null | undefined
  readonly port?: number | null | undefined
  readonly stip?: z.output<typeof stip> | undefined
}

const issue = (ctx: z.RefinementCtx, path: string[], message: string, code: string): void => {
  ctx.addIssue({ code: 'custom', path, message, params: { code } })
}

/** The stand-in policy in minor units, or null after adding the issues that stop it. */
function stipOf(body: RouteBody, ctx: z.RefinementCtx): StipPolicy | null {
  const given = body.stip
  if (given === undefined) return STIP_DISABLED
  const currency = findCurrency(given.currency)
  if (currency === null) return null
  if (given.enabled && body.kind === 'local') {
    issue(ctx, ['stip', 'enabled'], 'stand-in is only for remote routes', 'not_applicable')
    return null
  }
  const perTransactionMaxMinor = amountIn(
    given.perTransactionMax,
    currency,
    ctx,
    ['stip', 'perTransactionMax'],
    !given.enabled,
  )
  const dailyAmountMaxMinor = amountIn(
    given.dailyAmountMax,
    currency,
    ctx,
    ['stip', 'dailyAmountMax'],
    !given.enabled,
  )
  if (perTransactionMaxMinor === null || dailyAmountMaxMinor === null) return null
  let ok = true
  if (given.enabled && given.dailyCountMax < 1) {
    issue(ctx, ['stip', 'dailyCountMax'], 'expected at least 1 while enabled', 'too_small')
    ok = false
  }
  if (given.enabled && given.cardTypes.length === 0) {
    issue(ctx, ['stip', 'cardTypes'], 'expected debit, credit or both while enabled', 'too_small')
    ok = false
  }
  if (perTransactionMaxMinor > dailyAmountMaxMinor) {
    issue(ctx, ['stip', 'perTransactionMax'], 'expected at most dailyAmountMax', 'above_daily')
    ok = false
  }
  if (!ok) return null
  return {
    enabled: given.enabled,
    perTransactionMaxMinor,
    dailyAmountMaxMinor,
    dailyCountMax: given.dailyCountMax,
    cardTypes: [...new Set<CardType>(given.cardTypes)],
    currency: currency.alpha,
  }
}

/** Remote routes need where to connect; local routes have nowhere to connect to. */
function checkLink(body: RouteBody, ctx: z.RefinementCtx): void {
  for (const field of ['host', 'port'] as const) {
    const value = body[field]
    const given = value !== undefined && value !== null
    if (body.kind === 'remote' && !given)
      issue(
        ctx,
        [field],
        field === 'host' ? 'expected the issuer host (IPv4 or hostname)' : 'expected 1 to 65535',
        'required',
      )
    if (body.kind === 'local' && given)
      issue(ctx, [field], `a ${field} is only for remote routes`, 'not_applicable')
  }
}

/** The validated route fields, STIP in minor units; the handler adds id and timestamps. */
function routeOf<B extends RouteBody & { timeoutMs: number }>(body: B, ctx: z.RefinementCtx) {
  checkLink(body, ctx)
  const policy = stipOf(body, ctx)
  if (policy === null) return z.NEVER
  return {
    ...body,
    host: body.kind === 'remote' ? (body.host ?? null) : null,
    port: body.kind === 'remote' ? (body.port ?? null) : null,
    stip: policy,
  }
}

export const routeCreate = z
  .strictObject({ id: ROUTE_ID, ...routeFields })
  .transform((body, ctx) => routeOf(body, ctx))

/** A replacement: every field again (an omitted STIP means disabled); `id`, if sent, the path's. */
export const routeReplace = z
  .strictObject({ id: ROUTE_REF.optional(), ...routeFields })
  .transform((body, ctx) => routeOf(body, ctx))

export const routeParams = z.strictObject({ id: ROUTE_REF })

export const binParams = z.strictObject({
  prefix: z
    .string()
    .regex(
      new RegExp(`^\\d{${BIN_PREFIX_MIN},${BIN_PREFIX_MAX}}$`),
      `expected ${BIN_PREFIX_MIN} to ${BIN_PREFIX_MAX} digits`,
    ),
})

export const binPut = z.strictObject({ routeId: ROUTE_TARGET, changeNote })

export const defaultPut = z.strictObject({
  /** null: cards no prefix matches are declined (no_route_to_issuer). */
  routeId: ROUTE_TARGET.nullable(),
  changeNote,
})

export const windowCreate = z.strictObject({
  startsAt: z.iso.datetime({
    offset: true,
    error: 'expected an ISO 8601 instant, e.g. "2026-12-01T01:00:00+08:00"',
  }),
  endsAt: z.iso.datetime({
    offset: true,
    error: 'expected an ISO 8601 instant, e.g. "2026-12-01T05:00:00+08:00"',
  }),
  mode: z.enum(['stand_in', 'decline']).default('stand_in'),
  note: text('a note saying why (the bank’s notice)', WINDOW_NOTE_LENGTH_MAX),
})

export const windowParams = z.strictObject({
  windowId: z.string().regex(/^mw_[0-9A-Za-z]{1,40}$/, 'expected a window id such as mw_01J...'),
})

export const langQuery = z.strictObject({ lang: LANG.optional() })

export const outboxQuery = z.strictObject({
  lang: LANG.optional(),
  routeId: ROUTE_REF.optional(),
  kind: z.enum(ISSUER_MESSAGE_KINDS).optional(),
  status: z.enum(ISSUER_MESSAGE_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(OUTBOX_LIMIT_MAX).default(OUTBOX_LIMIT_DEFAULT),
})
