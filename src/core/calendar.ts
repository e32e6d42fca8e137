import { assert } from './assert.js'

/**
 * Business days are local days at the acquirer's UTC offset (Asia/Shanghai: +480 minutes).
 * Pure: the instant comes in as an argument.
 */
export interface LocalDate {
  readonly year: number
  readonly month: number
  readonly day: number
}

const MS_PER_MINUTE = 60_000
const MS_PER_DAY = 86_400_000

export function localDateOf(nowMs: number, offsetMinutes: number): LocalDate {
  assert(Number.isSafeInteger(nowMs), 'instant is an integer of milliseconds')
  assert(
    Number.isInteger(offsetMinutes) && Math.abs(offsetMinutes) <= 14 * 60,
    'UTC offset within ±14h',
  )
  const shifted = nowMs + offsetMinutes * MS_PER_MINUTE
  // Civil-from-days (Howard Hinnant's algorithm), so the core needs no Date object.
  const days = Math.floor(shifted / MS_PER_DAY)
  const z = days + 719_468
  const era = Math.floor(z / 146_097)
  const doe = z - era * 146_097
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  )
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0)
  assert(month >= 1 && month <= 12 && day >= 1 && day <= 31, 'civil date in range')
  return { year, month, day }
}

/** `2026-11-26` */
export function formatLocalDate(date: LocalDate): string {
  const mm = String(date.month).padStart(2, '0')
  const dd = String(date.day).padStart(2, '0')
  return `${String(date.year).padStart(4, '0')}-${mm}-${dd}`
}

export function localDateKey(nowMs: number, offsetMinutes: number): string {
  return formatLocalDate(localDateOf(nowMs, offsetMinutes))
}

/** Days since 1970-01-01 of a civil date (Howard Hinnant's days-from-civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146_097 + doe - 719_468
}

/** The day before a `YYYY-MM-DD` date, as `YYYY-MM-DD` (month and year ends, leap days). */
export function previousDay(localDate: string): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(localDate)
  assert(match !== null, `a YYYY-MM-DD date: ${localDate}`)
  const days = daysFromCivil(Number(match[1]), Number(match[2]), Number(match[3]))
  return formatLocalDate(localDateOf((days - 1) * MS_PER_DAY, 0))
}
