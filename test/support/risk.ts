import type { Api } from './server.js'

/** Risk-control helpers for end-to-end tests: rules, settings and audit, over the admin API. */

export interface RuleBody {
  readonly id: string
  readonly version: number
  readonly status: string
  readonly name: string
  readonly expression: string
  readonly features: string[]
  readonly action: string
  readonly reason: string | null
  readonly score: number
  readonly priority: number
  readonly description: { readonly 'zh-CN': string; readonly en: string }
  readonly author: string
  readonly changeNote: string
  readonly createdAt: string
}

export interface RuleInput {
  readonly id: string
  readonly expression: string
  readonly action: 'allow' | 'block' | 'review' | 'score'
  readonly reason?: string
  readonly score?: number
  readonly priority?: number
  readonly name?: string
  readonly description?: { readonly 'zh-CN': string; readonly en: string }
}

/** A rule body for POST /v1/risk/rules, with a name, both descriptions and a change note. */
export function ruleBody(input: RuleInput, status?: 'draft' | 'shadow'): Record<string, unknown> {
  return {
    name: `Rule ${input.id}`,
    description: {
      'zh-CN': `规则 ${input.id} 的风险说明`,
      en: `The risk rule ${input.id} guards against`,
    },
    changeNote: 'e2e: new rule',
    ...(status === undefined ? {} : { status }),
    ...input,
  }
}

let ruleCounter = 0

/** A rule id not used before by this test process. */
export function freshRuleId(prefix = 'e2e_rule'): string {
  ruleCounter += 1
  return `${prefix}_${ruleCounter}`
}

/** Creates a rule and moves it to `status` (active by default); returns its newest version. */
export async function putLiveRule(
  admin: Api,
  input: RuleInput,
  status: 'active' | 'shadow' = 'active',
): Promise<RuleBody> {
  const created = await admin.post<RuleBody>('/v1/risk/rules', ruleBody(input))
  if (created.status !== 201) throw new Error(`putLiveRule: ${created.status} ${created.text}`)
  return setRuleStatus(admin, created.body, status)
}

export async function setRuleStatus(
  admin: Api,
  rule: RuleBody,
  status: string,
  changeNote = `e2e: ${status}`,
): Promise<RuleBody> {
  const path = `/v1/risk/rules/${rule.id}/status`
  const moved = await admin.post<RuleBody>(path, { status, baseVersion: rule.version, changeNote })
  if (moved.status !== 200) throw new Error(`setRuleStatus: ${moved.status} ${moved.text}`)
  return moved.body
}

export interface SettingsBody {
  readonly reviewScore: number
  readonly blockScore: number
  readonly scoreBlockReason: string
  readonly onRuleError: string
}

export const DEFAULT_SETTINGS: SettingsBody = {
  reviewScore: 50,
  blockScore: 100,
  scoreBlockReason: 'suspected_fraud',
  onRuleError: 'ignore',
}

export async function putSettings(admin: Api, settings: Partial<SettingsBody>): Promise<void> {
  const body = { ...DEFAULT_SETTINGS, ...settings, changeNote: 'e2e: settings' }
  const answer = await admin.put('/v1/risk/settings', body)
  if (answer.status !== 200) throw new Error(`putSettings: ${answer.status} ${answer.text}`)
}

export interface AuditBody {
  readonly id: string
  readonly actor: string
  readonly action: string
  readonly subject: string
  readonly detail: Record<string, unknown>
  readonly at: string
}

/** Every audit entry about `subject`, oldest first (pages through the whole log). */
export async function auditOf(admin: Api, subject: string): Promise<AuditBody[]> {
  const found: AuditBody[] = []
  let cursor: string | null = null
  for (let pages = 0; pages < 100; pages++) {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`
    const answer = await admin.get<{ items: AuditBody[]; nextCursor: string | null }>(
      `/v1/audit?limit=500${query}`,
    )
    if (answer.status !== 200) throw new Error(`auditOf: ${answer.status} ${answer.text}`)
    found.push(...answer.body.items.filter((entry) => entry.subject === subject))
    cursor = answer.body.nextCursor
    if (cursor === null) break
  }
  return found.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.id < b.id ? -1 : 1))
}
