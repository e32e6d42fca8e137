/** Figures from counts and latency samples. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank] ?? 0
}

export const round = (value: number, digits = 2): number => Number(value.toFixed(digits))

export const ratio = (part: number, whole: number, digits = 1): number =>
  whole === 0 ? 0 : round(part / whole, digits)

export function sumWhere(map: ReadonlyMap<string, number>, prefix: string): number {
  let sum = 0
  for (const [key, count] of map) if (key.startsWith(prefix)) sum += count
  return sum
}

/** The counts as an object, largest first. */
export function sortedEntries(map: ReadonlyMap<string, number>): Record<string, number> {
  return Object.fromEntries([...map].sort((a, b) => b[1] - a[1]))
}
