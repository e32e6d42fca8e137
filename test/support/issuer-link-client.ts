import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { IsoMessage } from '../../src/adapters/iso8583/codec.js'
import { loadDialect } from '../../src/adapters/iso8583/spec.js'
import type { Framing } from '../../src/adapters/iso8583/tcp/framing.js'
import {
  ISSUER_LINK_DIALECT,
  isProtocolError,
  networkMessage,
  readAnswer,
  requestMessage,
  type IssuerAnswer,
  type IssuerRequest,
} from '../../src/adapters/issuer/protocol.js'
import { IsoTestClient, ISO_WAIT_MS } from './iso-client.js'
import { REPO_ROOT } from './paths.js'

/**
 * Test support for the issuer link: the simulator as a real child process (`tollgate
 * issuer-sim`), its control endpoint over HTTP, and an acquirer-side client that speaks
 * protocol.ts over real TCP on 127.0.0.1. Every wait is bounded.
 */

export const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js')
export const LINK_DIALECT = loadDialect(ISSUER_LINK_DIALECT)
const START_WAIT_MS = 15_000
const STOP_WAIT_MS = 15_000

export interface ControlAnswer<T> {
  readonly status: number
  readonly body: T
  readonly text: string
}

export interface IssuerSimProcess {
  readonly isoPort: number
  readonly controlPort: number
  readonly child: ChildProcess
  /** Everything the process wrote to stderr so far (its log). */
  stderr(): string
  stdout(): string
  control<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<ControlAnswer<T>>
  /** Sends the signal and waits for the exit; resolves the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

const FIRST_LINE = /^issuer-sim listening 127\.0\.0\.1:(\d+) control http:\/\/127\.0\.0\.1:(\d+)$/

/** Starts `node dist/src/cli/main.js issuer-sim …` and reads its ports from the first line. */
export async function startIssuerSim(args: string[] = []): Promise<IssuerSimProcess> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`)
  const child = spawn(
    process.execPath,
    [CLI, 'issuer-sim', '--port', '0', '--control-port', '0', '--log-level', 'warn', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  let err = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    err = (err + chunk.toString('utf8')).slice(-200_000)
  })
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  )
  const lines = createInterface({ input: child.stdout })
  const ports = await new Promise<{ iso: number; control: number }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`issuer-sim did not start in ${START_WAIT_MS} ms: ${err}`))
    }, START_WAIT_MS)
    lines.on('line', (line) => {
      out += line + '\n'
      const match = FIRST_LINE.exec(line)
      if (match === null) return
      clearTimeout(timer)
      resolve({ iso: Number(match[1]), control: Number(match[2]) })
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`issuer-sim exited with ${code} before listening: ${err}`))
    })
  })
  const base = `http://127.0.0.1:${ports.control}`
  return {
    isoPort: ports.iso,
    controlPort: ports.control,
    child,
    stderr: () => err,
    stdout: () => out,
    async control<T>(method: string, path: string, body?: unknown): Promise<ControlAnswer<T>> {
      const response = await fetch(base + path, {
        method,
        signal: AbortSignal.timeout(ISO_WAIT_MS),
        ...(body === undefined
          ? {}
          : {
              headers: { 'content-type': 'application/json' },
              body: typeof body === 'string' ? body : JSON.stringify(body),
            }),
      })
      const text = await response.text()
      return { status: response.status, body: JSON.parse(text) as T, text }
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
      if (child.exitCode !== null) return child.exitCode
      child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_WAIT_MS)
      const code = await exited
      clearTimeout(timer)
      return code
    },
  }
}

/** What came back for one request: the decoded message and the answer as the acquirer reads it. */
export interface LinkReply {
  readonly message: IsoMessage
  readonly answer: IssuerAnswer
}

/** The acquirer end of the issuer link, for tests: protocol.ts over real TCP. */
export class IssuerLinkClient {
  private constructor(readonly iso: IsoTestClient) {}

  static async open(port: number, framing: Framing = 'binary2'): Promise<IssuerLinkClient> {
    return new IssuerLinkClient(await IsoTestClient.open(port, LINK_DIALECT, framing))
  }

  get closed(): boolean {
    return this.iso.closed
  }

  send(request: IssuerRequest, attempt = 0): void {
    this.iso.send(requestMessage(request, attempt))
  }

  /** Sends and waits for the next answer; null when none came within `waitMs`. */
  async call(request: IssuerRequest, attempt = 0, waitMs = ISO_WAIT_MS): Promise<LinkReply | null> {
    this.send(request, attempt)
    return this.next(waitMs)
  }

  async next(waitMs = ISO_WAIT_MS): Promise<LinkReply | null> {
    const message = await this.iso.receive(waitMs)
    if (message === null) return null
    const answer = readAnswer(message)
    if (isProtocolError(answer)) throw new Error(`unreadable answer: ${answer.expected}`)
    return { message, answer }
  }

  async network(
    code: '001' | '002' | '301',
    stan: string,
    waitMs = ISO_WAIT_MS,
  ): Promise<IsoMessage | null> {
    this.iso.send(networkMessage(code, stan, TRANSMISSION_TIME, ACQUIRER_ID))
    return this.iso.receive(waitMs)
  }

  close(): void {
    this.iso.close()
  }
}

export const TRANSMISSION_TIME = '0315103000'
export const ACQUIRER_ID = '48020000'

let stanNext = 1

/** A fresh six-digit STAN for this test process. */
export function nextStan(): string {
  const stan = String(stanNext).padStart(6, '0')
  stanNext = (stanNext % 999_999) + 1
  return stan
}

/** A request with sensible defaults: a purchase at terminal 10000001, a fresh STAN. */
export function linkRequest(
  overrides: Partial<IssuerRequest> & Pick<IssuerRequest, 'pan' | 'expiry'>,
): IssuerRequest {
  const stan = overrides.stan ?? nextStan()
  return {
    kind: 'purchase',
    amountMinor: 0,
    currencyNumeric: '156',
    stan,
    transmissionTime: TRANSMISSION_TIME,
    terminalId: '10000001',
    merchantId: '898310058120001',
    acquirerId: ACQUIRER_ID,
    rrn: `000000${stan}`,
    ...overrides,
  }
}

/** The reversal of `original` (as protocol.ts builds it: field 90 names the original). */
export function reversalOf(original: IssuerRequest, stan = nextStan()): IssuerRequest {
  return {
    ...original,
    kind: 'reversal',
    stan,
    rrn: `000000${stan}`,
    original: {
      mti:
        original.kind === 'preauthorization'
          ? '0100'
          : original.kind === 'advice'
            ? '0220'
            : '0200',
      stan: original.stan,
      transmissionTime: original.transmissionTime,
    },
  }
}
