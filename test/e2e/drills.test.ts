import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import type { DrillReport } from '../../src/drills/report.js'
import { runDrill } from '../../src/drills/runner.js'
import { findScenario, SCENARIOS } from '../../src/drills/scenarios.js'
import { CLI } from '../support/issuer-link-client.js'

/**
 * `tollgate drill` end to end: the built simulator and server as child processes, a seeded fault
 * schedule, short load phases. Each drill must pass every invariant on both ledgers, and the
 * report must show the failure was exercised.
 */

const DRILL_TEST_TIMEOUT_MS = 60_000

async function drill(name: string, seed: number): Promise<DrillReport> {
  const scenario = findScenario(name)
  if (scenario === undefined) throw new Error(`no scenario ${name}`)
  return runDrill({
    scenario,
    seed,
    durationS: 8,
    ratePerSecond: 40,
    concurrency: 32,
    recoveryWaitS: 30,
    cli: CLI,
  })
}

function expectInvariants(report: DrillReport): void {
  const failed = report.checks.filter((c) => c.status !== 'pass')
  expect(failed, JSON.stringify(failed)).toEqual([])
  expect(report.verdict).toBe('PASS')
  expect(report.requests.unanswered).toBe(0)
  expect(report.requests.answered).toBe(report.requests.sent)
  // Both ledgers: the route account equals the approved sales and the issuer's net debits.
  expect(report.ledgers.tollgateIssuerAccountMinor).toBe(report.ledgers.tollgateApprovedMinor)
  expect(report.ledgers.issuerNetDebitsMinor).toBe(report.ledgers.tollgateIssuerAccountMinor)
  expect(report.reversals.pending).toBe(0)
  expect(report.reversals.acknowledged).toBe(report.reversals.queued)
  expect(report.standIn.advicesDelivered).toBe(report.standIn.advicesQueued)
  expect(report.standIn.advicesAppliedAtIssuer).toBe(report.standIn.advicesDelivered)
}

describe('tollgate drill', () => {
  it(
    'dropping: lost answers are timed out, declined and reversed exactly once',
    async () => {
      const report = await drill('dropping', 5)
      expectInvariants(report)
      const timedOut = report.outcomes['declined issuer_timeout'] ?? 0
      expect(timedOut).toBeGreaterThan(0)
      expect(report.reversals.queued).toBe(timedOut)
      // Lost answers were processed by the bank: each such debit was undone once.
      expect(report.reversals.appliedAtIssuer).toBe(timedOut)
    },
    DRILL_TEST_TIMEOUT_MS,
  )

  it(
    'recovering: reversals and advices wait while the host is down, then are all delivered',
    async () => {
      const report = await drill('recovering', 7)
      expectInvariants(report)
      expect(report.standIn.approvals).toBeGreaterThan(0)
      expect(report.standIn.advicesQueued).toBe(report.standIn.approvals)
      expect(report.reversals.queued).toBeGreaterThan(0)
      expect(report.timeline.some((e) => e.what.includes('outbox drained'))).toBe(true)
    },
    DRILL_TEST_TIMEOUT_MS,
  )

  it(
    'maintenance: stands in within limits during the window, then delivers the advices',
    async () => {
      const report = await drill('maintenance', 3)
      expectInvariants(report)
      expect(report.standIn.approvals).toBeGreaterThan(0)
      expect(report.outcomes['declined issuer_maintenance'] ?? 0).toBeGreaterThan(0)
    },
    DRILL_TEST_TIMEOUT_MS,
  )

  it('the CLI lists the scenarios and refuses an unknown one with exit code 2', () => {
    const list = spawnSync(process.execPath, [CLI, 'drill', '--list'], { encoding: 'utf8' })
    expect(list.status).toBe(0)
    for (const s of SCENARIOS) expect(list.stdout).toContain(`${s.name}: `)
    const bad = spawnSync(process.execPath, [CLI, 'drill', 'earthquake'], { encoding: 'utf8' })
    expect(bad.status).toBe(2)
    expect(bad.stderr).toContain('unknown scenario')
    const duration = spawnSync(process.execPath, [CLI, 'drill', 'slow', '--duration', '1'], {
      encoding: 'utf8',
    })
    expect(duration.status).toBe(2)
    expect(duration.stderr).toContain('--duration')
  })
})
