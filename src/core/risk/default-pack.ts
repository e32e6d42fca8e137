import type { RiskRule } from './rules.js'

/**
 * The default rule pack for POS acquiring: what a Chinese acquirer's risk team watches first.
 * Each rule carries its rationale as its description (shown to staff in every explanation of a
 * block or review it causes). docs/risk.md explains each one; test/core/risk-pack.test.ts makes
 * each fire on a crafted sequence and stay quiet on ordinary traffic.
 *
 * A new installation gets the pack in shadow: it watches live traffic and records what it
 * would have done, and an analyst promotes each rule after looking at its hits (and a
 * backtest). Thresholds are starting points, not recommendations for every merchant mix.
 */
export type PackRule = Pick<
  RiskRule,
  'id' | 'name' | 'expression' | 'action' | 'reason' | 'score' | 'priority' | 'description'
>

export const DEFAULT_RULE_PACK: readonly PackRule[] = [
  {
    id: 'pin_guessing',
    name: 'PIN guessing',
    expression: 'card_pin_declines_10m >= 3',
    action: 'block',
    reason: 'pin_tries_exceeded',
    score: 0,
    priority: 10,
    description: {
      'zh-CN':
        '同一张卡10分钟内已有3次及以上密码错误：可能有人在试探密码（例如捡到或偷到的卡）。在发卡行锁卡之前先行拦截后续交易。',
      en: 'Three or more wrong-PIN declines on one card in 10 minutes: someone may be guessing the PIN of a found or stolen card. Block further attempts before the issuer locks the card.',
    },
  },
  {
    id: 'card_testing_small_amounts',
    name: 'Card testing: small amounts across terminals',
    expression: 'amount <= 1000 && card_count_10m >= 3 && card_distinct_terminals_10m >= 2',
    action: 'block',
    reason: 'suspected_fraud',
    score: 0,
    priority: 20,
    description: {
      'zh-CN':
        '同一张卡10分钟内在多台终端连续发生小额交易（10元及以下）：典型的盗卡“测卡”行为，先用小额确认卡片可用，再进行大额消费。',
      en: 'Repeated small payments (10.00 or less) by one card on several terminals within 10 minutes: the classic card-testing pattern, where stolen card data is checked with small amounts before a large purchase.',
    },
  },
  {
    id: 'card_testing_declines',
    name: 'Card testing: repeated declines',
    expression: 'card_declines_10m >= 3',
    action: 'block',
    reason: 'do_not_honour',
    score: 0,
    priority: 21,
    description: {
      'zh-CN':
        '同一张卡10分钟内已被拒绝3次及以上（不论原因）：继续尝试多为测卡或盲试有效期/金额，暂停该卡交易10分钟。',
      en: 'Three or more declines of one card in 10 minutes, whatever the cause: further attempts are usually card testing or guessing the expiry or the amount. Pause the card for 10 minutes.',
    },
  },
  {
    id: 'terminal_card_testing',
    name: 'Card testing at one terminal',
    expression: 'terminal_declines_10m >= 8 && amount <= 1000',
    action: 'block',
    reason: 'suspected_fraud',
    score: 0,
    priority: 22,
    description: {
      'zh-CN':
        '同一终端10分钟内有8笔及以上被拒交易，且本笔为小额：终端可能被用于批量测卡，应联系商户核实终端使用情况。',
      en: 'Eight or more declines at one terminal in 10 minutes, and this payment is small: the terminal may be used to test many stolen cards. Call the merchant to check who is using it.',
    },
  },
  {
    id: 'split_under_limit',
    name: 'Split sale under the per-transaction limit',
    expression:
      'per_transaction_limit > 0 && amount * 10 >= per_transaction_limit * 9 && card_merchant_count_10m >= 1 && card_merchant_sum_10m + amount > per_transaction_limit',
    action: 'block',
    reason: 'transaction_not_permitted',
    score: 0,
    priority: 30,
    description: {
      'zh-CN':
        '同一张卡在同一商户10分钟内多笔交易，本笔接近单笔限额（≥90%）且合计已超过限额：典型的“拆单”规避限额，违反收单规定。',
      en: 'Several payments by one card at one merchant within 10 minutes, this one near the per-transaction limit (90% or more) and together above it: a sale split to get around the limit, which acquiring rules forbid.',
    },
  },
  {
    id: 'terminal_relocation',
    name: 'Terminal used away from its registered city (移机)',
    expression: 'terminal_relocated',
    action: 'block',
    reason: 'transaction_not_permitted',
    score: 0,
    priority: 40,
    description: {
      'zh-CN':
        '终端上报的位置与登记地址不在同一城市：疑似“移机”，终端被带离签约经营场所使用，常见于套现和跨地区违规受理。',
      en: "The terminal reports a city other than the one it is registered in: it may have been moved away from the merchant's premises (移机), a common sign of cash-out or acquiring outside the licensed area.",
    },
  },
  {
    id: 'cash_out_round_credit',
    name: 'Cash-out: repeated large round amounts on a credit card',
    expression:
      'card_type == "credit" && is_round_amount && amount >= 100000 && card_merchant_round_count_24h >= 2',
    action: 'score',
    reason: null,
    score: 60,
    priority: 50,
    description: {
      'zh-CN':
        '同一张信用卡在同一商户24小时内多次刷整百大额（1,000元及以上）：信用卡套现的常见特征。单独命中进入人工复核，与夜间大额同时命中则拦截。',
      en: 'A credit card paying large round amounts (1,000.00 or more) at the same merchant again and again within 24 hours: a common sign of credit-card cash-out (套现). Alone it sends the payment to review; together with the late-night rule it blocks.',
    },
  },
  {
    id: 'late_night_large_credit',
    name: 'Late-night large credit payment',
    expression: 'card_type == "credit" && (local_hour >= 23 || local_hour < 5) && amount >= 500000',
    action: 'score',
    reason: null,
    score: 50,
    priority: 51,
    description: {
      'zh-CN':
        '深夜（23点至次日5点）信用卡单笔5,000元及以上：多数商户此时不营业，大额交易多与套现或盗刷有关。',
      en: 'A credit-card payment of 5,000.00 or more late at night (23:00–05:00): most merchants are closed, and large payments then are often cash-out or fraud.',
    },
  },
  {
    id: 'new_merchant_surge',
    name: 'Volume surge at a newly onboarded merchant',
    expression: 'merchant_days_since_onboarding < 30 && merchant_sum_24h + amount > 5000000',
    action: 'review',
    reason: null,
    score: 0,
    priority: 60,
    description: {
      'zh-CN':
        '入网不足30天的商户24小时交易额超过5万元：新商户交易量突增，可能是虚假商户或“跑分”套现，需人工复核。',
      en: 'A merchant onboarded less than 30 days ago takes more than 50,000.00 in 24 hours: a sudden surge at a new merchant can be a fake merchant or a cash-out operation. Review by hand.',
    },
  },
]
