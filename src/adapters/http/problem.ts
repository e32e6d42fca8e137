import type { z } from 'zod'
import type { Explanation } from '../../core/explain.js'

/** RFC 9457 problem details, with field-level errors. */
export interface FieldProblem {
  readonly field: string
  readonly code: string
  readonly message: string
}

export interface Problem {
  readonly type: string
  readonly title: string
  readonly status: number
  readonly detail: string
  readonly code: string
  readonly errors?: readonly FieldProblem[]
  readonly reason?: { readonly code: string; readonly family: string }
  readonly responseCode?: string
  readonly explanation?: Explanation
}

export const PROBLEM_BASE = 'https://tollgate.dev/problems/'

export function problem(
  status: number,
  code: string,
  title: string,
  detail: string,
  extra: Partial<Problem> = {},
): Problem {
  return { type: PROBLEM_BASE + code, title, status, detail, code, ...extra }
}

export function fieldProblems(
  error: z.ZodError,
  where: 'body' | 'query' | 'path' = 'body',
): FieldProblem[] {
  return error.issues.flatMap((issue) => {
    const parent = issue.path.map(String)
    if (issue.code === 'unrecognized_keys') {
      // One error per unknown field, named by its full path, so a client can point at it.
      return issue.keys.map((key) => ({
        field: [...parent, key].join('.'),
        code: 'unknown_field',
        message: `unknown field: ${where === 'query' ? 'not a parameter of this call' : 'remove it'}`,
      }))
    }
    const field = parent.join('.') || `(${where})`
    const params = 'params' in issue ? (issue.params as { code?: string } | undefined) : undefined
    let message = issue.message
    if (issue.code === 'invalid_type' && issue.message.startsWith('Invalid input'))
      message = `expected ${issue.expected}`
    return [{ field, code: params?.code ?? issue.code, message }]
  })
}

export function validationProblem(error: z.ZodError, where: 'body' | 'query' | 'path'): Problem {
  const errors = fieldProblems(error, where)
  const detail = errors.map((e) => `${e.field}: ${e.message}`).join('; ')
  return problem(400, 'validation_failed', `Invalid request ${where}`, detail, { errors })
}
