import { randomBytes } from 'node:crypto'
import { loadReferenceData, REFERENCE_DIR_DEFAULT } from '../adapters/reference/load-reference.js'
import { openSqliteStore } from '../adapters/store/sqlite/sqlite-store.js'
import { DEMO_CARDS } from '../app/demo-data.js'
import { assert } from '../core/assert.js'
import { luhnCheckDigit, validatePan } from '../core/card.js'
import type { IssuerRoute, StipPolicy } from '../core/routes/model.js'
import type { AuditEntry } from '../ports/store.js'

/**
 * What a drill sets up before the load: its own merchant and terminals in Tollgate (admin API),
 * cards on the demo cards' BINs with large balances at the simulated bank (control API), and a
 * remote route for those BINs with stand-in limits, written to Tollgate's SQLite file (the
 * running switch picks routes up within a second).
 */

export const DRILL_ROUTE = 'drill_bank'
export const DRILL_MERCHANT = {
  id: '898310054118888',
  name: 'Drill Supermarket',
  mcc: '5411',
  status: 'approved',
  region: '310101',
  riskTier: 'low',
}
export const DRILL_EXPIRY = '3012'
const SETUP_REQUEST_TIMEOUT_MS = 10_000
/** The simulator takes at most 1,000 accounts per request. */
const SIM_ACCOUNTS_PER_REQUEST = 1_000

/** Stand-in limits of the drill route: generous enough to show stand-in, with a ceiling. */
export const DRILL_STIP: StipPolicy = {
  enabled: true,
  perTransactionMaxMinor: 50_000,
  dailyAmountMaxMinor: 300_000,
  dailyCountMax: 20,
  cardTypes: ['debit', 'credit'],
  currency: 'CNY',
}

export interface DrillCard {
  readonly pan: string
  readonly expiry: string
  readonly type: 'debit' | 'credit'
}

export interface DrillFleet {
  readonly terminalIds: readonly string[]
  readonly cards: readonly DrillCard[]
  /** The BIN prefixes routed to the drill route (those of the demo debit and credit cards). */
  readonly prefixes: readonly string[]
}

/**
 * Terminal ids 3xxxxxxx and card numbers on the demo debit (621226, 19 digits) and credit
 * (439225, 16 digits) BINs, role digit 9, Luhn-valid, checked against the BIN table.
 */
export function planFleet(terminals: number, debitCards: number, creditCards: number): DrillFleet {
  const bins = loadReferenceData(REFERENCE_DIR_DEFAULT).bins
  const reserved = new Set<string>(Object.values(DEMO_CARDS).map((c) => c.pan))
  const make = (template: string, type: DrillCard['type'], count: number): DrillCard[] => {
    const bin = template.slice(0, 6)
    const serialDigits = template.length - bin.length - 2
    const cards: DrillCard[] = []
    for (let serial = 0; serial < count * 2 + 10 && cards.length < count; serial += 1) {
      const body = `${bin}9${String(serial).padStart(serialDigits, '0')}`
      const pan = body + luhnCheckDigit(body)
      const checked = validatePan(pan, bins)
      if (!checked.ok || checked.bin?.cardType !== type || reserved.has(pan)) continue
      cards.push({ pan, expiry: DRILL_EXPIRY, type })
    }
    assert(cards.length === count, `drill: ${count} ${type} card numbers on BIN ${bin}`)
    return cards
  }
  const debit = make(DEMO_CARDS.debit.pan, 'debit', debitCards)
  const credit = make(DEMO_CARDS.credit.pan, 'credit', creditCards)
  // Interleave: four debit cards, then one credit card, and so on.
  const cards: DrillCard[] = []
  for (let i = 0, c = 0; i < debit.length || c < credit.length;) {
    for (let k = 0; k < 4 && i < debit.length; k += 1) cards.push(debit[i++] as DrillCard)
    if (c < credit.length) cards.push(credit[c++] as DrillCard)
  }
  return {
    terminalIds: Array.from({ length: terminals }, (_, i) => `3${String(i + 1).padStart(7, '0')}`),
    cards,
    prefixes: [DEMO_CARDS.debit.pan.slice(0, 6), DEMO_CARDS.credit.pan.slice(0, 6)],
  }
}

async function postJson(url: string, body: unknown, token: string | null): Promise<number> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(SETUP_REQUEST_TIMEOUT_MS),
  })
  const text = await response.text()
  if (response.status >= 300)
    throw new Error(`POST ${new URL(url).pathname}: HTTP ${response.status} ${text.slice(0, 300)}`)
  return response.status
}

/** The drill merchant and its terminals, through Tollgate's admin API. */
export async function provisionTollgate(
  url: string,
  token: string,
  fleet: DrillFleet,
): Promise<void> {
  await postJson(`${url}/v1/merchants`, DRILL_MERCHANT, token)
  for (const id of fleet.terminalIds) {
    const terminal = { id, merchantId: DRILL_MERCHANT.id, status: 'active', region: '310101' }
    await postJson(`${url}/v1/terminals`, terminal, token)
  }
}

/** The drill's cards at the simulated bank: debit 1,000,000.00, credit lines of 50,000.00. */
export async function provisionSim(controlUrl: string, fleet: DrillFleet): Promise<void> {
  const accounts = fleet.cards.map((card, i) => ({
    id: `drill_${i + 1}`,
    pan: card.pan,
    expiry: card.expiry,
    type: card.type,
    amount: card.type === 'debit' ? '1000000.00' : '50000.00',
  }))
  for (let i = 0; i < accounts.length; i += SIM_ACCOUNTS_PER_REQUEST)
    await postJson(`${controlUrl}/accounts`, accounts.slice(i, i + SIM_ACCOUNTS_PER_REQUEST), null)
}

function audit(action: string, subject: string): AuditEntry {
  return {
    id: `au_drill_${randomBytes(8).toString('hex')}`,
    atMs: Date.now(),
    actor: 'drill',
    action,
    subject,
    detail: {},
  }
}

export interface RouteSetup {
  readonly isoPort: number
  readonly timeoutMs: number
  readonly stip: StipPolicy
  readonly prefixes: readonly string[]
}

/** A maintenance window of the drill route, absolute times. */
export interface WindowSetup {
  readonly startsAtMs: number
  readonly endsAtMs: number
  readonly mode: 'stand_in' | 'decline'
  readonly note: string
}

/** Writes the route and its BINs to Tollgate's database file. */
export async function configureRoute(databasePath: string, setup: RouteSetup): Promise<void> {
  const store = openSqliteStore({ path: databasePath })
  try {
    const nowMs = Date.now()
    const route: IssuerRoute = {
      id: DRILL_ROUTE,
      name: 'Drill bank',
      bankName: '演练银行 Drill Bank (issuer simulator)',
      kind: 'remote',
      host: '127.0.0.1',
      port: setup.isoPort,
      timeoutMs: setup.timeoutMs,
      stip: setup.stip,
      createdAtMs: nowMs,
      updatedAtMs: nowMs,
    }
    const results = [await store.routing.putRoute(route, audit('route.create', DRILL_ROUTE))]
    for (const prefix of setup.prefixes)
      results.push(
        await store.routing.putBin({ prefix, routeId: DRILL_ROUTE }, audit('bin.put', prefix)),
      )
    for (const result of results)
      if (!result.ok) throw new Error(`drill: configuring the route failed: ${result.message}`)
  } finally {
    await store.close()
  }
}

/** Schedules a maintenance window of the drill route (the switch sees it within a second). */
export async function addWindow(databasePath: string, window: WindowSetup): Promise<void> {
  const store = openSqliteStore({ path: databasePath })
  try {
    const result = await store.routing.putWindow(
      {
        id: `mw_drill_${randomBytes(4).toString('hex')}`,
        routeId: DRILL_ROUTE,
        ...window,
        createdBy: 'drill',
        createdAtMs: Date.now(),
      },
      audit('window.create', DRILL_ROUTE),
    )
    if (!result.ok) throw new Error(`drill: scheduling the window failed: ${result.message}`)
  } finally {
    await store.close()
  }
}
