import { compileRuleSet } from '../../core/risk/engine.js'
import { DEFAULT_RISK_SETTINGS } from '../../core/risk/rules.js'
import { auditBuilder } from './audit.js'
import type { FastifyRequest } from 'fastify'
import type { z } from 'zod'
import { explainTransaction } from '../../core/explain.js'
import type { ListEntry } from '../../core/model.js'
import {
  checkExpression,
  referencedFeatures,
  type ExpressionError,
} from '../../core/risk/engine.js'
import { FEATURES } from '../../core/risk/features.js'
import type { ReviewItem } from '../../core/risk/review.js'
import { RULES_LIVE_MAX, type RiskRule, type RuleStatus } from '../../core/risk/rules.js'
import type { Lang } from '../../core/reasons/types.js'
import type { AuditEntry, WriteResult } from '../../ports/store.js'
import type { HttpDeps } from './deps.js'
import { fieldProblems, problem, type FieldProblem } from './problem.js'
import * as S from './schemas-risk.js'
import { HttpProblem, langOf, parseWith, type Router } from './server.js'
import { listEntryView, transactionView } from './views.js'
import { featureView, reviewView, ruleView, settingsView } from './views-risk.js'

/**
 * Risk control over HTTP, all behind the administrator token: the feature catalogue, checking
 * an expression, versioned rules and their lifecycle, the settings, and the review queue. Every
 * change names who made it (`X-Tollgate-Actor`, default `admin`) and why (a change note), and
 * commits with its audit entry.
 */

const R = { 200: 'ok', 400: 'invalid request', 401: 'administrator token required' }
const NOT_FOUND = { 404: 'not found' }
const CONFLICT = { 409: 'conflict: reload and try again' }
const ACTOR_NOTE = ' Send X-Tollgate-Actor to name the analyst (default admin).'

const isLive = (status: RuleStatus): boolean => status === 'active' || status === 'shadow'

/** The analyst named by `X-Tollgate-Actor`, or `admin`. */
export function actorOf(request: FastifyRequest): string {
  const value = request.headers[S.ACTOR_HEADER]
  if (value === undefined) return S.ACTOR_DEFAULT
  const parsed = S.ACTOR.safeParse(value)
  if (parsed.success) return parsed.data
  const message = 'expected 1 to 64 letters, digits or . _ @ -'
  throw new HttpProblem(
    problem(400, 'validation_failed', 'Invalid X-Tollgate-Actor', `X-Tollgate-Actor: ${message}`, {
      errors: [{ field: 'X-Tollgate-Actor', code: 'invalid_header', message }],
    }),
  )
}

type ExpressionProblem = FieldProblem & Omit<ExpressionError, 'message'>

function expressionProblem(error: ExpressionError): ExpressionProblem {
  return {
    field: 'expression',
    code: 'invalid_expression',
    message: error.message,
    offset: error.offset,
    line: error.line,
    column: error.column,
  }
}

function where(error: ExpressionError): string {
  return error.line === null ? '' : ` (line ${error.line}, column ${String(error.column)})`
}

/**
 * Parses a rule body and checks its expression, collecting every field's error (the schema's and
 * the expression's) into one 400 answer: nothing is stored unless all are right.
 */
function parseRuleBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const result = schema.safeParse(body)
  const errors: FieldProblem[] = result.success ? [] : fieldProblems(result.error, 'body')
  const text =
    typeof body === 'object' && body !== null && 'expression' in body ? body.expression : undefined
  const invalid = typeof text === 'string' ? checkExpression(text) : null
  if (invalid !== null && !errors.some((e) => e.field === 'expression'))
    errors.push(expressionProblem(invalid))
  if (result.success && errors.length === 0) return result.data
  const detail = errors
    .map(
      (e) =>
        `${e.field}: ${e.message}${e.code === 'invalid_expression' && invalid !== null ? where(invalid) : ''}`,
    )
    .join('; ')
  throw new HttpProblem(
    problem(400, 'validation_failed', 'Invalid request body', detail, { errors }),
  )
}

function notFound(what: string, id: string): never {
  throw new HttpProblem(problem(404, 'not_found', `No such ${what}`, `no ${what} ${id}`))
}

function conflict(title: string, detail: string): never {
  throw new HttpProblem(problem(409, 'conflict', title, detail))
}

function ensureWritten(result: WriteResult, title: string): void {
  if (result.ok) return
  if (result.code === 'conflict') conflict(title, result.message)
  throw new HttpProblem(problem(404, 'not_found', title, result.message))
}

function staleVersion(newest: RiskRule, baseVersion: number): never {
  conflict(
    'Rule changed meanwhile',
    `rule ${newest.id} is at version ${newest.version} (by ${newest.author}); this change was made to version ${baseVersion}: reload and try again`,
  )
}

const RULE_FIELDS = [
  'status',
  'name',
  'expression',
  'action',
  'reason',
  'score',
  'priority',
] as const satisfies readonly (keyof RiskRule)[]

/** What a new version changed, as the audit entry keeps it. */
function ruleChanges(before: RiskRule, after: RiskRule) {
  const from: Record<string, unknown> = {}
  const to: Record<string, unknown> = {}
  for (const key of RULE_FIELDS) {
    if (before[key] !== after[key]) {
      from[key] = before[key]
      to[key] = after[key]
    }
  }
  for (const lang of ['zh-CN', 'en'] as const) {
    if (before.description[lang] !== after.description[lang]) {
      from[`description.${lang}`] = before.description[lang]
      to[`description.${lang}`] = after.description[lang]
    }
  }
  return { before: from, after: to }
}

export function registerRiskRoutes(router: Router, deps: HttpDeps): void {
  const risk = deps.store.risk
  const audit = auditBuilder(deps)
  // The catalogue is static: rendered once per language.
  const features: Readonly<Record<Lang, unknown>> = {
    en: { lang: 'en', items: FEATURES.map((f) => featureView(f, 'en')) },
    'zh-CN': { lang: 'zh-CN', items: FEATURES.map((f) => featureView(f, 'zh-CN')) },
  }
  const newestOf = async (id: string): Promise<{ newest: RiskRule; versions: RiskRule[] }> => {
    const versions = [...(await risk.ruleHistory(id))]
    const newest = versions.at(-1) ?? notFound('rule', id)
    return { newest, versions }
  }
  /** Live rules (active and shadow) are bounded: the engine runs every one on every sale. */
  const ensureLiveRoom = async (): Promise<void> => {
    const live = (await risk.listRules()).filter((r) => isLive(r.status)).length
    if (live >= RULES_LIVE_MAX)
      throw new HttpProblem(
        problem(
          409,
          'risk_rules_max',
          'Too many live rules',
          `at most ${RULES_LIVE_MAX} rules may be active or in shadow: disable one first`,
        ),
      )
  }

  router.add(
    {
      method: 'GET',
      url: '/v1/risk/features',
      tag: 'risk',
      admin: true,
      query: S.langQuery,
      summary: 'The features a rule expression may read: name, type, group, money, label.',
      responses: R,
    },
    (request) => features[langOf(request)],
  )

  router.add(
    {
      method: 'POST',
      url: '/v1/risk/rules/check',
      tag: 'risk',
      admin: true,
      body: S.expressionCheck,
      summary:
        'Check an expression as the engine would run it: valid with the features it reads, or the error and where.',
      responses: R,
    },
    (request) => {
      const { expression } = parseWith(S.expressionCheck, request.body, 'body')
      const error = checkExpression(expression)
      return error === null
        ? { valid: true, features: referencedFeatures(expression) }
        : { valid: false, error }
    },
  )

  router.add(
    {
      method: 'GET',
      url: '/v1/risk/rules',
      tag: 'risk',
      admin: true,
      summary:
        'The newest version of every rule, by priority then id; `notRunning` lists live rules the engine left out because they no longer compile.',
      responses: R,
    },
    async () => {
      const rules = await risk.listRules()
      // A live rule that no longer compiles (a feature removed by an upgrade) is left out of the
      // live set by the engine: the operator must see it here, not discover it by its silence.
      const { failures } = compileRuleSet(rules, DEFAULT_RISK_SETTINGS, 0)
      return {
        items: rules.map(ruleView),
        notRunning: failures.map((f) => ({ ruleId: f.ruleId, message: f.detail.message })),
      }
    },
  )

  router.add(
    {
      method: 'POST',
      url: '/v1/risk/rules',
      tag: 'risk',
      admin: true,
      actor: true,
      body: S.ruleCreate,
      summary:
        'Add a rule (version 1, draft or shadow). An invalid expression is refused with its position and nothing is stored.' +
        ACTOR_NOTE,
      responses: { ...R, 201: 'created', ...CONFLICT },
    },
    async (request, reply) => {
      const actor = actorOf(request)
      const body = parseRuleBody(S.ruleCreate, request.body)
      if ((await risk.ruleHistory(body.id)).length > 0)
        conflict(
          'Rule already exists',
          `rule ${body.id} exists: change it with PUT /v1/risk/rules/${body.id}`,
        )
      if (isLive(body.status)) await ensureLiveRoom()
      const rule: RiskRule = {
        id: body.id,
        version: 1,
        status: body.status,
        name: body.name,
        expression: body.expression,
        action: body.action,
        reason: body.action === 'block' ? (body.reason ?? 'suspected_fraud') : null,
        score: body.action === 'score' ? (body.score ?? 0) : 0,
        priority: body.priority ?? S.RULE_PRIORITY_DEFAULT,
        description: body.description,
        author: actor,
        changeNote: body.changeNote,
        createdAtMs: deps.clock.nowMs(),
      }
      const entry = audit(actor, 'risk_rule.create', rule.id, {
        version: 1,
        note: rule.changeNote,
        rule: ruleView(rule),
      })
      ensureWritten(await risk.putRule(rule, entry), 'Rule already exists')
      return reply.code(201).send(ruleView(rule))
    },
  )

  router.add(
    {
      method: 'GET',
      url: '/v1/risk/rules/:id',
      tag: 'risk',
      admin: true,
      summary: 'One rule: its newest version and every version, oldest first.',
      responses: { ...R, ...NOT_FOUND },
    },
    async (request) => {
      const { id } = parseWith(S.ruleIdParams, request.params, 'path')
      const { newest, versions } = await newestOf(id)
      return { rule: ruleView(newest), versions: versions.map(ruleView) }
    },
  )

  router.add(
    {
      method: 'PUT',
      url: '/v1/risk/rules/:id',
      tag: 'risk',
      admin: true,
      actor: true,
      body: S.ruleUpdate,
      summary:
        'Change a rule: a new version made from baseVersion (the newest, else 409). Status is unchanged unless given; an omitted reason, score or priority keeps its value.' +
        ACTOR_NOTE,
      responses: { ...R, ...NOT_FOUND, ...CONFLICT },
    },
    async (request) => {
      const actor = actorOf(request)
      const { id } = parseWith(S.ruleIdParams, request.params, 'path')
      const body = parseRuleBody(S.ruleUpdate, request.body)
      const { newest } = await newestOf(id)
      if (body.baseVersion !== newest.version) staleVersion(newest, body.baseVersion)
      const score =
        body.action !== 'score'
          ? 0
          : (body.score ?? (newest.action === 'score' ? newest.score : undefined))
      if (score === undefined) {
        const message = 'expected the points a score rule adds'
        throw new HttpProblem(
          problem(400, 'validation_failed', 'Invalid request body', `score: ${message}`, {
            errors: [{ field: 'score', code: 'required', message }],
          }),
        )
      }
      const status = body.status ?? newest.status
      if (isLive(status) && !isLive(newest.status)) await ensureLiveRoom()
      const rule: RiskRule = {
        id,
        version: body.baseVersion + 1,
        status,
        name: body.name,
        expression: body.expression,
        action: body.action,
        reason:
          body.action !== 'block'
            ? null
            : (body.reason ??
              (newest.action === 'block' ? newest.reason : null) ??
              'suspected_fraud'),
        score,
        priority: body.priority ?? newest.priority,
        description: body.description,
        author: actor,
        changeNote: body.changeNote,
        createdAtMs: deps.clock.nowMs(),
      }
      const entry = audit(actor, 'risk_rule.update', id, {
        version: rule.version,
        baseVersion: body.baseVersion,
        note: rule.changeNote,
        ...ruleChanges(newest, rule),
      })
      ensureWritten(await risk.putRule(rule, entry), 'Rule changed meanwhile')
      return ruleView(rule)
    },
  )

  router.add(
    {
      method: 'POST',
      url: '/v1/risk/rules/:id/status',
      tag: 'risk',
      admin: true,
      actor: true,
      body: S.ruleStatus,
      summary:
        'Move a rule between draft, shadow, active and disabled: a new version, audited with the note. Activating re-checks the expression.' +
        ACTOR_NOTE,
      responses: { ...R, ...NOT_FOUND, ...CONFLICT, 422: 'the expression no longer checks' },
    },
    async (request) => {
      const actor = actorOf(request)
      const { id } = parseWith(S.ruleIdParams, request.params, 'path')
      const body = parseWith(S.ruleStatus, request.body, 'body')
      const { newest } = await newestOf(id)
      if (body.baseVersion !== newest.version) staleVersion(newest, body.baseVersion)
      if (body.status === 'active') {
        const invalid = checkExpression(newest.expression)
        if (invalid !== null)
          throw new HttpProblem(
            problem(
              422,
              'invalid_expression',
              'The rule cannot be activated',
              `expression of version ${newest.version}: ${invalid.message}${where(invalid)}`,
              { errors: [expressionProblem(invalid)] },
            ),
          )
      }
      if (isLive(body.status) && !isLive(newest.status)) await ensureLiveRoom()
      const rule: RiskRule = {
        ...newest,
        version: body.baseVersion + 1,
        status: body.status,
        author: actor,
        changeNote: body.changeNote,
        createdAtMs: deps.clock.nowMs(),
      }
      const entry = audit(actor, 'risk_rule.status', id, {
        version: rule.version,
        baseVersion: body.baseVersion,
        note: rule.changeNote,
        before: { status: newest.status },
        after: { status: rule.status },
      })
      ensureWritten(await risk.putRule(rule, entry), 'Rule changed meanwhile')
      return ruleView(rule)
    },
  )

  router.add(
    {
      method: 'GET',
      url: '/v1/risk/settings',
      tag: 'risk',
      admin: true,
      summary: 'Score thresholds, the reason a score block gives, and what a failing rule does.',
      responses: R,
    },
    async () => settingsView(await risk.getSettings()),
  )

  router.add(
    {
      method: 'PUT',
      url: '/v1/risk/settings',
      tag: 'risk',
      admin: true,
      actor: true,
      body: S.settings,
      summary:
        'Replace the settings: reviewScore, blockScore (above reviewScore), scoreBlockReason, onRuleError (ignore, review or block).' +
        ACTOR_NOTE,
      responses: R,
    },
    async (request) => {
      const actor = actorOf(request)
      const { changeNote, ...next } = parseWith(S.settings, request.body, 'body')
      const before = await risk.getSettings()
      const entry = audit(actor, 'risk_settings.update', 'risk_settings', {
        note: changeNote,
        before: settingsView(before),
        after: next,
      })
      ensureWritten(await risk.putSettings(next, entry), 'Settings not saved')
      return settingsView(next)
    },
  )

  registerReviewRoutes(router, deps, audit)
}

type Audit = (
  actor: string,
  action: string,
  subject: string,
  detail: Record<string, unknown>,
) => AuditEntry

/** Who holds an item, in words for a 409. */
function holder(item: ReviewItem): string {
  if (item.status === 'resolved')
    return `resolved as ${item.resolution ?? '?'} by ${item.resolvedBy ?? '?'}`
  if (item.status === 'claimed') return `claimed by ${item.claimedBy ?? '?'}`
  return 'open (not claimed)'
}

function registerReviewRoutes(router: Router, deps: HttpDeps, audit: Audit): void {
  const risk = deps.store.risk
  const itemOf = async (params: unknown): Promise<ReviewItem> => {
    const { transactionId } = parseWith(S.reviewParams, params, 'path')
    return (await risk.getReview(transactionId)) ?? notFound('review of transaction', transactionId)
  }
  /** Writes the item's next state if it is still in `expected`, with its audit entry. */
  const move = async (
    next: ReviewItem,
    before: ReviewItem,
    listEntry: ListEntry | null,
    entry: AuditEntry,
  ): Promise<void> => {
    const expected = { status: before.status, claimedBy: before.claimedBy }
    ensureWritten(
      await risk.updateReview(next, expected, listEntry, entry),
      'Review changed meanwhile',
    )
  }
  const claimedByActor = (item: ReviewItem, actor: string, what: string): void => {
    if (item.status === 'claimed' && item.claimedBy === actor) return
    conflict(
      `Cannot ${what} this review`,
      `the review of ${item.transactionId} is ${holder(item)}; only the analyst who claimed it may ${what} it`,
    )
  }
  const RR = { ...R, ...NOT_FOUND, ...CONFLICT }

  router.add(
    {
      method: 'GET',
      url: '/v1/risk/reviews',
      tag: 'risk',
      admin: true,
      query: S.reviewQuery,
      summary: 'The review queue, oldest first; filter by status (open, claimed, resolved).',
      responses: R,
    },
    async (request) => {
      const query = parseWith(S.reviewQuery, request.query, 'query')
      const page = await risk.listReviews({
        limit: query.limit,
        cursor: query.cursor ?? null,
        ...(query.status === undefined ? {} : { status: query.status }),
      })
      return { items: page.items.map(reviewView), nextCursor: page.nextCursor }
    },
  )

  router.add(
    {
      method: 'GET',
      url: '/v1/risk/reviews/:transactionId',
      tag: 'risk',
      admin: true,
      query: S.langQuery,
      summary: 'One review item with its transaction and the explanation for the operator.',
      responses: { ...R, ...NOT_FOUND },
    },
    async (request) => {
      const lang = langOf(request)
      const item = await itemOf(request.params)
      const record = await deps.store.getTransaction(item.transactionId)
      return {
        review: reviewView(item),
        transaction: record === null ? null : transactionView(record),
        explanation:
          record === null ? null : explainTransaction(record, lang, deps.utcOffsetMinutes),
      }
    },
  )

  router.add(
    {
      method: 'POST',
      url: '/v1/risk/reviews/:transactionId/claim',
      tag: 'risk',
      admin: true,
      actor: true,
      body: S.reviewAction,
      summary: 'Claim an open review item (one analyst at a time).' + ACTOR_NOTE,
      responses: RR,
    },
    async (request) => {
      const actor = actorOf(request)
      const { note } = parseWith(S.reviewAction, request.body ?? {}, 'body')
      const item = await itemOf(request.params)
      // Claiming again what one holds already changes nothing.
      if (item.status === 'claimed' && item.claimedBy === actor) return reviewView(item)
      if (item.status !== 'open')
        conflict('Review not open', `the review of ${item.transactionId} is ${holder(item)}`)
      const next: ReviewItem = {
        ...item,
        status: 'claimed',
        claimedBy: actor,
        claimedAtMs: deps.clock.nowMs(),
      }
      const entry = audit(actor, 'risk_review.claim', item.transactionId, { note: note ?? null })
      await move(next, item, null, entry)
      return reviewView(next)
    },
  )

  router.add(
    {
      method: 'POST',
      url: '/v1/risk/reviews/:transactionId/release',
      tag: 'risk',
      admin: true,
      actor: true,
      body: S.reviewAction,
      summary: 'Release a claimed review item back to the queue (only its claimer).' + ACTOR_NOTE,
      responses: RR,
    },
    async (request) => {
      const actor = actorOf(request)
      const { note } = parseWith(S.reviewAction, request.body ?? {}, 'body')
      const item = await itemOf(request.params)
      claimedByActor(item, actor, 'release')
      const next: ReviewItem = { ...item, status: 'open', claimedBy: null, claimedAtMs: null }
      const entry = audit(actor, 'risk_review.release', item.transactionId, { note: note ?? null })
      await move(next, item, null, entry)
      return reviewView(next)
    },
  )

  router.add(
    {
      method: 'POST',
      url: '/v1/risk/reviews/:transactionId/resolve',
      tag: 'risk',
      admin: true,
      actor: true,
      body: S.reviewResolve,
      summary:
        'Resolve a claimed item as fraud (the card goes on the block list) or genuine (on the allow list), in one transaction.' +
        ACTOR_NOTE,
      responses: RR,
    },
    async (request) => {
      const actor = actorOf(request)
      const body = parseWith(S.reviewResolve, request.body, 'body')
      const item = await itemOf(request.params)
      const now = deps.clock.nowMs()
      if (body.listExpiresAtMs !== null && body.listExpiresAtMs <= now) {
        const message = 'expected a time in the future (milliseconds since 1970), or null'
        throw new HttpProblem(
          problem(400, 'validation_failed', 'Invalid request body', `listExpiresAtMs: ${message}`, {
            errors: [{ field: 'listExpiresAtMs', code: 'not_in_future', message }],
          }),
        )
      }
      claimedByActor(item, actor, 'resolve')
      const listEntry: ListEntry | null =
        body.list && item.cardToken !== null
          ? {
              id: deps.ids.entityId('le'),
              list: body.resolution === 'fraud' ? 'block' : 'allow',
              kind: 'card',
              value: item.cardToken,
              display: item.cardMasked ?? item.cardToken,
              note: `${body.note} (review of ${item.transactionId}: ${body.resolution})`,
              expiresAtMs: body.listExpiresAtMs,
              createdBy: actor,
              createdAtMs: now,
            }
          : null
      const next: ReviewItem = {
        ...item,
        status: 'resolved',
        resolution: body.resolution,
        resolutionNote: body.note,
        resolvedBy: actor,
        resolvedAtMs: now,
      }
      const entry = audit(actor, 'risk_review.resolve', item.transactionId, {
        resolution: body.resolution,
        note: body.note,
        listEntryId: listEntry?.id ?? null,
        list: listEntry?.list ?? null,
        card: item.cardMasked,
      })
      await move(next, item, listEntry, entry)
      return {
        review: reviewView(next),
        listEntry: listEntry === null ? null : listEntryView(listEntry),
      }
    },
  )
}
