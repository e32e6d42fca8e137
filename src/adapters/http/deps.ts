import type { IssuerHealth } from '../../ports/issuer-gateway.js'
import type { Logger } from 'pino'
import type { BinTable } from '../../core/reference/bin-table.js'
import type { MccTable } from '../../core/reference/mcc-table.js'
import type { Authorizer } from '../../ports/authorizer.js'
import type { BacktestJobs } from '../../ports/backtests.js'
import type { Clock } from '../../ports/clock.js'
import type { IdSource } from '../../ports/id-source.js'
import type { Store } from '../../ports/store.js'
import type { TollgateMetrics } from '../metrics/registry.js'

/** What the HTTP adapter needs; the app wires it. */
export interface HttpDeps {
  readonly store: Store
  readonly authorizer: Authorizer
  readonly tokenize: (pan: string) => string
  readonly bins: BinTable
  readonly mccs: MccTable
  readonly clock: Clock
  readonly ids: IdSource
  readonly utcOffsetMinutes: number
  /** Constant-time check of a bearer token against the administrator's. */
  readonly isAdminToken: (token: string) => boolean
  readonly metrics: TollgateMetrics
  readonly isReady: () => boolean
  /** Risk backtests run in the background; absent, their routes answer 503. */
  readonly backtests?: BacktestJobs
  /** The issuer links' health, for the routing API; absent, health shows no links. */
  readonly issuerHealth?: IssuerHealth
  readonly logger: Logger
  readonly limits: {
    readonly bodyLimitBytes: number
    readonly requestTimeoutMs: number
    readonly connectionsMax: number
  }
}
