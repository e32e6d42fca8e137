/**
 * Risk-control benchmark: the cost, per transaction, of the pipeline's risk stage — computing
 * the features (velocity from a warmed, production-bounded VelocityIndex, lists, limits, the
 * transaction's own fields) and evaluating the active rules (CEL, compiled once) — and the same
 * rules in `json-rules-engine` as a baseline.
 *
 * One thread, no I/O while measuring. A seeded fleet (50,000 cards, 2,000 merchants, 5,000
 * terminals) makes a day of history (300,000 attempts) that fills the index as the batch worker
 * does at start; then batches of purchases are decided as the worker decides them: one
 * VelocityView per batch (so later requests see earlier ones), the batch's events folded into
 * the index after it, and a sweep. Every transaction is timed with process.hrtime.bigint().
 *
 * The traffic is replayed twice from the same seed, once per engine, so both see identical
 * features; the benchmark checks that they do, and that both engines fire the same rules on
 * every measured transaction (a mismatch is a bug in the translation of the rules).
 *
 * Usage: npm run bench:risk -- [--transactions 20000] [--rules 100] [--seed 1] [--json]
 */
import { Engine, type TopLevelCondition } from 'json-rules-engine'
import { createRandomIds } from '../src/adapters/ids/random-ids.js'
import {
  loadReferenceData,
  REFERENCE_DIR_DEFAULT,
} from '../src/adapters/reference/load-reference.js'
import { contextFactory } from '../src/app/executors.js'
import { formatLocalDate, localDateOf } from '../src/core/calendar.js'
import type { LimitRule, ListEntry } from '../src/core/model.js'
import type { CoreContext } from '../src/core/pipeline/context.js'
import type { NewTransactionRequest } from '../src/core/pipeline/requests.js'
import { featuresFor, type RiskStageInput } from '../src/core/pipeline/risk.js'
import { emptySnapshot, Working } from '../src/core/pipeline/snapshot.js'
import { celContext, compileRuleSet, evaluateRules, type RuleSet } from '../src/core/risk/engine.js'
import type { Features } from '../src/core/risk/features.js'
import { DEFAULT_RISK_SETTINGS, RULES_LIVE_MAX, type RuleAction } from '../src/core/risk/rules.js'
import {
  isRoundAmount,
  VELOCITY_KEYS_MAX_DEFAULT,
  VelocityIndex,
  VelocityView,
  type VelocityEvent,
} from '../src/core/risk/velocity.js'
import { exitOnFailure, integerOption, readOptions, type OptionValues } from './support/args.js'
import { loadAverage1m, machineAround } from './support/cpu.js'
import { progressLog, rowOf } from './support/report.js'
import { celOf, generateRules, jreTopOf, riskRuleOf, type BenchRule } from './support/risk-rules.js'
import { buildFleet, TrafficStream, type Attempt, type Fleet } from './support/risk-traffic.js'
import { percentile, round } from './support/stats.js'

const TRANSACTIONS_DEFAULT = 10_000
const TRANSACTIONS_MAX = 100_000
const RULES_DEFAULT = 100
const SEED_DEFAULT = 1
const FLEET_SIZE = { cards: 50_000, merchants: 2_000, terminals: 5_000 }
/** Attempts in the 24 hours before the first measured batch (the index's history). */
const HISTORY_EVENTS = 300_000
/** Requests decided together (one VelocityView, one nowMs), as the worker's batches. */
const BATCH_SIZE = 32
/** Transactions decided before measuring, in each pass (JIT, caches). */
const WARMUP_TRANSACTIONS = 5_000
/** Of those, the last ones also run json-rules-engine (it is slow: its warm-up is shorter). */
const JRE_WARMUP_TRANSACTIONS = 2_000
/** 2026-11-26 10:00 in Shanghai: the end of the history, the start of measured traffic. */
const T0_MS = Date.UTC(2026, 10, 26, 2, 0, 0)
const UTC_OFFSET_MINUTES = 480
const DAY_MS = 86_400_000
const AIM_MEDIAN_US = 50
const MISMATCH_EXAMPLES_MAX = 5

const USAGE = `npm run bench:risk -- [options]
  --transactions <n>  measured transactions per engine (default ${TRANSACTIONS_DEFAULT}, after ${WARMUP_TRANSACTIONS} of warm-up)
  --rules <n>         active rules (default ${RULES_DEFAULT}, at most ${RULES_LIVE_MAX})
  --seed <n>          seed of the fleet, the traffic and the rules (default ${SEED_DEFAULT})
  --json              print the result as JSON on stdout (progress goes to stderr)
  --help              this text
`

interface Settings {
  readonly transactions: number
  readonly rules: number
  readonly seed: number
  readonly json: boolean
}

function settingsOf(values: OptionValues): Settings {
  return {
    transactions: integerOption(values, 'transactions', TRANSACTIONS_DEFAULT, TRANSACTIONS_MAX),
    rules: integerOption(values, 'rules', RULES_DEFAULT, RULES_LIVE_MAX),
    seed: integerOption(values, 'seed', SEED_DEFAULT, 2 ** 31 - 1, 0),
    json: values.json === true,
  }
}

// ---------------------------------------------------------------------------------------------
// Lists and limits: what a snapshot carries into the risk stage.

function listEntriesOf(fleet: Fleet, seed: number): ListEntry[] {
  const entries: ListEntry[] = []
  const add = (list: ListEntry['list'], kind: ListEntry['kind'], value: string): void => {
    const id = `le_${entries.length + 1}`
    entries.push({
      id,
      list,
      kind,
      value,
      display: value,
      note: 'bench',
      expiresAtMs: null,
      createdBy: 'bench',
      createdAtMs: T0_MS - DAY_MS,
    })
  }
  // Spread over the fleet by a stride: a few of them are used by the traffic.
  const stride = 997 + (seed % 7)
  for (let i = 0; i < 40; i++) {
    const card = fleet.cards[(i * stride) % fleet.cards.length]
    if (card !== undefined) add(i < 25 ? 'review' : i < 35 ? 'allow' : 'block', 'card', card.token)
  }
  for (let i = 0; i < 10; i++) {
    const terminal = fleet.terminals[(i * stride + 13) % fleet.terminals.length]
    if (terminal !== undefined) add('review', 'terminal', terminal.id)
  }
  const merchant = fleet.merchants[fleet.merchants.length - 1]
  if (merchant !== undefined) add('review', 'merchant', merchant.id)
  return entries
}

function limitRulesOf(fleet: Fleet): LimitRule[] {
  const base = { createdAtMs: T0_MS - DAY_MS, updatedAtMs: T0_MS - DAY_MS, note: 'bench' }
  const rule = (id: string, parts: Partial<LimitRule>): LimitRule => ({
    id,
    scope: 'card',
    cardType: null,
    mcc: null,
    entityId: null,
    currency: 'CNY',
    perTransactionMaxMinor: null,
    dailyAmountMaxMinor: null,
    dailyCountMax: null,
    ...base,
    ...parts,
  })
  const rules = [
    rule('lim_debit', { cardType: 'debit', perTransactionMaxMinor: 5_000_000 }),
    rule('lim_credit', { cardType: 'credit', dailyAmountMaxMinor: 1_000_000, dailyCountMax: 30 }),
    rule('lim_gambling', { scope: 'merchant', mcc: '7995', perTransactionMaxMinor: 200_000 }),
    rule('lim_transfer', { scope: 'merchant', mcc: '4829', perTransactionMaxMinor: 500_000 }),
  ]
  for (let i = 0; i < 6; i++) {
    const m = fleet.merchants[i * 37]
    if (m !== undefined)
      rules.push(
        rule(`lim_m${i}`, { scope: 'merchant', entityId: m.id, perTransactionMaxMinor: 200_000 }),
      )
  }
  return rules
}

// ---------------------------------------------------------------------------------------------
// Traffic replay: history into the index, then batches as the worker decides them.

interface Tx {
  readonly input: RiskStageInput
  readonly event: VelocityEvent
}

interface Batch {
  readonly ctx: CoreContext
  readonly working: Working
  readonly view: VelocityView
  readonly txs: readonly Tx[]
}

class Replay {
  readonly index = new VelocityIndex(VELOCITY_KEYS_MAX_DEFAULT)
  private readonly stream: TrafficStream
  private readonly stepMs = DAY_MS / HISTORY_EVENTS
  private readonly listsByValue = new Map<string, ListEntry[]>()
  private batches = 0
  private serial = 0

  constructor(
    private readonly fleet: Fleet,
    seed: number,
    private readonly ruleSet: RuleSet,
    private readonly limits: readonly LimitRule[],
    lists: readonly ListEntry[],
    private readonly makeContext: (nowMs: number) => CoreContext,
  ) {
    this.stream = new TrafficStream(fleet, seed)
    for (const entry of lists) {
      const list = this.listsByValue.get(entry.value) ?? []
      list.push(entry)
      this.listsByValue.set(entry.value, list)
    }
    // The day before T0, in time order, as loadVelocity replays the stored transactions.
    const start = T0_MS - DAY_MS
    for (let i = 0; i < HISTORY_EVENTS; i++) {
      const attempt = this.stream.next()
      this.index.record(eventOf(attempt, Math.floor(start + i * this.stepMs)))
    }
    this.index.sweep(T0_MS)
  }

  nextBatch(): Batch {
    this.batches++
    const nowMs = Math.floor(T0_MS + this.batches * BATCH_SIZE * this.stepMs)
    const ctx = this.makeContext(nowMs)
    const localDate = formatLocalDate(localDateOf(nowMs, UTC_OFFSET_MINUTES))
    const attempts: Attempt[] = []
    for (let i = 0; i < BATCH_SIZE; i++) attempts.push(this.stream.next())
    // The snapshot's list entries are those matching the batch (the store loads only those).
    const entries = new Set<ListEntry>()
    for (const a of attempts) {
      for (const value of [a.card.token, a.card.bin, a.merchant.id, a.terminal.id])
        for (const e of this.listsByValue.get(value) ?? []) entries.add(e)
    }
    const snapshot = emptySnapshot({
      merchants: this.fleet.merchantMap,
      terminals: this.fleet.terminalMap,
      cards: this.fleet.cardsOnFile,
      limits: this.limits,
      listEntries: [...entries],
      ruleSet: this.ruleSet,
      cardFirstSeen: this.fleet.firstSeen,
    })
    const view = new VelocityView(this.index)
    const working = new Working(snapshot, view)
    const txs = attempts.map((a) => ({
      input: this.inputOf(a, localDate),
      event: eventOf(a, nowMs),
    }))
    return { ctx, working, view, txs }
  }

  /** After the batch's commit: its events into the index, and the worker's sweep. */
  afterBatch(batch: Batch): void {
    batch.view.commit()
    this.index.sweep(batch.ctx.nowMs)
  }

  private inputOf(a: Attempt, localDate: string): RiskStageInput {
    this.serial++
    // A synthetic number: only its BIN prefix is read (BIN list entries).
    const pan = `${a.card.bin}${String(this.serial % 1e10).padStart(10, '0')}`
    const request: NewTransactionRequest = {
      type: 'new',
      kind: a.kind,
      channel: a.channel,
      terminalId: a.terminal.id,
      merchantId: a.merchant.id,
      stan: String(this.serial % 1e6).padStart(6, '0'),
      transmissionTime: null,
      card: { pan, expiry: '3012' },
      cardToken: a.card.token,
      amountMinor: a.amountMinor,
      currency: 'CNY',
      idempotencyKey: null,
      entryMode: a.entryMode,
      reportedRegion: a.reportedRegion,
    }
    const subject = {
      cardToken: a.card.token,
      merchantId: a.merchant.id,
      terminalId: a.terminal.id,
    }
    return {
      request,
      currency: 'CNY',
      merchant: a.merchant,
      terminal: a.terminal,
      card: a.card.record,
      cardType: a.card.type,
      bin: a.card.bin,
      issuerBank: a.card.issuer,
      limitSubject: {
        ...subject,
        cardType: a.card.type,
        mcc: a.merchant.mcc,
        currency: 'CNY',
        amountMinor: a.amountMinor,
        localDate,
      },
      listSubject: { ...subject, pan },
    }
  }
}

function eventOf(a: Attempt, atMs: number): VelocityEvent {
  return {
    atMs,
    cardToken: a.card.token,
    merchantId: a.merchant.id,
    terminalId: a.terminal.id,
    amountMinor: a.amountMinor,
    declined: a.declined,
    pinDeclined: a.pinDeclined,
    round: isRoundAmount(a.amountMinor, 'CNY'),
  }
}

// ---------------------------------------------------------------------------------------------
// Figures

interface Distribution {
  readonly medianUs: number
  readonly p90Us: number
  readonly p99Us: number
  readonly maxUs: number
  readonly meanUs: number
}

function distribution(samples: Float64Array): Distribution {
  const sorted = Float64Array.from(samples).sort()
  let sum = 0
  for (const v of samples) sum += v
  return {
    medianUs: round(percentile(sorted, 50)),
    p90Us: round(percentile(sorted, 90)),
    p99Us: round(percentile(sorted, 99)),
    maxUs: round(sorted[sorted.length - 1] ?? 0),
    meanUs: round(samples.length === 0 ? 0 : sum / samples.length),
  }
}

const sumOf = (samples: Float64Array): number => samples.reduce((s, v) => s + v, 0)
const US_PER_NS = 1e-3

// ---------------------------------------------------------------------------------------------
// Pass 1: Tollgate (features + evaluateRules), plus the per-rule truth for the agreement check.

interface TollgatePass {
  readonly featuresUs: Float64Array
  readonly rulesUs: Float64Array
  readonly totalUs: Float64Array
  /** Untimed breakdown of the rules figure: building the CEL activation, running every rule. */
  readonly contextUs: Float64Array
  readonly allRulesUs: Float64Array
  /** Per transaction, per rule (in id order): 1 when the rule is true. */
  readonly fired: Uint8Array
  readonly features: Features[]
  readonly rulesEvaluated: number
  readonly decisions: Record<string, number>
  readonly hitsByAction: Record<RuleAction, number>
  readonly ruleErrors: number
  /** Transactions where evaluateRules's hits differ from the rules' own results. */
  readonly inconsistentHits: number
  readonly indexKeys: number
  readonly indexEvicted: number
  readonly wallS: number
}

function runTollgate(
  replay: Replay,
  ruleSet: RuleSet,
  ruleOrder: ReadonlyMap<string, number>,
  transactions: number,
): TollgatePass {
  const n = ruleOrder.size
  const featuresUs = new Float64Array(transactions)
  const rulesUs = new Float64Array(transactions)
  const totalUs = new Float64Array(transactions)
  const contextUs = new Float64Array(transactions)
  const allRulesUs = new Float64Array(transactions)
  const fired = new Uint8Array(transactions * n)
  const features: Features[] = []
  const decisions: Record<string, number> = {}
  const hitsByAction: Record<RuleAction, number> = { allow: 0, block: 0, review: 0, score: 0 }
  const active = ruleSet.active
  const position = active.map((c) => ruleOrder.get(c.rule.id) ?? -1)
  let evaluated = 0
  let ruleErrors = 0
  let inconsistentHits = 0
  let done = -WARMUP_TRANSACTIONS
  const started = process.hrtime.bigint()
  while (done < transactions) {
    const batch = replay.nextBatch()
    for (const tx of batch.txs) {
      const t0 = process.hrtime.bigint()
      const f = featuresFor(tx.input, batch.working, batch.ctx)
      const t1 = process.hrtime.bigint()
      const outcome = evaluateRules(ruleSet, f)
      const t2 = process.hrtime.bigint()
      batch.view.record(tx.event)
      if (done >= 0 && done < transactions) {
        const k = done
        featuresUs[k] = Number(t1 - t0) * US_PER_NS
        rulesUs[k] = Number(t2 - t1) * US_PER_NS
        totalUs[k] = Number(t2 - t0) * US_PER_NS
        features.push(f)
        evaluated += outcome.rulesEvaluated
        ruleErrors += outcome.errors.length
        decisions[outcome.decision] = (decisions[outcome.decision] ?? 0) + 1
        for (const hit of outcome.hits) hitsByAction[hit.action]++
        // Untimed by the headline: every rule on its own, for the agreement check and the
        // breakdown of the rules figure.
        const c0 = process.hrtime.bigint()
        const context = celContext(f)
        const c1 = process.hrtime.bigint()
        const results = active.map((c) => {
          try {
            return c.run(context) === true
          } catch {
            return false
          }
        })
        const c2 = process.hrtime.bigint()
        contextUs[k] = Number(c1 - c0) * US_PER_NS
        allRulesUs[k] = Number(c2 - c1) * US_PER_NS
        results.forEach((r, i) => {
          if (r) fired[k * n + (position[i] ?? 0)] = 1
        })
        const expected = active
          .slice(0, outcome.rulesEvaluated)
          .filter((_, i) => results[i] === true)
          .map((c) => c.rule.id)
          .join(',')
        if (expected !== outcome.hits.map((h) => h.ruleId).join(',')) inconsistentHits++
      }
      done++
    }
    replay.afterBatch(batch)
  }
  return {
    featuresUs,
    rulesUs,
    totalUs,
    contextUs,
    allRulesUs,
    fired,
    features,
    rulesEvaluated: evaluated / transactions,
    decisions,
    hitsByAction,
    ruleErrors,
    inconsistentHits,
    indexKeys: replay.index.size,
    indexEvicted: replay.index.evicted,
    wallS: Number(process.hrtime.bigint() - started) / 1e9,
  }
}

// ---------------------------------------------------------------------------------------------
// Pass 2: json-rules-engine on the same traffic (a fresh index from the same history).

interface JrePass {
  /** Features computed (the same featuresFor) + `await engine.run(facts)`. */
  readonly totalUs: Float64Array
  /** `await engine.run(facts)` alone, the facts object already built. */
  readonly runUs: Float64Array
  readonly featureDifferences: number
  readonly mismatchedTransactions: number
  readonly mismatchedRuleResults: number
  readonly examples: string[]
  readonly wallS: number
}

function jreEngine(rules: readonly BenchRule[]): Engine {
  const engine = new Engine([], { allowUndefinedFacts: false })
  for (const rule of rules) {
    engine.addRule({
      name: rule.id,
      // The same description rendered as json-rules-engine's JSON conditions.
      conditions: jreTopOf(rule.condition) as unknown as TopLevelCondition,
      event: { type: rule.action, params: { ruleId: rule.id, score: rule.score } },
    })
  }
  return engine
}

function sameFeatures(a: Features, b: Features | undefined): boolean {
  if (b === undefined) return false
  const keys = Object.keys(a)
  if (keys.length !== Object.keys(b).length) return false
  return keys.every((key) => a[key] === b[key])
}

async function runJre(
  replay: Replay,
  engine: Engine,
  rules: readonly BenchRule[],
  ruleOrder: ReadonlyMap<string, number>,
  tollgate: TollgatePass,
  transactions: number,
): Promise<JrePass> {
  const n = ruleOrder.size
  const totalUs = new Float64Array(transactions)
  const runUs = new Float64Array(transactions)
  const examples: string[] = []
  let featureDifferences = 0
  let mismatchedTransactions = 0
  let mismatchedRuleResults = 0
  let done = -WARMUP_TRANSACTIONS
  const started = process.hrtime.bigint()
  while (done < transactions) {
    const batch = replay.nextBatch()
    for (const tx of batch.txs) {
      if (done < -JRE_WARMUP_TRANSACTIONS) {
        // The same traffic as the Tollgate pass, so that the index stays identical.
        batch.view.record(tx.event)
        done++
        continue
      }
      const t0 = process.hrtime.bigint()
      const facts = featuresFor(tx.input, batch.working, batch.ctx)
      const t1 = process.hrtime.bigint()
      const result = await engine.run(facts)
      const t2 = process.hrtime.bigint()
      batch.view.record(tx.event)
      if (done >= 0 && done < transactions) {
        const k = done
        totalUs[k] = Number(t2 - t0) * US_PER_NS
        runUs[k] = Number(t2 - t1) * US_PER_NS
        if (!sameFeatures(facts, tollgate.features[k])) featureDifferences++
        const mine = new Uint8Array(n)
        for (const r of result.results) {
          const at = ruleOrder.get(r.name)
          if (at !== undefined) mine[at] = 1
        }
        let differs = 0
        for (let i = 0; i < n; i++) {
          if (mine[i] === tollgate.fired[k * n + i]) continue
          differs++
          const rule = rules[i]
          if (examples.length < MISMATCH_EXAMPLES_MAX && rule !== undefined) {
            examples.push(
              `tx ${k} rule ${rule.id} (${celOf(rule.condition)}): CEL ${tollgate.fired[k * n + i]}, json-rules-engine ${mine[i]}`,
            )
          }
        }
        if (differs > 0) mismatchedTransactions++
        mismatchedRuleResults += differs
      }
      done++
    }
    replay.afterBatch(batch)
  }
  return {
    totalUs,
    runUs,
    featureDifferences,
    mismatchedTransactions,
    mismatchedRuleResults,
    examples,
    wallS: Number(process.hrtime.bigint() - started) / 1e9,
  }
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const values = readOptions(
    process.argv.slice(2),
    {
      transactions: { type: 'string' },
      rules: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean' },
    },
    USAGE,
  )
  const settings = settingsOf(values)
  const log = progressLog('bench:risk')
  const loadBefore = loadAverage1m()
  const startedMs = Date.now()

  const reference = loadReferenceData(REFERENCE_DIR_DEFAULT)
  const fleet = buildFleet(FLEET_SIZE, settings.seed, REFERENCE_DIR_DEFAULT, T0_MS)
  const rules = generateRules(settings.rules, settings.seed, fleet)
  const ruleOrder = new Map(rules.map((r, i) => [r.id, i]))
  const compiled = compileRuleSet(
    rules.map((r) => riskRuleOf(r, T0_MS - DAY_MS)),
    DEFAULT_RISK_SETTINGS,
    1,
  )
  if (compiled.failures.length > 0) {
    throw new Error(
      `rules failed to compile: ${compiled.failures.map((f) => f.message).join('; ')}`,
    )
  }
  const ruleSet = compiled.ruleSet
  const limits = limitRulesOf(fleet)
  const lists = listEntriesOf(fleet, settings.seed)
  const settingsPipeline = { utcOffsetMinutes: UTC_OFFSET_MINUTES, holdExpiryMs: 7 * DAY_MS }
  const clock = { nowMs: () => T0_MS }
  const replayOf = (): Replay => {
    const index = new VelocityIndex(1)
    const makeContext = contextFactory(settingsPipeline, reference, createRandomIds(clock), index)
    return new Replay(fleet, settings.seed, ruleSet, limits, lists, makeContext)
  }
  log(
    `fleet: ${FLEET_SIZE.cards} cards, ${FLEET_SIZE.merchants} merchants, ${FLEET_SIZE.terminals} terminals; ${rules.length} rules`,
  )

  let mark = Date.now()
  let replay = replayOf()
  const historyS = (Date.now() - mark) / 1000
  const keysAtT0 = replay.index.size
  log(
    `velocity index: ${HISTORY_EVENTS} attempts of the last 24 h, ${keysAtT0} keys, ${historyS.toFixed(1)} s`,
  )
  const tollgate = runTollgate(replay, ruleSet, ruleOrder, settings.transactions)
  log(
    `Tollgate: ${settings.transactions} transactions in ${tollgate.wallS.toFixed(1)} s (with the untimed checks)`,
  )

  mark = Date.now()
  replay = replayOf()
  log(
    `velocity index rebuilt for json-rules-engine in ${((Date.now() - mark) / 1000).toFixed(1)} s`,
  )
  const engine = jreEngine(rules)
  const jre = await runJre(replay, engine, rules, ruleOrder, tollgate, settings.transactions)
  log(`json-rules-engine: ${settings.transactions} transactions in ${jre.wallS.toFixed(1)} s`)

  const total = distribution(tollgate.totalUs)
  const featuresFigure = distribution(tollgate.featuresUs)
  const rulesFigure = distribution(tollgate.rulesUs)
  const jreTotal = distribution(jre.totalUs)
  const jreRun = distribution(jre.runUs)
  const totalSum = sumOf(tollgate.totalUs)
  const firedCount = tollgate.fired.reduce((s, v) => s + v, 0)
  const ruleShare = rules.map((r, i) => {
    let c = 0
    for (let k = 0; k < settings.transactions; k++) c += tollgate.fired[k * rules.length + i] ?? 0
    return { id: r.id, share: c / settings.transactions }
  })
  const neverFired = ruleShare.filter((r) => r.share === 0).length
  const mostOftenTrue = [...ruleShare]
    .sort((a, b) => b.share - a.share)
    .slice(0, 10)
    .map((r) => {
      const rule = rules[ruleOrder.get(r.id) ?? -1]
      return {
        id: r.id,
        action: rule?.action,
        share: round(r.share, 4),
        expression: rule === undefined ? '' : celOf(rule.condition),
      }
    })
  const result = {
    date: new Date().toISOString(),
    machine: machineAround(loadBefore),
    settings: {
      ...settings,
      warmupTransactions: WARMUP_TRANSACTIONS,
      batchSize: BATCH_SIZE,
      ...FLEET_SIZE,
      historyEvents: HISTORY_EVENTS,
      velocityKeysMax: VELOCITY_KEYS_MAX_DEFAULT,
    },
    velocityIndex: {
      keysAtStart: keysAtT0,
      keysAtEnd: tollgate.indexKeys,
      evicted: tollgate.indexEvicted,
      buildS: round(historyS, 1),
    },
    tollgate: {
      perTransaction: total,
      transactionsPerSecond: Math.round(1e6 / total.meanUs),
      features: featuresFigure,
      rules: rulesFigure,
      featuresShare: round(sumOf(tollgate.featuresUs) / totalSum, 3),
      rulesShare: round(sumOf(tollgate.rulesUs) / totalSum, 3),
      rulesBreakdown: {
        celContext: distribution(tollgate.contextUs),
        everyRuleRun: distribution(tollgate.allRulesUs),
      },
      meanRulesEvaluated: round(tollgate.rulesEvaluated, 1),
      decisions: tollgate.decisions,
      hitsByAction: tollgate.hitsByAction,
      meanRulesTrue: round(firedCount / settings.transactions, 2),
      rulesNeverTrue: neverFired,
      rulesMostOftenTrue: mostOftenTrue,
      ruleErrors: tollgate.ruleErrors,
      inconsistentHits: tollgate.inconsistentHits,
      aimMedianUs: AIM_MEDIAN_US,
      aimMet: total.medianUs < AIM_MEDIAN_US,
    },
    jsonRulesEngine: {
      perTransaction: jreTotal,
      transactionsPerSecond: Math.round(1e6 / jreTotal.meanUs),
      runFactsPrebuilt: jreRun,
    },
    ratios: {
      /** Tollgate ÷ json-rules-engine, time per transaction: below 1 means Tollgate is faster. */
      perTransactionMedian: round(total.medianUs / jreTotal.medianUs, 3),
      perTransactionP99: round(total.p99Us / jreTotal.p99Us, 3),
      rulesMedian: round(rulesFigure.medianUs / jreRun.medianUs, 3),
      rulesP99: round(rulesFigure.p99Us / jreRun.p99Us, 3),
    },
    agreement: {
      transactionsCompared: settings.transactions,
      featureDifferences: jre.featureDifferences,
      mismatchedTransactions: jre.mismatchedTransactions,
      mismatchedRuleResults: jre.mismatchedRuleResults,
      examples: jre.examples,
    },
    wallS: round((Date.now() - startedMs) / 1000, 1),
  }

  if (settings.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
  } else {
    const row = rowOf(46)
    const d = (x: Distribution): string =>
      `${x.medianUs} / ${x.p90Us} / ${x.p99Us} / ${x.maxUs} µs (mean ${x.meanUs})`
    const t = result.tollgate
    const lines = [
      'bench:risk — features + rules per transaction, one thread',
      row('date', result.date),
      row(
        'machine',
        `${result.machine.cpus} × ${result.machine.cpuModel}, Node ${result.machine.node}`,
      ),
      row(
        'load average 1 min: before / after',
        `${result.machine.loadAverage1mBefore} / ${result.machine.loadAverage1mAfter}`,
      ),
      row(
        'cards / merchants / terminals',
        `${FLEET_SIZE.cards} / ${FLEET_SIZE.merchants} / ${FLEET_SIZE.terminals}`,
      ),
      row(
        'velocity: history / keys at start / evicted',
        `${HISTORY_EVENTS} / ${keysAtT0} / ${tollgate.indexEvicted} (bound ${VELOCITY_KEYS_MAX_DEFAULT})`,
      ),
      row(
        'rules / seed / transactions (+ warm-up)',
        `${rules.length} / ${settings.seed} / ${settings.transactions} (+ ${WARMUP_TRANSACTIONS})`,
      ),
      '',
      'Tollgate (median / p90 / p99 / max)',
      row('features + rules', d(total)),
      row('  features', d(featuresFigure)),
      row('  rules (evaluateRules)', d(rulesFigure)),
      row(
        'share of time: features / rules',
        `${round(t.featuresShare * 100, 1)}% / ${round(t.rulesShare * 100, 1)}%`,
      ),
      row('transactions/s on one core', t.transactionsPerSecond),
      row(`aim: median under ${AIM_MEDIAN_US} µs`, t.aimMet ? 'met' : 'NOT met'),
      row('rules: celContext alone (untimed pass)', d(t.rulesBreakdown.celContext)),
      row('rules: every rule run alone (untimed pass)', d(t.rulesBreakdown.everyRuleRun)),
      row(
        'mean rules evaluated / true per transaction',
        `${t.meanRulesEvaluated} / ${t.meanRulesTrue}`,
      ),
      row('decisions', JSON.stringify(t.decisions)),
      row('hits by action', JSON.stringify(t.hitsByAction)),
      row('rules never true / rule errors', `${neverFired} / ${t.ruleErrors}`),
      '',
      'json-rules-engine 7.3.1 (median / p90 / p99 / max)',
      row('features + await engine.run(facts)', d(jreTotal)),
      row('await engine.run(facts), facts prebuilt', d(jreRun)),
      row('transactions/s on one core', result.jsonRulesEngine.transactionsPerSecond),
      '',
      'Tollgate ÷ json-rules-engine (time per transaction; < 1: Tollgate faster)',
      row(
        'features + rules: median / p99',
        `${result.ratios.perTransactionMedian} / ${result.ratios.perTransactionP99}`,
      ),
      row('rules alone: median / p99', `${result.ratios.rulesMedian} / ${result.ratios.rulesP99}`),
      '',
      'Agreement',
      row('transactions compared', settings.transactions),
      row('features differing between the two passes', jre.featureDifferences),
      row('transactions where the engines disagree', jre.mismatchedTransactions),
      row('rule results that differ', jre.mismatchedRuleResults),
      row('evaluateRules hits inconsistent with rules', tollgate.inconsistentHits),
      ...jre.examples.map((e) => `    ${e}`),
      row('wall time', `${result.wallS} s`),
    ]
    process.stdout.write(`${lines.join('\n')}\n`)
  }
  const agreed =
    jre.mismatchedTransactions === 0 &&
    jre.featureDifferences === 0 &&
    tollgate.inconsistentHits === 0
  if (!agreed) process.exitCode = 1
}

main().catch(exitOnFailure)
