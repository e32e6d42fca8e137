import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openSqliteStore } from '../../src/adapters/store/sqlite/sqlite-store.js'
import { RULE_SCORE_MAX } from '../../src/core/risk/rules.js'
import {
  auditOf,
  DEFAULT_SETTINGS,
  freshRuleId,
  ruleBody,
  type RuleBody,
  type SettingsBody,
} from '../support/risk.js'
import {
  api,
  call,
  openDatabaseReadOnly,
  startTestServer,
  type Api,
  type ProblemBody,
  type TestServer,
} from '../support/server.js'
import { REPO_ROOT } from '../support/paths.js'

/**
 * The risk-control API over real HTTP against a real SQLite file: the feature catalogue,
 * expression checks, rules and their versions, settings, lists and authentication. What the
 * rules do to decisions is in risk-decisions.test.ts.
 */

let server: TestServer
let admin: Api

beforeAll(async () => {
  server = await startTestServer()
  admin = api(server.url, server.adminToken)
})

afterAll(async () => {
  await server.close()
})

interface ExpressionErrorBody {
  readonly field: string
  readonly code: string
  readonly message: string
  readonly offset: number | null
  readonly line: number | null
  readonly column: number | null
}

type ExpressionProblem = Omit<ProblemBody, 'errors'> & { readonly errors: ExpressionErrorBody[] }

interface CheckBody {
  readonly valid: boolean
  readonly features?: string[]
  readonly error?: Omit<ExpressionErrorBody, 'field' | 'code'>
}

interface RuleDetail {
  readonly rule: RuleBody
  readonly versions: RuleBody[]
}

const as = (actor: string) => ({ headers: { 'x-tollgate-actor': actor } })

/** Rows of the tables a refused change must not touch, read from the database file. */
function riskRowCounts(): Record<string, number> {
  const db = openDatabaseReadOnly(server.dataDir)
  const count = (table: string) =>
    db.all<{ n: number }>(`SELECT count(*) AS n FROM ${table}`)[0]?.n ?? -1
  try {
    return {
      rules: count('risk_rules'),
      audit: count('audit_log'),
      lists: count('list_entries'),
      reviews: count('risk_reviews'),
    }
  } finally {
    db.close()
  }
}

describe('GET /v1/risk/features', () => {
  it('lists every feature with its type, group and label in the asked language', async () => {
    const en = await admin.get<{ lang: string; items: Record<string, unknown>[] }>(
      '/v1/risk/features?lang=en',
    )
    expect(en.status).toBe(200)
    expect(en.body.lang).toBe('en')
    expect(en.body.items).toContainEqual({
      name: 'amount',
      type: 'int',
      group: 'transaction',
      money: true,
      label: 'amount',
    })
    expect(en.body.items).toContainEqual(
      expect.objectContaining({ name: 'card_count_10m', type: 'int', group: 'velocity' }),
    )
    const zh = await admin.get<{ items: { name: string; label: string }[] }>(
      '/v1/risk/features?lang=zh-CN',
    )
    expect(zh.body.items.find((f) => f.name === 'amount')?.label).toBe('交易金额')
    expect(zh.body.items.map((f) => f.name)).toEqual(en.body.items.map((f) => f.name))
    const bad = await admin.get<ProblemBody>('/v1/risk/features?lang=fr')
    expect(bad.status).toBe(400)
    expect(bad.body.errors).toContainEqual(expect.objectContaining({ field: 'lang' }))
  })
})

describe('POST /v1/risk/rules/check', () => {
  const check = (expression: string) =>
    admin.post<CheckBody>('/v1/risk/rules/check', { expression })

  it('accepts a valid expression and names the features it reads', async () => {
    const answer = await check('amount >= 500000 && card_count_10m > 3 && mcc == "5812"')
    expect(answer.status).toBe(200)
    expect(answer.body).toEqual({ valid: true, features: ['amount', 'card_count_10m', 'mcc'] })
  })

  it('refuses a syntax error with its line and column', async () => {
    const answer = await check('amount > 100 &&\n  card_count_10m >')
    expect(answer.status).toBe(200)
    expect(answer.body.valid).toBe(false)
    expect(answer.body.error?.message).toEqual(expect.any(String))
    expect(answer.body.error?.line).toBe(2)
    expect(answer.body.error?.column).toEqual(expect.any(Number))
    expect(answer.body.error?.offset).toBeGreaterThan(15)
  })

  it('refuses an unknown feature, a type error and a non-bool result', async () => {
    const unknown = await check('amount > 1 && no_such_feature == 2')
    expect(unknown.body.valid).toBe(false)
    expect(unknown.body.error?.message).toMatch(/no_such_feature/)
    expect(unknown.body.error?.offset).toBe(14)
    expect(unknown.body.error?.column).toBe(15)
    const types = await check('amount > "100"')
    expect(types.body.valid).toBe(false)
    const notBool = await check('amount + 1')
    expect(notBool.body).toMatchObject({
      valid: false,
      error: { message: expect.stringMatching(/bool/) as unknown },
    })
    const empty = await check('   ')
    expect(empty.body).toMatchObject({ valid: false, error: { offset: 0, line: 1, column: 1 } })
  })

  it('names a missing expression as a field error', async () => {
    const answer = await admin.post<ProblemBody>('/v1/risk/rules/check', {})
    expect(answer.status).toBe(400)
    expect(answer.body.errors).toContainEqual(expect.objectContaining({ field: 'expression' }))
  })
})

describe('rules', () => {
  it('refuses an invalid expression with its position and stores nothing', async () => {
    const before = riskRowCounts()
    const id = freshRuleId('bad')
    const answer = await admin.post<ExpressionProblem>(
      '/v1/risk/rules',
      ruleBody({ id, expression: 'amount >= 100 && kind == ', action: 'block' }),
    )
    expect(answer.status).toBe(400)
    expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(answer.body.code).toBe('validation_failed')
    const error = answer.body.errors.find((e) => e.field === 'expression')
    expect(error).toMatchObject({ field: 'expression', code: 'invalid_expression', line: 1 })
    expect(error?.offset).toEqual(expect.any(Number))
    expect(error?.column).toBe((error?.offset ?? 0) + 1)
    expect(answer.body.detail).toMatch(/^expression: .*\(line 1, column \d+\)$/)
    expect(riskRowCounts()).toEqual(before)
    expect((await admin.get(`/v1/risk/rules/${id}`)).status).toBe(404)
  })

  it('collects every field error with the expression error in one answer', async () => {
    const before = riskRowCounts()
    const answer = await admin.post<ProblemBody>('/v1/risk/rules', {
      ...ruleBody({ id: 'Not-Snake', expression: 'amount >', action: 'score', reason: 'x' }),
      changeNote: '',
    })
    expect(answer.status).toBe(400)
    const fields = (answer.body.errors ?? []).map((e) => e.field).sort()
    expect(fields).toEqual(['changeNote', 'expression', 'id', 'reason'])
    expect(riskRowCounts()).toEqual(before)
  })

  it('checks what each action takes: a reason for block, points for score', async () => {
    const reasonOnScore = await admin.post<ProblemBody>(
      '/v1/risk/rules',
      ruleBody({
        id: freshRuleId(),
        expression: 'amount > 1',
        action: 'score',
        score: 10,
        reason: 'suspected_fraud',
      }),
    )
    expect(reasonOnScore.status).toBe(400)
    expect(reasonOnScore.body.errors).toEqual([
      expect.objectContaining({ field: 'reason', code: 'not_applicable' }),
    ])
    const tooMany = await admin.post<ProblemBody>(
      '/v1/risk/rules',
      ruleBody({
        id: freshRuleId(),
        expression: 'amount > 1',
        action: 'score',
        score: RULE_SCORE_MAX + 1,
      }),
    )
    expect(tooMany.status).toBe(400)
    expect(tooMany.body.errors).toEqual([expect.objectContaining({ field: 'score' })])
    const badReason = await admin.post<ProblemBody>(
      '/v1/risk/rules',
      ruleBody({
        id: freshRuleId(),
        expression: 'amount > 1',
        action: 'block',
        reason: 'insufficient_funds',
      }),
    )
    expect(badReason.status).toBe(400)
    expect(badReason.body.errors).toEqual([expect.objectContaining({ field: 'reason' })])
    const active = await admin.post<ProblemBody>('/v1/risk/rules', {
      ...ruleBody({ id: freshRuleId(), expression: 'amount > 1', action: 'block' }),
      status: 'active',
    })
    expect(active.status).toBe(400)
    expect(active.body.errors).toEqual([expect.objectContaining({ field: 'status' })])

    const block = await admin.post<RuleBody>(
      '/v1/risk/rules',
      ruleBody({ id: freshRuleId(), expression: 'amount > 1', action: 'block' }),
    )
    expect(block.status).toBe(201)
    expect(block.body).toMatchObject({
      reason: 'suspected_fraud',
      score: 0,
      priority: 100,
      status: 'draft',
    })
    const score = await admin.post<RuleBody>(
      '/v1/risk/rules',
      ruleBody(
        { id: freshRuleId(), expression: 'amount > 1', action: 'score', score: 30, priority: 5 },
        'shadow',
      ),
    )
    expect(score.status).toBe(201)
    expect(score.body).toMatchObject({ reason: null, score: 30, priority: 5, status: 'shadow' })
  })

  it('keeps every version of a rule, each with its author and change note, all audited', async () => {
    const id = freshRuleId('lifecycle')
    const created = await admin.post<RuleBody>(
      '/v1/risk/rules',
      {
        ...ruleBody({ id, expression: 'amount >= 100000', action: 'review' }),
        changeNote: 'large sales at new merchants',
      },
      as('alice'),
    )
    expect(created.status, created.text).toBe(201)
    expect(created.body).toMatchObject({
      id,
      version: 1,
      status: 'draft',
      action: 'review',
      reason: null,
      author: 'alice',
      changeNote: 'large sales at new merchants',
      features: ['amount'],
    })
    expect(created.body.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/)

    const changed = await admin.put<RuleBody>(
      `/v1/risk/rules/${id}`,
      {
        baseVersion: 1,
        name: 'Large sale at a young merchant',
        expression: 'amount >= 100000 && merchant_days_since_onboarding < 30',
        action: 'block',
        reason: 'do_not_honour',
        description: {
          'zh-CN': '新商户大额交易',
          en: 'A large sale at a merchant onboarded lately',
        },
        changeNote: 'only young merchants; block instead of review',
      },
      as('bob'),
    )
    expect(changed.status, changed.text).toBe(200)
    expect(changed.body).toMatchObject({
      version: 2,
      status: 'draft',
      action: 'block',
      reason: 'do_not_honour',
      priority: 100,
      author: 'bob',
      features: ['amount', 'merchant_days_since_onboarding'],
    })

    const moves: [string, string][] = [
      ['shadow', 'watch it in shadow first'],
      ['active', 'shadow hits looked right for a week'],
      ['disabled', 'too many false positives at hotels'],
    ]
    let version = 2
    for (const [status, changeNote] of moves) {
      const moved = await admin.post<RuleBody>(
        `/v1/risk/rules/${id}/status`,
        { status, baseVersion: version, changeNote },
        as('carol'),
      )
      expect(moved.status, moved.text).toBe(200)
      version += 1
      expect(moved.body).toMatchObject({ version, status, author: 'carol', changeNote })
      expect(moved.body.expression).toBe(changed.body.expression)
    }

    const detail = await admin.get<RuleDetail>(`/v1/risk/rules/${id}`)
    expect(detail.status).toBe(200)
    expect(detail.body.rule).toMatchObject({ version: 5, status: 'disabled' })
    expect(detail.body.versions.map((v) => [v.version, v.status, v.author])).toEqual([
      [1, 'draft', 'alice'],
      [2, 'draft', 'bob'],
      [3, 'shadow', 'carol'],
      [4, 'active', 'carol'],
      [5, 'disabled', 'carol'],
    ])
    expect(detail.body.versions[0]?.expression).toBe('amount >= 100000')

    const listed = await admin.get<{ items: RuleBody[] }>('/v1/risk/rules')
    const mine = listed.body.items.filter((r) => r.id === id)
    expect(mine).toEqual([expect.objectContaining({ version: 5, status: 'disabled' })])

    const audit = await auditOf(admin, id)
    expect(audit.map((a) => [a.action, a.actor, a.detail.note, a.detail.version])).toEqual([
      ['risk_rule.create', 'alice', 'large sales at new merchants', 1],
      ['risk_rule.update', 'bob', 'only young merchants; block instead of review', 2],
      ['risk_rule.status', 'carol', 'watch it in shadow first', 3],
      ['risk_rule.status', 'carol', 'shadow hits looked right for a week', 4],
      ['risk_rule.status', 'carol', 'too many false positives at hotels', 5],
    ])
    expect(audit[1]?.detail).toMatchObject({
      before: { action: 'review', reason: null },
      after: { action: 'block', reason: 'do_not_honour' },
    })
    expect(audit[3]?.detail).toMatchObject({
      before: { status: 'shadow' },
      after: { status: 'active' },
    })
  })

  it('refuses a change made to a stale version, and an existing id, storing nothing', async () => {
    const id = freshRuleId('conflict')
    const created = await admin.post<RuleBody>(
      '/v1/risk/rules',
      ruleBody({ id, expression: 'amount > 1', action: 'score', score: 10 }),
    )
    expect(created.status).toBe(201)
    const edit = (baseVersion: number, actor: string) =>
      admin.put<ProblemBody & RuleBody>(
        `/v1/risk/rules/${id}`,
        {
          ...ruleBody({ id, expression: 'amount > 2', action: 'score' }),
          id: undefined,
          baseVersion,
        },
        as(actor),
      )
    const first = await edit(1, 'alice')
    expect(first.status, first.text).toBe(200)
    expect(first.body).toMatchObject({ version: 2, score: 10 })
    const before = riskRowCounts()
    const second = await edit(1, 'bob')
    expect(second.status).toBe(409)
    expect(second.body.code).toBe('conflict')
    expect(second.body.detail).toMatch(/version 2 \(by alice\).*version 1/)
    const status = await admin.post<ProblemBody>(`/v1/risk/rules/${id}/status`, {
      status: 'active',
      baseVersion: 1,
      changeNote: 'stale',
    })
    expect(status.status).toBe(409)
    const again = await admin.post<ProblemBody>(
      '/v1/risk/rules',
      ruleBody({ id, expression: 'amount > 1', action: 'block' }),
    )
    expect(again.status).toBe(409)
    expect(riskRowCounts()).toEqual(before)
    const missing = await admin.put<ProblemBody>('/v1/risk/rules/no_such_rule', {
      ...ruleBody({ id, expression: 'amount > 2', action: 'block' }),
      id: undefined,
      baseVersion: 1,
    })
    expect(missing.status).toBe(404)
  })

  it('refuses an invalid expression in a new version, keeping the old one', async () => {
    const id = freshRuleId('keep')
    await admin.post('/v1/risk/rules', ruleBody({ id, expression: 'amount > 1', action: 'block' }))
    const answer = await admin.put<ExpressionProblem>(`/v1/risk/rules/${id}`, {
      ...ruleBody({ id, expression: 'amount > > 1', action: 'block' }),
      id: undefined,
      baseVersion: 1,
    })
    expect(answer.status).toBe(400)
    expect(answer.body.errors).toEqual([
      expect.objectContaining({ field: 'expression', code: 'invalid_expression', line: 1 }),
    ])
    const detail = await admin.get<RuleDetail>(`/v1/risk/rules/${id}`)
    expect(detail.body.versions).toHaveLength(1)
  })

  it('names the analyst from X-Tollgate-Actor and refuses a malformed one', async () => {
    const bad = await admin.post<ProblemBody>(
      '/v1/risk/rules',
      ruleBody({ id: freshRuleId(), expression: 'amount > 1', action: 'block' }),
      as('has space'),
    )
    expect(bad.status).toBe(400)
    expect(bad.body.errors).toEqual([
      expect.objectContaining({ field: 'X-Tollgate-Actor', code: 'invalid_header' }),
    ])
    const long = await admin.post<ProblemBody>(
      '/v1/risk/rules',
      ruleBody({ id: freshRuleId(), expression: 'amount > 1', action: 'block' }),
      as('a'.repeat(65)),
    )
    expect(long.status).toBe(400)
    const ok = await admin.post<RuleBody>(
      '/v1/risk/rules',
      ruleBody({ id: freshRuleId(), expression: 'amount > 1', action: 'block' }),
      as('li.wei@risk-team'),
    )
    expect(ok.status).toBe(201)
    expect(ok.body.author).toBe('li.wei@risk-team')
  })
})

describe('settings', () => {
  it('reads and replaces the settings, audited with who and why', async () => {
    const current = await admin.get<SettingsBody>('/v1/risk/settings')
    expect(current.status).toBe(200)
    expect(current.body).toEqual(DEFAULT_SETTINGS)

    const next = {
      reviewScore: 40,
      blockScore: 90,
      scoreBlockReason: 'do_not_honour',
      onRuleError: 'review',
    }
    const put = await admin.put<SettingsBody>(
      '/v1/risk/settings',
      { ...next, changeNote: 'tighter thresholds for the holidays' },
      as('dana'),
    )
    expect(put.status, put.text).toBe(200)
    expect(put.body).toEqual(next)
    expect((await admin.get('/v1/risk/settings')).body).toEqual(next)
    const audit = await auditOf(admin, 'risk_settings')
    expect(audit.at(-1)).toMatchObject({
      actor: 'dana',
      action: 'risk_settings.update',
      detail: {
        note: 'tighter thresholds for the holidays',
        before: DEFAULT_SETTINGS,
        after: next,
      },
    })

    const restored = await admin.put('/v1/risk/settings', {
      ...DEFAULT_SETTINGS,
      changeNote: 'back',
    })
    expect(restored.status).toBe(200)
  })

  it('refuses a block threshold not above the review threshold, and unknown values', async () => {
    const equal = await admin.put<ProblemBody>('/v1/risk/settings', {
      ...DEFAULT_SETTINGS,
      reviewScore: 100,
      blockScore: 100,
      changeNote: 'x',
    })
    expect(equal.status).toBe(400)
    expect(equal.body.errors).toEqual([
      expect.objectContaining({ field: 'blockScore', code: 'not_above_review_score' }),
    ])
    const wrong = await admin.put<ProblemBody>('/v1/risk/settings', {
      ...DEFAULT_SETTINGS,
      onRuleError: 'panic',
      scoreBlockReason: 'insufficient_funds',
    })
    expect(wrong.status).toBe(400)
    expect((wrong.body.errors ?? []).map((e) => e.field).sort()).toEqual([
      'changeNote',
      'onRuleError',
      'scoreBlockReason',
    ])
    expect((await admin.get('/v1/risk/settings')).body).toEqual(DEFAULT_SETTINGS)
  })
})

describe('lists', () => {
  it('keeps review and allow list entries beside block entries', async () => {
    for (const list of ['review', 'allow', 'block'] as const) {
      const answer = await admin.post<{ id: string; list: string; createdBy: string }>(
        '/v1/lists',
        { list, kind: 'merchant', value: '898990009999999', note: `e2e ${list} entry` },
        as('erin'),
      )
      expect(answer.status, answer.text).toBe(201)
      expect(answer.body).toMatchObject({ list, createdBy: 'erin' })
      const audit = await auditOf(admin, answer.body.id)
      expect(audit).toEqual([
        expect.objectContaining({
          action: 'list.add',
          actor: 'erin',
          detail: expect.objectContaining({ list }) as unknown,
        }),
      ])
    }
    const listed = await admin.get<{ items: { list: string; value: string }[] }>(
      '/v1/lists?limit=500',
    )
    const mine = listed.body.items.filter((e) => e.value === '898990009999999').map((e) => e.list)
    expect(mine.sort()).toEqual(['allow', 'block', 'review'])
    const grey = await admin.post<ProblemBody>('/v1/lists', {
      list: 'grey',
      kind: 'merchant',
      value: '898990009999998',
      note: 'x',
    })
    expect(grey.status).toBe(400)
    expect(grey.body.errors).toEqual([expect.objectContaining({ field: 'list' })])
  })
})

describe('authentication and documents', () => {
  it('refuses every risk route without the administrator token, changing nothing', async () => {
    const routes: readonly [string, string, object?][] = [
      ['GET', '/v1/risk/features'],
      ['POST', '/v1/risk/rules/check', { expression: 'amount > 1' }],
      ['GET', '/v1/risk/rules'],
      [
        'POST',
        '/v1/risk/rules',
        ruleBody({ id: 'unauthorized', expression: 'amount > 1', action: 'block' }),
      ],
      ['GET', '/v1/risk/rules/unauthorized'],
      ['PUT', '/v1/risk/rules/unauthorized', {}],
      [
        'POST',
        '/v1/risk/rules/unauthorized/status',
        { status: 'active', baseVersion: 1, changeNote: 'x' },
      ],
      ['GET', '/v1/risk/settings'],
      ['PUT', '/v1/risk/settings', { ...DEFAULT_SETTINGS, changeNote: 'x' }],
      ['GET', '/v1/risk/reviews'],
      ['GET', '/v1/risk/reviews/tx_00000000000000000000000000'],
      ['POST', '/v1/risk/reviews/tx_00000000000000000000000000/claim', {}],
      ['POST', '/v1/risk/reviews/tx_00000000000000000000000000/release', {}],
      [
        'POST',
        '/v1/risk/reviews/tx_00000000000000000000000000/resolve',
        { resolution: 'fraud', note: 'x' },
      ],
    ]
    const before = riskRowCounts()
    for (const [method, path, body] of routes) {
      for (const options of [{}, { token: 'wrong-token-0123456789' }]) {
        const answer = await call<ProblemBody>(server.url, method, path, body, options)
        expect(answer.status, `${method} ${path}`).toBe(401)
        expect(answer.body.code).toBe('unauthorized')
      }
    }
    expect(riskRowCounts()).toEqual(before)
  })

  it('documents the risk paths in /openapi.json', async () => {
    interface Operation {
      readonly parameters?: { name: string; in: string }[]
      readonly security?: unknown[]
    }
    const answer = await call<{ paths: Record<string, Record<string, Operation>> }>(
      server.url,
      'GET',
      '/openapi.json',
    )
    const paths = answer.body.paths
    expect(Object.keys(paths['/v1/risk/rules'] ?? {}).sort()).toEqual(['get', 'post'])
    expect(Object.keys(paths['/v1/risk/rules/{id}'] ?? {}).sort()).toEqual(['get', 'put'])
    expect(Object.keys(paths['/v1/risk/settings'] ?? {}).sort()).toEqual(['get', 'put'])
    for (const path of [
      '/v1/risk/features',
      '/v1/risk/rules/check',
      '/v1/risk/rules/{id}/status',
      '/v1/risk/reviews',
      '/v1/risk/reviews/{transactionId}',
      '/v1/risk/reviews/{transactionId}/claim',
      '/v1/risk/reviews/{transactionId}/release',
      '/v1/risk/reviews/{transactionId}/resolve',
    ])
      expect(paths[path], path).toBeDefined()
    const create = paths['/v1/risk/rules']?.post
    expect(create?.security).toEqual([{ bearer: [] }])
    expect(create?.parameters).toContainEqual(
      expect.objectContaining({ name: 'X-Tollgate-Actor', in: 'header' }),
    )
  })
})

describe('tollgate risk (CLI)', () => {
  const run = promisify(execFile)
  const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js')
  const tollgate = (...args: string[]) => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`)
    return run(process.execPath, [CLI, 'risk', ...args, '--url', server.url], {
      timeout: 30_000,
      env: { ...process.env, TOLLGATE_ADMIN_TOKEN: server.adminToken, TOLLGATE_ACTOR: 'cli.user' },
    })
  }

  it('check prints the error with a caret under the offending column', async () => {
    const valid = await tollgate('check', 'amount > 100 && mcc == "5812"')
    expect(valid.stdout).toContain('valid; reads: amount, mcc')
    const failure = tollgate('check', 'amount > 100 && no_such_feature > 1')
    await expect(failure).rejects.toMatchObject({ code: 1 })
    const { stdout } = (await failure.catch((e: unknown) => e)) as { stdout: string }
    const lines = stdout.split('\n')
    const at = lines.findIndex((l) => l.includes('amount > 100 && no_such_feature > 1'))
    expect(lines[0]).toMatch(/invalid expression \(line 1, column 17\)/)
    expect(lines[at + 1]).toBe(' '.repeat(2 + 16) + '^')
  })

  it('adds a rule, moves it, lists it and shows its versions', async () => {
    const id = freshRuleId('cli')
    const added = await tollgate(
      'add',
      '--id',
      id,
      '--name',
      'CLI rule',
      '--expression',
      'amount >= 88800',
      '--action',
      'score',
      '--score',
      '25',
      '--description-zh',
      '命令行添加的规则',
      '--description-en',
      'A rule added from the command line',
      '--note',
      'added from the CLI',
    )
    expect(added.stdout).toContain(`${id} v1 (draft) score +25`)
    const moved = await tollgate('set-status', id, 'shadow', '--note', 'watch it')
    expect(moved.stdout).toContain(`${id} v2: shadow`)
    expect((await tollgate('rules')).stdout).toMatch(new RegExp(`${id}\\s+2\\s+shadow`))
    const shown = await tollgate('rule', id, '--lang', 'zh-CN')
    expect(shown.stdout).toContain('命令行添加的规则')
    expect(shown.stdout).toContain('cli.user')
    expect(shown.stdout).toContain('watch it')
    const json = await tollgate('rule', id, '--json')
    expect(JSON.parse(json.stdout)).toMatchObject({ rule: { id, version: 2, author: 'cli.user' } })
    const bad = tollgate('add', '--id', freshRuleId('cli'), '--expression', 'amount >')
    await expect(bad).rejects.toMatchObject({ code: 2 })
    const { stderr } = (await bad.catch((e: unknown) => e)) as { stderr: string }
    expect(stderr).toContain('expression:')
    expect(stderr).toMatch(/\n\s+amount >\n\s+\^/)
  })

  it('lists the review queue in either language', async () => {
    for (const lang of ['en', 'zh-CN']) {
      const { stdout } = await tollgate('reviews', '--lang', lang)
      expect(stdout).not.toMatch(/invalid|HTTP 4/i)
    }
    const json = await tollgate('reviews', '--status', 'open', '--json')
    expect(JSON.parse(json.stdout)).toHaveProperty('items')
  })

  it('lists features in the asked language', async () => {
    const { stdout } = await tollgate('features', '--lang', 'zh-CN')
    expect(stdout).toContain('交易金额')
    expect(stdout).toContain('card_count_10m')
  })
})

describe('live rules that no longer compile', () => {
  it('are listed as not running, not left out silently', async () => {
    // Only an upgrade that removes a feature can make a stored rule fail to compile: simulate
    // it by writing such a version straight into the database.
    const store = openSqliteStore({ path: join(server.dataDir, 'tollgate.db') })
    try {
      const id = freshRuleId('stale')
      const put = await store.risk.putRule(
        {
          id,
          version: 1,
          status: 'active',
          name: 'stale',
          expression: 'feature_removed_in_an_upgrade > 1',
          action: 'block',
          reason: 'suspected_fraud',
          score: 0,
          priority: 1,
          description: { 'zh-CN': '旧规则', en: 'stale rule' },
          author: 'test',
          changeNote: 'test',
          createdAtMs: Date.now(),
        },
        { id: `au_${id}`, atMs: Date.now(), actor: 'test', action: 'x', subject: id, detail: {} },
      )
      expect(put.ok).toBe(true)
      const listed = await admin.get<{ notRunning: { ruleId: string; message: string }[] }>(
        '/v1/risk/rules',
      )
      expect(listed.body.notRunning).toContainEqual({
        ruleId: id,
        message: expect.stringMatching(/feature_removed_in_an_upgrade/) as unknown,
      })
      await store.risk.putRule(
        {
          id,
          version: 2,
          status: 'disabled',
          name: 'stale',
          expression: 'feature_removed_in_an_upgrade > 1',
          action: 'block',
          reason: 'suspected_fraud',
          score: 0,
          priority: 1,
          description: { 'zh-CN': '旧规则', en: 'stale rule' },
          author: 'test',
          changeNote: 'disable',
          createdAtMs: Date.now(),
        },
        { id: `au_${id}_2`, atMs: Date.now(), actor: 'test', action: 'x', subject: id, detail: {} },
      )
    } finally {
      await store.close()
    }
  })
})
