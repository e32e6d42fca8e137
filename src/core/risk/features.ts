import type { CardType, Channel, Merchant, NewTransactionKind, Terminal } from '../model.js'
import type { Localized } from '../reasons/types.js'
import {
  isRoundAmount,
  VELOCITY_SCOPES,
  VELOCITY_WINDOWS,
  type VelocityFigures,
  type VelocityScope,
  type VelocityWindow,
} from './velocity.js'

/**
 * The features risk rules read: a flat, typed, documented set (the names are what an analyst
 * types in a rule, like Stripe Radar's). Computed once per transaction, before any rule runs.
 * Money is in minor units (`amount >= 500000` is 5,000.00 yuan). docs/risk.md lists them all;
 * a test keeps that list in step with this catalogue.
 */

export type FeatureType = 'int' | 'string' | 'bool'
export type FeatureValue = number | string | boolean

export interface FeatureDefinition {
  readonly name: string
  readonly type: FeatureType
  /** Minor units of the transaction's currency: shown as money in explanations. */
  readonly money: boolean
  readonly group: 'transaction' | 'card' | 'merchant' | 'terminal' | 'velocity' | 'lists'
  readonly label: Localized
}

import type { EntryMode } from '../model.js'
export { ENTRY_MODES, type EntryMode } from '../model.js'

const L = (zh: string, en: string): Localized => ({ 'zh-CN': zh, en })

const BASE_FEATURES: readonly FeatureDefinition[] = [
  f('amount', 'int', 'transaction', L('交易金额', 'amount'), true),
  f('currency', 'string', 'transaction', L('币种', 'currency')),
  f('kind', 'string', 'transaction', L('交易类型', 'kind')),
  f('channel', 'string', 'transaction', L('接入渠道', 'channel')),
  f('entry_mode', 'string', 'transaction', L('读卡方式', 'card entry mode')),
  f('local_hour', 'int', 'transaction', L('当地时间（小时）', 'local hour')),
  f('mcc', 'string', 'transaction', L('商户类别码', 'merchant category (MCC)')),
  f('is_round_amount', 'bool', 'transaction', L('整百金额', 'round amount')),
  f(
    'per_transaction_limit',
    'int',
    'transaction',
    L('适用单笔限额（0为无）', 'per-transaction limit that applies (0: none)'),
    true,
  ),
  f('card_type', 'string', 'card', L('卡种', 'card type')),
  f('card_bin', 'string', 'card', L('卡BIN', 'BIN')),
  f('card_issuer', 'string', 'card', L('发卡行', 'issuing bank')),
  f('card_on_file', 'bool', 'card', L('本系统发卡', 'card on file')),
  f(
    'card_days_since_first_seen',
    'int',
    'card',
    L('首次出现至今天数', 'days since the card was first seen'),
  ),
  f('merchant_id', 'string', 'merchant', L('商户号', 'merchant')),
  f('merchant_risk_tier', 'string', 'merchant', L('商户风险等级', 'merchant risk tier')),
  f(
    'merchant_days_since_onboarding',
    'int',
    'merchant',
    L('商户入网天数', 'days since the merchant was onboarded'),
  ),
  f('merchant_region', 'string', 'merchant', L('商户所在地区', 'merchant region')),
  f('terminal_id', 'string', 'terminal', L('终端号', 'terminal')),
  f('terminal_region', 'string', 'terminal', L('终端登记地区', 'terminal registered region')),
  f(
    'terminal_reported_region',
    'string',
    'terminal',
    L('终端上报地区', 'region the terminal reported'),
  ),
  f(
    'terminal_relocated',
    'bool',
    'terminal',
    L('终端异地使用（移机）', 'terminal used away from its registered city'),
  ),
  f('on_review_list', 'bool', 'lists', L('在复核名单上', 'on a review list')),
  f('on_allow_list', 'bool', 'lists', L('在白名单上', 'on an allow list')),
]

const SCOPE_LABELS: Readonly<Record<VelocityScope, Localized>> = {
  card: L('该卡', 'card'),
  merchant: L('该商户', 'merchant'),
  terminal: L('该终端', 'terminal'),
  card_merchant: L('该卡在该商户', 'card at this merchant'),
}
const WINDOW_LABELS: Readonly<Record<string, Localized>> = {
  '1m': L('1分钟内', '1 minute'),
  '10m': L('10分钟内', '10 minutes'),
  '1h': L('1小时内', '1 hour'),
  '24h': L('24小时内', '24 hours'),
}

function velocityFeatures(): FeatureDefinition[] {
  const list: FeatureDefinition[] = []
  for (const scope of VELOCITY_SCOPES) {
    const s = SCOPE_LABELS[scope]
    for (const w of VELOCITY_WINDOWS) {
      const wl = WINDOW_LABELS[w] ?? L(w, w)
      list.push(
        f(
          `${scope}_count_${w}`,
          'int',
          'velocity',
          L(`${s['zh-CN']}${wl['zh-CN']}交易笔数`, `${s.en} attempts in ${wl.en}`),
        ),
        f(
          `${scope}_sum_${w}`,
          'int',
          'velocity',
          L(`${s['zh-CN']}${wl['zh-CN']}交易金额`, `${s.en} amount in ${wl.en}`),
          true,
        ),
      )
    }
    list.push(
      f(
        `${scope}_declines_10m`,
        'int',
        'velocity',
        L(`${s['zh-CN']}10分钟内被拒笔数`, `${s.en} declines in 10 minutes`),
      ),
      f(
        `${scope}_round_count_1h`,
        'int',
        'velocity',
        L(`${s['zh-CN']}1小时内整百金额笔数`, `${s.en} round amounts in 1 hour`),
      ),
      f(
        `${scope}_round_count_24h`,
        'int',
        'velocity',
        L(`${s['zh-CN']}24小时内整百金额笔数`, `${s.en} round amounts in 24 hours`),
      ),
    )
  }
  list.push(
    f(
      'card_pin_declines_10m',
      'int',
      'velocity',
      L('该卡10分钟内密码错误次数', 'card wrong-PIN declines in 10 minutes'),
    ),
    f(
      'card_distinct_terminals_10m',
      'int',
      'velocity',
      L('该卡10分钟内使用的不同终端数', 'distinct terminals of the card in 10 minutes'),
    ),
  )
  return list
}

function f(
  name: string,
  type: FeatureType,
  group: FeatureDefinition['group'],
  label: Localized,
  money = false,
): FeatureDefinition {
  return { name, type, money, group, label }
}

/** Every feature, in documentation order. */
export const FEATURES: readonly FeatureDefinition[] = [...BASE_FEATURES, ...velocityFeatures()]
export const FEATURES_BY_NAME: ReadonlyMap<string, FeatureDefinition> = new Map(
  FEATURES.map((d) => [d.name, d]),
)

export type Features = Readonly<Record<string, FeatureValue>>

/** What the features are computed from; gathered by the pipeline's risk stage. */
export interface FeatureInput {
  readonly nowMs: number
  readonly utcOffsetMinutes: number
  readonly kind: NewTransactionKind
  readonly channel: Channel
  readonly amountMinor: number
  readonly currency: string
  readonly entryMode: EntryMode
  readonly reportedRegion: string | null
  readonly perTransactionLimitMinor: number | null
  readonly cardType: CardType
  readonly bin: string
  readonly issuerBank: string | null
  readonly cardOnFile: boolean
  /** When Tollgate first saw the card; null: this is the first time. */
  readonly cardFirstSeenMs: number | null
  readonly merchant: Merchant
  readonly terminal: Terminal
  /** Velocity of a scope, asked only for the scopes whose features are needed. */
  readonly velocity: (scope: VelocityScope) => VelocityFigures
  readonly onReviewList: boolean
  readonly onAllowList: boolean
}

/** The velocity scope each velocity feature reads. */
const SCOPE_OF_FEATURE: ReadonlyMap<string, VelocityScope> = new Map(
  VELOCITY_SCOPES.flatMap((scope) =>
    FEATURES.filter(
      (f) =>
        f.group === 'velocity' &&
        f.name.startsWith(`${scope}_`) &&
        !(scope === 'card' && f.name.startsWith('card_merchant_')),
    ).map((f) => [f.name, scope] as const),
  ),
)

/**
 * Velocity feature names, built once: names made per transaction with template literals cost
 * a string each and give every features object a new shape (V8 then falls back to a slow
 * dictionary).
 */
const VELOCITY_NAMES = Object.fromEntries(
  VELOCITY_SCOPES.map((scope) => [
    scope,
    {
      count: Object.fromEntries(VELOCITY_WINDOWS.map((w) => [w, `${scope}_count_${w}`])),
      sum: Object.fromEntries(VELOCITY_WINDOWS.map((w) => [w, `${scope}_sum_${w}`])),
      declines: `${scope}_declines_10m`,
      round1h: `${scope}_round_count_1h`,
      round24h: `${scope}_round_count_24h`,
    },
  ]),
) as unknown as Readonly<
  Record<
    VelocityScope,
    {
      readonly count: Readonly<Record<VelocityWindow, string>>
      readonly sum: Readonly<Record<VelocityWindow, string>>
      readonly declines: string
      readonly round1h: string
      readonly round24h: string
    }
  >
>

/** The velocity scopes a set of features needs (all of them when `needed` is undefined). */
export function scopesFor(needed: ReadonlySet<string> | undefined): readonly VelocityScope[] {
  if (needed === undefined) return VELOCITY_SCOPES
  // A rule set's feature set lives as long as the rule set: computed once per set, not per call.
  const cached = SCOPES_OF_SET.get(needed)
  if (cached !== undefined) return cached
  const found = scopesOf(needed)
  SCOPES_OF_SET.set(needed, found)
  return found
}

const SCOPES_OF_SET = new WeakMap<ReadonlySet<string>, readonly VelocityScope[]>()

function scopesOf(needed: ReadonlySet<string>): readonly VelocityScope[] {
  const scopes = new Set<VelocityScope>()
  for (const name of needed) {
    const scope = SCOPE_OF_FEATURE.get(name)
    if (scope !== undefined) scopes.add(scope)
  }
  return VELOCITY_SCOPES.filter((s) => scopes.has(s))
}

const MS_PER_DAY = 86_400_000
const MS_PER_HOUR = 3_600_000

function daysBetween(fromMs: number, toMs: number): number {
  return Math.max(0, Math.floor((toMs - fromMs) / MS_PER_DAY))
}

/** Regions are 6-digit administrative codes; the first four name the city (prefecture). */
export function sameCity(a: string, b: string): boolean {
  return a.slice(0, 4) === b.slice(0, 4)
}

/**
 * The features of one transaction. Velocity is the costly part: only the scopes of the `needed`
 * features are computed (the live rules' features; all when undefined). Every non-velocity
 * feature is always there.
 */
export function computeFeatures(input: FeatureInput, needed?: ReadonlySet<string>): Features {
  const local = input.nowMs + input.utcOffsetMinutes * 60_000
  const hour = Math.floor((((local % MS_PER_DAY) + MS_PER_DAY) % MS_PER_DAY) / MS_PER_HOUR)
  const terminalRegion = input.terminal.region ?? ''
  const reported = input.reportedRegion ?? ''
  const features: Record<string, FeatureValue> = {
    amount: input.amountMinor,
    currency: input.currency,
    kind: input.kind,
    channel: input.channel,
    entry_mode: input.entryMode,
    local_hour: hour,
    mcc: input.merchant.mcc,
    is_round_amount: isRoundAmount(input.amountMinor, input.currency),
    per_transaction_limit: input.perTransactionLimitMinor ?? 0,
    card_type: input.cardType,
    card_bin: input.bin,
    card_issuer: input.issuerBank ?? '',
    card_on_file: input.cardOnFile,
    card_days_since_first_seen:
      input.cardFirstSeenMs === null ? 0 : daysBetween(input.cardFirstSeenMs, input.nowMs),
    merchant_id: input.merchant.id,
    merchant_risk_tier: input.merchant.riskTier,
    merchant_days_since_onboarding: daysBetween(input.merchant.createdAtMs, input.nowMs),
    merchant_region: input.merchant.region ?? '',
    terminal_id: input.terminal.id,
    terminal_region: terminalRegion,
    terminal_reported_region: reported,
    terminal_relocated:
      terminalRegion !== '' && reported !== '' && !sameCity(terminalRegion, reported),
    on_review_list: input.onReviewList,
    on_allow_list: input.onAllowList,
  }
  for (const scope of scopesFor(needed)) {
    const v = input.velocity(scope)
    const names = VELOCITY_NAMES[scope]
    for (const w of VELOCITY_WINDOWS) {
      features[names.count[w]] = v.count[w]
      features[names.sum[w]] = v.sum[w]
    }
    features[names.declines] = v.declines10m
    features[names.round1h] = v.roundCount1h
    features[names.round24h] = v.roundCount24h
    if (scope === 'card') {
      features.card_pin_declines_10m = v.pinDeclines10m
      features.card_distinct_terminals_10m = v.distinctTerminals10m
    }
  }
  return features
}
