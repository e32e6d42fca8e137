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
 * Every key an original named by its trace may be stored under: a sale's (terminal, STAN and
 * transmission time or day), or a completion's or refund's, whose keys carry their kind.
 */
export function traceKeys(
  trace: {
    readonly terminalId: string
    readonly stan: string
    readonly transmissionTime: string | null
    readonly localDate?: string | null
  },
  localDate: string,
): string[] {
  const day = trace.localDate ?? localDate
  return [
    traceKey(trace, localDate),
    followUpDedupKey(trace.terminalId, trace.stan, day, 'completion'),
    followUpDedupKey(trace.terminalId, trace.stan, day, 'refund'),
  ]
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
