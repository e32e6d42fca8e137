/**
 * Child processes for the benchmarks: the real server on a fresh SQLite database in a
 * temporary directory, started, awaited and stopped with bounded waits. Only 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import type { Pool } from 'undici'

export const READY_TIMEOUT_MS = 15_000
const STOP_GRACE_MS = 15_000
const KILL_WAIT_MS = 3_000
const OUTPUT_LINES_MAX = 40

export interface Child {
  readonly child: ChildProcess
  /** The last lines the child printed, shown if it fails to start. */
  readonly output: string[]
  readonly exited: Promise<number | null>
}

export interface ServerChild extends Child {
  readonly origin: string
  readonly dataDir: string
  readonly adminToken: string
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port was assigned'))))
    })
  })
}

/** Keeps the child's last lines of output and a promise of its exit code. */
export function watchChild(child: ChildProcess): Child {
  const output: string[] = []
  const keep = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue
      output.push(line)
      if (output.length > OUTPUT_LINES_MAX) output.shift()
    }
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code))
  })
  return { child, output, exited }
}

export interface ServerSpec {
  /** The name of the temporary data directory starts with this. */
  readonly tempPrefix: string
  /** Settings on top of the common ones (data directory, HTTP port, admin token, demo data). */
  readonly env: Readonly<Record<string, string>>
  /** Run the server with --cpu-prof, the profiles written to the data directory. */
  readonly cpuProfile?: boolean
}

/** Starts `tollgate serve` from dist/ on a free HTTP port; wait for it with `waitReady`. */
export async function startServer(spec: ServerSpec): Promise<ServerChild> {
  const dataDir = mkdtempSync(join(tmpdir(), spec.tempPrefix))
  const port = await freePort()
  const adminToken = randomBytes(24).toString('hex')
  const root = fileURLToPath(new URL('../../../', import.meta.url))
  const entry = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url))
  const nodeArgs = spec.cpuProfile === true ? ['--cpu-prof', '--cpu-prof-dir', dataDir] : []
  const child = spawn(process.execPath, [...nodeArgs, entry, 'serve'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      TOLLGATE_DATA_DIR: dataDir,
      TOLLGATE_HTTP_HOST: '127.0.0.1',
      TOLLGATE_HTTP_PORT: String(port),
      TOLLGATE_ADMIN_TOKEN: adminToken,
      TOLLGATE_LOG_LEVEL: 'warn',
      TOLLGATE_DEMO_DATA: 'on',
      ...spec.env,
    },
  })
  return { ...watchChild(child), origin: `http://127.0.0.1:${port}`, dataDir, adminToken }
}

/** Polls /readyz until it answers 200; throws with the server's output if it exits or stalls. */
export async function waitReady(server: ServerChild): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  let exitCode: number | null | undefined
  void server.exited.then((code) => {
    exitCode = code
  })
  while (Date.now() < deadline) {
    if (exitCode !== undefined) {
      const lines = server.output.join('\n')
      throw new Error(`server exited with ${String(exitCode)} before it was ready:\n${lines}`)
    }
    try {
      const signal = AbortSignal.timeout(1_000)
      const response = await fetch(`${server.origin}/readyz`, { signal })
      if (response.status === 200) return
    } catch {
      // Not listening yet: try again shortly.
    }
    await sleep(100)
  }
  throw new Error(`server not ready within ${READY_TIMEOUT_MS} ms:\n${server.output.join('\n')}`)
}

/**
 * SIGTERM (the child drains and exits), then SIGKILL after a bound. Unref'd timers. `name` is
 * how a SIGKILL is reported through `log`.
 */
export async function stopChild(
  target: Child,
  log: (message: string) => void,
  name = `child ${String(target.child.pid)}`,
): Promise<number | null> {
  const { child } = target
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
  child.kill('SIGTERM')
  const timeout = 'timeout' as const
  const unref = { ref: false }
  const graceful = await Promise.race([target.exited, sleep(STOP_GRACE_MS, timeout, unref)])
  if (graceful !== timeout) return graceful
  log(`${name} did not stop within ${STOP_GRACE_MS} ms: SIGKILL`)
  child.kill('SIGKILL')
  const killed = await Promise.race([target.exited, sleep(KILL_WAIT_MS, timeout, unref)])
  return killed === timeout ? null : killed
}

/** Closes the pool and stops the server once the measurement is done; reports its exit. */
export async function finishServer(
  server: ServerChild,
  pool: Pool,
  log: (message: string) => void,
  name?: string,
): Promise<void> {
  await pool.close()
  log('stopping the server')
  const exitCode = await stopChild(server, log, name)
  if (exitCode !== 0) log(`server exited with ${String(exitCode)}`)
}

/**
 * Runs `work` against a started server. Whatever happens (an error, or Ctrl-C: exit 130), the
 * pool is destroyed, the server stopped and its data directory removed. `name` as in stopChild.
 */
export async function withServer<T>(
  server: ServerChild,
  pool: Pool,
  log: (message: string) => void,
  work: () => Promise<T>,
  name?: string,
): Promise<T> {
  const onSignal = (): void => {
    void stopChild(server, log, name).finally(() => {
      rmSync(server.dataDir, { recursive: true, force: true })
      process.exit(130)
    })
  }
  process.once('SIGINT', onSignal)
  try {
    return await work()
  } finally {
    process.removeListener('SIGINT', onSignal)
    await pool.destroy().catch(() => undefined)
    await stopChild(server, log, name)
    rmSync(server.dataDir, { recursive: true, force: true })
  }
}
