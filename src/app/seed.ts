import { installRulePack } from './rule-pack.js'
import { maskPan } from '../core/card.js'
import { issueCard } from '../core/issue-card.js'
import { parseAmount } from '../core/money.js'
import type { BinTable } from '../core/reference/bin-table.js'
import type { IdSource } from '../ports/id-source.js'
import type { AuditEntry, Store, WriteResult } from '../ports/store.js'
import {
  DEMO_CARDS,
  DEMO_LIMITS,
  DEMO_LIST_ENTRIES,
  demoMerchants,
  demoTerminals,
} from './demo-data.js'

const DEMO_SEEDED_SETTING = 'demo_seeded_at_ms'

function must(result: WriteResult, what: string): void {
  if (!result.ok && result.code !== 'conflict')
    throw new Error(`seeding ${what}: ${result.message}`)
}

/**
 * Loads the demo data into a new database (or always, with force). Returns whether it did.
 * Writes go through the store port like any administrative change, and are audited.
 */
export async function seedDemoData(
  store: Store,
  deps: {
    readonly tokenize: (pan: string) => string
    readonly bins: BinTable
    readonly ids: IdSource
    readonly nowMs: number
    readonly force: boolean
  },
): Promise<boolean> {
  if (!deps.force && (await store.getSetting(DEMO_SEEDED_SETTING)) !== null) return false
  if (!deps.force && (await store.listMerchants({ limit: 1, cursor: null })).items.length > 0)
    return false
  const nowMs = deps.nowMs
  const audit = (action: string, subject: string): AuditEntry => ({
    id: deps.ids.entityId('au'),
    atMs: nowMs,
    actor: 'demo-seed',
    action,
    subject,
    detail: {},
  })
  for (const merchant of demoMerchants(nowMs))
    must(await store.createMerchant(merchant, audit('merchant.create', merchant.id)), merchant.id)
  for (const terminal of demoTerminals(nowMs))
    must(await store.createTerminal(terminal, audit('terminal.create', terminal.id)), terminal.id)
  for (const demo of Object.values(DEMO_CARDS)) {
    const token = deps.tokenize(demo.pan)
    if ((await store.getCard(token)) !== null) continue
    const parsed = parseAmount(demo.amount, 2)
    if (!parsed.ok) throw new Error(`demo amount ${demo.amount} is invalid`)
    const { card, account, openingBalanceMinor } = issueCard({
      pan: demo.pan,
      expiry: demo.expiry,
      type: demo.type,
      status: demo.status,
      amountMinor: parsed.value,
      currency: 'CNY',
      token,
      accountId: deps.ids.entityId('ac'),
      bin: deps.bins.lookup(demo.pan),
      nowMs,
    })
    must(
      await store.createCard(
        { card, account, openingBalanceMinor, openingTransferId: deps.ids.transferId(), nowMs },
        audit('card.create', token),
      ),
      card.masked,
    )
  }
  for (const limit of DEMO_LIMITS) {
    const { entity, ...rule } = limit
    const entityId =
      entity === null ? null : 'card' in entity ? deps.tokenize(entity.card) : entity.id
    must(
      await store.putLimit(
        { ...rule, entityId, createdAtMs: nowMs, updatedAtMs: nowMs },
        audit('limit.create', rule.id),
      ),
      rule.id,
    )
  }
  for (const entry of DEMO_LIST_ENTRIES) {
    const { target, ...rest } = entry
    const value = 'card' in target ? deps.tokenize(target.card) : target.value
    const display = 'card' in target ? maskPan(target.card) : target.value
    must(
      await store.putListEntry(
        { ...rest, value, display, createdBy: 'demo-seed', createdAtMs: nowMs },
        audit('list.add', entry.id),
      ),
      entry.id,
    )
  }
  // Risk control starts watching: the default pack in shadow (docs/risk.md).
  await installRulePack(store, { ids: deps.ids, nowMs, actor: 'demo-seed', status: 'shadow' })
  await store.putSetting(DEMO_SEEDED_SETTING, String(nowMs))
  return true
}
