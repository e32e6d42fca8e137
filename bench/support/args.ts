/** Command-line options and the exit on failure, shared by the benchmarks. */
import { parseArgs } from 'node:util'

/** A mistake on the command line: printed without a stack, exit code 2. */
export class UsageError extends Error {}

export type OptionValues = Readonly<Record<string, string | boolean | undefined>>

export type OptionSpec = Readonly<Record<string, { readonly type: 'string' | 'boolean' }>>

/**
 * Reads `argv` strictly against `options` (plus `--help`). A parse error throws a UsageError
 * followed by `usage`; `--help` prints `usage` and exits 0.
 */
export function readOptions(
  argv: readonly string[],
  options: OptionSpec,
  usage: string,
): OptionValues {
  let values: OptionValues
  try {
    const config = { ...options, help: { type: 'boolean' } } as const
    values = parseArgs({ args: [...argv], strict: true, options: config }).values
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause)
    throw new UsageError(`${message}\n\n${usage}`, { cause })
  }
  if (values.help === true) {
    process.stdout.write(usage)
    process.exit(0)
  }
  return values
}

/** An integer option in `min..max`, or `fallback` when it is not given. */
export function integerOption(
  values: OptionValues,
  name: string,
  fallback: number,
  max: number,
  min = 1,
): number {
  const raw = values[name]
  if (raw === undefined) return fallback
  const value = Number(raw)
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name}: expected an integer in ${min}..${max}, got ${String(raw)}`)
  }
  return value
}

/** Prints why the benchmark failed and exits: 2 for a usage error, 1 for anything else. */
export function exitOnFailure(error: unknown): never {
  if (error instanceof UsageError) {
    process.stderr.write(`${error.message}\n`)
    process.exit(2)
  }
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error)
  process.stderr.write(`benchmark failed: ${text}\n`)
  process.exit(1)
}
