import { parseArgs } from 'node:util'
import { UsageError } from '../cli/env.js'
import { formatReport } from './report.js'
import { DURATION_S_MAX, DURATION_S_MIN, runDrill } from './runner.js'
import { findScenario, SCENARIOS } from './scenarios.js'

/** `tollgate drill <scenario>`: runs a failure drill and prints its report; exit 0 PASS, 1 FAIL. */

export const DRILL_HELP = `tollgate drill <scenario> [options]   failure drill against the issuer simulator

Scenarios:
${SCENARIOS.map((s) => `  ${s.name.padEnd(14)} ${s.title}`).join('\n')}

Options:
  --seed <n>           seed of the fault schedule, the simulator and the traffic (default 1)
  --duration <s>       seconds of load while the faults play (default 15; ${DURATION_S_MIN}–${DURATION_S_MAX})
  --rate <n>           purchases started per second (default 60)
  --concurrency <n>    purchases in flight at most (default 48)
  --recovery <s>       how long to wait for every reversal and advice to be acknowledged (default 60)
  --json               the report as JSON on stdout (progress on stderr)
  --keep               keep Tollgate's temporary data directory (its database) to investigate
  --list               list the scenarios and what each exercises

Needs the built CLI (npm run build). Starts its own simulator and Tollgate on free ports with a
temporary data directory; touches nothing else. See docs/drills.md.`

function integerOption(
  value: string | undefined,
  name: string,
  min: number,
  max: number,
  fallback: number,
): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`drill: --${name} must be an integer from ${min} to ${max}`)
  return n
}

export async function runDrillCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      seed: { type: 'string' },
      duration: { type: 'string' },
      rate: { type: 'string' },
      concurrency: { type: 'string' },
      recovery: { type: 'string' },
      json: { type: 'boolean' },
      keep: { type: 'boolean' },
      list: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  })
  if (values.help === true) {
    process.stdout.write(DRILL_HELP + '\n')
    return
  }
  if (values.list === true) {
    for (const s of SCENARIOS) process.stdout.write(`${s.name}: ${s.title}\n  ${s.exercises}\n`)
    return
  }
  const name = positionals[0]
  if (name === undefined) throw new UsageError(`drill: name a scenario\n\n${DRILL_HELP}`)
  const scenario = findScenario(name)
  if (scenario === undefined)
    throw new UsageError(
      `drill: unknown scenario "${name}" (one of ${SCENARIOS.map((s) => s.name).join(', ')})`,
    )
  const report = await runDrill({
    scenario,
    seed: integerOption(values.seed, 'seed', 0, 2 ** 31 - 1, 1),
    durationS: integerOption(
      values.duration,
      'duration',
      DURATION_S_MIN,
      DURATION_S_MAX,
      scenario.durationSDefault,
    ),
    ratePerSecond: integerOption(values.rate, 'rate', 1, 1_000, 60),
    concurrency: integerOption(values.concurrency, 'concurrency', 1, 256, 48),
    recoveryWaitS: integerOption(values.recovery, 'recovery', 5, 600, 60),
    keepDataDir: values.keep === true,
    log: (line) => process.stderr.write(line + '\n'),
  })
  process.stdout.write(
    (values.json === true ? JSON.stringify(report, null, 2) : formatReport(report)) + '\n',
  )
  process.exitCode = report.verdict === 'PASS' ? 0 : 1
}
