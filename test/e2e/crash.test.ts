import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REPO_ROOT } from '../support/paths.js'
import {
  api,
  authorizeBody,
  cardTokenOf,
  createShop,
  DEMO_CARDS,
  type Api,
  type ApiResponse,
  type CardAccountView,
  type DecisionBody,
  type TerminalRef,
  type TestServer,
  type TransactionBody,
} from '../support/server.js'

interface LedgerCheck {
  readonly balanced: boolean
  readonly accountsOutOfBound: readonly string[]
}

/**
 * The crash test: the real server as a child process, a burst of concurrent purchases, SIGKILL
 * while requests are in flight, a restart on the same data directory, and then the promises of
 * a payment switch: every approval a client received is stored and approved; every stored
 * transaction is one the client sent; the ledger balances; each card's available balance is its
 * opening balance minus the approved purchases stored on it.
 */

const MAIN_JS = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js')
const ADMIN_TOKEN = 'crash-test-admin-token-0123456789'
const WAIT_MS_MAX = 20_000
const POLL_MS = 50
/** Purchases planned for the burst; most are never sent, as the child dies first. */
const REQUESTS_PLANNED = 400
/** Requests in flight at once. */
const CONCURRENCY = 64
/** SIGKILL once this many answers have arrived. */
const KILL_AFTER_RESPONSES = 100
const CHILD_OUTPUT_CHARS_MAX = 64 * 1024

interface Child {
  readonly process: ChildProcess
  readonly url: string
  /** The child's recent stdout and stderr, for a failure message (it never holds card numbers). */
  output(): string
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      probe.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))))
    })
  })
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null
}

/** Starts `tollgate serve` on a data directory and waits (bounded) until /readyz answers. */
async function startChild(dataDir: string): Promise<Child> {
  const port = await freePort()
  const child = spawn(process.execPath, [MAIN_JS, 'serve'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '',
      TOLLGATE_DATA_DIR: dataDir,
      TOLLGATE_HTTP_HOST: '127.0.0.1',
      TOLLGATE_HTTP_PORT: String(port),
      TOLLGATE_ISO_PORT: '0',
      TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN,
      TOLLGATE_LOG_LEVEL: 'warn',
    },
  })
  let output = ''
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-CHILD_OUTPUT_CHARS_MAX)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const url = `http://127.0.0.1:${port}`
  const started = { process: child, url, output: () => output }
  const deadline = Date.now() + WAIT_MS_MAX
  while (Date.now() < deadline) {
    if (!isRunning(child)) {
      throw new Error(`tollgate serve exited (${child.exitCode ?? child.signalCode}):\n${output}`)
    }
    try {
      const ready = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) })
      if (ready.status === 200) return started
    } catch {
      // Not listening yet.
    }
    await sleep(POLL_MS)
  }
  child.kill('SIGKILL')
  throw new Error(`tollgate serve was not ready within ${WAIT_MS_MAX} ms:\n${output}`)
}

/** SIGKILL, then wait (bounded) until the process is gone. */
async function killChild(child: ChildProcess): Promise<void> {
  if (!isRunning(child)) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGKILL')
  await Promise.race([exited, sleep(WAIT_MS_MAX)])
  if (isRunning(child)) throw new Error('the child survived SIGKILL')
}

// ---------------------------------------------------------------------------------------------
// The burst
// ---------------------------------------------------------------------------------------------

type CardName = 'debit' | 'credit'

interface Sent {
  readonly stan: string
  readonly card: CardName
  readonly amountMinor: number
  readonly body: Record<string, unknown>
}

interface Received {
  readonly sent: Sent
  /** null when the connection failed (the server was killed before answering). */
  readonly status: number | null
  readonly body: DecisionBody | null
}

function formatMinor(minor: number): string {
  return `${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, '0')}`
}

function parseMinor(text: string): number {
  const match = /^(-?)(\d+)\.(\d{2})$/.exec(text)
  if (match === null) throw new Error(`not an amount: ${text}`)
  const minor = Number(match[2]) * 100 + Number(match[3])
  return match[1] === '-' ? -minor : minor
}

/**
 * The planned purchases, deterministic: two in three on the debit card, small amounts with every
 * tenth far above the balance; the rest on the credit card, with every tenth above its daily
 * limit. Later ones decline as money and daily limits run out.
 */
function planBurst(terminal: TerminalRef): Sent[] {
  const planned: Sent[] = []
  for (let index = 0; index < REQUESTS_PLANNED; index += 1) {
    const card: CardName = index % 3 === 2 ? 'credit' : 'debit'
    const large = index % 10 === 9
    const amountMinor =
      card === 'debit'
        ? large
          ? 600_000
          : 100 + ((index * 7_919) % 4_900)
        : large
          ? 2_500_000
          : 10_000 + ((index * 104_729) % 40_000)
    const stan = String(100_000 + index)
    const body = authorizeBody({ terminal, card, amount: formatMinor(amountMinor), stan })
    planned.push({ stan, card, amountMinor, body })
  }
  return planned
}

/** Sends the plan from CONCURRENCY workers; kills the child after KILL_AFTER_RESPONSES answers. */
async function fireAndKill(child: Child, planned: readonly Sent[]): Promise<Received[]> {
  const received: Received[] = []
  let next = 0
  let answered = 0
  let killing: Promise<void> | null = null
  const worker = async (): Promise<void> => {
    // Bounded: each worker takes from a finite plan and stops once the child is being killed.
    while (next < planned.length && killing === null) {
      const sent = planned[next]!
      next += 1
      try {
        const response = await fetch(`${child.url}/v1/authorizations`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(sent.body),
          signal: AbortSignal.timeout(WAIT_MS_MAX),
        })
        const body = (await response.json()) as DecisionBody
        received.push({ sent, status: response.status, body })
        answered += 1
        if (answered >= KILL_AFTER_RESPONSES) killing ??= killChild(child.process)
      } catch {
        received.push({ sent, status: null, body: null })
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  await (killing ?? killChild(child.process))
  return received
}

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

interface Page {
  readonly items: TransactionBody[]
  readonly nextCursor: string | null
}

const last4Of = (card: CardName): string => DEMO_CARDS[card].pan.slice(-4)

describe('crash: SIGKILL during a burst of purchases', () => {
  let dataDir: string | undefined
  let first: Child | null = null
  let second: Child | null = null
  let admin: Api
  let shop: TerminalRef
  const opening = new Map<CardName, number>()
  const tokens = new Map<CardName, string>()
  let received: Received[] = []
  let stored: TransactionBody[] = []

  const asServer = (child: Child): TestServer => ({
    url: child.url,
    isoPort: 0,
    adminToken: ADMIN_TOKEN,
    dataDir: dataDir ?? '',
    close: () => Promise.resolve(),
  })

  async function available(card: CardName): Promise<number> {
    const answer = await admin.get<CardAccountView>(`/v1/cards/${tokens.get(card)}`)
    expect(answer.status).toBe(200)
    return parseMinor(answer.body.available)
  }

  async function storedOnTerminal(): Promise<TransactionBody[]> {
    const all: TransactionBody[] = []
    let cursor: string | null = null
    // Bounded: enough pages for every planned request, and then some.
    for (let page = 0; page < REQUESTS_PLANNED / 100 + 2; page += 1) {
      const after = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`
      const path = `/v1/transactions?terminalId=${shop.id}&limit=100${after}`
      const answer: ApiResponse<Page> = await admin.get<Page>(path)
      expect(answer.status).toBe(200)
      all.push(...answer.body.items)
      cursor = answer.body.nextCursor
      if (cursor === null) return all
    }
    throw new Error('more pages of transactions than requests sent')
  }

  beforeAll(async () => {
    if (!existsSync(MAIN_JS)) {
      throw new Error(`${MAIN_JS} is missing: run \`npm run build\` first (\`npm test\` does)`)
    }
    dataDir = await mkdtemp(join(tmpdir(), 'tollgate-crash-'))
    first = await startChild(dataDir)
    admin = api(first.url, ADMIN_TOKEN)
    shop = await createShop(asServer(first))
    for (const card of ['debit', 'credit'] as const) {
      tokens.set(card, await cardTokenOf(asServer(first), DEMO_CARDS[card].pan))
      opening.set(card, await available(card))
    }
    received = await fireAndKill(first, planBurst(shop))
    second = await startChild(dataDir)
    admin = api(second.url, ADMIN_TOKEN)
    stored = await storedOnTerminal()
  })

  afterAll(async () => {
    for (const child of [first, second]) {
      if (child !== null) await killChild(child.process)
    }
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
  })

  const answered = () => received.filter((r) => r.status !== null)
  const approvals = () => received.filter((r) => r.body?.approved === true)
  const declines = () => received.filter((r) => r.body?.approved === false)

  it('was killed with requests in flight, after approvals and declines were answered', () => {
    expect(first?.process.signalCode).toBe('SIGKILL')
    expect(answered().length).toBeGreaterThanOrEqual(KILL_AFTER_RESPONSES)
    expect(approvals().length).toBeGreaterThan(0)
    expect(declines().length).toBeGreaterThan(0)
    expect(received.length).toBeLessThan(REQUESTS_PLANNED)
    for (const answer of answered()) expect(answer.status).toBe(201)
  })

  it('stored every approval a client received, approved and with the amount sent', () => {
    const byId = new Map(stored.map((t) => [t.id, t]))
    for (const { sent, body } of approvals()) {
      const record = byId.get(body!.transactionId)
      expect(record, `approval ${body!.transactionId} (STAN ${sent.stan})`).toBeDefined()
      expect(record).toMatchObject({
        outcome: 'approved',
        kind: 'purchase',
        lifecycle: 'posted',
        stan: sent.stan,
        amount: formatMinor(sent.amountMinor),
        card: { last4: last4Of(sent.card) },
      })
    }
  })

  it('stored every decline a client received, with the reason it was given', () => {
    const byId = new Map(stored.map((t) => [t.id, t]))
    for (const { body } of declines()) {
      const record = byId.get(body!.transactionId)
      expect(record).toMatchObject({ outcome: 'declined', reason: body!.reason })
    }
  })

  it('stored nothing the client did not send, and nothing twice', () => {
    const sent = new Map(received.map((r) => [r.sent.stan, r.sent]))
    for (const record of stored) {
      const request = sent.get(record.stan ?? '')
      expect(request, `stored STAN ${record.stan}`).toBeDefined()
      expect(record.amount).toBe(formatMinor(request!.amountMinor))
      expect(record.card?.last4).toBe(last4Of(request!.card))
    }
    expect(new Set(stored.map((t) => t.stan)).size).toBe(stored.length)
    expect(stored.length).toBeGreaterThanOrEqual(answered().length)
  })

  it('keeps the ledger balanced with no account out of bound', async () => {
    const check = await admin.get<LedgerCheck>('/v1/ledger/check')
    expect(check.status).toBe(200)
    expect(check.body).toMatchObject({ balanced: true, accountsOutOfBound: [] })
  })

  const CARDS = ['debit', 'credit'] as const
  it.each(CARDS)('leaves the %s card at its opening balance minus approvals', async (card) => {
    const approvedMinor = stored
      .filter((t) => t.outcome === 'approved' && t.card?.last4 === last4Of(card))
      .reduce((sum, t) => sum + parseMinor(t.amount), 0)
    expect(approvedMinor).toBeGreaterThan(0)
    expect(await available(card)).toBe(opening.get(card)! - approvedMinor)
  })

  it('serves again after the restart', async () => {
    const body = authorizeBody({ terminal: shop, card: 'debit', amount: '1.00', stan: '999999' })
    const answer = await admin.post<DecisionBody>('/v1/authorizations', body)
    expect(answer.status).toBe(201)
    expect(answer.body.approved).toBe(true)
    expect(answer.text).not.toContain(DEMO_CARDS.debit.pan)
  })
})
