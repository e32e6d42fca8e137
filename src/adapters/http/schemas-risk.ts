import { z } from 'zod'
import { REVIEW_RESOLUTIONS, REVIEW_STATUSES } from '../../core/risk/review.js'
import {
  ON_RULE_ERROR,
  RISK_BLOCK_REASONS,
  RULE_ACTIONS,
  RULE_DESCRIPTION_LENGTH_MAX,
  RULE_EXPRESSION_LENGTH_MAX,
  RULE_NAME_LENGTH_MAX,
  RULE_SCORE_MAX,
  RULE_STATUSES,
  RULES_LIVE_MAX,
} from '../../core/risk/rules.js'
import { LANG } from './schemas.js'

/**
 * Request schemas of the risk-control API (routes-risk.ts): rules, settings and the review
 * queue. Static (no reference data), so built once at module load. Expressions are checked by
 * the engine (`checkExpression`), not here: a schema only bounds the text.
 */

/** `X-Tollgate-Actor`: who made a change, as the audit log and rule versions name them. */
export const ACTOR_HEADER = 'x-tollgate-actor'
export const ACTOR_DEFAULT = 'admin'
export const ACTOR = z
  .string()
  .regex(/^[A-Za-z0-9._@-]{1,64}$/, 'expected 1 to 64 letters, digits or . _ @ -')

export const RULE_ID = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,63}$/, 'expected snake_case: a-z, 0-9 and _, 1 to 64, a letter first')
export const RULE_PRIORITY_MAX = 1_000_000
export const RULE_PRIORITY_DEFAULT = 100
export const CHANGE_NOTE_LENGTH_MAX = 500
/** A resolution note goes into the list entry's note (500 at most) with the review reference. */
export const RESOLUTION_NOTE_LENGTH_MAX = 400
/** A settings threshold: a total of many rules' points, so above one rule's maximum. */
export const SETTINGS_SCORE_MAX = RULE_SCORE_MAX * RULES_LIVE_MAX

const changeNote = z
  .string({ error: 'expected a change note saying why' })
  .trim()
  .min(1, 'expected a change note saying why')
  .max(CHANGE_NOTE_LENGTH_MAX, `at most ${CHANGE_NOTE_LENGTH_MAX} characters`)

// The engine refuses an expression longer than its maximum with a position; the schema only
// stops text far beyond it.
const expression = z
  .string({ error: 'expected the rule expression as a string' })
  .max(RULE_EXPRESSION_LENGTH_MAX * 2, `at most ${RULE_EXPRESSION_LENGTH_MAX} characters`)

const description = z.strictObject({
  'zh-CN': z
    .string()
    .trim()
    .min(1, 'expected the description in Chinese')
    .max(RULE_DESCRIPTION_LENGTH_MAX),
  en: z
    .string()
    .trim()
    .min(1, 'expected the description in English')
    .max(RULE_DESCRIPTION_LENGTH_MAX),
})

const ruleFields = {
  name: z.string().trim().min(1, 'expected a name').max(RULE_NAME_LENGTH_MAX),
  expression,
  action: z.enum(RULE_ACTIONS),
  reason: z.enum(RISK_BLOCK_REASONS).optional(),
  score: z.number().int().min(1).max(RULE_SCORE_MAX).optional(),
  priority: z.number().int().min(0).max(RULE_PRIORITY_MAX).optional(),
  description,
  changeNote,
}

interface ActionFields {
  readonly action: (typeof RULE_ACTIONS)[number]
  readonly reason?: unknown
  readonly score?: unknown
}

/** A reason only for block rules, points only (and always) for score rules. */
function checkActionFields(body: ActionFields, ctx: z.RefinementCtx, scoreRequired: boolean) {
  if (body.reason !== undefined && body.action !== 'block')
    ctx.addIssue({
      code: 'custom',
      path: ['reason'],
      message: 'a reason is only for block rules',
      params: { code: 'not_applicable' },
    })
  if (body.score !== undefined && body.action !== 'score')
    ctx.addIssue({
      code: 'custom',
      path: ['score'],
      message: 'points are only for score rules',
      params: { code: 'not_applicable' },
    })
  if (scoreRequired && body.score === undefined && body.action === 'score')
    ctx.addIssue({
      code: 'custom',
      path: ['score'],
      message: `expected the points a score rule adds, 1 to ${RULE_SCORE_MAX}`,
      params: { code: 'required' },
    })
}

export const ruleCreate = z
  .strictObject({
    id: RULE_ID,
    ...ruleFields,
    status: z.enum(['draft', 'shadow']).default('draft'),
  })
  .superRefine((body, ctx) => checkActionFields(body, ctx, true))

/** A new version: omitted reason, score and priority keep their values where they still apply. */
export const ruleUpdate = z
  .strictObject({
    baseVersion: z.number().int().min(1),
    ...ruleFields,
    status: z.enum(RULE_STATUSES).optional(),
  })
  .superRefine((body, ctx) => checkActionFields(body, ctx, false))

export const ruleStatus = z.strictObject({
  status: z.enum(RULE_STATUSES),
  baseVersion: z.number().int().min(1),
  changeNote,
})

export const expressionCheck = z.strictObject({ expression })

export const settings = z
  .strictObject({
    reviewScore: z.number().int().min(1).max(SETTINGS_SCORE_MAX),
    blockScore: z.number().int().min(1).max(SETTINGS_SCORE_MAX),
    scoreBlockReason: z.enum(RISK_BLOCK_REASONS),
    onRuleError: z.enum(ON_RULE_ERROR),
    changeNote,
  })
  .superRefine((body, ctx) => {
    if (body.blockScore <= body.reviewScore)
      ctx.addIssue({
        code: 'custom',
        path: ['blockScore'],
        message: `expected more than reviewScore (${body.reviewScore})`,
        params: { code: 'not_above_review_score' },
      })
  })

export const reviewQuery = z.strictObject({
  lang: LANG.optional(),
  status: z.enum(REVIEW_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
})

export const reviewAction = z.strictObject({
  note: z.string().trim().max(CHANGE_NOTE_LENGTH_MAX).optional(),
})

export const reviewResolve = z.strictObject({
  resolution: z.enum(REVIEW_RESOLUTIONS),
  note: z
    .string({ error: 'expected a note saying what the analyst found' })
    .trim()
    .min(1, 'expected a note saying what the analyst found')
    .max(RESOLUTION_NOTE_LENGTH_MAX, `at most ${RESOLUTION_NOTE_LENGTH_MAX} characters`),
  list: z.boolean().default(true),
  listExpiresAtMs: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).nullable().default(null),
})

export const langQuery = z.strictObject({ lang: LANG.optional() })
export const ruleIdParams = z.strictObject({ id: RULE_ID })
export const reviewParams = z.strictObject({
  transactionId: z
    .string()
    .regex(/^tx_[0-9A-Z]{26}$/, 'expected a transaction id such as tx_01J...'),
})
