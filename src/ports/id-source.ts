/** Fresh identifiers. Tests pass deterministic ones. Functions, not methods: safe to pass around. */
export interface IdSource {
  readonly transactionId: () => string
  readonly transferId: () => string
  /** Six characters [0-9A-Z], ISO 8583 field 38. */
  readonly authorizationCode: () => string
  /** Twelve characters, ISO 8583 field 37. */
  readonly rrn: (nowMs: number) => string
  /** For audit entries, list entries, limit rules and accounts. */
  readonly entityId: (prefix: string) => string
}
