import type { Logger } from 'pino'
import { assert } from '../../core/assert.js'
import type { RequestResult } from '../../core/pipeline/result.js'
import type { Authorizer } from '../../ports/authorizer.js'
import type { Store } from '../../ports/store.js'
import type { Counter } from '../metrics/registry.js'
import { decode, encode, withField, type IsoMessage } from './codec.js'
import { cupEcbMac, verifyCupEcbMac, type MacKey } from './mac.js'
import {
  formatErrorResponse,
  interpret,
  networkResponse,
  respond,
  responseCodeFor,
  type IsoFields,
} from './messages.js'
import type { Dialect, DialectName } from './spec.js'

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
/** Field 64 while the response is encoded; the MAC over the bytes before it replaces it. */
const MAC_PLACEHOLDER = '0'.repeat(MAC_BYTES * 2)

type MessageHeader = NonNullable<IsoMessage['header']>

/**
 * The ISO 8583 channel: one frame in, one frame (or nothing) out. A message that cannot be read
 * but whose MTI can gets field 39 = 30; one whose MTI cannot be read is dropped and counted.
 * Nothing is stored for either. Requests go through the same bounded queue as HTTP.
 */
export function createIsoHandler(deps: IsoChannelDeps): (frame: Buffer) => Promise<Buffer | null> {
  assert(deps.dialect.name === deps.dialectName, 'iso channel: dialect and dialect name agree')
  // The MAC block runs up to field 64, so field 64 must be the last field the dialect can carry.
  assert(
    deps.dialectName !== 'cup-pos' || deps.dialect.fieldNumberMax === MAC_FIELD,
    'iso channel: cup-pos ends with field 64',
  )
  const headerBytes =
    deps.dialect.header === null
      ? 0
      : deps.dialect.header.tpduBytes + deps.dialect.header.headerBytes

  const finish = (
    header: MessageHeader | undefined,
    answer: IsoFields,
    macKey: MacKey | null,
  ): Buffer | null => {
    const fields = new Map(answer.fields)
    if (macKey !== null) fields.set(MAC_FIELD, MAC_PLACEHOLDER)
    else fields.delete(MAC_FIELD)
    const response: IsoMessage = {
      mti: answer.mti,
      fields,
      ...(header === undefined ? {} : { header: replyHeader(header) }),
    }
    const encoded = encode(deps.dialect, response)
    if (!encoded.ok) {
      deps.logger.error(
        { error: encoded.error, mti: response.mti },
        'iso8583: could not encode a response',
      )
      return null
    }
    const bytes = Buffer.from(encoded.bytes.buffer, encoded.bytes.byteOffset, encoded.bytes.length)
    if (macKey !== null) {
      const mac = cupEcbMac(macKey, bytes.subarray(headerBytes, bytes.length - MAC_BYTES))
      mac.copy(bytes, bytes.length - MAC_BYTES)
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
      if (error.mti === null) return null
      const answer = formatErrorResponse(error.mti, new Map())
      return answer === null ? null : finish(readHeader(frame, deps.dialect), answer, null)
    }
    const message = decoded.message
    const terminalId = message.fields.get(41)?.trim() ?? null
    // The MAC is a cup-pos feature (field 64 as 8 bytes at the end). Network management is
    // exempt: signing on is how a terminal gets its working keys.
    const macKey =
      terminalId === null || deps.dialectName !== 'cup-pos' || message.mti.startsWith('08')
        ? null
        : deps.macKeyOf(terminalId)
    if (macKey !== null && !macVerifies(macKey, frame, message, headerBytes)) {
      deps.logger.warn({ terminalId, mti: message.mti }, 'iso8583: MAC verification failed')
      const answer = formatErrorResponse(message.mti, message.fields)
      if (answer === null) return null
      const code = responseCodeFor('mac_verification_failed', deps.dialectName)
      return finish(message.header, withField(answer, 39, code), null)
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
        return answer === null ? null : finish(message.header, answer, macKey)
      }
      case 'network': {
        const known =
          meaning.terminalId === null
            ? meaning.action === 'echo'
            : (await deps.store.getTerminal(meaning.terminalId)) !== null
        return finish(
          message.header,
          networkResponse(message, known, known ? null : 'unknown_terminal', deps.dialectName),
          macKey,
        )
      }
      case 'request': {
        const unanswered = (reason: 'system_busy' | 'system_error'): Buffer | null =>
          finish(
            message.header,
            respond(
              message,
              { type: 'rejected', reason, errors: [], checks: [], evidence: {} },
              deps.dialectName,
            ),
            macKey,
          )
        const submitted = deps.authorizer.submit(meaning.request)
        if (submitted.type !== 'accepted') return unanswered('system_busy')
        let result: RequestResult
        try {
          result = await submitted.result
        } catch (error) {
          // The batch could not be committed: nothing was decided, so the terminal gets an
          // answer it can act on (96, retry) instead of a silence that ends in a reversal.
          deps.logger.error({ err: error, mti: message.mti }, 'iso8583: the batch failed')
          return unanswered('system_error')
        }
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
          const answer = withField(respond(message, result, deps.dialectName), 39, '00')
          return finish(message.header, answer, macKey)
        }
        return finish(message.header, respond(message, result, deps.dialectName), macKey)
      }
    }
  }
}

/**
 * Whether field 64 is the MAC of the bytes from the MTI up to it. Decoding succeeded and field
 * 64 is the dialect's last field, so it is the frame's last 8 bytes.
 */
function macVerifies(
  macKey: MacKey,
  frame: Buffer,
  message: IsoMessage,
  headerBytes: number,
): boolean {
  const mac = message.fields.get(MAC_FIELD)
  if (mac === undefined) return false
  assert(frame.length >= headerBytes + MAC_BYTES, 'a decoded frame with field 64 holds its MAC')
  const block = frame.subarray(headerBytes, frame.length - MAC_BYTES)
  return verifyCupEcbMac(macKey, block, Buffer.from(mac, 'hex'))
}

/** The TPDU of an answer swaps the destination and source addresses. */
function replyHeader(header: MessageHeader): MessageHeader {
  const tpdu =
    header.tpdu.length === 10
      ? header.tpdu.slice(0, 2) + header.tpdu.slice(6, 10) + header.tpdu.slice(2, 6)
      : header.tpdu
  return { tpdu, header: header.header }
}

/** The TPDU and header of a frame the codec could not decode (its MTI was readable). */
function readHeader(frame: Buffer, dialect: Dialect): MessageHeader | undefined {
  if (dialect.header === null) return undefined
  const { tpduBytes, headerBytes } = dialect.header
  if (frame.length < tpduBytes + headerBytes) return undefined
  return {
    tpdu: frame.toString('hex', 0, tpduBytes).toUpperCase(),
    header: frame.toString('hex', tpduBytes, tpduBytes + headerBytes).toUpperCase(),
  }
}
