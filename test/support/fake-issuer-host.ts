import { createServer, type Server, type Socket } from 'node:net'
import { decode, encode, withField, type IsoMessage } from '../../src/adapters/iso8583/codec.js'
import { loadDialect } from '../../src/adapters/iso8583/spec.js'
import {
  encodeFrame,
  FRAME_PAYLOAD_BYTES_MAX,
  FrameReader,
  type Framing,
} from '../../src/adapters/iso8583/tcp/framing.js'
import {
  answerMessage,
  correlationKeyOf,
  ISSUER_LINK_DIALECT,
  networkAnswer,
  type IssuerAnswer,
} from '../../src/adapters/issuer/protocol.js'

/**
 * A scripted issuer host for tests of the issuer client: a real TCP server on 127.0.0.1 speaking
 * the issuer link (iso87-binary, length-prefixed) through the project's framing, codec and
 * protocol.ts. The script says what to do with sign-ons, echoes and each request: answer (after a
 * delay), hold (until `releaseHeld`, to answer out of order), drop, disconnect, answer under a
 * wrong key, or answer without field 39. Every log it keeps is bounded.
 */
export type FakeAction =
  | {
      readonly type: 'answer'
      readonly responseCode?: string
      readonly authorizationCode?: string | null
      readonly balanceMinor?: number | null
      readonly delayMs?: number
    }
  | { readonly type: 'hold' }
  | { readonly type: 'drop' }
  | { readonly type: 'disconnect' }
  | { readonly type: 'wrong_key' }
  | { readonly type: 'malformed' }

export interface FakeIssuerScript {
  signOn: 'accept' | 'refuse' | 'ignore'
  echo: 'answer' | 'refuse' | 'ignore'
  /** What to do with request number `index` (0-based, over the host's life). */
  request: (message: IsoMessage, index: number) => FakeAction
}

export interface ReceivedMessage {
  readonly mti: string
  readonly key: string | null
  readonly connection: number
  /** Field 70 for network messages. */
  readonly networkCode: string | null
  readonly atMs: number
}

const LOG_MAX = 10_000
const HELD_MAX = 1_000

/** Approved; the authorization code is `defaultAuthorizationCode` of the request. */
export const ANSWER_APPROVED: FakeAction = { type: 'answer', responseCode: '00' }

/**
 * The authorization code the host gives when the script names none: the last 2 characters of the
 * terminal and the last 4 digits of the STAN, so a test can tell which request an answer is for.
 */
export function defaultAuthorizationCode(terminalId: string, stan: string): string {
  return `${terminalId.trim().slice(-2)}${stan.slice(-4)}`
}

interface Held {
  readonly message: IsoMessage
  readonly socket: Socket
}

export class FakeIssuerHost {
  readonly framing: Framing
  script: FakeIssuerScript
  readonly received: ReceivedMessage[] = []
  /** Times (ms) of every accepted connection. */
  readonly accepted: number[] = []
  readonly #dialect = loadDialect(ISSUER_LINK_DIALECT)
  readonly #sockets = new Map<Socket, number>()
  readonly #held: Held[] = []
  readonly #timers = new Set<NodeJS.Timeout>()
  #server: Server | null = null
  #port = 0
  #requests = 0

  private constructor(framing: Framing, script: FakeIssuerScript) {
    this.framing = framing
    this.script = script
  }

  static async start(
    options: { framing?: Framing; script?: Partial<FakeIssuerScript> } = {},
  ): Promise<FakeIssuerHost> {
    const host = new FakeIssuerHost(options.framing ?? 'binary2', {
      signOn: 'accept',
      echo: 'answer',
      request: () => ANSWER_APPROVED,
      ...options.script,
    })
    await host.listen(0)
    return host
  }

  get port(): number {
    return this.#port
  }

  get openConnections(): number {
    return this.#sockets.size
  }

  get heldCount(): number {
    return this.#held.length
  }

  /** Messages received with this MTI (and network code, for 0800). */
  count(mti: string, networkCode?: string): number {
    return this.received.filter(
      (m) => m.mti === mti && (networkCode === undefined || m.networkCode === networkCode),
    ).length
  }

  /** Listens (again) — on the same port after `stop()`. */
  listen(port = this.#port): Promise<void> {
    const server = createServer((socket) => this.#accept(socket))
    this.#server = server
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host: '127.0.0.1', port }, () => {
        server.off('error', reject)
        const address = server.address()
        if (address === null || typeof address === 'string') throw new Error('no TCP address')
        this.#port = address.port
        resolve()
      })
    })
  }

  /** Answers held requests: in the given order of their indexes, or last-in first-out. */
  releaseHeld(order: 'fifo' | 'lifo' | readonly number[] = 'lifo'): number {
    const held = this.#held.splice(0, this.#held.length)
    const sequence =
      order === 'fifo' ? held : order === 'lifo' ? [...held].reverse() : order.map((i) => held[i]!)
    for (const { message, socket } of sequence)
      this.#write(socket, this.#answer(message, ANSWER_APPROVED))
    return sequence.length
  }

  /** Writes any message to every open connection (to test unmatched answers). */
  broadcast(message: IsoMessage): void {
    for (const socket of this.#sockets.keys()) this.#write(socket, message)
  }

  /** Closes every connection; the server keeps listening. */
  disconnectAll(): void {
    for (const socket of this.#sockets.keys()) socket.destroy()
  }

  /** Stops listening and closes every connection: the host is down until `listen()`. */
  async stop(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
    this.#held.length = 0
    const server = this.#server
    this.#server = null
    this.disconnectAll()
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  #accept(socket: Socket): void {
    const id = this.accepted.length + 1
    if (this.accepted.length < LOG_MAX) this.accepted.push(Date.now())
    this.#sockets.set(socket, id)
    const reader = new FrameReader(this.framing, FRAME_PAYLOAD_BYTES_MAX[this.framing])
    socket.setNoDelay(true)
    socket.on('error', () => undefined)
    socket.on('close', () => this.#sockets.delete(socket))
    socket.on('data', (chunk: Buffer) => {
      if (reader.failed) return
      for (const event of reader.push(chunk)) {
        if (event.type === 'error') {
          socket.destroy()
          return
        }
        const decoded = decode(this.#dialect, event.frame)
        if (!decoded.ok) throw new Error(`fake issuer: undecodable request ${decoded.error.code}`)
        this.#handle(socket, id, decoded.message)
      }
    })
  }

  #handle(socket: Socket, connection: number, message: IsoMessage): void {
    const networkCode = message.mti === '0800' ? (message.fields.get(70) ?? null) : null
    if (this.received.length < LOG_MAX)
      this.received.push({
        mti: message.mti,
        key: correlationKeyOf(message),
        connection,
        networkCode,
        atMs: Date.now(),
      })
    if (message.mti === '0800') {
      const rule =
        networkCode === '001'
          ? this.script.signOn
          : networkCode === '301'
            ? this.script.echo
            : 'accept'
      if (rule === 'ignore') return
      const ok = rule === 'accept' || rule === 'answer'
      this.#write(socket, networkAnswer(message, ok ? '00' : '91'))
      return
    }
    const action = this.script.request(message, this.#requests)
    this.#requests += 1
    switch (action.type) {
      case 'answer': {
        const answer = this.#answer(message, action)
        if ((action.delayMs ?? 0) === 0) {
          this.#write(socket, answer)
          return
        }
        const timer = setTimeout(() => {
          this.#timers.delete(timer)
          this.#write(socket, answer)
        }, action.delayMs)
        this.#timers.add(timer)
        return
      }
      case 'hold':
        if (this.#held.length >= HELD_MAX) throw new Error('fake issuer: too many held')
        this.#held.push({ message, socket })
        return
      case 'drop':
        return
      case 'disconnect':
        socket.destroy()
        return
      case 'wrong_key': {
        const stan = message.fields.get(11) ?? '000000'
        const other = String((Number(stan) + 1) % 1_000_000).padStart(6, '0')
        this.#write(socket, withField(this.#answer(message, ANSWER_APPROVED), 11, other))
        return
      }
      case 'malformed': {
        const answer = this.#answer(message, ANSWER_APPROVED)
        const fields = new Map(answer.fields)
        fields.delete(39)
        this.#write(socket, { ...answer, fields })
        return
      }
    }
  }

  #answer(request: IsoMessage, action: FakeAction): IsoMessage {
    const answer: IssuerAnswer = {
      responseCode: action.type === 'answer' ? (action.responseCode ?? '00') : '00',
      authorizationCode:
        action.type === 'answer' && action.authorizationCode !== undefined
          ? action.authorizationCode
          : defaultAuthorizationCode(request.fields.get(41) ?? '', request.fields.get(11) ?? ''),
      balanceMinor: action.type === 'answer' ? (action.balanceMinor ?? null) : null,
    }
    return answerMessage(request, answer, request.fields.get(49) ?? '156')
  }

  #write(socket: Socket, message: IsoMessage): void {
    if (socket.destroyed) return
    const encoded = encode(this.#dialect, message)
    if (!encoded.ok) throw new Error(`fake issuer: answer does not encode ${encoded.error.code}`)
    socket.write(encodeFrame(this.framing, Buffer.from(encoded.bytes)))
  }
}
