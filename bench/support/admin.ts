/** The server's HTTP API as the benchmarks use it: admin calls, metrics and the ledger check. */
import { Pool } from 'undici'

export const REQUEST_TIMEOUT_MS = 10_000

/** A keep-alive pool to the server, every wait bounded. */
export function openPool(origin: string, connections: number): Pool {
  return new Pool(origin, {
    connections,
    pipelining: 1,
    connectTimeout: REQUEST_TIMEOUT_MS,
    headersTimeout: REQUEST_TIMEOUT_MS,
    bodyTimeout: REQUEST_TIMEOUT_MS,
  })
}

export interface Answer {
  readonly status: number
  readonly text: string
}

export async function call(
  pool: Pool,
  method: 'GET' | 'POST',
  path: string,
  token: string | null,
  body?: unknown,
): Promise<Answer> {
  const headers: Record<string, string> = {}
  if (token !== null) headers.authorization = `Bearer ${token}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  const response = await pool.request({
    method,
    path,
    headers,
    headersTimeout: REQUEST_TIMEOUT_MS,
    bodyTimeout: REQUEST_TIMEOUT_MS,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  return { status: response.statusCode, text: await response.body.text() }
}

/** POSTs `body` to `path` and insists on 201 Created. */
export async function expectCreated(
  pool: Pool,
  token: string,
  path: string,
  body: unknown,
  what: string,
): Promise<void> {
  const answer = await call(pool, 'POST', path, token, body)
  if (answer.status !== 201) {
    throw new Error(`creating ${what}: HTTP ${answer.status} ${answer.text}`)
  }
}

/** Runs `work` over `items` with at most `limit` at a time. */
export async function forEachBounded<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next]
      next += 1
      if (item !== undefined) await work(item)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

export interface BatchMetrics {
  readonly batchSizeSum: number
  readonly batchSizeCount: number
  readonly batchSecondsSum: number
  readonly busy: number
}

export const NO_BATCH_METRICS: BatchMetrics = {
  batchSizeSum: 0,
  batchSizeCount: 0,
  batchSecondsSum: 0,
  busy: 0,
}

/** The batch writer's counters from /metrics (0 for any that is missing). */
export async function sampleMetrics(pool: Pool): Promise<BatchMetrics> {
  const { text } = await call(pool, 'GET', '/metrics', null)
  const read = (name: string): number => {
    const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)
    return match?.[1] === undefined ? 0 : Number(match[1])
  }
  return {
    batchSizeSum: read('tollgate_batch_size_sum'),
    batchSizeCount: read('tollgate_batch_size_count'),
    batchSecondsSum: read('tollgate_batch_seconds_sum'),
    busy: read('tollgate_busy_total'),
  }
}

/** Whether the server's ledger check says the books balance. */
export async function ledgerBalanced(pool: Pool, token: string): Promise<boolean> {
  const ledger = await call(pool, 'GET', '/v1/ledger/check', token)
  if (ledger.status !== 200) throw new Error(`ledger check: HTTP ${ledger.status}`)
  const body = JSON.parse(ledger.text) as { balanced?: unknown } | null
  return body?.balanced === true
}
