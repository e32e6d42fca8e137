import type { BacktestReport } from '../core/risk/backtest.js'
import type { RiskRule, RiskSettings } from '../core/risk/rules.js'

/**
 * Backtests as channels see them (the HTTP API, and through it the CLI): start one in the
 * background, read its progress and report. The app implements it (src/app/backtests.ts).
 */
export interface BacktestJobs {
  start(spec: BacktestSpec): Promise<BacktestStart>
  get(id: string): BacktestJob | null
  /** Recent jobs, newest first. */
  list(): readonly BacktestJob[]
}

/** A rule to backtest: a stored rule by id (its newest version), or an inline draft. */
export type BacktestRuleRef =
  | { readonly type: 'stored'; readonly id: string }
  | { readonly type: 'draft'; readonly rule: RiskRule }

export interface BacktestSpec {
  readonly fromMs: number
  readonly toMs: number
  readonly rules: readonly BacktestRuleRef[]
  /** Also run the currently active rules (a draft with the same id replaces its stored rule). */
  readonly includeActive: boolean
  /** Over the stored settings. */
  readonly settings: Partial<RiskSettings>
  readonly samplesPerRule: number
}

export type BacktestStart =
  | { readonly ok: true; readonly job: BacktestJob }
  | {
      readonly ok: false
      readonly code: 'unknown_rule' | 'invalid_rule' | 'no_rules' | 'too_many_rules' | 'busy'
      /** The request field at fault, when there is one (e.g. `rules.1.id`). */
      readonly field: string | null
      readonly message: string
    }

export const BACKTEST_JOB_STATUSES = ['queued', 'running', 'done', 'failed'] as const
export type BacktestJobStatus = (typeof BACKTEST_JOB_STATUSES)[number]

export interface BacktestJob {
  readonly id: string
  readonly status: BacktestJobStatus
  readonly fromMs: number
  readonly toMs: number
  /** The rules run, as `id@vN` (drafts as `id@draft`), in evaluation order. */
  readonly rules: readonly string[]
  readonly createdAtMs: number
  readonly startedAtMs: number | null
  readonly finishedAtMs: number | null
  readonly progress: {
    readonly processed: number
    /** How far through the period the replay is, by time (0..1). */
    readonly fraction: number
    /** processed / fraction: an estimate of the period's records; null before the first. */
    readonly totalEstimate: number | null
  }
  readonly report: BacktestReport | null
  /** Why a failed job failed. */
  readonly error: string | null
}
