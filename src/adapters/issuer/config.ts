import { BACKOFF_DEFAULT, validateBackoff, type BackoffConfig } from '../../core/routing/backoff.js'
import { BREAKER_DEFAULT, validateBreaker, type BreakerConfig } from '../../core/routing/breaker.js'
import { FRAME_PAYLOAD_BYTES_MAX, isFraming, type Framing } from '../iso8583/tcp/framing.js'
import { ISSUER_LINK_DIALECT } from './protocol.js'

/**
 * One issuer route: one issuer host reached over a pool of TCP connections. The required keys
 * are what an operator configures; the optional ones have defaults sized for a host answering
 * in tens of milliseconds.
 */
export interface IssuerRouteConfigInput {
  /** Route name for health and logs, e.g. `cmb`. */
  readonly name: string
  readonly host: string
  readonly port: number
  readonly dialect: typeof ISSUER_LINK_DIALECT
  readonly framing: Framing
  readonly poolSize: number
  readonly requestTimeoutMs: number
  /** A connection with no traffic for this long sends an echo (0800, 70 = 301). */
  readonly echoIntervalMs: number
  /** Field 32 of every message. */
  readonly acquirerId: string
  readonly connectTimeoutMs?: number
  /** Sign-on, sign-off and echo answers are awaited this long (default: requestTimeoutMs). */
  readonly networkTimeoutMs?: number
  readonly inFlightPerConnectionMax?: number
  /** Default: poolSize × inFlightPerConnectionMax. */
  readonly inFlightPerRouteMax?: number
  readonly frameBytesMax?: number
  readonly reconnect?: Partial<BackoffConfig>
  readonly breaker?: Partial<BreakerConfig>
  /** The health window (default: the breaker's window) and its latency samples. */
  readonly healthWindowMs?: number
  readonly latencySamplesMax?: number
  /** Timeouts + errors at or above this percentage of sent requests: degraded. */
  readonly degradedFailurePercent?: number
  /** Transitions kept for `history()`. */
  readonly historyMax?: number
  /** Response codes counted as failures by the breaker (the issuer says it cannot decide). */
  readonly failureResponseCodes?: readonly string[]
  /** How long `close()` waits for answers in flight and sign-off answers. */
  readonly closeGraceMs?: number
}

export type IssuerRouteConfig = Required<Omit<IssuerRouteConfigInput, 'reconnect' | 'breaker'>> & {
  readonly reconnect: BackoffConfig
  readonly breaker: BreakerConfig
}

export const REQUEST_TIMEOUT_MS_MAX = 120_000
export const POOL_SIZE_MAX = 64
export const IN_FLIGHT_PER_CONNECTION_LIMIT = 1_000
export const IN_FLIGHT_PER_ROUTE_LIMIT = 10_000
export const HISTORY_LIMIT = 10_000
const MS_LIMIT = 3_600_000

/** Validated, defaulted and frozen, or every problem found, each naming its key. */
export function resolveIssuerRouteConfig(
  input: IssuerRouteConfigInput,
):
  | { readonly ok: true; readonly config: IssuerRouteConfig }
  | { readonly ok: false; readonly errors: string[] } {
  const errors: string[] = []
  const breaker: BreakerConfig = { ...BREAKER_DEFAULT, ...input.breaker }
  const reconnect: BackoffConfig = { ...BACKOFF_DEFAULT, ...input.reconnect }
  const inFlightPerConnectionMax = input.inFlightPerConnectionMax ?? 64
  const config: IssuerRouteConfig = {
    name: input.name,
    host: input.host,
    port: input.port,
    dialect: input.dialect,
    framing: input.framing,
    poolSize: input.poolSize,
    requestTimeoutMs: input.requestTimeoutMs,
    echoIntervalMs: input.echoIntervalMs,
    acquirerId: input.acquirerId,
    connectTimeoutMs: input.connectTimeoutMs ?? 3_000,
    networkTimeoutMs: input.networkTimeoutMs ?? input.requestTimeoutMs,
    inFlightPerConnectionMax,
    inFlightPerRouteMax: input.inFlightPerRouteMax ?? input.poolSize * inFlightPerConnectionMax,
    frameBytesMax: input.frameBytesMax ?? 4_096,
    reconnect,
    breaker,
    healthWindowMs: input.healthWindowMs ?? breaker.windowMs,
    latencySamplesMax: input.latencySamplesMax ?? 1_024,
    degradedFailurePercent: input.degradedFailurePercent ?? 10,
    historyMax: input.historyMax ?? 200,
    failureResponseCodes: input.failureResponseCodes ?? ['91', '96'],
    closeGraceMs: input.closeGraceMs ?? 2_000,
  }
  const integer = (key: keyof IssuerRouteConfig, min: number, max: number): void => {
    const value = config[key]
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max)
      errors.push(`${key} must be an integer in ${min}..${max}, got ${JSON.stringify(value)}`)
  }
  if (typeof config.name !== 'string' || !/^[a-z0-9][a-z0-9_-]{0,63}$/.test(config.name))
    errors.push('name must be 1-64 lower-case letters, digits, - or _')
  if (typeof config.host !== 'string' || config.host.length === 0)
    errors.push('host must be a non-empty string')
  integer('port', 1, 65_535)
  const dialect: string = config.dialect
  if (dialect !== ISSUER_LINK_DIALECT)
    errors.push(`dialect must be 'iso87-binary', got ${JSON.stringify(dialect)}`)
  if (!isFraming(config.framing))
    errors.push(`framing must be 'binary2' or 'ascii4', got ${JSON.stringify(config.framing)}`)
  integer('poolSize', 1, POOL_SIZE_MAX)
  integer('requestTimeoutMs', 1, REQUEST_TIMEOUT_MS_MAX)
  integer('echoIntervalMs', 1, MS_LIMIT)
  if (typeof config.acquirerId !== 'string' || !/^\d{1,11}$/.test(config.acquirerId))
    errors.push('acquirerId must be 1-11 digits (field 32)')
  integer('connectTimeoutMs', 1, REQUEST_TIMEOUT_MS_MAX)
  integer('networkTimeoutMs', 1, REQUEST_TIMEOUT_MS_MAX)
  integer('inFlightPerConnectionMax', 1, IN_FLIGHT_PER_CONNECTION_LIMIT)
  integer('inFlightPerRouteMax', 1, IN_FLIGHT_PER_ROUTE_LIMIT)
  const frameMax = isFraming(config.framing) ? FRAME_PAYLOAD_BYTES_MAX[config.framing] : 9_999
  integer('frameBytesMax', 256, frameMax)
  integer('healthWindowMs', 1, MS_LIMIT)
  if (errors.length === 0 && config.healthWindowMs % breaker.bucketCount !== 0)
    errors.push('healthWindowMs must be a multiple of breaker.bucketCount')
  integer('latencySamplesMax', 1, 100_000)
  integer('degradedFailurePercent', 1, 100)
  integer('historyMax', 1, HISTORY_LIMIT)
  integer('closeGraceMs', 1, REQUEST_TIMEOUT_MS_MAX)
  if (!config.failureResponseCodes.every((code) => /^[0-9A-Z]{2}$/.test(code)))
    errors.push('failureResponseCodes must be two-character response codes')
  for (const error of validateBreaker(breaker)) errors.push(`breaker.${error}`)
  for (const error of validateBackoff(reconnect)) errors.push(`reconnect.${error}`)
  if (errors.length > 0) return { ok: false, errors }
  return {
    ok: true,
    config: Object.freeze({
      ...config,
      breaker: Object.freeze(breaker),
      reconnect: Object.freeze(reconnect),
      failureResponseCodes: Object.freeze([...config.failureResponseCodes]),
    }),
  }
}

/** A route configuration that does not validate: the start stops with every key named. */
export class IssuerRouteConfigError extends Error {
  override readonly name = 'IssuerRouteConfigError'
  readonly code = 'issuer_route_config'
  readonly errors: readonly string[]

  constructor(route: string, errors: readonly string[]) {
    super(`issuer route ${route}: ${errors.join('; ')}`)
    this.errors = errors
  }
}
