import { describe, expect, it } from 'vitest'
import { api, authorizeBody, startTestServer, type DecisionBody } from '../support/server.js'

/** The same answers whether batches run on the worker thread (default) or the main thread. */
describe.each(['on', 'off'])('TOLLGATE_BATCH_WORKER=%s', (mode) => {
  it('approves, declines, reverses exactly once and keeps the ledger balanced', async () => {
    const server = await startTestServer({ TOLLGATE_BATCH_WORKER: mode })
    try {
      const client = api(server.url, server.adminToken)
      const sale = await client.post<DecisionBody>(
        '/v1/authorizations',
        authorizeBody({ amount: '88.00' }),
      )
      expect(sale.status).toBe(201)
      expect(sale.body.approved).toBe(true)
      // The approval says what is left: 5,000.00 on the demo debit card, less 88.00.
      expect(sale.body.explanation.evidence).toContainEqual({
        key: 'availableAfter',
        label: 'available after',
        value: '4912.00 CNY',
      })
      const declined = await client.post<DecisionBody>(
        '/v1/authorizations',
        authorizeBody({ card: 'lowBalance', terminal: 'grocery', amount: '120.00' }),
      )
      expect(declined.body).toMatchObject({
        approved: false,
        responseCode: '51',
        reason: { code: 'insufficient_funds' },
      })
      const reversals = await Promise.all(
        [1, 2, 3].map(() =>
          client.post<DecisionBody>(`/v1/transactions/${sale.body.transactionId}/reversals`, {}),
        ),
      )
      const ids = new Set(reversals.map((r) => r.body.transactionId))
      expect(ids.size).toBe(1)
      expect(reversals.filter((r) => r.body.replayed).length).toBe(2)
      const ledger = await client.get<{ balanced: boolean; accountsOutOfBound: string[] }>(
        '/v1/ledger/check',
      )
      expect(ledger.body).toMatchObject({ balanced: true, accountsOutOfBound: [] })
    } finally {
      await server.close()
    }
  })
})
