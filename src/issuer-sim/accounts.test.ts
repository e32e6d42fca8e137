import { describe, expect, it } from 'vitest'
import type { IssuerRequest } from '../adapters/issuer/protocol.js'
import { DEMO_CARDS } from '../app/demo-data.js'
import { availableMinor, demoAccountInputs, Ledger } from './accounts.js'

const MONTH = { year: 2026, month: 11 }
const PAN = '6299990000000001'

function ledgerWith(amount: string, extra: Record<string, unknown> = {}): Ledger {
  const ledger = new Ledger()
  const added = ledger.addAccount({ id: 'a', pan: PAN, expiry: '3012', amount, ...extra })
  expect(added.ok).toBe(true)
  return ledger
}

let stan = 0
function request(overrides: Partial<IssuerRequest> = {}): IssuerRequest {
  stan += 1
  return {
    kind: 'purchase',
    pan: PAN,
    expiry: '3012',
    amountMinor: 1_000,
    currencyNumeric: '156',
    stan: String(stan).padStart(6, '0'),
    transmissionTime: '1126120000',
    terminalId: '10000001',
    merchantId: '898310058120001',
    acquirerId: '48020000',
    rrn: '000000000001',
    ...overrides,
  }
}

const mtiOf = (r: IssuerRequest) =>
  r.kind === 'preauthorization'
    ? '0100'
    : r.kind === 'advice'
      ? '0220'
      : r.kind === 'reversal'
        ? '0400'
        : '0200'
const apply = (ledger: Ledger, r: IssuerRequest) => ledger.apply(r, mtiOf(r), MONTH)
const account = (ledger: Ledger) => ledger.accountById('a')!

describe('issuer-sim ledger', () => {
  it('seeds the demo cards with the same numbers, amounts and statuses as Tollgate', () => {
    const ledger = new Ledger()
    for (const input of demoAccountInputs()) expect(ledger.addAccount(input).ok).toBe(true)
    expect(ledger.accountCount).toBe(Object.keys(DEMO_CARDS).length)
    expect(availableMinor(ledger.accountById('demo_debit')!)).toBe(500_000)
    expect(ledger.accountById('demo_lost')!.status).toBe('lost')
  })

  it('approves exactly the available amount and declines one minor unit more', () => {
    const ledger = ledgerWith('10.00')
    expect(apply(ledger, request({ amountMinor: 1_001 })).answer.responseCode).toBe('51')
    const approved = apply(ledger, request({ amountMinor: 1_000 }))
    expect(approved.answer.responseCode).toBe('00')
    expect(approved.answer.authorizationCode).toMatch(/^\d{6}$/)
    expect(availableMinor(account(ledger))).toBe(0)
    expect(ledger.totals.declines['51']).toBe(1)
  })

  it('maps status and expiry to 41, 43, 62, 54 and an unknown card to 14', () => {
    for (const [status, code] of [
      ['lost', '41'],
      ['stolen', '43'],
      ['inactive', '62'],
      ['blocked', '62'],
    ] as const) {
      expect(apply(ledgerWith('10.00', { status }), request()).answer.responseCode).toBe(code)
    }
    expect(apply(ledgerWith('10.00'), request({ expiry: '2912' })).answer.responseCode).toBe('54')
    const expired = new Ledger()
    expired.addAccount({ id: 'a', pan: PAN, expiry: '2610', amount: '10.00' })
    expect(apply(expired, request({ expiry: '2610' })).answer.responseCode).toBe('54')
    expect(
      apply(ledgerWith('10.00'), request({ pan: '6299990000000099' })).answer.responseCode,
    ).toBe('14')
  })

  it('card valid through the last day of its expiry month', () => {
    const ledger = new Ledger()
    ledger.addAccount({ id: 'a', pan: PAN, expiry: '2611', amount: '10.00' })
    expect(apply(ledger, request({ expiry: '2611' })).answer.responseCode).toBe('00')
  })

  it('declines 61 above the per-transaction maximum', () => {
    const ledger = ledgerWith('100.00', { perTransactionMax: '20.00' })
    expect(apply(ledger, request({ amountMinor: 2_001 })).answer.responseCode).toBe('61')
    expect(apply(ledger, request({ amountMinor: 2_000 })).answer.responseCode).toBe('00')
  })

  it('answers a retransmission with the first answer and charges once', () => {
    const ledger = ledgerWith('100.00')
    const purchase = request()
    const first = apply(ledger, purchase)
    const again = apply(ledger, purchase)
    expect(again.answer).toEqual(first.answer)
    expect(account(ledger).postedMinor).toBe(1_000)
  })

  it('reverses a purchase and a hold exactly once, by the original', () => {
    const ledger = ledgerWith('100.00')
    const purchase = request({ amountMinor: 4_000 })
    const hold = request({ kind: 'preauthorization', amountMinor: 3_000 })
    apply(ledger, purchase)
    apply(ledger, hold)
    expect(availableMinor(account(ledger))).toBe(3_000)
    for (const original of [purchase, hold]) {
      const reversal = request({
        kind: 'reversal',
        original: { mti: mtiOf(original), stan: original.stan, transmissionTime: '1126120000' },
      })
      expect(apply(ledger, reversal).answer.responseCode).toBe('00')
      expect(apply(ledger, { ...reversal, stan: '999999' }).answer.responseCode).toBe('00')
    }
    expect(account(ledger)).toMatchObject({ postedMinor: 0, heldMinor: 0 })
    expect(ledger.totals.reversals).toMatchObject({ count: 2, amountMinor: 7_000, repeated: 2 })
  })

  it('acknowledges a reversal without original and refuses the original if it arrives late', () => {
    const ledger = ledgerWith('100.00')
    const late = request()
    const reversal = request({
      kind: 'reversal',
      original: { mti: '0200', stan: late.stan, transmissionTime: late.transmissionTime },
    })
    expect(apply(ledger, reversal).answer.responseCode).toBe('00')
    expect(ledger.totals.reversals.withoutOriginal).toBe(1)
    expect(apply(ledger, late).answer.responseCode).toBe('94')
    expect(account(ledger).postedMinor).toBe(0)
  })

  it('applies an advice over the limit once and counts it as stand-in accepted', () => {
    const ledger = ledgerWith('10.00', { status: 'blocked' })
    const advice = request({ kind: 'advice', amountMinor: 5_000 })
    expect(apply(ledger, advice).note).toContain('stand-in accepted over limit')
    expect(ledger.apply({ ...advice, repeat: true }, '0221', MONTH).answer.responseCode).toBe('00')
    expect(account(ledger).postedMinor).toBe(5_000)
    expect(ledger.totals.advices).toEqual({ count: 1, amountMinor: 5_000, standInOverLimit: 1 })
  })

  it('validates accounts field by field, never quoting the card number', () => {
    const ledger = new Ledger()
    const bad = ledger.addAccount({ pan: '12345x', expiry: '1399', amount: '1.005' })
    expect(bad.ok).toBe(false)
    if (bad.ok) return
    expect(bad.error).toContain('pan:')
    expect(bad.error).toContain('expiry:')
    expect(bad.error).not.toContain('12345x')
    expect(ledger.addAccount({ pan: PAN, expiry: '3012', amount: '1.001' }).ok).toBe(false)
  })

  it('replaces an account by PAN with a fresh state and the same id', () => {
    const ledger = ledgerWith('10.00')
    apply(ledger, request())
    const replaced = ledger.addAccount({ pan: PAN, expiry: '3012', amount: '50.00' })
    expect(replaced.ok && replaced.replaced).toBe(true)
    expect(ledger.accountById('a')).toMatchObject({ postedMinor: 0, openingMinor: 5_000 })
    const other = ledger.addAccount({
      id: 'a',
      pan: '6299990000000002',
      expiry: '3012',
      amount: '1',
    })
    expect(other.ok).toBe(false)
  })
})
