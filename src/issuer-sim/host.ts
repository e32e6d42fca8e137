import type { Logger } from 'pino'
import { assert } from '../core/assert.js'
import { maskPan } from '../core/card.js'
import { decode, encode, type IsoMessage } from '../adapters/iso8583/codec.js'
import { formatErrorResponse } from '../adapters/iso8583/messages.js'
import type { Dialect } from '../adapters/iso8583/spec.js'
import type { ConnectionInfo } from '../adapters/iso8583/tcp/server.js'
import {
  answerMessage,
  correlationKeyOf,
  isProtocolError,
  networkAnswer,
  readRequest,
} from '../adapters/issuer/protocol.js'
import type { Ledger } from './accounts.js'
import { decideFaults, type FaultDecision, type Faults } from './faults.js'
import type { Counters, Fate, Journal, JournalEntry } from './journal.js'
import { streamFor } from './prng.js'

/**
 * The simulated bank host: one frame in, one frame (or nothing) out. Faults are decided first
 * (from the seeded stream of the message), then the ledger answers. Never throws on input: a
 * message whose MTI is readable but whose body is not gets 30; unreadable bytes are dropped and
 * counted.
 */

/** Keys whose occurrences are counted for the fault streams; the oldest are forgotten. */
const OCCURRENCE_KEYS_MAX = 100_000
const NETWORK_CODES = new Set(['001', '002', '301'])
const REQUEST_MTIS = new Set(['0100', '0200', '0220', '0221', '0400', '0420', '0421', '0800'])

export interface HostDeps {
  readonly dialect: Dialect
  readonly ledger: Ledger
  readonly journal: Journal
  readonly counters: Counters
  readonly seed: number
  readonly faults: () => Faults
  readonly nowMs: () => number
  /** Cuts a connection at once (a disconnect fault). */
  readonly cut: (connection: ConnectionInfo) => void
  readonly logger: Logger
}

export interface Host {
  readonly handle: (frame: Buffer, connection: ConnectionInfo) => Promise<Buffer | null>
  /** Forget per-connection counts when a connection closes. */
  connectionClosed(id: number): void
  /** Ends every pending latency at once, so in-flight requests answer during shutdown. */
  hurry(): void
}

type Base = Omit<JournalEntry, 'seq' | 'fate' | 'responseMti' | 'responseCode' | 'note'>

export function createHost(deps: HostDeps): Host {
  const occurrences = new Map<string, number>()
  const perConnection = new Map<number, number>()
  const sleeping = new Set<() => void>()
  let unkeyed = 0
  let hurrying = false

  const sleep = (ms: number): Promise<void> =>
    ms <= 0 || hurrying
      ? Promise.resolve()
      : new Promise((resolve) => {
          const wake = (): void => {
            clearTimeout(timer)
            sleeping.delete(wake)
            resolve()
          }
          const timer = setTimeout(wake, ms)
          sleeping.add(wake)
        })

  const occurrence = (key: string): number => {
    const seen = occurrences.get(key) ?? 0
    if (seen === 0 && occurrences.size >= OCCURRENCE_KEYS_MAX) {
      const oldest = occurrences.keys().next().value
      if (oldest !== undefined) occurrences.delete(oldest)
    }
    occurrences.set(key, seen + 1)
    return seen
  }

  const record = (base: Base, fate: Fate, note: string, answer: IsoMessage | null): void => {
    deps.journal.add({
      ...base,
      fate,
      note,
      responseMti: answer?.mti ?? null,
      responseCode: answer?.fields.get(39) ?? null,
    })
    if (fate !== 'answered') deps.counters.dropped(base.mti, fate)
  }

  const finish = (base: Base, answer: IsoMessage, note: string): Buffer | null => {
    const encoded = encode(deps.dialect, answer)
    if (!encoded.ok) {
      deps.logger.error({ error: encoded.error, mti: answer.mti }, 'issuer-sim: cannot encode')
      record(base, 'encode_failed', `encode failed: ${encoded.error.code}`, null)
      return null
    }
    deps.counters.answered(answer.mti, answer.fields.get(39) ?? '')
    record(base, 'answered', note, answer)
    return Buffer.from(encoded.bytes.buffer, encoded.bytes.byteOffset, encoded.bytes.length)
  }

  async function handle(frame: Buffer, connection: ConnectionInfo): Promise<Buffer | null> {
    const decoded = decode(deps.dialect, frame)
    const onConnection = perConnection.get(connection.id) ?? 0
    perConnection.set(connection.id, onConnection + 1)
    if (!decoded.ok) return malformed(decoded.error, connection)
    const message = decoded.message
    deps.counters.received(message.mti)
    const pan = message.fields.get(2)
    const amount = message.fields.get(4)
    const base: Base = {
      atMs: deps.nowMs(),
      connection: connection.id,
      mti: message.mti,
      terminalId: message.fields.get(41)?.trim() ?? null,
      stan: message.fields.get(11) ?? null,
      transmissionTime: message.fields.get(7) ?? null,
      maskedPan: pan === undefined ? null : maskPan(pan),
      accountId: null,
      amountMinor: amount !== undefined && /^\d{1,12}$/.test(amount) ? Number(amount) : null,
      latencyMs: 0,
    }
    if (!REQUEST_MTIS.has(message.mti)) return unknownMti(message, base)

    const key = correlationKeyOf(message) ?? `unkeyed:${(unkeyed += 1)}`
    const faults = deps.faults()
    const decision = decideFaults(faults, streamFor(deps.seed, key, occurrence(key)), {
      mti: message.mti,
      messagesOnConnection: onConnection,
    })
    if (decision.disconnect) {
      record(base, 'disconnected_by_fault', 'connection cut by fault; not processed', null)
      deps.counters.connection('cutByFault')
      deps.cut(connection)
      return null
    }
    if (decision.drop && faults.dropMode === 'request') {
      record(base, 'request_dropped_by_fault', 'request lost by fault; not processed', null)
      return null
    }
    const timed = { ...base, latencyMs: decision.latencyMs }
    await sleep(decision.latencyMs)
    return respond(message, timed, faults, decision)
  }

  function respond(
    message: IsoMessage,
    base: Base,
    faults: Faults,
    decision: FaultDecision,
  ): Buffer | null {
    const isEcho = message.mti === '0800' && message.fields.get(70) === '301'
    if (faults.maintenance && !isEcho) {
      return finish(base, errorAnswer(message, '91'), 'maintenance: not processed')
    }
    if (decision.error) {
      const note = `error injected (${faults.errorCode}): not processed`
      return finish(base, errorAnswer(message, faults.errorCode), note)
    }
    const { answer, note, accountId } = decideAnswer(message)
    const done = { ...base, accountId }
    if (decision.drop) {
      record(done, 'dropped_by_fault', `answer lost by fault after: ${note}`, answer)
      return null
    }
    return finish(done, answer, note)
  }

  function decideAnswer(message: IsoMessage): {
    answer: IsoMessage
    note: string
    accountId: string | null
  } {
    if (message.mti === '0800') {
      const code = message.fields.get(70)
      if (code === undefined || !NETWORK_CODES.has(code))
        return {
          answer: networkAnswer(message, '30'),
          note: 'unknown network code',
          accountId: null,
        }
      const note = code === '001' ? 'sign-on' : code === '002' ? 'sign-off' : 'echo'
      return { answer: networkAnswer(message, '00'), note, accountId: null }
    }
    const request = readRequest(message)
    if (isProtocolError(request)) {
      const note = `format error: field ${request.field ?? '-'}: expected ${request.expected}`
      return { answer: errorAnswer(message, '30'), note, accountId: null }
    }
    const now = new Date(deps.nowMs())
    const month = { year: now.getUTCFullYear(), month: now.getUTCMonth() + 1 }
    const outcome = deps.ledger.apply(request, message.mti, month)
    const account = outcome.accountId === null ? null : deps.ledger.accountById(outcome.accountId)
    const currency = account?.currency ?? request.currencyNumeric
    return {
      answer: answerMessage(message, outcome.answer, currency),
      note: outcome.note,
      accountId: outcome.accountId,
    }
  }

  function malformed(
    error: { code: string; mti: string | null; field: number | null; offset: number },
    connection: ConnectionInfo,
  ): Buffer | null {
    deps.counters.decodeError(error.code)
    const base: Base = {
      atMs: deps.nowMs(),
      connection: connection.id,
      mti: error.mti,
      terminalId: null,
      stan: null,
      transmissionTime: null,
      maskedPan: null,
      accountId: null,
      amountMinor: null,
      latencyMs: 0,
    }
    const where = `${error.code} at byte ${error.offset} (field ${error.field ?? '-'})`
    deps.logger.warn({ code: error.code, field: error.field, mti: error.mti }, 'malformed message')
    if (error.mti === null) {
      record(base, 'unreadable', `unreadable: ${where}`, null)
      return null
    }
    deps.counters.received(error.mti)
    const answer = formatErrorResponse(error.mti, new Map())
    if (answer === null) {
      record(base, 'unanswerable', `malformed, not a request MTI: ${where}`, null)
      return null
    }
    return finish(base, answer, `format error: ${where}`)
  }

  function unknownMti(message: IsoMessage, base: Base): Buffer | null {
    // A request or advice class we do not serve gets 30; anything else (a response) is dropped.
    const requestLike = /^\d\d[02][01]$/.test(message.mti)
    if (!requestLike) {
      record(base, 'unanswerable', 'not a request MTI', null)
      return null
    }
    return finish(base, errorAnswer(message, '30'), 'unsupported MTI')
  }

  return {
    handle,
    connectionClosed(id) {
      perConnection.delete(id)
    },
    hurry() {
      hurrying = true
      for (const wake of [...sleeping]) wake()
      assert(sleeping.size === 0, 'every sleep woken')
    },
  }
}

/** An answer that carries only a response code (and the echoed correlation fields). */
function errorAnswer(request: IsoMessage, code: string): IsoMessage {
  if (request.mti === '0800') return networkAnswer(request, code)
  const answer = { responseCode: code, authorizationCode: null, balanceMinor: null }
  return answerMessage(request, answer, request.fields.get(49) ?? '156')
}
