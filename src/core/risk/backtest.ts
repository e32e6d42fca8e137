import { assert } from '../assert.js'
import type {
  Card,
  LimitRule,
  ListEntry,
  Merchant,
  Outcome,
  Terminal,
  TransactionRecord,
} from '../model.js'
import { STAGES } from '../model.js'
import type { ReasonCode } from '../reasons/codes.js'
import type { BinTable } from '../reference/bin-table.js'
import {
  compileRule,
  evaluateRules,
  ruleSetOf,
  type CompiledRule,
  type RiskDecision,
  type RuleSet,
} from './engine.js'
import { gatherFeatures } from './feature-sources.js'
import {
  RULES_LIVE_MAX,
  type RiskRule,
  type RiskSettings,
  type RuleAction,
  type RuleStatus,
} from './rules.js'
import {
  VELOCITY_KEYS_MAX_DEFAULT,
  VELOCITY_SPAN_MS,
  VelocityIndex,
  velocityEventOf,
  type VelocityEvent,
} from './velocity.js'

/**
 * Backtesting: replays stored purchases and preauthorizations of a period against a rule set
 * (drafts or any status, all treated as active in priority order) and reports what the set
 * would have done — hits per rule, would-block/review/allow counts, the overlap with what was
 * actually decided, the amounts, rule errors and sample transactions.
 *
 * The replayer is pure and incremental: the app feeds it the 24 hours before the period (velocity
 * events), then the period's records in time order, chunk by chunk, and reads the report at any
 * time. Each record gets the features the live risk stage would have computed at that instant:
 * velocity is evaluated BEFORE the record's own attempt is added, exactly as the live path does
 * (the record's event is recorded after its evaluation), with the same `VelocityIndex`.
 *
 * Records declined before the risk stage (validation, acceptance, limits, lists) never reached
 * the rules live, and no rule can change their outcome: they are replayed for velocity (they were
 * attempts) but not evaluated, and counted as `declinedBeforeRisk`.
 *
 * What cannot be replayed exactly is listed in `BACKTEST_APPROXIMATIONS` (and in every report).
 */

/** The most records one backtest replays; the rest of the period is left out (`truncated`). */
export const BACKTEST_TRANSACTIONS_MAX = 2_000_000
export const BACKTEST_SAMPLES_PER_RULE_MAX = 20
export const BACKTEST_SAMPLES_PER_RULE_DEFAULT = 10
/** The most rules one backtest runs: as many as may be live at once. */
export const BACKTEST_RULES_MAX = RULES_LIVE_MAX
/** Distinct currencies tracked per amount figure; more land in `other`. */
const CURRENCIES_PER_FIGURE_MAX = 32

export const BACKTEST_APPROXIMATIONS: readonly string[] = [
  'merchant, terminal and card are as they are now: risk tier, region, MCC, onboarding date, card on file',
  'lists (review and allow) and limits are as they are now; entries removed since are not seen',
  'BIN list entries are matched on the first 6 digits kept in the masked card number',
  'card first seen comes from the history replayed (24 hours before the period, then the period): a card seen earlier only looks newer',
  'entry mode and the region a terminal reported are replayed as stored with each transaction; transactions stored before schema version 6 replay them as unknown',
  'velocity counts only purchases and preauthorizations (as live); a card key evicted live (more keys than the bound) is counted here',
]

/** What actually happened to a replayed record, as far as risk is concerned. */
export const ACTUAL_OUTCOMES = ['approved', 'declined_by_risk', 'declined_after_risk'] as const
export type ActualOutcome = (typeof ACTUAL_OUTCOMES)[number]
export const WOULD_DECISIONS = [
  'block',
  'review',
  'allow',
  'pass',
] as const satisfies readonly RiskDecision[]

export interface BacktestSetup {
  readonly rules: readonly RiskRule[]
  readonly settings: RiskSettings
  readonly fromMs: number
  readonly toMs: number
  readonly utcOffsetMinutes: number
  readonly samplesPerRule: number
  /** Defaults to BACKTEST_TRANSACTIONS_MAX; smaller for tests. */
  readonly transactionsMax?: number
  readonly velocityKeysMax?: number
}

/** The entities and tables features read, as they are now; the app loads them per chunk. */
export interface ReplayEntities {
  readonly merchants: ReadonlyMap<string, Merchant>
  readonly terminals: ReadonlyMap<string, Terminal>
  /** Cards on file, by token (only those of the chunk are needed). */
  readonly cards: ReadonlyMap<string, Card>
  readonly limits: readonly LimitRule[]
  readonly listEntries: readonly ListEntry[]
  readonly bins: BinTable
}

/** One sample transaction: never a clear card number, only the masked form. */
export interface BacktestSample {
  readonly transactionId: string
  readonly createdAtMs: number
  readonly kind: string
  readonly cardMasked: string | null
  readonly merchantId: string
  readonly terminalId: string
  readonly amountMinor: number
  readonly currency: string
  readonly actualOutcome: Outcome
  readonly actualReason: ReasonCode | null
  readonly wouldDecision: RiskDecision
}

/** Minor units per currency, as decimal integer strings (sums may exceed 2^53). */
export type AmountsByCurrency = Readonly<Record<string, string>>

export interface BacktestRuleReport {
  readonly ruleId: string
  readonly version: number
  readonly status: RuleStatus
  readonly name: string
  readonly action: RuleAction
  readonly priority: number
  /** Evaluated records on which the rule was true (each rule run on its own, as shadow rules are). */
  readonly hits: number
  readonly hitAmounts: AmountsByCurrency
  /** Times the rule decided the set's outcome (first true allow or block, or first review). */
  readonly decided: number
  /** Hits on records the set would block / review. */
  readonly wouldBlock: number
  readonly wouldReview: number
  /** Hits on records that were actually declined (by risk or after it). */
  readonly alreadyDeclined: number
  /** Hits on records the set would block that were actually approved. */
  readonly newBlocks: number
  readonly errors: number
  readonly firstError: string | null
  readonly samples: readonly BacktestSample[]
}

export interface BacktestReport {
  readonly fromMs: number
  readonly toMs: number
  readonly settings: RiskSettings
  readonly transactions: {
    /** Records read (evaluated or not). */
    readonly replayed: number
    readonly evaluated: number
    readonly declinedBeforeRisk: number
    /** Records whose merchant or terminal no longer exists: replayed for velocity only. */
    readonly missingEntities: number
    /** The period held more than the bound; the report covers the first records only. */
    readonly truncated: boolean
    readonly lastAtMs: number | null
  }
  readonly decisions: Readonly<Record<(typeof WOULD_DECISIONS)[number], number>>
  /** Would-decision × actual outcome, over evaluated records. */
  readonly overlap: Readonly<
    Record<(typeof WOULD_DECISIONS)[number], Readonly<Record<ActualOutcome, number>>>
  >
  readonly summary: {
    /** Would block, and was declined anyway (by risk or after it). */
    readonly blockedAlreadyDeclined: number
    /** Would block, and was approved: the set's new blocks. */
    readonly newBlocks: number
    /** Declined by the risk stage, and the set would let it through (pass, allow or review). */
    readonly riskDeclinesReleased: number
    /** Would review, and was approved. */
    readonly newReviews: number
  }
  readonly amounts: {
    readonly replayed: AmountsByCurrency
    readonly wouldBlock: AmountsByCurrency
    readonly newBlocks: AmountsByCurrency
    readonly wouldReview: AmountsByCurrency
    readonly riskDeclinesReleased: AmountsByCurrency
  }
  readonly rules: readonly BacktestRuleReport[]
  readonly velocity: { readonly warmEvents: number; readonly keysEvicted: number }
  readonly approximations: readonly string[]
}

class Amounts {
  private readonly sums = new Map<string, bigint>()

  add(currency: string, amountMinor: number): void {
    const key =
      this.sums.has(currency) || this.sums.size < CURRENCIES_PER_FIGURE_MAX ? currency : 'other'
    this.sums.set(key, (this.sums.get(key) ?? 0n) + BigInt(amountMinor))
  }

  view(): AmountsByCurrency {
    const out: Record<string, string> = {}
    for (const key of [...this.sums.keys()].sort()) out[key] = String(this.sums.get(key))
    return out
  }
}

interface RuleTally {
  readonly compiled: CompiledRule
  hits: number
  readonly hitAmounts: Amounts
  decided: number
  wouldBlock: number
  wouldReview: number
  alreadyDeclined: number
  newBlocks: number
  errors: number
  firstError: string | null
  readonly samples: BacktestSample[]
}

const RISK_STAGE_INDEX = STAGES.indexOf('risk')

/**
 * What actually happened, or null when the record was declined before the risk stage. Rows
 * stored before risk control existed have no risk check; their decline stage still says.
 */
export function actualOutcomeOf(record: TransactionRecord): ActualOutcome | null {
  if (record.outcome === 'approved') return 'approved'
  const failed = record.checks.find((c) => c.status === 'fail')
  // A stored decline always names its failing check; without one, count it as decided later.
  if (failed === undefined) return 'declined_after_risk'
  const index = STAGES.indexOf(failed.stage)
  if (index < RISK_STAGE_INDEX) return null
  return index === RISK_STAGE_INDEX ? 'declined_by_risk' : 'declined_after_risk'
}

/** Compiles the rules as active ones (throws RuleCompileError for an invalid expression). */
export function backtestRuleSet(rules: readonly RiskRule[], settings: RiskSettings): RuleSet {
  assert(rules.length <= BACKTEST_RULES_MAX, `at most ${BACKTEST_RULES_MAX} rules per backtest`)
  const ids = new Set(rules.map((r) => r.id))
  assert(ids.size === rules.length, 'a backtest runs each rule once')
  const active = rules.map((rule) => compileRule({ ...rule, status: 'active' }))
  return ruleSetOf(active, [], settings, 0)
}

function sampleOf(record: TransactionRecord, wouldDecision: RiskDecision): BacktestSample {
  return {
    transactionId: record.id,
    createdAtMs: record.createdAtMs,
    kind: record.kind,
    cardMasked: record.cardMasked,
    merchantId: record.merchantId,
    terminalId: record.terminalId,
    amountMinor: record.amountMinor,
    currency: record.currency,
    actualOutcome: record.outcome,
    actualReason: record.reason,
    wouldDecision,
  }
}

/** The clear head of a masked card number (the first 6 digits). */
function maskedHead(masked: string): string {
  const star = masked.indexOf('*')
  return star < 0 ? masked : masked.slice(0, star)
}

export class BacktestReplayer {
  readonly ruleSet: RuleSet
  /** Every rule as a shadow rule: its own truth on every record, whatever decided before it. */
  private readonly independent: RuleSet
  private readonly velocity: VelocityIndex
  private readonly firstSeen = new Map<string, number>()
  private readonly tallies: RuleTally[]
  private readonly tallyById: Map<string, RuleTally>
  private readonly transactionsMax: number
  private readonly samplesPerRule: number
  private replayed = 0
  private evaluated = 0
  private declinedBeforeRisk = 0
  private missingEntities = 0
  private truncated = false
  private lastAtMs: number | null = null
  private lastId = ''
  private warmEvents = 0
  private warmDone = false
  private readonly decisions = { block: 0, review: 0, allow: 0, pass: 0 }
  private readonly overlap = Object.fromEntries(
    WOULD_DECISIONS.map((d) => [d, Object.fromEntries(ACTUAL_OUTCOMES.map((a) => [a, 0]))]),
  ) as Record<RiskDecision, Record<ActualOutcome, number>>
  private readonly summary = {
    blockedAlreadyDeclined: 0,
    newBlocks: 0,
    riskDeclinesReleased: 0,
    newReviews: 0,
  }
  private readonly amounts = {
    replayed: new Amounts(),
    wouldBlock: new Amounts(),
    newBlocks: new Amounts(),
    wouldReview: new Amounts(),
    riskDeclinesReleased: new Amounts(),
  }

  constructor(private readonly setup: BacktestSetup) {
    assert(
      Number.isSafeInteger(setup.fromMs) && Number.isSafeInteger(setup.toMs),
      'backtest period in integer milliseconds',
    )
    assert(setup.fromMs < setup.toMs, 'a backtest period ends after it starts')
    assert(
      Number.isSafeInteger(setup.samplesPerRule) &&
        setup.samplesPerRule >= 0 &&
        setup.samplesPerRule <= BACKTEST_SAMPLES_PER_RULE_MAX,
      `samples per rule within 0..${BACKTEST_SAMPLES_PER_RULE_MAX}`,
    )
    const max = setup.transactionsMax ?? BACKTEST_TRANSACTIONS_MAX
    assert(Number.isSafeInteger(max) && max > 0 && max <= BACKTEST_TRANSACTIONS_MAX, 'bound')
    this.transactionsMax = max
    this.samplesPerRule = setup.samplesPerRule
    this.ruleSet = backtestRuleSet(setup.rules, setup.settings)
    this.independent = { ...this.ruleSet, active: [], shadow: this.ruleSet.active }
    this.velocity = new VelocityIndex(setup.velocityKeysMax ?? VELOCITY_KEYS_MAX_DEFAULT)
    this.tallies = this.ruleSet.active.map((compiled) => ({
      compiled,
      hits: 0,
      hitAmounts: new Amounts(),
      decided: 0,
      wouldBlock: 0,
      wouldReview: 0,
      alreadyDeclined: 0,
      newBlocks: 0,
      errors: 0,
      firstError: null,
      samples: [],
    }))
    this.tallyById = new Map(this.tallies.map((t) => [t.compiled.rule.id, t]))
  }

  /** The window of history to feed `warm` with: the 24 hours before the period. */
  get warmWindow(): { readonly fromMs: number; readonly toMs: number } {
    return { fromMs: this.setup.fromMs - VELOCITY_SPAN_MS, toMs: this.setup.fromMs }
  }

  /** Whether the bound was reached: the app stops reading. */
  get full(): boolean {
    return this.truncated
  }

  get processed(): number {
    return this.replayed
  }

  /** Velocity events from before the period, oldest first; call before the first `replay`. */
  warm(events: readonly VelocityEvent[]): void {
    assert(!this.warmDone, 'warm before replaying')
    for (const event of events) this.warmOne(event)
  }

  /** One attempt of the day before the period (the store hands them one at a time). */
  warmOne(event: VelocityEvent): void {
    assert(!this.warmDone, 'warm before replaying')
    assert(event.atMs < this.setup.fromMs, 'warm-up events come before the period')
    this.velocity.record(event)
    if (!this.firstSeen.has(event.cardToken)) this.firstSeen.set(event.cardToken, event.atMs)
    this.warmEvents++
  }

  /**
   * Replays records of the period in time order (createdAtMs, then id), as `replayPage` gives
   * them. Returns how many were taken (fewer than given once the bound is reached).
   */
  replay(records: readonly TransactionRecord[], entities: ReplayEntities): number {
    this.warmDone = true
    let taken = 0
    for (const record of records) {
      if (this.replayed >= this.transactionsMax) {
        this.truncated = true
        break
      }
      this.replayOne(record, entities)
      taken++
    }
    if (this.lastAtMs !== null) this.velocity.sweep(this.lastAtMs)
    return taken
  }

  private replayOne(record: TransactionRecord, entities: ReplayEntities): void {
    const at = record.createdAtMs
    assert(at >= this.setup.fromMs && at < this.setup.toMs, `record ${record.id} in the period`)
    assert(
      this.lastAtMs === null ||
        at > this.lastAtMs ||
        (at === this.lastAtMs && record.id > this.lastId),
      'records replayed in time order',
    )
    assert(record.kind === 'purchase' || record.kind === 'preauthorization', 'new transactions')
    assert(record.cardToken !== null, 'replayed records carry a card token')
    this.lastAtMs = at
    this.lastId = record.id
    this.replayed++
    this.amounts.replayed.add(record.currency, record.amountMinor)

    const actual = actualOutcomeOf(record)
    const merchant = entities.merchants.get(record.merchantId)
    const terminal = entities.terminals.get(record.terminalId)
    if (actual === null) this.declinedBeforeRisk++
    else if (merchant === undefined || terminal === undefined) this.missingEntities++
    else this.evaluate(record, actual, merchant, terminal, entities)

    // After the evaluation, as the live path records an attempt when its row is stored.
    const event = velocityEventOf(record)
    assert(event !== null, 'a replayed record is a velocity event')
    this.velocity.record(event)
    if (!this.firstSeen.has(event.cardToken)) this.firstSeen.set(event.cardToken, at)
  }

  private evaluate(
    record: TransactionRecord,
    actual: ActualOutcome,
    merchant: Merchant,
    terminal: Terminal,
    entities: ReplayEntities,
  ): void {
    const cardToken = record.cardToken ?? ''
    const kind = record.kind === 'preauthorization' ? 'preauthorization' : 'purchase'
    const card = entities.cards.get(cardToken)
    const masked = record.cardMasked ?? ''
    const binInfo = card === undefined ? entities.bins.lookup(masked) : null
    const cardType = record.cardType ?? card?.type ?? binInfo?.cardType ?? 'debit'
    const features = gatherFeatures(
      {
        nowMs: record.createdAtMs,
        utcOffsetMinutes: this.setup.utcOffsetMinutes,
        kind,
        channel: record.channel,
        amountMinor: record.amountMinor,
        currency: record.currency,
        entryMode: record.entryMode ?? 'unknown',
        reportedRegion: record.reportedRegion,
        cardType,
        bin: card?.bin ?? binInfo?.bin ?? maskedHead(masked).slice(0, 6),
        issuerBank: card?.issuerBank ?? binInfo?.bankName ?? null,
        cardOnFile: card !== undefined,
        cardFirstSeenMs: this.firstSeen.get(cardToken) ?? null,
        merchant,
        terminal,
        limitSubject: {
          cardToken,
          merchantId: merchant.id,
          terminalId: terminal.id,
          cardType,
          mcc: merchant.mcc,
          currency: record.currency,
          amountMinor: record.amountMinor,
          localDate: record.localDate,
        },
        // The masked number keeps the BIN's first 6 digits: BIN entries match on those.
        listSubject: { cardToken, pan: masked, merchantId: merchant.id, terminalId: terminal.id },
      },
      { velocity: this.velocity, limits: entities.limits, listEntries: entities.listEntries },
      this.ruleSet.features,
    )
    const outcome = evaluateRules(this.ruleSet, features)
    const truth = evaluateRules(this.independent, features)
    const would = outcome.decision
    this.evaluated++
    this.decisions[would]++
    this.overlap[would][actual]++
    this.tallyOutcome(record, actual, would)

    const decidingId = outcome.decidingRule?.rule.id ?? null
    if (decidingId !== null) {
      const tally = this.tallyById.get(decidingId)
      assert(tally !== undefined, 'the deciding rule is one of the backtest')
      tally.decided++
    }
    for (const hit of truth.shadowHits) {
      const tally = this.tallyById.get(hit.ruleId)
      assert(tally !== undefined, 'a hit of a backtest rule')
      tally.hits++
      tally.hitAmounts.add(record.currency, record.amountMinor)
      if (would === 'block') tally.wouldBlock++
      if (would === 'review') tally.wouldReview++
      if (actual !== 'approved') tally.alreadyDeclined++
      if (would === 'block' && actual === 'approved') tally.newBlocks++
      if (tally.samples.length < this.samplesPerRule) tally.samples.push(sampleOf(record, would))
    }
    for (const failure of truth.shadowErrors) {
      const tally = this.tallyById.get(failure.ruleId)
      assert(tally !== undefined, 'an error of a backtest rule')
      tally.errors++
      tally.firstError ??= failure.message
    }
  }

  private tallyOutcome(
    record: TransactionRecord,
    actual: ActualOutcome,
    would: RiskDecision,
  ): void {
    const { currency, amountMinor } = record
    if (would === 'block') {
      this.amounts.wouldBlock.add(currency, amountMinor)
      if (actual === 'approved') {
        this.summary.newBlocks++
        this.amounts.newBlocks.add(currency, amountMinor)
      } else this.summary.blockedAlreadyDeclined++
    } else if (actual === 'declined_by_risk') {
      this.summary.riskDeclinesReleased++
      this.amounts.riskDeclinesReleased.add(currency, amountMinor)
    }
    if (would === 'review') {
      this.amounts.wouldReview.add(currency, amountMinor)
      if (actual === 'approved') this.summary.newReviews++
    }
  }

  /** The report so far (complete once the last chunk was replayed). Deterministic. */
  report(): BacktestReport {
    const rules = this.tallies.map((t): BacktestRuleReport => ({
      ruleId: t.compiled.rule.id,
      version: t.compiled.rule.version,
      status: this.statusOf(t.compiled.rule.id),
      name: t.compiled.rule.name,
      action: t.compiled.rule.action,
      priority: t.compiled.rule.priority,
      hits: t.hits,
      hitAmounts: t.hitAmounts.view(),
      decided: t.decided,
      wouldBlock: t.wouldBlock,
      wouldReview: t.wouldReview,
      alreadyDeclined: t.alreadyDeclined,
      newBlocks: t.newBlocks,
      errors: t.errors,
      firstError: t.firstError,
      samples: [...t.samples],
    }))
    const decided = WOULD_DECISIONS.reduce((sum, d) => sum + this.decisions[d], 0)
    assert(decided === this.evaluated, 'every evaluated record has one would-decision')
    assert(
      this.evaluated + this.declinedBeforeRisk + this.missingEntities === this.replayed,
      'every replayed record is evaluated or counted as skipped',
    )
    return {
      fromMs: this.setup.fromMs,
      toMs: this.setup.toMs,
      settings: this.setup.settings,
      transactions: {
        replayed: this.replayed,
        evaluated: this.evaluated,
        declinedBeforeRisk: this.declinedBeforeRisk,
        missingEntities: this.missingEntities,
        truncated: this.truncated,
        lastAtMs: this.lastAtMs,
      },
      decisions: { ...this.decisions },
      overlap: Object.fromEntries(
        WOULD_DECISIONS.map((d) => [d, { ...this.overlap[d] }]),
      ) as BacktestReport['overlap'],
      summary: { ...this.summary },
      amounts: {
        replayed: this.amounts.replayed.view(),
        wouldBlock: this.amounts.wouldBlock.view(),
        newBlocks: this.amounts.newBlocks.view(),
        wouldReview: this.amounts.wouldReview.view(),
        riskDeclinesReleased: this.amounts.riskDeclinesReleased.view(),
      },
      rules,
      velocity: { warmEvents: this.warmEvents, keysEvicted: this.velocity.evicted },
      approximations: BACKTEST_APPROXIMATIONS,
    }
  }

  private statusOf(id: string): RuleStatus {
    const rule = this.setup.rules.find((r) => r.id === id)
    assert(rule !== undefined, 'a rule of the backtest')
    return rule.status
  }
}

assert(BACKTEST_SAMPLES_PER_RULE_DEFAULT <= BACKTEST_SAMPLES_PER_RULE_MAX, 'default within max')
