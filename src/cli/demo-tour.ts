import { DEMO_CARDS, DEMO_MERCHANTS, DEMO_TERMINALS, DEMO_UNKNOWN_PAN } from '../app/demo-data.js'
import type { Lang } from '../core/reasons/types.js'
import { randomStan } from './env.js'
import { formatExplanation, table, type ExplanationLike } from './format.js'
import type { ApiClient } from './http-client.js'

interface Step {
  readonly en: string
  readonly zh: string
  /** An authorization body, or a follow-up of an earlier step's transaction. */
  readonly authorize?: {
    readonly terminal: keyof typeof DEMO_TERMINALS
    readonly merchant?: keyof typeof DEMO_MERCHANTS
    readonly card: keyof typeof DEMO_CARDS | { pan: string; expiry: string }
    readonly amount?: string
    readonly kind?: 'purchase' | 'preauthorization' | 'balance_inquiry'
    readonly expiry?: string
  }
  readonly followUp?: {
    readonly of: string
    readonly path: 'completions' | 'voids' | 'reversals' | 'refunds'
    readonly amount?: string
  }
  readonly name?: string
  /** Undo this approval when the tour ends, so the tour can run again. */
  readonly undo?: boolean
}

type Authorize = NonNullable<Step['authorize']>

/** A purchase that the tour expects to be blocked: most steps are one of these. */
function sale(
  en: string,
  zh: string,
  terminal: Authorize['terminal'],
  card: Authorize['card'],
  amount: string,
): Step {
  return { en, zh, authorize: { terminal, card, amount } }
}

const STEPS: readonly Step[] = [
  {
    name: 'lunch',
    en: 'Lunch on a debit card',
    zh: '借记卡午餐消费',
    authorize: { terminal: 'noodles', card: 'debit', amount: '88.00' },
    undo: true,
  },
  {
    en: 'Balance inquiry',
    zh: '余额查询',
    authorize: { terminal: 'grocery', card: 'debit', kind: 'balance_inquiry' },
  },
  {
    name: 'hotel',
    en: 'Hotel preauthorization',
    zh: '酒店预授权',
    authorize: { terminal: 'hotel', card: 'credit', amount: '1200.00', kind: 'preauthorization' },
  },
  {
    name: 'checkout',
    en: 'Hotel checkout: partial completion',
    zh: '酒店退房：部分预授权完成',
    followUp: { of: 'hotel', path: 'completions', amount: '980.00' },
    undo: true,
  },
  sale(
    'Groceries on a nearly empty debit card',
    '余额不足的借记卡买菜',
    'grocery',
    'lowBalance',
    '120.00',
  ),
  sale('A phone beyond the credit limit', '超出信用额度', 'grocery', 'smallCredit', '1500.00'),
  {
    en: 'Refund more than was paid',
    zh: '退货金额超过原交易',
    followUp: { of: 'lunch', path: 'refunds', amount: '100.00' },
  },
  {
    en: 'A typo in the card number',
    zh: '卡号输错一位',
    authorize: {
      terminal: 'noodles',
      card: { pan: DEMO_CARDS.debit.pan.slice(0, -1) + '9', expiry: DEMO_CARDS.debit.expiry },
      amount: '10.00',
    },
  },
  sale(
    "A banquet above the restaurant's per-payment limit",
    '超出餐厅单笔限额',
    'noodles',
    'debit',
    '2500.00',
  ),
  {
    name: 'count1',
    en: 'Coffee #1 on a card limited to 3 a day',
    zh: '限每日3笔的卡：第1笔',
    authorize: { terminal: 'grocery', card: 'counted', amount: '9.00' },
    undo: true,
  },
  {
    name: 'count2',
    en: 'Coffee #2',
    zh: '第2笔',
    authorize: { terminal: 'grocery', card: 'counted', amount: '9.00' },
    undo: true,
  },
  {
    name: 'count3',
    en: 'Coffee #3',
    zh: '第3笔',
    authorize: { terminal: 'grocery', card: 'counted', amount: '9.00' },
    undo: true,
  },
  sale('Coffee #4: over the daily count', '第4笔：超出每日笔数', 'grocery', 'counted', '9.00'),
  sale('Credit card above its daily amount', '信用卡超出日累计限额', 'hotel', 'credit', '12000.00'),
  sale('A card on the block list', '黑名单卡', 'noodles', 'listed', '50.00'),
  sale('A card from a blocked BIN range', '卡BIN被列入黑名单', 'noodles', 'binListed', '50.00'),
  sale('A terminal on the block list', '终端被列入黑名单', 'hotelListed', 'debit', '50.00'),
  sale('A merchant on the block list', '商户被列入黑名单', 'listed', 'debit', '50.00'),
  sale('A merchant still pending audit', '商户尚未审核通过', 'gifts', 'debit', '30.00'),
  sale('A suspended merchant', '商户已暂停', 'fuel', 'debit', '300.00'),
  sale('A restricted merchant', '受限商户', 'digital', 'debit', '300.00'),
  sale('An inactive terminal', '终端已停用', 'noodlesOld', 'debit', '20.00'),
  {
    en: 'Terminal sent with the wrong merchant',
    zh: '终端与商户不匹配',
    authorize: { terminal: 'noodles', merchant: 'grocery', card: 'debit', amount: '20.00' },
  },
  sale(
    'Credit card at a money-transfer merchant',
    '信用卡在汇款类商户使用',
    'remit',
    'credit',
    '500.00',
  ),
  sale('A card reported lost', '挂失卡', 'noodles', 'lost', '20.00'),
  sale('A card reported stolen', '被盗卡', 'noodles', 'stolen', '20.00'),
  sale('A frozen card', '冻结的卡', 'noodles', 'inactive', '20.00'),
  sale('An expired card', '过期卡', 'noodles', 'expired', '20.00'),
  {
    en: 'Wrong expiry date keyed',
    zh: '有效期输入错误',
    authorize: { terminal: 'noodles', card: 'debit', amount: '20.00', expiry: '2701' },
  },
  {
    en: 'A card the bank has no account for',
    zh: '发卡行无此账户',
    authorize: {
      terminal: 'noodles',
      card: { pan: DEMO_UNKNOWN_PAN, expiry: '3012' },
      amount: '20.00',
    },
  },
]

interface Row {
  readonly step: string
  readonly outcome: string
  readonly code: string
  readonly reason: string
  readonly family: string
  readonly title: string
  readonly explanation?: ExplanationLike
}

function outcomeText(status: number, approved: boolean, lang: Lang): string {
  const zh = lang === 'zh-CN'
  if (status >= 400) return zh ? `拒收 ${status}` : `rejected ${status}`
  if (approved) return zh ? '批准' : 'approved'
  return zh ? '拒绝' : 'declined'
}

/** Runs the guided tour against a running server and prints a table of what happened. */
export async function runDemoTour(
  client: ApiClient,
  lang: Lang,
  verbose: boolean,
): Promise<string> {
  const ids = new Map<string, string>()
  const rows: Row[] = []
  for (const step of STEPS) {
    const answer = await runStep(client, step, ids)
    const body = answer.body
    const explanation = body.explanation as ExplanationLike | undefined
    const reason = body.reason as { code?: string; family?: string } | undefined
    if (step.name !== undefined && typeof body.transactionId === 'string' && body.approved === true)
      ids.set(step.name, body.transactionId)
    rows.push({
      step: lang === 'zh-CN' ? step.zh : step.en,
      outcome: outcomeText(answer.status, body.approved === true, lang),
      code: typeof body.responseCode === 'string' ? body.responseCode : '',
      reason:
        reason?.code ?? (typeof body.code === 'string' && answer.status >= 400 ? body.code : ''),
      family: explanation?.reason?.familyLabel ?? '',
      title: explanation?.title ?? (typeof body.title === 'string' ? body.title : ''),
      ...(explanation === undefined ? {} : { explanation }),
    })
  }
  for (const step of STEPS.filter((s) => s.undo === true && s.name !== undefined)) {
    const id = ids.get(step.name ?? '')
    if (id !== undefined) await client.call('POST', `/v1/transactions/${id}/voids`, {})
  }
  const zh = lang === 'zh-CN'
  const headers = zh
    ? ['#', '场景', '结果', '应答码', '原因代码', '类别', '说明']
    : ['#', 'scenario', 'outcome', 'code', 'reason', 'family', 'explanation']
  const out = [
    table(
      headers,
      rows.map((r, i) => [String(i + 1), r.step, r.outcome, r.code, r.reason, r.family, r.title]),
      [3, 34, 12, 6, 38, 14, 40],
    ),
  ]
  out.push(
    '',
    zh
      ? '演示中批准的消费已撤销，可以再次运行。查看任一笔交易的完整解释：tollgate explain <交易号>'
      : 'Approvals made by the tour were voided, so it can run again. Full explanation of any transaction: tollgate explain <transaction-id>',
  )
  if (verbose) {
    for (const [i, row] of rows.entries()) {
      if (row.explanation !== undefined)
        out.push('', `#${i + 1} ${row.step}`, formatExplanation(row.explanation, lang))
    }
  }
  return out.join('\n')
}

async function runStep(client: ApiClient, step: Step, ids: Map<string, string>) {
  if (step.followUp !== undefined) {
    const id = ids.get(step.followUp.of) ?? 'tx_00000000000000000000000000'
    return client.call(
      'POST',
      `/v1/transactions/${id}/${step.followUp.path}`,
      step.followUp.amount === undefined ? {} : { amount: step.followUp.amount },
    )
  }
  const a = step.authorize
  if (a === undefined) throw new Error('a demo step authorizes or follows up')
  const card =
    typeof a.card === 'string'
      ? { pan: DEMO_CARDS[a.card].pan, expiry: a.expiry ?? DEMO_CARDS[a.card].expiry }
      : a.card
  const terminal = DEMO_TERMINALS[a.terminal]
  const merchantId = a.merchant === undefined ? terminal.merchantId : DEMO_MERCHANTS[a.merchant].id
  return client.call('POST', '/v1/authorizations', {
    kind: a.kind ?? 'purchase',
    terminalId: terminal.id,
    merchantId,
    stan: randomStan(),
    card,
    ...(a.amount === undefined ? {} : { amount: a.amount }),
    currency: 'CNY',
  })
}
