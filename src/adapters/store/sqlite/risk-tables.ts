import { conflict, OK, storedOneOf, type AdminWrite } from './support.js'
import type Database from 'better-sqlite3'
import { AssertionFailure } from '../../../core/assert.js'
import type { ListEntry } from '../../../core/model.js'
import { compileRuleSet, EMPTY_RULE_SET, type RuleSet } from '../../../core/risk/engine.js'
import {
  DEFAULT_RISK_SETTINGS,
  isRiskBlockReason,
  ON_RULE_ERROR,
  RULE_ACTIONS,
  RULE_STATUSES,
  RULES_LIVE_MAX,
  RULES_MAX,
  type RiskRule,
  type RiskSettings,
} from '../../../core/risk/rules.js'
import { REVIEW_RESOLUTIONS, REVIEW_STATUSES, type ReviewItem } from '../../../core/risk/review.js'
import { isReasonCode } from '../../../core/reasons/codes.js'
import { velocityEventOf, type VelocityEvent } from '../../../core/risk/velocity.js'
import type { Changes } from '../../../core/pipeline/snapshot.js'
import type { TransactionRecord } from '../../../core/model.js'
import type { ReviewExpectation, ReviewFilter, RiskStore } from '../../../ports/risk-store.js'
import {
  PAGE_LIMIT_MAX,
  StoreInputError,
  type AuditEntry,
  type Page,
  type WriteResult,
} from '../../../ports/store.js'

/**
 * Risk control's tables in the SQLite store (migration `risk_control`): versioned rules,
 * settings, the review queue, and when each card was first seen. The batch path calls
 * `ruleSet`, `cardFirstSeen` and `write` inside the batch's transaction; the rest is the
 * `RiskStore` port, its writes inside the store's audited admin transaction.
 */

const GENERATION_KEY = 'risk_generation'
const SETTINGS_KEY = 'risk_settings'

interface RuleRow {
  id: string
  version: number
  status: string
  name: string
  expression: string
  action: string
  reason: string | null
  score: number
  priority: number
  description_zh: string
  description_en: string
  author: string
  change_note: string
  created_at_ms: number
}

interface ReviewRow {
  transaction_id: string
  status: string
  created_at_ms: number
  decided_by: string
  rule_hits: string
  score: number
  card_token: string | null
  card_masked: string | null
  merchant_id: string
  terminal_id: string
  amount_minor: number
  currency: string
  claimed_by: string | null
  claimed_at_ms: number | null
  resolution: string | null
  resolution_note: string | null
  resolved_by: string | null
  resolved_at_ms: number | null
}

interface VelocityRow {
  kind: string
  created_at_ms: number
  card_token: string
  merchant_id: string
  terminal_id: string
  amount_minor: number
  currency: string
  outcome: string
  reason: string | null
}

function toRule(row: RuleRow): RiskRule {
  const reason = row.reason
  if (reason !== null && !isRiskBlockReason(reason))
    throw new AssertionFailure(`stored rule ${row.id} has reason "${reason}"`)
  return {
    id: row.id,
    version: row.version,
    status: storedOneOf(RULE_STATUSES, row.status, 'rule status'),
    name: row.name,
    expression: row.expression,
    action: storedOneOf(RULE_ACTIONS, row.action, 'rule action'),
    reason,
    score: row.score,
    priority: row.priority,
    description: { 'zh-CN': row.description_zh, en: row.description_en },
    author: row.author,
    changeNote: row.change_note,
    createdAtMs: row.created_at_ms,
  }
}

function ruleRow(rule: RiskRule): RuleRow {
  return {
    id: rule.id,
    version: rule.version,
    status: rule.status,
    name: rule.name,
    expression: rule.expression,
    action: rule.action,
    reason: rule.reason,
    score: rule.score,
    priority: rule.priority,
    description_zh: rule.description['zh-CN'],
    description_en: rule.description.en,
    author: rule.author,
    change_note: rule.changeNote,
    created_at_ms: rule.createdAtMs,
  }
}

function toReview(row: ReviewRow): ReviewItem {
  return {
    transactionId: row.transaction_id,
    status: storedOneOf(REVIEW_STATUSES, row.status, 'review status'),
    createdAtMs: row.created_at_ms,
    decidedBy: row.decided_by,
    ruleHits: row.rule_hits,
    score: row.score,
    cardToken: row.card_token,
    cardMasked: row.card_masked,
    merchantId: row.merchant_id,
    terminalId: row.terminal_id,
    amountMinor: row.amount_minor,
    currency: row.currency,
    claimedBy: row.claimed_by,
    claimedAtMs: row.claimed_at_ms,
    resolution:
      row.resolution === null
        ? null
        : storedOneOf(REVIEW_RESOLUTIONS, row.resolution, 'resolution'),
    resolutionNote: row.resolution_note,
    resolvedBy: row.resolved_by,
    resolvedAtMs: row.resolved_at_ms,
  }
}

function reviewRow(item: ReviewItem): ReviewRow {
  return {
    transaction_id: item.transactionId,
    status: item.status,
    created_at_ms: item.createdAtMs,
    decided_by: item.decidedBy,
    rule_hits: item.ruleHits,
    score: item.score,
    card_token: item.cardToken,
    card_masked: item.cardMasked,
    merchant_id: item.merchantId,
    terminal_id: item.terminalId,
    amount_minor: item.amountMinor,
    currency: item.currency,
    claimed_by: item.claimedBy,
    claimed_at_ms: item.claimedAtMs,
    resolution: item.resolution,
    resolution_note: item.resolutionNote,
    resolved_by: item.resolvedBy,
    resolved_at_ms: item.resolvedAtMs,
  }
}

function toVelocityEvent(row: VelocityRow): VelocityEvent | null {
  return velocityEventOf({
    kind: row.kind === 'preauthorization' ? 'preauthorization' : 'purchase',
    cardToken: row.card_token,
    createdAtMs: row.created_at_ms,
    merchantId: row.merchant_id,
    terminalId: row.terminal_id,
    amountMinor: row.amount_minor,
    currency: row.currency,
    outcome: row.outcome === 'declined' ? 'declined' : 'approved',
    reason: row.reason !== null && isReasonCode(row.reason) ? row.reason : null,
  })
}

function parseSettings(json: string | undefined): RiskSettings {
  if (json === undefined) return DEFAULT_RISK_SETTINGS
  const value = JSON.parse(json) as Partial<RiskSettings>
  const settings: RiskSettings = { ...DEFAULT_RISK_SETTINGS, ...value }
  const reason: string = settings.scoreBlockReason
  if (!isRiskBlockReason(reason))
    throw new AssertionFailure(`stored risk settings name reason ${reason}`)
  storedOneOf(ON_RULE_ERROR, settings.onRuleError, 'onRuleError')
  return settings
}

/** Two numbers (an instant and an id) as an opaque cursor. */
function encodeCursor(kind: string, atMs: number, id: string): string {
  return Buffer.from(JSON.stringify([kind, atMs, id])).toString('base64url')
}

function decodeCursor(kind: string, cursor: string): { atMs: number; id: string } {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
    if (
      Array.isArray(value) &&
      value.length === 3 &&
      value[0] === kind &&
      Number.isSafeInteger(value[1]) &&
      typeof value[2] === 'string'
    )
      return { atMs: value[1] as number, id: value[2] }
  } catch {
    // fall through: not one of ours
  }
  throw new StoreInputError('invalid_cursor', 'cursor', `cursor is not a ${kind} page cursor`)
}

function pageLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > PAGE_LIMIT_MAX)
    throw new StoreInputError(
      'invalid_page_limit',
      'limit',
      `page limit ${limit} is not within 1..${PAGE_LIMIT_MAX}`,
    )
  return limit
}

export class RiskTables implements RiskStore {
  private cached: RuleSet = EMPTY_RULE_SET
  private readonly s

  constructor(
    db: Database.Database,
    private readonly adminWrite: AdminWrite,
    private readonly toTransaction: (row: never) => TransactionRecord,
    private readonly putListEntry: (entry: ListEntry) => void,
  ) {
    this.s = {
      generation: db
        .prepare<[string], { value: string }>('SELECT value FROM settings WHERE key = ?')
        .pluck(false),
      setSetting: db.prepare<[string, string]>(
        'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ),
      latestRules: db.prepare<[], RuleRow>(
        `SELECT r.* FROM risk_rules r
         JOIN (SELECT id, MAX(version) AS version FROM risk_rules GROUP BY id) l
           ON r.id = l.id AND r.version = l.version
         ORDER BY r.priority, r.id`,
      ),
      history: db.prepare<[string], RuleRow>(
        'SELECT * FROM risk_rules WHERE id = ? ORDER BY version',
      ),
      newestVersion: db
        .prepare<[string], number | null>('SELECT MAX(version) FROM risk_rules WHERE id = ?')
        .pluck(),
      insertRule: db.prepare<[RuleRow]>(
        `INSERT INTO risk_rules (id, version, status, name, expression, action, reason, score,
           priority, description_zh, description_en, author, change_note, created_at_ms)
         VALUES (@id, @version, @status, @name, @expression, @action, @reason, @score, @priority,
           @description_zh, @description_en, @author, @change_note, @created_at_ms)`,
      ),
      firstSeen: db.prepare<[string], { card_token: string; first_seen_ms: number }>(
        'SELECT card_token, first_seen_ms FROM card_first_seen WHERE card_token IN (SELECT value FROM json_each(?))',
      ),
      insertFirstSeen: db.prepare<[string, number]>(
        'INSERT OR IGNORE INTO card_first_seen (card_token, first_seen_ms) VALUES (?, ?)',
      ),
      insertReview: db.prepare<[ReviewRow]>(
        `INSERT INTO risk_reviews (transaction_id, status, created_at_ms, decided_by, rule_hits,
           score, card_token, card_masked, merchant_id, terminal_id, amount_minor, currency,
           claimed_by, claimed_at_ms, resolution, resolution_note, resolved_by, resolved_at_ms)
         VALUES (@transaction_id, @status, @created_at_ms, @decided_by, @rule_hits, @score,
           @card_token, @card_masked, @merchant_id, @terminal_id, @amount_minor, @currency,
           @claimed_by, @claimed_at_ms, @resolution, @resolution_note, @resolved_by,
           @resolved_at_ms)`,
      ),
      updateReview: db.prepare<
        [ReviewRow & { expected: string; expectedClaimedBy: string | null }]
      >(
        `UPDATE risk_reviews SET status = @status, claimed_by = @claimed_by,
           claimed_at_ms = @claimed_at_ms, resolution = @resolution,
           resolution_note = @resolution_note, resolved_by = @resolved_by,
           resolved_at_ms = @resolved_at_ms
         WHERE transaction_id = @transaction_id AND status = @expected
           AND claimed_by IS @expectedClaimedBy`,
      ),
      getReview: db.prepare<[string], ReviewRow>(
        'SELECT * FROM risk_reviews WHERE transaction_id = ?',
      ),
      reviews: db.prepare<
        [{ status: string | null; atMs: number; id: string; limit: number }],
        ReviewRow
      >(
        `SELECT * FROM risk_reviews WHERE (@status IS NULL OR status = @status)
           AND (created_at_ms, transaction_id) > (@atMs, @id)
         ORDER BY created_at_ms, transaction_id LIMIT @limit`,
      ),
      velocity: db.prepare<[number, number], VelocityRow>(
        `SELECT kind, created_at_ms, card_token, merchant_id, terminal_id, amount_minor, currency,
           outcome, reason
         FROM transactions
         WHERE created_at_ms >= ? AND created_at_ms < ?
           AND kind IN ('purchase', 'preauthorization') AND card_token IS NOT NULL
         ORDER BY created_at_ms, id`,
      ),
      replay: db.prepare<
        [{ from: number; to: number; atMs: number; id: string; limit: number }],
        never
      >(
        `SELECT * FROM transactions
         WHERE created_at_ms >= @from AND created_at_ms < @to
           AND (created_at_ms, id) > (@atMs, @id)
           AND kind IN ('purchase', 'preauthorization') AND card_token IS NOT NULL
         ORDER BY created_at_ms, id LIMIT @limit`,
      ),
    }
  }

  private generation(): number {
    const row = this.s.generation.get(GENERATION_KEY)
    return row === undefined ? 0 : Number(row.value)
  }

  private bumpGeneration(): void {
    this.s.setSetting.run(GENERATION_KEY, String(this.generation() + 1))
  }

  private readSettings(): RiskSettings {
    return parseSettings(this.s.generation.get(SETTINGS_KEY)?.value)
  }

  /** The live rule set, compiled once per generation. Runs inside the batch's transaction. */
  ruleSet(): RuleSet {
    const generation = this.generation()
    if (generation === this.cached.generation) return this.cached
    const rules = this.s.latestRules.all().map(toRule)
    // Rules that no longer compile are left out; GET /v1/risk/rules lists them as not running.
    this.cached = compileRuleSet(rules, this.readSettings(), generation).ruleSet
    return this.cached
  }

  cardFirstSeen(tokens: ReadonlySet<string>): Map<string, number> {
    const map = new Map<string, number>()
    if (tokens.size === 0) return map
    for (const row of this.s.firstSeen.all(JSON.stringify([...tokens])))
      map.set(row.card_token, row.first_seen_ms)
    return map
  }

  /** A batch's risk changes, inside its transaction. */
  write(changes: Changes): void {
    for (const item of changes.reviews) this.s.insertReview.run(reviewRow(item))
    for (const seen of changes.cardFirstSeen) this.s.insertFirstSeen.run(seen.cardToken, seen.atMs)
  }

  // ---- the port ------------------------------------------------------------------------------

  listRules(): Promise<readonly RiskRule[]> {
    return Promise.resolve().then(() => this.s.latestRules.all().map(toRule))
  }

  ruleHistory(id: string): Promise<readonly RiskRule[]> {
    return Promise.resolve().then(() => this.s.history.all(id).map(toRule))
  }

  putRule(rule: RiskRule, audit: AuditEntry): Promise<WriteResult> {
    return this.adminWrite(audit, () => {
      const newest = this.s.newestVersion.get(rule.id) ?? 0
      if (rule.version !== newest + 1) {
        return {
          ok: false,
          code: 'conflict',
          message: `rule ${rule.id} is at version ${newest}; this change was made to version ${rule.version - 1}: reload and try again`,
        }
      }
      // Bounds, checked inside the write transaction so two changes at once cannot pass both.
      const latest = this.s.latestRules.all()
      const live = (status: string): boolean => status === 'active' || status === 'shadow'
      if (newest === 0 && latest.length >= RULES_MAX)
        return conflict(`at most ${RULES_MAX} rules may exist: disable and reuse one`)
      const wasLive = latest.some((r) => r.id === rule.id && live(r.status))
      if (
        live(rule.status) &&
        !wasLive &&
        latest.filter((r) => live(r.status)).length >= RULES_LIVE_MAX
      )
        return conflict(
          `at most ${RULES_LIVE_MAX} rules may be active or in shadow: disable one first`,
        )
      this.s.insertRule.run(ruleRow(rule))
      this.bumpGeneration()
      return OK
    })
  }

  getSettings(): Promise<RiskSettings> {
    return Promise.resolve().then(() => this.readSettings())
  }

  putSettings(settings: RiskSettings, audit: AuditEntry): Promise<WriteResult> {
    return this.adminWrite(audit, () => {
      this.s.setSetting.run(SETTINGS_KEY, JSON.stringify(settings))
      this.bumpGeneration()
      return OK
    })
  }

  listReviews(filter: ReviewFilter): Promise<Page<ReviewItem>> {
    return Promise.resolve().then(() => {
      const limit = pageLimit(filter.limit)
      const status = filter.status ?? null
      const after =
        filter.cursor === null ? { atMs: -1, id: '' } : decodeCursor('reviews', filter.cursor)
      const rows = this.s.reviews.all({ status, atMs: after.atMs, id: after.id, limit: limit + 1 })
      const items = rows.slice(0, limit).map(toReview)
      const last = items[items.length - 1]
      return {
        items,
        nextCursor:
          rows.length > limit && last !== undefined
            ? encodeCursor('reviews', last.createdAtMs, last.transactionId)
            : null,
      }
    })
  }

  getReview(transactionId: string): Promise<ReviewItem | null> {
    return Promise.resolve().then(() => {
      const row = this.s.getReview.get(transactionId)
      return row === undefined ? null : toReview(row)
    })
  }

  updateReview(
    item: ReviewItem,
    expected: ReviewExpectation,
    listEntry: ListEntry | null,
    audit: AuditEntry,
  ): Promise<WriteResult> {
    return this.adminWrite(audit, () => {
      const changed = this.s.updateReview.run({
        ...reviewRow(item),
        expected: expected.status,
        expectedClaimedBy: expected.claimedBy,
      })
      if (changed.changes !== 1) {
        const current = this.s.getReview.get(item.transactionId)
        return current === undefined
          ? { ok: false, code: 'not_found', message: `no review of ${item.transactionId}` }
          : {
              ok: false,
              code: 'conflict',
              message: `the review of ${item.transactionId} is ${current.status}${current.claimed_by === null ? '' : ` (claimed by ${current.claimed_by})`}, not ${expected.status}${expected.claimedBy === null ? '' : ` by ${expected.claimedBy}`}`,
            }
      }
      if (listEntry !== null) this.putListEntry(listEntry)
      return OK
    })
  }

  velocityEvents(
    fromMs: number,
    toMs: number,
    each: (event: VelocityEvent) => void,
  ): Promise<number> {
    return Promise.resolve().then(() => {
      let count = 0
      for (const row of this.s.velocity.iterate(fromMs, toMs)) {
        const event = toVelocityEvent(row)
        if (event === null) continue
        each(event)
        count++
      }
      return count
    })
  }

  replayPage(
    fromMs: number,
    toMs: number,
    cursor: string | null,
    limit: number,
  ): Promise<Page<TransactionRecord>> {
    return Promise.resolve().then(() => {
      const bounded = pageLimit(limit)
      const after = cursor === null ? { atMs: -1, id: '' } : decodeCursor('replay', cursor)
      const rows = this.s.replay.all({
        from: fromMs,
        to: toMs,
        atMs: after.atMs,
        id: after.id,
        limit: bounded + 1,
      })
      const items = rows.slice(0, bounded).map((row) => this.toTransaction(row))
      const last = items[items.length - 1]
      return {
        items,
        nextCursor:
          rows.length > bounded && last !== undefined
            ? encodeCursor('replay', last.createdAtMs, last.id)
            : null,
      }
    })
  }
}
