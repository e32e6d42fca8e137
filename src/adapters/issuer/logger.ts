/**
 * What the issuer client logs through: the pino methods it uses, so a pino logger (or a child
 * of one) fits as it is, and a test can pass a recorder. The client never puts a card number in
 * a log object: requests are named by their correlation key (terminal, STAN, time), not by PAN.
 */
export interface IssuerLogger {
  debug(object: object, message: string): void
  info(object: object, message: string): void
  warn(object: object, message: string): void
  error(object: object, message: string): void
}

/** Discards everything. */
export const SILENT_LOGGER: IssuerLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
}
