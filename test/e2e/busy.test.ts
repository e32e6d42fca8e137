import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  api,
  authorizeBody,
  startTestServer,
  type Api,
  type DecisionBody,
  type ProblemBody,
  type TestServer,
} from '../support/server.js'

/**
 * A full queue answers "system busy" at once — never hangs, never half-writes. The queue is
 * made tiny (one request) so a burst of concurrent requests must overflow it.
 */
describe('a full authorization queue', () => {
  let server: TestServer
  let client: Api

  beforeAll(async () => {
    server = await startTestServer({ TOLLGATE_QUEUE_DEPTH_MAX: '1', TOLLGATE_BATCH_SIZE_MAX: '1' })
    client = api(server.url, server.adminToken)
  })
  afterAll(async () => {
    await server.close()
  })

  it('answers 503 system_busy with an explanation and Retry-After; every other request is decided', async () => {
    const burst = await Promise.all(
      Array.from({ length: 200 }, () =>
        client.post<DecisionBody & ProblemBody>(
          '/v1/authorizations',
          authorizeBody({ amount: '1.00' }),
        ),
      ),
    )
    const busy = burst.filter((answer) => answer.status === 503)
    const decided = burst.filter((answer) => answer.status === 201)
    expect(busy.length).toBeGreaterThan(0)
    expect(busy.length + decided.length).toBe(burst.length)
    for (const answer of busy) {
      expect(answer.headers.get('retry-after')).toBe('1')
      expect(answer.body.reason).toEqual({ code: 'system_busy', family: 'network' })
      expect(answer.body.responseCode).toBe('96')
      expect(answer.body.explanation?.remediation?.merchant.length).toBeGreaterThan(0)
    }
    // Busy requests left nothing behind: the stored approvals are exactly the decided ones.
    const stored = await client.get<{ items: { id: string }[] }>(
      '/v1/transactions?terminalId=10000001&limit=500',
    )
    expect(new Set(stored.body.items.map((t) => t.id))).toEqual(
      new Set(decided.map((a) => a.body.transactionId)),
    )
    const metrics = await client.get<unknown>('/metrics')
    expect(metrics.text).toMatch(new RegExp(`tollgate_busy_total ${busy.length}\\b`))
  })
})
