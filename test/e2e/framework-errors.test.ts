import { mkdtemp, rm } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/app/config.js'
import { LOG_REDACT_PATHS, startTollgate, type RunningTollgate } from '../../src/app/main.js'
import {
  call,
  freshPan,
  TEST_ADMIN_TOKEN,
  type ApiResponse,
  type ProblemBody,
} from '../support/server.js'

/**
 * Requests Fastify refuses before any route runs (a URL that is not valid percent-encoding, a
 * path segment past the length limit, a request line the HTTP parser cannot read) and requests
 * no route matches. Each gets problem+json, and neither the answer nor the log (at the most
 * verbose level) repeats the URL: a card number in a path must not come back or rest anywhere.
 */

let running: RunningTollgate
let dataDir: string
const logs: string[] = []

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'tollgate-framework-'))
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString('utf8'))
      done()
    },
  })
  const logger = pino(
    { level: 'trace', redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' } },
    sink,
  )
  running = await startTollgate(
    loadConfig({
      TOLLGATE_DATA_DIR: dataDir,
      TOLLGATE_HTTP_PORT: '0',
      TOLLGATE_ISO_PORT: '0',
      TOLLGATE_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      TOLLGATE_BATCH_WORKER: 'off',
    }),
    { logger },
  )
})

afterAll(async () => {
  try {
    await running.close()
  } finally {
    await rm(dataDir, { recursive: true, force: true })
  }
})

/** Every card number a path in this file carried. */
const PANS_SENT: string[] = []

function panForPath(): string {
  const pan = freshPan()
  PANS_SENT.push(pan)
  return pan
}

/**
 * The runs of `size` consecutive digits of any card number sent that occur in `text`. An answer
 * is held to runs of 4 (it has no digits of its own to collide with); the log and the metrics,
 * full of times and counts, to runs of 10 — still more than a masked number shows between its
 * first six and last four.
 */
function panFragmentsIn(text: string, size = 4): string[] {
  return PANS_SENT.flatMap((pan) =>
    Array.from({ length: pan.length - size + 1 }, (_, i) => pan.slice(i, i + size)).filter((part) =>
      text.includes(part),
    ),
  )
}

function expectProblem(
  answer: ApiResponse<ProblemBody>,
  status: number,
  code: string,
): ProblemBody {
  expect(answer.status, answer.text).toBe(status)
  expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/)
  expect(answer.body).toMatchObject({
    type: `https://tollgate.dev/problems/${code}`,
    status,
    code,
  })
  expect(answer.body.title).toEqual(expect.any(String))
  expect(answer.body.detail).toEqual(expect.any(String))
  expect(panFragmentsIn(answer.text)).toEqual([])
  return answer.body
}

describe('a malformed URL', () => {
  it('gets a 400 problem naming the URL and the expected encoding, without quoting it', async () => {
    const pan = panForPath()
    const answer = await call<ProblemBody>(
      running.httpUrl,
      'GET',
      `/v1/transactions/${pan}%E0%A4%A`,
    )
    const body = expectProblem(answer, 400, 'malformed_url')
    expect(body.errors).toHaveLength(1)
    expect(body.errors?.[0]).toMatchObject({ field: '(url)', code: 'malformed_url' })
    expect(body.errors?.[0]?.message).toMatch(/percent-encoding/)
    expect(answer.text).not.toContain('%E0')
  })

  it('is refused the same way on an admin route and with a query', async () => {
    const pan = panForPath()
    const answer = await call<ProblemBody>(
      running.httpUrl,
      'POST',
      `/v1/cards/${pan}%ZZ?pan=${pan}`,
      {},
      { token: TEST_ADMIN_TOKEN },
    )
    expectProblem(answer, 400, 'malformed_url')
  })
})

describe('a path segment past the length limit', () => {
  it('gets a 414 problem stating the limit, without quoting the path', async () => {
    const pan = panForPath()
    const answer = await call<ProblemBody>(
      running.httpUrl,
      'GET',
      `/v1/transactions/${pan.repeat(12)}`,
    )
    const body = expectProblem(answer, 414, 'url_too_long')
    expect(body.errors?.[0]).toMatchObject({ field: '(url)', code: 'url_too_long' })
    expect(body.errors?.[0]?.message).toMatch(/at most 200 characters/)
  })
})

describe('no route', () => {
  it('gets a 404 problem naming the method, not the path', async () => {
    const pan = panForPath()
    const answer = await call<ProblemBody>(running.httpUrl, 'GET', `/v1/no-such-thing/${pan}`)
    const body = expectProblem(answer, 404, 'not_found')
    expect(body.detail).toMatch(/GET/)
    expect(body.detail).toMatch(/openapi\.json/)
  })

  it('does not repeat a query either', async () => {
    const pan = panForPath()
    const answer = await call<ProblemBody>(running.httpUrl, 'DELETE', `/v1/nothing?pan=${pan}`)
    expectProblem(answer, 404, 'not_found')
  })
})

describe('a request line the HTTP parser cannot read', () => {
  it('gets a 400 without the request echoed', async () => {
    const pan = panForPath()
    const { port } = new URL(running.httpUrl)
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1')
      const chunks: Buffer[] = []
      socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')))
      socket.on('data', (chunk: Buffer) => chunks.push(chunk))
      socket.on('error', reject)
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')))
      socket.write(`GET /v1/transactions/${pan}\x01 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
    })
    expect(raw).toMatch(/^HTTP\/1\.1 400 /)
    expect(raw).toMatch(/content-type: application\/problem\+json/i)
    expect(panFragmentsIn(raw)).toEqual([])
  })
})

describe('the log and the metrics', () => {
  it('hold no card number from any path above', async () => {
    const metrics = await call(running.httpUrl, 'GET', '/metrics')
    expect(metrics.status).toBe(200)
    expect(PANS_SENT.length).toBeGreaterThan(0)
    expect(panFragmentsIn(metrics.text, 10)).toEqual([])
    expect(logs.length).toBeGreaterThan(0)
    expect(panFragmentsIn(logs.join('\n'), 10)).toEqual([])
  })
})
