/** The time, as the core is given it. Tests pass a simulated clock. */
export interface Clock {
  nowMs(): number
}
