import { previousDay } from '../calendar.js'
import type { LimitScope } from '../model.js'

/** A retransmission is the same terminal, STAN and transmission time (or business day). */
export function dedupKey(
  terminalId: string,
  stan: string,
  transmissionTime: string | null,
  localDate: string,
): string {
  return `${terminalId}|${stan}|${transmissionTime ?? localDate}`
}

/**
 * A follow-up's own retransmission key. It carries the kind: a UnionPay reversal repeats its
 * original's STAN, and must not be taken for a retransmission of the original.
 */
export function followUpDedupKey(
  terminalId: string,
  stan: string,
  localDate: string,
  kind: string,
): string {
  return `${dedupKey(terminalId, stan, null, localDate)}|${kind}`
}

/**
 * How long after local midnight a message that names no date (a UnionPay reversal names its
 * original by STAN alone; a terminal's retransmission repeats its STAN) may still mean
 * yesterday's transaction: a match from yesterday counts only if it was created this recently.
 * Longer than any terminal's reversal and retransmission timeouts; short enough that a terminal
 * whose STANs restart each day does not meet yesterday's numbers.
 */
export const ACROSS_MIDNIGHT_MS = 10 * 60_000

/** `record` if it was created within ACROSS_MIDNIGHT_MS of `nowMs`: yesterday's, still meant. */
export function acrossMidnight<T extends { readonly createdAtMs: number }>(
  record: T | undefined,
  nowMs: number,
): T | undefined {
  return record !== undefined && nowMs - record.createdAtMs <= ACROSS_MIDNIGHT_MS
    ? record
    : undefined
}

/**
 * Every key an original named by its trace may be stored under: a sale's (terminal, STAN and
 * transmission time or day), or a completion's, refund's or void's, whose keys carry their kind
 * (a UnionPay reversal of a void repeats the void's STAN). A trace that names no day is looked
 * up today, then yesterday (`yesterday: true`; the caller takes those only across midnight).
 */
export function traceKeys(
  trace: {
    readonly terminalId: string
    readonly stan: string
    readonly transmissionTime: string | null
    readonly localDate?: string | null
  },
  localDate: string,
): { readonly key: string; readonly yesterday: boolean }[] {
  const named = trace.localDate ?? null
  const days = named === null ? [localDate, previousDay(localDate)] : [named]
  return days.flatMap((day, index) => {
    const yesterday = index > 0
    const sale = traceKey(trace, day)
    return [
      // A sale named by its transmission time has one key whatever the day.
      ...(yesterday && trace.transmissionTime !== null ? [] : [{ key: sale, yesterday }]),
      ...(['completion', 'refund', 'void'] as const).map((kind) => ({
        key: followUpDedupKey(trace.terminalId, trace.stan, day, kind),
        yesterday,
      })),
    ]
  })
}

/** The dedup key of an original named by its trace (see OriginalTrace). */
export function traceKey(
  trace: {
    readonly terminalId: string
    readonly stan: string
    readonly transmissionTime: string | null
    readonly localDate?: string | null
  },
  localDate: string,
): string {
  return dedupKey(
    trace.terminalId,
    trace.stan,
    trace.transmissionTime,
    trace.localDate ?? localDate,
  )
}

export function counterKey(
  scope: LimitScope,
  entityId: string,
  localDate: string,
  currency: string,
): string {
  return `${scope}|${entityId}|${localDate}|${currency}`
}

/** A card's stand-in usage of one business day (stand-in limits are per card and day). */
export function stipCounterKey(cardToken: string, localDate: string, currency: string): string {
  return `stip|${cardToken}|${localDate}|${currency}`
}

export function clearingAccountId(currency: string): string {
  return `clearing:${currency}`
}

export function fundingAccountId(currency: string): string {
  return `funding:${currency}`
}

/** BIN prefixes a block list may name: 3 to 10 leading digits. */
export const BIN_PREFIX_LENGTH_MIN = 3
export const BIN_PREFIX_LENGTH_MAX = 10

export function binPrefixes(pan: string): string[] {
  const prefixes: string[] = []
  for (
    let length = BIN_PREFIX_LENGTH_MIN;
    length <= Math.min(BIN_PREFIX_LENGTH_MAX, pan.length - 4);
    length++
  ) {
    prefixes.push(pan.slice(0, length))
  }
  return prefixes
}
