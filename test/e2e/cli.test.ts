import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEMO_CARDS, DEMO_MERCHANTS, DEMO_TERMINALS } from '../../src/app/demo-data.js'
import { REPO_ROOT } from '../support/paths.js'
import { startTestServer, type TestServer } from '../support/server.js'

const run = promisify(execFile)
const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js')
const LOW_BALANCE = DEMO_CARDS.lowBalance

/**
 * Starts a server for the enclosing describe block and returns the built `tollgate` command,
 * pointed at it.
 */
function cliAgainstServer() {
  let server: TestServer
  beforeAll(async () => {
    if (!existsSync(CLI))
      throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`)
    server = await startTestServer()
  })
  afterAll(async () => {
    await server.close()
  })
  return (...args: string[]) =>
    run(process.execPath, [CLI, ...args, '--url', server.url], { timeout: 30_000 })
}

/** `authorize` of 120.00 at the grocery on the low-balance card (30.00 CNY): a decline. */
function authorizeLowBalanceArgs(...extra: string[]): string[] {
  return [
    'authorize',
    '--terminal',
    DEMO_TERMINALS.grocery.id,
    '--merchant',
    DEMO_MERCHANTS.grocery.id,
    '--pan',
    LOW_BALANCE.pan,
    '--expiry',
    LOW_BALANCE.expiry,
    '--amount',
    '120.00',
    ...extra,
  ]
}

/** The `tollgate` command against a real server, as an integrator or trainer uses it. */
describe('tollgate CLI', () => {
  const tollgate = cliAgainstServer()

  it('demo: one approval and a block of every family, in a table, and it can run twice', async () => {
    const first = await tollgate('demo')
    for (const reason of [
      'insufficient_funds',
      'credit_limit_exceeded',
      'invalid_card_number',
      'original_amount_exceeded',
      'transaction_amount_limit_exceeded',
      'card_daily_count_limit_exceeded',
      'card_blocked',
      'merchant_pending_audit',
      'terminal_merchant_mismatch',
      'card_lost',
      'expired_card',
      'card_not_found',
    ]) {
      expect(first.stdout).toContain(reason)
    }
    expect(first.stdout).toMatch(/approved\s+00/)
    const second = await tollgate('demo')
    // Same rows: the tour voided its approvals, so limits and balances did not move.
    const rows = (text: string) =>
      text
        .split('\n')
        .filter((line) => /^\d+\s/.test(line))
        .map((line) => line.replace(/\s+/g, ' '))
    // Without rows the comparison below would pass on any output.
    expect(rows(first.stdout).length).toBeGreaterThanOrEqual(20)
    expect(rows(second.stdout)).toEqual(rows(first.stdout))
  })

  it('demo --lang zh-CN prints Chinese', async () => {
    const { stdout } = await tollgate('demo', '--lang', 'zh-CN')
    expect(stdout).toContain('余额不足')
    expect(stdout).toContain('场景')
  })

  it('authorize prints the decision and its explanation; explain finds it again', async () => {
    const { stdout } = await tollgate(...authorizeLowBalanceArgs('--lang', 'zh-CN'))
    expect(stdout).toContain('insufficient_funds')
    expect(stdout).toContain('30.00 CNY')
    expect(stdout).toContain('持卡人')
    expect(stdout).not.toContain(LOW_BALANCE.pan)
    const id = /transaction (tx_[0-9A-Z]{26})/.exec(stdout)?.[1]
    expect(id).toBeDefined()
    const explained = await tollgate('explain', id ?? '', '--lang', 'en')
    expect(explained.stdout).toContain('Insufficient funds')
    expect(explained.stdout).toContain('120.00 CNY')
  })

  it('refuses bad usage with a clear message and exit code 2', async () => {
    await expect(tollgate('authorize', '--terminal', '10000001')).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--merchant is required') as unknown,
    })
    await expect(tollgate('frobnicate')).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('unknown command') as unknown,
    })
  })
})

describe('tollgate find', () => {
  const tollgate = cliAgainstServer()

  it('finds a blocked sale by terminal, card last 4 and amount, with the reason in words', async () => {
    await tollgate(...authorizeLowBalanceArgs())
    const { stdout } = await tollgate(
      'find',
      '--terminal',
      DEMO_TERMINALS.grocery.id,
      '--last4',
      LOW_BALANCE.pan.slice(-4),
      '--amount',
      '120.00',
      '--lang',
      'zh-CN',
    )
    expect(stdout).toContain('余额不足')
    expect(stdout).toContain('120.00 CNY')
    expect(stdout).toMatch(/tx_[0-9A-Z]{26}/)
    expect(stdout).not.toContain(LOW_BALANCE.pan)
    const none = await tollgate(
      'find',
      '--terminal',
      DEMO_TERMINALS.grocery.id,
      '--amount',
      '999.99',
    )
    expect(none.stdout).toContain('No transaction matches.')
  })

  it('names a bad filter', async () => {
    await expect(tollgate('find', '--last4', '12')).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('cardLast4') as unknown,
    })
  })
})

describe('tollgate serve on a data directory another Tollgate uses', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer()
  })
  afterAll(async () => {
    await server.close()
  })

  it('refuses to start (exit 75), naming the process that holds it, and changes nothing', async () => {
    const second = run(process.execPath, [CLI, 'serve'], {
      timeout: 30_000,
      env: {
        ...process.env,
        TOLLGATE_DATA_DIR: server.dataDir,
        TOLLGATE_HTTP_PORT: '0',
        TOLLGATE_ISO_PORT: '0',
      },
    })
    await expect(second).rejects.toMatchObject({ code: 75 })
    const failure = (await second.catch((error: unknown) => error)) as { stderr: string }
    expect(failure.stderr).toMatch(/another Tollgate \(process \d+\) is using/)
    // The first one still serves.
    const ready = await fetch(`${server.url}/readyz`)
    expect(ready.status).toBe(200)
  })
})
