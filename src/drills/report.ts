import type { JournalEntry } from '../issuer-sim/journal.js'
import type { TollgateEvidence } from './evidence.js'
import type { LoadResult } from './load.js'
import type { DrillScenario } from './scenarios.js'

/**
 * A drill's report: what happened, counted, and the invariant checks on both ledgers, each
 * named, with a verdict. Pure: everything it needs is collected by the runner first.
 */

export interface SimLedger {
  readonly totals: {
    readonly purchases: { readonly count: number; readonly amountMinor: number }
    readonly advices: { readonly count: number; readonly amountMinor: number }
    readonly reversals: {
      readonly count: number
      readonly amountMinor: number
      readonly withoutOriginal: number
      readonly repeated: number
    }
    readonly declines: Readonly<Record<string, number>>
  }
  readonly byCurrency: Readonly<Record<string, { readonly postedMinor: number }>>
}

export interface Collected {
  readonly scenario: DrillScenario
  readonly seed: number
  readonly durationMs: number
  readonly requestTimeoutMs: number
  readonly startedAt: string
  /** The route's settlement account id, issuer:<route>:CNY. */
  readonly issuerAccount: string
  readonly setupMs: number
  readonly recoveryMs: number
  /** The outbox had nothing pending within the recovery bound. */
  readonly drained: boolean
  readonly load: readonly LoadResult[]
  readonly tollgate: TollgateEvidence
  readonly sim: SimLedger
  readonly journal: readonly JournalEntry[]
  readonly journalTotal: number
  readonly journalMax: number
  readonly ledgerCheck: { readonly status: number; readonly balanced: boolean | null }
  /** Events of the fault schedule and the window, ms after the load began. */
  readonly planned: readonly { readonly atMs: number; readonly what: string }[]
}

export type CheckStatus = 'pass' | 'fail' | 'skip'

export interface Check {
  readonly name: string
  readonly status: CheckStatus
  readonly detail: string
}

export interface DrillReport {
  readonly scenario: string
  readonly title: string
  readonly exercises: string
  readonly seed: number
  readonly durationS: number
  readonly routeTimeoutMs: number
  readonly startedAt: string
  readonly verdict: 'PASS' | 'FAIL'
  readonly failed: readonly string[]
  readonly timeline: readonly { readonly atS: number; readonly what: string }[]
  /** Per second of the load phase: requests started and how they ended. */
  readonly perSecond: readonly {
    readonly second: number
    readonly approved: number
    readonly standIn: number
    readonly declined: number
    readonly unanswered: number
  }[]
  readonly requests: {
    readonly sent: number
    readonly answered: number
    readonly unanswered: number
    readonly byStatus: Readonly<Record<string, number>>
  }
  readonly outcomes: Readonly<Record<string, number>>
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number }
  readonly reversals: {
    readonly queued: number
    readonly attempts: number
    readonly acknowledged: number
    readonly pending: number
    readonly appliedAtIssuer: number
    readonly withoutOriginalAtIssuer: number
    readonly repeatsAtIssuer: number
  }
  readonly standIn: {
    readonly approvals: number
    readonly advicesQueued: number
    readonly advicesDelivered: number
    readonly advicesAppliedAtIssuer: number
  }
  readonly ledgers: {
    readonly tollgateIssuerAccountMinor: number
    readonly tollgateApprovedMinor: number
    readonly issuerNetDebitsMinor: number
  }
  readonly setupS: number
  readonly recoveryS: number
  readonly checks: readonly Check[]
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return Math.round((sorted[index] ?? 0) * 10) / 10
}

const keyOf = (terminalId: string | null, stan: string | null, time: string | null) =>
  `${terminalId ?? ''}|${stan ?? ''}|${time ?? ''}`

const isReversal = (mti: string | null) => mti === '0400' || mti === '0420' || mti === '0421'
const isAdvice = (mti: string | null) => mti === '0220' || mti === '0221'

/** Per correlation key: what the simulated bank applied (from its journal). */
function issuerEffects(journal: readonly JournalEntry[]) {
  const effects = new Map<string, { debited: number; reversed: number; advised: number }>()
  for (const entry of journal) {
    const key = keyOf(entry.terminalId, entry.stan, entry.transmissionTime)
    const row = effects.get(key) ?? { debited: 0, reversed: 0, advised: 0 }
    if (entry.mti === '0200' && entry.note.includes('approved: debited')) row.debited += 1
    if (isReversal(entry.mti) && entry.note.includes('reversal applied')) row.reversed += 1
    if (isAdvice(entry.mti) && entry.note.includes('advice applied')) row.advised += 1
    effects.set(key, row)
  }
  return effects
}

const money = (minor: number) =>
  `${minor < 0 ? '-' : ''}${Math.floor(Math.abs(minor) / 100)}.${String(Math.abs(minor) % 100).padStart(2, '0')}`

export function buildReport(c: Collected): DrillReport {
  const { tollgate, load, scenario } = c
  const byTx = new Map<string, { request?: string; reversal?: string; advice?: string }>()
  for (const m of tollgate.outbox) {
    const row = byTx.get(m.transactionId) ?? {}
    row[m.kind] = m.status
    byTx.set(m.transactionId, row)
  }
  const stored = new Map(tollgate.transactions.map((t) => [t.id, t]))
  const standInIds = new Set(
    tollgate.outbox.filter((m) => m.kind === 'advice').map((m) => m.transactionId),
  )
  const classify = (t: { outcome: string; reason: string | null; id: string }) =>
    t.outcome === 'approved'
      ? standInIds.has(t.id)
        ? 'approved (stand-in)'
        : 'approved (issuer)'
      : `declined ${t.reason ?? '?'}`

  // ---- counts
  const outcomes: Record<string, number> = {}
  for (const t of tollgate.transactions) outcomes[classify(t)] = (outcomes[classify(t)] ?? 0) + 1
  const answered = load.filter((r) => r.status !== null)
  const byStatus: Record<string, number> = {}
  for (const r of load) {
    const label = r.status === null ? `no answer (${r.error ?? '?'})` : String(r.status)
    byStatus[label] = (byStatus[label] ?? 0) + 1
  }
  const latencies = answered.map((r) => r.latencyMs).sort((a, b) => a - b)
  const reversals = tollgate.outbox.filter((m) => m.kind === 'reversal')
  const advices = tollgate.outbox.filter((m) => m.kind === 'advice')
  const attemptsOf = (m: { attempts: number; status: string }) =>
    m.attempts + (m.status === 'delivered' ? 1 : 0)
  const approvedMinor = tollgate.transactions
    .filter((t) => t.outcome === 'approved' && t.lifecycle === 'posted')
    .reduce((sum, t) => sum + t.amountMinor, 0)
  const simNet = c.sim.byCurrency['156']?.postedMinor ?? 0

  // ---- checks
  const checks: Check[] = []
  const check = (name: string, ok: boolean | null, detail: string) =>
    checks.push({ name, status: ok === null ? 'skip' : ok ? 'pass' : 'fail', detail })

  const unanswered = load.length - answered.length
  const not201 = answered.filter((r) => r.status !== 201).length
  check(
    'every_request_answered',
    unanswered === 0 && not201 === 0 && load.length > 0,
    `${answered.length} of ${load.length} answered within ${c.requestTimeoutMs} ms; ${not201} not 201`,
  )

  let clientMismatch = 0
  for (const r of answered) {
    const t = r.transactionId === null ? undefined : stored.get(r.transactionId)
    if (t === undefined || (t.outcome === 'approved') !== r.approved) clientMismatch += 1
  }
  check(
    'answers_match_store',
    clientMismatch === 0,
    clientMismatch === 0
      ? 'every answer the terminals got is stored with the same outcome'
      : `${clientMismatch} answers not stored as answered`,
  )

  check(
    'outbox_drained',
    c.drained,
    c.drained
      ? `no reversal or advice pending after ${(c.recoveryMs / 1000).toFixed(1)} s`
      : `messages still pending after ${(c.recoveryMs / 1000).toFixed(1)} s`,
  )

  check(
    'ledgers_agree',
    tollgate.issuerNetMinor === simNet && tollgate.issuerNetMinor === approvedMinor,
    `Tollgate ${c.issuerAccount} ${money(tollgate.issuerNetMinor)}, approved sales ${money(approvedMinor)}, issuer net debits ${money(simNet)}`,
  )

  const journalComplete = c.journalTotal <= c.journalMax
  const effects = issuerEffects(c.journal)
  const requestKeys = new Map(
    tollgate.outbox
      .filter((m) => m.kind === 'request' || m.kind === 'advice')
      .map((m) => [
        `${m.kind}:${m.transactionId}`,
        keyOf(m.terminalId, m.stan, m.transmissionTime),
      ]),
  )
  const timedOut = tollgate.transactions.filter((t) => t.reason === 'issuer_timeout')
  const reversalProblems: string[] = []
  for (const t of timedOut) {
    const messages = byTx.get(t.id)
    if (messages?.reversal !== 'delivered')
      reversalProblems.push(`${t.id}: reversal ${messages?.reversal ?? 'missing'}`)
    if (!journalComplete) continue
    const effect = effects.get(requestKeys.get(`request:${t.id}`) ?? '')
    const debited = effect?.debited ?? 0
    const reversed = effect?.reversed ?? 0
    if (reversed > 1 || debited > 1 || reversed !== debited)
      reversalProblems.push(`${t.id}: issuer debited ${debited}, reversed ${reversed}`)
  }
  check(
    'timeouts_reversed_once',
    reversalProblems.length === 0,
    reversalProblems.length === 0
      ? `${timedOut.length} timed out; each reversal delivered once${journalComplete ? ' and the issuer undid each debit exactly once' : ' (issuer journal wrapped: per-message check skipped)'}`
      : `${reversalProblems.length} problems: ${reversalProblems.slice(0, 5).join('; ')}`,
  )

  const approvalProblems: string[] = []
  for (const t of tollgate.transactions) {
    if (t.outcome !== 'approved') continue
    const messages = byTx.get(t.id)
    if (messages?.advice !== undefined) {
      if (messages.advice !== 'delivered')
        approvalProblems.push(`${t.id}: advice ${messages.advice}`)
      else if (
        journalComplete &&
        (effects.get(requestKeys.get(`advice:${t.id}`) ?? '')?.advised ?? 0) !== 1
      )
        approvalProblems.push(`${t.id}: advice not applied exactly once`)
      continue
    }
    if (messages?.request !== 'answered' || messages.reversal !== undefined) {
      approvalProblems.push(`${t.id}: approved without an issuer answer or a stand-in decision`)
      continue
    }
    const effect = effects.get(requestKeys.get(`request:${t.id}`) ?? '')
    if (journalComplete && (effect?.debited !== 1 || effect.reversed !== 0))
      approvalProblems.push(
        `${t.id}: issuer debited ${effect?.debited ?? 0}, reversed ${effect?.reversed ?? 0}`,
      )
  }
  check(
    'approvals_evidenced',
    approvalProblems.length === 0,
    approvalProblems.length === 0
      ? 'every approval has the issuer’s 00 (debited once, not reversed) or a stand-in decision whose advice was applied once'
      : `${approvalProblems.length} problems: ${approvalProblems.slice(0, 5).join('; ')}`,
  )

  check(
    'tollgate_ledger_balanced',
    c.ledgerCheck.balanced === true,
    `GET /v1/ledger/check: HTTP ${c.ledgerCheck.status}, balanced ${String(c.ledgerCheck.balanced)}`,
  )

  const standInApprovals = tollgate.transactions.filter(
    (t) => t.outcome === 'approved' && standInIds.has(t.id),
  ).length
  const missing: string[] = []
  if (scenario.expect.timeouts === true && timedOut.length === 0)
    missing.push('no request timed out')
  if (scenario.expect.reversals === true && reversals.length === 0)
    missing.push('no reversal queued')
  if (scenario.expect.standIn === true && standInApprovals === 0)
    missing.push('no stand-in approval')
  if (scenario.expect.advices === true && advices.length === 0) missing.push('no advice queued')
  check(
    'scenario_exercised',
    missing.length === 0,
    missing.length === 0 ? 'the failure happened and was handled' : missing.join('; '),
  )

  // ---- timeline
  const timeline: { atS: number; what: string }[] = c.planned.map((p) => ({
    atS: p.atMs / 1000,
    what: p.what,
  }))
  const firstLast = new Map<string, [number, number, number]>()
  for (const r of answered) {
    const t = r.transactionId === null ? undefined : stored.get(r.transactionId)
    if (t === undefined || classify(t) === 'approved (issuer)') continue
    const label = classify(t)
    const seen = firstLast.get(label)
    firstLast.set(
      label,
      seen === undefined
        ? [r.startedAtMs, r.startedAtMs, 1]
        : [Math.min(seen[0], r.startedAtMs), Math.max(seen[1], r.startedAtMs), seen[2] + 1],
    )
  }
  for (const [label, [first, last, n]] of firstLast)
    timeline.push(
      { atS: first / 1000, what: `first ${label} (${n} in all)` },
      ...(n > 1 ? [{ atS: last / 1000, what: `last ${label}` }] : []),
    )
  timeline.push({ atS: c.durationMs / 1000, what: 'load stopped; waiting for the outbox to drain' })
  timeline.push({
    atS: (c.durationMs + c.recoveryMs) / 1000,
    what: c.drained
      ? 'outbox drained: every reversal and advice acknowledged'
      : 'recovery bound reached with messages pending',
  })
  timeline.sort((a, b) => a.atS - b.atS)

  const seconds = Math.ceil(c.durationMs / 1000)
  const perSecond = Array.from({ length: seconds }, (_, second) => ({
    second,
    approved: 0,
    standIn: 0,
    declined: 0,
    unanswered: 0,
  }))
  for (const r of load) {
    const bucket = perSecond[Math.min(seconds - 1, Math.floor(r.startedAtMs / 1000))]
    if (bucket === undefined) continue
    const t = r.transactionId === null ? undefined : stored.get(r.transactionId)
    if (r.status === null || t === undefined) bucket.unanswered += 1
    else if (t.outcome !== 'approved') bucket.declined += 1
    else if (standInIds.has(t.id)) bucket.standIn += 1
    else bucket.approved += 1
  }

  const failed = checks.filter((x) => x.status === 'fail').map((x) => x.name)
  return {
    scenario: scenario.name,
    title: scenario.title,
    exercises: scenario.exercises,
    seed: c.seed,
    durationS: c.durationMs / 1000,
    routeTimeoutMs: scenario.routeTimeoutMs,
    startedAt: c.startedAt,
    verdict: failed.length === 0 ? 'PASS' : 'FAIL',
    failed,
    timeline: timeline.map((e) => ({ atS: Math.round(e.atS * 10) / 10, what: e.what })),
    perSecond,
    requests: { sent: load.length, answered: answered.length, unanswered, byStatus },
    outcomes,
    latencyMs: {
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: percentile(latencies, 100),
    },
    reversals: {
      queued: reversals.length,
      attempts: reversals.reduce((sum, m) => sum + attemptsOf(m), 0),
      acknowledged: reversals.filter((m) => m.status === 'delivered').length,
      pending: reversals.filter((m) => m.status === 'pending').length,
      appliedAtIssuer: c.sim.totals.reversals.count,
      withoutOriginalAtIssuer: c.sim.totals.reversals.withoutOriginal,
      repeatsAtIssuer: c.sim.totals.reversals.repeated,
    },
    standIn: {
      approvals: standInApprovals,
      advicesQueued: advices.length,
      advicesDelivered: advices.filter((m) => m.status === 'delivered').length,
      advicesAppliedAtIssuer: c.sim.totals.advices.count,
    },
    ledgers: {
      tollgateIssuerAccountMinor: tollgate.issuerNetMinor,
      tollgateApprovedMinor: approvedMinor,
      issuerNetDebitsMinor: simNet,
    },
    setupS: Math.round(c.setupMs / 100) / 10,
    recoveryS: Math.round(c.recoveryMs / 100) / 10,
    checks,
  }
}

/** The report as an operator reads it. */
export function formatReport(r: DrillReport): string {
  const lines: string[] = []
  const pad = (text: string, width: number) => text.padEnd(width)
  lines.push(`DRILL ${r.scenario} — ${r.title}`)
  lines.push(`  ${r.exercises}`)
  lines.push(
    `  seed ${r.seed}, load ${r.durationS} s, route timeout ${r.routeTimeoutMs} ms, started ${r.startedAt} (setup ${r.setupS} s, recovery ${r.recoveryS} s)`,
  )
  lines.push('', 'Timeline (seconds after the load began)')
  for (const e of r.timeline) lines.push(`  ${e.atS.toFixed(1).padStart(6)}  ${e.what}`)
  lines.push('', 'Per second       approved  stand-in  declined  no answer')
  for (const s of r.perSecond)
    lines.push(
      `  ${String(s.second).padStart(4)}–${String(s.second + 1).padEnd(4)}      ${String(s.approved).padStart(8)}  ${String(s.standIn).padStart(8)}  ${String(s.declined).padStart(8)}  ${String(s.unanswered).padStart(9)}`,
    )
  lines.push('', `Requests: ${r.requests.sent} sent, ${r.requests.answered} answered`)
  for (const [status, n] of Object.entries(r.requests.byStatus))
    lines.push(`  HTTP ${pad(status, 28)} ${n}`)
  lines.push('Outcomes (as stored)')
  for (const [label, n] of Object.entries(r.outcomes).sort((a, b) => b[1] - a[1]))
    lines.push(`  ${pad(label, 34)} ${n}`)
  lines.push(
    `Latency: p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, max ${r.latencyMs.max} ms`,
    `Reversals: ${r.reversals.queued} queued, ${r.reversals.attempts} sent (attempts), ${r.reversals.acknowledged} acknowledged, ${r.reversals.pending} pending; at the issuer ${r.reversals.appliedAtIssuer} applied, ${r.reversals.withoutOriginalAtIssuer} without original, ${r.reversals.repeatsAtIssuer} repeats`,
    `Stand-in: ${r.standIn.approvals} approvals, ${r.standIn.advicesQueued} advices queued, ${r.standIn.advicesDelivered} delivered, ${r.standIn.advicesAppliedAtIssuer} applied at the issuer`,
    `Ledgers: Tollgate issuer account ${money(r.ledgers.tollgateIssuerAccountMinor)} CNY, approved sales ${money(r.ledgers.tollgateApprovedMinor)}, issuer net debits ${money(r.ledgers.issuerNetDebitsMinor)}`,
    '',
    'Checks',
  )
  for (const x of r.checks)
    lines.push(
      `  ${x.status === 'pass' ? 'PASS' : x.status === 'fail' ? 'FAIL' : 'SKIP'}  ${pad(x.name, 26)} ${x.detail}`,
    )
  lines.push(
    '',
    r.verdict === 'PASS'
      ? `VERDICT: PASS (${r.checks.length} checks)`
      : `VERDICT: FAIL — ${r.failed.join(', ')}`,
  )
  return lines.join('\n')
}
