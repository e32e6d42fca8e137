import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { REFERENCE_DIR_DEFAULT } from '../adapters/reference/load-reference.js'
import type { LogFiles } from '../adapters/store/sqlite/log-sync.js'
import type { CoreRequest } from '../core/pipeline/requests.js'
import type { BatchExecutor } from '../ports/batch-executor.js'
import { workerExecutor } from './executors.js'

/**
 * The worker executor against a real worker thread and database file, with the log's fdatasync
 * held back or failed (fault injection): nothing the worker committed is released before the
 * log is on disk. Needs the built worker (`npm run build`, as `npm test` does).
 */

function heldLog(): LogFiles & { finish(error?: Error): void; readonly started: number } {
  const pending: ((error: Error | null) => void)[] = []
  let started = 0
  return {
    open: () => 7,
    datasync: (_fd, done) => {
      started += 1
      pending.push(done)
    },
    close: () => undefined,
    finish: (error) => pending.shift()?.(error ?? null),
    get started() {
      return started
    },
  }
}

const purchase: CoreRequest = {
  type: 'new',
  kind: 'purchase',
  channel: 'http',
  terminalId: 'T0000001',
  merchantId: 'M000000000000001',
  stan: '000001',
  transmissionTime: null,
  card: { pan: '6212260000000001', expiry: '3012' },
  cardToken: 'tok_test',
  amountMinor: 100,
  currency: 'CNY',
  idempotencyKey: null,
}

const until = async (check: () => boolean): Promise<void> => {
  const deadline = Date.now() + 10_000
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

describe('worker executor: the log is synced before answers are released', () => {
  let dir = ''
  let executor: BatchExecutor | null = null

  afterEach(async () => {
    await executor?.close().catch(() => undefined)
    executor = null
    await rm(dir, { recursive: true, force: true })
  })

  const start = async (log: LogFiles, onFatal: (error: unknown) => void = () => undefined) => {
    dir = await mkdtemp(join(tmpdir(), 'tollgate-executor-'))
    executor = await workerExecutor(
      {
        databasePath: join(dir, 'tollgate.db'),
        referenceDir: REFERENCE_DIR_DEFAULT,
        settings: { utcOffsetMinutes: 480, holdExpiryMs: 86_400_000 },
        velocityKeysMax: 1_000,
      },
      onFatal,
      { logFiles: log },
    )
    return executor
  }

  it('holds a batch result until a sync started after its commit completes', async () => {
    const log = heldLog()
    const running = await start(log)
    let answered = false
    const result = running.execute([purchase], Date.now()).then((results) => {
      answered = true
      return results
    })
    await until(() => log.started === 1)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(answered).toBe(false)
    log.finish()
    const results = await result
    expect(results).toHaveLength(1)
    // No such terminal in an empty database: the request is answered, nothing is stored.
    expect(results[0]).toMatchObject({ type: 'rejected' })
  })

  it('stops when the log cannot be synced: the batch fails, later ones too, and it is fatal', async () => {
    const log = heldLog()
    const fatal: unknown[] = []
    const running = await start(log, (error) => fatal.push(error))
    const result = running.execute([purchase], Date.now())
    await until(() => log.started === 1)
    log.finish(new Error('EIO'))
    await expect(result).rejects.toThrow('the batch log could not be made durable')
    expect(fatal).toHaveLength(1)
    await expect(running.execute([purchase], Date.now())).rejects.toThrow(
      'the batch log could not be made durable',
    )
  })
})
