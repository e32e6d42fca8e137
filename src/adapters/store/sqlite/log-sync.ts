import { closeSync, fdatasync, openSync } from 'node:fs'

/**
 * Group commit with the log's fsync off the writing thread (ADR 0005, "log sync by the caller").
 *
 * With `PRAGMA synchronous = FULL`, SQLite fsyncs the write-ahead log inside every COMMIT and
 * the batch worker's thread waits for the disk (≈ a quarter of its time under load). With
 * `synchronous = NORMAL` (the store's `logSync: 'caller'`) a commit writes its log frames and
 * returns; this class then makes the commit durable: `wait()` resolves once an `fdatasync` of
 * the log file that *started after the call* has completed. The main thread calls it when the
 * worker reports a commit, so the sync runs (on libuv's thread pool) while the worker decides
 * and commits the next batch; commits reported while one sync runs share the next one.
 *
 * Why this is as durable as FULL for the callers of `wait()`: a commit's frames are written
 * (`write(2)`) before COMMIT returns, so an fdatasync that starts afterwards puts them on disk;
 * the log is sequential with cumulative checksums, so recovery after a power loss replays a
 * prefix of commits — never a later batch without an earlier one. Checkpoints still sync the
 * log and the database file themselves (NORMAL keeps those). Callers must not release an answer
 * before `wait()` resolves.
 *
 * A failed fdatasync is not retried: after a failure the kernel may have dropped the dirty
 * pages, so nothing written since can be called durable. Every waiting and later call rejects;
 * the owner treats it as fatal (the process restarts and recovers what the disk holds).
 *
 * The descriptor is opened at the first wait (the log exists by then: a commit wrote it) and kept:
 * SQLite deletes the log only when the last connection to the database closes, and the writing
 * connection stays open until this is closed.
 */
export class LogSync {
  private fd: number | null = null
  private running = false
  /** Waiting for the next sync (their commits may be later than the running sync's start). */
  private queued: Waiter[] = []
  private failure: Error | null = null
  private closed = false
  private completed = 0

  constructor(
    private readonly logPath: string,
    /** The file operations; tests inject faults and hold syncs back. */
    private readonly files: LogFiles = NODE_FILES,
    /** After each completed sync: how long it took and how many waits it released (metrics). */
    private readonly onSynced?: (seconds: number, released: number) => void,
  ) {}

  /** Completed syncs (tests, metrics). */
  get syncs(): number {
    return this.completed
  }

  /** Resolves once everything committed before this call is on disk. */
  wait(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure)
    if (this.closed) return Promise.reject(new LogSyncError(`log ${this.logPath} is closed`))
    return new Promise<void>((resolve, reject) => {
      this.queued.push({ resolve, reject })
      if (!this.running) this.start()
    })
  }

  /**
   * Closes the descriptor once the running sync, and one more for the waits queued behind it,
   * are done; waits after this reject.
   */
  close(): void {
    this.closed = true
    if (!this.running) this.release()
  }

  private start(): void {
    const waiters = this.queued
    this.queued = []
    this.running = true
    let fd: number
    try {
      this.fd ??= this.files.open(this.logPath)
      fd = this.fd
    } catch (error) {
      this.fail(waiters, error)
      return
    }
    const startedNs = process.hrtime.bigint()
    this.files.datasync(fd, (error) => {
      this.running = false
      if (error !== null) {
        this.fail(waiters, error)
        return
      }
      this.completed += 1
      this.onSynced?.(Number(process.hrtime.bigint() - startedNs) / 1e9, waiters.length)
      for (const waiter of waiters) waiter.resolve()
      // Commits reported before close() still get their sync; then the descriptor goes.
      if (this.queued.length > 0) this.start()
      else if (this.closed) this.release()
    })
  }

  private fail(waiters: readonly Waiter[], cause: unknown): void {
    this.running = false
    this.failure = new LogSyncError(`cannot sync the write-ahead log ${this.logPath}`, { cause })
    this.reject(waiters, this.failure)
    this.reject(this.queued, this.failure)
    this.queued = []
    this.release()
  }

  private reject(waiters: readonly Waiter[], error: Error): void {
    for (const waiter of waiters) waiter.reject(error)
  }

  private release(): void {
    if (this.fd === null) return
    try {
      this.files.close(this.fd)
    } catch {
      // Closing a descriptor we are done with: nothing more to lose.
    }
    this.fd = null
  }
}

/** What LogSync does to the log file. */
export interface LogFiles {
  open(path: string): number
  datasync(fd: number, done: (error: Error | null) => void): void
  close(fd: number): void
}

const NODE_FILES: LogFiles = {
  open: (path) => openSync(path, 'r'),
  datasync: (fd, done) => fdatasync(fd, done),
  close: (fd) => closeSync(fd),
}

interface Waiter {
  readonly resolve: () => void
  readonly reject: (error: unknown) => void
}

/** The log could not be made durable: the store's later answers cannot be trusted. */
export class LogSyncError extends Error {
  override readonly name = 'LogSyncError'
  readonly code = 'log_sync_failed'
}
