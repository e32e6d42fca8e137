import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { manualClock } from '../../src/adapters/clock/system-clock.js'
import { loadConfig } from '../../src/app/config.js'
import { startTollgate } from '../../src/app/main.js'
import {
  api,
  authorizeBody,
  cardAccount,
  cardTokenOf,
  DEMO_CARDS,
  type DecisionBody,
  type TestServer,
} from '../support/server.js'

const HOUR_MS = 3_600_000
const SWEEP_WAIT_MS = 10_000

/**
 * A preauthorization nobody completes is released by the running server's expiry sweep: the
 * clock is the only thing simulated (a manual clock handed to the app), everything else is real.
 */
describe('hold expiry in a running server', () => {
  it('releases a stale preauthorization hold, and a late completion is refused', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tollgate-expiry-'))
    const clock = manualClock(Date.UTC(2026, 10, 26, 2, 0, 0))
    const token = 'test-admin-token-0123456789'
    const running = await startTollgate(
      loadConfig({
        TOLLGATE_DATA_DIR: dataDir,
        TOLLGATE_HTTP_PORT: '0',
        TOLLGATE_ISO_PORT: '0',
        TOLLGATE_ADMIN_TOKEN: token,
        TOLLGATE_LOG_LEVEL: 'silent',
        TOLLGATE_HOLD_EXPIRY_HOURS: '2',
        TOLLGATE_EXPIRY_SWEEP_INTERVAL_MS: '1000',
      }),
      { clock },
    )
    const server: TestServer = {
      url: running.httpUrl,
      isoPort: running.isoPort,
      adminToken: token,
      dataDir,
      close: () => running.close(),
    }
    try {
      const client = api(server.url, token)
      const cardToken = await cardTokenOf(server, DEMO_CARDS.credit.pan)
      const before = (await cardAccount(server, cardToken)).available
      const hold = await client.post<DecisionBody>(
        '/v1/authorizations',
        authorizeBody({
          kind: 'preauthorization',
          terminal: 'hotel',
          card: 'credit',
          amount: '1500.00',
        }),
      )
      expect(hold.body.approved).toBe(true)
      expect((await cardAccount(server, cardToken)).available).not.toBe(before)

      clock.advance(2 * HOUR_MS + 1)
      const deadline = Date.now() + SWEEP_WAIT_MS
      let lifecycle = ''
      while (Date.now() < deadline && lifecycle !== 'expired') {
        await new Promise((resolve) => setTimeout(resolve, 200))
        const found = await client.get<{ lifecycle: string }>(
          `/v1/transactions/${hold.body.transactionId}`,
        )
        lifecycle = found.body.lifecycle
      }
      expect(lifecycle).toBe('expired')
      expect((await cardAccount(server, cardToken)).available).toBe(before)
      const late = await client.post<DecisionBody>(
        `/v1/transactions/${hold.body.transactionId}/completions`,
        {},
      )
      expect(late.body).toMatchObject({
        approved: false,
        reason: { code: 'original_not_eligible' },
      })
      const metrics = await client.get<unknown>('/metrics')
      expect(metrics.text).toMatch(/tollgate_holds_expired_total 1\b/)
    } finally {
      await running.close()
      await rm(dataDir, { recursive: true, force: true })
    }
  })
})
