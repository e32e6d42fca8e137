import { z } from 'zod'
import { explainReason, explainTransaction, forAudience } from '../../core/explain.js'
import { AUDIENCES } from '../../core/reasons/types.js'
import { findCurrency, parseAmount } from '../../core/money.js'
import type { FollowUpKind } from '../../core/model.js'
import type { CoreRequest } from '../../core/pipeline/requests.js'
import type { RequestResult } from '../../core/pipeline/result.js'
import { REASON_CATALOGUE } from '../../core/reasons/catalogue.js'
import { REASON_CODES, type ReasonCode } from '../../core/reasons/codes.js'
import type { Lang } from '../../core/reasons/types.js'
import type { TransactionFilter } from '../../ports/store.js'
import type { HttpDeps } from './deps.js'
import { problem, validationProblem } from './problem.js'
import { LANG, type Schemas } from './schemas.js'
import {
  hasAdminToken,
  HttpProblem,
  idempotencyKeyOf,
  langOf,
  parseWith,
  type Router,
} from './server.js'
import { decisionView, rejectionExplanation, transactionView } from './views.js'

const ID_PARAMS = z.strictObject({
  id: z.string().regex(/^tx_[0-9A-Z]{26}$/, 'expected a transaction id such as tx_01J...'),
})
const LANG_QUERY = z.strictObject({ lang: LANG.optional() })
const EXPLANATION_QUERY = z.strictObject({
  lang: LANG.optional(),
  audience: z.enum(AUDIENCES).optional(),
})

/** The reason catalogue as GET /v1/reasons answers it, in one language. */
function reasonCatalogueView(lang: Lang) {
  return {
    lang,
    items: REASON_CODES.map((code) => {
      const entry = REASON_CATALOGUE[code]
      return {
        code,
        family: entry.family,
        isoCode: entry.isoCode,
        cupCode: entry.cupCode,
        title: entry.title[lang],
        explanation: entry.explanation[lang],
        remediation: {
          cardholder: entry.remediation.cardholder[lang],
          merchant: entry.remediation.merchant[lang],
          operator: entry.remediation.operator[lang],
        },
        retry: entry.retry,
      }
    }),
  }
}

/**
 * Statuses for requests the core rejected (they were not stored): a malformed field is 400 like
 * any schema error; a well-formed request naming what we do not know is 422.
 */
const REJECTION_STATUS: Partial<Record<ReasonCode, number>> = {
  original_not_found: 404,
  duplicate_mismatch: 409,
  format_error: 400,
  invalid_amount: 400,
  invalid_card_number: 400,
  unsupported_currency: 400,
}

const FOLLOW_UPS: readonly {
  readonly path: string
  readonly kind: FollowUpKind
  readonly summary: string
}[] = [
  {
    path: 'completions',
    kind: 'completion',
    summary: 'Complete a preauthorization, fully or partly (the rest of the hold is released).',
  },
  {
    path: 'voids',
    kind: 'void',
    summary: 'Void a purchase, preauthorization or completion on its business day.',
  },
  {
    path: 'reversals',
    kind: 'reversal',
    summary: 'Reverse a transaction (exactly once; a repeat gets the first answer).',
  },
  { path: 'refunds', kind: 'refund', summary: 'Refund a purchase or completion, fully or partly.' },
]

export function registerTransactionRoutes(router: Router, deps: HttpDeps, schemas: Schemas): void {
  // The catalogue is static: rendered once per language, not on every request.
  const catalogues: Readonly<Record<Lang, ReturnType<typeof reasonCatalogueView>>> = {
    en: reasonCatalogueView('en'),
    'zh-CN': reasonCatalogueView('zh-CN'),
  }
  const transactionOrNotFound = async (params: unknown) => {
    const { id } = parseWith(ID_PARAMS, params, 'path')
    const record = await deps.store.getTransaction(id)
    if (record === null)
      throw new HttpProblem(
        problem(404, 'not_found', 'No such transaction', `no transaction ${id}`),
      )
    return record
  }
  const decide = async (
    request: CoreRequest,
    lang: Lang,
  ): Promise<{ status: number; body: unknown }> => {
    const submitted = deps.authorizer.submit(request)
    if (submitted.type !== 'accepted') {
      const evidence =
        submitted.type === 'busy'
          ? { queueDepth: submitted.depth, queueMax: submitted.depthMax }
          : { why: 'shutting down' }
      const explanation = explainReason(
        'system_busy',
        'rejected',
        evidence,
        [],
        lang,
        deps.utcOffsetMinutes,
      )
      throw new HttpProblem(
        problem(503, 'system_busy', explanation.title, explanation.summary, {
          reason: { code: 'system_busy', family: 'network' },
          responseCode: explanation.responseCode,
          explanation,
        }),
        { 'retry-after': '1' },
      )
    }
    const result: RequestResult = await submitted.result
    if (result.type === 'rejected') {
      const explanation = rejectionExplanation(result, lang, deps.utcOffsetMinutes)
      const status = REJECTION_STATUS[result.reason] ?? 422
      const errors = result.errors.map((e) => ({
        field: e.field,
        code: e.code,
        message: `expected ${e.expected}`,
      }))
      const detail =
        errors.length > 0
          ? errors.map((e) => `${e.field}: ${e.message}`).join('; ')
          : explanation.summary
      throw new HttpProblem(
        problem(status, result.reason, explanation.title, detail, {
          ...(errors.length > 0 ? { errors } : {}),
          reason: { code: result.reason, family: explanation.reason?.family ?? 'data' },
          responseCode: explanation.responseCode,
          explanation,
        }),
      )
    }
    return {
      status: result.replayed ? 200 : 201,
      body: decisionView(result.transaction, result.replayed, lang, deps.utcOffsetMinutes),
    }
  }

  router.add(
    {
      method: 'POST',
      url: '/v1/authorizations',
      tag: 'transactions',
      admin: false,
      idempotent: true,
      body: schemas.authorization,
      summary:
        'Authorize a purchase, preauthorization or balance inquiry. A decline is a normal answer with its reason and explanation.',
      responses: {
        201: 'decided (approved or declined)',
        200: 'a retransmission: the original answer',
        400: 'invalid request',
        409: 'same key, different request',
        422: 'names an unknown terminal or merchant, or fails validation',
        503: 'system busy',
      },
    },
    async (request, reply) => {
      const lang = langOf(request)
      const idempotencyKey = idempotencyKeyOf(request)
      const body = parseWith(schemas.authorization, request.body, 'body', {
        lang,
        utcOffsetMinutes: deps.utcOffsetMinutes,
      })
      const core: CoreRequest = {
        type: 'new',
        kind: body.kind,
        channel: 'http',
        terminalId: body.terminalId,
        merchantId: body.merchantId,
        stan: body.stan,
        transmissionTime: body.transmissionTime ?? null,
        card: body.card,
        cardToken: deps.tokenize(body.card.pan),
        amountMinor: body.amountMinor,
        currency: body.currency.alpha,
        idempotencyKey,
        ...(body.entryMode === undefined ? {} : { entryMode: body.entryMode }),
        ...(body.terminalRegion === undefined ? {} : { reportedRegion: body.terminalRegion }),
      }
      const answer = await decide(core, lang)
      return reply.code(answer.status).send(answer.body)
    },
  )

  for (const followUp of FOLLOW_UPS) {
    router.add(
      {
        method: 'POST',
        url: `/v1/transactions/:id/${followUp.path}`,
        tag: 'transactions',
        admin: false,
        idempotent: true,
        body: schemas.followUp,
        summary: followUp.summary,
        responses: {
          201: 'decided',
          200: 'a repeat: the first answer',
          400: 'invalid request',
          404: 'no such original',
          409: 'same key, different request',
        },
      },
      async (request, reply) => {
        const lang = langOf(request)
        const { id } = parseWith(ID_PARAMS, request.params, 'path')
        const idempotencyKey = idempotencyKeyOf(request)
        const body = parseWith(schemas.followUp, request.body ?? {}, 'body', {
          lang,
          utcOffsetMinutes: deps.utcOffsetMinutes,
        })
        const original = await deps.store.getTransaction(id)
        if (original === null) {
          const explanation = explainReason(
            'original_not_found',
            'rejected',
            { originalId: id },
            [],
            lang,
            deps.utcOffsetMinutes,
          )
          throw new HttpProblem(
            problem(404, 'original_not_found', explanation.title, `no transaction ${id}`, {
              reason: { code: 'original_not_found', family: 'data' },
              responseCode: explanation.responseCode,
              explanation,
            }),
          )
        }
        let amountMinor: number | null = null
        if (body.amount !== undefined) {
          const parsed = parseAmount(body.amount, findCurrency(original.currency)?.exponent ?? 2)
          if (!parsed.ok || parsed.value === 0) {
            const message = parsed.ok
              ? 'expected an amount greater than zero'
              : `expected ${parsed.error.expected} (${original.currency})`
            throw new HttpProblem(
              problem(400, 'validation_failed', 'Invalid request body', `amount: ${message}`, {
                errors: [
                  { field: 'amount', code: parsed.ok ? 'amount_zero' : parsed.error.code, message },
                ],
              }),
            )
          }
          amountMinor = parsed.value
        }
        const answer = await decide(
          {
            type: 'follow_up',
            kind: followUp.kind,
            channel: 'http',
            originalId: id,
            stan: body.stan ?? null,
            amountMinor,
            idempotencyKey,
          },
          lang,
        )
        return reply.code(answer.status).send(answer.body)
      },
    )
  }

  router.add(
    {
      method: 'GET',
      url: '/v1/transactions',
      tag: 'transactions',
      admin: false,
      query: schemas.transactionQuery,
      summary:
        'Find transactions by terminal, merchant, time, outcome, reason, card last 4, amount, STAN or RRN; newest first.',
      responses: { 200: 'a page of transactions', 400: 'invalid filter' },
    },
    async (request) => {
      const query = parseWith(schemas.transactionQuery, request.query, 'query')
      let amountMinor: number | undefined
      if (query.amount !== undefined) {
        const currency = findCurrency(query.currency)
        const parsed = parseAmount(query.amount, currency?.exponent ?? 2)
        if (!parsed.ok)
          throw new HttpProblem(
            validationProblem(
              new z.ZodError([
                {
                  code: 'custom',
                  path: ['amount'],
                  message: parsed.error.expected,
                  input: query.amount,
                },
              ]),
              'query',
            ),
          )
        amountMinor = parsed.value
      }
      const filter: TransactionFilter = {
        limit: query.limit,
        cursor: query.cursor ?? null,
        ...(query.terminalId === undefined ? {} : { terminalId: query.terminalId }),
        ...(query.merchantId === undefined ? {} : { merchantId: query.merchantId }),
        ...(query.from === undefined ? {} : { fromMs: Date.parse(query.from) }),
        ...(query.to === undefined ? {} : { toMs: Date.parse(query.to) }),
        ...(query.outcome === undefined ? {} : { outcome: query.outcome }),
        ...(query.reason === undefined ? {} : { reason: query.reason }),
        ...(query.kind === undefined ? {} : { kind: query.kind }),
        ...(query.cardLast4 === undefined ? {} : { cardLast4: query.cardLast4 }),
        ...(amountMinor === undefined ? {} : { amountMinor }),
        ...(query.stan === undefined ? {} : { stan: query.stan }),
        ...(query.rrn === undefined ? {} : { rrn: query.rrn }),
      }
      const page = await deps.store.listTransactions(filter)
      return { items: page.items.map(transactionView), nextCursor: page.nextCursor }
    },
  )

  router.add(
    {
      method: 'GET',
      url: '/v1/transactions/:id',
      tag: 'transactions',
      admin: false,
      summary: 'One transaction with its follow-ups.',
      responses: { 200: 'the transaction', 404: 'no such transaction' },
    },
    async (request) => {
      const record = await transactionOrNotFound(request.params)
      const followUps = await deps.store.listFollowUps(record.id)
      return { ...transactionView(record), followUps: followUps.map(transactionView) }
    },
  )

  router.add(
    {
      method: 'GET',
      url: '/v1/transactions/:id/explanation',
      tag: 'transactions',
      admin: false,
      query: EXPLANATION_QUERY,
      summary:
        'Why a transaction was approved or blocked: reason, evidence, checks, and what each person should do. ?audience=merchant leaves out risk-rule internals; ?audience=cardholder gives only what a cardholder may be told.',
      responses: { 200: 'the explanation', 404: 'no such transaction' },
    },
    async (request) => {
      const lang = langOf(request)
      // Rule internals are for staff: the operator's view needs the administrator's token, and
      // without one the explanation is the merchant's.
      const staff = hasAdminToken(request, deps)
      const asked = parseWith(EXPLANATION_QUERY, request.query, 'query').audience
      if (asked === 'operator' && !staff)
        throw new HttpProblem(
          problem(
            401,
            'unauthorized',
            'Administrator token required',
            'audience=operator shows risk-rule internals: send Authorization: Bearer <token>, or ask for audience=merchant or cardholder',
          ),
          { 'www-authenticate': 'Bearer' },
        )
      const audience = asked ?? (staff ? 'operator' : 'merchant')
      const record = await transactionOrNotFound(request.params)
      const explanation = forAudience(
        explainTransaction(record, lang, deps.utcOffsetMinutes),
        audience,
      )
      return {
        transactionId: record.id,
        audience,
        ...(audience === 'cardholder' ? {} : { transaction: transactionView(record) }),
        ...explanation,
      }
    },
  )

  router.add(
    {
      method: 'GET',
      url: '/v1/reasons',
      tag: 'reasons',
      admin: false,
      query: LANG_QUERY,
      summary:
        'The reason catalogue: every code Tollgate can decline with, its response codes, text and remediation.',
      responses: { 200: 'the catalogue' },
    },
    (request) => catalogues[langOf(request)],
  )
}
