/**
 * Assertions stay on in production: a failed assertion is a bug, and the process must stop
 * rather than move money on a broken invariant. Never catch AssertionFailure.
 */
export class AssertionFailure extends Error {
  override readonly name = 'AssertionFailure'
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionFailure(message)
}

export function assertNever(value: never, context: string): never {
  throw new AssertionFailure(`${context}: unexpected ${JSON.stringify(value)}`)
}
