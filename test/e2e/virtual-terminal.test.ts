import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEMO_CARDS } from '../../src/app/demo-data.js'
import { REPO_ROOT } from '../support/paths.js'
import { api, startTestServer, type TestServer } from '../support/server.js'

/**
 * `tollgate terminal` as an integrator or a cashier trainer runs it: the built CLI in a child
 * process, over real TCP to a real server in each dialect, explanations over real HTTP.
 */

const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js')
const RUN_TIMEOUT_MS = 30_000
const OUTPUT_CHARS_MAX = 1_000_000
const DIALECTS = ['cup-pos', 'iso87-ascii', 'iso87-binary'] as const

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the CLI to its end (bounded), feeding `input` on stdin; never rejects on an exit code. */
function runCli(args: readonly string[], env: Record<string, string>, input = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (stdout.length < OUTPUT_CHARS_MAX) stdout += chunk
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < OUTPUT_CHARS_MAX) stderr += chunk
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      const output = `${stdout}${stderr}`
      reject(new Error(`tollgate ${args.join(' ')} ran over ${RUN_TIMEOUT_MS} ms:\n${output}`))
    }, RUN_TIMEOUT_MS)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    child.stdin.end(input)
  })
}

/** The STAN of the transaction line (→ purchase … STAN 000123) of a run. */
function stanOf(output: string, label: string): string {
  const line = output.split('\n').find((text) => text.startsWith(`→ ${label}`))
  const stan = line === undefined ? undefined : /(?:STAN|流水号) (\d{6})/.exec(line)?.[1]
  if (stan === undefined) throw new Error(`no "→ ${label}" line with a STAN in:\n${output}`)
  return stan
}

/** A port on 127.0.0.1 where nothing listens (opened by the system, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (typeof address !== 'object' || address === null) throw new Error('no port')
  return address.port
}

beforeAll(() => {
  if (!existsSync(CLI)) {
    throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`)
  }
})

describe.each(DIALECTS)('tollgate terminal over %s', (dialect) => {
  let server: TestServer
  let stateDir: string
  let common: string[]
  const terminal = (args: readonly string[], input?: string): Promise<Run> =>
    runCli(['terminal', ...common, ...args], { TOLLGATE_TERMINAL_STATE_DIR: stateDir }, input)

  beforeAll(async () => {
    server = await startTestServer({ TOLLGATE_ISO_DIALECT: dialect })
    stateDir = await mkdtemp(join(tmpdir(), 'tollgate-terminal-state-'))
    common = ['--port', String(server.isoPort), '--dialect', dialect, '--url', server.url]
  })
  afterAll(async () => {
    await server.close()
    await rm(stateDir, { recursive: true, force: true })
  })

  it('a purchase is approved, shown with its explanation, and reversed by its STAN', async () => {
    const purchase = await terminal(['--kind', 'purchase', '--amount', '88.00', '--show-messages'])
    expect(purchase.stderr).toBe('')
    expect(purchase.code).toBe(0)
    expect(purchase.stdout).toMatch(/← 0810 {2}response code 00: Approved/)
    expect(purchase.stdout).toMatch(/← 0210 {2}response code 00: Approved/)
    expect(purchase.stdout).toContain('✓ Purchase approved  [response code 00]')
    expect(purchase.stdout).toContain('88.00 CNY')
    expect(purchase.stdout).not.toContain(DEMO_CARDS.debit.pan)
    const id = /^(tx_[0-9A-Z]{26})$/m.exec(purchase.stdout)?.[1]
    expect(id).toBeDefined()
    const stan = stanOf(purchase.stdout, 'purchase')

    const reversalArgs = ['--kind', 'reversal', '--original-stan', stan, '--no-sign-on']
    if (dialect !== 'cup-pos') {
      // iso87 names the original by its field 7 too: pass it as an integrator would.
      const time = /^\s+7\s+Transmission date and time\s+"(\d{10})"$/m.exec(purchase.stdout)?.[1]
      expect(time).toBeDefined()
      reversalArgs.push('--original-time', time ?? '')
    }
    const reversal = await terminal(reversalArgs)
    expect(reversal.stderr).toBe('')
    expect(reversal.code).toBe(0)
    expect(reversal.stdout).toMatch(/← 0410 {2}response code 00: Approved/)
    expect(reversal.stdout).toContain('✓ Reversal approved')
    expect(reversal.stdout).toContain(id ?? 'an id')
    expect(reversal.stdout).not.toContain('sign-on')
    const path = `/v1/transactions/${id ?? ''}`
    const original = await api(server.url).get<{ lifecycle: string }>(path)
    expect(original.status).toBe(200)
    expect(original.body.lifecycle).toBe('reversed')
  })

  it('a low-balance purchase is declined with 51 and explained in Chinese', async () => {
    const card = DEMO_CARDS.lowBalance
    const run = await terminal([
      '--kind',
      'purchase',
      '--amount',
      '120.00',
      '--card',
      card.pan,
      '--expiry',
      card.expiry,
      '--lang',
      'zh-CN',
    ])
    expect(run.stderr).toBe('')
    expect(run.code).toBe(1)
    expect(run.stdout).toMatch(/← 0210 {2}应答码 51: 可用余额不足/)
    expect(run.stdout).toContain('✗ 余额不足  [应答码 51]')
    expect(run.stdout).toContain('insufficient_funds')
    expect(run.stdout).toContain('30.00 CNY')
    expect(run.stdout).toContain('持卡人')
    expect(run.stdout).not.toContain(card.pan)
  })

  it('signs on alone', async () => {
    const run = await terminal(['--kind', 'sign_on'])
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/→ sign-on {2}0800 {2}STAN \d{6}/)
    expect(run.stdout).toMatch(/← 0810 {2}response code 00: Approved/)
    expect(run.stdout).not.toContain('tx_')
  })

  it.runIf(dialect === 'cup-pos')('drives the menu from piped input until quit', async () => {
    // Purchase, accept the amount, card and expiry defaults, then quit.
    const run = await terminal(['--interactive', '--lang', 'en'], '1\n\n\n\n0\n')
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('1. purchase')
    expect(run.stdout).toContain('0. quit')
    expect(run.stdout).toMatch(/→ purchase {2}0200 {2}10\.00 CNY/)
    expect(run.stdout).toContain('✓ Purchase approved  [response code 00]')
    expect(run.stdout).toMatch(/bye\n$/)
  })
})

describe('tollgate terminal without a host', () => {
  let stateDir: string
  const cli = (args: readonly string[]): Promise<Run> =>
    runCli(['terminal', ...args], { TOLLGATE_TERMINAL_STATE_DIR: stateDir })

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'tollgate-terminal-state-'))
  })
  afterAll(async () => {
    await rm(stateDir, { recursive: true, force: true })
  })

  it('exits 2 with a clear message when nothing listens on the port', async () => {
    const port = await closedPort()
    const run = await cli(['--kind', 'purchase', '--amount', '1.00', '--port', String(port)])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain(`cannot connect to 127.0.0.1:${port}: connection refused`)
    expect(run.stdout).toBe('')
  })

  it('exits 2 on bad usage, naming the flag', async () => {
    const run = await cli(['--kind', 'purchase'])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('--amount')
    const dialect = await cli(['--kind', 'sign_on', '--dialect', 'x25'])
    expect(dialect.code).toBe(2)
    expect(dialect.stderr).toContain('--dialect')
  })
})
