import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { LogSync, LogSyncError, type LogFiles } from './log-sync.js'

/** File operations whose syncs complete only when the test says so (fault injection). */
function heldFiles(): LogFiles & {
  readonly started: number
  readonly opened: number
  readonly closed: number
  finish(error?: Error): void
} {
  const pending: ((error: Error | null) => void)[] = []
  let started = 0
  let opened = 0
  let closed = 0
  return {
    open: () => {
      opened += 1
      return 42
    },
    datasync: (_fd, done) => {
      started += 1
      pending.push(done)
    },
    close: () => {
      closed += 1
    },
    finish: (error) => {
      const done = pending.shift()
      if (done === undefined) throw new Error('no sync is running')
      done(error ?? null)
    },
    get started() {
      return started
    },
    get opened() {
      return opened
    },
    get closed() {
      return closed
    },
  }
}

/** Lets promise callbacks run. */
const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('LogSync (deferred log sync)', () => {
  it('resolves a wait only after a sync that started after it', async () => {
    const files = heldFiles()
    const sync = new LogSync('/db-wal', files)
    let first = false
    let second = false
    void sync.wait().then(() => (first = true))
    expect(files.started).toBe(1)
    // A commit while the first sync runs: that sync may have started before its frames were
    // written, so it waits for the next one.
    void sync.wait().then(() => (second = true))
    expect(files.started).toBe(1)
    files.finish()
    await settled()
    expect(first).toBe(true)
    expect(second).toBe(false)
    expect(files.started).toBe(2)
    files.finish()
    await settled()
    expect(second).toBe(true)
    expect(sync.syncs).toBe(2)
  })

  it('shares one sync among the commits that queued during the running one', async () => {
    const files = heldFiles()
    const released: number[] = []
    const sync = new LogSync('/db-wal', files, (_seconds, count) => released.push(count))
    const first = sync.wait()
    const queued = Array.from({ length: 50 }, () => sync.wait())
    files.finish()
    await first
    expect(files.started).toBe(2)
    files.finish()
    await Promise.all(queued)
    expect(files.started).toBe(2)
    expect(files.opened).toBe(1)
    expect(released).toEqual([1, 50])
  })

  it('after a failed sync, rejects the waiting and every later wait (nothing since is durable)', async () => {
    const files = heldFiles()
    const sync = new LogSync('/db-wal', files)
    const first = sync.wait()
    const queued = sync.wait()
    files.finish(new Error('EIO'))
    await expect(first).rejects.toBeInstanceOf(LogSyncError)
    await expect(queued).rejects.toThrow('cannot sync the write-ahead log /db-wal')
    await expect(sync.wait()).rejects.toBeInstanceOf(LogSyncError)
    // No retry: a second fdatasync could report success for pages the kernel dropped.
    expect(files.started).toBe(1)
    expect(files.closed).toBe(1)
  })

  it('fails when the log cannot be opened', async () => {
    const sync = new LogSync(join(tmpdir(), 'tollgate-no-such-dir', 'db-wal'))
    await expect(sync.wait()).rejects.toMatchObject({ code: 'log_sync_failed' })
  })

  it('on close, finishes the running sync and one for the waits queued behind it, then refuses', async () => {
    const files = heldFiles()
    const sync = new LogSync('/db-wal', files)
    const running = sync.wait()
    const queued = sync.wait()
    sync.close()
    await expect(sync.wait()).rejects.toThrow('is closed')
    expect(files.closed).toBe(0)
    files.finish()
    await running
    expect(files.started).toBe(2)
    expect(files.closed).toBe(0)
    files.finish()
    await queued
    expect(files.closed).toBe(1)
  })

  describe('on a real file', () => {
    let dir = ''
    afterEach(async () => {
      if (dir !== '') await rm(dir, { recursive: true, force: true })
    })

    it('syncs it', async () => {
      dir = await mkdtemp(join(tmpdir(), 'tollgate-log-sync-'))
      const path = join(dir, 'db-wal')
      await writeFile(path, 'frames')
      const sync = new LogSync(path)
      await Promise.all([sync.wait(), sync.wait(), sync.wait()])
      expect(sync.syncs).toBeGreaterThanOrEqual(1)
      expect(sync.syncs).toBeLessThanOrEqual(2)
      sync.close()
    })
  })
})
