import type { BatchRequest } from '../core/pipeline/requests.js'
import type { BatchResult } from '../core/pipeline/result.js'
import type { RouteStatus } from '../core/routes/model.js'

/**
 * Runs batches: loads the snapshot, lets the core decide, commits — one database transaction per
 * batch — and expires due holds. The processor only talks to this; whether it runs on the main
 * thread or on a worker thread with its own database connection is the app's choice.
 */
export interface BatchExecutor {
  execute(
    requests: readonly BatchRequest[],
    nowMs: number,
    routeStatus?: ReadonlyMap<string, RouteStatus>,
  ): Promise<readonly BatchResult[]>
  expireHolds(nowMs: number, max: number): Promise<number>
  close(): Promise<void>
}
