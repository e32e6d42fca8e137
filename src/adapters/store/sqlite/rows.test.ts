import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  ENTRY_MODES,
  STAGES,
  type Check,
  type Evidence,
  type TransactionRecord,
} from '../../../core/model.js'
import { REASON_CODES } from '../../../core/reasons/codes.js'
import { packChecks, packEvidence, toTransaction, transactionRow } from './rows.js'

const RECORD: TransactionRecord = {
  id: 'tx_01M8BERXAMZPACWE1QAV5GX5TT',
  kind: 'purchase',
  channel: 'iso8583',
  outcome: 'declined',
  lifecycle: 'none',
  terminalId: '20000002',
  merchantId: '898310054119999',
  stan: '000001',
  transmissionTime: null,
  rrn: '633008569196',
  dedupKey: '20000002|000001|2026-11-26',
  idempotencyKey: null,
  fingerprint: 'purchase|20000002|898310054119999|tok_a|109|CNY',
  cardToken: 'tok_a',
  cardMasked: '621226*********0003',
  cardLast4: '0003',
  cardType: 'debit',
  amountMinor: 109,
  currency: 'CNY',
  originalId: null,
  reason: 'insufficient_funds',
  responseCode: '51',
  authorizationCode: null,
  checks: [
    { stage: 'validation', name: 'message', status: 'pass' },
    { stage: 'validation', name: 'card_expiry', status: 'pass' },
    { stage: 'lists', name: 'block_lists', status: 'skip' },
    {
      stage: 'issuer',
      name: 'funds',
      status: 'fail',
      reason: 'insufficient_funds',
      evidence: {
        amount: { amountMinor: 109, currency: 'CNY' },
        available: { amountMinor: 50, currency: 'CNY' },
      },
    },
  ],
  evidence: {
    amount: { amountMinor: 109, currency: 'CNY' },
    available: { amountMinor: 50, currency: 'CNY' },
    note: 'a [bracketed] "quoted" value, with | and ; and :',
    count: 3,
    flag: false,
    none: null,
  },
  balanceMinor: null,
  holdTransferId: null,
  completedAmountMinor: 0,
  refundedAmountMinor: 0,
  localDate: '2026-11-26',
  entryMode: 'chip',
  reportedRegion: '310101',
  createdAtMs: 1_795_680_925_008,
  updatedAtMs: 1_795_680_925_008,
}

const word = fc.stringMatching(/^[a-z][a-z0-9_]{0,20}$/)
const evidenceValue = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.record({ amountMinor: fc.integer({ min: 0 }), currency: fc.constantFrom('CNY', 'USD') }),
)
const evidence: fc.Arbitrary<Evidence> = fc.dictionary(fc.string(), evidenceValue, {
  maxKeys: 6,
})
const check: fc.Arbitrary<Check> = fc
  .record({
    stage: fc.constantFrom(...STAGES),
    name: fc.oneof(word, fc.string()),
    status: fc.constantFrom('pass', 'fail', 'skip'),
    reason: fc.option(fc.constantFrom(...REASON_CODES), { nil: undefined }),
    evidence: fc.option(evidence, { nil: undefined }),
  })
  .map(({ reason, evidence: carried, ...rest }) => ({
    ...rest,
    ...(reason === undefined ? {} : { reason }),
    ...(carried === undefined ? {} : { evidence: carried }),
  }))

describe('transaction rows', () => {
  it('pack checks and evidence compactly and read them back exactly', () => {
    const row = transactionRow(RECORD)
    expect(row.checks).toBe(
      'validation:message,card_expiry;lists:block_lists?;issuer:funds!insufficient_funds' +
        '|{"3":{"amount":[109,"CNY"],"available":[50,"CNY"]}}',
    )
    expect(row.evidence).toBe(
      '{"amount":[109,"CNY"],"available":[50,"CNY"],' +
        '"note":"a [bracketed] \\"quoted\\" value, with | and ; and :",' +
        '"count":3,"flag":false,"none":null}',
    )
    expect(toTransaction(row)).toEqual(RECORD)
    // Key order survives too, so the record serialises as it did before it was stored.
    expect(JSON.stringify(toTransaction(row))).toBe(JSON.stringify(RECORD))
  })

  it('round-trip any checks and evidence', () => {
    fc.assert(
      fc.property(
        fc.array(check, { maxLength: 14 }),
        evidence,
        fc.constantFrom(null, ...ENTRY_MODES),
        fc.option(fc.stringMatching(/^\d{6}$/)),
        (checks, decided, entryMode, reportedRegion) => {
          const record = { ...RECORD, checks, evidence: decided, entryMode, reportedRegion }
          const back = toTransaction(transactionRow(record))
          expect(back).toEqual(record)
          expect(JSON.stringify(back)).toBe(JSON.stringify(record))
        },
      ),
      { numRuns: 300 },
    )
  })

  it('store checks with a name the packed form cannot carry as JSON, and read them back', () => {
    const checks: Check[] = [{ stage: 'route', name: 'issuer route: CUP', status: 'pass' }]
    expect(packChecks(checks)).toBe(JSON.stringify(checks))
    expect(toTransaction({ ...transactionRow(RECORD), checks: packChecks(checks) }).checks).toEqual(
      checks,
    )
  })

  it('read rows written before schema version 3 (plain JSON)', () => {
    const row = {
      ...transactionRow(RECORD),
      checks: JSON.stringify(RECORD.checks),
      evidence: JSON.stringify(RECORD.evidence),
    }
    expect(toTransaction(row)).toEqual(RECORD)
  })

  it('leave out evidence keys without a value, as JSON does', () => {
    const sparse = { shown: 1, hidden: undefined } as unknown as Evidence
    expect(packEvidence(sparse)).toBe(JSON.stringify(sparse))
    expect(packEvidence({})).toBe('{}')
  })

  it('refuse a damaged packed row', () => {
    const row = transactionRow(RECORD)
    expect(() => toTransaction({ ...row, checks: 'nostage:message' })).toThrow(/checks/)
    expect(() => toTransaction({ ...row, checks: 'issuer:funds!not_a_reason' })).toThrow(/checks/)
    expect(() => toTransaction({ ...row, evidence: '{"amount":[1]}' })).toThrow(/not money/)
  })
})
