import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { z } from 'zod'

/**
 * One validated, frozen configuration from an optional JSON file (TOLLGATE_CONFIG) and the
 * environment; the environment wins. A bad value stops the start with a message naming the key.
 * Secrets have no defaults: a missing admin token or card-token key is generated on first start
 * and kept in the data directory (see secrets.ts).
 */
const integer = (min: number, max: number) => z.number().int().min(min).max(max)

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

type ConfigKey = keyof z.infer<typeof CONFIG_SCHEMA>

interface IntegerBounds {
  readonly min: number
  readonly max: number
}

/** The integer settings and their bounds, read from the schema itself. */
const INTEGER_BOUNDS: ReadonlyMap<string, IntegerBounds> = new Map(
  Object.entries(CONFIG_SCHEMA.shape).flatMap(([key, field]) => {
    const inner = field instanceof z.ZodDefault ? field.unwrap() : field
    if (!(inner instanceof z.ZodNumber) || inner.minValue === null || inner.maxValue === null)
      return []
    return [[key, { min: inner.minValue, max: inner.maxValue }] as const]
  }),
)

/** Environment integers are plain decimal digits (a sign only where negatives are allowed). */
function parseEnvInteger(text: string, bounds: IntegerBounds): number | null {
  const pattern = bounds.min < 0 ? /^-?\d+$/ : /^\d+$/
  return pattern.test(text) ? Number(text) : null
}

function expectedInteger(bounds: IntegerBounds, from: 'env' | 'file'): string {
  const range = `from ${bounds.min} to ${bounds.max}`
  return from === 'env'
    ? `expected an integer ${range}, written as decimal digits${bounds.min < 0 ? ' (optionally with a leading -)' : ''}`
    : `expected a JSON integer ${range} (a number, not a string, boolean, null or array)`
}

/**
 * Where a JSON text first stops being valid, as "line L, column C" (1-based), or null when no
 * error is found. Nothing of the text itself is returned: the parser's own message quotes an
 * excerpt, and in a file of secrets that excerpt is key material.
 */
export function jsonSyntaxErrorPosition(text: string): string | null {
  const offset = firstJsonErrorOffset(text)
  if (offset === null) return null
  const before = text.slice(0, offset)
  const line = before.split('\n').length
  const column = offset - (before.lastIndexOf('\n') + 1) + 1
  return `line ${line}, column ${column}`
}

/** The offset of the first character that makes `text` invalid JSON (RFC 8259), or null. */
function firstJsonErrorOffset(text: string): number | null {
  let at = 0
  const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y
  const HEX4 = /[0-9a-fA-F]{4}/y
  const fail = (): never => {
    throw new JsonStop(at)
  }
  const space = (): void => {
    while (at < text.length && ' \t\n\r'.includes(text.charAt(at))) at += 1
  }
  const expect = (char: string): void => {
    if (text.charAt(at) !== char) fail()
    at += 1
  }
  const sticky = (pattern: RegExp): void => {
    pattern.lastIndex = at
    if (!pattern.test(text)) fail()
    at = pattern.lastIndex
  }
  const string = (): void => {
    expect('"')
    for (;;) {
      if (at >= text.length) fail()
      const char = text.charAt(at)
      if (char === '"') {
        at += 1
        return
      }
      if (char < ' ') fail()
      if (char === '\\') {
        at += 1
        const escape = text.charAt(at)
        if (escape === 'u') {
          at += 1
          sticky(HEX4)
        } else if (escape !== '' && '"\\/bfnrt'.includes(escape)) {
          at += 1
        } else {
          fail()
        }
      } else {
        at += 1
      }
    }
  }
  const members = (close: string, member: () => void): void => {
    at += 1
    space()
    if (text.charAt(at) === close) {
      at += 1
      return
    }
    for (;;) {
      member()
      space()
      if (text.charAt(at) === close) {
        at += 1
        return
      }
      expect(',')
      space()
    }
  }
  const value = (): void => {
    space()
    const char = text.charAt(at)
    if (char === '{') {
      members('}', () => {
        string()
        space()
        expect(':')
        value()
      })
    } else if (char === '[') {
      members(']', value)
    } else if (char === '"') {
      string()
    } else if (char === '-' || (char >= '0' && char <= '9')) {
      sticky(NUMBER)
    } else {
      const literal = ['true', 'false', 'null'].find((word) => text.startsWith(word, at))
      if (literal === undefined) fail()
      else at += literal.length
    }
  }
  try {
    value()
    space()
    if (at < text.length) fail()
    return null
  } catch (stop) {
    if (stop instanceof JsonStop) return stop.offset
    throw stop
  }
}

/** Thrown inside firstJsonErrorOffset only: where the scan stopped. */
class JsonStop extends Error {
  constructor(readonly offset: number) {
    super(`JSON syntax error at offset ${offset}`)
  }
}

/**
 * "not valid JSON", with the position of the first error when it can be found. Neither the
 * parser's message nor any part of the text is included (see jsonSyntaxErrorPosition).
 */
export function describeJsonSyntaxError(text: string): string {
  const position = jsonSyntaxErrorPosition(text)
  return position === null ? 'not valid JSON' : `not valid JSON (syntax error at ${position})`
}

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
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      // No cause: the parser's message quotes the file, which may hold the admin token.
      throw new ConfigError(`TOLLGATE_CONFIG: ${file} is ${describeJsonSyntaxError(text)}`)
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError(`TOLLGATE_CONFIG: ${file} must hold a JSON object`)
    }
    fromFile = parsed as Record<string, unknown>
  }
  const merged: Record<string, unknown> = { ...fromFile }
  /** The text of each setting given in the environment, as written. */
  const fromEnv = new Map<string, string>()
  const badEnv = new Set<string>()
  const problems: string[] = []
  const nameOf = (key: string): string => {
    const envKey = ENV_KEYS[key as ConfigKey] as string | undefined
    return envKey === undefined ? `config key "${key}"` : `${envKey} (config key "${key}")`
  }
  const shown = (key: string, value: unknown): string =>
    SECRET_KEYS.has(key) ? '' : ` (got ${JSON.stringify(value) ?? String(value)})`
  for (const [key, envKey] of Object.entries(ENV_KEYS)) {
    const value = env[envKey]
    if (value === undefined || value === '') continue
    fromEnv.set(key, value)
    const bounds = INTEGER_BOUNDS.get(key)
    const number = bounds === undefined ? undefined : parseEnvInteger(value, bounds)
    if (bounds !== undefined && number === null) {
      problems.push(`${nameOf(key)}: ${expectedInteger(bounds, 'env')}${shown(key, value)}`)
      badEnv.add(key)
    }
    merged[key] = number ?? value
  }
  const result = CONFIG_SCHEMA.safeParse(merged)
  if (result.success && problems.length === 0) return Object.freeze(result.data)
  for (const issue of result.error?.issues ?? []) {
    if (issue.code === 'unrecognized_keys') {
      // Named but not shown: the value of a misspelt secret key is the secret.
      for (const key of issue.keys) {
        problems.push(
          `config key ${JSON.stringify(key)} in ${file ?? 'the config file'}: not a Tollgate setting; remove it or correct its spelling`,
        )
      }
      continue
    }
    const key = String(issue.path[0] ?? '')
    if (badEnv.has(key)) continue
    const bounds = INTEGER_BOUNDS.get(key)
    const message =
      bounds === undefined
        ? issue.message
        : expectedInteger(bounds, fromEnv.has(key) ? 'env' : 'file')
    problems.push(`${nameOf(key)}: ${message}${shown(key, fromEnv.get(key) ?? merged[key])}`)
  }
  throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`)
}
