/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in the text
 * exposition format. Label sets are bounded by the code that uses them (reason codes, outcomes,
 * kinds, routes); a series cap guards against a bug turning a label into an unbounded set.
 */
export const METRIC_SERIES_MAX = 10_000

type Labels = Readonly<Record<string, string>>

/** Label sets seen, by their raw form: the rendered key is built once per set, not per call. */
const LABEL_KEYS = new Map<string, string>()

function labelKey(labels: Labels): string {
  // Length-prefixed, so no two label sets share a raw form whatever their characters.
  let raw = ''
  for (const name in labels) {
    const value = labels[name] ?? ''
    raw += `${name.length}:${name}${value.length}:${value}`
  }
  let key = LABEL_KEYS.get(raw)
  if (key === undefined) {
    key = renderLabelKey(labels)
    // Bounded like the series: past the cap a label set is rendered each time, never kept.
    if (LABEL_KEYS.size < METRIC_SERIES_MAX) LABEL_KEYS.set(raw, key)
  }
  return key
}

function renderLabelKey(labels: Labels): string {
  const entries = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1))
  if (entries.length === 0) return ''
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`
}

interface Series {
  readonly name: string
  readonly help: string
  readonly type: 'counter' | 'gauge' | 'histogram'
  render(): string[]
}

export class Counter implements Series {
  readonly type = 'counter' as const
  private readonly values = new Map<string, number>()
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(labels)
    if (!this.values.has(key) && this.values.size >= METRIC_SERIES_MAX) return
    this.values.set(key, (this.values.get(key) ?? 0) + by)
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0
  }
  render(): string[] {
    return [...this.values].map(([key, value]) => `${this.name}${key} ${value}`)
  }
}

export class Gauge implements Series {
  readonly type = 'gauge' as const
  private readonly values = new Map<string, () => number>()
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  track(read: () => number, labels: Labels = {}): void {
    this.values.set(labelKey(labels), read)
  }
  render(): string[] {
    return [...this.values].map(([key, read]) => `${this.name}${key} ${read()}`)
  }
}

export class Histogram implements Series {
  readonly type = 'histogram' as const
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>()
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {}
  observe(value: number, labels: Labels = {}): void {
    const key = labelKey(labels)
    let entry = this.series.get(key)
    if (entry === undefined) {
      if (this.series.size >= METRIC_SERIES_MAX) return
      entry = { counts: this.buckets.map(() => 0), sum: 0, count: 0 }
      this.series.set(key, entry)
    }
    for (let i = 0; i < this.buckets.length; i++) {
      if (value <= (this.buckets[i] ?? Infinity)) entry.counts[i] = (entry.counts[i] ?? 0) + 1
    }
    entry.sum += value
    entry.count += 1
  }
  render(): string[] {
    const lines: string[] = []
    for (const [key, entry] of this.series) {
      const inner = key === '' ? '' : key.slice(1, -1) + ','
      this.buckets.forEach((bound, i) =>
        lines.push(`${this.name}_bucket{${inner}le="${bound}"} ${entry.counts[i] ?? 0}`),
      )
      lines.push(`${this.name}_bucket{${inner}le="+Inf"} ${entry.count}`)
      lines.push(`${this.name}_sum${key} ${entry.sum}`)
      lines.push(`${this.name}_count${key} ${entry.count}`)
    }
    return lines
  }
}

export class MetricsRegistry {
  private readonly all: Series[] = []
  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help))
  }
  gauge(name: string, help: string): Gauge {
    return this.add(new Gauge(name, help))
  }
  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, buckets))
  }
  render(): string {
    const lines: string[] = []
    for (const series of this.all) {
      lines.push(
        `# HELP ${series.name} ${series.help}`,
        `# TYPE ${series.name} ${series.type}`,
        ...series.render(),
      )
    }
    return lines.join('\n') + '\n'
  }
  private add<T extends Series>(series: T): T {
    this.all.push(series)
    return series
  }
}

/** The metrics Tollgate exports. */
export function createTollgateMetrics(registry = new MetricsRegistry()) {
  return {
    registry,
    decisions: registry.counter(
      'tollgate_decisions_total',
      'Decisions by kind, outcome and reason (declines).',
    ),
    rejections: registry.counter(
      'tollgate_rejections_total',
      'Requests rejected before a decision, by reason.',
    ),
    riskDecisions: registry.counter(
      'tollgate_risk_decisions_total',
      'Risk-stage outcomes that acted (block, review, allow), by what decided.',
    ),
    riskRuleErrors: registry.counter(
      'tollgate_risk_rule_errors_total',
      'Risk rules that failed at run time, by mode (active or shadow).',
    ),
    riskShadowHits: registry.counter(
      'tollgate_risk_shadow_hits_total',
      'Transactions on which at least one shadow rule fired.',
    ),
    replays: registry.counter(
      'tollgate_replays_total',
      'Retransmissions answered with the original response.',
    ),
    busy: registry.counter(
      'tollgate_busy_total',
      'Requests refused because the authorization queue was full.',
    ),
    batches: registry.counter('tollgate_batches_total', 'Batches committed.'),
    batchSize: registry.histogram(
      'tollgate_batch_size',
      'Requests per committed batch.',
      [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
    ),
    batchSeconds: registry.histogram(
      'tollgate_batch_seconds',
      'Time to decide and commit one batch.',
      [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1],
    ),
    logSyncSeconds: registry.histogram(
      'tollgate_log_sync_seconds',
      "fdatasync of the batch worker's write-ahead log before answers leave (the disk's latency).",
      [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1],
    ),
    logSyncBatches: registry.histogram(
      'tollgate_log_sync_batches',
      'Batches (and expiries) made durable by one fdatasync of the log.',
      [1, 2, 3, 4, 8, 16],
    ),
    queueDepth: registry.gauge(
      'tollgate_queue_depth',
      'Requests waiting in the authorization queue.',
    ),
    holdsExpired: registry.counter(
      'tollgate_holds_expired_total',
      'Preauthorization holds released by expiry.',
    ),
    httpRequests: registry.counter(
      'tollgate_http_requests_total',
      'HTTP requests by route and status.',
    ),
    httpSeconds: registry.histogram(
      'tollgate_http_request_seconds',
      'HTTP request duration.',
      [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    ),
    storeErrors: registry.counter(
      'tollgate_store_errors_total',
      'Batches that failed in the store.',
    ),
    isoMessages: registry.counter(
      'tollgate_iso_messages_total',
      'ISO 8583 answers by dialect, MTI and field 39.',
    ),
    isoDecodeErrors: registry.counter(
      'tollgate_iso_decode_errors_total',
      'ISO 8583 messages that could not be read, by dialect and error code.',
    ),
    isoEvents: registry.counter(
      'tollgate_iso_connection_events_total',
      'ISO 8583 connection events by type.',
    ),
  }
}

export type TollgateMetrics = ReturnType<typeof createTollgateMetrics>
