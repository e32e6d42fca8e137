import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { manualClock } from '../../src/adapters/clock/system-clock.js'
import type { HttpDeps } from '../../src/adapters/http/deps.js'
import { buildHttpServer } from '../../src/adapters/http/server.js'
import { createRandomIds } from '../../src/adapters/ids/random-ids.js'
import { createTollgateMetrics } from '../../src/adapters/metrics/registry.js'
import {
  loadReferenceData,
  REFERENCE_DIR_DEFAULT,
} from '../../src/adapters/reference/load-reference.js'
import { LIMIT_RULES_MAX } from '../../src/core/pipeline/limits.js'
import type { Store } from '../../src/ports/store.js'
import { api, startTestServer, type Api, type TestServer } from '../support/server.js'

/** Bounds the API promises: on pages, on limit rules, and an answer even when the store fails. */
describe('bounds and failures', () => {
  let server: TestServer
  let admin: Api

  beforeAll(async () => {
    server = await startTestServer()
    admin = api(server.url, server.adminToken)
  })
  afterAll(async () => {
    await server.close()
  })

  it('answers a cursor it never issued with a 400 naming the field', async () => {
    for (const cursor of ['zzzz', 'eyJ0IjoiYSJ9']) {
      const answer = await admin.get<{ errors: { field: string }[] }>(
        `/v1/transactions?cursor=${cursor}`,
      )
      expect(answer.status).toBe(400)
      expect(answer.body.errors[0]?.field).toBe('cursor')
    }
    const lists = await admin.get<{ errors: { field: string }[] }>('/v1/merchants?cursor=zzzz')
    expect(lists.status).toBe(400)
  })

  it(`keeps at most ${LIMIT_RULES_MAX} limit rules`, async () => {
    const existing = (await admin.get<{ items: unknown[] }>('/v1/limits')).body.items.length
    const rule = { scope: 'card', dailyCountMax: 1_000_000, note: 'bound test' }
    for (let n = existing; n < LIMIT_RULES_MAX; n += 1) {
      expect((await admin.post('/v1/limits', rule)).status).toBe(201)
    }
    const refused = await admin.post<{ code: string }>('/v1/limits', rule)
    expect(refused.status).toBe(409)
    expect(refused.body.code).toBe('limit_rules_max')
  })
})

describe('a store that fails', () => {
  it('answers 500 with the system_error reason and what to do, not a bare error', async () => {
    // Fault injection: every read from the store fails.
    const failing = new Proxy({} as Store, {
      get: () => () => Promise.reject(new Error('disk I/O error')),
    })
    const reference = loadReferenceData(REFERENCE_DIR_DEFAULT)
    const clock = manualClock(Date.UTC(2026, 10, 26))
    const deps: HttpDeps = {
      store: failing,
      authorizer: { submit: () => ({ type: 'closing' }), depth: 0 },
      tokenize: (pan) => `tok_${pan.length}`,
      bins: reference.bins,
      mccs: reference.mccs,
      clock,
      ids: createRandomIds(clock),
      utcOffsetMinutes: 480,
      isAdminToken: () => true,
      metrics: createTollgateMetrics(),
      isReady: () => true,
      logger: pino({ level: 'silent' }),
      limits: { bodyLimitBytes: 16_384, requestTimeoutMs: 5_000, connectionsMax: 10 },
    }
    const app = buildHttpServer(deps)
    try {
      const answer = await app.inject({ method: 'GET', url: '/v1/transactions?lang=zh-CN' })
      expect(answer.statusCode).toBe(500)
      const body = answer.json<{
        reason: { code: string }
        responseCode: string
        explanation: { remediation: { merchant: string } }
      }>()
      expect(body.reason.code).toBe('system_error')
      expect(body.responseCode).toBe('96')
      expect(body.explanation.remediation.merchant).toMatch(/[\u4e00-\u9fff]/)
    } finally {
      await app.close()
    }
  })
})
