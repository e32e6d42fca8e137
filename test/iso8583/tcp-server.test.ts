import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import {
  encodeFrame,
  FRAME_PAYLOAD_BYTES_MAX,
  FrameReader,
} from '../../src/adapters/iso8583/tcp/framing.js'
import type { Framing } from '../../src/adapters/iso8583/tcp/framing.js'
import { startFramedServer } from '../../src/adapters/iso8583/tcp/server.js'
import type {
  FrameHandler,
  FramedServer,
  FramedServerOptions,
  ServerEvent,
} from '../../src/adapters/iso8583/tcp/server.js'

/** Every wait in this file gives up after this long, so a broken server fails, never hangs. */
const WAIT_MS_MAX = 3_000
/** How long to watch for something that must not happen. */
const QUIET_MS = 150

const BASE_OPTIONS: FramedServerOptions = {
  host: '127.0.0.1',
  port: 0,
  framing: 'binary2',
  frameBytesMax: 1_024,
  connectionsMax: 16,
  inFlightPerConnectionMax: 8,
  idleTimeoutMs: 10_000,
  handlerTimeoutMs: 2_000,
  shutdownGraceMs: 2_000,
}

const echo: FrameHandler = (frame) => Promise.resolve(frame)

const servers: FramedServer[] = []
const clients: TestClient[] = []

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy()
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

function withTimeout<T>(promise: Promise<T>, what: string, ms = WAIT_MS_MAX): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error instanceof Error ? error : new Error(String(error)))
      },
    )
  })
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Records server events and lets a test wait for one. */
class EventLog {
  readonly events: ServerEvent[] = []
  readonly #waiters: { match: (event: ServerEvent) => boolean; resolve: () => void }[] = []

  readonly sink = (event: ServerEvent): void => {
    this.events.push(event)
    for (const waiter of [...this.#waiters]) {
      if (!waiter.match(event)) continue
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1)
      waiter.resolve()
    }
  }

  count(type: ServerEvent['type']): number {
    return this.events.filter((event) => event.type === type).length
  }

  waitFor(type: ServerEvent['type'], what = type): Promise<ServerEvent> {
    const matches = (event: ServerEvent): boolean => event.type === type
    const seen = this.events.find(matches)
    if (seen !== undefined) return Promise.resolve(seen)
    return withTimeout(
      new Promise<ServerEvent>((resolve) => {
        this.#waiters.push({
          match: matches,
          resolve: () => resolve(this.events.findLast(matches)!),
        })
      }),
      `server event ${what}`,
    )
  }
}

/** A terminal-like client: writes framed payloads, reads framed answers. */
class TestClient {
  readonly #socket: Socket
  readonly #framing: Framing
  readonly #reader: FrameReader
  readonly #frames: Buffer[] = []
  #frameWaiter: (() => void) | null = null
  readonly #closed: Promise<void>

  private constructor(socket: Socket, framing: Framing) {
    this.#socket = socket
    this.#framing = framing
    this.#reader = new FrameReader(framing, FRAME_PAYLOAD_BYTES_MAX[framing])
    // A server that refuses or resets a connection is expected in some tests: not a failure.
    socket.on('error', () => undefined)
    socket.on('data', (chunk: Buffer) => {
      for (const event of this.#reader.push(chunk)) {
        if (event.type === 'frame') this.#frames.push(event.frame)
      }
      this.#frameWaiter?.()
    })
    this.#closed = new Promise((resolve) => socket.once('close', () => resolve()))
  }

  static async open(port: number, framing: Framing = 'binary2'): Promise<TestClient> {
    const socket = connect({ host: '127.0.0.1', port })
    const client = new TestClient(socket, framing)
    clients.push(client)
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve)
        socket.once('error', reject)
      }),
      'connect',
    )
    return client
  }

  send(...payloads: string[]): void {
    const frames = payloads.map((payload) => encodeFrame(this.#framing, Buffer.from(payload)))
    this.#socket.write(Buffer.concat(frames))
  }

  sendRaw(bytes: Buffer): void {
    this.#socket.write(bytes)
  }

  /** Waits until `count` answers have arrived in total, and returns them as text. */
  async answers(count: number): Promise<string[]> {
    await withTimeout(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (this.#frames.length < count) return
          this.#frameWaiter = null
          resolve()
        }
        this.#frameWaiter = check
        check()
      }),
      `${count} answers (have ${this.#frames.length})`,
    )
    return this.#frames.map((frame) => frame.toString('latin1'))
  }

  get received(): number {
    return this.#frames.length
  }

  closed(what = 'connection closed by the server'): Promise<void> {
    return withTimeout(this.#closed, what)
  }

  end(): void {
    this.#socket.end()
  }

  /** Stops reading answers, as a terminal that does not keep up. */
  pause(): void {
    this.#socket.pause()
  }

  resume(): void {
    this.#socket.resume()
  }

  destroy(): void {
    this.#socket.destroy()
  }
}

async function start(
  overrides: Partial<FramedServerOptions> = {},
  handler: FrameHandler = echo,
): Promise<{ server: FramedServer; log: EventLog }> {
  const log = new EventLog()
  const server = await startFramedServer({ ...BASE_OPTIONS, ...overrides }, handler, log.sink)
  servers.push(server)
  return { server, log }
}

/** A promise the test resolves by hand, to hold a handler in flight. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => undefined
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

describe('framed TCP server', () => {
  describe.each<Framing>(['binary2', 'ascii4'])('with %s framing', (framing) => {
    it('answers an echo round trip', async () => {
      const { server, log } = await start({ framing })
      const client = await TestClient.open(server.port, framing)
      client.send('0800 sign-on')
      expect(await client.answers(1)).toEqual(['0800 sign-on'])
      expect(log.count('request_in')).toBe(1)
      expect(log.count('answer_out')).toBe(1)
      expect(server.connections).toBe(1)
    })
  })

  it('answers many frames pipelined in one write', async () => {
    const { server } = await start({ inFlightPerConnectionMax: 4 }, async (frame) => {
      // Finish out of order: answers may be written in completion order.
      await sleep(frame.readUInt8(frame.length - 1) % 3)
      return frame
    })
    const client = await TestClient.open(server.port)
    const payloads = Array.from({ length: 500 }, (_, index) => `request-${index}`)
    client.send(...payloads)
    const answers = await client.answers(payloads.length)
    expect([...answers].sort()).toEqual([...payloads].sort())
  })

  it('closes on a declared length over the maximum, without buffering the body', async () => {
    const { server, log } = await start({ frameBytesMax: 64 })
    const bystander = await TestClient.open(server.port)
    const offender = await TestClient.open(server.port)
    // The prefix declares 60,000 bytes; only three follow. The error must not wait for the rest.
    offender.sendRaw(Buffer.from([0xea, 0x60, 0x01, 0x02, 0x03]))
    const error = await log.waitFor('frame_error')
    expect(error).toMatchObject({ code: 'frame_too_large', declared: 60_000, max: 64 })
    await offender.closed()
    const closedEvent = await log.waitFor('connection_closed')
    expect(closedEvent).toMatchObject({ reason: 'frame_error' })

    bystander.send('still here')
    expect(await bystander.answers(1)).toEqual(['still here'])
    const newcomer = await TestClient.open(server.port)
    newcomer.send('and new ones too')
    expect(await newcomer.answers(1)).toEqual(['and new ones too'])
  })

  it('closes the connection on a bad ascii4 prefix and an empty frame', async () => {
    const { server, log } = await start({ framing: 'ascii4' })
    const client = await TestClient.open(server.port, 'ascii4')
    client.sendRaw(Buffer.from('12x4hello', 'latin1'))
    expect(await log.waitFor('frame_error')).toMatchObject({ code: 'bad_length_prefix' })
    await client.closed()

    const empty = await TestClient.open(server.port, 'ascii4')
    empty.sendRaw(Buffer.from('0000', 'latin1'))
    await empty.closed()
    expect(log.events.filter((event) => event.type === 'frame_error')[1]).toMatchObject({
      code: 'empty_frame',
      declared: 0,
    })
  })

  it('answers the frames read before a framing error, then closes', async () => {
    const { server, log } = await start({ frameBytesMax: 16 })
    const client = await TestClient.open(server.port)
    const emptyFrame = Buffer.from([0, 0])
    client.sendRaw(Buffer.concat([encodeFrame('binary2', Buffer.from('first')), emptyFrame]))
    expect(await client.answers(1)).toEqual(['first'])
    await client.closed()
    expect(await log.waitFor('frame_error')).toMatchObject({ code: 'empty_frame' })
  })

  it('accepts and closes connections beyond the limit, and counts them', async () => {
    const { server, log } = await start({ connectionsMax: 2 })
    const first = await TestClient.open(server.port)
    const second = await TestClient.open(server.port)
    first.send('one')
    second.send('two')
    expect(await first.answers(1)).toEqual(['one'])
    expect(await second.answers(1)).toEqual(['two'])

    const third = await TestClient.open(server.port)
    await third.closed('connection beyond the limit closed')
    expect(await log.waitFor('connection_refused')).toMatchObject({
      reason: 'connections_max',
      connections: 2,
      connectionsMax: 2,
    })
    expect(server.connections).toBe(2)
    expect(third.received).toBe(0)

    // A freed slot is usable again.
    first.destroy()
    await first.closed()
    await log.waitFor('connection_closed')
    const fourth = await TestClient.open(server.port)
    fourth.send('four')
    expect(await fourth.answers(1)).toEqual(['four'])
  })

  it('does not hand a frame to the handler while in-flight is at the maximum', async () => {
    const gates = [gate(), gate(), gate()]
    const seen: string[] = []
    const { server } = await start({ inFlightPerConnectionMax: 2 }, async (frame) => {
      const index = seen.length
      seen.push(frame.toString('latin1'))
      await gates[index]!.promise
      return frame
    })
    const client = await TestClient.open(server.port)
    client.send('a', 'b', 'c')
    await waitUntil(() => seen.length === 2, 'two frames in flight')
    await sleep(QUIET_MS)
    expect(seen).toEqual(['a', 'b'])

    gates[1]!.open()
    expect(await client.answers(1)).toEqual(['b'])
    await waitUntil(() => seen.length === 3, 'third frame handed over')
    expect(seen).toEqual(['a', 'b', 'c'])
    gates[0]!.open()
    gates[2]!.open()
    expect([...(await client.answers(3))].sort()).toEqual(['a', 'b', 'c'])
  })

  it('stops reading a connection whose handler is stuck (back-pressure)', async () => {
    const held = gate()
    const { server, log } = await start(
      { inFlightPerConnectionMax: 1, frameBytesMax: 1_000 },
      async (frame) => {
        await held.promise
        return frame.subarray(0, 1)
      },
    )
    const client = await TestClient.open(server.port)
    const frameCount = 2_000
    const payload = 'x'.repeat(1_000)
    client.send(...Array.from({ length: frameCount }, () => payload))
    await log.waitFor('request_in')
    await sleep(QUIET_MS)
    // Reading stopped after about one read chunk, not the two megabytes on offer.
    expect(log.count('request_in')).toBeLessThan(200)
    held.open()
    expect(await client.answers(frameCount)).toHaveLength(frameCount)
  })

  it('stops handing over frames while the peer does not read its answers', async () => {
    const answer = Buffer.alloc(60_000, 0x61)
    const { server, log } = await start(
      { frameBytesMax: 60_000, inFlightPerConnectionMax: 4 },
      () => Promise.resolve(answer),
    )
    const client = await TestClient.open(server.port)
    client.pause()
    const frameCount = 1_000
    client.send(...Array.from({ length: frameCount }, (_, index) => `q${index}`))
    await log.waitFor('answer_out')
    await sleep(QUIET_MS)
    // Sixty megabytes of answers do not fit the socket buffers: the server must have stopped
    // handing frames to the handler instead of queueing answers in memory.
    expect(log.count('answer_out')).toBeLessThan(frameCount)
    client.resume()
    expect(await client.answers(frameCount)).toHaveLength(frameCount)
  })

  it('closes an idle connection', async () => {
    const { server, log } = await start({ idleTimeoutMs: 100 })
    const client = await TestClient.open(server.port)
    await client.closed('idle connection closed')
    expect(await log.waitFor('idle_timeout')).toMatchObject({ idleTimeoutMs: 100 })
    expect(await log.waitFor('connection_closed')).toMatchObject({ reason: 'idle_timeout' })
    expect(server.connections).toBe(0)
  })

  it('keeps a connection that is waiting for its handler, even past the idle timeout', async () => {
    const { server, log } = await start({ idleTimeoutMs: 50 }, async (frame) => {
      await sleep(200)
      return frame
    })
    const client = await TestClient.open(server.port)
    client.send('slow')
    expect(await client.answers(1)).toEqual(['slow'])
    expect(log.count('idle_timeout')).toBe(0)
  })

  it('closes a connection whose peer sends but never reads, after the idle timeout', async () => {
    const idleTimeoutMs = 200
    const answer = Buffer.alloc(60_000, 0x61)
    const { server, log } = await start(
      { idleTimeoutMs, frameBytesMax: 60_000, inFlightPerConnectionMax: 4 },
      () => Promise.resolve(answer),
    )
    const client = await TestClient.open(server.port)
    client.pause()
    const frameCount = 1_000
    const sentAt = Date.now()
    // Sixty megabytes of answers: the socket buffers fill and the writes stay blocked, with
    // unread frames waiting behind them. That must not count as busy.
    client.send(...Array.from({ length: frameCount }, (_, index) => `0800 echo ${index}`))
    // A paused client learns of the close only once it reads: watch the server side.
    expect(await log.waitFor('connection_closed')).toMatchObject({ reason: 'write_stalled' })
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(idleTimeoutMs)
    expect(await log.waitFor('write_stalled')).toMatchObject({ idleTimeoutMs })
    expect(log.count('idle_timeout')).toBe(0)
    expect(log.count('answer_out')).toBeLessThan(frameCount)
    expect(server.connections).toBe(0)
    client.resume()
    await client.closed()
  })

  it('closes a half-closed connection whose peer never reads its answers', async () => {
    const answer = Buffer.alloc(60_000, 0x61)
    let warmup: Promise<void> | null = null
    const { server, log } = await start(
      { idleTimeoutMs: 200, frameBytesMax: 60_000, inFlightPerConnectionMax: 4 },
      async () => {
        // Holds the first answers until the server has read the whole stream and its end, so
        // the connection is draining (not reading any more) when its writes block.
        warmup ??= sleep(50)
        await warmup
        return answer
      },
    )
    const client = await TestClient.open(server.port)
    client.pause()
    client.send(...Array.from({ length: 1_000 }, (_, index) => `0800 echo ${index}`))
    client.end()
    expect(await log.waitFor('connection_closed')).toMatchObject({ reason: 'peer_closed' })
    expect(await log.waitFor('write_stalled')).toMatchObject({ idleTimeoutMs: 200 })
    expect(server.connections).toBe(0)
    client.resume()
    await client.closed()
  })

  it('gives no answer for a handler error and keeps serving the connection', async () => {
    const { server, log } = await start({}, (frame) => {
      const text = frame.toString('latin1')
      if (text === 'throw') throw new Error('synchronous bug in a channel')
      if (text === 'reject') return Promise.reject(new Error('store timeout'))
      if (text === 'drop') return Promise.resolve(null)
      return Promise.resolve(frame)
    })
    const client = await TestClient.open(server.port)
    client.send('throw', 'reject', 'drop', 'next')
    expect(await client.answers(1)).toEqual(['next'])
    await sleep(QUIET_MS)
    expect(client.received).toBe(1)
    expect(log.count('handler_error')).toBe(2)
    expect(log.count('answer_none')).toBe(1)
    client.send('again')
    expect(await client.answers(2)).toEqual(['next', 'again'])
  })

  it('abandons a handler past its timeout and keeps serving the connection', async () => {
    const never = gate()
    const { server, log } = await start({ handlerTimeoutMs: 50 }, async (frame) => {
      if (frame.toString('latin1') === 'hang') await never.promise
      return frame
    })
    const client = await TestClient.open(server.port)
    client.send('hang')
    expect(await log.waitFor('handler_timeout')).toMatchObject({ timeoutMs: 50 })
    client.send('next')
    expect(await client.answers(1)).toEqual(['next'])
    never.open()
    await sleep(QUIET_MS)
    expect(await client.answers(1)).toEqual(['next'])
  })

  it('answers in-flight requests on graceful close, then closes', async () => {
    const held = gate()
    let calls = 0
    const { server, log } = await start({}, async (frame) => {
      calls += 1
      await held.promise
      return frame
    })
    const client = await TestClient.open(server.port)
    client.send('in flight')
    await waitUntil(() => calls === 1, 'handler called')

    const closing = server.close()
    await sleep(QUIET_MS)
    expect(client.received).toBe(0)
    held.open()
    expect(await client.answers(1)).toEqual(['in flight'])
    await client.closed()
    await withTimeout(closing, 'server close')
    expect(await log.waitFor('connection_closed')).toMatchObject({ reason: 'server_closing' })
    expect(server.connections).toBe(0)
  })

  it('answers a peer that half-closes after its last request', async () => {
    const { server } = await start({}, async (frame) => {
      await sleep(20)
      return frame
    })
    const client = await TestClient.open(server.port)
    client.send('last one')
    client.end()
    expect(await client.answers(1)).toEqual(['last one'])
    await client.closed()
  })

  it('destroys connections still busy at the end of the shutdown grace', async () => {
    const never = gate()
    const { server } = await start({ shutdownGraceMs: 100, handlerTimeoutMs: 60_000 }, async () => {
      await never.promise
      return null
    })
    const client = await TestClient.open(server.port)
    client.send('stuck')
    await sleep(20)
    await withTimeout(server.close(), 'server close bounded by the grace')
    await client.closed()
    never.open()
  })

  it('rejects bad options with a message naming the key', async () => {
    const cases: [Partial<FramedServerOptions>, RegExp][] = [
      [{ port: 70_000 }, /options\.port/],
      [{ port: -1 }, /options\.port/],
      [{ host: '' }, /options\.host/],
      [{ framing: 'ascii2' as Framing }, /options\.framing/],
      [{ framing: 'ascii4', frameBytesMax: 10_000 }, /options\.frameBytesMax.*ascii4/],
      [{ frameBytesMax: 0 }, /options\.frameBytesMax/],
      [{ connectionsMax: 0 }, /options\.connectionsMax/],
      [{ inFlightPerConnectionMax: 1.5 }, /options\.inFlightPerConnectionMax/],
      [{ idleTimeoutMs: Number.NaN }, /options\.idleTimeoutMs/],
      [{ handlerTimeoutMs: 2 ** 31 }, /options\.handlerTimeoutMs/],
      [{ shutdownGraceMs: 0 }, /options\.shutdownGraceMs/],
    ]
    for (const [overrides, message] of cases) {
      await expect(startFramedServer({ ...BASE_OPTIONS, ...overrides }, echo)).rejects.toThrow(
        message,
      )
      await expect(startFramedServer({ ...BASE_OPTIONS, ...overrides }, echo)).rejects.toThrow(
        RangeError,
      )
    }
  })

  it('fails to start with a typed error when the port is taken', async () => {
    const { server } = await start()
    await expect(
      startFramedServer({ ...BASE_OPTIONS, port: server.port }, echo),
    ).rejects.toMatchObject({ name: 'FramedServerError', code: 'listen_failed' })
  })
})

/** Polls a condition every few milliseconds, giving up after WAIT_MS_MAX. */
async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS_MAX
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${WAIT_MS_MAX} ms: ${what}`)
    await sleep(5)
  }
}
