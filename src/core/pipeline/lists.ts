import type { Check, ListEntry, ListKind } from '../model.js'
import type { ReasonCode } from '../reasons/codes.js'

const REASON_BY_KIND: Readonly<Record<ListKind, ReasonCode>> = {
  card: 'card_blocked',
  bin: 'bin_blocked',
  merchant: 'merchant_blocked',
  terminal: 'terminal_blocked',
}
const KIND_ORDER: readonly ListKind[] = ['card', 'bin', 'merchant', 'terminal']

export interface ListSubject {
  readonly cardToken: string
  readonly pan: string
  readonly merchantId: string
  readonly terminalId: string
}

export function entryMatches(entry: ListEntry, subject: ListSubject, nowMs: number): boolean {
  if (entry.expiresAtMs !== null && entry.expiresAtMs <= nowMs) return false
  switch (entry.kind) {
    case 'card':
      return entry.value === subject.cardToken
    case 'bin':
      return subject.pan.startsWith(entry.value)
    case 'merchant':
      return entry.value === subject.merchantId
    case 'terminal':
      return entry.value === subject.terminalId
  }
}

/** Stage 6 (lists): block lists of cards, BINs, merchants and terminals; expired entries are ignored. */
export function checkLists(
  entries: readonly ListEntry[],
  subject: ListSubject,
  nowMs: number,
): { readonly check: Check; readonly reason: ReasonCode | null } {
  const hits = entries.filter(
    (entry) => entry.list === 'block' && entryMatches(entry, subject, nowMs),
  )
  hits.sort(
    (a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || (a.id < b.id ? -1 : 1),
  )
  const hit = hits[0]
  if (hit === undefined) {
    return {
      check: {
        stage: 'lists',
        name: 'block_lists',
        status: 'pass',
        evidence: { entriesChecked: entries.length },
      },
      reason: null,
    }
  }
  const reason = REASON_BY_KIND[hit.kind]
  return {
    reason,
    check: {
      stage: 'lists',
      name: 'block_lists',
      status: 'fail',
      reason,
      evidence: {
        listEntryId: hit.id,
        listKind: hit.kind,
        listed: hit.display,
        note: hit.note,
        listedBy: hit.createdBy,
        listedAtMs: hit.createdAtMs,
        expiresAtMs: hit.expiresAtMs,
      },
    },
  }
}
