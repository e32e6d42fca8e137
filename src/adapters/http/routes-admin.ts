import type { FastifyRequest } from 'fastify'
import { z } from 'zod'
import { maskPan } from '../../core/card.js'
import { issueCard } from '../../core/issue-card.js'
import { LIMIT_RULES_MAX } from '../../core/pipeline/limits.js'
import { availableMinor, ledgerBalanceMinor } from '../../core/ledger/ledger.js'
import type { Account, Card, LimitRule, ListEntry } from '../../core/model.js'
import { fundingAccountId } from '../../core/pipeline/keys.js'
import type { AuditEntry, Page, PageRequest, WriteResult } from '../../ports/store.js'
import type { HttpDeps } from './deps.js'
import { problem } from './problem.js'
import type { Schemas } from './schemas.js'
import { MERCHANT_ID, TERMINAL_ID } from './schemas.js'
import { actorOf } from './routes-risk.js'
import { HttpProblem, parseWith, type Router } from './server.js'
import {
  auditEntryView,
  cardView,
  limitView,
  listEntryView,
  merchantView,
  money,
  terminalView,
} from './views.js'

// Path schemas are built once, not per request.
const MERCHANT_ID_PARAMS = z.strictObject({ id: MERCHANT_ID })
const TERMINAL_ID_PARAMS = z.strictObject({ id: TERMINAL_ID })
const RECORD_ID_PARAMS = z.strictObject({ id: z.string().min(1).max(64) })

function ensureWritten(result: WriteResult, what: string): void {
  if (result.ok) return
  const status = result.code === 'conflict' ? 409 : 404
  throw new HttpProblem(
    problem(
      status,
      result.code,
      result.code === 'conflict' ? `${what} already exists` : `No such ${what}`,
      result.message,
    ),
  )
}

function notFound(what: string, id: string): never {
  throw new HttpProblem(problem(404, 'not_found', `No such ${what}`, `no ${what} ${id}`))
}

function unknownMerchant(merchantId: string): never {
  throw new HttpProblem(
    problem(422, 'unknown_merchant', 'Unknown merchant', `merchantId: no merchant ${merchantId}`, {
      errors: [
        {
          field: 'merchantId',
          code: 'unknown_merchant',
          message: 'expected an existing merchant id',
        },
      ],
    }),
  )
}

/** The fields of a limit rule a POST or PATCH body sets. */
function limitFieldsOf(body: z.output<Schemas['limit']>) {
  return {
    scope: body.scope,
    cardType: body.cardType,
    mcc: body.mcc,
    entityId: body.entityId,
    currency: body.currency.alpha,
    perTransactionMaxMinor: body.perTransactionMaxMinor,
    dailyAmountMaxMinor: body.dailyAmountMaxMinor,
    dailyCountMax: body.dailyCountMax,
    note: body.note,
  }
}

/** Administration: merchants, terminals, cards, limits, lists, audit and the ledger check. */
export function registerAdminRoutes(router: Router, deps: HttpDeps, schemas: Schemas): void {
  /** The audit entry of a change, naming the administrator who made it (X-Tollgate-Actor). */
  const audit = (
    request: FastifyRequest,
    action: string,
    subject: string,
    detail: Record<string, unknown>,
  ): AuditEntry => ({
    id: deps.ids.entityId('au'),
    atMs: deps.clock.nowMs(),
    actor: actorOf(request),
    action,
    subject,
    detail,
  })
  const page = (query: unknown) => {
    const parsed = parseWith(schemas.page, query, 'query')
    return { limit: parsed.limit, cursor: parsed.cursor ?? null }
  }
  /** Stores a new entity made from a validated body, with its audit entry. */
  const create = async <B extends { readonly id: string }>(
    request: FastifyRequest,
    what: string,
    body: B,
    write: (
      entity: B & { createdAtMs: number; updatedAtMs: number },
      entry: AuditEntry,
    ) => Promise<WriteResult>,
  ) => {
    const now = deps.clock.nowMs()
    const entity = { ...body, createdAtMs: now, updatedAtMs: now }
    ensureWritten(await write(entity, audit(request, `${what}.create`, body.id, { ...body })), what)
    return entity
  }
  /** Applies the fields a PATCH gives, audited with what they were before. */
  const update = async <T extends { readonly updatedAtMs: number }, C extends object>(
    request: FastifyRequest,
    what: string,
    id: string,
    current: T,
    changes: C,
    reason: string | undefined,
    write: (next: T, entry: AuditEntry) => Promise<WriteResult>,
  ): Promise<T> => {
    const next: T = { ...current, ...stripUndefined(changes), updatedAtMs: deps.clock.nowMs() }
    const detail = { before: diff(current, next), after: changes, reason: reason ?? null }
    ensureWritten(await write(next, audit(request, `${what}.update`, id, detail)), what)
    return next
  }
  const R = {
    200: 'ok',
    400: 'invalid request',
    401: 'administrator token required',
    404: 'not found',
  }
  const C = {
    201: 'created',
    400: 'invalid request',
    401: 'administrator token required',
    409: 'already exists',
  }

  /** GET /v1/<tag> (paged) and GET /v1/<tag>/:id for a resource kept by the store. */
  const addListAndGet = <T>(resource: {
    readonly tag: string
    readonly singular: string
    readonly summary?: string
    readonly list: (request: PageRequest) => Promise<Page<T>>
    /** Absent: no GET by id. */
    readonly get?: {
      readonly params: z.ZodType<{ id: string }>
      readonly read: (id: string) => Promise<T | null>
    }
    readonly view: (item: T) => unknown
  }): void => {
    const { tag, singular } = resource
    router.add(
      {
        method: 'GET',
        url: `/v1/${tag}`,
        tag,
        admin: true,
        query: schemas.page,
        summary: resource.summary ?? `List ${tag}.`,
        responses: R,
      },
      async (request) => {
        const result = await resource.list(page(request.query))
        return { items: result.items.map(resource.view), nextCursor: result.nextCursor }
      },
    )
    const get = resource.get
    if (get === undefined) return
    router.add(
      {
        method: 'GET',
        url: `/v1/${tag}/:id`,
        tag,
        admin: true,
        summary: `One ${singular}.`,
        responses: R,
      },
      async (request) => {
        const { id } = parseWith(get.params, request.params, 'path')
        return resource.view((await get.read(id)) ?? notFound(singular, id))
      },
    )
  }

  // Merchants
  router.add(
    {
      method: 'POST',
      url: '/v1/merchants',
      tag: 'merchants',
      admin: true,
      body: schemas.merchantCreate,
      summary: 'Onboard a merchant (status pending_audit until approved).',
      responses: C,
    },
    async (request, reply) => {
      const body = parseWith(schemas.merchantCreate, request.body, 'body')
      const merchant = await create(request, 'merchant', body, (m, entry) =>
        deps.store.createMerchant(m, entry),
      )
      return reply.code(201).send(merchantView(merchant))
    },
  )
  addListAndGet({
    tag: 'merchants',
    singular: 'merchant',
    list: (p) => deps.store.listMerchants(p),
    get: { params: MERCHANT_ID_PARAMS, read: (id) => deps.store.getMerchant(id) },
    view: merchantView,
  })
  router.add(
    {
      method: 'PATCH',
      url: '/v1/merchants/:id',
      tag: 'merchants',
      admin: true,
      body: schemas.merchantPatch,
      summary: 'Change a merchant: audit approval, restriction, suspension, MCC, risk tier.',
      responses: R,
    },
    async (request) => {
      const { id } = parseWith(MERCHANT_ID_PARAMS, request.params, 'path')
      const { reason, ...changes } = parseWith(schemas.merchantPatch, request.body, 'body')
      const current = (await deps.store.getMerchant(id)) ?? notFound('merchant', id)
      const next = await update(request, 'merchant', id, current, changes, reason, (m, entry) =>
        deps.store.updateMerchant(m, entry),
      )
      return merchantView(next)
    },
  )

  // Terminals
  router.add(
    {
      method: 'POST',
      url: '/v1/terminals',
      tag: 'terminals',
      admin: true,
      body: schemas.terminalCreate,
      summary: 'Register a terminal bound to a merchant.',
      responses: C,
    },
    async (request, reply) => {
      const body = parseWith(schemas.terminalCreate, request.body, 'body')
      if ((await deps.store.getMerchant(body.merchantId)) === null) unknownMerchant(body.merchantId)
      const terminal = await create(request, 'terminal', body, (t, entry) =>
        deps.store.createTerminal(t, entry),
      )
      return reply.code(201).send(terminalView(terminal))
    },
  )
  addListAndGet({
    tag: 'terminals',
    singular: 'terminal',
    list: (p) => deps.store.listTerminals(p),
    get: { params: TERMINAL_ID_PARAMS, read: (id) => deps.store.getTerminal(id) },
    view: terminalView,
  })
  router.add(
    {
      method: 'PATCH',
      url: '/v1/terminals/:id',
      tag: 'terminals',
      admin: true,
      body: schemas.terminalPatch,
      summary: 'Change a terminal: status, binding, region.',
      responses: R,
    },
    async (request) => {
      const { id } = parseWith(TERMINAL_ID_PARAMS, request.params, 'path')
      const { reason, ...changes } = parseWith(schemas.terminalPatch, request.body, 'body')
      const current = (await deps.store.getTerminal(id)) ?? notFound('terminal', id)
      const merchantId = changes.merchantId
      if (merchantId !== undefined && (await deps.store.getMerchant(merchantId)) === null) {
        unknownMerchant(merchantId)
      }
      const next = await update(request, 'terminal', id, current, changes, reason, (t, entry) =>
        deps.store.updateTerminal(t, entry),
      )
      return terminalView(next)
    },
  )

  // Cards
  const cardWithAccount = async (card: Card) => {
    const account = await deps.store.getAccount(card.accountId)
    return cardView(card, account === null ? undefined : accountSummary(account))
  }
  router.add(
    {
      method: 'POST',
      url: '/v1/cards',
      tag: 'cards',
      admin: true,
      body: schemas.cardCreate,
      summary:
        'Issue a card and its account (debit: balance; credit: credit limit). The answer never echoes the card number.',
      responses: C,
    },
    async (request, reply) => {
      const body = parseWith(schemas.cardCreate, request.body, 'body')
      const token = deps.tokenize(body.pan)
      const now = deps.clock.nowMs()
      const { card, account, openingBalanceMinor } = issueCard({
        pan: body.pan,
        expiry: body.expiry,
        type: body.type,
        status: body.status,
        amountMinor: body.amountMinor,
        currency: body.currency.alpha,
        token,
        accountId: deps.ids.entityId('ac'),
        bin: deps.bins.lookup(body.pan),
        nowMs: now,
      })
      const result = await deps.store.createCard(
        {
          card,
          account,
          openingBalanceMinor,
          openingTransferId: deps.ids.transferId(),
          nowMs: now,
        },
        audit(request, 'card.create', token, {
          masked: card.masked,
          type: card.type,
          currency: account.currency,
          funding: fundingAccountId(account.currency),
        }),
      )
      ensureWritten(result, 'card')
      return reply.code(201).send(await cardWithAccount(card))
    },
  )
  router.add(
    {
      method: 'GET',
      url: '/v1/cards',
      tag: 'cards',
      admin: true,
      query: schemas.page,
      summary: 'List cards (masked).',
      responses: R,
    },
    async (request) => {
      const result = await deps.store.listCards(page(request.query))
      return {
        items: await Promise.all(result.items.map(cardWithAccount)),
        nextCursor: result.nextCursor,
      }
    },
  )
  router.add(
    {
      method: 'GET',
      url: '/v1/cards/:id',
      tag: 'cards',
      admin: true,
      summary: 'One card by token, with its balance.',
      responses: R,
    },
    async (request) => {
      const { id } = parseWith(RECORD_ID_PARAMS, request.params, 'path')
      return cardWithAccount((await deps.store.getCard(id)) ?? notFound('card', id))
    },
  )
  router.add(
    {
      method: 'PATCH',
      url: '/v1/cards/:id',
      tag: 'cards',
      admin: true,
      body: schemas.cardPatch,
      summary: 'Change a card status: active, inactive, lost, stolen.',
      responses: R,
    },
    async (request) => {
      const { id } = parseWith(RECORD_ID_PARAMS, request.params, 'path')
      const body = parseWith(schemas.cardPatch, request.body, 'body')
      const current = (await deps.store.getCard(id)) ?? notFound('card', id)
      const next: Card = { ...current, status: body.status, updatedAtMs: deps.clock.nowMs() }
      ensureWritten(
        await deps.store.updateCard(
          next,
          audit(request, 'card.update', id, {
            before: { status: current.status },
            after: { status: body.status },
            reason: body.reason ?? null,
          }),
        ),
        'card',
      )
      return cardWithAccount(next)
    },
  )

  // Limits
  router.add(
    {
      method: 'POST',
      url: '/v1/limits',
      tag: 'limits',
      admin: true,
      body: schemas.limit,
      summary:
        'Add a limit rule (per transaction, daily amount, daily count; by card, merchant or terminal; by card type and MCC).',
      responses: C,
    },
    async (request, reply) => {
      const body = parseWith(schemas.limit, request.body, 'body')
      if ((await deps.store.listLimits()).length >= LIMIT_RULES_MAX) {
        throw new HttpProblem(
          problem(
            409,
            'limit_rules_max',
            'Too many limit rules',
            `at most ${LIMIT_RULES_MAX} limit rules: change or remove one first`,
          ),
        )
      }
      const now = deps.clock.nowMs()
      const rule: LimitRule = {
        id: deps.ids.entityId('lim'),
        ...limitFieldsOf(body),
        createdAtMs: now,
        updatedAtMs: now,
      }
      ensureWritten(
        await deps.store.putLimit(rule, audit(request, 'limit.create', rule.id, limitView(rule))),
        'limit',
      )
      return reply.code(201).send(limitView(rule))
    },
  )
  router.add(
    {
      method: 'GET',
      url: '/v1/limits',
      tag: 'limits',
      admin: true,
      summary: 'List limit rules.',
      responses: R,
    },
    async () => ({ items: (await deps.store.listLimits()).map(limitView) }),
  )
  router.add(
    {
      method: 'PATCH',
      url: '/v1/limits/:id',
      tag: 'limits',
      admin: true,
      body: schemas.limit,
      summary: 'Replace a limit rule.',
      responses: R,
    },
    async (request) => {
      const { id } = parseWith(RECORD_ID_PARAMS, request.params, 'path')
      const body = parseWith(schemas.limit, request.body, 'body')
      const current =
        (await deps.store.listLimits()).find((rule) => rule.id === id) ?? notFound('limit', id)
      const rule: LimitRule = {
        ...current,
        ...limitFieldsOf(body),
        updatedAtMs: deps.clock.nowMs(),
      }
      ensureWritten(
        await deps.store.putLimit(
          rule,
          audit(request, 'limit.update', id, {
            before: limitView(current),
            after: limitView(rule),
          }),
        ),
        'limit',
      )
      return limitView(rule)
    },
  )
  router.add(
    {
      method: 'DELETE',
      url: '/v1/limits/:id',
      tag: 'limits',
      admin: true,
      summary: 'Remove a limit rule.',
      responses: R,
    },
    async (request, reply) => {
      const { id } = parseWith(RECORD_ID_PARAMS, request.params, 'path')
      ensureWritten(
        await deps.store.deleteLimit(id, audit(request, 'limit.delete', id, {})),
        'limit',
      )
      return reply.code(204).send()
    },
  )

  // Lists
  router.add(
    {
      method: 'POST',
      url: '/v1/lists',
      tag: 'lists',
      admin: true,
      body: schemas.listEntry,
      summary:
        'Add a list entry for a card (by number or token), BIN prefix, merchant or terminal, with a note and an optional expiry. list: block (decline), review (approve and queue for review) or allow (skip the risk rules); default block. Send X-Tollgate-Actor to name who adds it.',
      responses: C,
    },
    async (request, reply) => {
      const actor = actorOf(request)
      const body = parseWith(schemas.listEntry, request.body, 'body')
      const now = deps.clock.nowMs()
      const value =
        body.kind === 'card' && body.pan !== undefined
          ? deps.tokenize(body.pan)
          : (body.value ?? '')
      const display =
        body.kind === 'card'
          ? body.pan !== undefined
            ? maskPan(body.pan)
            : ((await deps.store.getCard(value))?.masked ?? value)
          : value
      const entry: ListEntry = {
        id: deps.ids.entityId('le'),
        list: body.list,
        kind: body.kind,
        value,
        display,
        note: body.note,
        expiresAtMs: body.expiresAt === null ? null : Date.parse(body.expiresAt),
        createdBy: actor,
        createdAtMs: now,
      }
      ensureWritten(
        await deps.store.putListEntry(entry, {
          ...audit(request, 'list.add', entry.id, {
            list: entry.list,
            kind: entry.kind,
            display,
            note: entry.note,
            expiresAtMs: entry.expiresAtMs,
          }),
          actor,
        }),
        'list entry',
      )
      return reply.code(201).send(listEntryView(entry))
    },
  )
  addListAndGet({
    tag: 'lists',
    singular: 'list entry',
    summary: 'List the block, review and allow list entries.',
    list: (p) => deps.store.listListEntries(p),
    view: listEntryView,
  })
  router.add(
    {
      method: 'DELETE',
      url: '/v1/lists/:id',
      tag: 'lists',
      admin: true,
      summary: 'Remove a list entry.',
      responses: R,
    },
    async (request, reply) => {
      const { id } = parseWith(RECORD_ID_PARAMS, request.params, 'path')
      ensureWritten(
        await deps.store.deleteListEntry(id, {
          ...audit(request, 'list.remove', id, {}),
          actor: actorOf(request),
        }),
        'list entry',
      )
      return reply.code(204).send()
    },
  )

  // Audit and ledger
  router.add(
    {
      method: 'GET',
      url: '/v1/audit',
      tag: 'operations',
      admin: true,
      query: schemas.page,
      summary: 'The append-only audit log of administrative changes.',
      responses: R,
    },
    async (request) => {
      const result = await deps.store.listAudit(page(request.query))
      return {
        items: result.items.map(auditEntryView),
        nextCursor: result.nextCursor,
      }
    },
  )
  router.add(
    {
      method: 'GET',
      url: '/v1/ledger/check',
      tag: 'operations',
      admin: true,
      summary: 'Check the ledger: debits equal credits per currency; no account beyond its bound.',
      responses: R,
    },
    async () => {
      const check = await deps.store.checkLedger()
      return {
        balanced: check.balanced,
        accounts: check.accounts,
        accountsOutOfBound: check.accountsOutOfBound,
        currencies: check.currencies.map((c) => ({
          currency: c.currency,
          debitsPending: money(c.debitsPendingMinor, c.currency),
          creditsPending: money(c.creditsPendingMinor, c.currency),
          debitsPosted: money(c.debitsPostedMinor, c.currency),
          creditsPosted: money(c.creditsPostedMinor, c.currency),
        })),
      }
    },
  )
}

function accountSummary(account: Account) {
  return {
    available: availableMinor(account),
    balance: ledgerBalanceMinor(account),
    creditLimit: account.creditLimitMinor,
    currency: account.currency,
  }
}

function stripUndefined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>
  }
}

function diff<T extends object>(before: T, after: T): Partial<T> {
  const changed: Partial<T> = {}
  for (const key of Object.keys(after) as (keyof T)[]) {
    if (key !== 'updatedAtMs' && before[key] !== after[key]) changed[key] = before[key]
  }
  return changed
}
