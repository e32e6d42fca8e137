import { randomInt } from 'node:crypto'
import type { Lang } from '../core/reasons/types.js'
import { ApiClient } from './http-client.js'

/** What every `tollgate` command reads from its flags and the environment, parsed one way. */

/** Bad flags or environment: the command stops with the message and exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

export const STAN_MAX = 999_999
const UTC_OFFSET_MINUTES_MAX = 840

/** The language asked for: the flag, then TOLLGATE_LANG, then English. */
export function langOf(value: string | undefined): Lang {
  const lang = value ?? process.env.TOLLGATE_LANG ?? 'en'
  if (lang !== 'zh-CN' && lang !== 'en')
    throw new UsageError(`--lang: expected zh-CN or en, got ${lang}`)
  return lang
}

/** The acquirer's UTC offset, as the server's business days use it (UTC+8 by default). */
export function utcOffsetMinutesOf(): number {
  const text = process.env.TOLLGATE_UTC_OFFSET_MINUTES ?? '480'
  if (!/^-?\d{1,3}$/.test(text) || Math.abs(Number(text)) > UTC_OFFSET_MINUTES_MAX) {
    const range = `-${UTC_OFFSET_MINUTES_MAX}..${UTC_OFFSET_MINUTES_MAX}`
    throw new UsageError(`TOLLGATE_UTC_OFFSET_MINUTES: expected ${range}, got ${text}`)
  }
  return Number(text)
}

/** A client of the HTTP API at the flag's URL (or TOLLGATE_URL), with the admin token if set. */
export function apiClientOf(url: string | undefined, lang: Lang): ApiClient {
  const token = process.env.TOLLGATE_ADMIN_TOKEN
  return new ApiClient(url ?? process.env.TOLLGATE_URL ?? 'http://127.0.0.1:8080', {
    lang,
    ...(token === undefined ? {} : { token }),
  })
}

/** A random STAN, 000001 to 999999, for a one-off request that keeps no counter. */
export function randomStan(): string {
  return String(randomInt(1, STAN_MAX + 1)).padStart(6, '0')
}
