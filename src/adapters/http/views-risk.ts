import { referencedFeatures } from '../../core/risk/engine.js'
import type { FeatureDefinition } from '../../core/risk/features.js'
import type { ReviewItem } from '../../core/risk/review.js'
import type { RiskRule, RiskSettings } from '../../core/risk/rules.js'
import type { Lang } from '../../core/reasons/types.js'
import { money } from './views.js'

/** JSON views of risk control. A review shows the masked card and its token, never the number. */

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString())

export function ruleView(r: RiskRule) {
  return {
    id: r.id,
    version: r.version,
    status: r.status,
    name: r.name,
    expression: r.expression,
    features: referencedFeatures(r.expression),
    action: r.action,
    reason: r.reason,
    score: r.score,
    priority: r.priority,
    description: { 'zh-CN': r.description['zh-CN'], en: r.description.en },
    author: r.author,
    changeNote: r.changeNote,
    createdAt: iso(r.createdAtMs),
  }
}

export function settingsView(s: RiskSettings) {
  return {
    reviewScore: s.reviewScore,
    blockScore: s.blockScore,
    scoreBlockReason: s.scoreBlockReason,
    onRuleError: s.onRuleError,
  }
}

export function featureView(f: FeatureDefinition, lang: Lang) {
  return { name: f.name, type: f.type, group: f.group, money: f.money, label: f.label[lang] }
}

export function reviewView(item: ReviewItem) {
  return {
    transactionId: item.transactionId,
    status: item.status,
    decidedBy: item.decidedBy,
    ruleHits: item.ruleHits,
    score: item.score,
    card: item.cardMasked === null ? null : { masked: item.cardMasked, token: item.cardToken },
    merchantId: item.merchantId,
    terminalId: item.terminalId,
    amount: money(item.amountMinor, item.currency),
    currency: item.currency,
    claimedBy: item.claimedBy,
    claimedAt: iso(item.claimedAtMs),
    resolution: item.resolution,
    resolutionNote: item.resolutionNote,
    resolvedBy: item.resolvedBy,
    resolvedAt: iso(item.resolvedAtMs),
    createdAt: iso(item.createdAtMs),
  }
}
