import type { Lang } from '../core/reasons/types.js'
import { apiClientOf, langOf } from './env.js'
import type { ApiAnswer, ApiClient } from './http-client.js'

/** What the administrative commands (risk, routes, maintenance) share: options, context, calls. */

export const ADMIN_OPTIONS = {
  url: { type: 'string' },
  lang: { type: 'string' },
  json: { type: 'boolean' },
  actor: { type: 'string' },
} as const

export interface AdminContext {
  readonly api: ApiClient
  readonly lang: Lang
  readonly json: boolean
  /** `X-Tollgate-Actor`: who makes the change (--actor, else TOLLGATE_ACTOR). */
  readonly headers: Record<string, string>
}

export function adminContextOf(values: {
  url?: string | undefined
  lang?: string | undefined
  json?: boolean | undefined
  actor?: string | undefined
}): AdminContext {
  const lang = langOf(values.lang)
  const actor = values.actor ?? process.env.TOLLGATE_ACTOR
  return {
    api: apiClientOf(values.url, lang),
    lang,
    json: values.json === true,
    headers: actor === undefined ? {} : { 'x-tollgate-actor': actor },
  }
}

/** A JSON value as text: strings and numbers as they are, anything else empty. */
export function str(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : ''
}

export function write(text: string): void {
  process.stdout.write(text + '\n')
}

export interface FieldError {
  readonly field: string
  readonly message: string
  readonly line?: number | null
  readonly column?: number | null
}

/**
 * Calls the API; with --json prints the answer. A refusal prints the problem and each field
 * error (and `more` for each, e.g. a caret under an expression), sets exit code 2, and gives null.
 */
export async function adminCall(
  ctx: AdminContext,
  method: string,
  path: string,
  body?: unknown,
  more?: (error: FieldError) => string | null,
): Promise<ApiAnswer | null> {
  const answer = await ctx.api.call(method, path, body, ctx.headers)
  if (ctx.json) write(JSON.stringify(answer.body, null, 2))
  if (answer.status < 400) return answer
  const problem = answer.body
  process.stderr.write(
    `✗ ${str(problem.title) || 'error'} (HTTP ${answer.status}): ${str(problem.detail)}\n`,
  )
  for (const e of (problem.errors as FieldError[] | undefined) ?? []) {
    process.stderr.write(`    ${e.field}: ${e.message}\n`)
    const extra = more?.(e) ?? null
    if (extra !== null) process.stderr.write(extra + '\n')
  }
  process.exitCode = 2
  return null
}
