import { DEFAULT_RULE_PACK } from '../core/risk/default-pack.js'
import type { RuleStatus } from '../core/risk/rules.js'
import type { IdSource } from '../ports/id-source.js'
import type { Store } from '../ports/store.js'

/**
 * Installs the default rule pack (src/core/risk/default-pack.ts) with the given status: rules
 * that do not exist yet get version 1; existing ones are left alone (an analyst may have tuned
 * them). Returns the ids installed. Every rule is audited like any rule change.
 */
export async function installRulePack(
  store: Store,
  deps: {
    readonly ids: IdSource
    readonly nowMs: number
    readonly actor: string
    readonly status: Extract<RuleStatus, 'draft' | 'shadow' | 'active'>
  },
): Promise<readonly string[]> {
  const existing = new Set((await store.risk.listRules()).map((r) => r.id))
  const installed: string[] = []
  for (const rule of DEFAULT_RULE_PACK) {
    if (existing.has(rule.id)) continue
    const changeNote = `default rule pack, installed as ${deps.status}`
    const result = await store.risk.putRule(
      {
        ...rule,
        version: 1,
        status: deps.status,
        author: deps.actor,
        changeNote,
        createdAtMs: deps.nowMs,
      },
      {
        id: deps.ids.entityId('au'),
        atMs: deps.nowMs,
        actor: deps.actor,
        action: 'risk_rule.create',
        subject: rule.id,
        detail: { version: 1, status: deps.status, note: changeNote },
      },
    )
    if (!result.ok) throw new Error(`installing rule ${rule.id}: ${result.message}`)
    installed.push(rule.id)
  }
  return installed
}
