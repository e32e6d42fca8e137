import type { Logger } from 'pino'
import type { Authorizer } from '../../ports/authorizer.js'
import type { Store } from '../../ports/store.js'
import type { Counter } from '../metrics/registry.js'
import { decode, encode, type IsoMessage } from './codec.js'
import { cupEcbMac, verifyCupEcbMac, type MacKey } from './mac.js'
import {
  formatErrorResponse,
  interpret,
  networkResponse,
  respond,
  responseCodeFor,
  type DialectName,
  type IsoFields,
} from './messages.js'
import type { Dialect } from './spec.js'

/** What the ISO 8583 channel needs; the app wires it. */
export interface IsoChannelDeps {
  readonly dialect: Dialect
  readonly dialectName: DialectName
  readonly authorizer: Authorizer
  readonly store: Store
  readonly tokenize: (pan: string) => string
  /** Today at the acquirer's offset, YYYY-MM-DD. */
  readonly localDate: () => string
  /** The MAC key of a terminal, when it has one (cup-pos). */
  readonly macKeyOf: (terminalId: string) => MacKey | null
  readonly logger: Logger
  readonly metrics: {
    readonly messages: Counter
    readonly decodeErrors: Counter
  }
}

const MAC_BYTES = 8
const MAC_FIELD = 64

/**
 * The ISO 8583 channel: one frame in, one frame (or nothing) out. A message that cannot be read
 * but whose MTI can gets field 39 = 30; one whose MTI cannot be read is dropped and counted.
 * Nothing is stored for either. Requests go through the same bounded queue as HTTP.
 */
export function createIsoHandler(deps: IsoChannelDeps): (frame: Buffer) => Promise<Buffer | null> {
  const headerBytes =
    deps.dialect.header === null
      ? 0
      : deps.dialect.header.tpduBytes + deps.dialect.header.headerBytes

  const finish = (request: IsoMessage, answer: IsoFields, macKey: MacKey | null): Buffer | null => {
    const response: IsoMessage = {
      mti: answer.mti,
      fields: new Map(answer.fields),
      ...(request.header === undefined ? {} : { header: replyHeader(request.header) }),
    }
    const fields = response.fields as Map<number, string>
    if (macKey !== null) fields.set(MAC_FIELD, '0'.repeat(MAC_BYTES * 2))
    else fields.delete(MAC_FIELD)
    const encoded = encode(deps.dialect, response)
    if (!encoded.ok) {
      deps.logger.error(
        { error: encoded.error, mti: response.mti },
        'iso8583: could not encode a response',
      )
      return null
    }
    const bytes = Buffer.from(encoded.bytes)
    if (macKey !== null) {
      const mac = cupEcbMac(macKey, bytes.subarray(headerBytes, bytes.length - MAC_BYTES))
      Buffer.from(mac).copy(bytes, bytes.length - MAC_BYTES)
    }
    deps.metrics.messages.inc({
      dialect: deps.dialectName,
      mti: response.mti,
      code: answer.fields.get(39) ?? '',
    })
    return bytes
  }

  return async (frame: Buffer): Promise<Buffer | null> => {
    const decoded = decode(deps.dialect, frame)
    if (!decoded.ok) {
      const error = decoded.error
      deps.metrics.decodeErrors.inc({ dialect: deps.dialectName, code: error.code })
      deps.logger.warn(
        {
          code: error.code,
          field: error.field,
          offset: error.offset,
          expected: error.expected,
          found: error.found,
          mti: error.mti,
        },
        'iso8583: malformed message',
      )
      const answer = error.mti === null ? null : formatErrorResponse(error.mti, new Map())
      if (answer === null) return null
      const header = readHeader(frame, deps.dialect)
      return finish(
        { mti: error.mti ?? '0000', fields: new Map(), ...(header === null ? {} : { header }) },
        answer,
        null,
      )
    }
    const message = decoded.message
    const terminalId = message.fields.get(41)?.trim() ?? null
    // The MAC is a cup-pos feature (field 64 as 8 bytes at the end). Network management is
    // exempt: signing on is how a terminal gets its working keys.
    const macKey =
      terminalId === null || deps.dialectName !== 'cup-pos' || message.mti.startsWith('08')
        ? null
        : deps.macKeyOf(terminalId)
    if (macKey !== null) {
      const mac = message.fields.get(MAC_FIELD)
      const block = frame.subarray(headerBytes, frame.length - MAC_BYTES)
      if (mac === undefined || !verifyCupEcbMac(macKey, block, Buffer.from(mac, 'hex'))) {
        deps.logger.warn({ terminalId, mti: message.mti }, 'iso8583: MAC verification failed')
        const answer = formatErrorResponse(message.mti, message.fields)
        if (answer === null) return null
        const fields = new Map(answer.fields)
        fields.set(39, responseCodeFor('mac_verification_failed', deps.dialectName))
        return finish(message, { mti: answer.mti, fields }, null)
      }
    }
    const meaning = interpret(message, {
      dialect: deps.dialectName,
      tokenize: deps.tokenize,
      localDate: deps.localDate(),
    })
    switch (meaning.type) {
      case 'invalid': {
        deps.logger.warn(
          { field: meaning.field, expected: meaning.expected, mti: message.mti },
          'iso8583: unsupported or incomplete message',
        )
        const answer = formatErrorResponse(message.mti, message.fields)
        return answer === null ? null : finish(message, answer, macKey)
      }
      case 'network': {
        const known =
          meaning.terminalId === null
            ? meaning.action === 'echo'
            : (await deps.store.getTerminal(meaning.terminalId)) !== null
        return finish(
          message,
          networkResponse(message, known, known ? null : 'unknown_terminal', deps.dialectName),
          macKey,
        )
      }
      case 'request': {
        const submitted = deps.authorizer.submit(meaning.request)
        if (submitted.type !== 'accepted') {
          const answer = respond(
            message,
            { type: 'rejected', reason: 'system_busy', errors: [], checks: [], evidence: {} },
            deps.dialectName,
          )
          return finish(message, answer, macKey)
        }
        const result = await submitted.result
        if (
          meaning.request.kind === 'reversal' &&
          result.type === 'rejected' &&
          result.reason === 'original_not_found'
        ) {
          // Nothing to reverse: the original never reached us (or was never decided), so no money
          // moved. Acknowledge, so the terminal stops retrying (see docs/iso8583.md).
          deps.metrics.messages.inc({
            dialect: deps.dialectName,
            mti: message.mti,
            code: 'reversal_without_original',
          })
          const answer = respond(message, result, deps.dialectName)
          const fields = new Map(answer.fields)
          fields.set(39, '00')
          return finish(message, { mti: answer.mti, fields }, macKey)
        }
        return finish(message, respond(message, result, deps.dialectName), macKey)
      }
    }
  }
}

/** The TPDU of an answer swaps the destination and source addresses. */
function replyHeader(header: { readonly tpdu: string; readonly header: string }): {
  tpdu: string
  header: string
} {
  const tpdu =
    header.tpdu.length === 10
      ? header.tpdu.slice(0, 2) + header.tpdu.slice(6, 10) + header.tpdu.slice(2, 6)
      : header.tpdu
  return { tpdu, header: header.header }
}

function readHeader(frame: Buffer, dialect: Dialect): { tpdu: string; header: string } | null {
  if (dialect.header === null) return null
  const { tpduBytes, headerBytes } = dialect.header
  if (frame.length < tpduBytes + headerBytes) return null
  return {
    tpdu: frame.subarray(0, tpduBytes).toString('hex').toUpperCase(),
    header: frame
      .subarray(tpduBytes, tpduBytes + headerBytes)
      .toString('hex')
      .toUpperCase(),
  }
}
