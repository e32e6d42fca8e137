import type {
  CardType,
  Channel,
  LimitRule,
  ListEntry,
  Merchant,
  NewTransactionKind,
  Terminal,
} from '../model.js'
import { applicableRules, type LimitSubject } from '../pipeline/limits.js'
import { entryMatches, type ListSubject } from '../pipeline/lists.js'
import { computeFeatures, type EntryMode, type Features } from './features.js'
import { type VelocityFigures, type VelocityScope, type VelocitySubject } from './velocity.js'

/**
 * Where a transaction's features come from, gathered the same way by the live risk stage
 * (`pipeline/risk.ts`, from the batch's working state) and by a backtest (`backtest.ts`, from
 * the replayed history): velocity before the transaction, the lists and limits that apply.
 */

/** Velocity figures of a key at an instant: a `VelocityIndex` or a batch's `VelocityView`. */
export interface VelocitySource {
  figures(scope: VelocityScope, subject: VelocitySubject, nowMs: number): VelocityFigures
}

export interface FeatureSources {
  readonly velocity: VelocitySource
  readonly limits: readonly LimitRule[]
  readonly listEntries: readonly ListEntry[]
}

/** The transaction the features describe, with what is known of its card, merchant, terminal. */
export interface FeatureSubject {
  readonly nowMs: number
  readonly utcOffsetMinutes: number
  readonly kind: NewTransactionKind
  readonly channel: Channel
  readonly amountMinor: number
  readonly currency: string
  readonly entryMode: EntryMode
  readonly reportedRegion: string | null
  readonly cardType: CardType
  readonly bin: string
  readonly issuerBank: string | null
  readonly cardOnFile: boolean
  /** When the card was first seen before this transaction; null: never. */
  readonly cardFirstSeenMs: number | null
  readonly merchant: Merchant
  readonly terminal: Terminal
  readonly limitSubject: LimitSubject
  readonly listSubject: ListSubject
}

/** The smallest per-transaction limit among the limit rules that apply, or null. */
export function smallestPerTransactionLimit(
  limits: readonly LimitRule[],
  subject: LimitSubject,
): number | null {
  let smallest: number | null = null
  for (const rule of applicableRules(limits, subject)) {
    const max = rule.perTransactionMaxMinor
    if (max !== null && (smallest === null || max < smallest)) smallest = max
  }
  return smallest
}

/**
 * The features of one transaction from its subject and sources. Pure. `needed`: the features
 * the rules read (velocity is computed only for their scopes); all when undefined.
 */
export function gatherFeatures(
  subject: FeatureSubject,
  sources: FeatureSources,
  needed?: ReadonlySet<string>,
): Features {
  const { nowMs, listSubject } = subject
  const live = sources.listEntries.filter((e) => entryMatches(e, listSubject, nowMs))
  return computeFeatures(
    {
      nowMs,
      utcOffsetMinutes: subject.utcOffsetMinutes,
      kind: subject.kind,
      channel: subject.channel,
      amountMinor: subject.amountMinor,
      currency: subject.currency,
      entryMode: subject.entryMode,
      reportedRegion: subject.reportedRegion,
      perTransactionLimitMinor: smallestPerTransactionLimit(sources.limits, subject.limitSubject),
      cardType: subject.cardType,
      bin: subject.bin,
      issuerBank: subject.issuerBank,
      cardOnFile: subject.cardOnFile,
      cardFirstSeenMs: subject.cardFirstSeenMs,
      merchant: subject.merchant,
      terminal: subject.terminal,
      velocity: (scope: VelocityScope) => sources.velocity.figures(scope, listSubject, nowMs),
      onReviewList: live.some((e) => e.list === 'review'),
      onAllowList: live.some((e) => e.list === 'allow'),
    },
    needed,
  )
}
