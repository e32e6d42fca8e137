import { describe, expect, it } from 'vitest'
import { REASON_CATALOGUE, reasonEntry } from './catalogue.js'
import { REASON_CODES, REASON_FAMILIES } from './codes.js'
import type { ReasonCode } from './codes.js'
import { AUDIENCES, LANGS } from './types.js'
import type { Localized, ReasonEntry } from './types.js'

const ENTRIES: readonly ReasonEntry[] = REASON_CODES.map((code) => REASON_CATALOGUE[code])

/** CJK ideographs, CJK punctuation and full-width forms: none may appear in English text. */
const CJK = /[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]/
const CJK_IDEOGRAPH = /[\u3400-\u4dbf\u4e00-\u9fff]/
const RESPONSE_CODE = /^[0-9A-Z]{2}$/

/** Every text of an entry, with a label saying where it sits. */
function texts(entry: ReasonEntry): { where: string; text: Localized }[] {
  return [
    { where: 'title', text: entry.title },
    { where: 'explanation', text: entry.explanation },
    ...AUDIENCES.map((audience) => ({
      where: `remediation.${audience}`,
      text: entry.remediation[audience],
    })),
  ]
}

describe('REASON_CATALOGUE', () => {
  it('has an entry for every reason code, under its own code', () => {
    expect(Object.keys(REASON_CATALOGUE).sort()).toEqual([...REASON_CODES].sort())
    for (const code of REASON_CODES) {
      expect(REASON_CATALOGUE[code].code, code).toBe(code)
    }
  })

  it('has at least 30 reasons', () => {
    expect(ENTRIES.length).toBeGreaterThanOrEqual(30)
  })

  it('uses every family, and only known families', () => {
    const used = new Set(ENTRIES.map((entry) => entry.family))
    expect([...used].sort()).toEqual([...REASON_FAMILIES].sort())
  })

  it('gives two-character ISO and CUP codes, with a CUP code only where it differs', () => {
    for (const entry of ENTRIES) {
      expect(entry.isoCode, entry.code).toMatch(RESPONSE_CODE)
      // ISO 8583:1987 defines numeric codes only; letters (A0, A1...) are UnionPay's.
      expect(entry.isoCode, entry.code).toMatch(/^\d\d$/)
      if (entry.cupCode !== null) {
        expect(entry.cupCode, entry.code).toMatch(RESPONSE_CODE)
        expect(entry.cupCode, entry.code).not.toBe(entry.isoCode)
      }
    }
  })

  it('never sends an approval code as a decline', () => {
    const approvals = ['00', '10', '11', '16', 'A2', 'A4', 'A5', 'A6', 'Y1', 'Y3']
    for (const entry of ENTRIES) {
      expect(approvals, entry.code).not.toContain(entry.isoCode)
      expect(approvals, entry.code).not.toContain(entry.cupCode)
    }
  })

  it('sends a pick-up code only for lost and stolen cards', () => {
    const pickUp = ['04', '07', '33', '34', '35', '36', '37', '38', '41', '43', '67']
    const pickedUp = ENTRIES.filter(
      (entry) => pickUp.includes(entry.isoCode) || pickUp.includes(entry.cupCode ?? ''),
    ).map((entry) => entry.code)
    expect(pickedUp.sort()).toEqual(['card_lost', 'card_stolen'])
  })

  it('never makes a UnionPay terminal show a meaning the reason does not have', () => {
    // On UnionPay terminals 05 reads "cardholder verification failed" and 59 "CVN check failed".
    for (const entry of ENTRIES) {
      expect(['05', '59'], entry.code).not.toContain(entry.cupCode ?? entry.isoCode)
    }
  })

  it('keeps the codes argued in docs/decisions/0002-response-codes.md', () => {
    const expected: Partial<Record<ReasonCode, [string, string | null]>> = {
      issuer_timeout: ['68', '98'],
      no_route_to_issuer: ['92', null],
      credit_limit_exceeded: ['51', null],
      void_window_closed: ['12', '22'],
      card_not_found: ['14', null],
      expiry_mismatch: ['54', null],
      merchant_restricted: ['58', null],
      unknown_terminal: ['58', '97'],
      terminal_merchant_mismatch: ['58', null],
      suspected_fraud: ['59', '57'],
      mac_verification_failed: ['63', 'A0'],
    }
    for (const [code, codes] of Object.entries(expected)) {
      const entry = reasonEntry(code as ReasonCode)
      expect([entry.isoCode, entry.cupCode], code).toEqual(codes)
    }
  })

  it('has no empty text in any language or audience', () => {
    for (const entry of ENTRIES) {
      for (const { where, text } of texts(entry)) {
        for (const lang of LANGS) {
          expect(text[lang].trim(), `${entry.code} ${where} ${lang}`).not.toBe('')
          expect(text[lang], `${entry.code} ${where} ${lang}`).toBe(text[lang].trim())
        }
      }
    }
  })

  it('writes zh-CN in Chinese and en without Chinese characters or punctuation', () => {
    for (const entry of ENTRIES) {
      for (const { where, text } of texts(entry)) {
        expect(text['zh-CN'], `${entry.code} ${where} zh-CN`).toMatch(CJK_IDEOGRAPH)
        expect(text.en, `${entry.code} ${where} en`).not.toMatch(CJK)
      }
    }
  })

  it('keeps titles short enough for a terminal screen or a list', () => {
    for (const entry of ENTRIES) {
      expect(entry.title['zh-CN'].length, entry.code).toBeLessThanOrEqual(16)
      expect(entry.title.en.length, entry.code).toBeLessThanOrEqual(48)
      expect(entry.title.en, entry.code).not.toMatch(/\.$/)
    }
  })

  it('gives retry_after a positive whole number of minutes, at most a day', () => {
    const delayed = ENTRIES.flatMap((entry) => (entry.retry.kind === 'retry_after' ? [entry] : []))
    expect(delayed.length).toBeGreaterThan(0)
    for (const entry of delayed) {
      if (entry.retry.kind !== 'retry_after') continue
      expect(Number.isInteger(entry.retry.minutes), entry.code).toBe(true)
      expect(entry.retry.minutes, entry.code).toBeGreaterThan(0)
      expect(entry.retry.minutes, entry.code).toBeLessThanOrEqual(1440)
    }
  })

  it('asks for a reversal before a retry after an issuer timeout', () => {
    expect(reasonEntry('issuer_timeout').retry).toEqual({ kind: 'reverse_first' })
  })

  it('never shows risk-control internals to the cardholder', () => {
    const risk = ENTRIES.filter((entry) => entry.family === 'risk')
    expect(risk.length).toBeGreaterThan(0)
    const internals =
      /rule|规则|risk|风控|风险|fraud|欺诈|套现|cash-out|score|评分|block list|黑名单/i
    for (const entry of risk) {
      const text = entry.remediation.cardholder
      expect(text.en, entry.code).not.toMatch(/rule/i)
      expect(text['zh-CN'], entry.code).not.toMatch(/规则/)
      expect(`${text.en} ${text['zh-CN']}`, entry.code).not.toMatch(internals)
    }
  })

  it('tells the cardholder of a card-side risk decline to contact their bank', () => {
    for (const code of ['card_blocked', 'bin_blocked', 'suspected_fraud'] as const) {
      const text = reasonEntry(code).remediation.cardholder
      expect(text.en, code).toMatch(/bank/)
      expect(text['zh-CN'], code).toMatch(/发卡行/)
    }
  })

  it('says in every network reason whether money moved', () => {
    const network = ENTRIES.filter((entry) => entry.family === 'network')
    expect(network.length).toBeGreaterThan(0)
    for (const entry of network) {
      expect(entry.explanation.en, entry.code).toMatch(/no money moved/i)
      expect(entry.explanation['zh-CN'], entry.code).toMatch(/资金没有发生任何变动|不会扣款/)
    }
  })

  it('says that an issuer timeout is reversed and never charged twice', () => {
    const { explanation } = reasonEntry('issuer_timeout')
    expect(explanation.en).toMatch(/reversal/)
    expect(explanation.en).toMatch(/not be charged twice/)
    expect(explanation['zh-CN']).toMatch(/冲正/)
    expect(explanation['zh-CN']).toMatch(/不会被重复扣款/)
  })

  it("says that merchant and terminal limits are the acquirer's, not the bank's", () => {
    const acquirerLimits = REASON_CODES.filter((code) => /^(merchant|terminal)_daily_/.test(code))
    expect(acquirerLimits).toHaveLength(4)
    for (const code of acquirerLimits) {
      const { explanation, remediation } = reasonEntry(code)
      expect(explanation.en, code).toMatch(/acquirer's limit/)
      expect(explanation.en, code).toMatch(/not the card's bank's/)
      expect(explanation['zh-CN'], code).toMatch(/收单机构/)
      expect(explanation['zh-CN'], code).toMatch(/不是发卡行的限/)
      expect(remediation.cardholder.en, code).toMatch(/no need to contact your bank/)
    }
  })

  it('is deeply frozen', () => {
    expect(Object.isFrozen(REASON_CATALOGUE)).toBe(true)
    for (const entry of ENTRIES) {
      expect(Object.isFrozen(entry), entry.code).toBe(true)
      expect(Object.isFrozen(entry.retry), entry.code).toBe(true)
      expect(Object.isFrozen(entry.remediation), entry.code).toBe(true)
      for (const { text } of texts(entry)) expect(Object.isFrozen(text), entry.code).toBe(true)
    }
    expect(() => {
      ;(REASON_CATALOGUE.system_busy.title as { en: string }).en = 'changed'
    }).toThrow(TypeError)
  })
})

describe('reasonEntry', () => {
  it('returns the catalogue entry of a code', () => {
    for (const code of REASON_CODES) expect(reasonEntry(code)).toBe(REASON_CATALOGUE[code])
  })

  it('throws on a code that is not in the catalogue', () => {
    expect(() => reasonEntry('no_such_reason' as ReasonCode)).toThrow(/unknown reason code/)
    expect(() => reasonEntry('toString' as ReasonCode)).toThrow(/unknown reason code/)
  })
})
