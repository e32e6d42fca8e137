import { transmissionTimeOf } from '../../core/routes/outbox.js'
import { connect, type Socket } from 'node:net'
import { assert } from '../../core/assert.js'
import type { Clock } from '../../ports/clock.js'
import { decode, encode, type DecodeError, type IsoMessage } from '../iso8583/codec.js'
import type { Dialect } from '../iso8583/spec.js'
import { encodeFrame, FrameReader } from '../iso8583/tcp/framing.js'
import type { IssuerRouteConfig } from './config.js'
import type { IssuerLogger } from './logger.js'
import { correlationKeyOf, networkMessage } from './protocol.js'

/**
 * One TCP connection of an issuer route's pool. It connects, signs on (0800, 70 = 001) and is
 * usable only after the 0810 with 39 = 00; it sends an echo (70 = 301) after `echoIntervalMs`
 * without traffic, and an echo that fails or goes unanswered closes it. It signs off (002) when
 * the pool closes. Financial answers go up to the pool, which correlates them: an answer may be
 * matched whichever connection brings it.
 *
 * Every wait is bounded: connect, sign-on, echo and sign-off each have a timeout, and at most one
 * network request is outstanding per connection.
 */
export type ConnectionState = 'connecting' | 'signing_on' | 'ready' | 'signing_off' | 'closed'

export type ConnectionEndReason =
  | 'connect_failed'
  | 'connect_timeout'
  | 'sign_on_refused'
  | 'sign_on_timeout'
  | 'echo_failed'
  | 'echo_timeout'
  | 'peer_closed'
  | 'socket_error'
  | 'frame_error'
  | 'signed_off'

export interface ConnectionHooks {
  onReady(connection: IssuerConnection): void
  /** Exactly once per connection. `readyForMs` is null if it never signed on. */
  onEnd(connection: IssuerConnection, reason: ConnectionEndReason, readyForMs: number | null): void
  /** A decoded message other than the answer to this connection's own network request. */
  onMessage(connection: IssuerConnection, message: IsoMessage): void
  onMalformed(connection: IssuerConnection, error: DecodeError): void
  onEcho(connection: IssuerConnection, ok: boolean, latencyMs: number | null): void
}

export interface ConnectionDeps {
  readonly config: IssuerRouteConfig
  readonly dialect: Dialect
  readonly clock: Clock
  readonly logger: IssuerLogger
  /** The STAN for the next network message (unique on the route). */
  readonly nextStan: () => string
}

type NetworkCode = '001' | '002' | '301'

interface NetworkPending {
  readonly code: NetworkCode
  readonly key: string
  readonly sentMs: number
  readonly timer: NodeJS.Timeout
  readonly done: (answer: IsoMessage | null) => void
}

export class IssuerConnection {
  readonly id: number
  /** Financial requests written on this connection and not yet settled (kept by the pool). */
  inFlight = 0
  #state: ConnectionState = 'connecting'
  #endReason: ConnectionEndReason | null = null
  #readySinceMs: number | null = null
  #network: NetworkPending | null = null
  #echoTimer: NodeJS.Timeout | null = null
  #connectTimer: NodeJS.Timeout | null
  readonly #socket: Socket
  readonly #reader: FrameReader
  readonly #deps: ConnectionDeps
  readonly #hooks: ConnectionHooks

  constructor(id: number, deps: ConnectionDeps, hooks: ConnectionHooks) {
    this.id = id
    this.#deps = deps
    this.#hooks = hooks
    const { config } = deps
    this.#reader = new FrameReader(config.framing, config.frameBytesMax)
    this.#socket = connect({ host: config.host, port: config.port })
    this.#socket.setNoDelay(true)
    this.#connectTimer = setTimeout(() => this.#fail('connect_timeout'), config.connectTimeoutMs)
    this.#socket.once('connect', () => this.#onConnect())
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    this.#socket.on('error', (error: Error) => {
      const reason = this.#state === 'connecting' ? 'connect_failed' : 'socket_error'
      this.#endReason ??= reason
      deps.logger.debug(
        { route: config.name, connection: id, err: error.message },
        'issuer connection error',
      )
    })
    this.#socket.on('close', () => this.#onClose())
  }

  get state(): ConnectionState {
    return this.#state
  }

  /** How long it has been signed on, or null if it is not. */
  readyForMs(nowMs: number): number | null {
    return this.#state === 'ready' && this.#readySinceMs !== null
      ? nowMs - this.#readySinceMs
      : null
  }

  /**
   * Writes one encoded message, framed. False when the connection is not signed on. The socket's
   * own buffer is bounded by the pool: at most `inFlightPerConnectionMax` requests of at most
   * `frameBytesMax` bytes each, plus one network message.
   */
  write(payload: Uint8Array): boolean {
    if (this.#state !== 'ready' || this.#socket.destroyed || this.#socket.writableEnded)
      return false
    const { framing, frameBytesMax } = this.#deps.config
    this.#socket.write(encodeFrame(framing, Buffer.from(payload), frameBytesMax))
    this.#echoTimer?.refresh()
    return true
  }

  /** Sign off (bounded by `waitMs`), then close. Resolves once the socket is closed. */
  async signOff(waitMs: number): Promise<void> {
    if (this.#state === 'ready') {
      this.#state = 'signing_off'
      this.#clearEcho()
      this.#network?.done(null) // An echo still out is abandoned: sign-off takes its place.
      const answer = await this.#networkRequest('002', Math.min(waitMs, this.#networkTimeoutMs()))
      const code = answer?.fields.get(39) ?? null
      this.#deps.logger.info(
        { route: this.#deps.config.name, connection: this.id, responseCode: code },
        code === null ? 'issuer sign-off unanswered' : 'issuer signed off',
      )
    }
    this.#endReason ??= 'signed_off'
    await this.#destroyAndWait()
  }

  /** Closes at once (a failed echo, a framing error, a pool that gives up). */
  destroy(reason: ConnectionEndReason): void {
    this.#fail(reason)
  }

  #networkTimeoutMs(): number {
    return this.#deps.config.networkTimeoutMs
  }

  #onConnect(): void {
    if (this.#connectTimer !== null) clearTimeout(this.#connectTimer)
    this.#connectTimer = null
    if (this.#state !== 'connecting') return
    this.#state = 'signing_on'
    void this.#networkRequest('001', this.#networkTimeoutMs()).then((answer) => {
      if (this.#state !== 'signing_on') return
      const code = answer?.fields.get(39) ?? null
      if (code !== '00') {
        this.#deps.logger.warn(
          { route: this.#deps.config.name, connection: this.id, responseCode: code },
          code === null ? 'issuer sign-on unanswered' : 'issuer refused sign-on',
        )
        this.#fail(code === null ? 'sign_on_timeout' : 'sign_on_refused')
        return
      }
      this.#state = 'ready'
      this.#readySinceMs = this.#deps.clock.nowMs()
      this.#echoTimer = setTimeout(() => this.#onIdle(), this.#deps.config.echoIntervalMs)
      this.#hooks.onReady(this)
    })
  }

  #onIdle(): void {
    if (this.#state !== 'ready') return
    if (this.#network !== null) {
      this.#echoTimer?.refresh()
      return
    }
    const sentMs = this.#deps.clock.nowMs()
    void this.#networkRequest('301', this.#networkTimeoutMs()).then((answer) => {
      if (this.#state !== 'ready') return
      const code = answer?.fields.get(39) ?? null
      const ok = code === '00'
      this.#hooks.onEcho(this, ok, ok ? this.#deps.clock.nowMs() - sentMs : null)
      if (!ok) {
        this.#deps.logger.warn(
          { route: this.#deps.config.name, connection: this.id, responseCode: code },
          code === null ? 'issuer echo unanswered: closing' : 'issuer echo refused: closing',
        )
        this.#fail(code === null ? 'echo_timeout' : 'echo_failed')
        return
      }
      this.#echoTimer?.refresh()
    })
  }

  /** Sends a network request; resolves with its 0810, or null (timeout, connection gone). */
  #networkRequest(code: NetworkCode, timeoutMs: number): Promise<IsoMessage | null> {
    assert(this.#network === null, 'issuer connection: two network requests at once')
    const { config, dialect, clock } = this.#deps
    const nowMs = clock.nowMs()
    const message = networkMessage(
      code,
      this.#deps.nextStan(),
      transmissionTimeOf(nowMs),
      config.acquirerId,
    )
    const key = correlationKeyOf(message)
    const encoded = encode(dialect, message)
    assert(key !== null && encoded.ok, 'issuer connection: network message must encode')
    return new Promise((resolve) => {
      const done = (answer: IsoMessage | null): void => {
        if (this.#network?.key !== key) return
        clearTimeout(this.#network.timer)
        this.#network = null
        resolve(answer)
      }
      const timer = setTimeout(() => done(null), timeoutMs)
      this.#network = { code, key, sentMs: nowMs, timer, done }
      const { framing, frameBytesMax } = config
      this.#socket.write(encodeFrame(framing, Buffer.from(encoded.bytes), frameBytesMax))
    })
  }

  #onData(chunk: Buffer): void {
    if (this.#reader.failed || this.#state === 'closed') return
    this.#echoTimer?.refresh()
    for (const event of this.#reader.push(chunk)) {
      if (event.type === 'error') {
        this.#deps.logger.warn(
          {
            route: this.#deps.config.name,
            connection: this.id,
            code: event.code,
            declared: event.declared,
          },
          'issuer framing error: closing',
        )
        this.#fail('frame_error')
        return
      }
      const decoded = decode(this.#deps.dialect, event.frame)
      if (!decoded.ok) {
        this.#hooks.onMalformed(this, decoded.error)
        continue
      }
      const message = decoded.message
      const network = this.#network
      if (message.mti === '0810' && network !== null && correlationKeyOf(message) === network.key) {
        network.done(message)
        continue
      }
      this.#hooks.onMessage(this, message)
    }
  }

  #fail(reason: ConnectionEndReason): void {
    if (this.#state === 'closed') return
    this.#endReason ??= reason
    this.#socket.destroy()
  }

  #destroyAndWait(): Promise<void> {
    if (this.#state === 'closed') return Promise.resolve()
    return new Promise((resolve) => {
      this.#socket.once('close', () => resolve())
      this.#socket.destroy()
    })
  }

  #clearEcho(): void {
    if (this.#echoTimer !== null) clearTimeout(this.#echoTimer)
    this.#echoTimer = null
  }

  #onClose(): void {
    if (this.#state === 'closed') return
    const readyForMs = this.readyForMs(this.#deps.clock.nowMs())
    const signedOff = this.#state === 'signing_off'
    this.#state = 'closed'
    if (this.#connectTimer !== null) clearTimeout(this.#connectTimer)
    this.#connectTimer = null
    this.#clearEcho()
    this.#network?.done(null)
    const reason = this.#endReason ?? (signedOff ? 'signed_off' : 'peer_closed')
    this.#hooks.onEnd(this, reason, readyForMs)
  }
}
