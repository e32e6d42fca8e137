import { assert } from '../core/assert.js'

/**
 * What the simulator saw and did, in memory, for the control endpoint: a bounded journal of
 * every message (card numbers masked) and counters by MTI and response code.
 */

export const JOURNAL_ENTRIES_MAX = 10_000
/** Distinct labels per counter family; more are folded into "other". */
const COUNTER_LABELS_MAX = 1_000

export type Fate =
  | 'answered'
  | 'dropped_by_fault'
  | 'request_dropped_by_fault'
  | 'disconnected_by_fault'
  | 'unreadable'
  | 'unanswerable'
  | 'encode_failed'

export interface JournalEntry {
  readonly seq: number
  readonly atMs: number
  readonly connection: number
  readonly mti: string | null
  readonly terminalId: string | null
  readonly stan: string | null
  readonly transmissionTime: string | null
  readonly maskedPan: string | null
  readonly accountId: string | null
  readonly amountMinor: number | null
  readonly responseMti: string | null
  readonly responseCode: string | null
  readonly fate: Fate
  readonly latencyMs: number
  readonly note: string
}

export class Journal {
  readonly #entries: JournalEntry[] = []
  #head = 0
  #seq = 0

  add(entry: Omit<JournalEntry, 'seq'>): void {
    this.#seq += 1
    const full = { seq: this.#seq, ...entry }
    if (this.#entries.length < JOURNAL_ENTRIES_MAX) {
      this.#entries.push(full)
      return
    }
    this.#entries[this.#head] = full
    this.#head = (this.#head + 1) % JOURNAL_ENTRIES_MAX
  }

  /** The last `limit` entries, oldest first. */
  last(limit: number): JournalEntry[] {
    assert(Number.isInteger(limit) && limit >= 0, 'journal limit >= 0')
    const ordered = [...this.#entries.slice(this.#head), ...this.#entries.slice(0, this.#head)]
    return ordered.slice(Math.max(0, ordered.length - limit))
  }

  get total(): number {
    return this.#seq
  }
}

type Tally = Record<string, number>

function bump(tally: Tally, label: string): void {
  const key = label in tally || Object.keys(tally).length < COUNTER_LABELS_MAX ? label : 'other'
  tally[key] = (tally[key] ?? 0) + 1
}

function bump2(tally: Record<string, Tally>, outer: string, inner: string): void {
  const key = outer in tally || Object.keys(tally).length < COUNTER_LABELS_MAX ? outer : 'other'
  const row = (tally[key] ??= {})
  bump(row, inner)
}

export interface CounterSnapshot {
  readonly received: Tally
  /** By response MTI, then response code. */
  readonly answered: Record<string, Tally>
  /** By request MTI (or "unreadable"), then the reason nothing was answered. */
  readonly dropped: Record<string, Tally>
  readonly decodeErrors: Tally
  readonly connections: {
    opened: number
    refused: number
    closed: number
    cutByFault: number
    frameErrors: number
  }
}

export class Counters {
  #state = Counters.#fresh()

  static #fresh(): CounterSnapshot {
    return {
      received: {},
      answered: {},
      dropped: {},
      decodeErrors: {},
      connections: { opened: 0, refused: 0, closed: 0, cutByFault: 0, frameErrors: 0 },
    }
  }

  received(mti: string): void {
    bump(this.#state.received, mti)
  }

  answered(responseMti: string, code: string): void {
    bump2(this.#state.answered, responseMti, code)
  }

  dropped(mti: string | null, reason: Fate): void {
    bump2(this.#state.dropped, mti ?? 'unreadable', reason)
  }

  decodeError(code: string): void {
    bump(this.#state.decodeErrors, code)
  }

  connection(event: keyof CounterSnapshot['connections']): void {
    this.#state.connections[event] += 1
  }

  snapshot(): CounterSnapshot {
    return structuredClone(this.#state)
  }

  reset(): void {
    this.#state = Counters.#fresh()
  }
}
