import type { Socket } from 'node:net'
import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify'
import type { z } from 'zod'
import { explainReason } from '../../core/explain.js'
import type { ReasonCode } from '../../core/reasons/codes.js'
import type { Lang } from '../../core/reasons/types.js'
import { PAGE_LIMIT_MAX, StoreInputError } from '../../ports/store.js'
import { cardNumberField } from './card-guard.js'
import type { HttpDeps } from './deps.js'
import { openApiDocument, type RouteDoc } from './openapi.js'
import { problem, validationProblem, type Problem } from './problem.js'
import { registerAdminRoutes } from './routes-admin.js'
import { registerBacktestRoutes } from './routes-backtests.js'
import { registerRiskRoutes } from './routes-risk.js'
import { registerRoutingRoutes } from './routes-routing.js'
import { registerTransactionRoutes } from './routes-transactions.js'
import { buildSchemas } from './schemas.js'

export const API_VERSION = '0.1.0'
const IDEMPOTENCY_KEY_MAX = 128
/** The longest path parameter (a card token or transaction id is far shorter). */
const MAX_PARAM_LENGTH = 200

/** Thrown inside handlers to answer with a problem; the error handler renders it. */
export class HttpProblem extends Error {
  constructor(
    readonly problem: Problem,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(problem.detail)
  }
}

export type Handler = (request: FastifyRequest, reply: FastifyReply) => unknown

/** Registers routes and remembers them for /openapi.json. */
export interface Router {
  add(doc: RouteDoc, handler: Handler): void
  readonly routes: readonly RouteDoc[]
}

export function parseWith<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: 'body' | 'query' | 'path',
  explain?: ExplainContext,
): z.output<S> {
  const result = schema.safeParse(value ?? (where === 'body' ? undefined : {}))
  if (!result.success) {
    const base = validationProblem(result.error, where)
    if (explain === undefined) throw new HttpProblem(base)
    // A rejected transaction still gets its reason and explanation, as a terminal would.
    const reason = reasonOfFieldErrors(base.errors ?? [])
    const explanation = explainReason(
      reason,
      'rejected',
      { fields: (base.errors ?? []).map((e) => e.field).join(', ') },
      [],
      explain.lang,
      explain.utcOffsetMinutes,
    )
    throw new HttpProblem({
      ...base,
      reason: { code: reason, family: explanation.reason?.family ?? 'data' },
      responseCode: explanation.responseCode,
      explanation,
    })
  }
  return result.data
}

export interface ExplainContext {
  readonly lang: Lang
  readonly utcOffsetMinutes: number
}

/** The reason a terminal would be given for a request with these field errors. */
export function reasonOfFieldErrors(
  errors: readonly { readonly field: string; readonly code: string }[],
): ReasonCode {
  if (errors.some((e) => e.field === 'card.pan' || e.field === 'pan')) return 'invalid_card_number'
  if (errors.some((e) => e.field === 'amount')) return 'invalid_amount'
  if (errors.some((e) => e.field === 'currency')) return 'unsupported_currency'
  return 'format_error'
}

/** The language asked for: ?lang=, then Accept-Language, then English. */
/** Whether the request carries the administrator's bearer token. */
export function hasAdminToken(
  request: FastifyRequest,
  deps: Pick<HttpDeps, 'isAdminToken'>,
): boolean {
  const header = request.headers.authorization
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null
  return match !== null && match[1] !== undefined && deps.isAdminToken(match[1])
}

export function langOf(request: FastifyRequest): Lang {
  const query = request.query as Record<string, unknown> | undefined
  const asked = typeof query?.lang === 'string' ? query.lang : undefined
  if (asked === 'zh-CN' || asked === 'en') return asked
  if (asked !== undefined) {
    throw new HttpProblem(
      problem(400, 'validation_failed', 'Invalid request query', 'lang: expected "zh-CN" or "en"', {
        errors: [{ field: 'lang', code: 'invalid_value', message: 'expected "zh-CN" or "en"' }],
      }),
    )
  }
  const header = request.headers['accept-language']
  return typeof header === 'string' && /^\s*zh/i.test(header) ? 'zh-CN' : 'en'
}

/** The language asked for, or English when the ask itself is malformed. */
function safeLangOf(request: FastifyRequest): Lang {
  try {
    return langOf(request)
  } catch {
    return 'en'
  }
}

export function idempotencyKeyOf(request: FastifyRequest): string | null {
  const value = request.headers['idempotency-key']
  if (value === undefined) return null
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > IDEMPOTENCY_KEY_MAX ||
    !/^[\x21-\x7e]+$/.test(value)
  ) {
    throw new HttpProblem(
      problem(
        400,
        'validation_failed',
        'Invalid Idempotency-Key',
        `Idempotency-Key: expected 1 to ${IDEMPOTENCY_KEY_MAX} visible ASCII characters`,
        {
          errors: [
            {
              field: 'Idempotency-Key',
              code: 'invalid_header',
              message: `expected 1 to ${IDEMPOTENCY_KEY_MAX} visible ASCII characters`,
            },
          ],
        },
      ),
    )
  }
  return `http:${value}`
}

/**
 * Builds the HTTP API. Limits are set explicitly (body size, request timeout, connections);
 * validation is zod at the edge; every error is problem+json naming the field.
 */
export function buildHttpServer(deps: HttpDeps) {
  const app = Fastify({
    loggerInstance: deps.logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.limits.bodyLimitBytes,
    requestTimeout: deps.limits.requestTimeoutMs,
    connectionTimeout: deps.limits.requestTimeoutMs,
    keepAliveTimeout: 5_000,
    maxRequestsPerSocket: 0,
    return503OnClosing: true,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    forceCloseConnections: 'idle',
    // Request logging stays off (disableRequestLogging above): a request line would put the URL,
    // which may hold a card number, in the log. These two options close Fastify's other paths
    // that quote a URL: its answer to an unparseable URL, and its trace of a client error.
    frameworkErrors: (error, _request, reply) => {
      const answer = frameworkProblem(error.code)
      void (reply as FastifyReply).code(answer.status).type('application/problem+json').send(answer)
    },
    clientErrorHandler: (error, socket) => answerClientError(error, socket, deps.logger),
  })
  app.server.maxConnections = deps.limits.connectionsMax
  app.server.headersTimeout = deps.limits.requestTimeoutMs
  const schemas = buildSchemas(deps.bins, deps.mccs)
  const routes: RouteDoc[] = []

  const authenticate = (request: FastifyRequest): void => {
    if (!hasAdminToken(request, deps)) {
      throw new HttpProblem(
        problem(
          401,
          'unauthorized',
          'Administrator token required',
          'send Authorization: Bearer <token> (TOLLGATE_ADMIN_TOKEN, or the token printed at first start)',
        ),
        { 'www-authenticate': 'Bearer' },
      )
    }
  }

  /** A card number anywhere but a `pan` field would be stored in clear: refused, nothing done. */
  const refuseCardNumbers = (request: FastifyRequest): void => {
    const key = request.headers['idempotency-key']
    const field =
      cardNumberField(request.body, deps.bins) ??
      (typeof key === 'string' && cardNumberField(key, deps.bins) !== null
        ? 'Idempotency-Key'
        : null)
    if (field === null) return
    const message =
      'must not contain a card number (it would be stored in clear): name a card by its token (tok_…) or its last four digits; send a card number only in a pan field'
    throw new HttpProblem(
      problem(
        400,
        'validation_failed',
        'A card number where none belongs',
        `${field}: ${message}`,
        {
          errors: [{ field, code: 'card_number_not_allowed', message }],
        },
      ),
    )
  }

  const router: Router = {
    routes,
    add(doc, handler) {
      routes.push(doc)
      app.route({
        method: doc.method,
        url: doc.url,
        handler: (request, reply) => {
          if (doc.admin) authenticate(request)
          refuseCardNumbers(request)
          return handler(request, reply)
        },
      })
    },
  }

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'
    deps.metrics.httpRequests.inc({
      route,
      method: request.method,
      status: String(reply.statusCode),
    })
    deps.metrics.httpSeconds.observe(reply.elapsedTime / 1000, { route })
  })

  app.setErrorHandler(async (error: unknown, request, reply) => {
    if (error instanceof HttpProblem) {
      for (const [name, value] of Object.entries(error.headers)) void reply.header(name, value)
      return reply.code(error.problem.status).type('application/problem+json').send(error.problem)
    }
    const fastifyError = error as { code?: string; statusCode?: number; message?: string }
    const status = fastifyError.statusCode ?? 500
    if (error instanceof StoreInputError) {
      const message =
        error.field === 'cursor'
          ? 'expected a nextCursor from an earlier page of this list'
          : `expected an integer from 1 to ${PAGE_LIMIT_MAX}`
      return reply
        .code(400)
        .type('application/problem+json')
        .send(
          problem(400, 'validation_failed', 'Invalid request query', `${error.field}: ${message}`, {
            errors: [{ field: error.field, code: error.code, message }],
          }),
        )
    }
    if (status >= 500) {
      request.log.error({ err: error, route: request.routeOptions.url }, 'request failed')
      // Even a failure is a reason with remediation: a terminal or cashier must know what to do.
      const explanation = explainReason(
        'system_error',
        'rejected',
        {},
        [],
        safeLangOf(request),
        deps.utcOffsetMinutes,
      )
      return reply
        .code(status === 503 ? 503 : 500)
        .type('application/problem+json')
        .send(
          problem(
            status === 503 ? 503 : 500,
            'internal_error',
            'Internal error',
            'the request could not be completed; nothing was half-written (each decision commits atomically)',
            {
              reason: { code: 'system_error', family: 'system' },
              responseCode: explanation.responseCode,
              explanation,
            },
          ),
        )
    }
    const detail = describeClientError(
      fastifyError.code,
      fastifyError.message ?? 'bad request',
      deps.limits.bodyLimitBytes,
    )
    return reply
      .code(status)
      .type('application/problem+json')
      .send(
        problem(
          status,
          detail.code,
          detail.title,
          detail.detail,
          detail.errors === undefined ? {} : { errors: detail.errors },
        ),
      )
  })

  app.setNotFoundHandler(async (request, reply) =>
    reply
      .code(404)
      .type('application/problem+json')
      .send(
        problem(
          404,
          'not_found',
          'No such route',
          // The path is not repeated: it may carry a card number.
          `no ${request.method} route matches this path; see /openapi.json for the routes`,
        ),
      ),
  )

  registerTransactionRoutes(router, deps, schemas)
  registerAdminRoutes(router, deps, schemas)
  registerRiskRoutes(router, deps)
  registerBacktestRoutes(router, deps)
  registerRoutingRoutes(router, deps)

  router.add(
    {
      method: 'GET',
      url: '/healthz',
      summary: 'Liveness: the process answers.',
      tag: 'operations',
      admin: false,
      responses: { 200: 'alive' },
    },
    () => ({ status: 'ok' }),
  )
  router.add(
    {
      method: 'GET',
      url: '/readyz',
      summary: 'Readiness: the store is open and the queue accepts work.',
      tag: 'operations',
      admin: false,
      responses: { 200: 'ready', 503: 'not ready' },
    },
    (_request, reply) => {
      if (!deps.isReady()) return reply.code(503).send({ status: 'not_ready' })
      return { status: 'ready', queueDepth: deps.authorizer.depth }
    },
  )
  router.add(
    {
      method: 'GET',
      url: '/metrics',
      summary: 'Prometheus metrics.',
      tag: 'operations',
      admin: false,
      responses: { 200: 'text exposition format' },
    },
    (_request, reply) =>
      reply.type('text/plain; version=0.0.4').send(deps.metrics.registry.render()),
  )
  const document = openApiDocument(routes, API_VERSION)
  app.get('/openapi.json', () => document)
  return app
}

function describeClientError(
  code: string | undefined,
  message: string,
  bodyLimitBytes: number,
): {
  code: string
  title: string
  detail: string
  errors?: { field: string; code: string; message: string }[]
} {
  switch (code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return {
        code: 'malformed_json',
        title: 'Malformed JSON',
        detail: `the body is not valid JSON: ${message}`,
        errors: [{ field: '(body)', code: 'malformed_json', message }],
      }
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        code: 'body_too_large',
        title: 'Body too large',
        detail: `the body exceeds ${bodyLimitBytes} bytes`,
        errors: [
          { field: '(body)', code: 'body_too_large', message: `at most ${bodyLimitBytes} bytes` },
        ],
      }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        code: 'unsupported_media_type',
        title: 'Unsupported media type',
        detail: 'send the body as application/json',
      }
    case undefined:
    default:
      return { code: 'bad_request', title: 'Bad request', detail: message }
  }
}

/**
 * The problem for a request Fastify refuses before routing. Fastify's own answer quotes the
 * URL ("'/v1/transactions/<pan>%E0%A4%A' is not a valid url component"); this one never does.
 */
function frameworkProblem(code: string): Problem {
  switch (code) {
    case 'FST_ERR_BAD_URL': {
      const message = 'expected valid percent-encoding of UTF-8 text (e.g. %E4%B8%AD)'
      return problem(400, 'malformed_url', 'Malformed URL', `the URL path: ${message}`, {
        errors: [{ field: '(url)', code: 'malformed_url', message }],
      })
    }
    case 'FST_ERR_MAX_PARAM_LENGTH': {
      const message = `expected each path segment to be at most ${MAX_PARAM_LENGTH} characters`
      return problem(414, 'url_too_long', 'URL too long', `the URL path: ${message}`, {
        errors: [{ field: '(url)', code: 'url_too_long', message }],
      })
    }
    default:
      return problem(400, 'bad_request', 'Bad request', 'the request could not be routed')
  }
}

const CLIENT_ERROR_ANSWERS: Readonly<Record<string, readonly [number, string]>> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout'],
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large'],
}

/**
 * A request the HTTP parser could not read (before Fastify sees it). As Fastify's default
 * handler, but the trace names only the error code: Node attaches the raw bytes of the request
 * (`rawPacket`), and so the URL, to the error.
 */
function answerClientError(
  error: Error & { code?: string },
  socket: Socket,
  logger: HttpDeps['logger'],
): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  const [status, title] = CLIENT_ERROR_ANSWERS[error.code ?? ''] ?? [400, 'Bad Request']
  logger.trace({ code: error.code }, 'client error')
  if (socket.writable) {
    const body = JSON.stringify(
      problem(status, 'bad_request', title, 'the request could not be read as HTTP/1.1'),
    )
    socket.write(
      `HTTP/1.1 ${status} ${title}\r\nConnection: close\r\n` +
        `Content-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    )
  }
  socket.destroy(error)
}
