import {
  VELOCITY_KEYS_MAX_DEFAULT,
  VELOCITY_SPAN_MS,
  VelocityIndex,
} from '../core/risk/velocity.js'
import { Worker } from 'node:worker_threads'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { findPackageRoot } from '../adapters/reference/load-reference.js'
import { LogSync, type LogFiles } from '../adapters/store/sqlite/log-sync.js'
import { AssertionFailure } from '../core/assert.js'
import { planBatch } from '../core/pipeline/batch.js'
import type { CoreContext, PipelineSettings } from '../core/pipeline/context.js'
import type { BinTable } from '../core/reference/bin-table.js'
import type { MccTable } from '../core/reference/mcc-table.js'
import type { IdSource } from '../ports/id-source.js'
import { expireDueHolds } from '../core/pipeline/expiry.js'
import type { BatchRequest } from '../core/pipeline/requests.js'
import type { BatchResult } from '../core/pipeline/result.js'
import type { RouteStatus } from '../core/routes/model.js'
import type { BatchExecutor } from '../ports/batch-executor.js'
import type { Store } from '../ports/store.js'
import type { WorkerInit, WorkerReply, WorkerRequest } from './batch-worker-protocol.js'

/** The core's context for a batch at `nowMs`: settings, reference tables and fresh ids. */
export function contextFactory(
  settings: PipelineSettings,
  reference: { readonly bins: BinTable; readonly mccs: MccTable },
  ids: IdSource,
  velocity: VelocityIndex,
): (nowMs: number, routeStatus?: ReadonlyMap<string, RouteStatus>) => CoreContext {
  return (nowMs, routeStatus) => ({
    nowMs,
    settings,
    bins: reference.bins,
    mccs: reference.mccs,
    newTransactionId: ids.transactionId,
    newTransferId: ids.transferId,
    newAuthorizationCode: ids.authorizationCode,
    newRrn: () => ids.rrn(nowMs),
    velocity,
    ...(routeStatus === undefined ? {} : { routeStatus }),
  })
}

/**
 * Runs batches on the calling thread, through the given store. A batch starts on the next turn
 * of the event loop, so that answers of the previous batch go out first.
 */
export function inProcessExecutor(
  store: Store,
  makeContext: (nowMs: number, routeStatus?: ReadonlyMap<string, RouteStatus>) => CoreContext,
): BatchExecutor {
  return {
    execute: (requests, nowMs, routeStatus) =>
      new Promise<readonly BatchResult[]>((resolve, reject) => {
        setImmediate(() => {
          const ctx = makeContext(nowMs, routeStatus)
          const work = planBatch(requests, ctx)
          // The store folds the batch into velocity at its commit (BatchWork.afterCommit).
          store.runBatch(work).then((results) => {
            ctx.velocity.sweep(nowMs)
            resolve(results)
          }, reject)
        })
      }),
    expireHolds: (nowMs, max) => store.expireHolds(nowMs, max, (due) => expireDueHolds(due, nowMs)),
    close: () => Promise.resolve(),
  }
}

/**
 * The velocity index, rebuilt from the stored transactions of the last 24 hours: the table is
 * the durable truth, the index a bounded cache of it (docs/risk.md).
 */
export async function loadVelocity(
  store: Store,
  nowMs: number,
  maxKeys: number = VELOCITY_KEYS_MAX_DEFAULT,
): Promise<VelocityIndex> {
  const index = new VelocityIndex(maxKeys)
  await store.risk.velocityEvents(nowMs - VELOCITY_SPAN_MS, nowMs + 1, (event) =>
    index.record(event),
  )
  return index
}

export class ExecutorFailure extends Error {
  override readonly name = 'ExecutorFailure'
  readonly code = 'executor_failure'
}

/** The most batches in flight to the worker: the processor sends one at a time; this is a guard. */
const WORKER_IN_FLIGHT_MAX = 64
const WORKER_START_TIMEOUT_MS = 30_000

/** The compiled worker script. Tests run TypeScript sources, so they use the built one in dist/. */
function workerScript(): string {
  const here = fileURLToPath(new URL('./batch-worker.js', import.meta.url))
  if (existsSync(here)) return here
  const root = findPackageRoot(fileURLToPath(new URL('.', import.meta.url)))
  const built = root === null ? null : join(root, 'dist', 'src', 'app', 'batch-worker.js')
  if (built === null || !existsSync(built)) {
    throw new ExecutorFailure(`the batch worker is not built (${here}): run \`npm run build\``)
  }
  return built
}

/**
 * Runs batches on a worker thread with its own SQLite connection, so that deciding and
 * committing (including the fsync) overlap with HTTP parsing and answering on the main thread.
 * The worker is the only writer of authorization batches; a crash of the worker is fatal.
 */
export async function workerExecutor(
  init: WorkerInit,
  onFatal: (error: unknown) => void,
  options: {
    /** The log's file operations; tests hold syncs back and inject failures. */
    readonly logFiles?: LogFiles
    /** After each sync of the log: its duration and the batches it made durable (metrics). */
    readonly onLogSynced?: (seconds: number, batches: number) => void
  } = {},
): Promise<BatchExecutor> {
  const worker = new Worker(workerScript(), { workerData: init })
  const pending = new Map<
    number,
    {
      resolve: (value: unknown) => void
      reject: (error: unknown) => void
      /** The request wrote (a batch, an expiry): its answer waits for the log on disk. */
      wrote: boolean
    }
  >()
  let sequence = 0
  let failed: Error | null = null

  const failAll = (error: Error): void => {
    failed ??= error
    for (const entry of pending.values()) entry.reject(error)
    pending.clear()
  }

  const logFile = await new Promise<string | null>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new ExecutorFailure('the batch worker did not start in time')),
      WORKER_START_TIMEOUT_MS,
    )
    worker.once('message', (message: WorkerReply) => {
      clearTimeout(timer)
      if (message.type === 'ready') resolve(message.logFile)
      else
        reject(
          new ExecutorFailure(
            `the batch worker failed to start: ${message.type === 'init_failed' ? message.message : message.type}`,
          ),
        )
    })
    worker.once('error', (error) => {
      clearTimeout(timer)
      reject(new ExecutorFailure('the batch worker failed to start', { cause: error }))
    })
  })

  // The worker commits without waiting for the disk; nothing it decided is released before
  // an fdatasync of the log that started after its commit (log-sync.ts). Commits reported
  // while a sync runs share the next one, and the worker decides the next batch meanwhile.
  // The log's path is the one SQLite uses (beside the real file, if the path is a symlink).
  const logSync =
    logFile === null ? null : new LogSync(logFile, options.logFiles, options.onLogSynced)
  const durable = (value: unknown): Promise<unknown> =>
    logSync === null ? Promise.resolve(value) : logSync.wait().then(() => value)

  worker.on('message', (message: WorkerReply) => {
    if (message.type !== 'result') return
    const entry = pending.get(message.sequence)
    if (entry === undefined) return
    pending.delete(message.sequence)
    if (message.ok) {
      if (!entry.wrote) {
        entry.resolve(message.value)
        return
      }
      durable(message.value).then(entry.resolve, (error: unknown) => {
        // Nothing written since can be called durable: stop; a restart recovers the disk's state.
        const failure = new ExecutorFailure('the batch log could not be made durable', {
          cause: error,
        })
        entry.reject(failure)
        failAll(failure)
        onFatal(failure)
      })
      return
    }
    const error = message.error.assertion
      ? new AssertionFailure(message.error.message)
      : new ExecutorFailure(message.error.message)
    // The processor stops the process on an assertion failure; a crash is reported below.
    entry.reject(error)
  })
  worker.on('error', (error) => {
    const failure = new ExecutorFailure('the batch worker crashed', { cause: error })
    failAll(failure)
    onFatal(failure)
  })
  worker.on('exit', (code) => {
    const failure = new ExecutorFailure(`the batch worker exited (code ${code})`)
    const unexpected = closing === null && failed === null
    failAll(failure)
    // Not asked to stop and no error reported: without its worker the switch decides nothing.
    if (unexpected) onFatal(failure)
  })

  const send = <T>(request: WorkerRequest): Promise<T> => {
    if (failed !== null) return Promise.reject(failed)
    if (pending.size >= WORKER_IN_FLIGHT_MAX)
      return Promise.reject(new ExecutorFailure('too many batches in flight to the worker'))
    return new Promise<T>((resolve, reject) => {
      pending.set(request.sequence, {
        resolve: resolve as (value: unknown) => void,
        reject,
        wrote: request.type !== 'close',
      })
      worker.postMessage(request)
    })
  }

  let closing: Promise<void> | null = null
  return {
    execute: (
      requests: readonly BatchRequest[],
      nowMs: number,
      routeStatus?: ReadonlyMap<string, RouteStatus>,
    ) =>
      send<string>({
        type: 'batch',
        sequence: ++sequence,
        nowMs,
        requests,
        // A Map crosses to the worker as entries (structured clone keeps it, but entries are explicit).
        routeStatus: routeStatus === undefined ? null : [...routeStatus],
      }).then((json) => JSON.parse(json) as readonly BatchResult[]),
    expireHolds: (nowMs: number, max: number) =>
      send<number>({ type: 'expire', sequence: ++sequence, nowMs, max }),
    close: () => {
      closing ??= (async () => {
        if (failed === null) await send<null>({ type: 'close', sequence: ++sequence })
        await worker.terminate()
        logSync?.close()
      })()
      return closing
    },
  }
}
