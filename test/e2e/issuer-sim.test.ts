import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEMO_CARDS, DEMO_UNKNOWN_PAN } from '../../src/app/demo-data.js'
import type { IssuerRequest } from '../../src/adapters/issuer/protocol.js'
import {
  IssuerLinkClient,
  linkRequest,
  reversalOf,
  startIssuerSim,
  type IssuerSimProcess,
} from '../support/issuer-link-client.js'

/**
 * `tollgate issuer-sim` as a real child process, driven over real TCP with the issuer-link
 * protocol and over its HTTP control endpoint. Only 127.0.0.1; every wait is bounded.
 */

const NO_ANSWER_WAIT_MS = 400

interface AccountBody {
  id: string
  maskedPan: string
  availableMinor: number
  postedMinor: number
  heldMinor: number
}

interface LedgerBody {
  totals: {
    approvedDebitsMinor: number
    purchases: { count: number; amountMinor: number }
    holds: { count: number; amountMinor: number }
    advices: { count: number; amountMinor: number; standInOverLimit: number }
    reversals: { count: number; amountMinor: number; withoutOriginal: number; repeated: number }
    declines: Record<string, number>
  }
  accounts: AccountBody[]
}

interface StateBody {
  counters: {
    received: Record<string, number>
    answered: Record<string, Record<string, number>>
    dropped: Record<string, Record<string, number>>
    decodeErrors: Record<string, number>
    connections: { opened: number; refused: number; cutByFault: number; frameErrors: number }
  }
}

/** A test card with a valid-looking number, unique per call. */
let cardNext = 1
function testCard(): { pan: string; expiry: string } {
  const serial = String(cardNext++).padStart(9, '0')
  return { pan: `6299990${serial}`, expiry: '3012' }
}

async function addAccount(
  sim: IssuerSimProcess,
  amount: string,
  extra: Record<string, unknown> = {},
): Promise<{ id: string; card: { pan: string; expiry: string } }> {
  const card = testCard()
  const added = await sim.control<AccountBody>('POST', '/accounts', { ...card, amount, ...extra })
  expect(added.status).toBe(200)
  expect(added.text).not.toContain(card.pan)
  return { id: added.body.id, card }
}

async function available(sim: IssuerSimProcess, id: string): Promise<number> {
  const account = await sim.control<AccountBody>('GET', `/accounts/${id}`)
  expect(account.status).toBe(200)
  return account.body.availableMinor
}

async function code(client: IssuerLinkClient, request: IssuerRequest, attempt = 0) {
  const reply = await client.call(request, attempt)
  expect(reply).not.toBeNull()
  return reply!.answer.responseCode
}

describe('issuer-sim: the bank host and its ledger', () => {
  let sim: IssuerSimProcess
  let client: IssuerLinkClient

  beforeAll(async () => {
    sim = await startIssuerSim(['--seed', '1'])
    client = await IssuerLinkClient.open(sim.isoPort)
  })
  afterAll(async () => {
    client?.close()
    expect(await sim?.stop()).toBe(0)
  })

  it('signs on and answers echo tests with 0810 00', async () => {
    for (const networkCode of ['001', '301', '002'] as const) {
      const answer = await client.network(networkCode, '900001')
      expect(answer?.mti).toBe('0810')
      expect(answer?.fields.get(39)).toBe('00')
      expect(answer?.fields.get(70)).toBe(networkCode)
      expect(answer?.fields.get(11)).toBe('900001')
    }
  })

  it('approves a purchase with a 6-character code and debits the account once', async () => {
    const { id, card } = await addAccount(sim, '100.00')
    const purchase = linkRequest({ ...card, amountMinor: 3_000 })
    const reply = await client.call(purchase)
    expect(reply?.message.mti).toBe('0210')
    expect(reply?.answer.responseCode).toBe('00')
    expect(reply?.answer.authorizationCode).toMatch(/^[0-9A-Z]{6}$/)
    expect(reply?.message.fields.get(11)).toBe(purchase.stan)
    expect(await available(sim, id)).toBe(7_000)
    // A retransmission (same terminal, STAN, transmission time) gets the same answer, no charge.
    const again = await client.call(purchase)
    expect(again?.answer).toEqual(reply?.answer)
    expect(await available(sim, id)).toBe(7_000)
    const inquiry = await client.call(linkRequest({ ...card, kind: 'balance_inquiry' }))
    expect(inquiry?.answer.responseCode).toBe('00')
    expect(inquiry?.answer.balanceMinor).toBe(7_000)
  })

  it('declines 51 one fen above the available balance and approves exactly the balance', async () => {
    const { id, card } = await addAccount(sim, '50.00')
    expect(await code(client, linkRequest({ ...card, amountMinor: 5_001 }))).toBe('51')
    expect(await available(sim, id)).toBe(5_000)
    expect(await code(client, linkRequest({ ...card, amountMinor: 5_000 }))).toBe('00')
    expect(await available(sim, id)).toBe(0)
  })

  it("answers Tollgate's demo cards as Tollgate's local ledger does", async () => {
    const low = DEMO_CARDS.lowBalance
    const cases: [string, string, number, string][] = [
      [low.pan, low.expiry, 12_000, '51'],
      [DEMO_UNKNOWN_PAN, '3012', 100, '14'],
      [DEMO_CARDS.lost.pan, DEMO_CARDS.lost.expiry, 100, '41'],
      [DEMO_CARDS.stolen.pan, DEMO_CARDS.stolen.expiry, 100, '43'],
      [DEMO_CARDS.inactive.pan, DEMO_CARDS.inactive.expiry, 100, '62'],
      [DEMO_CARDS.expired.pan, DEMO_CARDS.expired.expiry, 100, '54'],
      [DEMO_CARDS.debit.pan, '2901', 100, '54'],
    ]
    for (const [pan, expiry, amountMinor, expected] of cases) {
      expect(await code(client, linkRequest({ pan, expiry, amountMinor }))).toBe(expected)
    }
    const balance = await client.call(
      linkRequest({ pan: low.pan, expiry: low.expiry, kind: 'balance_inquiry' }),
    )
    expect(balance?.answer.balanceMinor).toBe(3_000)
    const ledger = await sim.control<LedgerBody>('GET', '/ledger')
    expect(ledger.text).not.toContain(low.pan)
    const journal = await sim.control('GET', '/journal?limit=100')
    expect(journal.text).not.toContain(low.pan)
    expect(journal.text).toContain('622609******5605')
    expect(sim.stderr()).not.toContain(low.pan)
  })

  it('reverses exactly once: 0400, then repeats as 0420 and 0421 move nothing', async () => {
    const { id, card } = await addAccount(sim, '100.00')
    const purchase = linkRequest({ ...card, amountMinor: 2_500 })
    expect(await code(client, purchase)).toBe('00')
    expect(await available(sim, id)).toBe(7_500)
    const reversal = reversalOf(purchase)
    for (const attempt of [0, 1, 2]) {
      const reply = await client.call(reversal, attempt)
      expect(reply?.message.mti).toBe(attempt === 0 ? '0410' : '0430')
      expect(reply?.answer.responseCode).toBe('00')
      expect(await available(sim, id)).toBe(10_000)
    }
  })

  it('acknowledges the reversal of an unknown original with 00 and moves nothing', async () => {
    const before = await sim.control<LedgerBody>('GET', '/ledger')
    const ghost = linkRequest({ ...testCard(), amountMinor: 1_000 })
    expect(await code(client, reversalOf(ghost))).toBe('00')
    const after = await sim.control<LedgerBody>('GET', '/ledger')
    expect(after.body.totals.reversals.withoutOriginal).toBe(
      before.body.totals.reversals.withoutOriginal + 1,
    )
    expect(after.body.totals.reversals.amountMinor).toBe(before.body.totals.reversals.amountMinor)
  })

  it('holds on a preauthorization and releases the hold on its reversal', async () => {
    const { id, card } = await addAccount(sim, '100.00')
    const preauth = linkRequest({ ...card, kind: 'preauthorization', amountMinor: 6_000 })
    const reply = await client.call(preauth)
    expect(reply?.message.mti).toBe('0110')
    expect(reply?.answer.responseCode).toBe('00')
    const held = await sim.control<AccountBody>('GET', `/accounts/${id}`)
    expect(held.body).toMatchObject({ heldMinor: 6_000, postedMinor: 0, availableMinor: 4_000 })
    expect(await code(client, reversalOf(preauth))).toBe('00')
    const released = await sim.control<AccountBody>('GET', `/accounts/${id}`)
    expect(released.body).toMatchObject({ heldMinor: 0, availableMinor: 10_000 })
  })

  it('applies a stand-in advice once, over the limit, even when repeated as 0221', async () => {
    const { id, card } = await addAccount(sim, '30.00')
    const before = await sim.control<LedgerBody>('GET', '/ledger')
    const advice = linkRequest({
      ...card,
      kind: 'advice',
      amountMinor: 5_000,
      authorizationCode: 'S12345',
    })
    const first = await client.call(advice)
    expect(first?.message.mti).toBe('0230')
    expect(first?.answer.responseCode).toBe('00')
    expect(await available(sim, id)).toBe(-2_000)
    const repeat = await client.call(advice, 1)
    expect(repeat?.answer.responseCode).toBe('00')
    expect(await available(sim, id)).toBe(-2_000)
    const after = await sim.control<LedgerBody>('GET', '/ledger')
    expect(after.body.totals.advices.count).toBe(before.body.totals.advices.count + 1)
    expect(after.body.totals.advices.standInOverLimit).toBe(
      before.body.totals.advices.standInOverLimit + 1,
    )
    const journal = await sim.control<{ entries: { note: string; accountId: string }[] }>(
      'GET',
      '/journal?limit=5',
    )
    expect(journal.body.entries.some((e) => e.note.includes('stand-in accepted over limit'))).toBe(
      true,
    )
    expect(journal.text).not.toContain(card.pan)
    // A negative balance is reported as such (field 54, sign D).
    const inquiry = await client.call(linkRequest({ ...card, kind: 'balance_inquiry' }))
    expect(inquiry?.answer.balanceMinor).toBe(-2_000)
  })

  it('answers a readable but malformed message 30, drops unreadable bytes, and lives on', async () => {
    // MTI 0200 in BCD, then a bitmap announcing field 2, then nothing: truncated.
    client.iso.sendRaw(Buffer.from([0x02, 0x00, 0x40, 0, 0, 0, 0, 0, 0, 0]))
    const answer = await client.iso.receive()
    expect(answer?.mti).toBe('0210')
    expect(answer?.fields.get(39)).toBe('30')
    client.iso.sendRaw(Buffer.from([0xff, 0xee]))
    expect(await client.iso.receive(NO_ANSWER_WAIT_MS)).toBeNull()
    expect((await client.network('301', '900002'))?.fields.get(39)).toBe('00')
    // A frame longer than the maximum closes that connection only.
    const rogue = await IssuerLinkClient.open(sim.isoPort)
    rogue.iso.sendBytes(Buffer.from([0xff, 0xff, 0x01]))
    expect(await rogue.iso.receive(2_000)).toBeNull()
    expect(rogue.closed).toBe(true)
    const state = await sim.control<StateBody>('GET', '/state')
    expect(state.body.counters.decodeErrors.truncated).toBeGreaterThanOrEqual(1)
    expect(state.body.counters.dropped.unreadable?.unreadable).toBe(1)
    expect(state.body.counters.connections.frameErrors).toBe(1)
    expect((await client.network('301', '900003'))?.fields.get(39)).toBe('00')
  })
})

describe('issuer-sim: ledger totals match what was done', () => {
  let sim: IssuerSimProcess
  beforeAll(async () => {
    sim = await startIssuerSim(['--seed', '7', '--no-demo-accounts'])
  })
  afterAll(async () => {
    await sim?.stop()
  })

  it('sums approved debits, holds, advices and reversals exactly', async () => {
    const client = await IssuerLinkClient.open(sim.isoPort)
    try {
      const a = await addAccount(sim, '1000.00')
      const b = await addAccount(sim, '200.00', { type: 'credit' })
      const p1 = linkRequest({ ...a.card, amountMinor: 12_345 })
      const p2 = linkRequest({ ...b.card, amountMinor: 5_000 })
      const declined = linkRequest({ ...b.card, amountMinor: 90_000 })
      const hold = linkRequest({ ...a.card, kind: 'preauthorization', amountMinor: 20_000 })
      const advice = linkRequest({ ...b.card, kind: 'advice', amountMinor: 1_500 })
      for (const request of [p1, p2, hold, advice]) expect(await code(client, request)).toBe('00')
      expect(await code(client, declined)).toBe('51')
      expect(await code(client, reversalOf(p1))).toBe('00')
      expect(await code(client, reversalOf(p1), 1)).toBe('00')
      const ledger = await sim.control<LedgerBody>('GET', '/ledger')
      expect(ledger.body.totals).toMatchObject({
        approvedDebitsMinor: 17_345,
        purchases: { count: 2, amountMinor: 17_345 },
        holds: { count: 1, amountMinor: 20_000 },
        advices: { count: 1, amountMinor: 1_500, standInOverLimit: 0 },
        reversals: { count: 1, amountMinor: 12_345, withoutOriginal: 0, repeated: 1 },
        declines: { '51': 1 },
      })
      const byId = new Map(ledger.body.accounts.map((account) => [account.id, account]))
      expect(byId.get(a.id)).toMatchObject({ postedMinor: 0, heldMinor: 20_000 })
      expect(byId.get(a.id)?.availableMinor).toBe(100_000 - 20_000)
      expect(byId.get(b.id)).toMatchObject({ postedMinor: 6_500, availableMinor: 20_000 - 6_500 })
    } finally {
      client.close()
    }
  })
})

describe('issuer-sim: faults', () => {
  let sim: IssuerSimProcess
  beforeAll(async () => {
    sim = await startIssuerSim(['--seed', '1'])
  })
  afterAll(async () => {
    await sim?.stop()
  })

  const clear = async () => expect((await sim.control('PUT', '/faults', {})).status).toBe(200)

  it('injects latency per request and records it', async () => {
    await sim.control('PUT', '/faults', { latency: { kind: 'fixed', ms: 250 } })
    const client = await IssuerLinkClient.open(sim.isoPort)
    try {
      const started = performance.now()
      expect((await client.network('301', '910001'))?.fields.get(39)).toBe('00')
      // A lower bound only: the answer cannot come before the injected latency.
      expect(performance.now() - started).toBeGreaterThanOrEqual(240)
      const journal = await sim.control<{ entries: { stan: string; latencyMs: number }[] }>(
        'GET',
        '/journal?limit=1',
      )
      expect(journal.body.entries[0]).toMatchObject({ stan: '910001', latencyMs: 250 })
    } finally {
      client.close()
      await clear()
    }
  })

  it('answers a fraction with an injected error code, and moves nothing for it', async () => {
    const { id, card } = await addAccount(sim, '100.00')
    await sim.control('PATCH', '/faults', { errorFraction: 1, errorCode: '96' })
    const client = await IssuerLinkClient.open(sim.isoPort)
    try {
      expect(await code(client, linkRequest({ ...card, amountMinor: 1_000 }))).toBe('96')
      expect(await available(sim, id)).toBe(10_000)
    } finally {
      client.close()
      await clear()
    }
  })

  it('maintenance: 91 to sign-on and requests, 00 to echo tests', async () => {
    const { card } = await addAccount(sim, '100.00')
    await sim.control('PATCH', '/faults', { maintenance: true })
    const client = await IssuerLinkClient.open(sim.isoPort)
    try {
      expect((await client.network('001', '920001'))?.fields.get(39)).toBe('91')
      expect((await client.network('301', '920002'))?.fields.get(39)).toBe('00')
      expect(await code(client, linkRequest({ ...card, amountMinor: 100 }))).toBe('91')
      await clear()
      expect((await client.network('001', '920003'))?.fields.get(39)).toBe('00')
    } finally {
      client.close()
    }
  })

  it('refuses new connections while set, keeps the open ones, and accepts again after', async () => {
    const open = await IssuerLinkClient.open(sim.isoPort)
    try {
      await sim.control('PATCH', '/faults', { refuseConnections: true })
      // Accepted and closed at once: the connect may even fail with a reset.
      const refused = await IssuerLinkClient.open(sim.isoPort).catch(() => null)
      if (refused !== null) {
        expect(await refused.network('301', '930001', 2_000)).toBeNull()
        expect(refused.closed).toBe(true)
      }
      expect((await open.network('301', '930002'))?.fields.get(39)).toBe('00')
      const state = await sim.control<StateBody>('GET', '/state')
      expect(state.body.counters.connections.refused).toBeGreaterThanOrEqual(1)
      await clear()
      const again = await IssuerLinkClient.open(sim.isoPort)
      expect((await again.network('301', '930003'))?.fields.get(39)).toBe('00')
      again.close()
    } finally {
      open.close()
    }
  })

  it('down: stops listening and closes every connection; up: listens on the same port', async () => {
    const open = await IssuerLinkClient.open(sim.isoPort)
    await sim.control('PATCH', '/faults', { down: true })
    expect(await open.iso.receive(2_000)).toBeNull()
    expect(open.closed).toBe(true)
    const error = await new Promise<string>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port: sim.isoPort })
      socket.once('connect', () => {
        socket.destroy()
        resolve('connected')
      })
      socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'))
    })
    expect(error).toBe('ECONNREFUSED')
    const health = await sim.control<{ listening: boolean }>('GET', '/health')
    expect(health.body.listening).toBe(false)
    await clear()
    const back = await IssuerLinkClient.open(sim.isoPort)
    expect((await back.network('301', '940001'))?.fields.get(39)).toBe('00')
    back.close()
  })

  it('disconnects after N messages: the next one is cut, not processed', async () => {
    await sim.control('PATCH', '/faults', { disconnectAfterMessages: 2 })
    const client = await IssuerLinkClient.open(sim.isoPort)
    try {
      expect((await client.network('301', '950001'))?.fields.get(39)).toBe('00')
      expect((await client.network('301', '950002'))?.fields.get(39)).toBe('00')
      expect(await client.network('301', '950003', 2_000)).toBeNull()
      expect(client.closed).toBe(true)
      const state = await sim.control<StateBody>('GET', '/state')
      expect(state.body.counters.connections.cutByFault).toBeGreaterThanOrEqual(1)
    } finally {
      client.close()
      await clear()
    }
  })

  it('rejects invalid faults with a field-level error and keeps the old ones', async () => {
    const bad = await sim.control<{ error: string; message: string }>('PATCH', '/faults', {
      dropFraction: 1.5,
    })
    expect(bad.status).toBe(400)
    expect(bad.body.message).toContain('dropFraction')
    const unknown = await sim.control<{ message: string }>('PATCH', '/faults', { dropp: 1 })
    expect(unknown.status).toBe(400)
    const latency = await sim.control<{ message: string }>('PUT', '/faults', {
      latency: { kind: 'uniform', minMs: 50, maxMs: 10 },
    })
    expect(latency.status).toBe(400)
    expect(latency.body.message).toContain('latency')
    const big = await sim.control('POST', '/accounts', 'x'.repeat(300 * 1024))
    expect(big.status).toBe(413)
    const faults = await sim.control<{ dropFraction: number }>('GET', '/faults')
    expect(faults.body.dropFraction).toBe(0)
  })
})

/**
 * Sends `count` purchases on one connection without waiting, then collects answers for a
 * bounded time. Returns the STANs that got no answer.
 */
async function purchasesWithDrops(sim: IssuerSimProcess, count: number): Promise<string[]> {
  const client = await IssuerLinkClient.open(sim.isoPort)
  try {
    const card = { pan: DEMO_CARDS.credit.pan, expiry: DEMO_CARDS.credit.expiry }
    const stans = Array.from({ length: count }, (_, i) => String(500_000 + i))
    for (const stan of stans) client.send(linkRequest({ ...card, stan, amountMinor: 100 }))
    const answered = new Set<string>()
    for (;;) {
      const reply = await client.next(answered.size === 0 ? 5_000 : 1_000)
      if (reply === null) break
      expect(reply.answer.responseCode).toBe('00')
      answered.add(reply.message.fields.get(11) ?? '')
      if (answered.size === count) break
    }
    return stans.filter((stan) => !answered.has(stan))
  } finally {
    client.close()
  }
}

describe('issuer-sim: seeded drops replay exactly', () => {
  it('drops the same answers for the same seed and traffic, and the debits still apply', async () => {
    const runs: { dropped: string[]; posted: number; counted: number }[] = []
    for (let run = 0; run < 2; run += 1) {
      const sim = await startIssuerSim(['--seed', '42', '--drop', '0.3'])
      try {
        const dropped = await purchasesWithDrops(sim, 30)
        const ledger = await sim.control<LedgerBody>('GET', '/ledger')
        const state = await sim.control<StateBody>('GET', '/state')
        runs.push({
          dropped,
          posted: ledger.body.accounts.find((a) => a.id === 'demo_credit')?.postedMinor ?? -1,
          counted: state.body.counters.dropped['0200']?.dropped_by_fault ?? 0,
        })
      } finally {
        await sim.stop()
      }
    }
    const [first, second] = runs
    expect(first!.dropped.length).toBeGreaterThan(0)
    expect(first!.dropped.length).toBeLessThan(30)
    expect(second!.dropped).toEqual(first!.dropped)
    expect(first!.counted).toBe(first!.dropped.length)
    // Drop mode "answer": the issuer processed every request; only the answers were lost.
    expect(first!.posted).toBe(30 * 100)
  })
})

describe('issuer-sim: graceful stop', () => {
  it('answers a request in flight on SIGTERM, then exits 0', async () => {
    const sim = await startIssuerSim(['--latency', '3000'])
    const client = await IssuerLinkClient.open(sim.isoPort)
    try {
      client.iso.send({
        mti: '0800',
        fields: new Map([
          [7, '0315103000'],
          [11, '960001'],
          [41, 'NETWORK '],
          [70, '301'],
        ]),
      })
      // Wait until the request is in flight (journal entries are written on answer, so poll
      // the received counter instead).
      for (let i = 0; i < 50; i += 1) {
        const state = await sim.control<StateBody>('GET', '/state')
        if ((state.body.counters.received['0800'] ?? 0) > 0) break
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      const exit = sim.stop('SIGTERM')
      const answer = await client.iso.receive(5_000)
      expect(answer?.fields.get(39)).toBe('00')
      expect(await exit).toBe(0)
      expect(sim.stdout()).toContain('issuer-sim stopped')
    } finally {
      client.close()
    }
  })

  it('exits 2 with a clear message on a bad flag', async () => {
    await expect(startIssuerSim(['--drop', 'lots'])).rejects.toThrow(/--drop takes a number/)
  })
})

describe('issuer-sim: schedules and framing', () => {
  it('applies a fault schedule on time and shows it in /state', async () => {
    const sim = await startIssuerSim(['--framing', 'ascii4'])
    const client = await IssuerLinkClient.open(sim.isoPort, 'ascii4')
    try {
      expect((await client.network('001', '970001'))?.fields.get(39)).toBe('00')
      const set = await sim.control<{ steps: unknown[] }>('POST', '/schedule', {
        steps: [
          { atMs: 0, patch: { maintenance: true } },
          { atMs: 400, replace: {} },
        ],
      })
      expect(set.status).toBe(200)
      expect(set.body.steps).toHaveLength(2)
      let during: string | undefined
      for (let i = 0; i < 20 && during !== '91'; i += 1) {
        during = (await client.network('001', '970002'))?.fields.get(39)
      }
      expect(during).toBe('91')
      let after: string | undefined
      for (let i = 0; i < 100 && after !== '00'; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 20))
        after = (await client.network('001', '970003'))?.fields.get(39)
      }
      expect(after).toBe('00')
      const state = await sim.control<{ schedule: { applied: number } }>('GET', '/state')
      expect(state.body.schedule.applied).toBe(2)
      const bad = await sim.control<{ message: string }>('POST', '/schedule', {
        steps: [{ atMs: 0 }],
      })
      expect(bad.status).toBe(400)
      expect(bad.body.message).toContain('exactly one of patch or replace')
    } finally {
      client.close()
      await sim.stop()
    }
  })
})
