import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { systemClock } from '../../src/adapters/clock/system-clock.js'
import {
  createIssuerClient,
  type IssuerClient,
  type IssuerResult,
} from '../../src/adapters/issuer/client.js'
import {
  IssuerRouteConfigError,
  type IssuerRouteConfigInput,
} from '../../src/adapters/issuer/config.js'
import type { IssuerLogger } from '../../src/adapters/issuer/logger.js'
import { networkMessage, type IssuerRequest } from '../../src/adapters/issuer/protocol.js'
import {
  defaultAuthorizationCode,
  FakeIssuerHost,
  type FakeIssuerScript,
} from '../support/fake-issuer-host.js'

/**
 * The remote issuer client over real TCP on 127.0.0.1 against a scripted fake issuer host.
 * Every wait is bounded (waitFor, per-test timeouts); assertions are about what happened, never
 * about how fast.
 */
const PAN = '6212260200001234505'
const TEST_MS = 15_000
const WAIT_MS = 5_000

const hosts: FakeIssuerHost[] = []
const clients: IssuerClient[] = []

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()))
  await Promise.all(hosts.splice(0).map((host) => host.stop()))
})

async function startHost(
  script: Partial<FakeIssuerScript> = {},
  framing: 'binary2' | 'ascii4' = 'binary2',
): Promise<FakeIssuerHost> {
  const host = await FakeIssuerHost.start({ script, framing })
  hosts.push(host)
  return host
}

interface LogLine {
  readonly level: string
  readonly object: object
  readonly message: string
}

function recordingLogger(lines: LogLine[]): IssuerLogger {
  const at =
    (level: string) =>
    (object: object, message: string): void => {
      lines.push({ level, object, message })
    }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

function startClient(
  host: FakeIssuerHost,
  overrides: Partial<IssuerRouteConfigInput> = {},
  logs: LogLine[] = [],
): IssuerClient {
  const client = createIssuerClient(
    {
      name: 'test-issuer',
      host: '127.0.0.1',
      port: host.port,
      dialect: 'iso87-binary',
      framing: host.framing,
      poolSize: 1,
      requestTimeoutMs: 1_000,
      echoIntervalMs: 10_000,
      acquirerId: '48020000',
      reconnect: { baseMs: 50, maxMs: 400 },
      closeGraceMs: 200,
      ...overrides,
    },
    { clock: systemClock, random: Math.random, logger: recordingLogger(logs) },
  )
  clients.push(client)
  return client
}

async function signedOn(client: IssuerClient, count = 1): Promise<void> {
  expect(await client.whenSignedOn(count, WAIT_MS)).toBe(true)
}

function purchase(terminalId: string, stan: string, parts: Partial<IssuerRequest> = {}) {
  const request: IssuerRequest = {
    kind: 'purchase',
    pan: PAN,
    expiry: '3012',
    amountMinor: 8_800,
    currencyNumeric: '156',
    stan,
    transmissionTime: '1126120000',
    terminalId,
    merchantId: '898310058120001',
    acquirerId: '48020000',
    rrn: `000000${stan}`,
    ...parts,
  }
  return request
}

async function waitFor(condition: () => boolean, what: string, waitMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + waitMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

function authorizationOf(result: IssuerResult): string | null {
  if (result.type !== 'answered') throw new Error(`not answered: ${JSON.stringify(result)}`)
  return result.answer.authorizationCode
}

describe('issuer client: sign-on', () => {
  it(
    'signs on each connection before any request, then answers',
    async () => {
      const host = await startHost()
      const client = startClient(host, { poolSize: 2 })
      await signedOn(client, 2)
      const result = await client.send(purchase('10000001', '000001'))
      expect(result).toMatchObject({
        type: 'answered',
        mti: '0210',
        answer: {
          responseCode: '00',
          authorizationCode: defaultAuthorizationCode('10000001', '000001'),
        },
      })
      // On every connection the first message was the sign-on.
      for (const connection of [1, 2]) {
        const first = host.received.find((m) => m.connection === connection)
        expect(first).toMatchObject({ mti: '0800', networkCode: '001' })
      }
      expect(client.health()).toMatchObject({
        status: 'up',
        connections: { poolSize: 2, signedOn: 2 },
        counters: { sent: 1, answered: 1, signOns: 2 },
      })
    },
    TEST_MS,
  )

  it(
    'sends nothing before the sign-on answer, and retries a refused sign-on with backoff',
    async () => {
      const host = await startHost({ signOn: 'ignore' })
      const client = startClient(host, { networkTimeoutMs: 100 })
      await waitFor(() => host.count('0800', '001') >= 1, 'a sign-on')
      expect(await client.send(purchase('10000001', '000001'))).toEqual({
        type: 'unavailable',
        why: 'no_connection',
      })
      expect(host.count('0200')).toBe(0)
      host.script.signOn = 'refuse'
      await waitFor(() => host.count('0800', '001') >= 3, 'refused sign-ons')
      expect(client.health().status).toBe('down')
      expect(host.count('0200')).toBe(0)
      host.script.signOn = 'accept'
      await signedOn(client)
      expect((await client.send(purchase('10000001', '000002'))).type).toBe('answered')
    },
    TEST_MS,
  )
})

describe('issuer client: correlation', () => {
  it(
    'matches answers that come back out of order',
    async () => {
      const host = await startHost({ request: () => ({ type: 'hold' }) })
      const client = startClient(host)
      await signedOn(client)
      const stans = ['000011', '000012', '000013', '000014']
      const sends = stans.map((stan) => client.send(purchase('10000001', stan)))
      await waitFor(() => host.heldCount === 4, 'four held requests')
      expect(host.releaseHeld([2, 0, 3, 1])).toBe(4)
      const results = await Promise.all(sends)
      expect(results.map(authorizationOf)).toEqual(
        stans.map((stan) => defaultAuthorizationCode('10000001', stan)),
      )
    },
    TEST_MS,
  )

  it(
    'tells apart two terminals that use the same STAN',
    async () => {
      const host = await startHost({ request: () => ({ type: 'hold' }) })
      const client = startClient(host)
      await signedOn(client)
      const a = client.send(purchase('10000001', '000100'))
      const b = client.send(purchase('10000002', '000100'))
      await waitFor(() => host.heldCount === 2, 'two held requests')
      host.releaseHeld('lifo')
      expect(authorizationOf(await a)).toBe(defaultAuthorizationCode('10000001', '000100'))
      expect(authorizationOf(await b)).toBe(defaultAuthorizationCode('10000002', '000100'))
    },
    TEST_MS,
  )

  it(
    'refuses a second request with the same key while the first is in flight',
    async () => {
      const host = await startHost({ request: () => ({ type: 'hold' }) })
      const client = startClient(host)
      await signedOn(client)
      const first = client.send(purchase('10000001', '000200'))
      expect(await client.send(purchase('10000001', '000200'))).toMatchObject({
        type: 'unavailable',
        why: 'duplicate_in_flight',
      })
      // The same STAN and time from another class (a reversal, 0400) is another key.
      const reversal = client.send(
        purchase('10000001', '000200', {
          kind: 'reversal',
          original: { mti: '0200', stan: '000200', transmissionTime: '1126120000' },
        }),
      )
      await waitFor(() => host.heldCount === 2, 'two held requests')
      host.releaseHeld('fifo')
      expect((await first).type).toBe('answered')
      expect(await reversal).toMatchObject({ type: 'answered', mti: '0410' })
      expect(host.count('0200')).toBe(1)
    },
    TEST_MS,
  )

  it(
    'returns timeout, then drops and counts the late answer',
    async () => {
      const host = await startHost({ request: () => ({ type: 'answer', delayMs: 400 }) })
      const client = startClient(host)
      await signedOn(client)
      expect(await client.send(purchase('10000001', '000300'), 0, 100)).toEqual({
        type: 'timeout',
        why: 'no_answer',
      })
      await waitFor(() => client.health().counters.lateAnswers === 1, 'the late answer')
      expect(client.health().counters).toMatchObject({
        timeouts: 1,
        answered: 0,
        unmatchedAnswers: 0,
      })
      expect(client.health().window).toMatchObject({ outcomes: { timeout: 1 }, timeoutRate: 1 })
    },
    TEST_MS,
  )

  it(
    'never takes an answer under another key, and rejects an answer without field 39',
    async () => {
      const host = await startHost({ request: () => ({ type: 'wrong_key' }) })
      const client = startClient(host)
      await signedOn(client)
      expect(await client.send(purchase('10000001', '000400'), 0, 150)).toMatchObject({
        type: 'timeout',
      })
      expect(client.health().counters.unmatchedAnswers).toBe(1)
      host.script.request = () => ({ type: 'malformed' })
      expect(await client.send(purchase('10000001', '000401'))).toEqual({
        type: 'rejected',
        why: 'field 39: expected a two-character response code',
      })
      // An 0810 nobody asked for is not taken for anything either.
      host.broadcast({
        ...networkMessage('301', '999999', '1126120000', '1'),
        mti: '0810',
      })
      await waitFor(() => client.health().counters.unmatchedAnswers === 2, 'the stray 0810')
    },
    TEST_MS,
  )
})

describe('issuer client: connections', () => {
  it(
    'reconnects with backoff after the host goes away, without a tight loop',
    async () => {
      const host = await startHost()
      const client = startClient(host, { poolSize: 2 })
      await signedOn(client, 2)
      const attemptsBefore = client.health().counters.connectAttempts
      const pending = client.send(purchase('10000001', '000500'), 0, 3_000)
      host.script.request = () => ({ type: 'hold' })
      await host.stop()
      await new Promise((resolve) => setTimeout(resolve, 1_000))
      const health = client.health()
      expect(health.status).toBe('down')
      // Backoff 50 ms doubling to 400 ms: about 5 tries per slot in a second; a loop makes 1000s.
      const attempts = health.counters.connectAttempts - attemptsBefore
      expect(attempts).toBeGreaterThanOrEqual(2)
      expect(attempts).toBeLessThanOrEqual(2 * 8)
      expect(await client.send(purchase('10000001', '000501'))).toEqual({
        type: 'unavailable',
        why: 'no_connection',
      })
      const lost = await pending
      expect(['answered', 'timeout']).toContain(lost.type)
      host.script.request = () => ({ type: 'answer' })
      await host.listen()
      await signedOn(client, 2)
      expect((await client.send(purchase('10000001', '000502'))).type).toBe('answered')
      const kinds = client
        .history()
        .filter((t) => t.kind === 'route')
        .map((t) => t.to)
      expect(kinds).toContain('down')
      expect(kinds.at(-1)).toBe('up')
    },
    TEST_MS,
  )

  it(
    'answers a request in flight on a connection the host closes as a timeout at once',
    async () => {
      const host = await startHost({ request: () => ({ type: 'disconnect' }) })
      const client = startClient(host, { requestTimeoutMs: 10_000 })
      await signedOn(client)
      expect(await client.send(purchase('10000001', '000600'))).toEqual({
        type: 'timeout',
        why: 'connection_lost',
      })
      host.script.request = () => ({ type: 'answer' })
      await signedOn(client)
      expect((await client.send(purchase('10000001', '000601'))).type).toBe('answered')
    },
    TEST_MS,
  )

  it(
    'echoes when idle, and closes a connection whose echo goes unanswered',
    async () => {
      const host = await startHost()
      const client = startClient(host, { echoIntervalMs: 100, networkTimeoutMs: 1_000 })
      await signedOn(client)
      await waitFor(() => host.count('0800', '301') >= 2, 'two echoes')
      expect(client.health().counters.echoes).toBeGreaterThanOrEqual(2)
      expect(client.health().counters.echoFailures).toBe(0)
      host.script.echo = 'ignore'
      await waitFor(() => client.health().counters.echoFailures >= 1, 'a failed echo')
      await waitFor(() => client.health().counters.connectionsEnded >= 1, 'the connection closed')
      host.script.echo = 'answer'
      await waitFor(() => client.health().counters.signOns >= 2, 'a new sign-on')
    },
    TEST_MS,
  )

  it(
    'spreads requests over the pool and refuses beyond the in-flight limits',
    async () => {
      const host = await startHost({ request: () => ({ type: 'hold' }) })
      const client = startClient(host, {
        poolSize: 2,
        inFlightPerConnectionMax: 2,
        inFlightPerRouteMax: 3,
      })
      await signedOn(client, 2)
      const sends = ['000701', '000702', '000703'].map((stan) =>
        client.send(purchase('10000001', stan)),
      )
      await waitFor(() => host.heldCount === 3, 'three held requests')
      const used = new Set(host.received.filter((m) => m.mti === '0200').map((m) => m.connection))
      expect(used.size).toBe(2)
      expect(await client.send(purchase('10000001', '000704'))).toEqual({
        type: 'unavailable',
        why: 'busy',
      })
      expect(client.health().inFlight).toEqual({ route: 3, routeMax: 3, perConnectionMax: 2 })
      host.releaseHeld('fifo')
      expect((await Promise.all(sends)).map((r) => r.type)).toEqual([
        'answered',
        'answered',
        'answered',
      ])
      expect(client.health().counters.unavailable).toEqual({ busy: 1 })
    },
    TEST_MS,
  )

  it(
    'refuses when every connection is at its own maximum',
    async () => {
      const host = await startHost({ request: () => ({ type: 'hold' }) })
      const client = startClient(host, { inFlightPerConnectionMax: 2 })
      await signedOn(client)
      const sends = ['000801', '000802'].map((stan) => client.send(purchase('10000001', stan)))
      await waitFor(() => host.heldCount === 2, 'two held')
      expect(await client.send(purchase('10000001', '000803'))).toMatchObject({ why: 'busy' })
      host.releaseHeld()
      await Promise.all(sends)
    },
    TEST_MS,
  )

  it(
    'speaks ascii4 framing too',
    async () => {
      const host = await startHost({}, 'ascii4')
      const client = startClient(host)
      await signedOn(client)
      const inquiry = purchase('10000001', '000900', { kind: 'balance_inquiry' })
      host.script.request = () => ({ type: 'answer', balanceMinor: 123_456 })
      expect(await client.send(inquiry)).toMatchObject({
        type: 'answered',
        answer: { responseCode: '00', balanceMinor: 123_456 },
      })
    },
    TEST_MS,
  )
})

describe('issuer client: circuit breaker', () => {
  const breaker = {
    windowMs: 10_000,
    bucketCount: 10,
    requestsMin: 4,
    failureRatePercent: 50,
    coolDownMs: 300,
    halfOpenProbesMax: 1,
    halfOpenSuccessesToClose: 1,
  }

  async function openCircuit(host: FakeIssuerHost, client: IssuerClient): Promise<void> {
    host.script.request = () => ({ type: 'drop' })
    const stans = ['001001', '001002', '001003', '001004']
    const results = await Promise.all(
      stans.map((stan) => client.send(purchase('10000001', stan), 0, 100)),
    )
    expect(results.every((r) => r.type === 'timeout')).toBe(true)
    expect(client.health()).toMatchObject({ status: 'circuit_open', breaker: { state: 'open' } })
    expect(await client.send(purchase('10000001', '001005'))).toEqual({
      type: 'unavailable',
      why: 'circuit_open',
    })
  }

  it(
    'opens under timeouts and closes again through half-open',
    async () => {
      const host = await startHost()
      const client = startClient(host, { breaker })
      await signedOn(client)
      await openCircuit(host, client)
      expect(host.count('0200')).toBe(4)
      host.script.request = () => ({ type: 'answer' })
      await waitFor(() => client.health().breaker.state === 'half_open', 'half-open')
      expect(client.health().status).toBe('circuit_half_open')
      expect((await client.send(purchase('10000001', '001006'))).type).toBe('answered')
      // Closed again; the route stays degraded while the timeouts are in its health window.
      expect(client.health()).toMatchObject({
        status: 'degraded',
        statusReason: '4 of 5 recent requests timed out or failed',
        breaker: { state: 'closed' },
      })
      const moves = client
        .history()
        .filter((t) => t.kind === 'breaker')
        .map((t) => `${t.from}>${t.to}`)
      expect(moves).toEqual(['closed>open', 'open>half_open', 'half_open>closed'])
      const last = client.history().at(-1)!
      // Once the timeouts leave the health window (10 s here) the route is up again: the
      // window is the breaker's, so that is checked in the core tests rather than waited for.
      expect(last).toMatchObject({ kind: 'route', from: 'circuit_half_open', to: 'degraded' })
      expect(new Date(last.at).getTime()).toBe(last.atMs)
    },
    TEST_MS,
  )

  it(
    're-opens when the probe fails, and lets only one probe through at a time',
    async () => {
      const host = await startHost()
      const client = startClient(host, { breaker })
      await signedOn(client)
      await openCircuit(host, client)
      await waitFor(() => client.health().breaker.state === 'half_open', 'half-open')
      const probe = client.send(purchase('10000001', '001007'), 0, 100)
      expect(await client.send(purchase('10000001', '001008'))).toMatchObject({
        why: 'circuit_open',
      })
      expect(await probe).toMatchObject({ type: 'timeout' })
      expect(client.health().breaker.state).toBe('open')
      expect(client.health().breaker.lastTransition).toMatchObject({ reason: 'probe_failed' })
    },
    TEST_MS,
  )

  it(
    'recovers an idle route through echo probes',
    async () => {
      const host = await startHost()
      const client = startClient(host, { breaker, echoIntervalMs: 100 })
      await signedOn(client)
      await openCircuit(host, client)
      await waitFor(() => client.health().breaker.state === 'closed', 'closed by an echo')
      expect(client.health().breaker.lastTransition).toMatchObject({ reason: 'echo_succeeded' })
    },
    TEST_MS,
  )
})

describe('issuer client: close, config, logs', () => {
  it(
    'signs off, answers pending sends, and refuses new ones',
    async () => {
      const host = await startHost({ request: () => ({ type: 'hold' }) })
      const client = startClient(host, { poolSize: 2 })
      await signedOn(client, 2)
      const pending = client.send(purchase('10000001', '002001'))
      await waitFor(() => host.heldCount === 1, 'a held request')
      await client.close()
      expect(await pending).toEqual({ type: 'unavailable', why: 'closed_in_flight' })
      expect(host.count('0800', '002')).toBe(2)
      expect(await client.send(purchase('10000001', '002002'))).toEqual({
        type: 'unavailable',
        why: 'pool_closed',
      })
      await waitFor(() => host.openConnections === 0, 'connections closed')
      await client.close() // idempotent
    },
    TEST_MS,
  )

  it('takes a pino logger as it is', async () => {
    const logger: IssuerLogger = pino({ level: 'silent' })
    const host = await startHost()
    const client = createIssuerClient(
      {
        name: 'pino',
        host: '127.0.0.1',
        port: host.port,
        dialect: 'iso87-binary',
        framing: 'binary2',
        poolSize: 1,
        requestTimeoutMs: 1_000,
        echoIntervalMs: 10_000,
        acquirerId: '48020000',
      },
      { clock: systemClock, random: Math.random, logger },
    )
    clients.push(client)
    await signedOn(client)
    expect((await client.send(purchase('10000001', '004001'))).type).toBe('answered')
  })

  it('refuses a bad configuration, naming every key', () => {
    const attempt = () =>
      createIssuerClient(
        {
          name: 'x',
          host: '',
          port: 70_000,
          dialect: 'iso87-binary',
          framing: 'binary2',
          poolSize: 0,
          requestTimeoutMs: 1_000,
          echoIntervalMs: 1_000,
          acquirerId: 'abc',
          breaker: { failureRatePercent: 0 },
        },
        { clock: systemClock, random: Math.random, logger: recordingLogger([]) },
      )
    expect(attempt).toThrow(IssuerRouteConfigError)
    try {
      attempt()
    } catch (error) {
      const text = (error as IssuerRouteConfigError).errors.join('\n')
      for (const key of ['host', 'port', 'poolSize', 'acquirerId', 'breaker.failureRatePercent'])
        expect(text).toContain(key)
    }
  })

  it(
    'never logs a card number',
    async () => {
      const logs: LogLine[] = []
      const host = await startHost({ request: () => ({ type: 'drop' }) })
      const client = startClient(host, { breaker: { requestsMin: 2, windowMs: 1_000 } }, logs)
      await signedOn(client)
      await client.send(purchase('10000001', '003001'), 0, 50)
      await client.send(purchase('10000001', '003002'), 0, 50)
      await client.close()
      expect(logs.some((line) => line.message === 'issuer request timed out')).toBe(true)
      expect(logs.some((line) => line.message === 'issuer circuit opened')).toBe(true)
      const text =
        JSON.stringify(logs) + JSON.stringify(client.health()) + JSON.stringify(client.history())
      expect(text).not.toContain(PAN)
      expect(text).not.toContain(PAN.slice(6, 15))
    },
    TEST_MS,
  )
})
