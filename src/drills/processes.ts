import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'

/**
 * The two processes of a drill: the issuer simulator and Tollgate, each `node <cli> …` on port 0
 * with bounded waits; their ports are read from what they print. Only 127.0.0.1.
 */

export const START_WAIT_MS = 20_000
const STOP_GRACE_MS = 10_000
const KILL_WAIT_MS = 3_000
const OUTPUT_CHARS_MAX = 32 * 1024
const SIM_FIRST_LINE =
  /^issuer-sim listening 127\.0\.0\.1:(\d+) control http:\/\/127\.0\.0\.1:(\d+)$/
const SERVE_HTTP_LINE = /HTTP API\s+(http:\/\/127\.0\.0\.1:\d+)/

export interface DrillChild {
  readonly child: ChildProcess
  readonly exited: Promise<number | null>
  /** The last output (stdout and stderr), for an error message; it never holds card numbers. */
  output(): string
}

function watch(child: ChildProcess): DrillChild {
  let output = ''
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_CHARS_MAX)
  }
  child.stderr?.on('data', keep)
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  )
  return { child, exited, output: () => output }
}

/** Resolves the first match of `pattern` in the child's stdout lines; rejects on exit or timeout. */
function awaitLine(target: DrillChild, pattern: RegExp, what: string): Promise<RegExpExecArray> {
  const stdout = target.child.stdout
  if (stdout === null) return Promise.reject(new Error(`${what}: no stdout`))
  const lines = createInterface({ input: stdout })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      lines.close()
      reject(new Error(`${what} did not start within ${START_WAIT_MS} ms:\n${target.output()}`))
    }, START_WAIT_MS)
    lines.on('line', (line) => {
      const match = pattern.exec(line)
      if (match === null) return
      clearTimeout(timer)
      // Keep reading (and discarding) stdout so the child never blocks on a full pipe.
      resolve(match)
    })
    void target.exited.then((code) => {
      clearTimeout(timer)
      reject(
        new Error(`${what} exited with ${String(code)} before it started:\n${target.output()}`),
      )
    })
  })
}

export interface SimChild extends DrillChild {
  readonly isoPort: number
  readonly controlUrl: string
}

export async function startSim(cli: string, seed: number): Promise<SimChild> {
  const child = spawn(
    process.execPath,
    [
      cli,
      'issuer-sim',
      '--port',
      '0',
      '--control-port',
      '0',
      '--seed',
      String(seed),
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const watched = watch(child)
  try {
    const match = await awaitLine(watched, SIM_FIRST_LINE, 'issuer-sim')
    return {
      ...watched,
      isoPort: Number(match[1]),
      controlUrl: `http://127.0.0.1:${match[2]}`,
    }
  } catch (error) {
    child.kill('SIGKILL')
    throw error
  }
}

export interface ServeChild extends DrillChild {
  readonly url: string
}

export async function startServe(
  cli: string,
  dataDir: string,
  adminToken: string,
  extraEnv: Readonly<Record<string, string>> = {},
): Promise<ServeChild> {
  const child = spawn(process.execPath, [cli, 'serve'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '',
      TOLLGATE_DATA_DIR: dataDir,
      TOLLGATE_HTTP_HOST: '127.0.0.1',
      TOLLGATE_HTTP_PORT: '0',
      TOLLGATE_ISO_HOST: '127.0.0.1',
      TOLLGATE_ISO_PORT: '0',
      TOLLGATE_ADMIN_TOKEN: adminToken,
      TOLLGATE_LOG_LEVEL: 'warn',
      TOLLGATE_DEMO_DATA: 'on',
      ...extraEnv,
    },
  })
  const watched = watch(child)
  try {
    const match = await awaitLine(watched, SERVE_HTTP_LINE, 'tollgate serve')
    const url = match[1] ?? ''
    await waitReady(url, watched)
    return { ...watched, url }
  } catch (error) {
    child.kill('SIGKILL')
    throw error
  }
}

async function waitReady(url: string, target: DrillChild): Promise<void> {
  const deadline = Date.now() + START_WAIT_MS
  while (Date.now() < deadline) {
    if (target.child.exitCode !== null) break
    try {
      const ready = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) })
      if (ready.status === 200) return
    } catch {
      // Not answering yet.
    }
    await sleep(100)
  }
  throw new Error(`tollgate serve was not ready within ${START_WAIT_MS} ms:\n${target.output()}`)
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms).unref())

/** SIGTERM, then SIGKILL after a bound. Resolves the exit code (null when killed by a signal). */
export async function stopChild(target: DrillChild, signal: NodeJS.Signals = 'SIGTERM') {
  const { child } = target
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
  child.kill(signal)
  const late = Symbol('late')
  const first = await Promise.race([target.exited, sleep(STOP_GRACE_MS).then(() => late)])
  if (first !== late) return first
  child.kill('SIGKILL')
  const second = await Promise.race([target.exited, sleep(KILL_WAIT_MS).then(() => late)])
  return second === late ? null : second
}
