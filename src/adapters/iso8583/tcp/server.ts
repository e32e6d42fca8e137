import { createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { assert } from '../../../core/assert.js'
import { encodeFrame, FRAME_PAYLOAD_BYTES_MAX, FrameReader, isFraming } from './framing.js'
import type { FrameErrorCode, Framing } from './framing.js'

/**
 * A protocol-agnostic framed TCP server: it cuts the byte stream into length-prefixed frames,
 * hands each frame to an async handler and writes the handler's answer back, framed. It knows
 * nothing of ISO 8583 fields; the channel above it decodes.
 *
 * Every resource is bounded: connections, frames in flight per connection, the bytes of a frame
 * (checked on the prefix, before buffering), time spent idle, in a handler, waiting for a peer
 * to read its answers, and in shutdown. Back-pressure is by pausing the socket, never by growing
 * a queue.
 */

export interface FramedServerOptions {
  readonly host: string
  /** 0 asks the system for any free port; the chosen one is `FramedServer.port`. */
  readonly port: number
  readonly framing: Framing
  /** Largest payload accepted and sent, prefix excluded. */
  readonly frameBytesMax: number
  /** Connections beyond this are accepted and closed at once. */
  readonly connectionsMax: number
  /** At this many requests in flight on a connection, the server stops reading it. */
  readonly inFlightPerConnectionMax: number
  /**
   * A connection with no traffic and nothing in flight for this long is closed; so is one whose
   * answers have not been able to leave (a peer that sends but does not read) for this long.
   */
  readonly idleTimeoutMs: number
  /** A handler slower than this is abandoned: its request gets no answer. */
  readonly handlerTimeoutMs: number
  /** How long `close()` waits for in-flight requests, and a closing socket for its peer. */
  readonly shutdownGraceMs: number
}

export interface ConnectionInfo {
  readonly id: number
  /** `address:port` of the peer, for logs. */
  readonly remote: string
}

/**
 * Answers one frame. A Buffer is written back framed; null means no answer (for example the
 * channel dropped an unreadable message). A rejection or a timeout also means no answer.
 */
export type FrameHandler = (frame: Buffer, connection: ConnectionInfo) => Promise<Buffer | null>

export type ConnectionCloseReason =
  | 'peer_closed'
  | 'frame_error'
  | 'idle_timeout'
  | 'write_stalled'
  | 'server_closing'
  | 'socket_error'

/** What happened, for logs and metrics; the server itself logs nothing. */
export type ServerEvent =
  | { readonly type: 'connection_opened'; readonly connection: ConnectionInfo }
  | {
      readonly type: 'connection_closed'
      readonly connection: ConnectionInfo
      readonly reason: ConnectionCloseReason
    }
  | {
      readonly type: 'connection_refused'
      readonly remote: string
      readonly reason: 'connections_max' | 'server_closing'
      readonly connections: number
      readonly connectionsMax: number
    }
  | {
      readonly type: 'frame_error'
      readonly connection: ConnectionInfo
      readonly code: FrameErrorCode
      readonly declared: number | null
      readonly max: number
    }
  | { readonly type: 'request_in'; readonly connection: ConnectionInfo; readonly bytes: number }
  | { readonly type: 'answer_out'; readonly connection: ConnectionInfo; readonly bytes: number }
  /** The handler answered null: nothing is written. */
  | { readonly type: 'answer_none'; readonly connection: ConnectionInfo }
  /** The handler answered an empty or oversized buffer: nothing is written. */
  | {
      readonly type: 'answer_invalid'
      readonly connection: ConnectionInfo
      readonly bytes: number
      readonly max: number
    }
  | { readonly type: 'handler_error'; readonly connection: ConnectionInfo; readonly error: unknown }
  | {
      readonly type: 'handler_timeout'
      readonly connection: ConnectionInfo
      readonly timeoutMs: number
    }
  | {
      readonly type: 'idle_timeout'
      readonly connection: ConnectionInfo
      readonly idleTimeoutMs: number
    }
  /** The peer read none of its answers for `idleTimeoutMs`: the connection is destroyed. */
  | {
      readonly type: 'write_stalled'
      readonly connection: ConnectionInfo
      readonly idleTimeoutMs: number
    }
  | { readonly type: 'socket_error'; readonly connection: ConnectionInfo; readonly error: Error }

/** Receives server events. It must not throw: a throwing sink is a bug and stops the process. */
export type ServerEventSink = (event: ServerEvent) => void

export interface FramedServer {
  readonly port: number
  /** Open connections right now. */
  readonly connections: number
  /**
   * Graceful: stop accepting and reading, let in-flight requests answer for up to
   * `shutdownGraceMs`, end the sockets, and destroy whatever is still open at the deadline.
   * Idempotent.
   */
  close(): Promise<void>
}

/** A failure to start listening: an operating failure, not a bug. */
export class FramedServerError extends Error {
  override readonly name = 'FramedServerError'
  readonly code: 'listen_failed'

  constructor(code: 'listen_failed', message: string, options: { cause: unknown }) {
    super(message, options)
    this.code = code
  }
}

/** setTimeout holds a signed 32-bit number of milliseconds; longer delays fire at once. */
const TIMER_MS_MAX = 2_147_483_647
const CONNECTIONS_MAX_LIMIT = 1_000_000
const IN_FLIGHT_PER_CONNECTION_MAX_LIMIT = 65_536
const LISTEN_BACKLOG = 511

type ConnectionState = 'open' | 'draining' | 'ending' | 'closed'

interface Connection {
  readonly info: ConnectionInfo
  readonly socket: Socket
  readonly reader: FrameReader
  /** Frames read but not yet handed to the handler: at most the frames of one read chunk. */
  readonly backlog: Buffer[]
  backlogHead: number
  inFlight: number
  /** The socket's write buffer is full: no frame is handed over until it drains. */
  writeBlocked: boolean
  /** Answers written in this tick are held (corked) and leave in one write at its end. */
  corked: boolean
  state: ConnectionState
  closeReason: ConnectionCloseReason | null
  /**
   * Closes an idle connection, and a stalled one: it is refreshed by traffic and when writes
   * block, so while they stay blocked its firing means they have been blocked that long.
   */
  readonly idleTimer: NodeJS.Timeout
  lingerTimer: NodeJS.Timeout | null
}

/**
 * Starts listening and resolves once the port is bound.
 *
 * ```ts
 * const server = await startFramedServer(options, async (frame) => channel.answer(frame))
 * // ... later
 * await server.close()
 * ```
 */
export async function startFramedServer(
  options: FramedServerOptions,
  handler: FrameHandler,
  events?: ServerEventSink,
): Promise<FramedServer> {
  validateOptions(options)
  const config = Object.freeze({ ...options })
  const emit: ServerEventSink = events ?? (() => undefined)
  const connections = new Set<Connection>()
  let connectionIdLast = 0
  let closing: Promise<void> | null = null

  const server = createServer({
    // A peer that half-closes after its last request still gets its answers.
    allowHalfOpen: true,
    pauseOnConnect: false,
    noDelay: true,
    keepAlive: false,
  })

  server.on('connection', (socket) => {
    const remote = remoteOf(socket)
    if (closing !== null || connections.size >= config.connectionsMax) {
      socket.destroy()
      emit({
        type: 'connection_refused',
        remote,
        reason: closing === null ? 'connections_max' : 'server_closing',
        connections: connections.size,
        connectionsMax: config.connectionsMax,
      })
      return
    }
    connectionIdLast += 1
    const connection = openConnection(socket, { id: connectionIdLast, remote })
    connections.add(connection)
    emit({ type: 'connection_opened', connection: connection.info })
  })

  function openConnection(socket: Socket, info: ConnectionInfo): Connection {
    const connection: Connection = {
      info,
      socket,
      reader: new FrameReader(config.framing, config.frameBytesMax),
      backlog: [],
      backlogHead: 0,
      inFlight: 0,
      writeBlocked: false,
      corked: false,
      state: 'open',
      closeReason: null,
      idleTimer: setTimeout(() => onIdle(connection), config.idleTimeoutMs),
      lingerTimer: null,
    }
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => onData(connection, chunk))
    socket.on('end', () => drainConnection(connection, 'peer_closed'))
    socket.on('drain', () => {
      connection.writeBlocked = false
      // Answers leaving is traffic: the peer is reading.
      if (connection.state === 'open' || connection.state === 'draining') {
        connection.idleTimer.refresh()
      }
      pump(connection)
    })
    socket.on('error', (error) => {
      connection.closeReason ??= 'socket_error'
      emit({ type: 'socket_error', connection: info, error })
    })
    socket.on('close', () => onClose(connection))
    return connection
  }

  function onData(connection: Connection, chunk: Buffer): void {
    // Once draining, the stream is not read any more; a lingering socket discards what arrives.
    if (connection.state !== 'open') return
    connection.idleTimer.refresh()
    for (const event of connection.reader.push(chunk)) {
      if (event.type === 'frame') {
        connection.backlog.push(event.frame)
        emit({ type: 'request_in', connection: connection.info, bytes: event.frame.length })
      } else {
        emit({
          type: 'frame_error',
          connection: connection.info,
          code: event.code,
          declared: event.declared,
          max: event.max,
        })
        drainConnection(connection, 'frame_error')
      }
    }
    pump(connection)
  }

  /** Hands backlog frames to the handler while there is room, then decides about reading. */
  function pump(connection: Connection): void {
    const { backlog } = connection
    while (
      connection.backlogHead < backlog.length &&
      connection.inFlight < config.inFlightPerConnectionMax &&
      !connection.writeBlocked &&
      connection.state !== 'closed'
    ) {
      const frame = backlog[connection.backlogHead]
      assert(frame !== undefined, 'framed server: backlog hole')
      connection.backlogHead += 1
      dispatch(connection, frame)
    }
    if (connection.backlogHead === backlog.length) {
      backlog.length = 0
      connection.backlogHead = 0
    }
    assert(
      connection.inFlight <= config.inFlightPerConnectionMax,
      'framed server: in flight beyond the maximum',
    )
    updateReading(connection)
  }

  function updateReading(connection: Connection): void {
    const { socket } = connection
    if (connection.state === 'open') {
      const ready =
        connection.backlog.length === 0 &&
        connection.inFlight < config.inFlightPerConnectionMax &&
        !connection.writeBlocked
      if (ready && socket.isPaused()) socket.resume()
      if (!ready && !socket.isPaused()) socket.pause()
      return
    }
    if (connection.state !== 'draining') return
    if (connection.backlog.length > 0 || connection.inFlight > 0) return
    endConnection(connection)
  }

  function dispatch(connection: Connection, frame: Buffer): void {
    connection.inFlight += 1
    let settled = false
    const settle = (): boolean => {
      if (settled) return false
      settled = true
      clearTimeout(timer)
      connection.inFlight -= 1
      assert(connection.inFlight >= 0, 'framed server: negative in flight')
      return true
    }
    // An abandoned handler may still be running; its late answer is discarded. Handlers are
    // expected to bound their own work (store and issuer timeouts) below handlerTimeoutMs.
    const timer = setTimeout(() => {
      if (!settle()) return
      emit({
        type: 'handler_timeout',
        connection: connection.info,
        timeoutMs: config.handlerTimeoutMs,
      })
      afterRequest(connection)
    }, config.handlerTimeoutMs)
    void callHandler(handler, frame, connection.info).then(
      (answer) => {
        if (!settle()) return
        deliver(connection, answer)
        afterRequest(connection)
      },
      (error: unknown) => {
        if (!settle()) return
        emit({ type: 'handler_error', connection: connection.info, error })
        afterRequest(connection)
      },
    )
  }

  function afterRequest(connection: Connection): void {
    if (connection.state === 'closed') return
    connection.idleTimer.refresh()
    pump(connection)
  }

  function deliver(connection: Connection, answer: Buffer | null): void {
    if (connection.state === 'closed' || connection.socket.writableEnded) return
    if (answer === null) {
      emit({ type: 'answer_none', connection: connection.info })
      return
    }
    if (answer.length === 0 || answer.length > config.frameBytesMax) {
      emit({
        type: 'answer_invalid',
        connection: connection.info,
        bytes: answer.length,
        max: config.frameBytesMax,
      })
      return
    }
    const framed = encodeFrame(config.framing, answer, config.frameBytesMax)
    // A batch resolves many answers in one tick; a pipelining peer (a concentrator, a host)
    // gets its share in one system call instead of one per answer.
    if (!connection.corked) {
      connection.corked = true
      connection.socket.cork()
      process.nextTick(uncork, connection)
    }
    if (!connection.socket.write(framed) && !connection.writeBlocked) {
      connection.writeBlocked = true
      // From now on the idle timer measures how long the writes stay blocked.
      connection.idleTimer.refresh()
    }
    emit({ type: 'answer_out', connection: connection.info, bytes: answer.length })
  }

  function uncork(connection: Connection): void {
    connection.corked = false
    connection.socket.uncork()
  }

  /** Stops reading; answers what was already read; then ends the connection. */
  function drainConnection(connection: Connection, reason: ConnectionCloseReason): void {
    if (connection.state !== 'open') return
    connection.state = 'draining'
    connection.closeReason ??= reason
    connection.socket.pause()
    pump(connection)
  }

  function endConnection(connection: Connection): void {
    assert(connection.state === 'draining', 'framed server: ending a connection not draining')
    assert(connection.inFlight === 0, 'framed server: ending with requests in flight')
    connection.state = 'ending'
    clearTimeout(connection.idleTimer)
    connection.socket.end()
    // Read and discard until the peer closes too: closing with unread bytes would send a reset
    // that can destroy the answers just written. A peer that never closes is cut at the linger.
    connection.socket.resume()
    connection.lingerTimer = setTimeout(() => connection.socket.destroy(), config.shutdownGraceMs)
  }

  function onIdle(connection: Connection): void {
    const { state } = connection
    if (state !== 'open' && state !== 'draining') return
    if (connection.writeBlocked) {
      // The timer was refreshed when the writes blocked, and nothing since let them drain: the
      // peer has read none of its answers for the idle timeout. Its unread frames in the backlog
      // do not make it busy, or a peer that only sends would hold its connection forever.
      connection.closeReason ??= 'write_stalled'
      emit({
        type: 'write_stalled',
        connection: connection.info,
        idleTimeoutMs: config.idleTimeoutMs,
      })
      connection.socket.destroy()
      return
    }
    // Draining ends by itself once its requests are answered; a write that blocks re-arms the
    // timer.
    if (state !== 'open') return
    // Busy only while a request is being handled; the handler timeout bounds that.
    if (connection.inFlight > 0) {
      connection.idleTimer.refresh()
      return
    }
    connection.closeReason ??= 'idle_timeout'
    emit({ type: 'idle_timeout', connection: connection.info, idleTimeoutMs: config.idleTimeoutMs })
    connection.socket.destroy()
  }

  function onClose(connection: Connection): void {
    // A peer that resets mid-request leaves its handlers running; their answers are discarded.
    connection.state = 'closed'
    clearTimeout(connection.idleTimer)
    if (connection.lingerTimer !== null) clearTimeout(connection.lingerTimer)
    connection.backlog.length = 0
    connection.backlogHead = 0
    connections.delete(connection)
    emit({
      type: 'connection_closed',
      connection: connection.info,
      reason: connection.closeReason ?? 'peer_closed',
    })
  }

  function close(): Promise<void> {
    closing ??= new Promise<void>((resolve) => {
      const deadline = setTimeout(() => {
        for (const connection of connections) connection.socket.destroy()
      }, config.shutdownGraceMs)
      server.close(() => {
        clearTimeout(deadline)
        resolve()
      })
      for (const connection of connections) drainConnection(connection, 'server_closing')
    })
    return closing
  }

  await listen(server, config.host, config.port)
  const address: AddressInfo | string | null = server.address()
  assert(typeof address === 'object' && address !== null, 'framed server: no TCP address')

  return {
    port: address.port,
    get connections() {
      return connections.size
    },
    close,
  }
}

async function callHandler(
  handler: FrameHandler,
  frame: Buffer,
  connection: ConnectionInfo,
): Promise<Buffer | null> {
  // Inside an async function, a handler that throws synchronously becomes a rejection.
  const answer = await handler(frame, connection)
  assert(answer === null || Buffer.isBuffer(answer), 'framed server: handler answered a non-Buffer')
  return answer
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      reject(
        new FramedServerError('listen_failed', `cannot listen on ${host}:${port}`, {
          cause: error,
        }),
      )
    }
    server.once('error', onError)
    server.listen({ host, port, backlog: LISTEN_BACKLOG, exclusive: false }, () => {
      server.off('error', onError)
      resolve()
    })
  })
}

function remoteOf(socket: Socket): string {
  const address = socket.remoteAddress ?? 'unknown'
  const port = socket.remotePort ?? 0
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`
}

function validateOptions(options: FramedServerOptions): void {
  if (typeof options.host !== 'string' || options.host.length === 0) {
    throw new RangeError('options.host must be a non-empty string')
  }
  requireInteger(options, 'port', 0, 65_535)
  if (!isFraming(options.framing)) {
    throw new RangeError(
      `options.framing must be 'binary2' or 'ascii4', got ${JSON.stringify(options.framing)}`,
    )
  }
  requireInteger(options, 'frameBytesMax', 1, FRAME_PAYLOAD_BYTES_MAX[options.framing])
  requireInteger(options, 'connectionsMax', 1, CONNECTIONS_MAX_LIMIT)
  requireInteger(options, 'inFlightPerConnectionMax', 1, IN_FLIGHT_PER_CONNECTION_MAX_LIMIT)
  requireInteger(options, 'idleTimeoutMs', 1, TIMER_MS_MAX)
  requireInteger(options, 'handlerTimeoutMs', 1, TIMER_MS_MAX)
  requireInteger(options, 'shutdownGraceMs', 1, TIMER_MS_MAX)
}

type NumericOption = {
  [K in keyof FramedServerOptions]: FramedServerOptions[K] extends number ? K : never
}[keyof FramedServerOptions]

function requireInteger(
  options: FramedServerOptions,
  key: NumericOption,
  min: number,
  max: number,
): void {
  const value: unknown = options[key]
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const framing = key === 'frameBytesMax' ? ` for framing '${options.framing}'` : ''
    throw new RangeError(
      `options.${key} must be an integer in ${min}..${max}${framing}, got ${String(value)}`,
    )
  }
}
