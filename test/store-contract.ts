import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  loadReferenceData,
  REFERENCE_DIR_DEFAULT,
  type ReferenceData,
} from '../src/adapters/reference/load-reference.js'
import { availableMinor } from '../src/core/ledger/ledger.js'
import { luhnCheckDigit, maskPan, validatePan } from '../src/core/card.js'
import { CURRENCIES } from '../src/core/money.js'
import type {
  Account,
  Card,
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
import type { RequestResult } from '../src/core/pipeline/result.js'
import type { BinTable } from '../src/core/reference/bin-table.js'
import type { AuditEntry, DueHolds, NewCard, Store, TransactionFilter } from '../src/ports/store.js'

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
    id, name: `Test shop ${id}`, mcc: '5411', status: 'approved', region: '440300',
    riskTier: 'low', createdAtMs: CONTRACT_NOW_MS, updatedAtMs: CONTRACT_NOW_MS, ...overrides,
  }
}

function terminal(id: string, merchantId: string, overrides: Partial<Terminal> = {}): Terminal {
  return {
    id, merchantId, status: 'active', region: '440300', createdAtMs: CONTRACT_NOW_MS,
    updatedAtMs: CONTRACT_NOW_MS, ...overrides,
  }
}

function emptyAccount(id: string, overrides: Partial<Account> = {}): Account {
  return {
    id, kind: 'cardholder', currency: 'CNY', creditLimitMinor: 0, debitsPendingMinor: 0,
    debitsPostedMinor: 0, creditsPendingMinor: 0, creditsPostedMinor: 0, ...overrides,
  }
}

function cardOf(pan: string, token: string, accountId: string, overrides: Partial<Card> = {}): Card {
  return {
    token, masked: maskPan(pan), bin: CARD_BIN, last4: pan.slice(-4), expiry: CARD_EXPIRY,
    type: 'debit', status: 'active', accountId, issuerBank: '招商银行',
    createdAtMs: CONTRACT_NOW_MS, updatedAtMs: CONTRACT_NOW_MS, ...overrides,
  }
}

function limitRule(id: string, overrides: Partial<LimitRule> = {}): LimitRule {
  return {
    id, scope: 'terminal', cardType: null, mcc: null, entityId: null, currency: 'CNY',
    perTransactionMaxMinor: null, dailyAmountMaxMinor: null, dailyCountMax: null,
    note: 'contract test', createdAtMs: CONTRACT_NOW_MS, updatedAtMs: CONTRACT_NOW_MS,
    ...overrides,
  }
}

function listEntry(id: string, overrides: Partial<ListEntry> = {}): ListEntry {
  return {
    id, list: 'block', kind: 'terminal', value: TERMINAL_2_ID, display: TERMINAL_2_ID,
    note: 'contract test', expiresAtMs: null, createdBy: 'tester', createdAtMs: CONTRACT_NOW_MS,
    ...overrides,
  }
}

function decided(result: RequestResult | undefined): TransactionRecord {
  if (result === undefined || result.type !== 'decided') {
    throw new Error(`expected a decided result, got ${JSON.stringify(result)}`)
  }
  return result.transaction
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
      id: idSource.audit(), atMs: CONTRACT_NOW_MS, actor: 'tester', action, subject, detail,
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
    })

    const newCard = (token: string, accountId: string, openingBalanceMinor: number): NewCard => ({
      card: cardOf(pan, token, accountId),
      account: emptyAccount(accountId),
      openingBalanceMinor,
      openingTransferId: idSource.transfer(),
      nowMs: CONTRACT_NOW_MS,
    })

    /** Two merchants, a terminal each, and one debit card with the opening balance. */
    const seed = async (target: Store = store): Promise<void> => {
      const writes = [
        await target.createMerchant(merchant(MERCHANT_ID), audit('merchant.create', MERCHANT_ID)),
        await target.createMerchant(merchant(MERCHANT_2_ID), audit('merchant.create', MERCHANT_2_ID)),
        await target.createTerminal(
          terminal(TERMINAL_ID, MERCHANT_ID), audit('terminal.create', TERMINAL_ID),
        ),
        await target.createTerminal(
          terminal(TERMINAL_2_ID, MERCHANT_2_ID), audit('terminal.create', TERMINAL_2_ID),
        ),
        await target.createCard(
          newCard(CARD_TOKEN, ACCOUNT_ID, OPENING_BALANCE_MINOR), audit('card.create', CARD_TOKEN),
        ),
      ]
      for (const result of writes) expect(result).toEqual({ ok: true })
    }

    const sale = (
      stan: string,
      amountMinor: number,
      overrides: Partial<NewTransactionRequest> = {},
    ): NewTransactionRequest => ({
      type: 'new', kind: 'purchase', channel: 'http', terminalId: TERMINAL_ID,
      merchantId: MERCHANT_ID, stan, transmissionTime: null, card: { pan, expiry: CARD_EXPIRY },
      cardToken: CARD_TOKEN, amountMinor, currency: 'CNY', idempotencyKey: null, ...overrides,
    })

    const followUp = (
      kind: FollowUpRequest['kind'],
      originalId: string,
      stan: string,
      amountMinor: number | null = null,
    ): FollowUpRequest => ({
      type: 'follow_up', kind, channel: 'http', originalId, stan, amountMinor, idempotencyKey: null,
    })

    const run = (requests: readonly CoreRequest[], nowMs = CONTRACT_NOW_MS, target = store) =>
      target.runBatch(planBatch(requests, context(nowMs)))

    const cardAccount = async (): Promise<Account> => {
      const account = await store.getAccount(ACCOUNT_ID)
      if (account === null) throw new Error('the card account exists')
      return account
    }

    const allTransactions = async (filter: Partial<TransactionFilter> = {}) =>
      (await store.listTransactions({ limit: 100, cursor: null, ...filter })).items

    /** A purchase, a preauthorization and a decline for insufficient funds, at CONTRACT_NOW_MS. */
    const firstBatch = async () => {
      const results = await run([
        sale('000001', 30_000),
        sale('000002', 20_000, { kind: 'preauthorization' }),
        sale('000003', 90_000),
      ])
      expect(results).toHaveLength(3)
      return { purchase: decided(results[0]), hold: decided(results[1]), decline: decided(results[2]) }
    }

    describe('merchants and terminals', () => {
      it('round-trips, refuses duplicates and reports missing rows', async () => {
        const shop = merchant(MERCHANT_ID)
        expect(await store.createMerchant(shop, audit('merchant.create', shop.id))).toEqual({ ok: true })
        expect(await store.getMerchant(shop.id)).toEqual(shop)
        expect(await store.getMerchant('898440358129999')).toBeNull()
        const again = await store.createMerchant(
          merchant(MERCHANT_ID, { name: 'Impostor' }), audit('merchant.create', shop.id),
        )
        expect(again).toMatchObject({ ok: false, code: 'conflict' })
        expect((await store.getMerchant(shop.id))?.name).toBe(shop.name)

        const suspended = { ...shop, status: 'suspended' as const, updatedAtMs: CONTRACT_NOW_MS + 1 }
        expect(await store.updateMerchant(suspended, audit('merchant.update', shop.id))).toEqual({ ok: true })
        expect(await store.getMerchant(shop.id)).toEqual(suspended)
        const missing = await store.updateMerchant(
          merchant('898440358129999'), audit('merchant.update', '898440358129999'),
        )
        expect(missing).toMatchObject({ ok: false, code: 'not_found' })

        const till = terminal(TERMINAL_ID, MERCHANT_ID)
        expect(await store.createTerminal(till, audit('terminal.create', till.id))).toEqual({ ok: true })
        expect(await store.getTerminal(till.id)).toEqual(till)
        expect(await store.getTerminal('99999999')).toBeNull()
        expect(await store.createTerminal(till, audit('terminal.create', till.id))).toMatchObject({
          ok: false, code: 'conflict',
        })
        const inactive = { ...till, status: 'inactive' as const, updatedAtMs: CONTRACT_NOW_MS + 2 }
        expect(await store.updateTerminal(inactive, audit('terminal.update', till.id))).toEqual({ ok: true })
        expect(await store.getTerminal(till.id)).toEqual(inactive)
        const stray = terminal('99999999', MERCHANT_ID)
        expect(await store.updateTerminal(stray, audit('terminal.update', stray.id))).toMatchObject({
          ok: false, code: 'not_found',
        })
        const orphan = terminal('10000009', '898440358129999')
        expect(await store.createTerminal(orphan, audit('terminal.create', orphan.id))).toMatchObject({
          ok: false, code: 'not_found',
        })
        expect(await store.getTerminal(orphan.id)).toBeNull()
      })

      it('lists by id with cursors', async () => {
        const merchantIds = ['898440358120003', '898440358120001', '898440358120002']
        for (const id of merchantIds) {
          expect(await store.createMerchant(merchant(id), audit('merchant.create', id))).toEqual({ ok: true })
        }
        const first = await store.listMerchants({ limit: 2, cursor: null })
        expect(first.items.map((m) => m.id)).toEqual(['898440358120001', '898440358120002'])
        expect(first.nextCursor).not.toBeNull()
        const second = await store.listMerchants({ limit: 2, cursor: first.nextCursor })
        expect(second.items.map((m) => m.id)).toEqual(['898440358120003'])
        expect(second.nextCursor).toBeNull()

        for (const id of ['10000003', '10000001', '10000002']) {
          const till = terminal(id, '898440358120001')
          expect(await store.createTerminal(till, audit('terminal.create', id))).toEqual({ ok: true })
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
        await expect(store.listMerchants({ limit: 2, cursor: 'not-a-cursor' })).rejects.toMatchObject({
          code: 'invalid_cursor',
        })
      })
    })

    describe('cards and the ledger', () => {
      it('has a clearing and a funding account for every currency', async () => {
        for (const currency of CURRENCIES) {
          expect(await store.getAccount(clearingAccountId(currency.alpha))).toEqual(
            emptyAccount(clearingAccountId(currency.alpha), { kind: 'clearing', currency: currency.alpha }),
          )
          expect(await store.getAccount(fundingAccountId(currency.alpha))).toEqual(
            emptyAccount(fundingAccountId(currency.alpha), { kind: 'funding', currency: currency.alpha }),
          )
        }
        const check = await store.checkLedger()
        expect(check).toMatchObject({ balanced: true, accountsOutOfBound: [], accounts: CURRENCIES.length * 2 })
      })

      it('creates a card whose opening balance keeps the ledger balanced', async () => {
        const input = newCard(CARD_TOKEN, ACCOUNT_ID, OPENING_BALANCE_MINOR)
        expect(await store.createCard(input, audit('card.create', CARD_TOKEN))).toEqual({ ok: true })
        expect(await store.getCard(CARD_TOKEN)).toEqual(input.card)
        expect(await store.getCard('tok_missing')).toBeNull()
        expect(await store.getAccount(ACCOUNT_ID)).toEqual(
          emptyAccount(ACCOUNT_ID, { creditsPostedMinor: OPENING_BALANCE_MINOR }),
        )
        expect((await store.getAccount(fundingAccountId('CNY')))?.debitsPostedMinor).toBe(
          OPENING_BALANCE_MINOR,
        )
        const check = await store.checkLedger()
        expect(check.balanced).toBe(true)
        expect(check.accountsOutOfBound).toEqual([])
        expect(check.accounts).toBe(CURRENCIES.length * 2 + 1)
        expect(check.currencies.find((c) => c.currency === 'CNY')).toEqual({
          currency: 'CNY', debitsPendingMinor: 0, creditsPendingMinor: 0,
          debitsPostedMinor: OPENING_BALANCE_MINOR, creditsPostedMinor: OPENING_BALANCE_MINOR,
        })

        const duplicate = await store.createCard(
          newCard(CARD_TOKEN, 'acct_other', 5_000), audit('card.create', CARD_TOKEN),
        )
        expect(duplicate).toMatchObject({ ok: false, code: 'conflict' })
        expect(await store.getAccount('acct_other')).toBeNull()
        const sameAccount = await store.createCard(
          newCard('tok_other', ACCOUNT_ID, 5_000), audit('card.create', 'tok_other'),
        )
        expect(sameAccount).toMatchObject({ ok: false, code: 'conflict' })
        expect(await store.getCard('tok_other')).toBeNull()
        expect((await store.checkLedger()).currencies.find((c) => c.currency === 'CNY')).toMatchObject({
          debitsPostedMinor: OPENING_BALANCE_MINOR, creditsPostedMinor: OPENING_BALANCE_MINOR,
        })
      })

      it('creates a credit card with its limit and no opening transfer', async () => {
        const input: NewCard = {
          card: cardOf(pan, 'tok_credit', 'acct_credit', { type: 'credit' }),
          account: emptyAccount('acct_credit', { creditLimitMinor: 500_000 }),
          openingBalanceMinor: 0,
          openingTransferId: idSource.transfer(),
          nowMs: CONTRACT_NOW_MS,
        }
        expect(await store.createCard(input, audit('card.create', 'tok_credit'))).toEqual({ ok: true })
        const account = await store.getAccount('acct_credit')
        expect(account).toEqual(input.account)
        expect(availableMinor(account ?? input.account)).toBe(500_000)
        expect((await store.checkLedger()).balanced).toBe(true)
      })

      it('updates cards and lists them with cursors', async () => {
        await seed()
        const lost: Card = { ...cardOf(pan, CARD_TOKEN, ACCOUNT_ID), status: 'lost', updatedAtMs: CONTRACT_NOW_MS + 5 }
        expect(await store.updateCard(lost, audit('card.update', CARD_TOKEN))).toEqual({ ok: true })
        expect(await store.getCard(CARD_TOKEN)).toEqual(lost)
        const ghost = cardOf(pan, 'tok_ghost', 'acct_ghost')
        expect(await store.updateCard(ghost, audit('card.update', 'tok_ghost'))).toMatchObject({
          ok: false, code: 'not_found',
        })
        expect(await store.createCard(newCard('tok_a', 'acct_a', 0), audit('card.create', 'tok_a')))
          .toEqual({ ok: true })
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
        expect(await store.putLimit(rule, audit('limit.put', rule.id))).toEqual({ ok: true })
        expect(await store.listLimits()).toEqual([rule])
        const tighter = { ...rule, perTransactionMaxMinor: 10_000, updatedAtMs: CONTRACT_NOW_MS + 1 }
        expect(await store.putLimit(tighter, audit('limit.put', rule.id))).toEqual({ ok: true })
        const other = limitRule('lim_0', { scope: 'card', cardType: 'credit', mcc: '5411', dailyCountMax: 3, dailyAmountMaxMinor: 9_000 })
        expect(await store.putLimit(other, audit('limit.put', other.id))).toEqual({ ok: true })
        expect(await store.listLimits()).toEqual([other, tighter])
        expect(await store.deleteLimit(rule.id, audit('limit.delete', rule.id))).toEqual({ ok: true })
        expect(await store.deleteLimit(rule.id, audit('limit.delete', rule.id))).toMatchObject({
          ok: false, code: 'not_found',
        })
        expect(await store.listLimits()).toEqual([other])
      })

      it('round-trips list entries with cursors and deletes them once', async () => {
        const entries = [
          listEntry('lst_2', { kind: 'bin', value: '622609', display: '622609' }),
          listEntry('lst_1', { kind: 'card', value: CARD_TOKEN, display: maskPan(pan), expiresAtMs: CONTRACT_NOW_MS + 1 }),
          listEntry('lst_3'),
        ]
        for (const entry of entries) {
          expect(await store.putListEntry(entry, audit('list.put', entry.id))).toEqual({ ok: true })
        }
        const first = await store.listListEntries({ limit: 2, cursor: null })
        expect(first.items).toEqual([entries[1], entries[0]])
        const second = await store.listListEntries({ limit: 2, cursor: first.nextCursor })
        expect(second).toEqual({ items: [entries[2]], nextCursor: null })
        const renoted = { ...listEntry('lst_3'), note: 'still blocked' }
        expect(await store.putListEntry(renoted, audit('list.put', 'lst_3'))).toEqual({ ok: true })
        expect(await store.deleteListEntry('lst_2', audit('list.delete', 'lst_2'))).toEqual({ ok: true })
        expect(await store.deleteListEntry('lst_2', audit('list.delete', 'lst_2'))).toMatchObject({
          ok: false, code: 'not_found',
        })
        expect((await store.listListEntries({ limit: 10, cursor: null })).items).toEqual([entries[1], renoted])
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
        const expectWrite = async (
          write: (entry: AuditEntry) => Promise<unknown>,
          entry: AuditEntry,
          ok: boolean,
        ): Promise<void> => {
          const result = await write(entry)
          expect(result).toMatchObject({ ok })
          if (ok) written.push(entry)
        }
        const shop = merchant(MERCHANT_ID)
        await expectWrite((a) => store.createMerchant(shop, a), audit('merchant.create', shop.id, { name: shop.name }), true)
        await expectWrite((a) => store.createMerchant(shop, a), audit('merchant.create', shop.id), false)
        await expectWrite((a) => store.updateMerchant({ ...shop, name: 'Renamed' }, a), audit('merchant.update', shop.id, { before: { name: shop.name }, after: { name: 'Renamed' } }), true)
        await expectWrite((a) => store.updateMerchant(merchant('898440358129999'), a), audit('merchant.update', 'x'), false)
        await expectWrite((a) => store.createTerminal(terminal(TERMINAL_ID, MERCHANT_ID), a), audit('terminal.create', TERMINAL_ID), true)
        await expectWrite((a) => store.updateTerminal(terminal(TERMINAL_ID, MERCHANT_ID, { status: 'inactive' }), a), audit('terminal.update', TERMINAL_ID), true)
        await expectWrite((a) => store.createCard(newCard(CARD_TOKEN, ACCOUNT_ID, 1_000), a), audit('card.create', CARD_TOKEN, { masked: maskPan(pan) }), true)
        await expectWrite((a) => store.updateCard(cardOf(pan, CARD_TOKEN, ACCOUNT_ID, { status: 'stolen' }), a), audit('card.update', CARD_TOKEN), true)
        await expectWrite((a) => store.putLimit(limitRule('lim_1'), a), audit('limit.put', 'lim_1'), true)
        await expectWrite((a) => store.deleteLimit('lim_1', a), audit('limit.delete', 'lim_1'), true)
        await expectWrite((a) => store.deleteLimit('lim_1', a), audit('limit.delete', 'lim_1'), false)
        await expectWrite((a) => store.putListEntry(listEntry('lst_1'), a), audit('list.put', 'lst_1'), true)
        await expectWrite((a) => store.deleteListEntry('lst_1', a), audit('list.delete', 'lst_1'), true)
        await expectWrite((a) => store.deleteListEntry('lst_1', a), audit('list.delete', 'lst_1'), false)

        const first = await store.listAudit({ limit: 5, cursor: null })
        const rest = await store.listAudit({ limit: 100, cursor: first.nextCursor })
        expect(rest.nextCursor).toBeNull()
        expect([...first.items, ...rest.items]).toEqual(written)
      })
    })

    describe('batches', () => {
      it('approves a purchase and a preauthorization and declines for insufficient funds', async () => {
        await seed()
        const { purchase, hold, decline } = await firstBatch()
        expect(purchase).toMatchObject({ kind: 'purchase', outcome: 'approved', lifecycle: 'posted', responseCode: '00' })
        expect(hold).toMatchObject({ kind: 'preauthorization', outcome: 'approved', lifecycle: 'held' })
        expect(hold.holdTransferId).not.toBeNull()
        expect(decline).toMatchObject({ outcome: 'declined', reason: 'insufficient_funds', lifecycle: 'none' })

        for (const record of [purchase, hold, decline]) {
          expect(await store.getTransaction(record.id)).toEqual(record)
        }
        expect(await store.getTransaction('txn_missing')).toBeNull()
        const account = await cardAccount()
        expect(account).toMatchObject({
          debitsPostedMinor: 30_000, debitsPendingMinor: 20_000, creditsPostedMinor: OPENING_BALANCE_MINOR,
        })
        expect(availableMinor(account)).toBe(50_000)
        expect(await store.getAccount(clearingAccountId('CNY'))).toMatchObject({
          creditsPostedMinor: 30_000, creditsPendingMinor: 20_000,
        })
        expect(await store.checkLedger()).toMatchObject({ balanced: true, accountsOutOfBound: [] })
      })

      it('finds transactions with every filter', async () => {
        await seed()
        const { purchase, hold, decline } = await firstBatch()
        const later = CONTRACT_NOW_MS + MINUTE_MS
        const elsewhere = decided(
          (await run([sale('000004', 1_000, { terminalId: TERMINAL_2_ID, merchantId: MERCHANT_2_ID })], later))[0],
        )
        expect(elsewhere.outcome).toBe('approved')
        const find = async (filter: Partial<TransactionFilter>) => ids(await allTransactions(filter))

        expect(await find({})).toEqual([elsewhere.id, decline.id, hold.id, purchase.id])
        expect(await find({ terminalId: TERMINAL_ID })).toEqual([decline.id, hold.id, purchase.id])
        expect(await find({ terminalId: TERMINAL_2_ID })).toEqual([elsewhere.id])
        expect(await find({ merchantId: MERCHANT_2_ID })).toEqual([elsewhere.id])
        expect(await find({ merchantId: MERCHANT_ID })).toEqual([decline.id, hold.id, purchase.id])
        expect(await find({ outcome: 'declined' })).toEqual([decline.id])
        expect(await find({ outcome: 'approved', terminalId: TERMINAL_ID })).toEqual([hold.id, purchase.id])
        expect(await find({ reason: 'insufficient_funds' })).toEqual([decline.id])
        expect(await find({ reason: 'card_lost' })).toEqual([])
        expect(await find({ kind: 'preauthorization' })).toEqual([hold.id])
        expect(await find({ cardLast4: pan.slice(-4) })).toHaveLength(4)
        expect(await find({ cardLast4: pan.slice(-4) === '0000' ? '1111' : '0000' })).toEqual([])
        expect(await find({ amountMinor: 20_000 })).toEqual([hold.id])
        expect(await find({ rrn: purchase.rrn })).toEqual([purchase.id])
        expect(await find({ stan: '000002' })).toEqual([hold.id])
        expect(await find({ stan: '000004', terminalId: TERMINAL_ID })).toEqual([])
        expect(await find({ fromMs: CONTRACT_NOW_MS + 1 })).toEqual([elsewhere.id])
        expect(await find({ fromMs: CONTRACT_NOW_MS, toMs: later })).toEqual([decline.id, hold.id, purchase.id])
        expect(await find({ fromMs: later, toMs: later + 1 })).toEqual([elsewhere.id])
        expect(await find({ toMs: CONTRACT_NOW_MS })).toEqual([])
        expect(await find({
          terminalId: TERMINAL_ID, merchantId: MERCHANT_ID, outcome: 'declined', reason: 'insufficient_funds',
          kind: 'purchase', cardLast4: pan.slice(-4), amountMinor: 90_000, stan: '000003', rrn: decline.rrn,
          fromMs: CONTRACT_NOW_MS, toMs: later,
        })).toEqual([decline.id])
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

        const filtered = await store.listTransactions({ limit: 2, cursor: null, terminalId: TERMINAL_ID })
        const next = await store.listTransactions({ limit: 2, cursor: filtered.nextCursor, terminalId: TERMINAL_ID })
        expect([...ids(filtered.items), ...ids(next.items)]).toEqual(newestFirst(made).slice(0, 4))
        await expect(store.listTransactions({ limit: 2, cursor: 'bogus!' })).rejects.toMatchObject({
          code: 'invalid_cursor',
        })
      })

      it('completes a preauthorization and reverses a purchase, updating the originals', async () => {
        await seed()
        const { purchase, hold } = await firstBatch()
        const at = CONTRACT_NOW_MS + 2 * MINUTE_MS
        const results = await run([
          followUp('completion', hold.id, '000010', 15_000),
          followUp('reversal', purchase.id, '000011'),
        ], at)
        const completion = decided(results[0])
        const reversal = decided(results[1])
        expect(completion).toMatchObject({ kind: 'completion', outcome: 'approved', originalId: hold.id, amountMinor: 15_000 })
        expect(reversal).toMatchObject({ kind: 'reversal', outcome: 'approved', originalId: purchase.id })

        expect(await store.getTransaction(hold.id)).toMatchObject({
          lifecycle: 'completed', completedAmountMinor: 15_000, updatedAtMs: at,
        })
        expect(await store.getTransaction(purchase.id)).toMatchObject({ lifecycle: 'reversed', updatedAtMs: at })
        expect(ids(await store.listFollowUps(hold.id))).toEqual([completion.id])
        expect(ids(await store.listFollowUps(purchase.id))).toEqual([reversal.id])
        const account = await cardAccount()
        expect(account).toMatchObject({ debitsPendingMinor: 0, debitsPostedMinor: 45_000, creditsPostedMinor: 130_000 })
        expect(availableMinor(account)).toBe(85_000)
        expect(await store.checkLedger()).toMatchObject({ balanced: true, accountsOutOfBound: [] })

        // A second reversal of the same purchase finds the first among the follow-ups.
        const repeat = (await run([followUp('reversal', purchase.id, '000012')], at + 1))[0]
        expect(repeat).toMatchObject({ type: 'decided', replayed: true })
        expect(decided(repeat).id).toBe(reversal.id)
        expect(ids(await store.listFollowUps(purchase.id))).toEqual([reversal.id])
      })

      it('reverses a refund and gives the refunded sale its room back', async () => {
        await seed()
        const purchase = decided((await run([sale('000001', 30_000)]))[0])
        const refund = decided((await run([followUp('refund', purchase.id, '000002', 5_000)], CONTRACT_NOW_MS + 1))[0])
        expect(refund).toMatchObject({ outcome: 'approved', kind: 'refund' })
        expect((await store.getTransaction(purchase.id))?.refundedAmountMinor).toBe(5_000)
        const reversal = decided((await run([followUp('reversal', refund.id, '000003')], CONTRACT_NOW_MS + 2))[0])
        expect(reversal).toMatchObject({ outcome: 'approved', kind: 'reversal' })
        expect(await store.getTransaction(refund.id)).toMatchObject({ lifecycle: 'reversed' })
        expect((await store.getTransaction(purchase.id))?.refundedAmountMinor).toBe(0)
        expect((await cardAccount()).creditsPostedMinor - (await cardAccount()).debitsPostedMinor).toBe(70_000)
        expect((await store.checkLedger()).balanced).toBe(true)
      })

      it('replays a retransmission and refuses a reused key with another payload', async () => {
        await seed()
        const original = decided((await run([sale('000001', 30_000)]))[0])
        const before = await cardAccount()
        const replay = (await run([sale('000001', 30_000)], CONTRACT_NOW_MS + 5_000))[0]
        expect(replay).toMatchObject({ type: 'decided', replayed: true })
        expect(decided(replay)).toEqual(original)
        const mismatch = (await run([sale('000001', 31_000)], CONTRACT_NOW_MS + 6_000))[0]
        expect(mismatch).toMatchObject({ type: 'rejected', reason: 'duplicate_mismatch' })
        expect(ids(await allTransactions())).toEqual([original.id])
        expect(await cardAccount()).toEqual(before)

        const keyed = decided((await run([sale('000002', 1_000, { idempotencyKey: 'idem-1' })]))[0])
        const retried = (await run([sale('000003', 1_000, { idempotencyKey: 'idem-1' })], CONTRACT_NOW_MS + 7_000))[0]
        expect(retried).toMatchObject({ type: 'decided', replayed: true })
        expect(decided(retried).id).toBe(keyed.id)
        expect(await allTransactions()).toHaveLength(2)
      })

      it('loads limits, usage counters and block lists for the core', async () => {
        await seed()
        const rule = limitRule('lim_1', { scope: 'terminal', entityId: TERMINAL_2_ID, dailyCountMax: 1 })
        expect(await store.putLimit(rule, audit('limit.put', rule.id))).toEqual({ ok: true })
        const onTerminal2 = { terminalId: TERMINAL_2_ID, merchantId: MERCHANT_2_ID }
        expect(decided((await run([sale('000001', 100, onTerminal2)]))[0]).outcome).toBe('approved')
        // The count lives in the store between batches.
        expect(decided((await run([sale('000002', 100, onTerminal2)], CONTRACT_NOW_MS + 1))[0])).toMatchObject({
          outcome: 'declined', reason: 'terminal_daily_count_limit_exceeded',
        })

        const expired = listEntry('lst_0', { kind: 'card', value: CARD_TOKEN, display: maskPan(pan), expiresAtMs: CONTRACT_NOW_MS })
        expect(await store.putListEntry(expired, audit('list.put', 'lst_0'))).toEqual({ ok: true })
        expect(decided((await run([sale('000003', 100)], CONTRACT_NOW_MS + 2))[0]).outcome).toBe('approved')
        const bin = listEntry('lst_1', { kind: 'bin', value: pan.slice(0, 8), display: pan.slice(0, 8) })
        expect(await store.putListEntry(bin, audit('list.put', 'lst_1'))).toEqual({ ok: true })
        expect(decided((await run([sale('000004', 100)], CONTRACT_NOW_MS + 3))[0])).toMatchObject({
          outcome: 'declined', reason: 'bin_blocked',
        })
      })
    })

    describe('atomicity', () => {
      const failing = (work: BatchWork, fail: (decided: ReturnType<BatchWork['decide']>) => ReturnType<BatchWork['decide']>): BatchWork => ({
        originalIds: work.originalIds,
        keys: (originals) => work.keys(originals),
        decide: (snapshot) => fail(work.decide(snapshot)),
      })

      it('writes nothing when the decision throws', async () => {
        await seed()
        const before = await cardAccount()
        const work = failing(planBatch([sale('000001', 30_000)], context(CONTRACT_NOW_MS)), () => {
          throw new Error('core failed')
        })
        await expect(store.runBatch(work)).rejects.toThrow('core failed')
        expect(await allTransactions()).toEqual([])
        expect(await cardAccount()).toEqual(before)
        expect(decided((await run([sale('000001', 30_000)]))[0]).outcome).toBe('approved')
      })

      it('rolls back the rows written before a write that fails', async () => {
        await seed()
        const before = await cardAccount()
        const clearingBefore = await store.getAccount(clearingAccountId('CNY'))
        let inserted: readonly TransactionRecord[] = []
        const work = failing(planBatch([sale('000001', 30_000)], context(CONTRACT_NOW_MS)), (result) => {
          inserted = result.changes.insertedTransactions
          // The same row twice: the second insert breaks a key after the others were written.
          const twice = [...inserted, ...inserted]
          return { ...result, changes: { ...result.changes, insertedTransactions: twice } }
        })
        await expect(store.runBatch(work)).rejects.toThrow()
        expect(inserted).toHaveLength(1)
        expect(await store.getTransaction(inserted[0]!.id)).toBeNull()
        expect(await cardAccount()).toEqual(before)
        expect(await store.getAccount(clearingAccountId('CNY'))).toEqual(clearingBefore)
        // The usage counter did not count the lost sale: a one-a-day rule still lets one through.
        const rule = limitRule('lim_1', { scope: 'card', entityId: CARD_TOKEN, dailyCountMax: 1 })
        expect(await store.putLimit(rule, audit('limit.put', rule.id))).toEqual({ ok: true })
        expect(decided((await run([sale('000002', 100)]))[0]).outcome).toBe('approved')
        expect((await store.checkLedger()).balanced).toBe(true)
      })
    })

    describe('hold expiry', () => {
      it('expires due holds only, at most max at a time, and releases the pending amount', async () => {
        await seed()
        const results = await run([
          sale('000001', 10_000, { kind: 'preauthorization' }),
          sale('000002', 20_000, { kind: 'preauthorization' }),
          sale('000003', 30_000, { kind: 'preauthorization' }),
        ])
        const [a, b, c] = results.map(decided)
        expect(await run([followUp('completion', c!.id, '000004', 30_000)], CONTRACT_NOW_MS + 1)).toHaveLength(1)
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
          expect(await store.getTransaction(hold.id)).toMatchObject({ lifecycle: 'expired', updatedAtMs: due })
        }
        expect(await store.getTransaction(c!.id)).toMatchObject({ lifecycle: 'completed' })
        const account = await cardAccount()
        expect(account).toMatchObject({ debitsPendingMinor: 0, debitsPostedMinor: 30_000 })
        expect(availableMinor(account)).toBe(70_000)
        expect(await store.getAccount(clearingAccountId('CNY'))).toMatchObject({ creditsPendingMinor: 0 })
        expect(await store.checkLedger()).toMatchObject({ balanced: true, accountsOutOfBound: [] })
        // An expired preauthorization can no longer be completed.
        expect(decided((await run([followUp('completion', a!.id, '000005', 100)], due + 1))[0])).toMatchObject({
          outcome: 'declined', reason: 'original_not_eligible',
        })
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
        expect(await store.putLimit(rule, audit('limit.put', rule.id))).toEqual({ ok: true })
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
        const replay = (await run([sale('000001', 30_000)], CONTRACT_NOW_MS + 1, again))[0]
        expect(replay).toMatchObject({ type: 'decided', replayed: true })
      })
    })
  })
}
