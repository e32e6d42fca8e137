import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { z } from 'zod'

/**
 * One validated, frozen configuration from an optional JSON file (TOLLGATE_CONFIG) and the
 * environment; the environment wins. A bad value stops the start with a message naming the key.
 * Secrets have no defaults: a missing admin token or card-token key is generated on first start
 * and kept in the data directory (see secrets.ts).
 */
const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max)

export const CONFIG_SCHEMA = z.strictObject({
  dataDir: z.string().min(1).default('./data'),
  httpHost: z.string().min(1).default('127.0.0.1'),
  httpPort: integer(0, 65_535).default(8080),
  adminToken: z.string().min(16, 'at least 16 characters').max(256).optional(),
  /** Hex, at least 32 bytes: the HMAC key that turns card numbers into tokens. */
  cardTokenKey: z
    .string()
    .regex(/^[0-9a-fA-F]{64,256}$/, '64 to 256 hex characters (32+ bytes)')
    .optional(),
  utcOffsetMinutes: integer(-840, 840).default(480),
  holdExpiryHours: integer(1, 24 * 60).default(24 * 30),
  queueDepthMax: integer(1, 1_000_000).default(20_000),
  batchSizeMax: integer(1, 1_000).default(500),
  velocityKeysMax: integer(1_000, 50_000_000).default(500_000),
  acquirerId: z
    .string()
    .regex(/^\d{1,11}$/, 'expected 1 to 11 digits (ISO 8583 field 32)')
    .default('48020000'),
  issuerPoolSize: integer(1, 64).default(2),
  issuerEchoIntervalMs: integer(1_000, 3_600_000).default(30_000),
  httpBodyLimitBytes: integer(1_024, 1_048_576).default(16_384),
  httpRequestTimeoutMs: integer(100, 600_000).default(10_000),
  httpConnectionsMax: integer(1, 100_000).default(10_000),
  expirySweepIntervalMs: integer(1_000, 86_400_000).default(60_000),
  /** The ISO 8583 listener for POS terminals. */
  isoHost: z.string().min(1).default('127.0.0.1'),
  isoPort: integer(0, 65_535).default(8583),
  isoDialect: z.enum(['cup-pos', 'iso87-ascii', 'iso87-binary']).default('cup-pos'),
  isoFraming: z.enum(['binary2', 'ascii4']).default('binary2'),
  isoFrameBytesMax: integer(64, 9_999).default(4_096),
  isoConnectionsMax: integer(1, 100_000).default(2_000),
  isoInFlightPerConnectionMax: integer(1, 1_024).default(32),
  isoIdleTimeoutMs: integer(1_000, 86_400_000).default(300_000),
  isoHandlerTimeoutMs: integer(100, 600_000).default(30_000),
  /** A JSON file mapping terminal ids to their MAC keys (hex): cup-pos field 64 is verified. */
  isoMacKeysFile: z.string().min(1).optional(),
  /** Decide and commit batches on a worker thread (its own SQLite connection), or inline. */
  batchWorker: z.enum(['on', 'off']).default('on'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Seed demo merchants, terminals and cards into a new, empty database. */
  demoData: z.enum(['auto', 'on', 'off']).default('auto'),
})

export type Config = Readonly<z.infer<typeof CONFIG_SCHEMA>>

const ENV_KEYS: Readonly<Record<keyof z.infer<typeof CONFIG_SCHEMA>, string>> = {
  dataDir: 'TOLLGATE_DATA_DIR',
  httpHost: 'TOLLGATE_HTTP_HOST',
  httpPort: 'TOLLGATE_HTTP_PORT',
  adminToken: 'TOLLGATE_ADMIN_TOKEN',
  cardTokenKey: 'TOLLGATE_CARD_TOKEN_KEY',
  utcOffsetMinutes: 'TOLLGATE_UTC_OFFSET_MINUTES',
  holdExpiryHours: 'TOLLGATE_HOLD_EXPIRY_HOURS',
  queueDepthMax: 'TOLLGATE_QUEUE_DEPTH_MAX',
  batchSizeMax: 'TOLLGATE_BATCH_SIZE_MAX',
  velocityKeysMax: 'TOLLGATE_RISK_VELOCITY_KEYS_MAX',
  acquirerId: 'TOLLGATE_ACQUIRER_ID',
  issuerPoolSize: 'TOLLGATE_ISSUER_POOL_SIZE',
  issuerEchoIntervalMs: 'TOLLGATE_ISSUER_ECHO_INTERVAL_MS',
  httpBodyLimitBytes: 'TOLLGATE_HTTP_BODY_LIMIT_BYTES',
  httpRequestTimeoutMs: 'TOLLGATE_HTTP_REQUEST_TIMEOUT_MS',
  httpConnectionsMax: 'TOLLGATE_HTTP_CONNECTIONS_MAX',
  expirySweepIntervalMs: 'TOLLGATE_EXPIRY_SWEEP_INTERVAL_MS',
  isoHost: 'TOLLGATE_ISO_HOST',
  isoPort: 'TOLLGATE_ISO_PORT',
  isoDialect: 'TOLLGATE_ISO_DIALECT',
  isoFraming: 'TOLLGATE_ISO_FRAMING',
  isoFrameBytesMax: 'TOLLGATE_ISO_FRAME_BYTES_MAX',
  isoConnectionsMax: 'TOLLGATE_ISO_CONNECTIONS_MAX',
  isoInFlightPerConnectionMax: 'TOLLGATE_ISO_IN_FLIGHT_PER_CONNECTION_MAX',
  isoIdleTimeoutMs: 'TOLLGATE_ISO_IDLE_TIMEOUT_MS',
  isoHandlerTimeoutMs: 'TOLLGATE_ISO_HANDLER_TIMEOUT_MS',
  isoMacKeysFile: 'TOLLGATE_ISO_MAC_KEYS_FILE',
  batchWorker: 'TOLLGATE_BATCH_WORKER',
  logLevel: 'TOLLGATE_LOG_LEVEL',
  demoData: 'TOLLGATE_DEMO_DATA',
}

export class ConfigError extends Error {
  readonly code = 'config_invalid'
  override readonly name = 'ConfigError'
}

const SECRET_KEYS = new Set(['adminToken', 'cardTokenKey'])

/** Reads and validates the configuration. Throws ConfigError naming every bad key. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  let fromFile: Record<string, unknown> = {}
  const file = env.TOLLGATE_CONFIG
  if (file !== undefined && file !== '') {
    let text: string
    try {
      text = readFileSync(resolve(file), 'utf8')
    } catch (cause) {
      throw new ConfigError(`TOLLGATE_CONFIG: cannot read ${file}`, { cause })
    }
    try {
      const parsed: unknown = JSON.parse(text)
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new ConfigError(`TOLLGATE_CONFIG: ${file} must hold a JSON object`)
      }
      fromFile = parsed as Record<string, unknown>
    } catch (cause) {
      if (cause instanceof ConfigError) throw cause
      throw new ConfigError(`TOLLGATE_CONFIG: ${file} is not valid JSON`, { cause })
    }
  }
  const merged: Record<string, unknown> = { ...fromFile }
  for (const [key, envKey] of Object.entries(ENV_KEYS)) {
    const value = env[envKey]
    if (value !== undefined && value !== '') merged[key] = value
  }
  const result = CONFIG_SCHEMA.safeParse(merged)
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '')
      const envKey = ENV_KEYS[key as keyof typeof ENV_KEYS]
      const name = envKey === undefined ? `config key "${key}"` : `${envKey} (config key "${key}")`
      const shown = SECRET_KEYS.has(key) ? '' : ` (got ${JSON.stringify(merged[key])})`
      return `${name}: ${issue.message}${shown}`
    })
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`)
  }
  return Object.freeze(result.data)
}
