import { VelocityIndex } from '../src/core/risk/velocity.js'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  loadReferenceData,
  REFERENCE_DIR_DEFAULT,
  type ReferenceData,
} from '../src/adapters/reference/load-reference.js'
import { availableMinor, ledgerBalanceMinor } from '../src/core/ledger/ledger.js'
import { luhnCheckDigit, maskPan, validatePan } from '../src/core/card.js'
import { issueCard } from '../src/core/issue-card.js'
import { CURRENCIES } from '../src/core/money.js'
import type {
  Account,
  Card,
  CardType,
  LimitRule,
  ListEntry,
  Merchant,
  Terminal,
  TransactionRecord,
} from '../src/core/model.js'
import { planBatch, type BatchWork } from '../src/core/pipeline/batch.js'
import type { CoreContext } from '../src/core/pipeline/context.js'
import { expireDueHolds } from '../src/core/pipeline/expiry.js'
import { clearingAccountId, fundingAccountId } from '../src/core/pipeline/keys.js'
import type {
  CoreRequest,
  FollowUpRequest,
  NewTransactionRequest,
} from '../src/core/pipeline/requests.js'
import type { BatchResult } from '../src/core/pipeline/result.js'
import type { BinTable } from '../src/core/reference/bin-table.js'
import type {
  AuditEntry,
  DueHolds,
  NewCard,
  Store,
  TransactionFilter,
  WriteResult,
} from '../src/ports/store.js'

/**
 * The store contract: every Store adapter runs this suite against a fresh, empty store per test.
 * It drives batches through the real core (planBatch), so what it checks is what the switch
 * relies on: snapshots hold what the core needs, changes land exactly, batches are atomic.
 *
 * `open` makes a new empty store; `reopen` (when the adapter keeps data) opens the same data
 * again after the first store is closed; `cleanup` removes whatever `open` made.
 */
export interface OpenedStore {
  readonly store: Store
  readonly reopen?: () => Promise<Store>
  readonly cleanup: () => Promise<void>
}

/** 2026-03-10 12:00 in Shanghai (UTC+8): a fixed instant, so business days are predictable. */
export const CONTRACT_NOW_MS = Date.UTC(2026, 2, 10, 4, 0, 0)
const UTC_OFFSET_MINUTES = 480
const HOLD_EXPIRY_MS = 7 * 24 * 60 * 60 * 1000
const MINUTE_MS = 60_000

const MERCHANT_ID = '898440358120001'
const MERCHANT_2_ID = '898440358120002'
const TERMINAL_ID = '10000001'
const TERMINAL_2_ID = '10000002'
const CARD_TOKEN = 'tok_test1'
const ACCOUNT_ID = 'acct_test1'
const CARD_EXPIRY = '3012'
/** 招商银行 debit cards: BIN 622609, 16 digits. */
const CARD_BIN = '622609'
const CARD_LENGTH = 16
const OPENING_BALANCE_MINOR = 100_000

/**
 * A valid card number: the BIN, a serial padded with zeros to the BIN's length, and the Luhn
 * check digit. Checked against the reference table so that a change in the data shows here.
 */
export function makePan(bins: BinTable, bin: string, length: number, serial: string): string {
  const partial = (bin + serial).padEnd(length - 1, '0')
  const pan = partial + luhnCheckDigit(partial)
  const validation = validatePan(pan, bins)
  if (!validation.ok || validation.bin?.bin !== bin || validation.bin.cardLength !== length) {
    throw new Error(`test card with BIN ${bin} does not validate against the reference data`)
  }
  return pan
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0')
}

/** Counter-based ids, so that runs are deterministic and ids sort by creation order. */
function makeIds() {
  let transaction = 0
  let transfer = 0
  let authorization = 0
  let rrn = 0
  let audit = 0
  return {
    transaction: () => `txn_${pad(++transaction, 6)}`,
    transfer: () => `xfr_${pad(++transfer, 6)}`,
    authorization: () => pad(++authorization, 6),
    rrn: () => pad(++rrn, 12),
    audit: () => `aud_${pad(++audit, 6)}`,
  }
}
type Ids = ReturnType<typeof makeIds>

function merchant(id: string, overrides: Partial<Merchant> = {}): Merchant {
  return {
    id,
    name: `Test shop ${id}`,
    mcc: '5411',
    status: 'approved',
    region: '440300',
    riskTier: 'low',
    createdAtMs: CONTRACT_NOW_MS,
    updatedAtMs: CONTRACT_NOW_MS,
    ...overrides,
  }
}

function terminal(id: string, merchantId: string, overrides: Partial<Terminal> = {}): Terminal {
  return {
    id,
    merchantId,
    status: 'active',
    region: '440300',
    createdAtMs: CONTRACT_NOW_MS,
    updatedAtMs: CONTRACT_NOW_MS,
    ...overrides,
  }
}

function emptyAccount(id: string, overrides: Partial<Account> = {}): Account {
  return {
    id,
    kind: 'cardholder',
    currency: 'CNY',
    creditLimitMinor: 0,
    debitsPendingMinor: 0,
    debitsPostedMinor: 0,
    creditsPendingMinor: 0,
    creditsPostedMinor: 0,
    ...overrides,
  }
}

function cardOf(
  pan: string,
  token: string,
  accountId: string,
  overrides: Partial<Card> = {},
): Card {
  return {
    token,
    masked: maskPan(pan),
    bin: CARD_BIN,
    last4: pan.slice(-4),
    expiry: CARD_EXPIRY,
    type: 'debit',
    status: 'active',
    accountId,
    issuerBank: '招商银行',
    createdAtMs: CONTRACT_NOW_MS,
    updatedAtMs: CONTRACT_NOW_MS,
    ...overrides,
  }
}

function limitRule(id: string, overrides: Partial<LimitRule> = {}): LimitRule {
  return {
    id,
    scope: 'terminal',
    cardType: null,
    mcc: null,
    entityId: null,
    currency: 'CNY',
    perTransactionMaxMinor: null,
    dailyAmountMaxMinor: null,
    dailyCountMax: null,
    note: 'contract test',
    createdAtMs: CONTRACT_NOW_MS,
    updatedAtMs: CONTRACT_NOW_MS,
    ...overrides,
  }
}

function listEntry(id: string, overrides: Partial<ListEntry> = {}): ListEntry {
  return {
    id,
    list: 'block',
    kind: 'terminal',
    value: TERMINAL_2_ID,
    display: TERMINAL_2_ID,
    note: 'contract test',
    expiresAtMs: null,
    createdBy: 'tester',
    createdAtMs: CONTRACT_NOW_MS,
    ...overrides,
  }
}

function decided(result: BatchResult | undefined): TransactionRecord {
  if (result === undefined || result.type !== 'decided') {
    throw new Error(`expected a decided result, got ${JSON.stringify(result)}`)
  }
  return result.transaction
}

async function expectOk(write: Promise<WriteResult>): Promise<void> {
  expect(await write).toEqual({ ok: true })
}

async function expectRefused(
  write: Promise<WriteResult>,
  code: 'conflict' | 'not_found',
): Promise<void> {
  expect(await write).toMatchObject({ ok: false, code })
}

function ids(records: readonly TransactionRecord[]): string[] {
  return records.map((record) => record.id)
}

/** Newest first by (createdAtMs, id), as listTransactions orders. */
function newestFirst(records: readonly TransactionRecord[]): string[] {
  return [...records]
    .sort((a, b) => b.createdAtMs - a.createdAtMs || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
    .map((record) => record.id)
}

export function describeStoreContract(name: string, open: () => Promise<OpenedStore>): void {
  describe(`Store contract: ${name}`, () => {
    let reference: ReferenceData
    let pan: string
    let opened: OpenedStore
    let store: Store
    let idSource: Ids
    const openStores = new Set<Store>()

    beforeAll(() => {
      reference = loadReferenceData(REFERENCE_DIR_DEFAULT)
      pan = makePan(reference.bins, CARD_BIN, CARD_LENGTH, '1234567')
    })

    beforeEach(async () => {
      opened = await open()
      store = opened.store
      openStores.add(store)
      idSource = makeIds()
    })

    afterEach(async () => {
      for (const each of openStores) await each.close()
      openStores.clear()
      await opened.cleanup()
    })

    const audit = (action: string, subject: string, detail: AuditEntry['detail'] = {}) => ({
      id: idSource.audit(),
      atMs: CONTRACT_NOW_MS,
      actor: 'tester',
      action,
      subject,
      detail,
    })

    const context = (nowMs: number): CoreContext => ({
      nowMs,
      settings: { utcOffsetMinutes: UTC_OFFSET_MINUTES, holdExpiryMs: HOLD_EXPIRY_MS },
      bins: reference.bins,
      mccs: reference.mccs,
      newTransactionId: idSource.transaction,
      newTransferId: idSource.transfer,
      newAuthorizationCode: idSource.authorization,
      newRrn: idSource.rrn,
      velocity: new VelocityIndex(),
    })

    /** A card as the admin API issues it: a debit card's amount is its opening balance. */
    const newCard = (
      token: string,
      accountId: string,
      amountMinor: number,
      type: CardType = 'debit',
    ): NewCard => ({
      ...issueCard({
        pan,
        expiry: CARD_EXPIRY,
        type,
        status: 'active',
        amountMinor,
        currency: 'CNY',
        token,
        accountId,
        bin: reference.bins.lookup(pan),
        nowMs: CONTRACT_NOW_MS,
      }),
      openingTransferId: idSource.transfer(),
      nowMs: CONTRACT_NOW_MS,
    })

    // Admin writes with their audit entries, as the HTTP API makes them.
    const addMerchant = (target: Store, id: string) =>
      target.createMerchant(merchant(id), audit('merchant.create', id))
    const addTerminal = (target: Store, id: string, merchantId: string) =>
      target.createTerminal(terminal(id, merchantId), audit('terminal.create', id))
    const addCard = (token: string, accountId: string, openingBalanceMinor: number) =>
      store.createCard(newCard(token, accountId, openingBalanceMinor), audit('card.create', token))
    const putLimit = (rule: LimitRule) => store.putLimit(rule, audit('limit.put', rule.id))
    const putEntry = (entry: ListEntry) => store.putListEntry(entry, audit('list.put', entry.id))

    /** Two merchants, a terminal each, and one debit card with the opening balance. */
    const seed = async (): Promise<void> => {
      await expectOk(addMerchant(store, MERCHANT_ID))
      await expectOk(addMerchant(store, MERCHANT_2_ID))
      await expectOk(addTerminal(store, TERMINAL_ID, MERCHANT_ID))
      await expectOk(addTerminal(store, TERMINAL_2_ID, MERCHANT_2_ID))
      await expectOk(addCard(CARD_TOKEN, ACCOUNT_ID, OPENING_BALANCE_MINOR))
    }

    const sale = (
      stan: string,
      amountMinor: number,
      overrides: Partial<NewTransactionRequest> = {},
    ): NewTransactionRequest => ({
      type: 'new',
      kind: 'purchase',
      channel: 'http',
      terminalId: TERMINAL_ID,
      merchantId: MERCHANT_ID,
      stan,
      transmissionTime: null,
      card: { pan, expiry: CARD_EXPIRY },
      cardToken: CARD_TOKEN,
      amountMinor,
      currency: 'CNY',
      idempotencyKey: null,
      ...overrides,
    })
    const preauthorization = (stan: string, amountMinor: number) =>
      sale(stan, amountMinor, { kind: 'preauthorization' })
    const atTerminal2 = { terminalId: TERMINAL_2_ID, merchantId: MERCHANT_2_ID } as const

    const followUp = (
      kind: FollowUpRequest['kind'],
      originalId: string,
      stan: string,
      amountMinor: number | null = null,
    ): FollowUpRequest => ({
      type: 'follow_up',
      kind,
      channel: 'http',
      originalId,
      stan,
      amountMinor,
      idempotencyKey: null,
    })

    const run = (requests: readonly CoreRequest[], nowMs = CONTRACT_NOW_MS, target = store) =>
      target.runBatch(planBatch(requests, context(nowMs)))
    /** Runs one request in its own batch and returns its result. */
    const runOne = async (request: CoreRequest, nowMs = CONTRACT_NOW_MS, target = store) => {
      const results = await run([request], nowMs, target)
      expect(results).toHaveLength(1)
      return results[0]
    }
    /** Runs one request that must be decided (not rejected) and returns its record. */
    const decide = async (request: CoreRequest, nowMs = CONTRACT_NOW_MS) =>
      decided(await runOne(request, nowMs))

    const cardAccount = async (): Promise<Account> => {
      const account = await store.getAccount(ACCOUNT_ID)
      if (account === null) throw new Error('the card account exists')
      return account
    }
    const clearing = () => store.getAccount(clearingAccountId('CNY'))
    const cnyTotals = async () =>
      (await store.checkLedger()).currencies.find((c) => c.currency === 'CNY')

    const allTransactions = async (filter: Partial<TransactionFilter> = {}) =>
      (await store.listTransactions({ limit: 100, cursor: null, ...filter })).items

    /** A purchase, a preauthorization and a decline for insufficient funds, at CONTRACT_NOW_MS. */
    const firstBatch = async () => {
      const results = await run([
        sale('000001', 30_000),
        preauthorization('000002', 20_000),
        sale('000003', 90_000),
      ])
      expect(results).toHaveLength(3)
      const [purchase, hold, decline] = results.map(decided)
      return { purchase: purchase!, hold: hold!, decline: decline! }
    }

    describe('merchants and terminals', () => {
      it('round-trips, refuses duplicates and reports missing rows', async () => {
        const shop = merchant(MERCHANT_ID)
        const unknownId = '898440358129999'
        await expectOk(store.createMerchant(shop, audit('merchant.create', shop.id)))
        expect(await store.getMerchant(shop.id)).toEqual(shop)
        expect(await store.getMerchant(unknownId)).toBeNull()
        const impostor = merchant(MERCHANT_ID, { name: 'Impostor' })
        const duplicate = store.createMerchant(impostor, audit('merchant.create', shop.id))
        await expectRefused(duplicate, 'conflict')
        expect((await store.getMerchant(shop.id))?.name).toBe(shop.name)

        const suspended = merchant(MERCHANT_ID, {
          status: 'suspended',
          updatedAtMs: CONTRACT_NOW_MS + 1,
        })
        await expectOk(store.updateMerchant(suspended, audit('merchant.update', shop.id)))
        expect(await store.getMerchant(shop.id)).toEqual(suspended)
        const missing = merchant(unknownId)
        const update = store.updateMerchant(missing, audit('merchant.update', unknownId))
        await expectRefused(update, 'not_found')

        const till = terminal(TERMINAL_ID, MERCHANT_ID)
        await expectOk(store.createTerminal(till, audit('terminal.create', till.id)))
        expect(await store.getTerminal(till.id)).toEqual(till)
        expect(await store.getTerminal('99999999')).toBeNull()
        await expectRefused(addTerminal(store, TERMINAL_ID, MERCHANT_ID), 'conflict')
        const inactive = { ...till, status: 'inactive', updatedAtMs: CONTRACT_NOW_MS + 2 } as const
        await expectOk(store.updateTerminal(inactive, audit('terminal.update', till.id)))
        expect(await store.getTerminal(till.id)).toEqual(inactive)
        const stray = terminal('99999999', MERCHANT_ID)
        const strayUpdate = store.updateTerminal(stray, audit('terminal.update', stray.id))
        await expectRefused(strayUpdate, 'not_found')
        // A terminal belongs to a merchant that exists.
        await expectRefused(addTerminal(store, '10000009', unknownId), 'not_found')
        expect(await store.getTerminal('10000009')).toBeNull()
      })

      it('lists by id with cursors', async () => {
        for (const id of ['898440358120003', '898440358120001', '898440358120002']) {
          await expectOk(addMerchant(store, id))
        }
        const first = await store.listMerchants({ limit: 2, cursor: null })
        expect(first.items.map((m) => m.id)).toEqual(['898440358120001', '898440358120002'])
        expect(first.nextCursor).not.toBeNull()
        const second = await store.listMerchants({ limit: 2, cursor: first.nextCursor })
        expect(second.items.map((m) => m.id)).toEqual(['898440358120003'])
        expect(second.nextCursor).toBeNull()

        for (const id of ['10000003', '10000001', '10000002']) {
          await expectOk(addTerminal(store, id, '898440358120001'))
        }
        const terminals: string[] = []
        let cursor: string | null = null
        for (let page = 0; page < 5; page += 1) {
          const result = await store.listTerminals({ limit: 1, cursor })
          terminals.push(...result.items.map((t) => t.id))
          cursor = result.nextCursor
          if (cursor === null) break
        }
        expect(terminals).toEqual(['10000001', '10000002', '10000003'])
        const bogus = store.listMerchants({ limit: 2, cursor: 'not-a-cursor' })
        await expect(bogus).rejects.toMatchObject({ code: 'invalid_cursor' })
      })
    })

    describe('cards and the ledger', () => {
      it('has a clearing and a funding account for every currency', async () => {
        for (const { alpha } of CURRENCIES) {
          const clearingId = clearingAccountId(alpha)
          const fundingId = fundingAccountId(alpha)
          expect(await store.getAccount(clearingId)).toEqual(
            emptyAccount(clearingId, { kind: 'clearing', currency: alpha }),
          )
          expect(await store.getAccount(fundingId)).toEqual(
            emptyAccount(fundingId, { kind: 'funding', currency: alpha }),
          )
        }
        expect(await store.checkLedger()).toMatchObject({
          balanced: true,
          accountsOutOfBound: [],
          accounts: CURRENCIES.length * 2,
        })
      })

      it('creates a card whose opening balance keeps the ledger balanced', async () => {
        const input = newCard(CARD_TOKEN, ACCOUNT_ID, OPENING_BALANCE_MINOR)
        await expectOk(store.createCard(input, audit('card.create', CARD_TOKEN)))
        expect(await store.getCard(CARD_TOKEN)).toEqual(input.card)
        expect(await store.getCard('tok_missing')).toBeNull()
        expect(await store.getAccount(ACCOUNT_ID)).toEqual(
          emptyAccount(ACCOUNT_ID, { creditsPostedMinor: OPENING_BALANCE_MINOR }),
        )
        const funding = await store.getAccount(fundingAccountId('CNY'))
        expect(funding?.debitsPostedMinor).toBe(OPENING_BALANCE_MINOR)
        const check = await store.checkLedger()
        expect(check.balanced).toBe(true)
        expect(check.accountsOutOfBound).toEqual([])
        expect(check.accounts).toBe(CURRENCIES.length * 2 + 1)
        const opened = {
          currency: 'CNY',
          debitsPendingMinor: 0,
          creditsPendingMinor: 0,
          debitsPostedMinor: OPENING_BALANCE_MINOR,
          creditsPostedMinor: OPENING_BALANCE_MINOR,
        }
        expect(await cnyTotals()).toEqual(opened)

        // Neither a second card with the token nor one with the account: nothing written.
        await expectRefused(addCard(CARD_TOKEN, 'acct_other', 5_000), 'conflict')
        expect(await store.getAccount('acct_other')).toBeNull()
        await expectRefused(addCard('tok_other', ACCOUNT_ID, 5_000), 'conflict')
        expect(await store.getCard('tok_other')).toBeNull()
        expect(await cnyTotals()).toEqual(opened)
      })

      it('creates a credit card with its limit and no opening transfer', async () => {
        const input = newCard('tok_credit', 'acct_credit', 500_000, 'credit')
        expect(input.card).toEqual(cardOf(pan, 'tok_credit', 'acct_credit', { type: 'credit' }))
        expect(input.account).toEqual(emptyAccount('acct_credit', { creditLimitMinor: 500_000 }))
        expect(input.openingBalanceMinor).toBe(0)
        await expectOk(store.createCard(input, audit('card.create', 'tok_credit')))
        const account = await store.getAccount('acct_credit')
        expect(account).toEqual(input.account)
        expect(availableMinor(account ?? input.account)).toBe(500_000)
        expect((await store.checkLedger()).balanced).toBe(true)
      })

      it('updates cards and lists them with cursors', async () => {
        await seed()
        const lost = cardOf(pan, CARD_TOKEN, ACCOUNT_ID, {
          status: 'lost',
          updatedAtMs: CONTRACT_NOW_MS + 5,
        })
        await expectOk(store.updateCard(lost, audit('card.update', CARD_TOKEN)))
        expect(await store.getCard(CARD_TOKEN)).toEqual(lost)
        const ghost = cardOf(pan, 'tok_ghost', 'acct_ghost')
        await expectRefused(store.updateCard(ghost, audit('card.update', 'tok_ghost')), 'not_found')
        await expectOk(addCard('tok_a', 'acct_a', 0))
        const first = await store.listCards({ limit: 1, cursor: null })
        const second = await store.listCards({ limit: 1, cursor: first.nextCursor })
        expect(first.items.map((c) => c.token)).toEqual(['tok_a'])
        expect(second.items.map((c) => c.token)).toEqual([CARD_TOKEN])
        expect(second.nextCursor).toBeNull()
      })
    })

    describe('limits, list entries and settings', () => {
      it('round-trips limit rules and deletes them once', async () => {
        const rule = limitRule('lim_1', { perTransactionMaxMinor: 50_000, entityId: TERMINAL_ID })
        await expectOk(putLimit(rule))
        expect(await store.listLimits()).toEqual([rule])
        const tighter = { ...rule, perTransactionMaxMinor: 10_000, updatedAtMs: CONTRACT_NOW_MS }
        await expectOk(putLimit(tighter))
        const other = limitRule('lim_0', {
          scope: 'card',
          cardType: 'credit',
          mcc: '5411',
          dailyCountMax: 3,
          dailyAmountMaxMinor: 9_000,
        })
        await expectOk(putLimit(other))
        expect(await store.listLimits()).toEqual([other, tighter])
        await expectOk(store.deleteLimit(rule.id, audit('limit.delete', rule.id)))
        await expectRefused(store.deleteLimit(rule.id, audit('limit.delete', rule.id)), 'not_found')
        expect(await store.listLimits()).toEqual([other])
      })

      it('round-trips list entries with cursors and deletes them once', async () => {
        const bin = listEntry('lst_2', { kind: 'bin', value: '622609', display: '622609' })
        const card = listEntry('lst_1', {
          kind: 'card',
          value: CARD_TOKEN,
          display: maskPan(pan),
          expiresAtMs: CONTRACT_NOW_MS + 1,
        })
        const till = listEntry('lst_3')
        for (const entry of [bin, card, till]) await expectOk(putEntry(entry))
        const first = await store.listListEntries({ limit: 2, cursor: null })
        expect(first.items).toEqual([card, bin])
        const second = await store.listListEntries({ limit: 2, cursor: first.nextCursor })
        expect(second).toEqual({ items: [till], nextCursor: null })
        const renoted = { ...till, note: 'still blocked' }
        await expectOk(putEntry(renoted))
        await expectOk(store.deleteListEntry('lst_2', audit('list.delete', 'lst_2')))
        const again = store.deleteListEntry('lst_2', audit('list.delete', 'lst_2'))
        await expectRefused(again, 'not_found')
        const all = await store.listListEntries({ limit: 10, cursor: null })
        expect(all.items).toEqual([card, renoted])
      })

      it('keeps settings', async () => {
        expect(await store.getSetting('admin_token_hash')).toBeNull()
        await store.putSetting('admin_token_hash', 'abc')
        expect(await store.getSetting('admin_token_hash')).toBe('abc')
        await store.putSetting('admin_token_hash', 'def')
        expect(await store.getSetting('admin_token_hash')).toBe('def')
        expect(await store.getSetting('other')).toBeNull()
      })
    })

    describe('audit log', () => {
      it('writes one entry with each admin write and none for a refused one', async () => {
        const written: AuditEntry[] = []
        const write = async (
          change: (entry: AuditEntry) => Promise<WriteResult>,
          entry: AuditEntry,
          ok: boolean,
        ): Promise<void> => {
          expect(await change(entry)).toMatchObject({ ok })
          if (ok) written.push(entry)
        }
        const shop = merchant(MERCHANT_ID)
        const renamed = { ...shop, name: 'Renamed' }
        const till = terminal(TERMINAL_ID, MERCHANT_ID)
        const stolen = cardOf(pan, CARD_TOKEN, ACCOUNT_ID, { status: 'stolen' })
        const opening = newCard(CARD_TOKEN, ACCOUNT_ID, 1_000)
        const renaming = { before: { name: shop.name }, after: { name: 'Renamed' } }
        const s = store
        const create = audit('merchant.create', shop.id, { name: shop.name })
        await write((a) => s.createMerchant(shop, a), create, true)
        await write((a) => s.createMerchant(shop, a), audit('merchant.create', shop.id), false)
        const rename = audit('merchant.update', shop.id, renaming)
        await write((a) => s.updateMerchant(renamed, a), rename, true)
        const unknown = merchant('898440358129999')
        await write((a) => s.updateMerchant(unknown, a), audit('merchant.update', 'x'), false)
        await write((a) => s.createTerminal(till, a), audit('terminal.create', till.id), true)
        await write((a) => s.updateTerminal(till, a), audit('terminal.update', till.id), true)
        await write((a) => s.createCard(opening, a), audit('card.create', 'c', { card: 'x' }), true)
        await write((a) => s.updateCard(stolen, a), audit('card.update', CARD_TOKEN), true)
        await write((a) => s.putLimit(limitRule('lim_1'), a), audit('limit.put', 'lim_1'), true)
        await write((a) => s.deleteLimit('lim_1', a), audit('limit.delete', 'lim_1'), true)
        await write((a) => s.deleteLimit('lim_1', a), audit('limit.delete', 'lim_1'), false)
        await write((a) => s.putListEntry(listEntry('lst_1'), a), audit('list.put', 'lst_1'), true)
        await write((a) => s.deleteListEntry('lst_1', a), audit('list.delete', 'lst_1'), true)
        await write((a) => s.deleteListEntry('lst_1', a), audit('list.delete', 'lst_1'), false)

        const first = await store.listAudit({ limit: 5, cursor: null })
        const rest = await store.listAudit({ limit: 100, cursor: first.nextCursor })
        expect(rest.nextCursor).toBeNull()
        expect([...first.items, ...rest.items]).toEqual(written)
      })
    })

    describe('batches', () => {
      it('approves a purchase and a preauthorization, declines for lack of funds', async () => {
        await seed()
        const { purchase, hold, decline } = await firstBatch()
        expect(purchase).toMatchObject({
          kind: 'purchase',
          outcome: 'approved',
          lifecycle: 'posted',
          responseCode: '00',
        })
        expect(hold).toMatchObject({
          kind: 'preauthorization',
          outcome: 'approved',
          lifecycle: 'held',
        })
        expect(hold.holdTransferId).not.toBeNull()
        expect(decline).toMatchObject({
          outcome: 'declined',
          reason: 'insufficient_funds',
          lifecycle: 'none',
        })

        for (const record of [purchase, hold, decline]) {
          expect(await store.getTransaction(record.id)).toEqual(record)
        }
        expect(await store.getTransaction('txn_missing')).toBeNull()
        const account = await cardAccount()
        expect(account).toMatchObject({
          debitsPostedMinor: 30_000,
          debitsPendingMinor: 20_000,
          creditsPostedMinor: OPENING_BALANCE_MINOR,
        })
        expect(availableMinor(account)).toBe(50_000)
        expect(await clearing()).toMatchObject({
          creditsPostedMinor: 30_000,
          creditsPendingMinor: 20_000,
        })
        expect(await store.checkLedger()).toMatchObject({ balanced: true, accountsOutOfBound: [] })
      })

      it('finds transactions with every filter', async () => {
        await seed()
        const { purchase, hold, decline } = await firstBatch()
        const later = CONTRACT_NOW_MS + MINUTE_MS
        const elsewhere = await decide(sale('000004', 1_000, atTerminal2), later)
        expect(elsewhere.outcome).toBe('approved')
        const find = async (filter: Partial<TransactionFilter>) =>
          ids(await allTransactions(filter))
        const atFirst = [decline.id, hold.id, purchase.id]
        const last4 = pan.slice(-4)

        expect(await find({})).toEqual([elsewhere.id, ...atFirst])
        expect(await find({ terminalId: TERMINAL_ID })).toEqual(atFirst)
        expect(await find({ terminalId: TERMINAL_2_ID })).toEqual([elsewhere.id])
        expect(await find({ merchantId: MERCHANT_2_ID })).toEqual([elsewhere.id])
        expect(await find({ merchantId: MERCHANT_ID })).toEqual(atFirst)
        expect(await find({ outcome: 'declined' })).toEqual([decline.id])
        const approvedHere = await find({ outcome: 'approved', terminalId: TERMINAL_ID })
        expect(approvedHere).toEqual([hold.id, purchase.id])
        expect(await find({ reason: 'insufficient_funds' })).toEqual([decline.id])
        expect(await find({ reason: 'card_lost' })).toEqual([])
        expect(await find({ kind: 'preauthorization' })).toEqual([hold.id])
        expect(await find({ cardLast4: last4 })).toHaveLength(4)
        expect(await find({ cardLast4: last4 === '0000' ? '1111' : '0000' })).toEqual([])
        expect(await find({ amountMinor: 20_000 })).toEqual([hold.id])
        expect(await find({ rrn: purchase.rrn })).toEqual([purchase.id])
        expect(await find({ stan: '000002' })).toEqual([hold.id])
        expect(await find({ stan: '000004', terminalId: TERMINAL_ID })).toEqual([])
        // A time range includes its start and excludes its end.
        expect(await find({ fromMs: CONTRACT_NOW_MS + 1 })).toEqual([elsewhere.id])
        expect(await find({ fromMs: CONTRACT_NOW_MS, toMs: later })).toEqual(atFirst)
        expect(await find({ fromMs: later, toMs: later + 1 })).toEqual([elsewhere.id])
        expect(await find({ toMs: CONTRACT_NOW_MS })).toEqual([])
        const everything = await find({
          terminalId: TERMINAL_ID,
          merchantId: MERCHANT_ID,
          outcome: 'declined',
          reason: 'insufficient_funds',
          kind: 'purchase',
          cardLast4: last4,
          amountMinor: 90_000,
          stan: '000003',
          rrn: decline.rrn,
          fromMs: CONTRACT_NOW_MS,
          toMs: later,
        })
        expect(everything).toEqual([decline.id])
      })

      it('pages through transactions newest first with cursors', async () => {
        await seed()
        const sales = (stans: readonly string[]) => stans.map((stan) => sale(stan, 100))
        const early = await run(sales(['000011', '000012', '000013', '000014']))
        const late = await run(sales(['000015', '000016', '000017']), CONTRACT_NOW_MS + 1_000)
        const made = [...early, ...late].map(decided)
        expect(made.every((t) => t.outcome === 'approved')).toBe(true)

        const seen: string[] = []
        const sizes: number[] = []
        let cursor: string | null = null
        for (let page = 0; page < 10; page += 1) {
          const result = await store.listTransactions({ limit: 3, cursor })
          seen.push(...ids(result.items))
          sizes.push(result.items.length)
          cursor = result.nextCursor
          if (cursor === null) break
        }
        expect(sizes).toEqual([3, 3, 1])
        expect(seen).toEqual(newestFirst(made))

        const page = (next: string | null) =>
          store.listTransactions({ limit: 2, cursor: next, terminalId: TERMINAL_ID })
        const filtered = await page(null)
        const following = await page(filtered.nextCursor)
        const both = [...ids(filtered.items), ...ids(following.items)]
        expect(both).toEqual(newestFirst(made).slice(0, 4))
        const bogus = store.listTransactions({ limit: 2, cursor: 'bogus!' })
        await expect(bogus).rejects.toMatchObject({ code: 'invalid_cursor' })
      })

      it('completes a preauthorization and reverses a purchase, updating both', async () => {
        await seed()
        const { purchase, hold } = await firstBatch()
        const at = CONTRACT_NOW_MS + 2 * MINUTE_MS
        const results = await run(
          [
            followUp('completion', hold.id, '000010', 15_000),
            followUp('reversal', purchase.id, '000011'),
          ],
          at,
        )
        const completion = decided(results[0])
        const reversal = decided(results[1])
        expect(completion).toMatchObject({
          kind: 'completion',
          outcome: 'approved',
          originalId: hold.id,
          amountMinor: 15_000,
        })
        expect(reversal).toMatchObject({
          kind: 'reversal',
          outcome: 'approved',
          originalId: purchase.id,
        })

        expect(await store.getTransaction(hold.id)).toMatchObject({
          lifecycle: 'completed',
          completedAmountMinor: 15_000,
          updatedAtMs: at,
        })
        expect(await store.getTransaction(purchase.id)).toMatchObject({
          lifecycle: 'reversed',
          updatedAtMs: at,
        })
        expect(ids(await store.listFollowUps(hold.id))).toEqual([completion.id])
        expect(ids(await store.listFollowUps(purchase.id))).toEqual([reversal.id])
        const account = await cardAccount()
        expect(account).toMatchObject({
          debitsPendingMinor: 0,
          debitsPostedMinor: 45_000,
          creditsPostedMinor: 130_000,
        })
        expect(availableMinor(account)).toBe(85_000)
        expect(await store.checkLedger()).toMatchObject({ balanced: true, accountsOutOfBound: [] })

        // A second reversal of the same purchase finds the first among the follow-ups.
        const repeat = await runOne(followUp('reversal', purchase.id, '000012'), at + 1)
        expect(repeat).toMatchObject({ type: 'decided', replayed: true })
        expect(decided(repeat).id).toBe(reversal.id)
        expect(ids(await store.listFollowUps(purchase.id))).toEqual([reversal.id])
      })

      it('reverses a refund and gives the refunded sale its room back', async () => {
        await seed()
        const purchase = await decide(sale('000001', 30_000))
        const refunding = followUp('refund', purchase.id, '000002', 5_000)
        const refund = await decide(refunding, CONTRACT_NOW_MS + 1)
        expect(refund).toMatchObject({ outcome: 'approved', kind: 'refund' })
        expect((await store.getTransaction(purchase.id))?.refundedAmountMinor).toBe(5_000)
        const reversing = followUp('reversal', refund.id, '000003')
        const reversal = await decide(reversing, CONTRACT_NOW_MS + 2)
        expect(reversal).toMatchObject({ outcome: 'approved', kind: 'reversal' })
        expect(await store.getTransaction(refund.id)).toMatchObject({ lifecycle: 'reversed' })
        expect((await store.getTransaction(purchase.id))?.refundedAmountMinor).toBe(0)
        const account = await cardAccount()
        expect(ledgerBalanceMinor(account)).toBe(70_000)
        expect((await store.checkLedger()).balanced).toBe(true)
      })

      it('replays a retransmission and refuses a reused key with another payload', async () => {
        await seed()
        const original = await decide(sale('000001', 30_000))
        const before = await cardAccount()
        const replay = await runOne(sale('000001', 30_000), CONTRACT_NOW_MS + 5_000)
        expect(replay).toMatchObject({ type: 'decided', replayed: true })
        expect(decided(replay)).toEqual(original)
        const mismatch = await runOne(sale('000001', 31_000), CONTRACT_NOW_MS + 6_000)
        expect(mismatch).toMatchObject({ type: 'rejected', reason: 'duplicate_mismatch' })
        expect(ids(await allTransactions())).toEqual([original.id])
        expect(await cardAccount()).toEqual(before)

        const keyed = await decide(sale('000002', 1_000, { idempotencyKey: 'idem-1' }))
        const again = sale('000003', 1_000, { idempotencyKey: 'idem-1' })
        const retried = await runOne(again, CONTRACT_NOW_MS + 7_000)
        expect(retried).toMatchObject({ type: 'decided', replayed: true })
        expect(decided(retried).id).toBe(keyed.id)
        expect(await allTransactions()).toHaveLength(2)
      })

      it('loads limits, usage counters and block lists for the core', async () => {
        await seed()
        await expectOk(putLimit(limitRule('lim_1', { entityId: TERMINAL_2_ID, dailyCountMax: 1 })))
        expect((await decide(sale('000001', 100, atTerminal2))).outcome).toBe('approved')
        // The count lives in the store between batches.
        expect(await decide(sale('000002', 100, atTerminal2), CONTRACT_NOW_MS + 1)).toMatchObject({
          outcome: 'declined',
          reason: 'terminal_daily_count_limit_exceeded',
        })

        await expectOk(
          putEntry(
            listEntry('lst_0', {
              kind: 'card',
              value: CARD_TOKEN,
              display: maskPan(pan),
              expiresAtMs: CONTRACT_NOW_MS,
            }),
          ),
        )
        expect((await decide(sale('000003', 100), CONTRACT_NOW_MS + 2)).outcome).toBe('approved')
        const prefix = pan.slice(0, 8)
        const binEntry = listEntry('lst_1', { kind: 'bin', value: prefix, display: prefix })
        await expectOk(putEntry(binEntry))
        expect(await decide(sale('000004', 100), CONTRACT_NOW_MS + 3)).toMatchObject({
          outcome: 'declined',
          reason: 'bin_blocked',
        })
      })
    })

    describe('atomicity', () => {
      type Decided = ReturnType<BatchWork['decide']>
      const failing = (work: BatchWork, fail: (result: Decided) => Decided): BatchWork => ({
        originalIds: work.originalIds,
        originalDedupKeys: work.originalDedupKeys,
        keys: (originals, routing) => work.keys(originals, routing),
        decide: (snapshot) => fail(work.decide(snapshot)),
        afterCommit: () => work.afterCommit(),
      })
      const purchaseWork = () => planBatch([sale('000001', 30_000)], context(CONTRACT_NOW_MS))

      it('calls afterCommit once when the batch commits, never when it rolls back', async () => {
        await seed()
        let calls = 0
        const counted = (work: BatchWork): BatchWork => ({
          ...failing(work, (result) => result),
          afterCommit: () => {
            calls += 1
            work.afterCommit()
          },
        })
        await store.runBatch(counted(purchaseWork()))
        expect(calls).toBe(1)
        const throwing = failing(purchaseWork(), () => {
          throw new Error('core failed')
        })
        await expect(store.runBatch(counted(throwing))).rejects.toThrow('core failed')
        expect(calls).toBe(1)
      })

      it('writes nothing when the decision throws', async () => {
        await seed()
        const before = await cardAccount()
        const work = failing(purchaseWork(), () => {
          throw new Error('core failed')
        })
        await expect(store.runBatch(work)).rejects.toThrow('core failed')
        expect(await allTransactions()).toEqual([])
        expect(await cardAccount()).toEqual(before)
        expect((await decide(sale('000001', 30_000))).outcome).toBe('approved')
      })

      it('rolls back the rows written before a write that fails', async () => {
        await seed()
        const before = await cardAccount()
        const clearingBefore = await clearing()
        let inserted: readonly TransactionRecord[] = []
        const work = failing(purchaseWork(), (result) => {
          inserted = result.changes.insertedTransactions
          // The same row twice: the second insert breaks a key after the others were written.
          const twice = [...inserted, ...inserted]
          return { ...result, changes: { ...result.changes, insertedTransactions: twice } }
        })
        await expect(store.runBatch(work)).rejects.toThrow()
        expect(inserted).toHaveLength(1)
        expect(await store.getTransaction(inserted[0]!.id)).toBeNull()
        expect(await cardAccount()).toEqual(before)
        expect(await clearing()).toEqual(clearingBefore)
        // The usage counter did not count the lost sale: a one-a-day rule still lets one through.
        await expectOk(
          putLimit(
            limitRule('lim_1', {
              scope: 'card',
              entityId: CARD_TOKEN,
              dailyCountMax: 1,
            }),
          ),
        )
        expect((await decide(sale('000002', 100))).outcome).toBe('approved')
        expect((await store.checkLedger()).balanced).toBe(true)
      })
    })

    describe('hold expiry', () => {
      it('expires due holds only, at most max at once, releasing the pending amount', async () => {
        await seed()
        const results = await run([
          preauthorization('000001', 10_000),
          preauthorization('000002', 20_000),
          preauthorization('000003', 30_000),
        ])
        const [a, b, c] = results.map(decided)
        const completing = followUp('completion', c!.id, '000004', 30_000)
        const completion = await decide(completing, CONTRACT_NOW_MS + 1)
        expect(completion.outcome).toBe('approved')
        expect((await cardAccount()).debitsPendingMinor).toBe(30_000)

        const expire = (nowMs: number, max: number, seen: DueHolds[] = []) =>
          store.expireHolds(nowMs, max, (due) => {
            seen.push(due)
            return expireDueHolds(due, nowMs)
          })
        expect(await expire(CONTRACT_NOW_MS + HOLD_EXPIRY_MS - 1, 10)).toBe(0)
        const due = CONTRACT_NOW_MS + HOLD_EXPIRY_MS
        const seen: DueHolds[] = []
        expect(await expire(due, 1, seen)).toBe(1)
        expect(seen).toHaveLength(1)
        expect(seen[0]!.transactions).toHaveLength(1)
        expect(seen[0]!.accounts.get(ACCOUNT_ID)).toBeDefined()
        expect(seen[0]!.accounts.get(clearingAccountId('CNY'))).toBeDefined()
        expect(await expire(due, 10)).toBe(1)
        expect(await expire(due, 10)).toBe(0)

        for (const hold of [a!, b!]) {
          expect(await store.getTransaction(hold.id)).toMatchObject({
            lifecycle: 'expired',
            updatedAtMs: due,
          })
        }
        expect(await store.getTransaction(c!.id)).toMatchObject({ lifecycle: 'completed' })
        const account = await cardAccount()
        expect(account).toMatchObject({ debitsPendingMinor: 0, debitsPostedMinor: 30_000 })
        expect(availableMinor(account)).toBe(70_000)
        expect(await clearing()).toMatchObject({ creditsPendingMinor: 0 })
        expect(await store.checkLedger()).toMatchObject({ balanced: true, accountsOutOfBound: [] })
        // An expired preauthorization can no longer be completed.
        const late = await decide(followUp('completion', a!.id, '000005', 100), due + 1)
        expect(late).toMatchObject({ outcome: 'declined', reason: 'original_not_eligible' })
      })
    })

    describe('two connections', () => {
      it('decides each batch on what another connection wrote since the last one', async (test) => {
        if (opened.reopen === undefined) {
          test.skip()
          return
        }
        await seed()
        expect((await decide(sale('000001', 100))).outcome).toBe('approved')
        // An operator's connection (the HTTP API's, while batches run on the worker's).
        const other = await opened.reopen()
        openStores.add(other)
        const lost = cardOf(pan, CARD_TOKEN, ACCOUNT_ID, {
          status: 'lost',
          updatedAtMs: CONTRACT_NOW_MS + 5,
        })
        await expectOk(other.updateCard(lost, audit('card.update', CARD_TOKEN)))
        expect(await decide(sale('000002', 100), CONTRACT_NOW_MS + 6)).toMatchObject({
          outcome: 'declined',
          reason: 'card_lost',
        })
        const suspended = { ...merchant(MERCHANT_2_ID), status: 'suspended' as const }
        await expectOk(other.updateMerchant(suspended, audit('merchant.update', MERCHANT_2_ID)))
        const atSuspended = await decide(sale('000003', 100, atTerminal2), CONTRACT_NOW_MS + 7)
        expect(atSuspended).toMatchObject({ outcome: 'declined', reason: 'merchant_suspended' })
        // And the other connection sees every batch this one committed.
        expect(await other.getAccount(ACCOUNT_ID)).toEqual(await cardAccount())
      })
    })

    describe('durability', () => {
      it('keeps everything across a reopen', async (test) => {
        if (opened.reopen === undefined) {
          test.skip()
          return
        }
        await seed()
        const { purchase, hold } = await firstBatch()
        await store.putSetting('k', 'v')
        const rule = limitRule('lim_1', { perTransactionMaxMinor: 1 })
        await expectOk(putLimit(rule))
        const audits = (await store.listAudit({ limit: 100, cursor: null })).items
        const account = await cardAccount()
        await store.close()
        openStores.delete(store)

        const again = await opened.reopen()
        openStores.add(again)
        expect(await again.getMerchant(MERCHANT_ID)).toEqual(merchant(MERCHANT_ID))
        expect(await again.getTerminal(TERMINAL_ID)).toEqual(terminal(TERMINAL_ID, MERCHANT_ID))
        expect(await again.getCard(CARD_TOKEN)).toEqual(cardOf(pan, CARD_TOKEN, ACCOUNT_ID))
        expect(await again.getAccount(ACCOUNT_ID)).toEqual(account)
        expect(await again.getTransaction(purchase.id)).toEqual(purchase)
        expect(await again.getTransaction(hold.id)).toEqual(hold)
        expect(await again.getSetting('k')).toBe('v')
        expect(await again.listLimits()).toEqual([rule])
        expect((await again.listAudit({ limit: 100, cursor: null })).items).toEqual(audits)
        expect((await again.checkLedger()).balanced).toBe(true)
        // The retransmission is still recognised after the reopen.
        const replay = await runOne(sale('000001', 30_000), CONTRACT_NOW_MS + 1, again)
        expect(replay).toMatchObject({ type: 'decided', replayed: true })
      })
    })
  })
}
