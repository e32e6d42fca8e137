/** Progress lines and the plain-text report shared by the benchmarks. */
import type { MachineAround } from './cpu.js'

/**
 * Progress goes to stderr so that `--json` leaves stdout to the result: "[label 12.3 s] …",
 * or "[label] …" without the time since the start.
 */
export function progressLog(label: string, timed = true): (message: string) => void {
  const startedMs = Date.now()
  return (message) => {
    const elapsedS = ((Date.now() - startedMs) / 1000).toFixed(1).padStart(5)
    const prefix = timed ? `${label} ${elapsedS} s` : label
    process.stderr.write(`[${prefix}] ${message}\n`)
  }
}

export type Row = (label: string, value: string | number | null) => string

/** A row of the report: the label padded to `width`, then the value ("?" when unknown). */
export function rowOf(width: number): Row {
  return (label, value) => `  ${label.padEnd(width)} ${String(value ?? '?')}`
}

/** Values joined by " / ", "?" for each unknown one. */
export function slash(...values: readonly (string | number | null)[]): string {
  return values.map((v) => String(v ?? '?')).join(' / ')
}

interface Heading {
  readonly date: string
  readonly machine: MachineAround
}

/** Date, machine and load average: the first rows of a load benchmark's report. */
export function headingRows(row: Row, summary: Heading): string[] {
  const { machine } = summary
  return [
    row('date', summary.date),
    row('machine', `${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}`),
    row(
      'load average 1 min: before / after',
      slash(machine.loadAverage1mBefore, machine.loadAverage1mAfter),
    ),
  ]
}

interface Provisioned {
  readonly settings: {
    readonly terminals: number
    readonly debitCards: number
    readonly creditCards: number
    readonly lowBalanceCards: number
  }
  readonly provisionS: number
}

/** The fleet the load ran against and how long provisioning it took. */
export function fleetRows(row: Row, summary: Provisioned): string[] {
  const set = summary.settings
  return [
    row(
      'terminals / debit / credit / low cards',
      slash(set.terminals, set.debitCards, set.creditCards, set.lowBalanceCards),
    ),
    row('provisioning', `${summary.provisionS} s`),
  ]
}

/** Whether every answer was the intended one (and which were not), and any credit fallbacks. */
export function verdictRows(
  row: Row,
  unexpected: Readonly<Record<string, unknown>>,
  creditFallbacks: number,
): string[] {
  const entries = Object.entries(unexpected)
  const lines = [
    entries.length === 0 ? '  every answer was the one the mix intended' : '  UNEXPECTED:',
  ]
  for (const [category, outcomes] of entries) {
    lines.push(row(`    ${category}`, JSON.stringify(outcomes)))
  }
  if (creditFallbacks > 0) {
    lines.push(row('credit requests sent with debit cards', creditFallbacks))
  }
  return lines
}
