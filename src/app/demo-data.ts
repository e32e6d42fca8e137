import { parseAmount } from '../core/money.js'
import type {
  CardStatus,
  CardType,
  LimitRule,
  ListEntry,
  Merchant,
  MerchantStatus,
  Terminal,
  TerminalStatus,
} from '../core/model.js'

/**
 * Demo data for the embedded default: merchants in every status, terminals, debit and credit
 * cards with realistic balances and limits, limit rules and a block list — enough for
 * `tollgate demo` to trigger an approval and a block of every family. The card numbers are
 * test numbers (real BIN prefixes, valid Luhn digit) and appear only here and in the README:
 * the database keeps tokens and masked forms.
 */
export interface DemoMerchant {
  readonly id: string
  readonly name: string
  readonly mcc: string
  readonly status: MerchantStatus
  readonly region: string
}
export interface DemoTerminal {
  readonly id: string
  readonly merchantId: string
  readonly status: TerminalStatus
  readonly region: string
}
export interface DemoCard {
  readonly pan: string
  readonly expiry: string
  readonly type: CardType
  /** Debit: balance; credit: credit limit. Decimal string in CNY. */
  readonly amount: string
  readonly status: CardStatus
  readonly label: string
}

export const DEMO_MERCHANTS = {
  noodles: {
    id: '898310058120001',
    name: '上海面馆 Shanghai Noodle House',
    mcc: '5812',
    status: 'approved',
    region: '310101',
  },
  grocery: {
    id: '898310054110002',
    name: '华美超市 Huamei Supermarket',
    mcc: '5411',
    status: 'approved',
    region: '310104',
  },
  digital: {
    id: '898440057320003',
    name: '深圳数码城 Shenzhen Digital Mall',
    mcc: '5732',
    status: 'restricted',
    region: '440304',
  },
  gifts: {
    id: '898110059990004',
    name: '北京礼品店 Beijing Gift Shop',
    mcc: '5999',
    status: 'pending_audit',
    region: '110101',
  },
  fuel: {
    id: '898330055410005',
    name: '杭州加油站 Hangzhou Fuel Station',
    mcc: '5541',
    status: 'suspended',
    region: '330106',
  },
  hotel: {
    id: '898310070110006',
    name: '外滩酒店 Bund Hotel',
    mcc: '7011',
    status: 'approved',
    region: '310101',
  },
  remit: {
    id: '898440048290007',
    name: '快汇汇款 Quick Remit',
    mcc: '4829',
    status: 'approved',
    region: '440305',
  },
  listed: {
    id: '898310059990008',
    name: '可疑商户 Listed Merchant',
    mcc: '5999',
    status: 'approved',
    region: '310115',
  },
} as const satisfies Record<string, DemoMerchant>

export const DEMO_TERMINALS = {
  noodles: {
    id: '10000001',
    merchantId: DEMO_MERCHANTS.noodles.id,
    status: 'active',
    region: '310101',
  },
  grocery: {
    id: '10000002',
    merchantId: DEMO_MERCHANTS.grocery.id,
    status: 'active',
    region: '310104',
  },
  digital: {
    id: '10000003',
    merchantId: DEMO_MERCHANTS.digital.id,
    status: 'active',
    region: '440304',
  },
  gifts: {
    id: '10000004',
    merchantId: DEMO_MERCHANTS.gifts.id,
    status: 'active',
    region: '110101',
  },
  fuel: { id: '10000005', merchantId: DEMO_MERCHANTS.fuel.id, status: 'active', region: '330106' },
  hotel: {
    id: '10000006',
    merchantId: DEMO_MERCHANTS.hotel.id,
    status: 'active',
    region: '310101',
  },
  noodlesOld: {
    id: '10000007',
    merchantId: DEMO_MERCHANTS.noodles.id,
    status: 'inactive',
    region: '310101',
  },
  remit: {
    id: '10000008',
    merchantId: DEMO_MERCHANTS.remit.id,
    status: 'active',
    region: '440305',
  },
  hotelListed: {
    id: '10000009',
    merchantId: DEMO_MERCHANTS.hotel.id,
    status: 'active',
    region: '310101',
  },
  listed: {
    id: '10000010',
    merchantId: DEMO_MERCHANTS.listed.id,
    status: 'active',
    region: '310115',
  },
} as const satisfies Record<string, DemoTerminal>

export const DEMO_CARDS = {
  debit: {
    pan: '6212260200001234505',
    expiry: '3012',
    type: 'debit',
    amount: '5000.00',
    status: 'active',
    label: 'ICBC debit, balance 5,000.00',
  },
  lowBalance: {
    pan: '6226090012345605',
    expiry: '2912',
    type: 'debit',
    amount: '30.00',
    status: 'active',
    label: 'CMB debit, balance 30.00',
  },
  credit: {
    pan: '4392250098765406',
    expiry: '3106',
    type: 'credit',
    amount: '20000.00',
    status: 'active',
    label: 'CMB credit, limit 20,000.00',
  },
  smallCredit: {
    pan: '6225750055500009',
    expiry: '2908',
    type: 'credit',
    amount: '1000.00',
    status: 'active',
    label: 'CMB credit, limit 1,000.00',
  },
  lost: {
    pan: '6217000200005550009',
    expiry: '3003',
    type: 'debit',
    amount: '800.00',
    status: 'lost',
    label: 'CCB debit, reported lost',
  },
  stolen: {
    pan: '6228480200007770007',
    expiry: '3003',
    type: 'debit',
    amount: '800.00',
    status: 'stolen',
    label: 'ABC debit, reported stolen',
  },
  inactive: {
    pan: '6227000200008880006',
    expiry: '3003',
    type: 'debit',
    amount: '800.00',
    status: 'inactive',
    label: 'CCB debit, frozen',
  },
  listed: {
    pan: '6222020200009990009',
    expiry: '3003',
    type: 'debit',
    amount: '800.00',
    status: 'active',
    label: 'ICBC debit, on the block list',
  },
  expired: {
    pan: '4367420200004440001',
    expiry: '2301',
    type: 'debit',
    amount: '800.00',
    status: 'active',
    label: 'CCB debit, expired January 2023',
  },
  binListed: {
    pan: '6225880011122208',
    expiry: '3003',
    type: 'debit',
    amount: '800.00',
    status: 'active',
    label: 'CMB debit, BIN 622588 on the block list',
  },
  counted: {
    pan: '6212260200002222301',
    expiry: '3012',
    type: 'debit',
    amount: '2000.00',
    status: 'active',
    label: 'ICBC debit, at most 3 payments a day',
  },
} as const satisfies Record<string, DemoCard>

/** A valid card number that is not on file: the local issuer has no such account. */
export const DEMO_UNKNOWN_PAN = '6226090099998805'

function cny(text: string): number {
  const parsed = parseAmount(text, 2)
  if (!parsed.ok) throw new Error(`demo amount ${text} is invalid`)
  return parsed.value
}

type DemoLimit = Omit<LimitRule, 'createdAtMs' | 'updatedAtMs' | 'entityId'> & {
  readonly entity: { readonly card: string } | { readonly id: string } | null
}

export const DEMO_LIMITS: readonly DemoLimit[] = [
  {
    id: 'lim_demo_debit_single',
    scope: 'card',
    cardType: 'debit',
    mcc: null,
    entity: null,
    currency: 'CNY',
    perTransactionMaxMinor: cny('50000.00'),
    dailyAmountMaxMinor: cny('100000.00'),
    dailyCountMax: null,
    note: 'Debit cards: 50,000.00 per payment, 100,000.00 a day',
  },
  {
    id: 'lim_demo_credit_daily',
    scope: 'card',
    cardType: 'credit',
    mcc: null,
    entity: null,
    currency: 'CNY',
    perTransactionMaxMinor: null,
    dailyAmountMaxMinor: cny('10000.00'),
    dailyCountMax: 30,
    note: 'Credit cards: 10,000.00 and 30 payments a day',
  },
  {
    id: 'lim_demo_card_count',
    scope: 'card',
    cardType: null,
    mcc: null,
    entity: { card: DEMO_CARDS.counted.pan },
    currency: 'CNY',
    perTransactionMaxMinor: null,
    dailyAmountMaxMinor: null,
    dailyCountMax: 3,
    note: "This card: at most 3 payments a day (set at the cardholder's request)",
  },
  {
    id: 'lim_demo_noodles_single',
    scope: 'merchant',
    cardType: null,
    mcc: null,
    entity: { id: DEMO_MERCHANTS.noodles.id },
    currency: 'CNY',
    perTransactionMaxMinor: cny('2000.00'),
    dailyAmountMaxMinor: cny('50000.00'),
    dailyCountMax: null,
    note: 'Restaurant risk profile: 2,000.00 per payment, 50,000.00 a day',
  },
  {
    id: 'lim_demo_hotel_daily',
    scope: 'merchant',
    cardType: null,
    mcc: null,
    entity: { id: DEMO_MERCHANTS.hotel.id },
    currency: 'CNY',
    perTransactionMaxMinor: null,
    dailyAmountMaxMinor: cny('30000.00'),
    dailyCountMax: 200,
    note: 'Hotel: 30,000.00 a day',
  },
  {
    id: 'lim_demo_grocery_terminal',
    scope: 'terminal',
    cardType: null,
    mcc: null,
    entity: { id: DEMO_TERMINALS.grocery.id },
    currency: 'CNY',
    perTransactionMaxMinor: null,
    dailyAmountMaxMinor: cny('20000.00'),
    dailyCountMax: 500,
    note: 'Checkout lane 1: 20,000.00 and 500 payments a day',
  },
]

type DemoListEntry = Omit<ListEntry, 'createdAtMs' | 'value' | 'display' | 'createdBy'> & {
  readonly target: { readonly card: string } | { readonly value: string }
}

export const DEMO_LIST_ENTRIES: readonly DemoListEntry[] = [
  {
    id: 'le_demo_card',
    list: 'block',
    kind: 'card',
    target: { card: DEMO_CARDS.listed.pan },
    note: 'Chargeback fraud reported by the issuer (case 2026-1107)',
    expiresAtMs: null,
  },
  {
    id: 'le_demo_bin',
    list: 'block',
    kind: 'bin',
    target: { value: '622588' },
    note: 'Compromised BIN range under investigation',
    expiresAtMs: null,
  },
  {
    id: 'le_demo_terminal',
    list: 'block',
    kind: 'terminal',
    target: { value: DEMO_TERMINALS.hotelListed.id },
    note: 'Terminal reported stolen from the hotel lobby',
    expiresAtMs: null,
  },
  {
    id: 'le_demo_merchant',
    list: 'block',
    kind: 'merchant',
    target: { value: DEMO_MERCHANTS.listed.id },
    note: 'Cash-out (套现) pattern confirmed by risk review',
    expiresAtMs: null,
  },
]

export function demoMerchants(nowMs: number): Merchant[] {
  return Object.values(DEMO_MERCHANTS).map((m) => ({
    ...m,
    riskTier: m.status === 'approved' ? 'low' : 'medium',
    createdAtMs: nowMs,
    updatedAtMs: nowMs,
  }))
}

export function demoTerminals(nowMs: number): Terminal[] {
  return Object.values(DEMO_TERMINALS).map((t) => ({
    ...t,
    createdAtMs: nowMs,
    updatedAtMs: nowMs,
  }))
}
