import { connect, type Socket } from 'node:net'
import { decode, encode, type IsoMessage } from '../../src/adapters/iso8583/codec.js'
import type { Dialect } from '../../src/adapters/iso8583/spec.js'
import {
  encodeFrame,
  FRAME_PAYLOAD_BYTES_MAX,
  FrameReader,
  type Framing,
} from '../../src/adapters/iso8583/tcp/framing.js'

/** A test client for the ISO 8583 listener: real TCP on 127.0.0.1, every wait bounded. */
export const ISO_WAIT_MS = 5_000

export class IsoTestClient {
  private readonly reader: FrameReader
  private readonly frames: Buffer[] = []
  private waiter: (() => void) | null = null
  closed = false

  private constructor(
    private readonly socket: Socket,
    private readonly dialect: Dialect,
    private readonly framing: Framing,
  ) {
    this.reader = new FrameReader(framing, FRAME_PAYLOAD_BYTES_MAX[framing])
    socket.on('data', (chunk: Buffer) => {
      // After a framing error the stream cannot be read (pushing again is a bug): stop here.
      if (this.reader.failed) return
      for (const event of this.reader.push(chunk)) {
        if (event.type === 'frame') this.frames.push(event.frame)
        else socket.destroy()
      }
      this.waiter?.()
    })
    socket.on('close', () => {
      this.closed = true
      this.waiter?.()
    })
    socket.on('error', () => undefined)
  }

  static open(
    port: number,
    dialect: Dialect,
    framing: Framing = 'binary2',
  ): Promise<IsoTestClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port })
      const timer = setTimeout(() => reject(new Error('connect timed out')), ISO_WAIT_MS)
      socket.once('connect', () => {
        clearTimeout(timer)
        resolve(new IsoTestClient(socket, dialect, framing))
      })
      socket.once('error', (error) => {
        clearTimeout(timer)
        reject(error)
      })
    })
  }

  sendRaw(payload: Buffer): void {
    this.socket.write(encodeFrame(this.framing, payload))
  }

  sendBytes(bytes: Buffer): void {
    this.socket.write(bytes)
  }

  send(message: IsoMessage): void {
    const encoded = encode(this.dialect, message)
    if (!encoded.ok)
      throw new Error(`test message does not encode: ${JSON.stringify(encoded.error)}`)
    this.sendRaw(Buffer.from(encoded.bytes))
  }

  /** The next answer, decoded; null if none came within the wait or the connection closed. */
  async receive(waitMs = ISO_WAIT_MS): Promise<IsoMessage | null> {
    const deadline = Date.now() + waitMs
    while (this.frames.length === 0 && !this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()))
        this.waiter = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.waiter = null
    }
    const frame = this.frames.shift()
    if (frame === undefined) return null
    const decoded = decode(this.dialect, frame)
    if (!decoded.ok) throw new Error(`answer does not decode: ${JSON.stringify(decoded.error)}`)
    return decoded.message
  }

  async request(message: IsoMessage): Promise<IsoMessage> {
    this.send(message)
    const answer = await this.receive()
    if (answer === null) throw new Error(`no answer to ${message.mti}`)
    return answer
  }

  close(): void {
    this.socket.destroy()
  }
}
