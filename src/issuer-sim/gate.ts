import { createServer, connect, type Server, type Socket } from 'node:net'
import { assert } from '../core/assert.js'

/**
 * The simulator's public TCP port: a thin gate in front of the project's framed ISO 8583 server
 * (which listens on a private port on 127.0.0.1). The framed server owns framing, bounds and
 * back-pressure; the gate owns what a bank host's network does to connections and the framed
 * server has no knob for: refusing new ones, cutting one mid-stream, and going down (not
 * listening at all) and coming back on the same port. Each accepted socket is piped to its own
 * connection to the framed server; `pipe` carries back-pressure both ways.
 */

export interface GateOptions {
  readonly host: string
  readonly port: number
  readonly upstreamPort: number
  readonly connectionsMax: number
  readonly shutdownGraceMs: number
}

export interface GateEvents {
  opened(): void
  refused(): void
  closed(): void
}

export interface Gate {
  readonly port: number
  readonly listening: boolean
  readonly open: number
  /** Accept and close new connections at once. */
  setRefusing(refusing: boolean): void
  /** Down: stop listening and close every connection. Up: listen again on the same port. */
  setDown(down: boolean): Promise<void>
  /** Cuts the connection whose upstream side the framed server sees as `remote`. */
  cut(remote: string): boolean
  close(): Promise<void>
}

interface Pair {
  readonly client: Socket
  upstream: Socket | null
}

export async function startGate(options: GateOptions, events: GateEvents): Promise<Gate> {
  const pairs = new Set<Pair>()
  /** By the upstream socket's local port, which the framed server reports as the peer. */
  const byUpstreamPort = new Map<number, Pair>()
  let refusing = false
  let closing = false
  let listening = false
  let port = options.port

  const server: Server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    if (refusing || closing || !listening || pairs.size >= options.connectionsMax) {
      client.destroy()
      events.refused()
      return
    }
    const pair: Pair = { client, upstream: null }
    pairs.add(pair)
    events.opened()
    client.on('error', () => undefined)
    client.once('close', () => {
      pairs.delete(pair)
      if (pair.upstream !== null) {
        const localPort = pair.upstream.localPort
        if (localPort !== undefined) byUpstreamPort.delete(localPort)
        pair.upstream.destroy()
      }
      events.closed()
    })
    const upstream = connect({ host: '127.0.0.1', port: options.upstreamPort, allowHalfOpen: true })
    pair.upstream = upstream
    upstream.on('error', () => client.destroy())
    upstream.once('close', () => {
      // An upstream that ended cleanly (a drained shutdown, a framing error) has had its last
      // answers piped into the client: let them flush, and cut a peer that never closes.
      if (!client.writableEnded) client.destroy()
      else setTimeout(() => client.destroy(), options.shutdownGraceMs).unref()
    })
    upstream.once('connect', () => {
      if (client.destroyed) {
        upstream.destroy()
        return
      }
      const localPort = upstream.localPort
      assert(localPort !== undefined, 'a connected socket has a local port')
      byUpstreamPort.set(localPort, pair)
      client.pipe(upstream)
      upstream.pipe(client)
      client.resume()
    })
  })
  server.on('error', () => undefined)

  const listen = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const onError = (error: Error): void => reject(error)
      server.once('error', onError)
      server.listen({ host: options.host, port, exclusive: true }, () => {
        server.off('error', onError)
        const address = server.address()
        assert(typeof address === 'object' && address !== null, 'gate: a TCP address')
        port = address.port
        listening = true
        resolve()
      })
    })

  const stopListening = (): Promise<void> =>
    new Promise((resolve) => {
      listening = false
      if (!server.listening) {
        resolve()
        return
      }
      server.close(() => resolve())
    })

  const destroyAll = (): void => {
    for (const pair of pairs) {
      pair.client.destroy()
      pair.upstream?.destroy()
    }
  }

  await listen()

  return {
    get port() {
      return port
    },
    get listening() {
      return listening
    },
    get open() {
      return pairs.size
    },
    setRefusing(value) {
      refusing = value
    },
    async setDown(down) {
      if (closing) return
      if (down && listening) {
        const stopped = stopListening()
        destroyAll()
        await stopped
      } else if (!down && !listening) {
        await listen()
      }
    },
    cut(remote) {
      const match = /:(\d+)$/.exec(remote)
      const pair = match === null ? undefined : byUpstreamPort.get(Number(match[1]))
      if (pair === undefined) return false
      pair.client.destroy()
      pair.upstream?.destroy()
      return true
    },
    async close() {
      closing = true
      const stopped = stopListening()
      // The framed server is drained first by the caller; whatever is left is cut at the grace.
      const deadline = setTimeout(destroyAll, options.shutdownGraceMs)
      await stopped
      clearTimeout(deadline)
    },
  }
}
