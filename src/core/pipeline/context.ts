import type { BinTable } from '../reference/bin-table.js'
import type { MccTable } from '../reference/mcc-table.js'
import type { VelocityIndex } from '../risk/velocity.js'
import type { RouteStatus } from '../routes/model.js'

/** Settings the pipeline reads; validated by the app's configuration before they get here. */
export interface PipelineSettings {
  /** The acquirer's UTC offset for business days, in minutes (Asia/Shanghai: 480). */
  readonly utcOffsetMinutes: number
  /** How long a preauthorization hold lives before it expires. */
  readonly holdExpiryMs: number
}

/**
 * Everything the core needs from outside for one batch: the time, fresh ids and the reference
 * tables. Ids come from functions so that tests can make them deterministic.
 */
export interface CoreContext {
  readonly nowMs: number
  readonly settings: PipelineSettings
  readonly bins: BinTable
  readonly mccs: MccTable
  readonly newTransactionId: () => string
  readonly newTransferId: () => string
  /** Six characters, ISO 8583 field 38. */
  readonly newAuthorizationCode: () => string
  /** Twelve characters, ISO 8583 field 37. */
  readonly newRrn: () => string
  /**
   * Committed velocity, owned by the batch executor (one writer). A batch adds its attempts to
   * an overlay; the executor folds them in after the batch commits (BatchWork.afterCommit).
   */
  readonly velocity: VelocityIndex
  /**
   * The state of each remote route for this batch (up, or down and why), computed by the app
   * from the links' health and the maintenance windows. A remote route missing here is down.
   */
  readonly routeStatus?: ReadonlyMap<string, RouteStatus>
}
