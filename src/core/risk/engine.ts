import { Environment, type ASTNode } from '@marcbachmann/cel-js'
import type { ReasonCode } from '../reasons/codes.js'
import { FEATURES, FEATURES_BY_NAME, type FeatureValue, type Features } from './features.js'
import {
  DEFAULT_RISK_SETTINGS,
  RULE_EXPRESSION_LENGTH_MAX,
  type RiskRule,
  type RiskSettings,
} from './rules.js'

/**
 * The rule engine: CEL expressions over the features, type-checked when saved, evaluated
 * without side effects, each rule isolated from the others' failures. Evaluation order is fixed
 * and documented (docs/risk.md):
 *
 * 1. an allow-list hit allows (active rules are not run);
 * 2. active rules by priority, then id: the first true `allow` allows and the first true `block`
 *    blocks (both stop the evaluation); a true `review` flags the transaction; a true `score`
 *    adds its points;
 * 3. then the total score: at or above the block threshold blocks, at or above the review
 *    threshold (or a review flag, or a review-list hit) reviews;
 * 4. shadow rules always run, all of them, after the decision, and change nothing.
 */

/** Structural bounds on an expression, checked when it is parsed. */
const LIMITS = {
  maxAstNodes: 400,
  maxDepth: 32,
  maxListElements: 200,
  maxMapEntries: 50,
  maxCallArguments: 8,
}

function buildEnvironment(): Environment {
  let env = new Environment({ limits: LIMITS, homogeneousAggregateLiterals: true })
  for (const feature of FEATURES) env = env.registerVariable(feature.name, feature.type)
  return env
}

let environment: Environment | null = null
function riskEnvironment(): Environment {
  environment ??= buildEnvironment()
  return environment
}

/** Why an expression was refused: a message and where in the text. */
export interface ExpressionError {
  readonly message: string
  /** Zero-based character offset, when the parser knows it. */
  readonly offset: number | null
  readonly line: number | null
  readonly column: number | null
}

function positionOf(error: unknown): number | null {
  if (typeof error !== 'object' || error === null || !('node' in error)) return null
  const node = (error as { node?: unknown }).node
  if (typeof node !== 'object' || node === null) return null
  const n = node as { pos?: unknown; range?: { start?: unknown } }
  const start = n.range?.start ?? n.pos
  return typeof start === 'number' && Number.isInteger(start) && start >= 0 ? start : null
}

function firstLine(message: string): string {
  const cut = message.indexOf('\n')
  return (cut < 0 ? message : message.slice(0, cut)).trim()
}

function expressionError(
  expression: string,
  message: string,
  offset: number | null,
): ExpressionError {
  if (offset === null) return { message, offset: null, line: null, column: null }
  const before = expression.slice(0, offset).split('\n')
  return {
    message,
    offset,
    line: before.length,
    column: (before[before.length - 1]?.length ?? 0) + 1,
  }
}

/**
 * Functions the library offers that a rule may not call, with why. `matches` runs a regular
 * expression on JavaScript's backtracking engine: a pattern such as `^(a+)+$` takes time
 * exponential in the length of the text, and no bound on the expression's size bounds that
 * (29 characters stalled one evaluation for 20 s). The library cannot remove or replace a
 * built-in function, so the check refuses every call of it, as a method (`x.matches(re)`) or as
 * a global (`matches(x, re)`), wherever it sits (inside macros too).
 */
const REFUSED_FUNCTIONS: ReadonlyMap<string, string> = new Map([
  [
    'matches',
    'the function matches is not allowed in rules: a regular expression can run for unbounded' +
      ' time (backtracking); use startsWith, endsWith, contains or in [...] instead',
  ],
])

function isAstNode(value: unknown): value is ASTNode {
  return typeof value === 'object' && value !== null && 'op' in value && 'args' in value
}

/** Where the name of a call starts: the name itself, not the receiver of a method call. */
function callNameOffset(node: ASTNode & { op: 'call' | 'rcall' }): number {
  if (node.op === 'call') return node.start
  const [name, receiver, args] = node.args
  const before = args[0]?.start ?? node.end
  const at = node.input.lastIndexOf(name, before - name.length)
  return at >= receiver.end ? at : node.start
}

/** The first (in the text) call of a refused function in a parsed expression, if any. */
function refusedCall(ast: ASTNode): { readonly message: string; readonly offset: number } | null {
  let found: { message: string; offset: number } | null = null
  const pending: unknown[] = [ast]
  while (pending.length > 0) {
    const item = pending.pop()
    if (Array.isArray(item)) {
      pending.push(...(item as unknown[]))
      continue
    }
    if (!isAstNode(item) || item.op === 'value') continue
    if (item.op === 'call' || item.op === 'rcall') {
      const message = REFUSED_FUNCTIONS.get(item.args[0])
      if (message !== undefined) {
        const offset = callNameOffset(item)
        if (found === null || offset < found.offset) found = { message, offset }
      }
    }
    pending.push(item.args)
  }
  return found
}

/**
 * Checks an expression as the engine would run it: it must parse, call no refused function
 * (`matches`), type-check and be a bool.
 */
export function checkExpression(expression: string): ExpressionError | null {
  if (expression.trim() === '') return expressionError(expression, 'the expression is empty', 0)
  if (expression.length > RULE_EXPRESSION_LENGTH_MAX) {
    return expressionError(
      expression,
      `the expression is ${expression.length} characters; at most ${RULE_EXPRESSION_LENGTH_MAX}`,
      RULE_EXPRESSION_LENGTH_MAX,
    )
  }
  let result: ReturnType<Environment['check']>
  try {
    const parsed = riskEnvironment().parse(expression)
    const refused = refusedCall(parsed.ast)
    if (refused !== null) return expressionError(expression, refused.message, refused.offset)
    result = parsed.check()
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    return expressionError(expression, firstLine(message), positionOf(error))
  }
  if (!result.valid) {
    const error: unknown = result.error
    const message = error instanceof Error ? error.message : 'invalid expression'
    return expressionError(expression, firstLine(message), positionOf(error))
  }
  if (result.type !== 'bool') {
    return expressionError(
      expression,
      `the expression gives ${String(result.type)}; a rule must give bool (true fires the rule)`,
      null,
    )
  }
  return null
}

/** The feature names an expression mentions (outside string literals), in first-use order. */
export function referencedFeatures(expression: string): string[] {
  const code = expression.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
  const names = new Set<string>()
  for (const match of code.matchAll(/[A-Za-z_][A-Za-z0-9_]*/g)) {
    if (FEATURES_BY_NAME.has(match[0])) names.add(match[0])
  }
  return [...names]
}

type Program = (context: Record<string, unknown>) => unknown

export interface CompiledRule {
  readonly rule: RiskRule
  readonly features: readonly string[]
  readonly run: Program
}

export interface RuleSet {
  /** Changes whenever a rule or the settings change; stores cache compiled sets by it. */
  readonly generation: number
  readonly active: readonly CompiledRule[]
  readonly shadow: readonly CompiledRule[]
  readonly settings: RiskSettings
  /** Every feature an active or shadow rule reads: the only velocity worth computing. */
  readonly features: ReadonlySet<string>
}

export const EMPTY_RULE_SET: RuleSet = {
  generation: 0,
  active: [],
  shadow: [],
  settings: DEFAULT_RISK_SETTINGS,
  features: new Set(),
}

export class RuleCompileError extends Error {
  override readonly name = 'RuleCompileError'
  constructor(
    readonly ruleId: string,
    readonly detail: ExpressionError,
  ) {
    super(`rule ${ruleId}: ${detail.message}`)
  }
}

export function compileRule(rule: RiskRule): CompiledRule {
  const problem = checkExpression(rule.expression)
  if (problem !== null) throw new RuleCompileError(rule.id, problem)
  const parsed = riskEnvironment().parse(rule.expression) as unknown as Program
  return { rule, features: referencedFeatures(rule.expression), run: parsed }
}

/** Evaluation order: priority, then id. */
export const byPriority = (a: CompiledRule, b: CompiledRule): number =>
  a.rule.priority - b.rule.priority || (a.rule.id < b.rule.id ? -1 : a.rule.id > b.rule.id ? 1 : 0)

/**
 * Compiles the live rules (active and shadow; the newest version of each rule). A stored rule
 * that no longer compiles (it was valid when saved, so only a feature removed in an upgrade, or
 * a function refused since, such as `matches`, can do this) is left out and reported, never a
 * reason to stop the switch.
 */
export function compileRuleSet(
  rules: readonly RiskRule[],
  settings: RiskSettings,
  generation: number,
): { readonly ruleSet: RuleSet; readonly failures: readonly RuleCompileError[] } {
  const active: CompiledRule[] = []
  const shadow: CompiledRule[] = []
  const failures: RuleCompileError[] = []
  for (const rule of rules) {
    if (rule.status !== 'active' && rule.status !== 'shadow') continue
    try {
      const compiled = compileRule(rule)
      ;(rule.status === 'active' ? active : shadow).push(compiled)
    } catch (error) {
      if (error instanceof RuleCompileError) failures.push(error)
      else throw error
    }
  }
  return { ruleSet: ruleSetOf(active, shadow, settings, generation), failures }
}

/** A rule set from compiled rules, in evaluation order, with the features they read. */
export function ruleSetOf(
  active: readonly CompiledRule[],
  shadow: readonly CompiledRule[],
  settings: RiskSettings,
  generation: number,
): RuleSet {
  return {
    generation,
    active: [...active].sort(byPriority),
    shadow: [...shadow].sort(byPriority),
    settings,
    features: new Set([...active, ...shadow].flatMap((c) => c.features)),
  }
}

/** BigInts of the small counts most features hold (0 to 1023), made once: BigInts are values. */
const SMALL_BIGINTS: readonly bigint[] = Array.from({ length: 1024 }, (_, i) => BigInt(i))

/**
 * The CEL activation: ints as BigInt, as CEL wants them. Runs once per transaction, so it
 * avoids `for…in` (slow on the features object, which has too many keys to stay a fast V8
 * object) and reuses the BigInts of small counts. Same result as `BigInt(value)` for each.
 */
export function celContext(
  features: Features,
  /** The features the rules read (RuleSet.features); all when undefined. */
  needed?: ReadonlySet<string>,
): Record<string, unknown> {
  const context: Record<string, unknown> = {}
  for (const key of needed ?? Object.keys(features)) {
    const value: FeatureValue | undefined = features[key]
    if (typeof value !== 'number') context[key] = value
    else
      context[key] = (Number.isInteger(value) ? SMALL_BIGINTS[value] : undefined) ?? BigInt(value)
  }
  return context
}

export interface RuleHit {
  readonly ruleId: string
  readonly version: number
  readonly name: string
  readonly action: RiskRule['action']
  readonly score: number
}

export interface RuleFailure {
  readonly ruleId: string
  readonly version: number
  readonly message: string
}

export type RiskDecision = 'pass' | 'allow' | 'review' | 'block'

export interface RiskOutcome {
  readonly decision: RiskDecision
  /** For a block: the reason to decline with. */
  readonly reason: ReasonCode | null
  /** The rule that allowed or blocked, when one did (not for a score or list decision). */
  readonly decidingRule: CompiledRule | null
  /** What decided, in words for the evidence: a rule, the score, a list, a rule failure. */
  readonly decidedBy: 'rule' | 'score' | 'allow_list' | 'review_list' | 'rule_error' | 'none'
  readonly score: number
  readonly hits: readonly RuleHit[]
  readonly shadowHits: readonly RuleHit[]
  readonly errors: readonly RuleFailure[]
  readonly shadowErrors: readonly RuleFailure[]
  readonly rulesEvaluated: number
}

function hitOf(compiled: CompiledRule): RuleHit {
  const r = compiled.rule
  return { ruleId: r.id, version: r.version, name: r.name, action: r.action, score: r.score }
}

/** Runs one rule; a failure (division by zero, overflow…) is returned, never thrown. */
function runRule(compiled: CompiledRule, context: Record<string, unknown>): boolean | string {
  try {
    const value = compiled.run(context)
    if (typeof value !== 'boolean') return `the rule gave ${typeof value}, not bool`
    return value
  } catch (error) {
    return firstLine(error instanceof Error ? error.message : String(error))
  }
}

/** Evaluates the rule set on one transaction's features. Pure and deterministic. */
export function evaluateRules(ruleSet: RuleSet, features: Features): RiskOutcome {
  const settings = ruleSet.settings
  const hits: RuleHit[] = []
  const errors: RuleFailure[] = []
  const shadowHits: RuleHit[] = []
  const shadowErrors: RuleFailure[] = []
  const needsContext = ruleSet.active.length > 0 || ruleSet.shadow.length > 0
  // Only what the rules read becomes CEL values (a rule cannot name anything else: compiled).
  const context = needsContext ? celContext(features, ruleSet.features) : {}

  let decision: RiskDecision = 'pass'
  let reason: ReasonCode | null = null
  let decidingRule: CompiledRule | null = null
  let decidedBy: RiskOutcome['decidedBy'] = 'none'
  let score = 0
  let review = false
  let reviewBy: RiskOutcome['decidedBy'] = 'none'
  let evaluated = 0

  if (features.on_allow_list === true) {
    decision = 'allow'
    decidedBy = 'allow_list'
  } else {
    if (features.on_review_list === true) {
      review = true
      reviewBy = 'review_list'
    }
    for (const compiled of ruleSet.active) {
      evaluated++
      const result = runRule(compiled, context)
      const rule = compiled.rule
      if (typeof result === 'string') {
        errors.push({ ruleId: rule.id, version: rule.version, message: result })
        if (settings.onRuleError === 'block') {
          decision = 'block'
          reason =
            rule.action === 'block' && rule.reason !== null
              ? rule.reason
              : settings.scoreBlockReason
          decidingRule = compiled
          decidedBy = 'rule_error'
          break
        }
        if (settings.onRuleError === 'review' && !review) {
          review = true
          reviewBy = 'rule_error'
        }
        continue
      }
      if (!result) continue
      hits.push(hitOf(compiled))
      if (rule.action === 'allow' || rule.action === 'block') {
        decision = rule.action
        reason = rule.action === 'block' ? (rule.reason ?? settings.scoreBlockReason) : null
        decidingRule = compiled
        decidedBy = 'rule'
        break
      }
      if (rule.action === 'review') {
        if (!review) {
          review = true
          reviewBy = 'rule'
          decidingRule = compiled
        }
      } else score += rule.score
    }
    if (decision === 'pass') {
      if (score >= settings.blockScore) {
        decision = 'block'
        reason = settings.scoreBlockReason
        decidingRule = null
        decidedBy = 'score'
      } else if (review || score >= settings.reviewScore) {
        decision = 'review'
        decidedBy = review ? reviewBy : 'score'
        if (!review) decidingRule = null
      }
    }
  }

  for (const compiled of ruleSet.shadow) {
    const result = runRule(compiled, context)
    const rule = compiled.rule
    if (typeof result === 'string')
      shadowErrors.push({ ruleId: rule.id, version: rule.version, message: result })
    else if (result) shadowHits.push(hitOf(compiled))
  }

  return {
    decision,
    reason,
    decidingRule,
    decidedBy,
    score,
    hits,
    shadowHits,
    errors,
    shadowErrors,
    rulesEvaluated: evaluated,
  }
}
