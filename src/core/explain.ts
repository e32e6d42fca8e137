import { assert } from './assert.js'
import { formatLocalDate, localDateOf } from './calendar.js'
import { findCurrency, formatAmount } from './money.js'
import type {
  Check,
  Evidence,
  EvidenceValue,
  Stage,
  TransactionKind,
  TransactionRecord,
} from './model.js'
import { reasonEntry } from './reasons/catalogue.js'
import { FEATURES_BY_NAME } from './risk/features.js'
import type { ReasonCode, ReasonFamily } from './reasons/codes.js'
import type { Audience, Lang, Localized, RetryAdvice } from './reasons/types.js'

/**
 * Turns a decision into words: the reason's title and explanation, the evidence with labels,
 * what each audience should do, and the checks the pipeline ran — in the language asked for.
 * Pure: the stored decision holds only codes and values; text is rendered on demand.
 */
export interface Explanation {
  readonly lang: Lang
  readonly outcome: 'approved' | 'declined' | 'rejected'
  readonly title: string
  readonly summary: string
  readonly responseCode: string
  readonly reason: {
    readonly code: ReasonCode
    readonly family: ReasonFamily
    readonly familyLabel: string
    readonly isoCode: string
    readonly cupCode: string | null
  } | null
  readonly evidence: readonly {
    readonly key: string
    readonly label: string
    readonly value: string
  }[]
  readonly remediation: { readonly [A in Audience]: string } | null
  readonly retry: {
    readonly kind: RetryAdvice['kind']
    readonly minutes?: number
    readonly text: string
  } | null
  readonly checks: readonly {
    readonly stage: Stage
    readonly stageLabel: string
    readonly name: string
    readonly status: Check['status']
    readonly reason?: ReasonCode
  }[]
  /**
   * What risk control did, when a rule or list acted (a block, a review, rule hits or failures,
   * shadow hits): for staff. Null when the risk rules passed quietly, and for other audiences.
   */
  readonly risk: {
    readonly status: Check['status']
    readonly evidence: Explanation['evidence']
  } | null
}

const L = (zh: string, en: string): Localized => ({ 'zh-CN': zh, en })

export const FAMILY_LABELS: Readonly<Record<ReasonFamily, Localized>> = {
  network: L('网络/系统', 'network'),
  funds: L('资金', 'funds'),
  data: L('交易信息有误', 'wrong data'),
  limit: L('交易限额', 'limits'),
  risk: L('风险控制', 'risk control'),
  merchant: L('商户/终端', 'merchant and terminal'),
  card: L('卡片状态', 'card'),
  security: L('安全', 'security'),
  system: L('系统', 'system'),
}

export const STAGE_LABELS: Readonly<Record<Stage, Localized>> = {
  validation: L('报文校验', 'message validation'),
  duplicate: L('重复交易检查', 'duplicate detection'),
  acceptance: L('受理检查', 'acceptance'),
  route: L('路由', 'route'),
  limits: L('限额', 'limits'),
  lists: L('黑名单', 'block lists'),
  risk: L('风控规则', 'risk rules'),
  issuer: L('发卡行授权', 'issuer authorization'),
}

export const KIND_LABELS: Readonly<Record<TransactionKind, Localized>> = {
  purchase: L('消费', 'purchase'),
  preauthorization: L('预授权', 'preauthorization'),
  completion: L('预授权完成', 'preauthorization completion'),
  void: L('撤销', 'void'),
  reversal: L('冲正', 'reversal'),
  refund: L('退货', 'refund'),
  balance_inquiry: L('余额查询', 'balance inquiry'),
}

const EVIDENCE_LABELS: Readonly<Record<string, Localized>> = {
  amount: L('交易金额', 'amount'),
  available: L('可用金额', 'available'),
  availableAfter: L('交易后可用金额', 'available after'),
  balance: L('账户余额', 'balance'),
  holds: L('冻结金额', 'held'),
  creditLimit: L('信用额度', 'credit limit'),
  creditUsed: L('已用额度', 'credit used'),
  limit: L('限额', 'limit'),
  usedToday: L('今日已用', 'used today'),
  remaining: L('剩余可用', 'remaining'),
  countLimit: L('笔数上限', 'count limit'),
  countToday: L('今日笔数', 'count today'),
  day: L('营业日', 'business day'),
  ruleId: L('限额规则', 'limit rule'),
  scope: L('适用对象', 'applies to'),
  ruleNote: L('规则说明', 'rule note'),
  listEntryId: L('名单条目', 'list entry'),
  listKind: L('名单类型', 'list kind'),
  listed: L('被列入对象', 'listed'),
  note: L('列入原因', 'why listed'),
  listedBy: L('列入人', 'listed by'),
  listedAtMs: L('列入时间', 'listed at'),
  expiresAtMs: L('到期时间', 'expires at'),
  terminalId: L('终端号', 'terminal'),
  boundMerchantId: L('终端绑定商户', 'terminal bound to merchant'),
  merchantId: L('商户号', 'merchant'),
  merchantName: L('商户名称', 'merchant name'),
  merchantStatus: L('商户状态', 'merchant status'),
  terminalStatus: L('终端状态', 'terminal status'),
  mcc: L('商户类别码', 'merchant category (MCC)'),
  cardType: L('卡种', 'card type'),
  card: L('卡号', 'card'),
  cardStatus: L('卡片状态', 'card status'),
  expiry: L('卡有效期', 'card expiry'),
  today: L('当前日期', 'today'),
  originalId: L('原交易', 'original transaction'),
  originalKind: L('原交易类型', 'original kind'),
  originalOutcome: L('原交易结果', 'original outcome'),
  originalState: L('原交易状态', 'original state'),
  originalAmount: L('原交易金额', 'original amount'),
  requested: L('申请金额', 'requested'),
  originalDay: L('原交易日期', 'original day'),
  transactionCurrency: L('交易币种', 'transaction currency'),
  accountCurrency: L('账户币种', 'account currency'),
  issuerBank: L('发卡行', 'issuing bank'),
  bin: L('卡BIN', 'BIN'),
  route: L('路由', 'route'),
  key: L('去重键', 'duplicate key'),
  originalTransactionId: L('原交易', 'original transaction'),
  fields: L('有误字段', 'fields'),
  moneyMoved: L('是否有资金变动', 'money moved'),
  why: L('说明', 'why'),
  entriesChecked: L('检查的名单条目', 'list entries checked'),
  rules: L('适用规则数', 'rules applied'),
  followUps: L('后续交易笔数', 'follow-ups so far'),
  followUpsMax: L('后续交易上限', 'follow-ups allowed'),
  queueDepth: L('排队请求', 'queued requests'),
  queueMax: L('队列上限', 'queue capacity'),
  decidedBy: L('决定依据', 'decided by'),
  score: L('风险评分', 'risk score'),
  rulesEvaluated: L('执行的规则数', 'rules evaluated'),
  ruleHits: L('命中的规则', 'rules that fired'),
  ruleErrors: L('执行出错的规则', 'rules that failed'),
  riskRuleId: L('风控规则', 'risk rule'),
  ruleVersion: L('规则版本', 'rule version'),
  ruleName: L('规则名称', 'rule name'),
  ruleAction: L('规则动作', 'rule action'),
  expression: L('规则表达式', 'rule expression'),
  ruleDescription: L('风险说明', 'the risk, in the author’s words'),
  blockScore: L('拦截分数线', 'block score'),
  reviewScore: L('复核分数线', 'review score'),
  shadowRules: L('影子规则数', 'shadow rules'),
  shadowHits: L('影子规则命中（不影响结果）', 'shadow rules that fired (no effect)'),
  shadowErrors: L('影子规则出错', 'shadow rules that failed'),
  remote: L('远程发卡行路由', 'remote issuer route'),
  routedBy: L('路由依据（卡BIN前缀）', 'routed by BIN prefix'),
  upstreamResponseCode: L('发卡行应答码', 'issuer response code'),
  issuerLatencyMs: L('发卡行响应耗时（毫秒）', 'issuer response time (ms)'),
  awaitingIssuer: L('等待发卡行应答', 'waiting for the issuer'),
  reversal: L('冲正', 'reversal'),
  standIn: L('代授权（STIP）', 'stand-in (STIP)'),
  routeState: L('路由状态', 'route state'),
  notSent: L('请求未能发出', 'request not sent'),
  maintenanceEndsAtMs: L('维护结束时间', 'maintenance ends at'),
  maintenanceNote: L('维护说明', 'maintenance note'),
  stipAmountMax: L('代授权单笔上限', 'stand-in limit per payment'),
  stipDailyAmountMax: L('代授权每日金额上限', 'stand-in daily amount limit'),
  stipDailyCountMax: L('代授权每日笔数上限', 'stand-in daily count limit'),
  stipUsedToday: L('今日已代授权金额', 'stand-in amount used today'),
  stipCountToday: L('今日已代授权笔数', 'stand-in payments today'),
}

const VALUE_LABELS: Readonly<Record<string, Localized>> = {
  pending_audit: L('待审核', 'pending audit'),
  approved: L('已批准', 'approved'),
  restricted: L('受限', 'restricted'),
  suspended: L('已暂停', 'suspended'),
  active: L('正常', 'active'),
  inactive: L('停用', 'inactive'),
  lost: L('已挂失', 'reported lost'),
  stolen: L('被盗', 'reported stolen'),
  debit: L('借记卡', 'debit'),
  credit: L('贷记卡', 'credit'),
  card: L('卡', 'card'),
  bin: L('卡BIN', 'BIN'),
  merchant: L('商户', 'merchant'),
  terminal: L('终端', 'terminal'),
  declined: L('已拒绝', 'declined'),
  held: L('冻结中', 'held'),
  posted: L('已入账', 'posted'),
  completed: L('已完成', 'completed'),
  voided: L('已撤销', 'voided'),
  reversed: L('已冲正', 'reversed'),
  expired: L('已过期', 'expired'),
  none: L('无', 'none'),
  local_ledger: L('本地账户（发卡处理模式）', 'local ledger (issuer-processor mode)'),
  rule: L('规则', 'a rule'),
  score: L('评分', 'the score'),
  allow_list: L('白名单', 'the allow list'),
  review_list: L('复核名单', 'the review list'),
  rule_error: L('规则执行出错（按配置处理）', 'a failing rule (configured fallback)'),
  maintenance: L('计划维护', 'scheduled maintenance'),
  circuit_open: L('熔断（连续超时或出错）', 'circuit open (repeated timeouts or errors)'),
  no_connection: L('未连通发卡行', 'no connection to the issuer'),
  queued: L('已排队，直至发卡行确认', 'queued until the issuer acknowledges'),
  allow: L('放行', 'allow'),
  block: L('拦截', 'block'),
  review: L('复核', 'review'),
  ...Object.fromEntries(Object.entries(KIND_LABELS)),
}

const APPROVAL_SUMMARY: Readonly<Record<TransactionKind, Localized>> = {
  purchase: L(
    '交易成功：款项已从持卡人账户扣除并记入收单清算账户。',
    'Approved: the amount was debited from the cardholder account and credited to the acquirer clearing account.',
  ),
  preauthorization: L(
    '预授权成功：金额已在持卡人账户冻结，待预授权完成时扣款；未完成的冻结到期自动释放。',
    'Approved: the amount is held on the cardholder account until the completion; an uncompleted hold is released when it expires.',
  ),
  completion: L(
    '预授权完成成功：已按完成金额扣款，其余冻结金额已释放。',
    'Approved: the completion amount was posted and the rest of the hold released.',
  ),
  void: L(
    '撤销成功：原交易已撤销，款项已退回持卡人账户（或冻结已释放）。',
    'Approved: the original was voided; the money is back on the cardholder account (or the hold released).',
  ),
  reversal: L(
    '冲正成功：原交易的资金影响已被撤回；同一笔交易只会冲正一次。',
    "Approved: the original transaction's effect was undone; a transaction is reversed only once.",
  ),
  refund: L(
    '退货成功：退货金额已退回持卡人账户。',
    'Approved: the refund was credited to the cardholder account.',
  ),
  balance_inquiry: L('余额查询成功。', 'Balance inquiry approved.'),
}

const RETRY_TEXT: Readonly<Record<RetryAdvice['kind'], Localized>> = {
  retry_now: L('可以立即重试。', 'You may retry now.'),
  retry_after: L('请在 {minutes} 分钟后重试。', 'Retry after {minutes} minutes.'),
  do_not_retry: L('请勿重试同一笔交易。', 'Do not retry the same transaction.'),
  reverse_first: L(
    '请先完成冲正，再重新发起交易。',
    'Reverse first, then start a new transaction.',
  ),
}

const MS_PER_DAY = 86_400_000

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}

/** `2026-11-26 14:03:05 UTC+08:00`, computed without a Date object. */
export function formatInstant(ms: number, offsetMinutes: number): string {
  assert(Number.isSafeInteger(ms), 'instant is an integer of milliseconds')
  const date = formatLocalDate(localDateOf(ms, offsetMinutes))
  const shifted = ms + offsetMinutes * 60_000
  const secondsOfDay = Math.floor((((shifted % MS_PER_DAY) + MS_PER_DAY) % MS_PER_DAY) / 1000)
  const hh = String(Math.floor(secondsOfDay / 3600)).padStart(2, '0')
  const mm = String(Math.floor((secondsOfDay % 3600) / 60)).padStart(2, '0')
  const ss = String(secondsOfDay % 60).padStart(2, '0')
  const sign = offsetMinutes < 0 ? '-' : '+'
  const offset = `${String(Math.floor(Math.abs(offsetMinutes) / 60)).padStart(2, '0')}:${String(Math.abs(offsetMinutes) % 60).padStart(2, '0')}`
  return `${date} ${hh}:${mm}:${ss} UTC${sign}${offset}`
}

export function formatEvidenceValue(
  key: string,
  value: EvidenceValue,
  lang: Lang,
  offsetMinutes: number,
): string {
  if (value === null) return lang === 'zh-CN' ? '无' : 'none'
  if (typeof value === 'boolean')
    return lang === 'zh-CN' ? (value ? '是' : '否') : value ? 'yes' : 'no'
  if (typeof value === 'number')
    return key.endsWith('AtMs') ? formatInstant(value, offsetMinutes) : String(value)
  if (typeof value === 'string') return VALUE_LABELS[value]?.[lang] ?? value
  const currency = findCurrency(value.currency)
  const exponent = currency?.exponent ?? 2
  return `${formatAmount(value.amountMinor, exponent)} ${value.currency}`
}

/** A rule's description is stored in both languages; an explanation shows the one asked for. */
const DESCRIPTION_KEYS: Readonly<Record<string, Lang>> = {
  ruleDescriptionZh: 'zh-CN',
  ruleDescriptionEn: 'en',
}

function evidenceLabel(key: string, lang: Lang): string {
  if (key.startsWith('f.')) {
    const feature = FEATURES_BY_NAME.get(key.slice(2))
    if (feature !== undefined) return `${feature.label[lang]} (${feature.name})`
  }
  if (key in DESCRIPTION_KEYS) return EVIDENCE_LABELS.ruleDescription?.[lang] ?? key
  return EVIDENCE_LABELS[key]?.[lang] ?? key
}

export function renderEvidence(
  evidence: Evidence,
  lang: Lang,
  offsetMinutes: number,
): Explanation['evidence'] {
  return Object.entries(evidence)
    .filter(([key]) => DESCRIPTION_KEYS[key] === undefined || DESCRIPTION_KEYS[key] === lang)
    .map(([key, value]) => ({
      key,
      label: evidenceLabel(key, lang),
      value: formatEvidenceValue(key, value, lang, offsetMinutes),
    }))
}

/**
 * Evidence only staff may see: which risk rule fired, its expression, score and feature values.
 * A merchant's or cardholder's explanation leaves it out (it would teach fraudsters the rules).
 */
const RISK_INTERNAL_KEYS: ReadonlySet<string> = new Set([
  'riskRuleId',
  'ruleVersion',
  'ruleName',
  'ruleAction',
  'expression',
  'ruleDescriptionZh',
  'ruleDescriptionEn',
  'decidedBy',
  'score',
  'rulesEvaluated',
  'ruleHits',
  'ruleErrors',
  'blockScore',
  'reviewScore',
  'shadowRules',
  'shadowHits',
  'shadowErrors',
])

export function isRiskInternal(key: string): boolean {
  return key.startsWith('f.') || RISK_INTERNAL_KEYS.has(key)
}

/**
 * The explanation for one audience. The operator sees everything; a merchant (a terminal, the
 * HTTP answer to an authorization) sees no risk-rule internals; a cardholder sees the title, the
 * code, what to do and the retry advice — no evidence, no checks.
 */
export function forAudience(explanation: Explanation, audience: Audience): Explanation {
  if (audience === 'operator') return explanation
  const evidence = explanation.evidence.filter((e) => !isRiskInternal(e.key))
  if (audience === 'merchant') return { ...explanation, evidence, risk: null }
  return {
    ...explanation,
    evidence: [],
    checks: [],
    risk: null,
    remediation:
      explanation.remediation === null
        ? null
        : { cardholder: explanation.remediation.cardholder, merchant: '', operator: '' },
  }
}

/** The risk stage's story in an explanation: what decided, the rule, the facts, shadow hits. */
function renderRisk(
  checks: readonly Check[],
  lang: Lang,
  offsetMinutes: number,
): Explanation['risk'] {
  const rules = checks.find((c) => c.stage === 'risk' && c.name === 'rules')
  const shadow = checks.find((c) => c.stage === 'risk' && c.name === 'shadow_rules')
  if (rules?.evidence === undefined && shadow?.evidence === undefined) return null
  return {
    status: rules?.status ?? 'skip',
    evidence: renderEvidence({ ...rules?.evidence, ...shadow?.evidence }, lang, offsetMinutes),
  }
}

function renderRetry(retry: RetryAdvice, lang: Lang): NonNullable<Explanation['retry']> {
  const text = RETRY_TEXT[retry.kind][lang]
  if (retry.kind === 'retry_after') {
    return {
      kind: retry.kind,
      minutes: retry.minutes,
      text: text.replace('{minutes}', String(retry.minutes)),
    }
  }
  return { kind: retry.kind, text }
}

function renderChecks(checks: readonly Check[], lang: Lang): Explanation['checks'] {
  return checks.map((check) => ({
    stage: check.stage,
    stageLabel: STAGE_LABELS[check.stage][lang],
    name: check.name,
    status: check.status,
    ...(check.reason === undefined ? {} : { reason: check.reason }),
  }))
}

/** Explains a reason with its evidence; used for stored declines and for rejected requests. */
export function explainReason(
  code: ReasonCode,
  outcome: 'declined' | 'rejected',
  evidence: Evidence,
  checks: readonly Check[],
  lang: Lang,
  offsetMinutes: number,
): Explanation {
  const entry = reasonEntry(code)
  return {
    lang,
    outcome,
    title: entry.title[lang],
    summary: entry.explanation[lang],
    responseCode: entry.isoCode,
    reason: {
      code,
      family: entry.family,
      familyLabel: FAMILY_LABELS[entry.family][lang],
      isoCode: entry.isoCode,
      cupCode: entry.cupCode,
    },
    evidence: renderEvidence(evidence, lang, offsetMinutes),
    remediation: {
      cardholder: entry.remediation.cardholder[lang],
      merchant: entry.remediation.merchant[lang],
      operator: entry.remediation.operator[lang],
    },
    retry: renderRetry(entry.retry, lang),
    checks: renderChecks(checks, lang),
    risk: renderRisk(checks, lang, offsetMinutes),
  }
}

/** An approval decided by a remote issuer, or in stand-in while it was unavailable. */
function remoteSummary(
  record: TransactionRecord,
  lang: Lang,
  standIn: boolean,
): { readonly summary: string } {
  const bank = typeof record.evidence.issuerBank === 'string' ? record.evidence.issuerBank : ''
  if (standIn) {
    return {
      summary:
        lang === 'zh-CN'
          ? `代授权（STIP）批准：发卡行${bank}暂时无法应答，本系统在代授权限额内批准了本笔交易，并会向发卡行发送通知（advice）直至其确认。持卡人账户由发卡行据此记账。`
          : `Approved in stand-in (STIP): the issuing bank ${bank} could not answer, so the switch approved within its stand-in limits and sends the bank an advice until it acknowledges; the bank books it on the cardholder's account from that advice.`,
    }
  }
  return {
    summary:
      lang === 'zh-CN'
        ? `发卡行${bank}批准了本笔交易；款项由发卡行从持卡人账户扣除，本系统记入该路由的清算往来。`
        : `Approved by the issuing bank ${bank}: the bank debits the cardholder's account, and the switch books the amount against the route's settlement account.`,
  }
}

/** Explains a stored transaction, approved or declined. */
export function explainTransaction(
  record: TransactionRecord,
  lang: Lang,
  offsetMinutes: number,
): Explanation {
  if (record.outcome === 'declined') {
    assert(record.reason !== null, `declined transaction ${record.id} has a reason`)
    return explainReason(
      record.reason,
      'declined',
      record.evidence,
      record.checks,
      lang,
      offsetMinutes,
    )
  }
  const standIn = record.evidence.standIn === true
  const remote = record.evidence.remote === true
  return {
    lang,
    outcome: 'approved',
    title:
      lang === 'zh-CN'
        ? `${KIND_LABELS[record.kind][lang]}成功`
        : capitalize(`${KIND_LABELS[record.kind][lang]} approved`),
    summary: APPROVAL_SUMMARY[record.kind][lang],
    ...(standIn || remote ? remoteSummary(record, lang, standIn) : {}),
    responseCode: record.responseCode,
    reason: null,
    evidence: renderEvidence(record.evidence, lang, offsetMinutes),
    remediation: null,
    retry: null,
    checks: renderChecks(record.checks, lang),
    risk: renderRisk(record.checks, lang, offsetMinutes),
  }
}
