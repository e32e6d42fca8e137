import type { CoreRequest } from '../core/pipeline/requests.js'
import type { RequestResult } from '../core/pipeline/result.js'

/**
 * Runs batches: loads the snapshot, lets the core decide, commits — one database transaction per
 * batch — and expires due holds. The processor only talks to this; whether it runs on the main
 * thread or on a worker thread with its own database connection is the app's choice.
 */
export interface BatchExecutor {
  execute(requests: readonly CoreRequest[], nowMs: number): Promise<readonly RequestResult[]>
  expireHolds(nowMs: number, max: number): Promise<number>
  close(): Promise<void>
}
