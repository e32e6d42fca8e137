import type { Logger } from 'pino'
import { assert } from '../core/assert.js'
import type { Card, ListEntry, Merchant, Terminal, TransactionRecord } from '../core/model.js'
import type { BinTable } from '../core/reference/bin-table.js'
import {
  BACKTEST_RULES_MAX,
  BacktestReplayer,
  type BacktestReport,
  type ReplayEntities,
} from '../core/risk/backtest.js'
import { RuleCompileError } from '../core/risk/engine.js'
import type { RiskRule, RiskSettings } from '../core/risk/rules.js'
import type {
  BacktestJob,
  BacktestJobs,
  BacktestJobStatus,
  BacktestSpec,
  BacktestStart,
} from '../ports/backtests.js'
import type { Clock } from '../ports/clock.js'
import type { IdSource } from '../ports/id-source.js'
import { PAGE_LIMIT_MAX, type Store } from '../ports/store.js'

/**
 * Backtests as background jobs. A job pages through the period's stored purchases and
 * preauthorizations (`store.risk.replayPage`), feeds them to the pure replayer
 * (core/risk/backtest.ts), and yields to the event loop (`setImmediate`) between pages, so the
 * switch keeps serving while a backtest runs.
 *
 * Jobs live in memory only: they do not survive a restart (a backtest is cheap to run again).
 * At most `runningMax` run at once, `queuedMax` more wait; finished jobs are kept, the newest
 * `keptMax` of them.
 */

export interface BacktestLimits {
  readonly runningMax: number
  readonly queuedMax: number
  readonly keptMax: number
  /** Records per replayPage call (at most the store's page limit). */
  readonly pageSize: number
  /** Merchants and terminals remembered during one job; the cache is cleared past this. */
  readonly entityCacheMax: number
  /** Review and allow list entries a job loads; a job with more fails with a clear error. */
  readonly listEntriesMax: number
  /** Records per job; the replayer's bound by default. */
  readonly transactionsMax?: number
}

export const BACKTEST_LIMITS_DEFAULT: BacktestLimits = {
  runningMax: 2,
  queuedMax: 8,
  keptMax: 50,
  pageSize: PAGE_LIMIT_MAX,
  entityCacheMax: 100_000,
  listEntriesMax: 100_000,
}

export interface BacktestDeps {
  readonly store: Store
  readonly bins: BinTable
  readonly clock: Clock
  readonly ids: IdSource
  readonly utcOffsetMinutes: number
  readonly logger?: Logger
}

interface JobState {
  readonly id: string
  readonly spec: BacktestSpec
  readonly rules: readonly RiskRule[]
  /** `id@vN` in evaluation order. */
  readonly labels: readonly string[]
  readonly settings: RiskSettings
  status: BacktestJobStatus
  readonly createdAtMs: number
  startedAtMs: number | null
  finishedAtMs: number | null
  processed: number
  lastAtMs: number | null
  report: BacktestReport | null
  error: string | null
}

export class BacktestFailure extends Error {
  override readonly name = 'BacktestFailure'
  constructor(
    readonly code: 'list_entries_over_bound' | 'service_closed',
    message: string,
  ) {
    super(message)
  }
}

const ruleLabel = (rule: RiskRule): string =>
  `${rule.id}@${rule.version === 0 ? 'draft' : `v${rule.version}`}`

export class BacktestService implements BacktestJobs {
  private readonly jobs = new Map<string, JobState>()
  private readonly queue: JobState[] = []
  private readonly running = new Set<Promise<void>>()
  private closed = false

  constructor(
    private readonly deps: BacktestDeps,
    private readonly limits: BacktestLimits = BACKTEST_LIMITS_DEFAULT,
  ) {
    assert(limits.runningMax >= 1 && limits.queuedMax >= 0, 'backtest job bounds')
    assert(limits.keptMax >= limits.runningMax + limits.queuedMax, 'keep every live job')
    assert(limits.pageSize >= 1 && limits.pageSize <= PAGE_LIMIT_MAX, 'page size within store')
  }

  async start(spec: BacktestSpec): Promise<BacktestStart> {
    if (this.closed) return refuse('busy', null, 'the switch is stopping')
    if (this.queue.length >= this.limits.queuedMax && this.runningCount() >= this.limits.runningMax)
      return refuse(
        'busy',
        null,
        `${this.limits.runningMax} backtests are running and ${this.queue.length} waiting: try later`,
      )
    const resolved = await this.resolveRules(spec)
    if (!resolved.ok) return resolved
    const stored = await this.deps.store.risk.getSettings()
    const settings: RiskSettings = { ...stored, ...spec.settings }
    let labels: string[]
    try {
      // Compile once here so an invalid rule is refused now, not found by a failed job.
      const probe = new BacktestReplayer({
        rules: resolved.rules,
        settings,
        fromMs: spec.fromMs,
        toMs: spec.toMs,
        utcOffsetMinutes: this.deps.utcOffsetMinutes,
        samplesPerRule: spec.samplesPerRule,
      })
      labels = probe.ruleSet.active.map((c) => ruleLabel(c.rule))
    } catch (error) {
      if (!(error instanceof RuleCompileError)) throw error
      const at = spec.rules.findIndex(
        (r) => (r.type === 'stored' ? r.id : r.rule.id) === error.ruleId,
      )
      return refuse('invalid_rule', at < 0 ? null : `rules.${at}`, error.message)
    }
    const state: JobState = {
      id: this.deps.ids.entityId('bt'),
      spec,
      rules: resolved.rules,
      labels,
      settings,
      status: 'queued',
      createdAtMs: this.deps.clock.nowMs(),
      startedAtMs: null,
      finishedAtMs: null,
      processed: 0,
      lastAtMs: null,
      report: null,
      error: null,
    }
    this.jobs.set(state.id, state)
    this.queue.push(state)
    this.forgetOldJobs()
    this.pump()
    return { ok: true, job: this.view(state) }
  }

  get(id: string): BacktestJob | null {
    const state = this.jobs.get(id)
    return state === undefined ? null : this.view(state)
  }

  list(): readonly BacktestJob[] {
    return [...this.jobs.values()].reverse().map((s) => this.view(s))
  }

  /** Stops taking jobs, fails the queued ones, and waits for the running ones to stop. */
  async close(): Promise<void> {
    this.closed = true
    for (const state of this.queue.splice(0)) this.finish(state, 'failed', 'the switch stopped')
    await Promise.allSettled([...this.running])
  }

  private runningCount(): number {
    return this.running.size
  }

  private async resolveRules(
    spec: BacktestSpec,
  ): Promise<{ ok: true; rules: RiskRule[] } | Extract<BacktestStart, { ok: false }>> {
    const needStored = spec.includeActive || spec.rules.some((r) => r.type === 'stored')
    const stored = needStored ? await this.deps.store.risk.listRules() : []
    const byId = new Map(stored.map((r) => [r.id, r]))
    const chosen = new Map<string, RiskRule>()
    for (const [index, ref] of spec.rules.entries()) {
      const id = ref.type === 'stored' ? ref.id : ref.rule.id
      if (chosen.has(id))
        return refuse('invalid_rule', `rules.${index}.id`, `rule ${id} is given twice`)
      const rule = ref.type === 'stored' ? byId.get(ref.id) : ref.rule
      if (rule === undefined)
        return refuse('unknown_rule', `rules.${index}.id`, `no stored rule ${id}`)
      chosen.set(id, rule)
    }
    // Active rules join unless the request gives a rule of the same id (a draft of an edit).
    if (spec.includeActive)
      for (const rule of stored)
        if (rule.status === 'active' && !chosen.has(rule.id)) chosen.set(rule.id, rule)
    if (chosen.size === 0)
      return refuse(
        'no_rules',
        'rules',
        'give at least one rule, or includeActive with active rules',
      )
    if (chosen.size > BACKTEST_RULES_MAX)
      return refuse('too_many_rules', 'rules', `at most ${BACKTEST_RULES_MAX} rules per backtest`)
    return { ok: true, rules: [...chosen.values()] }
  }

  private pump(): void {
    while (!this.closed && this.runningCount() < this.limits.runningMax) {
      const state = this.queue.shift()
      if (state === undefined) return
      const run: Promise<void> = this.run(state).finally(() => {
        this.running.delete(run)
        this.pump()
      })
      this.running.add(run)
    }
  }

  private async run(state: JobState): Promise<void> {
    state.status = 'running'
    state.startedAtMs = this.deps.clock.nowMs()
    try {
      await nextTurn()
      state.report = await this.replay(state)
      this.finish(state, 'done', null)
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      this.deps.logger?.error({ err: error, backtest: state.id }, 'backtest failed')
      this.finish(state, 'failed', message)
    }
  }

  private async replay(state: JobState): Promise<BacktestReport> {
    const { store } = this.deps
    const { spec } = state
    const replayer = new BacktestReplayer({
      rules: state.rules,
      settings: state.settings,
      fromMs: spec.fromMs,
      toMs: spec.toMs,
      utcOffsetMinutes: this.deps.utcOffsetMinutes,
      samplesPerRule: spec.samplesPerRule,
      ...(this.limits.transactionsMax === undefined
        ? {}
        : { transactionsMax: this.limits.transactionsMax }),
    })
    const warm = replayer.warmWindow
    await store.risk.velocityEvents(warm.fromMs, warm.toMs, (event) => replayer.warmOne(event))
    const limits = await store.listLimits()
    const listEntries = await this.riskListEntries()
    const entities = new EntityCache(store, this.limits.entityCacheMax)
    let cursor: string | null = null
    do {
      if (this.closed) throw new BacktestFailure('service_closed', 'the switch stopped')
      const page = await store.risk.replayPage(spec.fromMs, spec.toMs, cursor, this.limits.pageSize)
      const chunk = await entities.forRecords(page.items)
      replayer.replay(page.items, { ...chunk, limits, listEntries, bins: this.deps.bins })
      state.processed = replayer.processed
      state.lastAtMs = page.items[page.items.length - 1]?.createdAtMs ?? state.lastAtMs
      cursor = page.nextCursor
      await nextTurn()
    } while (cursor !== null && !replayer.full)
    return replayer.report()
  }

  /** The review and allow list entries (block entries decline before risk: never a feature). */
  private async riskListEntries(): Promise<ListEntry[]> {
    const entries: ListEntry[] = []
    let cursor: string | null = null
    do {
      const page = await this.deps.store.listListEntries({ limit: PAGE_LIMIT_MAX, cursor })
      for (const entry of page.items) if (entry.list !== 'block') entries.push(entry)
      if (entries.length > this.limits.listEntriesMax)
        throw new BacktestFailure(
          'list_entries_over_bound',
          `more than ${this.limits.listEntriesMax} review and allow list entries`,
        )
      cursor = page.nextCursor
    } while (cursor !== null)
    return entries
  }

  private finish(state: JobState, status: 'done' | 'failed', error: string | null): void {
    state.status = status
    state.error = error
    state.finishedAtMs = this.deps.clock.nowMs()
    this.forgetOldJobs()
  }

  /** Keeps the newest `keptMax` jobs; only finished ones are forgotten. */
  private forgetOldJobs(): void {
    let excess = this.jobs.size - this.limits.keptMax
    for (const [id, state] of this.jobs) {
      if (excess <= 0) break
      if (state.status === 'done' || state.status === 'failed') {
        this.jobs.delete(id)
        excess--
      }
    }
  }

  private view(state: JobState): BacktestJob {
    const span = state.spec.toMs - state.spec.fromMs
    const done = state.status === 'done'
    const fraction = done
      ? 1
      : state.lastAtMs === null
        ? 0
        : Math.min(1, Math.max(0, (state.lastAtMs - state.spec.fromMs + 1) / span))
    return {
      id: state.id,
      status: state.status,
      fromMs: state.spec.fromMs,
      toMs: state.spec.toMs,
      rules: state.labels,
      createdAtMs: state.createdAtMs,
      startedAtMs: state.startedAtMs,
      finishedAtMs: state.finishedAtMs,
      progress: {
        processed: state.processed,
        fraction,
        totalEstimate: done
          ? state.processed
          : fraction > 0
            ? Math.max(state.processed, Math.round(state.processed / fraction))
            : null,
      },
      report: state.report,
      error: state.error,
    }
  }
}

function refuse(
  code: Extract<BacktestStart, { ok: false }>['code'],
  field: string | null,
  message: string,
): Extract<BacktestStart, { ok: false }> {
  return { ok: false, code, field, message }
}

/** One turn of the event loop: lets requests in before the next page. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** Merchants and terminals as they are now, cached for a job; cards looked up per page. */
class EntityCache {
  private readonly merchants = new Map<string, Merchant | null>()
  private readonly terminals = new Map<string, Terminal | null>()

  constructor(
    private readonly store: Store,
    private readonly max: number,
  ) {}

  async forRecords(
    records: readonly TransactionRecord[],
  ): Promise<Pick<ReplayEntities, 'merchants' | 'terminals' | 'cards'>> {
    if (this.merchants.size > this.max) this.merchants.clear()
    if (this.terminals.size > this.max) this.terminals.clear()
    const merchants = new Map<string, Merchant>()
    const terminals = new Map<string, Terminal>()
    const cards = new Map<string, Card>()
    const tried = new Set<string>()
    for (const record of records) {
      const merchant = await this.cached(this.merchants, record.merchantId, (id) =>
        this.store.getMerchant(id),
      )
      if (merchant !== null) merchants.set(merchant.id, merchant)
      const terminal = await this.cached(this.terminals, record.terminalId, (id) =>
        this.store.getTerminal(id),
      )
      if (terminal !== null) terminals.set(terminal.id, terminal)
      const token = record.cardToken
      if (token !== null && !tried.has(token)) {
        tried.add(token)
        const card = await this.store.getCard(token)
        if (card !== null) cards.set(token, card)
      }
    }
    return { merchants, terminals, cards }
  }

  private async cached<T>(
    cache: Map<string, T | null>,
    id: string,
    read: (id: string) => Promise<T | null>,
  ): Promise<T | null> {
    const known = cache.get(id)
    if (known !== undefined) return known
    const value = await read(id)
    cache.set(id, value)
    return value
  }
}
