import { beforeAll, describe, expect, it } from 'vitest'
import {
  loadReferenceData,
  REFERENCE_DIR_DEFAULT,
  type ReferenceData,
} from '../../src/adapters/reference/load-reference.js'
import { luhnCheckDigit } from '../../src/core/card.js'
import type { TransactionRecord } from '../../src/core/model.js'
import { planBatch } from '../../src/core/pipeline/batch.js'
import type { CoreContext } from '../../src/core/pipeline/context.js'
import { counterKey, stipCounterKey } from '../../src/core/pipeline/keys.js'
import type {
  BatchRequest,
  IssuerOutcome,
  NewTransactionRequest,
} from '../../src/core/pipeline/requests.js'
import type { BatchResult } from '../../src/core/pipeline/result.js'
import { VelocityIndex } from '../../src/core/risk/velocity.js'
import { compileRuleSet } from '../../src/core/risk/engine.js'
import { DEFAULT_RISK_SETTINGS } from '../../src/core/risk/rules.js'
import {
  issuerAccountId,
  STIP_DISABLED,
  type IssuerRoute,
  type RouteStatus,
  type RoutingTable,
} from '../../src/core/routes/model.js'
import { MemoryBatchStore } from '../support/memory-batch-store.js'

/**
 * The remote issuer stage through the pipeline, with the route's state and the issuer's answers
 * given by the test: forward then record, decline, time out (reverse), stand in, maintenance,
 * a terminal's reversal while the request is at the bank, and follow-ups of remote sales.
 */
const NOW = Date.UTC(2026, 10, 26, 4, 0, 0)
const MERCHANT = '898310054110001'
const TERMINAL = '10000001'
const PARTIAL = '622202000000000001'
const PAN = PARTIAL + luhnCheckDigit(PARTIAL)
const ROUTE_ID = 'bank_a'
let reference: ReferenceData

const route = (stip = STIP_DISABLED): IssuerRoute => ({
  id: ROUTE_ID,
  name: 'Bank A',
  bankName: '甲银行',
  kind: 'remote',
  host: '127.0.0.1',
  port: 9,
  timeoutMs: 1_000,
  stip,
  createdAtMs: NOW,
  updatedAtMs: NOW,
})

const STIP = {
  enabled: true,
  perTransactionMaxMinor: 50_000,
  dailyAmountMaxMinor: 70_000,
  dailyCountMax: 3,
  cardTypes: ['debit' as const],
  currency: 'CNY',
}

class World {
  readonly store = new MemoryBatchStore()
  private sequence = 0
  private stan = 0
  status: RouteStatus = { state: 'up' }
  readonly velocity = new VelocityIndex()

  constructor(stip = STIP_DISABLED) {
    this.store.putMerchant({
      id: MERCHANT,
      name: 'Shop',
      mcc: '5411',
      status: 'approved',
      region: null,
      riskTier: 'low',
      createdAtMs: NOW - 400 * 86_400_000,
      updatedAtMs: NOW,
    })
    this.store.putTerminal({
      id: TERMINAL,
      merchantId: MERCHANT,
      status: 'active',
      region: null,
      createdAtMs: NOW,
      updatedAtMs: NOW,
    })
    const table: RoutingTable = {
      generation: 1,
      routes: new Map([[ROUTE_ID, route(stip)]]),
      bins: new Map([[PAN.slice(0, 6), ROUTE_ID]]),
      defaultRouteId: 'local',
    }
    this.store.routing = table
    // The route's settlement account, as the SQLite store creates it with the route.
    this.store.accounts.set(issuerAccountId(ROUTE_ID, 'CNY'), {
      id: issuerAccountId(ROUTE_ID, 'CNY'),
      kind: 'funding',
      currency: 'CNY',
      creditLimitMinor: 0,
      debitsPendingMinor: 0,
      debitsPostedMinor: 0,
      creditsPendingMinor: 0,
      creditsPostedMinor: 0,
    })
  }

  private context(): CoreContext {
    return {
      nowMs: NOW,
      settings: { utcOffsetMinutes: 480, holdExpiryMs: 86_400_000 },
      bins: reference.bins,
      mccs: reference.mccs,
      newTransactionId: () => `tx_${String(++this.sequence).padStart(26, '0')}`,
      newTransferId: () => `tr_${++this.sequence}`,
      newAuthorizationCode: () => 'S00001',
      newRrn: () => String(++this.sequence).padStart(12, '0'),
      velocity: this.velocity,
      routeStatus: new Map([[ROUTE_ID, this.status]]),
    }
  }

  run(requests: BatchRequest[]): BatchResult[] {
    return [...this.store.runAny(planBatch(requests, this.context()))]
  }

  purchase(
    amountMinor: number,
    stan = String(++this.stan).padStart(6, '0'),
  ): NewTransactionRequest {
    return {
      type: 'new',
      kind: 'purchase',
      channel: 'iso8583',
      terminalId: TERMINAL,
      merchantId: MERCHANT,
      stan,
      transmissionTime: '1126120000',
      card: { pan: PAN, expiry: '3012' },
      cardToken: 'tok_remote',
      amountMinor,
      currency: 'CNY',
      idempotencyKey: null,
      sealedPan: 'sealed-test-value',
    }
  }

  answer(transactionId: string, outcome: IssuerOutcome): TransactionRecord {
    const [result] = this.run([
      { type: 'issuer_answer', transactionId, outcome, sealedPan: null, idempotencyKey: null },
    ])
    if (result?.type !== 'decided')
      throw new Error(`expected a decision: ${JSON.stringify(result)}`)
    return result.transaction
  }

  /** A void or reversal over HTTP of a stored transaction, in its own batch. */
  undo(kind: 'void' | 'reversal', originalId: string, stan: string) {
    return this.run([
      {
        type: 'follow_up',
        kind,
        channel: 'http',
        stan,
        amountMinor: null,
        idempotencyKey: null,
        originalId,
      },
    ])[0]
  }

  settlementDebits(): number {
    return this.store.accounts.get(issuerAccountId(ROUTE_ID, 'CNY'))?.debitsPostedMinor ?? 0
  }

  cardUsage(): number {
    return (
      this.store.counters.get(counterKey('card', 'tok_remote', '2026-11-26', 'CNY'))?.count ?? 0
    )
  }
}

const approved: IssuerOutcome = {
  type: 'answered',
  responseCode: '00',
  authorizationCode: 'BANK01',
  balanceMinor: null,
  latencyMs: 40,
}

function forwarded(result: BatchResult | undefined) {
  if (result?.type !== 'forward') throw new Error(`expected a forward: ${JSON.stringify(result)}`)
  return result
}

describe('a remote route', () => {
  beforeAll(() => {
    reference = loadReferenceData(REFERENCE_DIR_DEFAULT)
  })

  it('stores the sale as an issuer timeout with a request in flight, then books the approval', () => {
    const w = new World()
    const forward = forwarded(w.run([w.purchase(12_300)])[0])
    expect(forward.transaction).toMatchObject({ outcome: 'declined', reason: 'issuer_timeout' })
    expect(forward.message).toMatchObject({
      kind: 'request',
      status: 'in_flight',
      amountMinor: 12_300,
    })
    expect(w.cardUsage()).toBe(1)
    expect(w.settlementDebits()).toBe(0)
    const record = w.answer(forward.transaction.id, approved)
    expect(record).toMatchObject({
      outcome: 'approved',
      lifecycle: 'posted',
      authorizationCode: 'BANK01',
      rrn: forward.transaction.rrn,
    })
    expect(record.evidence).toMatchObject({ upstreamResponseCode: '00', issuerBank: '甲银行' })
    expect(w.settlementDebits()).toBe(12_300)
    expect(w.store.issuerMessages.get(forward.message.id)?.status).toBe('answered')
  })

  it('a decline keeps the raw code and gives the reserved usage back', () => {
    const w = new World()
    const forward = forwarded(w.run([w.purchase(12_300)])[0])
    const record = w.answer(forward.transaction.id, {
      ...approved,
      responseCode: '51',
      authorizationCode: null,
    })
    expect(record).toMatchObject({
      outcome: 'declined',
      reason: 'insufficient_funds',
      responseCode: '51',
    })
    expect(record.evidence.upstreamResponseCode).toBe('51')
    expect(w.cardUsage()).toBe(0)
    expect(w.settlementDebits()).toBe(0)
  })

  it('an unknown issuer code declines as do_not_honour, never approves', () => {
    const w = new World()
    const forward = forwarded(w.run([w.purchase(100)])[0])
    const record = w.answer(forward.transaction.id, { ...approved, responseCode: 'Q7' })
    expect(record).toMatchObject({ outcome: 'declined', reason: 'do_not_honour' })
    expect(record.evidence.upstreamResponseCode).toBe('Q7')
  })

  it('a timeout queues a reversal carrying the sealed card number, once', () => {
    const w = new World()
    const forward = forwarded(w.run([w.purchase(4_560)])[0])
    const record = w.answer(forward.transaction.id, { type: 'timeout', latencyMs: 1_000 })
    expect(record).toMatchObject({ outcome: 'declined', reason: 'issuer_timeout' })
    expect(record.evidence).toMatchObject({ reversal: 'queued', moneyMoved: false })
    const reversal = w.store.issuerMessages.get(`reversal:${forward.transaction.id}`)
    expect(reversal).toMatchObject({
      kind: 'reversal',
      status: 'pending',
      sealedPan: 'sealed-test-value',
      originalMti: '0200',
      stan: forward.message.stan,
      transmissionTime: forward.message.transmissionTime,
    })
    // A second answer for the same request (a duplicate) changes nothing.
    const again = w.answer(forward.transaction.id, approved)
    expect(again.outcome).toBe('declined')
    expect(w.settlementDebits()).toBe(0)
  })

  it('an answer that could not be recorded is recorded as a timeout that says so, and reversed', () => {
    const w = new World()
    const forward = forwarded(w.run([w.purchase(4_560)])[0])
    const record = w.answer(forward.transaction.id, {
      type: 'timeout',
      latencyMs: 0,
      unrecorded: true,
    })
    expect(record).toMatchObject({ outcome: 'declined', reason: 'issuer_timeout' })
    expect(record.evidence).toMatchObject({
      why: 'the issuer’s answer could not be recorded; the terminal was told it failed',
      reversal: 'queued',
    })
    expect(w.store.issuerMessages.get(`reversal:${forward.transaction.id}`)).toMatchObject({
      status: 'pending',
    })
    expect(w.settlementDebits()).toBe(0)
  })

  it('never sent: declined issuer_unavailable, nothing to reverse', () => {
    const w = new World()
    const forward = forwarded(w.run([w.purchase(4_560)])[0])
    const record = w.answer(forward.transaction.id, { type: 'not_sent', why: 'circuit_open' })
    expect(record).toMatchObject({ outcome: 'declined', reason: 'issuer_unavailable' })
    expect(w.store.issuerMessages.has(`reversal:${forward.transaction.id}`)).toBe(false)
  })

  it('a terminal reversal while the request is at the bank: the approval is reversed, not booked', () => {
    const w = new World()
    const sale = w.purchase(7_700)
    const forward = forwarded(w.run([sale])[0])
    const [terminalReversal] = w.run([
      {
        type: 'follow_up',
        kind: 'reversal',
        channel: 'iso8583',
        stan: '000999',
        amountMinor: null,
        idempotencyKey: null,
        originalTrace: {
          terminalId: TERMINAL,
          stan: sale.stan,
          transmissionTime: sale.transmissionTime,
        },
      },
    ])
    expect(terminalReversal).toMatchObject({
      type: 'decided',
      transaction: { outcome: 'approved' },
    })
    const record = w.answer(forward.transaction.id, approved)
    expect(record).toMatchObject({ outcome: 'declined', reason: 'issuer_timeout' })
    expect(w.settlementDebits()).toBe(0)
    expect(w.store.issuerMessages.get(`reversal:${forward.transaction.id}`)?.status).toBe('pending')
  })

  it('voiding a remote approval gives the money back and reverses it at the bank', () => {
    const w = new World()
    const forward = forwarded(w.run([w.purchase(3_000)])[0])
    w.answer(forward.transaction.id, approved)
    const voided = w.undo('void', forward.transaction.id, '000500')
    expect(voided).toMatchObject({ type: 'decided', transaction: { outcome: 'approved' } })
    const account = w.store.accounts.get(issuerAccountId(ROUTE_ID, 'CNY'))
    expect((account?.debitsPostedMinor ?? 0) - (account?.creditsPostedMinor ?? 0)).toBe(0)
    expect(w.store.issuerMessages.get(`reversal:${forward.transaction.id}`)?.status).toBe('pending')
  })

  it('completions and refunds of remote sales are not supported', () => {
    const w = new World()
    const forward = forwarded(w.run([w.purchase(3_000)])[0])
    w.answer(forward.transaction.id, approved)
    const [refund] = w.run([
      {
        type: 'follow_up',
        kind: 'refund',
        channel: 'http',
        stan: '000501',
        amountMinor: 1_000,
        idempotencyKey: null,
        originalId: forward.transaction.id,
      },
    ])
    expect(refund).toMatchObject({
      type: 'decided',
      transaction: { outcome: 'declined', reason: 'transaction_kind_not_supported' },
    })
  })

  it('a forwarded sale the risk rules sent to review opens its item when the bank approves', () => {
    const w = new World()
    w.store.ruleSet = compileRuleSet(
      [
        {
          id: 'look_at_it',
          version: 1,
          status: 'active',
          name: 'look',
          expression: 'amount > 100',
          action: 'review',
          reason: null,
          score: 0,
          priority: 1,
          description: { 'zh-CN': '复核', en: 'review' },
          author: 't',
          changeNote: 't',
          createdAtMs: NOW,
        },
      ],
      DEFAULT_RISK_SETTINGS,
      1,
    ).ruleSet
    const forward = forwarded(w.run([w.purchase(5_000)])[0])
    expect(w.store.reviews.size).toBe(0)
    w.answer(forward.transaction.id, approved)
    expect(w.store.reviews.get(forward.transaction.id)).toMatchObject({
      status: 'open',
      decidedBy: 'rule',
      ruleHits: 'look_at_it@v1 review',
    })
  })

  it('velocity counts a forwarded sale by its final outcome, not as a decline while it waits', () => {
    const w = new World()
    const forward = forwarded(w.run([w.purchase(5_000)])[0])
    const subject = { cardToken: 'tok_remote', merchantId: MERCHANT, terminalId: TERMINAL }
    expect(w.velocity.figures('card', subject, NOW).count['10m']).toBe(0)
    w.answer(forward.transaction.id, approved)
    const figures = w.velocity.figures('card', subject, NOW)
    expect(figures.count['10m']).toBe(1)
    expect(figures.declines10m).toBe(0)
  })

  describe('while the route is down', () => {
    it('stands in within the limits and queues an advice; beyond them, declines with evidence', () => {
      const w = new World(STIP)
      w.status = { state: 'down', why: 'circuit_open' }
      const [first] = w.run([w.purchase(30_000)])
      expect(first).toMatchObject({ type: 'decided', transaction: { outcome: 'approved' } })
      const record = first?.type === 'decided' ? first.transaction : undefined
      expect(record?.evidence).toMatchObject({ standIn: true, routeState: 'circuit_open' })
      expect(w.store.issuerMessages.get(`advice:${record?.id ?? ''}`)).toMatchObject({
        kind: 'advice',
        status: 'pending',
        authorizationCode: 'S00001',
        standInReason: 'circuit_open',
      })
      expect(w.settlementDebits()).toBe(30_000)
      // 30,000 + 45,000 would pass the daily stand-in amount (70,000).
      const [second] = w.run([w.purchase(45_000)])
      expect(second).toMatchObject({
        type: 'decided',
        transaction: { outcome: 'declined', reason: 'issuer_unavailable' },
      })
      const over = second?.type === 'decided' ? second.transaction : undefined
      expect(over?.evidence).toMatchObject({
        standIn: false,
        stipUsedToday: { amountMinor: 30_000 },
      })
      const [tooBig] = w.run([w.purchase(60_000)])
      expect(tooBig).toMatchObject({ transaction: { reason: 'issuer_unavailable' } })
    })

    it('a sale the link refused to send (the route went down since) stands in within the limits', () => {
      const w = new World(STIP)
      const forward = forwarded(w.run([w.purchase(30_000)])[0])
      const record = w.answer(forward.transaction.id, {
        type: 'not_sent',
        why: 'circuit_open',
        routeDown: 'circuit_open',
      })
      expect(record).toMatchObject({
        outcome: 'approved',
        reason: null,
        rrn: forward.transaction.rrn,
      })
      expect(record.evidence).toMatchObject({ standIn: true, routeState: 'circuit_open' })
      expect(w.store.issuerMessages.get(`request:${record.id}`)).toMatchObject({
        status: 'not_sent',
        sealedPan: null,
      })
      expect(w.store.issuerMessages.get(`advice:${record.id}`)).toMatchObject({
        kind: 'advice',
        status: 'pending',
        authorizationCode: record.authorizationCode,
        standInReason: 'circuit_open',
        sealedPan: 'sealed-test-value',
      })
      expect(w.settlementDebits()).toBe(30_000)
      expect(w.cardUsage()).toBe(1)
      // Beyond the stand-in limits (30,000 + 45,000 > 70,000): declined, usage given back.
      const next = forwarded(w.run([w.purchase(45_000)])[0])
      const refused = w.answer(next.transaction.id, {
        type: 'not_sent',
        why: 'no_connection',
        routeDown: 'no_connection',
      })
      expect(refused).toMatchObject({ outcome: 'declined', reason: 'issuer_unavailable' })
      expect(refused.evidence).toMatchObject({ standIn: false, moneyMoved: false })
      expect(w.store.issuerMessages.has(`advice:${refused.id}`)).toBe(false)
      expect(w.cardUsage()).toBe(1)
      // Refused for another cause (our own bad message): no stand-in.
      const third = forwarded(w.run([w.purchase(1_000)])[0])
      const invalid = w.answer(third.transaction.id, { type: 'not_sent', why: 'request_invalid' })
      expect(invalid).toMatchObject({ outcome: 'declined', reason: 'issuer_unavailable' })
      expect(w.settlementDebits()).toBe(30_000)
    })

    it('a sale refused at send time does not stand in once a declining maintenance window began', () => {
      const w = new World(STIP)
      const forward = forwarded(w.run([w.purchase(1_000)])[0])
      const endsAtMs = NOW + 3_600_000
      w.status = {
        state: 'down',
        why: 'maintenance',
        maintenance: { id: 'mw_2', endsAtMs, mode: 'decline', note: 'core upgrade' },
      }
      const record = w.answer(forward.transaction.id, {
        type: 'not_sent',
        why: 'no_connection',
        routeDown: 'no_connection',
      })
      expect(record).toMatchObject({ outcome: 'declined', reason: 'issuer_maintenance' })
      expect(record.evidence).toMatchObject({
        standIn: false,
        notSent: 'no_connection',
        maintenanceEndsAtMs: endsAtMs,
      })
      expect(w.store.issuerMessages.has(`advice:${record.id}`)).toBe(false)
      expect(w.settlementDebits()).toBe(0)
      expect(w.cardUsage()).toBe(0)
    })

    it('voiding a sale that stood in after the link refused it undoes the advice, not the unsent request', () => {
      for (const attempts of [0, 1]) {
        const w = new World(STIP)
        const forward = forwarded(w.run([w.purchase(10_000)])[0])
        const id = forward.transaction.id
        w.answer(id, { type: 'not_sent', why: 'no_connection', routeDown: 'no_connection' })
        const advice = w.store.issuerMessages.get(`advice:${id}`)
        if (advice === undefined) throw new Error('an advice')
        w.store.issuerMessages.set(advice.id, { ...advice, attempts })
        w.undo('void', id, '000701')
        const reversal = w.store.issuerMessages.get(`reversal:${id}`)
        if (attempts === 0) {
          expect(w.store.issuerMessages.get(advice.id)?.status).toBe('not_sent')
          expect(reversal).toBeUndefined()
        } else {
          expect(w.store.issuerMessages.get(advice.id)?.status).toBe('pending')
          expect(reversal).toMatchObject({
            status: 'pending',
            originalMti: '0220',
            sealedPan: 'sealed-test-value',
          })
        }
        expect(w.store.issuerMessages.get(`request:${id}`)?.status).toBe('not_sent')
      }
    })

    it('undoing a stand-in sale gives its stand-in allowance back', () => {
      const w = new World(STIP)
      w.status = { state: 'down', why: 'circuit_open' }
      // dailyCountMax 3: three stand-ins, each voided, then a fourth still stands in.
      for (let i = 0; i < 4; i += 1) {
        const [sale] = w.run([w.purchase(1_000)])
        expect(sale).toMatchObject({ transaction: { outcome: 'approved' } })
        const id = sale?.type === 'decided' ? sale.transaction.id : ''
        const voided = w.undo('void', id, String(800 + i).padStart(6, '0'))
        expect(voided).toMatchObject({ transaction: { outcome: 'approved' } })
      }
      expect(w.store.counters.get(stipCounterKey('tok_remote', '2026-11-26', 'CNY'))).toMatchObject(
        { count: 0, amountMinor: 0 },
      )
    })

    it('refuses to undo a remote sale once the card number the bank needs is gone', () => {
      const w = new World()
      const forward = forwarded(w.run([w.purchase(2_000)])[0])
      const sale = w.answer(forward.transaction.id, approved)
      const request = w.store.issuerMessages.get(`request:${sale.id}`)
      if (request === undefined) throw new Error('the request')
      // A day later the sealed card number is erased.
      w.store.issuerMessages.set(request.id, { ...request, sealedPan: null })
      const refused = w.undo('reversal', sale.id, '000900')
      expect(refused).toMatchObject({
        transaction: { outcome: 'declined', reason: 'original_not_eligible' },
      })
      expect(w.store.issuerMessages.has(`reversal:${sale.id}`)).toBe(false)
      expect(w.settlementDebits()).toBe(2_000)
    })

    it('voiding a stand-in sale: an advice never sent is dropped, one maybe at the bank is reversed', () => {
      for (const attempts of [0, 1]) {
        const w = new World(STIP)
        w.status = { state: 'down', why: 'no_connection' }
        const [sale] = w.run([w.purchase(10_000)])
        const id = sale?.type === 'decided' ? sale.transaction.id : ''
        const advice = w.store.issuerMessages.get(`advice:${id}`)
        if (advice === undefined) throw new Error('an advice')
        w.store.issuerMessages.set(advice.id, { ...advice, attempts })
        w.undo('void', id, '000700')
        const reversal = w.store.issuerMessages.get(`reversal:${id}`)
        if (attempts === 0) {
          expect(w.store.issuerMessages.get(advice.id)?.status).toBe('not_sent')
          expect(reversal).toBeUndefined()
        } else {
          expect(w.store.issuerMessages.get(advice.id)?.status).toBe('pending')
          expect(reversal).toMatchObject({ status: 'pending', originalMti: '0220' })
        }
      }
    })

    it('a maintenance window names its end; in decline mode nothing stands in', () => {
      const w = new World(STIP)
      const endsAtMs = NOW + 3_600_000
      w.status = {
        state: 'down',
        why: 'maintenance',
        maintenance: { id: 'mw_1', endsAtMs, mode: 'decline', note: 'core upgrade' },
      }
      const [result] = w.run([w.purchase(1_000)])
      expect(result).toMatchObject({
        type: 'decided',
        transaction: { outcome: 'declined', reason: 'issuer_maintenance' },
      })
      const record = result?.type === 'decided' ? result.transaction : undefined
      expect(record?.evidence).toMatchObject({
        issuerBank: '甲银行',
        maintenanceEndsAtMs: endsAtMs,
        maintenanceNote: 'core upgrade',
      })
    })

    it('does not stand in for a request that carries no sealed card number (no advice possible)', () => {
      const w = new World(STIP)
      w.status = { state: 'down', why: 'no_connection' }
      const sealed = w.purchase(1_000)
      const unsealed: NewTransactionRequest = Object.fromEntries(
        Object.entries(sealed).filter(([key]) => key !== 'sealedPan'),
      ) as unknown as NewTransactionRequest
      const [result] = w.run([unsealed])
      expect(result).toMatchObject({
        transaction: { outcome: 'declined', reason: 'issuer_unavailable' },
      })
      expect(w.store.issuerMessages.size).toBe(0)
    })

    it('without stand-in, declines issuer_unavailable and sends nothing', () => {
      const w = new World()
      w.status = { state: 'down', why: 'no_connection' }
      const [result] = w.run([w.purchase(1_000)])
      expect(result).toMatchObject({
        transaction: { outcome: 'declined', reason: 'issuer_unavailable' },
      })
      expect(w.store.issuerMessages.size).toBe(0)
    })
  })
})
