/**
 * The benchmarks' merchant, terminals and cards: card numbers from real BINs, created through
 * the admin API.
 */
import type { Pool } from 'undici'
import {
  loadReferenceData,
  REFERENCE_DIR_DEFAULT,
} from '../../src/adapters/reference/load-reference.js'
import { DEMO_CARDS, DEMO_UNKNOWN_PAN } from '../../src/app/demo-data.js'
import { assert } from '../../src/core/assert.js'
import { luhnCheckDigit, validatePan } from '../../src/core/card.js'
import type { BinTable } from '../../src/core/reference/bin-table.js'
import { expectCreated, forEachBounded } from './admin.js'

export const PROVISION_CONCURRENCY = 16

/** The benchmark's own merchant: approved, no limit rule names it or its terminals. */
export const BENCH_MERCHANT = {
  id: '898310054119999',
  name: 'Bench Supermarket',
  mcc: '5411',
  status: 'approved',
  region: '310101',
  riskTier: 'low',
}
export const EXPIRY = '3012'

/** Real BINs from reference/cn-card-bin.csv with their card lengths; every number is checked. */
const DEBIT_BINS = [
  { bin: '621226', length: 19 },
  { bin: '622848', length: 19 },
  { bin: '621700', length: 19 },
  { bin: '621661', length: 19 },
  { bin: '622609', length: 16 },
  { bin: '621483', length: 16 },
  { bin: '622260', length: 19 },
] as const
const CREDIT_BINS = [
  { bin: '524047', length: 16 },
  { bin: '438088', length: 16 },
  { bin: '625965', length: 16 },
  { bin: '622575', length: 16 },
  { bin: '622155', length: 16 },
] as const

interface PanPlan {
  readonly specs: readonly { readonly bin: string; readonly length: number }[]
  /** A digit after the BIN that keeps each role's numbers apart. */
  readonly roleDigit: string
  readonly type: 'debit' | 'credit'
  readonly count: number
}

/**
 * Card numbers from real BINs: BIN, role digit, serial, Luhn check digit, each validated as the
 * server will (length for the BIN, Luhn) and of the intended card type.
 */
function generatePans(bins: BinTable, plan: PanPlan, reserved: ReadonlySet<string>): string[] {
  const pans: string[] = []
  const attemptsMax = plan.count * 4 + 100
  for (let serial = 0; serial < attemptsMax && pans.length < plan.count; serial += 1) {
    const spec = plan.specs[serial % plan.specs.length]
    assert(spec !== undefined, 'a BIN spec')
    const serialDigits = spec.length - spec.bin.length - 2
    const body = spec.bin + plan.roleDigit + String(serial).padStart(serialDigits, '0')
    assert(body.length === spec.length - 1, 'the serial fits the card number')
    const pan = body + luhnCheckDigit(body)
    const checked = validatePan(pan, bins)
    if (!checked.ok || checked.bin?.cardType !== plan.type || reserved.has(pan)) continue
    pans.push(pan)
  }
  if (pans.length < plan.count) {
    throw new Error(`could generate only ${pans.length} of ${plan.count} ${plan.type} card numbers`)
  }
  return pans
}

export interface FleetSize {
  readonly terminals: number
  readonly debitCards: number
  readonly creditCards: number
  readonly lowBalanceCards: number
}

export interface Fleet {
  readonly terminalIds: readonly string[]
  readonly debitPans: readonly string[]
  readonly creditPans: readonly string[]
  readonly lowBalancePans: readonly string[]
}

/** Terminal ids and card numbers for the bench merchant, none of them a demo one. */
export function planFleet(size: FleetSize): Fleet {
  const bins = loadReferenceData(REFERENCE_DIR_DEFAULT).bins
  const reserved = new Set([...Object.values(DEMO_CARDS).map((c) => c.pan), DEMO_UNKNOWN_PAN])
  const plan = (specs: PanPlan['specs'], type: PanPlan['type'], roleDigit: string, count: number) =>
    generatePans(bins, { specs, type, roleDigit, count }, reserved)
  return {
    // Terminal ids 2xxxxxxx: apart from the demo terminals (1000000x).
    terminalIds: Array.from(
      { length: size.terminals },
      (_, i) => `2${String(i + 1).padStart(7, '0')}`,
    ),
    debitPans: plan(DEBIT_BINS, 'debit', '7', size.debitCards),
    creditPans: plan(CREDIT_BINS, 'credit', '7', size.creditCards),
    lowBalancePans: plan(DEBIT_BINS, 'debit', '8', size.lowBalanceCards),
  }
}

/** Creates the bench merchant, its terminals and the cards through the admin API. */
export async function provision(pool: Pool, token: string, fleet: Fleet): Promise<void> {
  await expectCreated(pool, token, '/v1/merchants', BENCH_MERCHANT, 'the bench merchant')
  await forEachBounded(fleet.terminalIds, PROVISION_CONCURRENCY, (id) => {
    const terminal = { id, merchantId: BENCH_MERCHANT.id, status: 'active', region: '310101' }
    return expectCreated(pool, token, '/v1/terminals', terminal, `terminal ${id}`)
  })
  const cards = [
    ...fleet.debitPans.map((pan) => ({
      pan,
      expiry: EXPIRY,
      type: 'debit',
      balance: '1000000.00',
    })),
    ...fleet.lowBalancePans.map((pan) => ({ pan, expiry: EXPIRY, type: 'debit', balance: '0.50' })),
    ...fleet.creditPans.map((pan) => ({
      pan,
      expiry: EXPIRY,
      type: 'credit',
      creditLimit: '50000.00',
    })),
  ]
  await forEachBounded(cards, PROVISION_CONCURRENCY, (card) => {
    const what = `a ${card.type} card of BIN ${card.pan.slice(0, 6)}`
    return expectCreated(pool, token, '/v1/cards', card, what)
  })
}
