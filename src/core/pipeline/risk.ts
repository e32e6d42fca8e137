import type {
  Card,
  CardType,
  Check,
  Evidence,
  EvidenceValue,
  Merchant,
  Terminal,
} from '../model.js'
import type { ReasonCode } from '../reasons/codes.js'
import { evaluateRules, type RiskOutcome, type RuleFailure, type RuleHit } from '../risk/engine.js'
import { gatherFeatures } from '../risk/feature-sources.js'
import { FEATURES_BY_NAME, type Features } from '../risk/features.js'
import type { CoreContext } from './context.js'
import { entryMatches } from './lists.js'
import type { LimitSubject } from './limits.js'
import type { ListSubject } from './lists.js'
import type { NewTransactionRequest } from './requests.js'
import type { Working } from './snapshot.js'

/** Feature values shown as evidence per rule: enough to see why, never the whole set. */
const EVIDENCE_FEATURES_MAX = 24

export interface RiskStageInput {
  readonly request: NewTransactionRequest
  readonly currency: string
  readonly merchant: Merchant
  readonly terminal: Terminal
  readonly card: Card | undefined
  readonly cardType: CardType
  readonly bin: string
  readonly issuerBank: string | null
  readonly limitSubject: LimitSubject
  readonly listSubject: ListSubject
}

export interface RiskStageResult {
  readonly checks: readonly Check[]
  readonly outcome: RiskOutcome
  readonly features: Features
  /** Set when the transaction is blocked: decline with this reason and evidence. */
  readonly block: { readonly reason: ReasonCode; readonly evidence: Evidence } | null
  /** The transaction is to be approved (if funds allow) and queued for review. */
  readonly review: boolean
}

/** The features of a new transaction, from the working state (this batch included). */
export function featuresFor(input: RiskStageInput, working: Working, ctx: CoreContext): Features {
  const { request } = input
  return gatherFeatures(
    {
      nowMs: ctx.nowMs,
      utcOffsetMinutes: ctx.settings.utcOffsetMinutes,
      kind: request.kind,
      channel: request.channel,
      amountMinor: request.amountMinor,
      currency: input.currency,
      entryMode: request.entryMode ?? 'unknown',
      reportedRegion: request.reportedRegion ?? null,
      cardType: input.cardType,
      bin: input.bin,
      issuerBank: input.issuerBank,
      cardOnFile: input.card !== undefined,
      cardFirstSeenMs: working.cardFirstSeen(request.cardToken),
      merchant: input.merchant,
      terminal: input.terminal,
      limitSubject: input.limitSubject,
      listSubject: input.listSubject,
    },
    working,
    working.ruleSet.features,
  )
}

function listFeatures(input: RiskStageInput, working: Working, ctx: CoreContext): Features {
  let review = false
  let allow = false
  for (const entry of working.listEntries) {
    if (entry.list === 'block' || !entryMatches(entry, input.listSubject, ctx.nowMs)) continue
    if (entry.list === 'review') review = true
    else allow = true
  }
  return { on_review_list: review, on_allow_list: allow }
}

function featureEvidence(
  names: Iterable<string>,
  features: Features,
  currency: string,
): Record<string, EvidenceValue> {
  const evidence: Record<string, EvidenceValue> = {}
  let n = 0
  for (const name of names) {
    if (n++ >= EVIDENCE_FEATURES_MAX) break
    const value = features[name]
    if (value === undefined) continue
    const money = FEATURES_BY_NAME.get(name)?.money === true && typeof value === 'number'
    evidence[`f.${name}`] = money ? { amountMinor: value, currency } : value
  }
  return evidence
}

/** What the risk stage did to a stored decision, read back from its checks (metrics, logs). */
export interface RiskSignals {
  readonly outcome: 'block' | 'review' | 'allow' | 'pass'
  readonly decidedBy: string | null
  readonly ruleErrors: string | null
  readonly shadowHits: string | null
  readonly shadowErrors: string | null
}

export function riskSignals(record: {
  readonly checks: readonly Check[]
  readonly outcome: string
}): RiskSignals | null {
  let rules: Check | undefined
  let shadow: Check | undefined
  for (const check of record.checks) {
    if (check.stage !== 'risk' || check.evidence === undefined) continue
    if (check.name === 'rules') rules = check
    else if (check.name === 'shadow_rules') shadow = check
  }
  if (rules === undefined && shadow === undefined) return null
  const text = (value: EvidenceValue | undefined): string | null =>
    typeof value === 'string' ? value : null
  const decidedBy = text(rules?.evidence?.decidedBy)
  const acted = decidedBy !== null && decidedBy !== 'none'
  return {
    outcome: !acted
      ? 'pass'
      : rules?.status === 'fail'
        ? 'block'
        : decidedBy === 'allow_list' || rules?.evidence?.ruleAction === 'allow'
          ? 'allow'
          : 'review',
    decidedBy: acted ? decidedBy : null,
    ruleErrors: text(rules?.evidence?.ruleErrors),
    shadowHits: text(shadow?.evidence?.shadowHits),
    shadowErrors: text(shadow?.evidence?.shadowErrors),
  }
}

const hitText = (h: RuleHit): string =>
  `${h.ruleId}@v${h.version} ${h.action}${h.action === 'score' ? ` +${h.score}` : ''}`
const failureText = (f: RuleFailure): string => `${f.ruleId}@v${f.version}: ${f.message}`

/**
 * Stage 7 (risk): computes the features, runs the rules, and turns the outcome into checks. The
 * deciding rule's id, version, expression, description and the feature values it read are kept
 * as the evidence; a cardholder's explanation never shows them (see explain.ts).
 */
export function checkRisk(
  input: RiskStageInput,
  working: Working,
  ctx: CoreContext,
): RiskStageResult {
  const ruleSet = working.ruleSet
  // No live rule: only the review and allow lists can act; nothing else is worth computing.
  const features =
    ruleSet.active.length === 0 && ruleSet.shadow.length === 0
      ? listFeatures(input, working, ctx)
      : featuresFor(input, working, ctx)
  const outcome = evaluateRules(ruleSet, features)
  const evidence: Record<string, EvidenceValue> = {
    decidedBy: outcome.decidedBy,
    score: outcome.score,
    rulesEvaluated: outcome.rulesEvaluated,
  }
  if (outcome.hits.length > 0) evidence.ruleHits = outcome.hits.map(hitText).join(', ')
  if (outcome.errors.length > 0) evidence.ruleErrors = outcome.errors.map(failureText).join('; ')
  const deciding = outcome.decidingRule
  const referenced = new Set<string>()
  if (deciding !== null) {
    const rule = deciding.rule
    evidence.riskRuleId = rule.id
    evidence.ruleVersion = rule.version
    evidence.ruleName = rule.name
    evidence.ruleAction = rule.action
    evidence.expression = rule.expression
    evidence.ruleDescriptionZh = rule.description['zh-CN']
    evidence.ruleDescriptionEn = rule.description.en
    for (const name of deciding.features) referenced.add(name)
  }
  if (outcome.decidedBy === 'score') {
    evidence.blockScore = ruleSet.settings.blockScore
    evidence.reviewScore = ruleSet.settings.reviewScore
    const byId = new Map(ruleSet.active.map((c) => [c.rule.id, c]))
    for (const hit of outcome.hits)
      for (const name of byId.get(hit.ruleId)?.features ?? []) referenced.add(name)
  }
  if (outcome.decidedBy === 'allow_list') referenced.add('on_allow_list')
  if (outcome.decidedBy === 'review_list') referenced.add('on_review_list')
  Object.assign(evidence, featureEvidence(referenced, features, input.currency))

  const blocked = outcome.decision === 'block'
  const reason = blocked ? (outcome.reason ?? 'suspected_fraud') : null
  // Nothing fired: no evidence to keep (this is the common case, and every row pays for it).
  const quiet =
    outcome.decidedBy === 'none' && outcome.hits.length === 0 && outcome.errors.length === 0
  const checks: Check[] = [
    blocked && reason !== null
      ? { stage: 'risk', name: 'rules', status: 'fail', reason, evidence }
      : quiet
        ? { stage: 'risk', name: 'rules', status: 'pass' }
        : { stage: 'risk', name: 'rules', status: 'pass', evidence },
  ]
  if (outcome.shadowHits.length > 0 || outcome.shadowErrors.length > 0) {
    const shadow: Record<string, EvidenceValue> = { shadowRules: ruleSet.shadow.length }
    if (outcome.shadowHits.length > 0)
      shadow.shadowHits = outcome.shadowHits.map(hitText).join(', ')
    if (outcome.shadowErrors.length > 0)
      shadow.shadowErrors = outcome.shadowErrors.map(failureText).join('; ')
    checks.push({ stage: 'risk', name: 'shadow_rules', status: 'skip', evidence: shadow })
  }
  return {
    checks,
    outcome,
    features,
    block: blocked && reason !== null ? { reason, evidence } : null,
    review: outcome.decision === 'review',
  }
}
