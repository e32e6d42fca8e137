import { ENTRY_MODES } from '../../core/risk/features.js'
import { z } from 'zod'
import { FIELD_PATTERNS } from '../../core/pipeline/validate.js'
import { validatePan } from '../../core/card.js'
import { findCurrency, parseAmount, type AmountMinor, type Currency } from '../../core/money.js'
import {
  CARD_STATUSES,
  LIST_NAMES,
  MERCHANT_STATUSES,
  RISK_TIERS,
  TERMINAL_STATUSES,
  TRANSACTION_KINDS,
} from '../../core/model.js'
import type { BinTable } from '../../core/reference/bin-table.js'
import type { MccTable } from '../../core/reference/mcc-table.js'
import { REASON_CODES } from '../../core/reasons/codes.js'

/**
 * Request schemas. Every amount is a decimal string in major units with its currency; every
 * error names the field and the expected form. Schemas that need reference data (BINs, MCCs)
 * are built once per server.
 */
export const AMOUNT_TEXT = z
  .string({ error: 'expected a decimal string in major units, e.g. "123.45"' })
  .max(32, 'at most 32 characters')
export const CURRENCY_TEXT = z
  .string({ error: 'expected an ISO 4217 code, e.g. "CNY" or "156"' })
  .refine(
    (code) => findCurrency(code) !== null,
    'expected an ISO 4217 code Tollgate supports, e.g. "CNY" or "156"',
  )
export const TERMINAL_ID = z
  .string()
  .regex(FIELD_PATTERNS.terminalId, 'expected 8 letters or digits (ISO 8583 field 41)')
export const MERCHANT_ID = z
  .string()
  .regex(FIELD_PATTERNS.merchantId, 'expected 15 letters or digits (ISO 8583 field 42)')
export const STAN = z.string().regex(FIELD_PATTERNS.stan, 'expected 6 digits')
export const EXPIRY = z.string().regex(/^\d{2}(0[1-9]|1[0-2])$/, 'expected YYMM, e.g. "2812"')
export const TRANSMISSION_TIME = z
  .string()
  .regex(FIELD_PATTERNS.transmissionTime, 'expected MMDDhhmmss')
export const LANG = z.enum(['zh-CN', 'en'])
const REGION = z
  .string()
  .regex(/^\d{6}$/, 'expected a 6-digit administrative division code, e.g. "310101"')

/** Parses an amount for a currency, adding a precise issue to the context when it fails. */
export function amountIn(
  text: string,
  currency: Currency,
  ctx: z.RefinementCtx,
  path: (string | number)[],
  allowZero = false,
): AmountMinor | null {
  const parsed = parseAmount(text, currency.exponent)
  if (!parsed.ok) {
    const what = {
      amount_format: 'expected a decimal string in major units',
      amount_precision: `too many decimals for ${currency.alpha}`,
      amount_range: 'amount out of range',
    }[parsed.error.code]
    ctx.addIssue({
      code: 'custom',
      path,
      message: `${what}: ${parsed.error.expected}`,
      params: { code: parsed.error.code },
    })
    return null
  }
  if (!allowZero && parsed.value === 0) {
    ctx.addIssue({
      code: 'custom',
      path,
      message: 'expected an amount greater than zero',
      params: { code: 'amount_zero' },
    })
    return null
  }
  return parsed.value
}

function panSchema(bins: BinTable) {
  return z
    .string({ error: 'expected the card number as a string of digits' })
    .superRefine((pan, ctx) => {
      const result = validatePan(pan, bins)
      if (!result.ok)
        ctx.addIssue({
          code: 'custom',
          message: `invalid card number: ${result.error.expected}`,
          params: { code: result.error.code },
        })
    })
}

export function buildSchemas(bins: BinTable, mccs: MccTable) {
  const card = z.strictObject({ pan: panSchema(bins), expiry: EXPIRY })
  const mcc = z
    .string()
    .regex(/^\d{4}$/, 'expected a 4-digit MCC')
    .refine((code) => mccs.lookup(code) !== null, 'expected an MCC from the ISO 18245 table')

  const authorization = z
    .strictObject({
      kind: z.enum(['purchase', 'preauthorization', 'balance_inquiry']),
      terminalId: TERMINAL_ID,
      merchantId: MERCHANT_ID,
      stan: STAN,
      transmissionTime: TRANSMISSION_TIME.optional(),
      card,
      amount: AMOUNT_TEXT.optional(),
      currency: CURRENCY_TEXT,
      /** How the card was read, as the terminal says (a risk feature). */
      entryMode: z.enum(ENTRY_MODES).optional(),
      /** Where the terminal says it is (6-digit region code), e.g. from its GPS or base station. */
      terminalRegion: REGION.optional(),
    })
    .transform((body, ctx) => {
      const currency = findCurrency(body.currency)
      if (currency === null) return z.NEVER
      let amountMinor = 0
      if (body.kind === 'balance_inquiry') {
        if (body.amount !== undefined) {
          const minor = amountIn(body.amount, currency, ctx, ['amount'], true)
          if (minor !== null && minor !== 0)
            ctx.addIssue({
              code: 'custom',
              path: ['amount'],
              message: 'expected no amount (or "0") for a balance inquiry',
            })
        }
      } else if (body.amount === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['amount'],
          message: 'expected an amount for a purchase or preauthorization',
        })
        return z.NEVER
      } else {
        const minor = amountIn(body.amount, currency, ctx, ['amount'])
        if (minor === null) return z.NEVER
        amountMinor = minor
      }
      return { ...body, currency, amountMinor }
    })

  const followUp = z.strictObject({
    amount: AMOUNT_TEXT.optional(),
    stan: STAN.optional(),
  })

  const merchantCreate = z.strictObject({
    id: MERCHANT_ID,
    name: z.string().min(1).max(80),
    mcc,
    status: z.enum(MERCHANT_STATUSES).default('pending_audit'),
    region: REGION.nullable().default(null),
    riskTier: z.enum(RISK_TIERS).default('low'),
  })
  const merchantPatch = z
    .strictObject({
      name: z.string().min(1).max(80).optional(),
      mcc: mcc.optional(),
      status: z.enum(MERCHANT_STATUSES).optional(),
      region: REGION.nullable().optional(),
      riskTier: z.enum(RISK_TIERS).optional(),
      reason: z.string().max(500).optional(),
    })
    .refine(
      (body) => Object.keys(body).some((k) => k !== 'reason'),
      'expected at least one field to change',
    )

  const terminalCreate = z.strictObject({
    id: TERMINAL_ID,
    merchantId: MERCHANT_ID,
    status: z.enum(TERMINAL_STATUSES).default('active'),
    region: REGION.nullable().default(null),
  })
  const terminalPatch = z
    .strictObject({
      merchantId: MERCHANT_ID.optional(),
      status: z.enum(TERMINAL_STATUSES).optional(),
      region: REGION.nullable().optional(),
      reason: z.string().max(500).optional(),
    })
    .refine(
      (body) => Object.keys(body).some((k) => k !== 'reason'),
      'expected at least one field to change',
    )

  const cardCreate = z
    .strictObject({
      pan: panSchema(bins),
      expiry: EXPIRY,
      type: z.enum(['debit', 'credit']),
      balance: AMOUNT_TEXT.optional(),
      creditLimit: AMOUNT_TEXT.optional(),
      currency: CURRENCY_TEXT.default('CNY'),
      status: z.enum(CARD_STATUSES).default('active'),
    })
    .transform((body, ctx) => {
      const currency = findCurrency(body.currency)
      if (currency === null) return z.NEVER
      if (body.type === 'debit' && body.creditLimit !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['creditLimit'],
          message: 'a debit card has a balance, not a credit limit',
        })
      }
      if (body.type === 'credit' && body.balance !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['balance'],
          message: 'a credit card has a credit limit, not a balance',
        })
      }
      const text = body.type === 'debit' ? (body.balance ?? '0') : (body.creditLimit ?? '0')
      const minor = amountIn(
        text,
        currency,
        ctx,
        [body.type === 'debit' ? 'balance' : 'creditLimit'],
        true,
      )
      if (minor === null) return z.NEVER
      return { ...body, currency, amountMinor: minor }
    })
  const cardPatch = z.strictObject({
    status: z.enum(CARD_STATUSES),
    reason: z.string().max(500).optional(),
  })

  const limitFields = {
    scope: z.enum(['card', 'merchant', 'terminal']),
    cardType: z.enum(['debit', 'credit']).nullable().default(null),
    mcc: mcc.nullable().default(null),
    entityId: z.string().min(1).max(64).nullable().default(null),
    currency: CURRENCY_TEXT.default('CNY'),
    perTransactionMax: AMOUNT_TEXT.nullable().default(null),
    dailyAmountMax: AMOUNT_TEXT.nullable().default(null),
    dailyCountMax: z.number().int().min(0).max(1_000_000).nullable().default(null),
    note: z.string().max(500).default(''),
  }
  const limit = z.strictObject(limitFields).transform((body, ctx) => {
    const currency = findCurrency(body.currency)
    if (currency === null) return z.NEVER
    const perTransactionMaxMinor =
      body.perTransactionMax === null
        ? null
        : amountIn(body.perTransactionMax, currency, ctx, ['perTransactionMax'], true)
    const dailyAmountMaxMinor =
      body.dailyAmountMax === null
        ? null
        : amountIn(body.dailyAmountMax, currency, ctx, ['dailyAmountMax'], true)
    if (
      body.perTransactionMax === null &&
      body.dailyAmountMax === null &&
      body.dailyCountMax === null
    ) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: 'expected at least one of perTransactionMax, dailyAmountMax, dailyCountMax',
      })
    }
    return { ...body, currency, perTransactionMaxMinor, dailyAmountMaxMinor }
  })

  const listEntry = z
    .strictObject({
      list: z.enum(LIST_NAMES).default('block'),
      kind: z.enum(['card', 'bin', 'merchant', 'terminal']),
      value: z.string().min(1).max(64).optional(),
      pan: panSchema(bins).optional(),
      note: z.string().min(1, 'expected a note saying why this entry exists').max(500),
      expiresAt: z.iso.datetime({ offset: true }).nullable().default(null),
    })
    .superRefine((body, ctx) => {
      if (body.kind === 'card' && body.pan === undefined && body.value === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['pan'],
          message: 'expected the card number (pan) or its token (value)',
        })
      }
      if (body.kind !== 'card' && body.pan !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['pan'], message: 'pan is only for card entries' })
      }
      if (body.kind !== 'card' && body.value === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['value'],
          message: `expected the ${body.kind} to put on the list`,
        })
      }
      if (body.kind === 'bin' && body.value !== undefined && !/^\d{3,10}$/.test(body.value)) {
        ctx.addIssue({
          code: 'custom',
          path: ['value'],
          message: 'expected a BIN prefix of 3 to 10 digits',
        })
      }
    })

  const transactionQuery = z.strictObject({
    terminalId: TERMINAL_ID.optional(),
    merchantId: MERCHANT_ID.optional(),
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    outcome: z.enum(['approved', 'declined']).optional(),
    reason: z.enum(REASON_CODES).optional(),
    kind: z.enum(TRANSACTION_KINDS).optional(),
    cardLast4: z
      .string()
      .regex(/^\d{4}$/, 'expected 4 digits')
      .optional(),
    amount: AMOUNT_TEXT.optional(),
    currency: CURRENCY_TEXT.default('CNY'),
    stan: STAN.optional(),
    rrn: z
      .string()
      .regex(/^[0-9A-Za-z]{12}$/, 'expected 12 characters')
      .optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.string().max(200).optional(),
    lang: LANG.optional(),
  })

  const page = z.strictObject({
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.string().max(200).optional(),
  })

  return {
    authorization,
    followUp,
    merchantCreate,
    merchantPatch,
    terminalCreate,
    terminalPatch,
    cardCreate,
    cardPatch,
    limit,
    listEntry,
    transactionQuery,
    page,
  }
}

export type Schemas = ReturnType<typeof buildSchemas>
