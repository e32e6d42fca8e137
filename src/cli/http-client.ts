/** A small client for the Tollgate HTTP API, used by the CLI. Bounded by a timeout per call. */
export interface ApiAnswer {
  readonly status: number
  readonly body: Record<string, unknown>
}

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly options: {
      readonly token?: string
      readonly lang: 'zh-CN' | 'en'
      readonly timeoutMs?: number
    },
  ) {}

  async call(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiAnswer> {
    const url = new URL(path, this.baseUrl)
    if (!url.searchParams.has('lang') && method === 'GET')
      url.searchParams.set('lang', this.options.lang)
    let response: Response
    try {
      response = await fetch(url, {
        method,
        headers: {
          'accept-language': this.options.lang,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.options.token === undefined
            ? {}
            : { authorization: `Bearer ${this.options.token}` }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      })
    } catch (cause) {
      throw new Error(`cannot reach Tollgate at ${this.baseUrl} (is \`tollgate serve\` running?)`, {
        cause,
      })
    }
    const text = await response.text()
    let parsed: Record<string, unknown> = {}
    if (text.length > 0) {
      try {
        const value: unknown = JSON.parse(text)
        // Callers read fields of the body: a bare null, number or list would crash them.
        const isRecord = typeof value === 'object' && value !== null && !Array.isArray(value)
        parsed = isRecord ? (value as Record<string, unknown>) : { value }
      } catch {
        parsed = { text }
      }
    }
    return { status: response.status, body: parsed }
  }
}
