/**
 * The machine the figures come from, and CPU time from /proc (Linux): of one process and of the
 * whole machine (null elsewhere).
 */
import { readFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { round } from './stats.js'

const CLOCK_TICKS_PER_SECOND = 100

/** A process's user + system CPU time in seconds, from /proc (Linux); null elsewhere. */
export function processCpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // After "(command) ": state, ppid, …; utime and stime are the 12th and 13th from here.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[11]) + Number(fields[12])
    return Number.isFinite(ticks) ? ticks / CLOCK_TICKS_PER_SECOND : null
  } catch {
    return null
  }
}

/** CPU seconds all processes on the machine spent busy (not idle or waiting), from /proc/stat. */
export function machineBusyCpuSeconds(): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
    const ticks = line.trim().split(/\s+/).slice(1).map(Number)
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = ticks
    const busy = user + nice + system + irq + softirq + steal
    return Number.isFinite(busy) && line.startsWith('cpu ') ? busy / CLOCK_TICKS_PER_SECOND : null
  } catch {
    return null
  }
}

export interface CpuFigures {
  /** CPU seconds of the peer process (the server, or the echo) in the window. */
  readonly peerCpuS: number | null
  /** CPU seconds of this process in the window. */
  readonly clientCpuS: number
  /** CPU seconds of every other process on the machine in the window (may be below 0). */
  readonly otherCpuS: number | null
}

/** Starts a CPU window over the peer, this process and the machine; the result ends it. */
export function startCpuWindow(peerPid: number | undefined): () => CpuFigures {
  const peerStart = processCpuSeconds(peerPid)
  const machineStart = machineBusyCpuSeconds()
  const clientStart = process.cpuUsage()
  return () => {
    const peerEnd = processCpuSeconds(peerPid)
    const machineEnd = machineBusyCpuSeconds()
    const client = process.cpuUsage(clientStart)
    const peerCpuS = peerStart === null || peerEnd === null ? null : peerEnd - peerStart
    const clientCpuS = (client.user + client.system) / 1e6
    const otherCpuS =
      peerCpuS === null || machineStart === null || machineEnd === null
        ? null
        : machineEnd - machineStart - peerCpuS - clientCpuS
    return { peerCpuS, clientCpuS, otherCpuS }
  }
}

/** The one-minute load average of the machine. */
export function loadAverage1m(): number {
  return loadavg()[0] ?? 0
}

export interface Machine {
  readonly cpus: number
  readonly cpuModel: string
  readonly node: string
}

/** The machine the figures come from (load averages are added by each benchmark). */
export function machineInfo(): Machine {
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version }
}

export interface MachineAround extends Machine {
  readonly loadAverage1mBefore: number
  readonly loadAverage1mAfter: number
}

/** The machine, with the load average before the run (given) and after it (now). */
export function machineAround(loadBefore: number): MachineAround {
  return {
    ...machineInfo(),
    loadAverage1mBefore: round(loadBefore),
    loadAverage1mAfter: round(loadAverage1m()),
  }
}
