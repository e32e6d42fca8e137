import type { ReasonCode, ReasonFamily } from './codes.js'

export const LANGS = ['zh-CN', 'en'] as const
export type Lang = (typeof LANGS)[number]

/** A text in every language Tollgate speaks. */
export interface Localized {
  readonly 'zh-CN': string
  readonly en: string
}

/** What the terminal (or its user) should do about retrying. */
export type RetryAdvice =
  | { readonly kind: 'retry_now' }
  | { readonly kind: 'retry_after'; readonly minutes: number }
  | { readonly kind: 'do_not_retry' }
  | { readonly kind: 'reverse_first' }

/** The people who read an explanation; each gets its own remediation. */
export const AUDIENCES = ['cardholder', 'merchant', 'operator'] as const
export type Audience = (typeof AUDIENCES)[number]

export interface ReasonEntry {
  readonly code: ReasonCode
  readonly family: ReasonFamily
  /** ISO 8583:1987 field 39 response code, two characters. */
  readonly isoCode: string
  /** China UnionPay response code when it differs from isoCode, else null. */
  readonly cupCode: string | null
  /** Short title, as a POS screen or a list would show it. */
  readonly title: Localized
  /** Two or three sentences: what happened and why, in plain words. */
  readonly explanation: Localized
  /** What each audience should do next. */
  readonly remediation: { readonly [A in Audience]: Localized }
  readonly retry: RetryAdvice
}
