import { parentPort, workerData } from 'node:worker_threads'
import { createRandomIds } from '../adapters/ids/random-ids.js'
import { loadReferenceData } from '../adapters/reference/load-reference.js'
import { openSqliteStore } from '../adapters/store/sqlite/sqlite-store.js'
import { AssertionFailure } from '../core/assert.js'
import type { WorkerInit, WorkerReply, WorkerRequest } from './batch-worker-protocol.js'
import { contextFactory, inProcessExecutor, loadVelocity } from './executors.js'

/**
 * The batch worker: its own SQLite connection, the reference tables and the pure core. It
 * receives batches of requests from the main thread and answers with their results after the
 * commit. One message at a time, in order.
 */
const port = parentPort
if (port === null) throw new Error('batch-worker.js runs as a worker thread')

function reply(message: WorkerReply): void {
  port?.postMessage(message)
}

const init = workerData as WorkerInit
try {
  const reference = loadReferenceData(init.referenceDir)
  // The worker's connection only runs batches and expiry. Its commits do not wait for the disk:
  // the main thread syncs the log before it releases any answer (workerExecutor, log-sync.ts),
  // while this thread decides the next batch. It keeps the rows it reads between batches
  // (snapshot-cache.ts): any other connection's write empties them.
  const store = openSqliteStore({
    path: init.databasePath,
    logSync: 'caller',
    snapshotCache: true,
  })
  const clock = { nowMs: () => Date.now() }
  const velocity = await loadVelocity(store, clock.nowMs(), init.velocityKeysMax)
  const makeContext = contextFactory(init.settings, reference, createRandomIds(clock), velocity)
  const executor = inProcessExecutor(store, makeContext)
  port.on('message', (request: WorkerRequest) => {
    const answer = (work: Promise<unknown>): void => {
      work.then(
        (value) => reply({ type: 'result', sequence: request.sequence, ok: true, value }),
        (error: unknown) =>
          reply({
            type: 'result',
            sequence: request.sequence,
            ok: false,
            error: {
              message: error instanceof Error ? error.message : String(error),
              assertion: error instanceof AssertionFailure,
            },
          }),
      )
    }
    switch (request.type) {
      case 'batch':
        // Results cross as one JSON string: cheaper on both threads than the structured clone
        // of a few hundred small objects (ADR 0005), and results are plain JSON data.
        answer(
          executor
            .execute(
              request.requests,
              request.nowMs,
              request.routeStatus === null ? undefined : new Map(request.routeStatus),
            )
            .then((results) => JSON.stringify(results)),
        )
        return
      case 'expire':
        answer(executor.expireHolds(request.nowMs, request.max))
        return
      case 'close':
        answer(store.close().then(() => null))
        return
    }
  })
  reply({ type: 'ready', logFile: store.logFile() })
} catch (error) {
  reply({ type: 'init_failed', message: error instanceof Error ? error.message : String(error) })
}
