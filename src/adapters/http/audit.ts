import type { AuditEntry } from '../../ports/store.js'
import type { HttpDeps } from './deps.js'

/** Builds audit entries stamped with a fresh id and the clock's time. */
export function auditBuilder(
  deps: Pick<HttpDeps, 'ids' | 'clock'>,
): (actor: string, action: string, subject: string, detail: Record<string, unknown>) => AuditEntry {
  return (actor, action, subject, detail) => ({
    id: deps.ids.entityId('au'),
    atMs: deps.clock.nowMs(),
    actor,
    action,
    subject,
    detail,
  })
}
