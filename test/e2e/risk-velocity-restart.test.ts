import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openSqliteStore } from '../../src/adapters/store/sqlite/sqlite-store.js'
import { loadConfig } from '../../src/app/config.js'
import { startTollgate } from '../../src/app/main.js'
import { api, authorizeBody, type DecisionBody } from '../support/server.js'

const TOKEN = 'test-admin-token-0123456789'

async function start(dataDir: string, batchWorker: 'on' | 'off') {
  return startTollgate(
    loadConfig({
      TOLLGATE_DATA_DIR: dataDir,
      TOLLGATE_HTTP_PORT: '0',
      TOLLGATE_ISO_PORT: '0',
      TOLLGATE_ADMIN_TOKEN: TOKEN,
      TOLLGATE_LOG_LEVEL: 'silent',
      TOLLGATE_BATCH_WORKER: batchWorker,
    }),
  )
}

/**
 * Velocity lives in memory but survives a restart: the index is rebuilt from the stored
 * transactions of the last 24 hours. A rule that blocks a card's third payment in 10 minutes
 * still blocks it when the switch restarted after the second — on the worker thread and on
 * the main thread alike.
 */
describe.each(['on', 'off'] as const)('velocity across a restart (batch worker %s)', (mode) => {
  it('counts the attempts made before the restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tollgate-velocity-'))
    try {
      let running = await start(dataDir, mode)
      const store = openSqliteStore({ path: running.databasePath })
      const now = Date.now()
      const put = await store.risk.putRule(
        {
          id: 'third_in_ten_minutes',
          version: 1,
          status: 'active',
          name: 'Third payment in 10 minutes',
          expression: 'card_count_10m >= 2',
          action: 'block',
          reason: 'do_not_honour',
          score: 0,
          priority: 1,
          description: { 'zh-CN': '10分钟内第三笔', en: 'third payment in 10 minutes' },
          author: 'test',
          changeNote: 'velocity restart test',
          createdAtMs: now,
        },
        {
          id: 'au_velocity',
          atMs: now,
          actor: 'test',
          action: 'risk_rule.create',
          subject: 'x',
          detail: {},
        },
      )
      expect(put.ok).toBe(true)
      await store.close()

      let client = api(running.httpUrl, TOKEN)
      for (let i = 0; i < 2; i++) {
        const answer = await client.post<DecisionBody>(
          '/v1/authorizations',
          authorizeBody({ amount: '12.30' }),
        )
        expect(answer.body.approved, JSON.stringify(answer.body)).toBe(true)
      }
      await running.close()

      running = await start(dataDir, mode)
      client = api(running.httpUrl, TOKEN)
      const third = await client.post<DecisionBody>(
        '/v1/authorizations',
        authorizeBody({ amount: '12.30' }),
      )
      expect(third.body).toMatchObject({ approved: false, reason: { code: 'do_not_honour' } })
      const explained = await client.get<{ evidence: { key: string; value: string }[] }>(
        `/v1/transactions/${third.body.transactionId}/explanation`,
      )
      const evidence = Object.fromEntries(explained.body.evidence.map((e) => [e.key, e.value]))
      expect(evidence).toMatchObject({
        riskRuleId: 'third_in_ten_minutes',
        'f.card_count_10m': '2',
      })
      await running.close()
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  })
})
