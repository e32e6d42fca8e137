import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  BREAKER_DEFAULT,
  CircuitBreaker,
  validateBreaker,
  type BreakerConfig,
  type BreakerTicket,
  type BreakerTransition,
} from './breaker.js'

const T0 = 1_700_000_000_000
const config: BreakerConfig = {
  windowMs: 10_000,
  bucketCount: 10,
  requestsMin: 4,
  failureRatePercent: 50,
  coolDownMs: 1_000,
  halfOpenProbesMax: 2,
  halfOpenSuccessesToClose: 2,
}

function admitted(breaker: CircuitBreaker, nowMs: number): BreakerTicket {
  const admission = breaker.admit(nowMs)
  if (!admission.admitted) throw new Error(`refused in ${admission.state}`)
  return admission.ticket
}

/** Opens a fresh breaker with `requestsMin` failures at T0. */
function opened(): CircuitBreaker {
  const breaker = new CircuitBreaker(config, T0)
  for (let i = 0; i < config.requestsMin; i += 1)
    breaker.record(admitted(breaker, T0), 'failure', T0)
  expect(breaker.state).toBe('open')
  return breaker
}

describe('circuit breaker', () => {
  it('stays closed below the minimum request count, however bad the rate', () => {
    const breaker = new CircuitBreaker(config, T0)
    for (let i = 0; i < config.requestsMin - 1; i += 1)
      expect(breaker.record(admitted(breaker, T0), 'failure', T0)).toBeNull()
    expect(breaker.state).toBe('closed')
  })

  it('opens at the threshold rate with the minimum count, and records why', () => {
    const breaker = new CircuitBreaker(config, T0)
    breaker.record(admitted(breaker, T0), 'success', T0)
    breaker.record(admitted(breaker, T0), 'success', T0)
    breaker.record(admitted(breaker, T0), 'failure', T0)
    const transition = breaker.record(admitted(breaker, T0 + 5), 'failure', T0 + 5)
    expect(transition).toEqual({
      atMs: T0 + 5,
      from: 'closed',
      to: 'open',
      reason: 'failure_rate',
      outcomes: 4,
      failures: 2,
    })
    expect(breaker.snapshot(T0 + 5).lastTransition).toEqual(transition)
  })

  it('stays closed just below the threshold rate', () => {
    const breaker = new CircuitBreaker(config, T0)
    for (const outcome of ['success', 'success', 'success', 'failure', 'failure'] as const)
      breaker.record(admitted(breaker, T0), outcome, T0)
    expect(breaker.state).toBe('closed') // 2 of 5 = 40 %
  })

  it('forgets outcomes older than the window', () => {
    const breaker = new CircuitBreaker(config, T0)
    for (let i = 0; i < 3; i += 1) breaker.record(admitted(breaker, T0), 'failure', T0)
    const later = T0 + config.windowMs + 1
    expect(breaker.record(admitted(breaker, later), 'failure', later)).toBeNull()
    expect(breaker.snapshot(later)).toMatchObject({ state: 'closed', outcomes: 1, failures: 1 })
  })

  it('refuses while open and tells how long to wait', () => {
    const breaker = opened()
    expect(breaker.admit(T0 + 400)).toEqual({
      admitted: false,
      state: 'open',
      retryAfterMs: 600,
      transition: null,
    })
  })

  it('goes half-open after the cool-down and lets at most halfOpenProbesMax through', () => {
    const breaker = opened()
    const first = breaker.admit(T0 + config.coolDownMs)
    expect(first.admitted).toBe(true)
    expect(first.transition).toMatchObject({
      from: 'open',
      to: 'half_open',
      reason: 'cool_down_elapsed',
    })
    expect(breaker.admit(T0 + config.coolDownMs).admitted).toBe(true)
    expect(breaker.admit(T0 + config.coolDownMs)).toMatchObject({
      admitted: false,
      state: 'half_open',
    })
  })

  it('closes after enough probe successes, with an empty window', () => {
    const breaker = opened()
    const at = T0 + config.coolDownMs
    const a = admitted(breaker, at)
    const b = admitted(breaker, at)
    expect(breaker.record(a, 'success', at)).toBeNull()
    expect(breaker.record(b, 'success', at)).toMatchObject({
      to: 'closed',
      reason: 'probe_succeeded',
    })
    expect(breaker.snapshot(at)).toMatchObject({ state: 'closed', outcomes: 0, probesInFlight: 0 })
  })

  it('re-opens on a probe failure and starts a new cool-down', () => {
    const breaker = opened()
    const at = T0 + config.coolDownMs
    const probe = admitted(breaker, at)
    expect(breaker.record(probe, 'failure', at + 10)).toMatchObject({
      from: 'half_open',
      to: 'open',
      reason: 'probe_failed',
    })
    expect(breaker.admit(at + 10 + config.coolDownMs - 1).admitted).toBe(false)
    expect(breaker.admit(at + 10 + config.coolDownMs).admitted).toBe(true)
  })

  it('ignores outcomes of requests let through before a transition', () => {
    const breaker = new CircuitBreaker(config, T0)
    const early = admitted(breaker, T0)
    for (let i = 0; i < 4; i += 1) breaker.record(admitted(breaker, T0), 'failure', T0)
    expect(breaker.state).toBe('open')
    expect(breaker.record(early, 'success', T0 + 1)).toBeNull()
    const at = T0 + config.coolDownMs
    admitted(breaker, at)
    expect(breaker.record(early, 'success', at)).toBeNull()
    expect(breaker.snapshot(at)).toMatchObject({ state: 'half_open', probeSuccesses: 0 })
  })

  it('gives a released probe slot back', () => {
    const breaker = opened()
    const at = T0 + config.coolDownMs
    const a = admitted(breaker, at)
    admitted(breaker, at)
    expect(breaker.admit(at).admitted).toBe(false)
    breaker.release(a)
    expect(breaker.admit(at).admitted).toBe(true)
  })

  it('counts echoes as probes once half-open, and not before', () => {
    const breaker = opened()
    expect(breaker.recordEcho('success', T0 + 10)).toEqual([])
    expect(breaker.state).toBe('open')
    const at = T0 + config.coolDownMs
    expect(breaker.recordEcho('success', at).map((t) => t.to)).toEqual(['half_open'])
    expect(breaker.recordEcho('success', at + 1).map((t) => [t.to, t.reason])).toEqual([
      ['closed', 'echo_succeeded'],
    ])
    expect(breaker.recordEcho('failure', at + 2)).toEqual([]) // closed: echoes do not count
    const again = opened()
    expect(again.recordEcho('failure', at).map((t) => [t.to, t.reason])).toEqual([
      ['half_open', 'cool_down_elapsed'],
      ['open', 'echo_failed'],
    ])
  })

  it('validates its configuration', () => {
    expect(validateBreaker(BREAKER_DEFAULT)).toEqual([])
    expect(validateBreaker({ ...config, failureRatePercent: 0 })).toHaveLength(1)
    expect(validateBreaker({ ...config, failureRatePercent: 101 })).toHaveLength(1)
    expect(validateBreaker({ ...config, windowMs: 10_001 })).toHaveLength(1)
    expect(() => new CircuitBreaker({ ...config, requestsMin: 0 }, T0)).toThrow(/requestsMin/)
  })

  type Step =
    | { readonly op: 'admit' }
    | { readonly op: 'record'; readonly pick: number; readonly failure: boolean }
    | { readonly op: 'release'; readonly pick: number }
    | { readonly op: 'echo'; readonly failure: boolean }
    | { readonly op: 'wait'; readonly ms: number }
  const arbStep: fc.Arbitrary<Step> = fc.oneof(
    fc.constant({ op: 'admit' as const }),
    fc.record({ op: fc.constant('record' as const), pick: fc.nat(), failure: fc.boolean() }),
    fc.record({ op: fc.constant('release' as const), pick: fc.nat() }),
    fc.record({ op: fc.constant('echo' as const), failure: fc.boolean() }),
    fc.record({ op: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 3_000 }) }),
  )

  it('property: only legal transitions, probes bounded, open refuses until its cool-down', () => {
    const legal = new Set(['closed>open', 'open>half_open', 'half_open>closed', 'half_open>open'])
    fc.assert(
      fc.property(fc.array(arbStep, { maxLength: 300 }), (steps) => {
        let now = T0
        const breaker = new CircuitBreaker(config, now)
        const tickets: BreakerTicket[] = []
        const transitions: BreakerTransition[] = []
        const note = (t: BreakerTransition | null): void => {
          if (t !== null) transitions.push(t)
        }
        for (const step of steps) {
          const before = breaker.snapshot(now)
          switch (step.op) {
            case 'admit': {
              const admission = breaker.admit(now)
              note(admission.transition)
              if (admission.admitted) tickets.push(admission.ticket)
              else if (admission.state === 'open')
                expect(now - breaker.snapshot(now).sinceMs).toBeLessThan(config.coolDownMs)
              if (before.state === 'open' && now - before.sinceMs < config.coolDownMs)
                expect(admission.admitted).toBe(false)
              break
            }
            case 'record':
            case 'release': {
              if (tickets.length === 0) break
              const [ticket] = tickets.splice(step.pick % tickets.length, 1)
              if (step.op === 'release') breaker.release(ticket!)
              else note(breaker.record(ticket!, step.failure ? 'failure' : 'success', now))
              break
            }
            case 'echo':
              for (const t of breaker.recordEcho(step.failure ? 'failure' : 'success', now)) note(t)
              break
            case 'wait':
              now += step.ms
              break
          }
          const after = breaker.snapshot(now)
          expect(after.probesInFlight).toBeGreaterThanOrEqual(0)
          expect(after.probesInFlight).toBeLessThanOrEqual(config.halfOpenProbesMax)
          if (after.state !== 'half_open') expect(after.probesInFlight).toBe(0)
          if (after.state === 'closed')
            expect(
              after.failures * 100 < config.failureRatePercent * after.outcomes ||
                after.outcomes < config.requestsMin,
            ).toBe(true)
        }
        let previous: BreakerTransition | null = null
        for (const t of transitions) {
          expect(legal.has(`${t.from}>${t.to}`)).toBe(true)
          if (previous !== null) {
            expect(t.from).toBe(previous.to)
            expect(t.atMs).toBeGreaterThanOrEqual(previous.atMs)
            if (previous.to === 'open')
              expect(t.atMs - previous.atMs).toBeGreaterThanOrEqual(config.coolDownMs)
          }
          previous = t
        }
      }),
      { numRuns: 300 },
    )
  })
})
