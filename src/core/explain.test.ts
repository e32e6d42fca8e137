import { describe, expect, it } from 'vitest'
import {
  explainReason,
  explainTransaction,
  forAudience,
  formatEvidenceValue,
  formatInstant,
} from './explain.js'
import type { TransactionRecord } from './model.js'
import { REASON_CATALOGUE } from './reasons/catalogue.js'
import { REASON_CODES } from './reasons/codes.js'

describe('explanations', () => {
  it('formats instants without a Date, at the business offset', () => {
    expect(formatInstant(Date.UTC(2026, 10, 26, 16, 30, 5), 480)).toBe(
      '2026-11-27 00:30:05 UTC+08:00',
    )
    expect(formatInstant(Date.UTC(2024, 1, 29, 0, 0, 0), 0)).toBe('2024-02-29 00:00:00 UTC+00:00')
    expect(formatInstant(Date.UTC(2026, 0, 1, 2, 0, 0), -300)).toBe('2025-12-31 21:00:00 UTC-05:00')
  })

  it('formats money with the currency exponent and translates known values', () => {
    expect(formatEvidenceValue('amount', { amountMinor: 12_345, currency: 'CNY' }, 'en', 480)).toBe(
      '123.45 CNY',
    )
    expect(formatEvidenceValue('amount', { amountMinor: 12_345, currency: 'JPY' }, 'en', 480)).toBe(
      '12345 JPY',
    )
    expect(formatEvidenceValue('merchantStatus', 'suspended', 'zh-CN', 480)).toBe('已暂停')
    expect(formatEvidenceValue('moneyMoved', false, 'en', 480)).toBe('no')
  })

  it('renders every reason in both languages with all three remediations', () => {
    for (const code of REASON_CODES) {
      for (const lang of ['zh-CN', 'en'] as const) {
        const explanation = explainReason(
          code,
          'declined',
          { amount: { amountMinor: 100, currency: 'CNY' } },
          [],
          lang,
          480,
        )
        const entry = REASON_CATALOGUE[code]
        expect(explanation.title).toBe(entry.title[lang])
        expect(explanation.responseCode).toBe(entry.isoCode)
        expect(explanation.remediation?.cardholder).toBe(entry.remediation.cardholder[lang])
        expect(explanation.remediation?.operator).toBe(entry.remediation.operator[lang])
        expect(explanation.retry?.text.length).toBeGreaterThan(0)
        expect(explanation.evidence[0]?.label).toBe(lang === 'zh-CN' ? '交易金额' : 'amount')
      }
    }
  })
})

describe('explanations of remote decisions and risk internals', () => {
  const approved = (evidence: Record<string, string | number | boolean>): TransactionRecord =>
    ({
      id: 'tx_1',
      kind: 'purchase',
      outcome: 'approved',
      responseCode: '00',
      checks: [],
      evidence,
    }) as unknown as TransactionRecord

  it('says an approval was made in stand-in, and by which bank it was not', () => {
    const record = approved({
      standIn: true,
      remote: true,
      issuerBank: '模拟银行',
      routeState: 'maintenance',
    })
    expect(explainTransaction(record, 'en', 480).summary).toMatch(/stand-in.*模拟银行.*advice/)
    expect(explainTransaction(record, 'zh-CN', 480).summary).toMatch(/代授权/)
    const labels = explainTransaction(record, 'zh-CN', 480).evidence.map(
      (e) => `${e.label}=${e.value}`,
    )
    expect(labels).toContain('路由状态=计划维护')
  })

  it('says a remote approval was the issuing bank’s', () => {
    const record = approved({ remote: true, issuerBank: 'ICBC', upstreamResponseCode: '00' })
    expect(explainTransaction(record, 'en', 480).summary).toMatch(
      /Approved by the issuing bank ICBC/,
    )
  })

  it('hides risk-rule internals from merchants and everything but the advice from cardholders', () => {
    const declined = explainReason(
      'suspected_fraud',
      'declined',
      { riskRuleId: 'r1', expression: 'amount > 1', 'f.amount': 5, limit: 3 },
      [],
      'en',
      480,
    )
    const merchant = forAudience(declined, 'merchant')
    expect(merchant.evidence.map((e) => e.key)).toEqual(['limit'])
    const cardholder = forAudience(declined, 'cardholder')
    expect(cardholder.evidence).toEqual([])
    expect(cardholder.remediation?.operator).toBe('')
    expect(cardholder.remediation?.cardholder).not.toBe('')
    expect(forAudience(declined, 'operator')).toBe(declined)
  })
})
