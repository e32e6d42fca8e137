import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/app/config.js'
import { DEMO_CARDS } from '../../src/app/demo-data.js'
import { LOG_REDACT_PATHS, startTollgate } from '../../src/app/main.js'
import { api, authorizeBody, call, freshPan } from '../support/server.js'

/**
 * Card numbers never rest anywhere: not in the database file or its write-ahead log, not in the
 * logs (at the most verbose level), not in any answer. Checked on the raw bytes.
 */
describe('no clear card number at rest or in logs', () => {
  it('leaves no PAN in the database files, the logs or the answers', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tollgate-pan-'))
    const logs: string[] = []
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
    const token = 'test-admin-token-0123456789'
    const running = await startTollgate(
      loadConfig({
        TOLLGATE_DATA_DIR: dataDir,
        TOLLGATE_HTTP_PORT: '0',
        TOLLGATE_ISO_PORT: '0',
        TOLLGATE_ADMIN_TOKEN: token,
        TOLLGATE_BATCH_WORKER: 'off',
      }),
      { logger },
    )
    const answers: string[] = []
    const newPan = freshPan()
    const pans = [...Object.values(DEMO_CARDS).map((c) => c.pan), newPan]
    try {
      const client = api(running.httpUrl, token)
      const record = async (p: Promise<{ text: string }>) => answers.push((await p).text)
      await record(client.post('/v1/authorizations', authorizeBody({ amount: '12.00' })))
      await record(
        client.post(
          '/v1/authorizations',
          authorizeBody({ card: 'lowBalance', terminal: 'grocery', amount: '120.00' }),
        ),
      )
      await record(
        client.post(
          '/v1/authorizations',
          authorizeBody({ card: { pan: `${DEMO_CARDS.debit.pan.slice(0, -1)}0`, expiry: '3012' } }),
        ),
      )
      await record(
        call(
          running.httpUrl,
          'POST',
          '/v1/authorizations',
          `{"card": {"pan": "${DEMO_CARDS.credit.pan}"`,
        ),
      )
      await record(
        client.post('/v1/cards', {
          pan: newPan,
          expiry: '3012',
          type: 'debit',
          balance: '10.00',
          currency: 'CNY',
        }),
      )
      await record(
        client.post('/v1/lists', {
          kind: 'card',
          pan: DEMO_CARDS.smallCredit.pan,
          note: 'test entry',
        }),
      )
      // A card number pasted where none belongs (a list value, a note, a limit's entity, an
      // Idempotency-Key) is refused, naming the field, and nothing is stored.
      const pasted = DEMO_CARDS.debit.pan
      const spaced = pasted.replace(/(\d{4})(?=\d)/g, '$1 ')
      const refusals = [
        client.post('/v1/lists', { kind: 'card', value: pasted, note: 'stolen' }),
        client.post('/v1/lists', { kind: 'merchant', value: '898310058120001', note: spaced }),
        client.post('/v1/limits', { scope: 'card', entityId: pasted, dailyCountMax: 1 }),
        call(running.httpUrl, 'POST', '/v1/authorizations', authorizeBody({ amount: '1.00' }), {
          headers: { 'idempotency-key': `retry-${pasted}` },
        }),
      ]
      const fields = ['value', 'note', 'entityId', 'Idempotency-Key']
      for (const [index, refused] of refusals.entries()) {
        const answer = await refused
        answers.push(answer.text)
        expect(answer.status, answer.text).toBe(400)
        expect(answer.body).toMatchObject({
          errors: [{ field: fields[index], code: 'card_number_not_allowed' }],
        })
      }
      await record(client.get('/v1/transactions?limit=50'))
      await record(client.get('/v1/cards?limit=50'))
      await record(client.get('/v1/audit?limit=100'))
    } finally {
      await running.close()
    }
    const files = await readdir(dataDir)
    expect(files).toContain('tollgate.db')
    const bytes = await Promise.all(files.map((f) => readFile(join(dataDir, f))))
    await rm(dataDir, { recursive: true, force: true })
    expect(logs.length).toBeGreaterThan(0)
    for (const pan of pans) {
      for (const [i, content] of bytes.entries()) {
        expect(
          content.includes(Buffer.from(pan, 'latin1')),
          `${files[i] ?? ''} holds a clear card number`,
        ).toBe(false)
      }
      expect(logs.join('\n')).not.toContain(pan)
      expect(answers.join('\n')).not.toContain(pan)
    }
  })
})
