/** The options both load benchmarks take: the measured window and the fleet. */
import { integerOption, type OptionValues } from './args.js'
import type { FleetSize } from './provision.js'

const DURATION_S_MAX = 600
const WARMUP_S_DEFAULT = 3
const WARMUP_S_MAX = 60
const CARDS_MAX = 50_000
const TERMINALS_MAX = 9_999

/** The defaults that differ between the benchmarks. */
export interface LoadDefaults extends FleetSize {
  readonly durationS: number
}

export interface LoadOptions extends FleetSize {
  readonly durationS: number
  readonly warmupS: number
  /** The seed of the request mix. */
  readonly seed: number
}

/** For readOptions: the window and fleet options, all strings. */
export const LOAD_OPTION_SPEC = {
  duration: { type: 'string' },
  warmup: { type: 'string' },
  'debit-cards': { type: 'string' },
  'credit-cards': { type: 'string' },
  'low-balance-cards': { type: 'string' },
  terminals: { type: 'string' },
  seed: { type: 'string' },
} as const

/** The usage lines (no final newline) of the window options and of the fleet options. */
export function loadUsage(defaults: LoadDefaults): { window: string; fleet: string } {
  const window = `  --duration <s>           measured seconds (default ${defaults.durationS})
  --warmup <s>             seconds of load before measuring (default ${WARMUP_S_DEFAULT})`
  const fleet = `  --debit-cards <n>        well-funded debit cards (default ${defaults.debitCards})
  --credit-cards <n>       credit cards (default ${defaults.creditCards})
  --low-balance-cards <n>  debit cards holding 0.50 (default ${defaults.lowBalanceCards})
  --terminals <n>          terminals of the bench merchant (default ${defaults.terminals})
  --seed <n>               seed of the request mix (default 1)`
  return { window, fleet }
}

/** The window and fleet options read from `values`. */
export function loadOptions(values: OptionValues, defaults: LoadDefaults): LoadOptions {
  return {
    durationS: integerOption(values, 'duration', defaults.durationS, DURATION_S_MAX),
    warmupS: integerOption(values, 'warmup', WARMUP_S_DEFAULT, WARMUP_S_MAX, 0),
    debitCards: integerOption(values, 'debit-cards', defaults.debitCards, CARDS_MAX),
    creditCards: integerOption(values, 'credit-cards', defaults.creditCards, CARDS_MAX),
    lowBalanceCards: integerOption(
      values,
      'low-balance-cards',
      defaults.lowBalanceCards,
      CARDS_MAX,
    ),
    terminals: integerOption(values, 'terminals', defaults.terminals, TERMINALS_MAX),
    seed: integerOption(values, 'seed', 1, 2 ** 31 - 1, 0),
  }
}
