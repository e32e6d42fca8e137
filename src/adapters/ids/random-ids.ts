import { randomBytes } from 'node:crypto'
import type { IdSource } from '../../ports/id-source.js'

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
const ALPHANUMERIC = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'
/** Random bytes are drawn in pools: one syscall serves many ids. */
const POOL_BYTES = 4096

/**
 * Time-sortable identifiers (ULID layout: 48 bits of milliseconds, 80 random bits, Crockford
 * base32), so ids sort by creation and paging by id is stable.
 */
export function createRandomIds(clock: { nowMs(): number }): IdSource {
  let pool = randomBytes(POOL_BYTES)
  let offset = 0
  const take = (count: number): Buffer => {
    if (offset + count > pool.length) {
      pool = randomBytes(POOL_BYTES)
      offset = 0
    }
    const bytes = pool.subarray(offset, offset + count)
    offset += count
    return bytes
  }
  // Monotonic within this process (the ULID spec's monotonic mode): in the same millisecond, or
  // if the clock steps back, the next id is the previous one plus 1, so ids sort in the order
  // they were made. A backtest replays a batch's records in (created, id) order and must see them
  // in the order the batch decided them.
  let lastTime = -1
  const lastTail: number[] = new Array<number>(16).fill(0)
  const ulid = (): string => {
    let time = clock.nowMs()
    if (time <= lastTime) {
      time = lastTime
      let i = 15
      while (i >= 0 && lastTail[i] === 31) lastTail[i--] = 0
      if (i >= 0) lastTail[i] = (lastTail[i] ?? 0) + 1
      else time += 1 // Every tail of this millisecond used: borrow the next one.
    } else {
      const bytes = take(16)
      // The top bit clear: a millisecond's ids have room to count up without running out.
      for (let i = 0; i < 16; i++) lastTail[i] = (bytes[i] ?? 0) % (i === 0 ? 16 : 32)
    }
    lastTime = time
    let head = ''
    for (let i = 0; i < 10; i++) {
      head = (CROCKFORD[time % 32] ?? '0') + head
      time = Math.floor(time / 32)
    }
    let tail = ''
    for (let i = 0; i < 16; i++) tail += CROCKFORD[lastTail[i] ?? 0] ?? '0'
    return head + tail
  }
  let rrnSequence = randomBytes(3).readUIntBE(0, 3) % 1_000_000
  return {
    transactionId: () => `tx_${ulid()}`,
    transferId: () => `tr_${ulid()}`,
    entityId: (prefix: string) => `${prefix}_${ulid()}`,
    authorizationCode: () => {
      const bytes = take(6)
      let code = ''
      for (let i = 0; i < 6; i++) code += ALPHANUMERIC[(bytes[i] ?? 0) % 36] ?? '0'
      return code
    },
    rrn: (nowMs: number) => {
      // YDDDhh + a 6-digit sequence: unique within an hour up to a million transactions.
      const date = new Date(nowMs)
      const start = Date.UTC(date.getUTCFullYear(), 0, 1)
      const dayOfYear = Math.floor((nowMs - start) / 86_400_000) + 1
      rrnSequence = (rrnSequence + 1) % 1_000_000
      return (
        String(date.getUTCFullYear() % 10) +
        String(dayOfYear).padStart(3, '0') +
        String(date.getUTCHours()).padStart(2, '0') +
        String(rrnSequence).padStart(6, '0')
      )
    },
  }
}
