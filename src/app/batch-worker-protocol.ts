import type { PipelineSettings } from '../core/pipeline/context.js'
import type { BatchRequest } from '../core/pipeline/requests.js'
import type { RouteStatus } from '../core/routes/model.js'

/** What the main thread tells the batch worker at start. */
export interface WorkerInit {
  readonly databasePath: string
  readonly referenceDir: string
  readonly settings: PipelineSettings
  /** Bound on the velocity index (keys); the worker rebuilds it from the store at start. */
  readonly velocityKeysMax: number
}

export type WorkerRequest =
  | {
      readonly type: 'batch'
      readonly sequence: number
      readonly nowMs: number
      readonly requests: readonly BatchRequest[]
      /** Remote routes' state for this batch, as [route id, status] pairs; null: none. */
      readonly routeStatus: readonly (readonly [string, RouteStatus])[] | null
    }
  | {
      readonly type: 'expire'
      readonly sequence: number
      readonly nowMs: number
      readonly max: number
    }
  | { readonly type: 'close'; readonly sequence: number }

export type WorkerReply =
  /** `logFile`: the write-ahead log the main thread syncs (log-sync.ts); null in memory. */
  | { readonly type: 'ready'; readonly logFile: string | null }
  | { readonly type: 'init_failed'; readonly message: string }
  | {
      readonly type: 'result'
      readonly sequence: number
      readonly ok: true
      /** A batch's results as a JSON string; an expiry's count; null for close. */
      readonly value: unknown
    }
  | {
      readonly type: 'result'
      readonly sequence: number
      readonly ok: false
      readonly error: { readonly message: string; readonly assertion: boolean }
    }
