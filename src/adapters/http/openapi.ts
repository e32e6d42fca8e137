import { z } from 'zod'

/** A route as documented in /openapi.json. */
export interface RouteDoc {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  /** Fastify form, e.g. /v1/transactions/:id */
  readonly url: string
  readonly summary: string
  readonly tag: string
  readonly admin: boolean
  readonly body?: z.ZodType
  readonly query?: z.ZodType
  readonly idempotent?: boolean
  /** Takes `X-Tollgate-Actor`, the analyst the change and its audit entry name. */
  readonly actor?: boolean
  readonly responses: Readonly<Record<number, string>>
}

function jsonSchema(schema: z.ZodType): unknown {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' })
}

/** Builds the OpenAPI 3.1 document from the routes the server registered. */
export function openApiDocument(routes: readonly RouteDoc[], version: string): unknown {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}')
    const parameters: unknown[] = [...route.url.matchAll(/:([A-Za-z]+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }))
    if (route.query !== undefined) {
      const schema = jsonSchema(route.query) as {
        properties?: Record<string, unknown>
        required?: string[]
      }
      for (const [name, property] of Object.entries(schema.properties ?? {})) {
        parameters.push({
          name,
          in: 'query',
          required: schema.required?.includes(name) ?? false,
          schema: property,
        })
      }
    }
    if (route.idempotent === true) {
      parameters.push({
        name: 'Idempotency-Key',
        in: 'header',
        required: false,
        schema: { type: 'string', maxLength: 128 },
        description: 'Repeat a call safely: the same key and body get the first answer.',
      })
    }
    if (route.actor === true) {
      parameters.push({
        name: 'X-Tollgate-Actor',
        in: 'header',
        required: false,
        schema: { type: 'string', pattern: '^[A-Za-z0-9._@-]{1,64}$' },
        description:
          'Who makes the change (default admin): kept in the audit log, rule versions and maintenance windows.',
      })
    }
    const responses: Record<string, unknown> = {}
    for (const [status, description] of Object.entries(route.responses)) {
      const problem = Number(status) >= 400
      responses[status] = {
        description,
        content: {
          [problem ? 'application/problem+json' : 'application/json']: {
            schema: problem ? { $ref: '#/components/schemas/Problem' } : {},
          },
        },
      }
    }
    paths[path] ??= {}
    paths[path][route.method.toLowerCase()] = {
      summary: route.summary,
      tags: [route.tag],
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(route.body === undefined
        ? {}
        : {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: jsonSchema(route.body) } },
            },
          }),
      ...(route.admin ? { security: [{ bearer: [] }] } : {}),
      responses,
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tollgate',
      version,
      description:
        'POS card authorization switch that explains every block. Amounts are decimal strings in major units beside their ISO 4217 currency. A decline is a normal 200/201 answer; 4xx answers are problem+json with field-level errors.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Problem: {
          type: 'object',
          required: ['type', 'title', 'status', 'detail', 'code'],
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            code: { type: 'string' },
            errors: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  field: { type: 'string' },
                  code: { type: 'string' },
                  message: { type: 'string' },
                },
              },
            },
            reason: { type: 'object' },
            responseCode: { type: 'string' },
            explanation: { type: 'object' },
          },
        },
      },
    },
    paths,
  }
}
