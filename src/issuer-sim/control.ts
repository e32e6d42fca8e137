import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import { z } from 'zod'
import { assert } from '../core/assert.js'
import { accountView, availableMinor, formatIssues, type Account } from './accounts.js'
import { faultsPatchSchema, faultsReplaceSchema, mergeFaults } from './faults.js'
import { JOURNAL_ENTRIES_MAX } from './journal.js'
import type { Simulator } from './simulator.js'

/**
 * The control endpoint: a small JSON HTTP server on 127.0.0.1 for tests, drills and operators.
 * It accepts card numbers (POST /accounts) but never sends one back: accounts are named by an
 * id or the masked number.
 *
 *   GET  /health              GET  /state           PUT|PATCH /faults    POST /schedule
 *   POST /accounts            GET  /accounts        GET  /accounts/<id or masked PAN>
 *   GET  /ledger              GET  /journal?limit=  POST /reset-counters
 */

export const CONTROL_BODY_BYTES_MAX = 256 * 1024
export const ACCOUNTS_PER_POST_MAX = 1_000
const REQUEST_TIMEOUT_MS = 10_000

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

export interface ControlServer {
  readonly port: number
  close(): Promise<void>
}

export async function startControl(
  sim: Simulator,
  options: { readonly host: string; readonly port: number; readonly logger: Logger },
): Promise<ControlServer> {
  const server: Server = createServer(
    { requestTimeout: REQUEST_TIMEOUT_MS },
    (request, response) => {
      route(sim, request)
        .then((result) => send(response, result.status, result.body))
        .catch((error: unknown) => {
          if (error instanceof HttpError) {
            send(response, error.status, { error: error.code, message: error.message })
            return
          }
          options.logger.error({ err: error }, 'control: request failed')
          send(response, 500, { error: 'internal', message: 'the request failed; see the log' })
        })
    },
  )
  server.headersTimeout = REQUEST_TIMEOUT_MS
  server.keepAliveTimeout = 5_000
  server.maxHeadersCount = 50
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo | null
  assert(address !== null && typeof address === 'object', 'control: a TCP address')
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

function send(response: ServerResponse, status: number, body: unknown): void {
  if (response.headersSent) return
  const text = JSON.stringify(body, null, 2) + '\n'
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  })
  response.end(text)
}

interface Result {
  readonly status: number
  readonly body: unknown
}

async function route(sim: Simulator, request: IncomingMessage): Promise<Result> {
  const url = new URL(request.url ?? '/', 'http://control')
  const method = request.method ?? 'GET'
  const path = url.pathname.replace(/\/+$/, '') || '/'
  const allow = (...methods: string[]): void => {
    if (!methods.includes(method))
      throw new HttpError(405, 'method_not_allowed', `${path} takes ${methods.join(', ')}`)
  }
  switch (path) {
    case '/health':
      allow('GET')
      return { status: 200, body: health(sim) }
    case '/state':
      allow('GET')
      return { status: 200, body: state(sim) }
    case '/faults': {
      allow('GET', 'PUT', 'PATCH')
      if (method === 'GET') return { status: 200, body: sim.faults() }
      const body = await readJson(request)
      const faults =
        method === 'PUT'
          ? validated(faultsReplaceSchema, body)
          : mergeFaults(sim.faults(), validated(faultsPatchSchema, body))
      await sim.setFaults(faults, `${method} /faults`)
      return { status: 200, body: sim.faults() }
    }
    case '/schedule': {
      allow('GET', 'POST')
      if (method === 'POST') {
        const error = sim.setSchedule(await readJson(request))
        if (error !== null) throw new HttpError(400, 'invalid_body', error)
      }
      return { status: 200, body: sim.schedule() }
    }
    case '/accounts': {
      allow('GET', 'POST')
      if (method === 'GET') return { status: 200, body: sim.ledger.accounts().map(accountView) }
      return { status: 200, body: addAccounts(sim, await readJson(request)) }
    }
    case '/ledger':
      allow('GET')
      return { status: 200, body: ledger(sim) }
    case '/journal': {
      allow('GET')
      const limit = validated(
        z.coerce.number().int().min(1).max(JOURNAL_ENTRIES_MAX),
        url.searchParams.get('limit') ?? '100',
      )
      return { status: 200, body: { total: sim.journal.total, entries: sim.journal.last(limit) } }
    }
    case '/reset-counters':
      allow('POST')
      sim.counters.reset()
      return { status: 200, body: state(sim).counters }
    default:
      if (path.startsWith('/accounts/')) {
        allow('GET')
        let pan: string
        try {
          pan = decodeURIComponent(path.slice(10))
        } catch {
          throw new HttpError(400, 'bad_request', 'the card number in the path is not valid UTF-8')
        }
        return { status: 200, body: findAccount(sim, pan) }
      }
      throw new HttpError(404, 'not_found', `no such endpoint: ${path}`)
  }
}

function health(sim: Simulator) {
  return {
    status: 'ok',
    listening: sim.listening,
    port: sim.port,
    uptimeMs: Date.now() - sim.startedAtMs,
  }
}

function state(sim: Simulator) {
  return {
    ...health(sim),
    seed: sim.seed,
    faults: sim.faults(),
    schedule: sim.schedule(),
    connections: { open: sim.openConnections },
    accounts: sim.ledger.accountCount,
    journalEntries: sim.journal.total,
    counters: sim.counters.snapshot(),
  }
}

function ledger(sim: Simulator) {
  const totals = sim.ledger.totals
  const byCurrency: Record<
    string,
    { postedMinor: number; heldMinor: number; availableMinor: number }
  > = {}
  for (const account of sim.ledger.accounts()) {
    const row = (byCurrency[account.currency] ??= {
      postedMinor: 0,
      heldMinor: 0,
      availableMinor: 0,
    })
    row.postedMinor += account.postedMinor
    row.heldMinor += account.heldMinor
    row.availableMinor += availableMinor(account)
  }
  return {
    totals: {
      approvedDebitsMinor: totals.purchases.amountMinor,
      ...totals,
    },
    byCurrency,
    accounts: sim.ledger.accounts().map(accountView),
  }
}

function addAccounts(sim: Simulator, body: unknown) {
  const many = Array.isArray(body)
  const list: unknown[] = many ? body : [body]
  if (list.length === 0 || list.length > ACCOUNTS_PER_POST_MAX)
    throw new HttpError(400, 'invalid_body', `1 to ${ACCOUNTS_PER_POST_MAX} accounts per request`)
  // Validate all first: a batch with one bad account changes nothing.
  const dry = list.map((item, index) => {
    const check = sim.ledger.validateAccount(item)
    return check === null ? null : `[${index}] ${check}`
  })
  const errors = dry.filter((error): error is string => error !== null)
  if (errors.length > 0) throw new HttpError(400, 'invalid_body', errors.join('; '))
  const added = list.map((item) => {
    const result = sim.ledger.addAccount(item)
    if (!result.ok) throw new HttpError(400, 'invalid_body', result.error)
    return { ...accountView(result.account), replaced: result.replaced }
  })
  return many ? added : added[0]
}

function findAccount(sim: Simulator, ref: string) {
  const byId = sim.ledger.accountById(ref)
  if (byId !== null) return accountView(byId)
  if (/^\d+$/.test(ref))
    throw new HttpError(
      400,
      'pan_in_url',
      'name an account by its id or masked number, not the PAN',
    )
  const matches: Account[] = sim.ledger.accountsByMasked(ref)
  if (matches.length === 1 && matches[0] !== undefined) return accountView(matches[0])
  if (matches.length > 1)
    throw new HttpError(
      409,
      'ambiguous',
      `${matches.length} accounts: ${matches.map((a) => a.id).join(', ')}`,
    )
  throw new HttpError(404, 'not_found', 'no account with that id or masked number')
}

function validated<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body)
  if (!parsed.success) throw new HttpError(400, 'invalid_body', formatIssues(parsed.error))
  return parsed.data
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const type = request.headers['content-type'] ?? 'application/json'
  if (!type.startsWith('application/json'))
    throw new HttpError(415, 'unsupported_media_type', 'send application/json')
  const declared = Number(request.headers['content-length'] ?? '0')
  if (declared > CONTROL_BODY_BYTES_MAX) {
    request.resume()
    throw new HttpError(413, 'body_too_large', `at most ${CONTROL_BODY_BYTES_MAX} bytes`)
  }
  const chunks: Buffer[] = []
  let bytes = 0
  for await (const chunk of request) {
    const buffer = chunk as Buffer
    bytes += buffer.length
    if (bytes > CONTROL_BODY_BYTES_MAX) {
      request.destroy()
      throw new HttpError(413, 'body_too_large', `at most ${CONTROL_BODY_BYTES_MAX} bytes`)
    }
    chunks.push(buffer)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.trim() === '') throw new HttpError(400, 'invalid_body', 'a JSON body is required')
  try {
    return JSON.parse(text) as unknown
  } catch {
    // The parser's message quotes the body, which may hold a card number: say less.
    throw new HttpError(400, 'invalid_json', 'the body is not valid JSON')
  }
}
