import type { ReasonCode } from './codes.js'
import type { Localized, ReasonEntry, RetryAdvice } from './types.js'

/*
 * The reason catalogue: for every reason code, its family, the response codes the terminal
 * receives, the text that explains it and what each audience should do next. Pure data.
 *
 * The choice of ISO 8583 and China UnionPay (CUP) codes is argued in
 * docs/decisions/0002-response-codes.md. Rules the texts follow:
 * - Retry advice is about sending the same request again unchanged. Re-keying an amount or
 *   re-reading a card is a new transaction, and the remediation says when to do that.
 * - The cardholder's text never shows risk-control internals: no rules, scores or lists.
 * - A limit set by the acquirer (merchant and terminal limits) is said to be the acquirer's,
 *   so that nobody sends the cardholder to a bank that cannot help.
 * - Every network-family reason says whether money moved.
 */

const RETRY_NOW: RetryAdvice = { kind: 'retry_now' }
const DO_NOT_RETRY: RetryAdvice = { kind: 'do_not_retry' }
const REVERSE_FIRST: RetryAdvice = { kind: 'reverse_first' }

function retryAfter(minutes: number): RetryAdvice {
  return { kind: 'retry_after', minutes }
}

/** The cardholder's text for reasons that are about the merchant's side, never the card. */
const CARDHOLDER_MERCHANT_SIDE: Localized = {
  'zh-CN':
    '您的卡未被扣款，卡片本身没有问题。该商户目前无法受理刷卡，请改用其他支付方式，无需联系发卡行。',
  en: 'Your card was not charged and there is nothing wrong with your card. This merchant cannot take card payments at the moment: please use another payment method. There is no need to contact your bank.',
}

/** The key and the entry's code must agree; the mapped type checks it at compile time. */
type Catalogue = { readonly [C in ReasonCode]: ReasonEntry & { readonly code: C } }

const CATALOGUE: Catalogue = {
  // ---------------------------------------------------------------------------------------
  // network: links, hosts, capacity
  // ---------------------------------------------------------------------------------------
  system_busy: {
    code: 'system_busy',
    family: 'network',
    isoCode: '96',
    cupCode: null,
    title: { 'zh-CN': '系统繁忙', en: 'System busy' },
    explanation: {
      'zh-CN':
        '系统当前待处理的交易已达安全排队上限，为避免交易长时间等待直至超时，本笔交易被立即拒绝。该交易未被处理，也未发送至发卡行，资金没有发生任何变动。',
      en: "The switch was holding as many requests as it can safely queue, so it refused this one at once instead of letting it wait and time out. The request was not processed and was not sent to the card's bank: no money moved.",
    },
    remediation: {
      cardholder: {
        'zh-CN': '您的卡未被扣款。请稍候片刻，由收银员重新发起交易。',
        en: 'Your card was not charged. Please wait a moment and let the cashier try again.',
      },
      merchant: {
        'zh-CN':
          '本笔交易未扣款。请等待约1分钟后重新发起交易；如连续多次出现此提示，请致电收单机构客服。',
        en: "Nothing was charged. Wait about a minute and start the sale again. If several attempts in a row fail this way, call your acquirer's support line.",
      },
      operator: {
        'zh-CN':
          '在监控面板查看授权队列深度、批量提交耗时和数据库状态，找出处理变慢的原因（数据库响应慢、某条发卡行路由占用处理能力、交易量突增等），扩容或消除源头。此类拒绝持续出现时，应按故障事件处理。',
        en: 'Look at the authorization queue depth, batch commit latency and database health on the metrics dashboard and find what is slowing the pipeline (a slow database, a stuck issuer route holding capacity, a traffic spike); add capacity or remove the cause. A sustained rate of these declines is an incident.',
      },
    },
    retry: retryAfter(1),
  },
  issuer_unavailable: {
    code: 'issuer_unavailable',
    family: 'network',
    isoCode: '91',
    cupCode: null,
    title: { 'zh-CN': '发卡行系统不可用', en: 'Card issuer unavailable' },
    explanation: {
      'zh-CN':
        '无法连接持卡人的发卡行：发卡行主机故障或无响应，或因连续失败，系统已暂停向该发卡行转发交易（熔断），且本笔交易不满足代授权条件。交易未送达发卡行，资金没有发生任何变动。',
      en: "The card's issuing bank could not be reached: its host is down or not answering, or the switch has stopped sending to it for a short while after repeated failures (circuit open), and stand-in authorization did not cover this transaction. The request did not reach the bank: no money moved.",
    },
    remediation: {
      cardholder: {
        'zh-CN':
          '您的卡未被扣款。您的发卡行系统暂时无法处理交易，请几分钟后再试，或使用其他银行的卡支付。',
        en: "Your card was not charged. Your bank's system is temporarily unavailable: try again in a few minutes, or pay with a card from another bank.",
      },
      merchant: {
        'zh-CN':
          '本笔交易未扣款。可请顾客换用其他银行的卡或其他支付方式，或约5分钟后重试。其他银行的卡不受影响：问题出在该卡的发卡行，而非您的终端。',
        en: "Nothing was charged. Ask the customer to pay with a card from another bank or another way, or try again in about 5 minutes. Cards from other banks keep working: the problem is with this card's bank, not with your terminal.",
      },
      operator: {
        'zh-CN':
          '检查该卡BIN对应路由的状态：连接情况、近期超时和熔断器状态。如发卡行主机故障，联系发卡行运维值班；评估在其恢复前是否需要为该发卡行启用或调整代授权（STIP）额度。',
        en: "Check the health of the route for this BIN: connection state, recent timeouts and the circuit breaker. If the issuer's host is down, contact the issuer's operations desk, and decide whether stand-in (STIP) limits should cover this issuer until it is back.",
      },
    },
    retry: retryAfter(5),
  },
  issuer_timeout: {
    code: 'issuer_timeout',
    family: 'network',
    isoCode: '68',
    cupCode: '98',
    title: { 'zh-CN': '发卡行响应超时', en: 'Card issuer did not answer in time' },
    explanation: {
      'zh-CN':
        '交易已发送至发卡行，但在规定时间内未收到应答。由于发卡行可能已收到该笔交易，系统已自动发起冲正予以撤回。本笔交易不会扣款：发卡行如已临时冻结相应金额，冲正完成后即会释放，持卡人不会被重复扣款。',
      en: "The request was sent to the card's issuing bank but no answer came back in time. Because the bank may have received it, the switch automatically sends a reversal that cancels it. No money moved: any temporary hold the bank may have placed is released by the reversal, and the cardholder will not be charged twice.",
    },
    remediation: {
      cardholder: {
        'zh-CN':
          '本次交易不会扣款。如手机银行中显示该笔金额处于冻结或处理中状态，发卡行处理冲正后会自动释放，无需另行操作。收银员稍后可为您重新发起交易。',
        en: 'You will not be charged for this attempt. If your banking app shows it as a pending amount, it is released automatically once your bank processes the reversal; you need do nothing. The cashier can try again shortly.',
      },
      merchant: {
        'zh-CN':
          '本笔交易未成功，请勿按已付款处理。系统已自动发起冲正，请等待约1分钟（或在控制台确认冲正已被应答）后重新发起交易，顾客不会被重复扣款。',
        en: 'This attempt was not approved: do not treat it as paid. The switch reverses it automatically; wait about a minute (or until the console shows the reversal as acknowledged), then start the sale again. The customer will not be charged twice.',
      },
      operator: {
        'zh-CN':
          '检查该发卡行路由的响应时延和超时率，并确认本笔冲正已获应答；若冲正在存储转发队列中多次重发仍未成功，需人工跟进。同一路由大量超时说明线路或发卡行主机性能下降，应联系发卡行。',
        en: "Check the issuer route's latency and timeout rate, and confirm that the reversal was acknowledged; a reversal still waiting in the store-and-forward queue after several attempts needs a person. Many timeouts on one route mean the link or the issuer's host is degraded: contact the issuer.",
      },
    },
    retry: REVERSE_FIRST,
  },
  issuer_maintenance: {
    code: 'issuer_maintenance',
    family: 'network',
    isoCode: '91',
    cupCode: null,
    title: { 'zh-CN': '发卡行系统维护', en: 'Card issuer under maintenance' },
    explanation: {
      'zh-CN':
        '发卡行正处于计划内的系统维护时段，暂停受理交易，且本笔交易不满足代授权条件。交易未发送至发卡行，资金没有发生任何变动。',
      en: "The card's issuing bank is in a scheduled maintenance window and does not take transactions, and stand-in authorization did not cover this one. The request was not sent to the bank: no money moved.",
    },
    remediation: {
      cardholder: {
        'zh-CN':
          '您的卡未被扣款。您的发卡行正在进行系统维护，请使用其他银行的卡支付，或待维护结束后再试。',
        en: 'Your card was not charged. Your bank is carrying out system maintenance: please pay with a card from another bank, or try again after the maintenance ends.',
      },
      merchant: {
        'zh-CN':
          '本笔交易未扣款。请顾客换用其他银行的卡或其他支付方式。该行维护结束后即可恢复受理，具体时间可咨询收单机构。',
        en: 'Nothing was charged. Ask the customer for a card from another bank or another payment method. Cards of this bank work again when its maintenance ends; your acquirer can tell you when.',
      },
      operator: {
        'zh-CN':
          '核对该维护窗口的结束时间是否与发卡行公告一致，并告知来电商户预计恢复时间。如维护已超过公告时间，向发卡行确认，待其主机恢复后在路由配置中关闭维护窗口。',
        en: "Check that the maintenance window's end matches the issuer's notice, and tell merchants who call when it ends. If the window has run past its announced end, check with the issuer and close the window in the routing configuration once its host is back.",
      },
    },
    retry: retryAfter(30),
  },
  no_route_to_issuer: {
    code: 'no_route_to_issuer',
    family: 'network',
    isoCode: '92',
    cupCode: null,
    title: { 'zh-CN': '无法路由至发卡行', en: 'No route to card issuer' },
    explanation: {
      'zh-CN':
        '系统中没有该卡号段（BIN）对应的路由：该卡号段不在路由表中，或其路由尚未配置。交易未发送至任何发卡行，资金没有发生任何变动。在路由修正之前，重试仍会失败。',
      en: "The switch has no route for this card's number range (BIN): the range is not in the routing table, or its route is not configured. The request was not sent to any bank: no money moved. Until the routing is fixed, a retry fails the same way.",
    },
    remediation: {
      cardholder: {
        'zh-CN': '您的卡未被扣款。本商户暂时无法受理此卡，请使用其他银行卡或其他支付方式。',
        en: 'Your card was not charged. This card cannot be accepted here at the moment: please pay with another card or another way.',
      },
      merchant: {
        'zh-CN':
          '本笔交易未扣款。请顾客换卡或改用其他支付方式，并将该卡的发卡行名称（勿提供完整卡号）告知收单机构，以便开通受理。',
        en: "Nothing was charged. Ask for another card or payment method, and tell your acquirer the name of the card's bank (never the full card number) so that it can be enabled.",
      },
      operator: {
        'zh-CN':
          '在卡BIN表和路由表中查询该BIN。若为真实卡号段，将其加入对应发卡行路由（或本地账户）；若查无此BIN，可能是已有发卡行新发行的号段，也可能是伪造卡号。关注同一终端反复使用未知BIN发起交易的情况。',
        en: 'Look the BIN up in the card BIN table and the routing table. If the range is genuine, add it to the right issuer route (or to the local ledger); if the BIN is unknown, it may be a new range of a known issuer or a made-up number. Watch for one terminal trying many unknown BINs.',
      },
    },
    retry: DO_NOT_RETRY,
  },
  cutoff_in_progress: {
    code: 'cutoff_in_progress',
    family: 'network',
    isoCode: '90',
    cupCode: null,
    title: { 'zh-CN': '系统日切处理中', en: 'Day-end cutover in progress' },
    explanation: {
      'zh-CN':
        '支付系统（本系统或发卡行）正在进行日终切换（日切），切换期间的几分钟内暂停受理新交易。本笔交易未被处理，资金没有发生任何变动。',
      en: "The payment system (this switch or the card's bank) is moving to the next business date, the day-end cutover, and takes no new transactions for a few minutes. The request was not processed: no money moved.",
    },
    remediation: {
      cardholder: {
        'zh-CN': '您的卡未被扣款。支付系统正在进行日终处理，请几分钟后再试。',
        en: 'Your card was not charged. The payment system is closing the business day: please try again in a few minutes.',
      },
      merchant: {
        'zh-CN': '本笔交易未扣款。日切通常只需几分钟，请约5分钟后重新发起交易。',
        en: 'Nothing was charged. The cutover usually takes only a few minutes: start the sale again in about 5 minutes.',
      },
      operator: {
        'zh-CN':
          '确认日切正在进行并能在正常时长内完成（如为发卡行日切，向发卡行确认）。如耗时过长，检查结算和批处理任务；若日切经常影响营业高峰，应调整日切时间。',
        en: "Check that the cutover is progressing and ends within its usual time (for the issuer's cutover, ask the issuer). If it runs long, look at the settlement and batch jobs; if cutovers often fall in busy hours, move the cutover time.",
      },
    },
    retry: retryAfter(5),
  },

  // ---------------------------------------------------------------------------------------
  // funds
  // ---------------------------------------------------------------------------------------
  insufficient_funds: {
    code: 'insufficient_funds',
    family: 'funds',
    isoCode: '51',
    cupCode: null,
    title: { 'zh-CN': '余额不足', en: 'Insufficient funds' },
    explanation: {
      'zh-CN':
        '该卡账户的可用余额小于交易金额。可用余额是账户余额扣除已冻结金额（如未完成的预授权）后的余额，因此可能低于对账单上显示的余额。',
      en: "The available balance of the card's account is less than the amount. The available balance is the balance minus amounts on hold, such as open pre-authorizations, so it can be lower than the balance on a statement.",
    },
    remediation: {
      cardholder: {
        'zh-CN':
          '请通过手机银行或银行网点查询可用余额。可减少支付金额、向账户存入资金后再试，或换用其他卡支付。',
        en: 'Check your available balance in your banking app or at your bank. Pay a smaller amount, add money to the account and try again, or use another card.',
      },
      merchant: {
        'zh-CN':
          '请私下告知顾客余额不足，建议其换用其他卡或其他支付方式。请勿用该卡以相同金额反复尝试。',
        en: 'Tell the customer discreetly that the balance is not enough, and offer another card or payment method. Do not try the same amount on this card again.',
      },
      operator: {
        'zh-CN':
          '一般无需处理。如持卡人对余额有异议：发卡处理模式下，在账务系统中核查账户的已入账余额和未结冻结款（如长期未完成或未释放的预授权）；收单转接模式下此为发卡行的应答，请引导持卡人联系发卡行。',
        en: "Usually nothing to do. If the cardholder disputes the balance: in issuer-processor mode, check the account's posted balance and open holds in the ledger (pre-authorizations never completed or released); in acquirer-switch mode this is the issuer's answer, so refer the cardholder to the issuer.",
      },
    },
    retry: DO_NOT_RETRY,
  },
  credit_limit_exceeded: {
    code: 'credit_limit_exceeded',
    family: 'funds',
    isoCode: '51',
    cupCode: null,
    title: { 'zh-CN': '信用额度不足', en: 'Credit limit exceeded' },
    explanation: {
      'zh-CN':
        '本笔交易金额超过了信用卡账户的可用额度，即信用额度减去已用额度和冻结金额后的余额。这里指卡片的信用额度，而非单笔或每日交易限额。',
      en: "The amount is more than the credit card account's available credit: the credit limit minus the amount already used and the amounts on hold. This is the card's credit line, not a per-transaction or daily limit.",
    },
    remediation: {
      cardholder: {
        'zh-CN':
          '请通过发卡行手机银行查询可用额度。可先还款恢复额度、向发卡行申请临时提额，或换用其他卡支付。',
        en: "Check your available credit in your bank's app. You can repay part of the balance, ask your bank for a temporary limit increase, or pay with another card.",
      },
      merchant: {
        'zh-CN':
          '请私下告知顾客该卡可用额度不足，建议换用其他卡或其他支付方式。请勿将该笔金额拆分成多笔在同一张卡上刷卡以规避额度限制。',
        en: "Tell the customer discreetly that the card's available credit is not enough, and offer another card or payment method. Do not split the amount into several payments on the same card to get round the limit.",
      },
      operator: {
        'zh-CN':
          '一般无需处理。如持卡人对可用额度有异议：发卡处理模式下，在账务系统中核查其信用额度、已入账金额和未结冻结款；收单转接模式下此为发卡行的应答，请引导持卡人联系发卡行。',
        en: "Usually nothing to do. If the cardholder disputes the available credit: in issuer-processor mode, check the account's credit limit, posted amounts and open holds in the ledger; in acquirer-switch mode this is the issuer's answer, so refer the cardholder to the issuer.",
      },
    },
    retry: DO_NOT_RETRY,
  },

  // ---------------------------------------------------------------------------------------
  // data: the request is wrong
  // ---------------------------------------------------------------------------------------
  format_error: {
    code: 'format_error',
    family: 'data',
    isoCode: '30',
    cupCode: null,
    title: { 'zh-CN': '报文格式错误', en: 'Message format error' },
    explanation: {
      'zh-CN':
        '交易报文不符合报文规范：缺少必填域，或某个域的长度、类型或内容有误。系统会逐一检查各域，并列出所有出错的域。此类问题几乎都由终端程序或参数配置引起，与卡片无关。',
      en: "The request did not follow the message specification: a required field was missing, or a field had the wrong length, type or content. The switch checks every field and names each one that failed. This is almost always a problem of the terminal's software or configuration, not of the card.",
    },
    remediation: {
      cardholder: {
        'zh-CN':
          '您的卡未被扣款，卡片本身没有问题。商户终端出现技术故障，请改用其他支付方式或稍后再试。',
        en: "Your card was not charged and there is nothing wrong with your card. The merchant's terminal has a technical problem: please pay another way or try again later.",
      },
      merchant: {
        'zh-CN':
          '请勿重复发起同一笔交易，结果不会改变。请记下终端号并致电收单机构客服，终端程序或参数需要修复；在此之前请使用其他方式收款。',
        en: "Do not repeat the same transaction: it will fail the same way. Call your acquirer's support line with the terminal ID, as the terminal's software or parameters need fixing; take payment another way meanwhile.",
      },
      operator: {
        'zh-CN':
          '查看该交易的检查明细，确认出错的域及期望格式。核对终端的应用程序版本及其报文规范（ISO 8583 ASCII、二进制位图或银联POS规范）是否与系统配置一致；若同一型号终端均出现相同错误，联系终端厂商。',
        en: "Open the transaction's checks to see which fields failed and what was expected. Compare the terminal's application version and message dialect (ISO 8583 ASCII, binary bitmap or the UnionPay POS profile) with its configuration; if one terminal model fails the same way, contact its vendor.",
      },
    },
    retry: DO_NOT_RETRY,
  },
  invalid_amount: {
    code: 'invalid_amount',
    family: 'data',
    isoCode: '13',
    cupCode: null,
    title: { 'zh-CN': '交易金额无效', en: 'Invalid amount' },
    explanation: {
      'zh-CN':
        '交易金额无效：金额为零、小数位数超过该币种允许的位数，或超出金额域可表示的范围。系统会直接拒绝此类金额，不会自动四舍五入。',
      en: 'The amount is not acceptable: it is zero, has more decimal places than the currency allows, or is larger than the amount field can carry. The switch refuses such an amount rather than rounding it.',
    },
    remediation: {
      cardholder: {
        'zh-CN': '您的卡未被扣款。请与收银员核对终端上显示的金额后再支付。',
        en: 'Your card was not charged. Check the amount on the terminal with the cashier before paying again.',
      },
      merchant: {
        'zh-CN':
          '请核对输入的金额（是否多输或少输了0、小数点位置是否正确），然后以正确金额重新发起交易。',
        en: 'Check the amount you keyed in (a missing or extra zero, a decimal point in the wrong place), then start a new transaction with the correct amount.',
      },
      operator: {
        'zh-CN':
          '在交易检查明细中查看上送金额。如终端或收银系统对接时金额单位有误（例如以元代替分上送）或币种小数位不符，联系商户或集成商修正。',
        en: "Look at the amount sent in the transaction's checks. If a terminal or a cash-register integration sends amounts in the wrong unit (yuan instead of fen) or with the wrong currency exponent, have the merchant or the integrator fix it.",
      },
    },
    retry: DO_NOT_RETRY,
  },
  invalid_card_number: {
    code: 'invalid_card_number',
    family: 'data',
    isoCode: '14',
    cupCode: null,
    title: { 'zh-CN': '无效卡号', en: 'Invalid card number' },
    explanation: {
      'zh-CN':
        '卡号无效：卡号校验位（Luhn校验）不正确，或卡号长度与该卡号段不符。通常是读卡或手工输入卡号时出错。',
      en: "The card number is not valid: its check digit (Luhn) is wrong, or its length does not fit the card's number range. Usually the card was misread or the number was mistyped.",
    },
    remediation: {
      cardholder: {
        'zh-CN': '您的卡未被扣款。请收银员重新读卡（优先插入芯片或挥卡）；如仍失败，请换用其他卡。',
        en: 'Your card was not charged. Ask the cashier to read the card again (insert the chip or tap the card); if it still fails, use another card.',
      },
      merchant: {
        'zh-CN':
          '请重新读卡，优先插卡读取芯片；如为手工输入卡号，请逐位核对。若仍失败，卡片可能已损坏，请顾客换卡。',
        en: 'Read the card again, preferably by inserting the chip; if you keyed the number in, check it digit by digit. If it still fails, the card may be damaged: ask for another card.',
      },
      operator: {
        'zh-CN':
          '如同一终端频繁出现无效卡号，其读卡器可能故障或被改装，应安排上门检查。手工输入的无效卡号反复出现，也可能是有人在试探卡号。',
        en: 'If one terminal produces many invalid card numbers, its card reader may be faulty or tampered with: arrange an inspection. Many invalid numbers keyed in by hand can also be someone guessing card numbers.',
      },
    },
    retry: DO_NOT_RETRY,
  },
  unsupported_currency: {
    code: 'unsupported_currency',
    family: 'data',
    isoCode: '13',
    cupCode: null,
    title: { 'zh-CN': '不支持的币种', en: 'Currency not supported' },
    explanation: {
      'zh-CN': '交易币种无法识别或不予受理：该币种不在系统支持的ISO 4217币种中，或未对该商户开通。',
      en: 'The transaction currency is unknown or not accepted: it is not an ISO 4217 currency the switch knows, or it is not enabled for this merchant.',
    },
    remediation: {
      cardholder: {
        'zh-CN': '您的卡未被扣款。请收银员以商户支持的币种（通常为人民币）重新收款。',
        en: 'Your card was not charged. Ask the cashier to charge you in a currency the shop accepts, normally the local currency.',
      },
      merchant: {
        'zh-CN':
          '请使用您的商户账户支持的币种（通常为人民币）重新发起交易。如需受理其他币种，请向收单机构申请开通。',
        en: 'Charge in a currency your merchant account accepts (normally CNY) and start a new transaction. To accept another currency, ask your acquirer to enable it.',
      },
      operator: {
        'zh-CN':
          '将请求中的币种代码与系统币种表及商户已开通的币种进行核对。若某终端的所有交易币种代码都有误，应检查终端参数（例如误将156设成840）。',
        en: "Compare the currency code in the request with the currency table and the merchant's enabled currencies. If every transaction of one terminal carries a wrong code, its parameters are wrong (840 set instead of 156, for example).",
      },
    },
    retry: DO_NOT_RETRY,
  },
  currency_mismatch: {
    code: 'currency_mismatch',
    family: 'data',
    isoCode: '13',
    cupCode: null,
    title: { 'zh-CN': '币种不一致', en: 'Currency mismatch' },
    explanation: {
      'zh-CN':
        '交易币种与应一致的币种不符：预授权完成、撤销、退货须与原交易币种一致；由本系统管理账户的卡，交易币种须与账户币种一致，系统不做货币兑换。',
      en: "The currency differs from the one it must match: a completion, void or refund must use the original transaction's currency, and a card whose account this switch holds must be charged in the account's currency, as the switch does not convert currencies.",
    },
    remediation: {
      cardholder: {
        'zh-CN': '您的卡未被扣款，需由收银员以正确币种重新办理。',
        en: 'Your card was not charged. The cashier needs to redo the transaction in the right currency.',
      },
      merchant: {
        'zh-CN':
          '预授权完成、撤销或退货请使用与原交易相同的币种（见原交易签购单）；新的消费请使用该卡支持的币种，或请顾客换卡。如不确定，请致电收单机构客服。',
        en: "For a completion, void or refund, use the currency of the original transaction (shown on its receipt). For a new sale, charge in a currency the card accepts or ask for another card. If unsure, call your acquirer's support line.",
      },
      operator: {
        'zh-CN':
          '在检查明细中比较本次交易币种与原交易或账户的币种。如某终端的后续交易币种总与消费不同，说明终端参数或收银系统对接有误。',
        en: "Compare the request's currency with the original transaction's or the account's in the checks. If a terminal sends its follow-ups in a different currency from its sales, its parameters or its cash-register integration are wrong.",
      },
    },
    retry: DO_NOT_RETRY,
  },
  transaction_kind_not_supported: {
    code: 'transaction_kind_not_supported',
    family: 'data',
    isoCode: '40',
    cupCode: null,
    title: { 'zh-CN': '不支持的交易类型', en: 'Transaction type not supported' },
    explanation: {
      'zh-CN':
        '所请求的交易功能对该卡、商户或终端不可用，例如商户未开通预授权却发起预授权，或交易处理码不被本系统或发卡行支持。',
      en: "The requested function is not offered for this card, merchant or terminal: for example a pre-authorization where pre-authorizations are not enabled, or a processing code that the switch or the card's bank does not support.",
    },
    remediation: {
      cardholder: {
        'zh-CN': '您的卡未被扣款。此处不支持该类交易，收银员可为您改用其他方式办理，例如普通消费。',
        en: 'Your card was not charged. This kind of transaction is not available here; the cashier can offer another, such as a normal purchase.',
      },
      merchant: {
        'zh-CN':
          '请改用终端已开通的交易类型（例如用消费代替预授权，用退货代替撤销）。如需开通预授权等功能，请向收单机构申请。',
        en: 'Use a transaction type your terminal is enabled for (a purchase instead of a pre-authorization, a refund instead of a void). To add a function such as pre-authorization, apply to your acquirer.',
      },
      operator: {
        'zh-CN':
          '核对请求中的交易处理码，以及商户、终端和发卡行路由已开通的功能。如商户应具备该功能，按规定审核后开通；如为发卡行不支持，告知商户。',
        en: 'Check the processing code in the request and the functions enabled for the merchant, the terminal and the issuer route. If the merchant should have the function, enable it after the usual review; if the issuer does not support it, tell the merchant.',
      },
    },
    retry: DO_NOT_RETRY,
  },
  original_not_found: {
    code: 'original_not_found',
    family: 'data',
    isoCode: '25',
    cupCode: null,
    title: { 'zh-CN': '找不到原交易', en: 'Original transaction not found' },
    explanation: {
      'zh-CN':
        '撤销、预授权完成、退货或冲正须关联一笔原交易，但系统按所提供的信息（参考号、授权码、终端、批次号或日期）未找到匹配的原交易。',
      en: 'A void, completion, refund or reversal must refer to an earlier transaction, and no transaction matches the details given (reference number, authorization code, terminal, batch or date).',
    },
    remediation: {
      cardholder: {
        'zh-CN': '本次操作未对您的卡扣款或退款。请保留原交易的签购单，收银员需要据此核对信息。',
        en: 'This attempt neither charged nor refunded your card. Keep the receipt of the original payment: the cashier needs its details.',
      },
      merchant: {
        'zh-CN':
          '请核对原交易签购单上的参考号、授权码和交易日期，并确认使用的是办理原交易的同一终端。重新输入后再试；如仍找不到，请致电收单机构客服。',
        en: "Check the reference number, authorization code and date on the original receipt, and that you are on the terminal that made the original transaction. Enter the details again; if it is still not found, call your acquirer's support line.",
      },
      operator: {
        'zh-CN':
          '按卡标识、金额、终端和时间范围查找原交易。如能找到但信息不符，告知商户正确的信息；如原交易从未入账（例如原交易已超时并冲正），则无需后续操作。',
        en: 'Search for the original by card token, amount, terminal and time window. If it exists under other details, tell the merchant which to use; if it was never recorded (it timed out and was reversed, say), there is nothing to follow up.',
      },
    },
    retry: DO_NOT_RETRY,
  },
  original_not_eligible: {
    code: 'original_not_eligible',
    family: 'data',
    isoCode: '12',
    cupCode: null,
    title: { 'zh-CN': '原交易状态不允许此操作', en: 'Original transaction not eligible' },
    explanation: {
      'zh-CN':
        '已找到原交易，但其当前状态不允许进行本次操作：原交易未获批准，或已被撤销、冲正、完成或已全额退货。',
      en: 'The original transaction was found, but its state does not allow this follow-up: it was declined, or it has already been voided, reversed, completed or fully refunded.',
    },
    remediation: {
      cardholder: {
        'zh-CN':
          '本次操作未对您的卡扣款或退款。原交易可能已被撤销或已退款，请查看银行账单；如有疑问，请向商户咨询。',
        en: 'This attempt neither charged nor refunded your card. The original payment may already have been cancelled or refunded: check your statement, and ask the merchant if anything is unclear.',
      },
      merchant: {
        'zh-CN':
          '请在交易明细中查询原交易：如已撤销或已退货，请勿重复操作；原交易未成功的无需后续处理。如有疑问，请先致电收单机构客服，再做其他操作。',
        en: "Look the original up in your transaction list: if it was already voided or refunded, do not do it again, and a declined original needs no follow-up. If unsure, call your acquirer's support line before trying anything else.",
      },
      operator: {
        'zh-CN':
          '在控制台查看原交易的完整记录（批准、完成、撤销、冲正、退货）。对同一笔交易反复撤销或退货，可能是收银员误操作，也可能有人企图重复退款。',
        en: "Check the original's history (approval, completion, voids, reversals, refunds) in the console. Repeated voids or refunds of one transaction can be a cashier's mistake, or an attempt to get money back twice.",
      },
    },
    retry: DO_NOT_RETRY,
  },
  original_amount_exceeded: {
    code: 'original_amount_exceeded',
    family: 'data',
    isoCode: '64',
    cupCode: null,
    title: { 'zh-CN': '金额与原交易不符', en: 'Amount does not fit the original' },
    explanation: {
      'zh-CN':
        '本次金额超出原交易允许的范围：预授权完成金额超过预授权金额（含该商户允许的上浮比例），退货金额（含此前已退金额）超过原消费金额，或撤销金额与原交易金额不一致。',
      en: 'The amount is more than the original transaction allows: a completion above the pre-authorized amount (plus any tolerance allowed for the merchant), a refund that with earlier refunds exceeds what was charged, or a void for a different amount from the original.',
    },
    remediation: {
      cardholder: {
        'zh-CN': '本次操作未对您的卡扣款或退款，需由商户更正金额后重新办理。',
        en: 'This attempt neither charged nor refunded your card. The merchant needs to correct the amount and do it again.',
      },
      merchant: {
        'zh-CN':
          '请核对原交易签购单上的金额及已退货金额。预授权完成金额不得超过预授权金额，超出部分请另行发起消费；退货金额不得超过剩余可退金额。',
        en: 'Check the original amount on its receipt and any refunds already made. Complete a pre-authorization for no more than the authorized amount and charge any extra as a separate purchase; refund no more than what is left to refund.',
      },
      operator: {
        'zh-CN':
          '在检查明细中将本次金额与原交易及其已完成、已退货金额进行比较。如某商户经常超额完成预授权，可按其行业（酒店、租车等）评估设置上浮比例；反复超额退货的情况应交由风控人员核查。',
        en: 'Compare the amount with the original and its earlier completions and refunds in the checks. A merchant that often completes above the hold may need a tolerance for its category (hotels, car rental); repeated over-refunds are for risk staff to examine.',
      },
    },
    retry: DO_NOT_RETRY,
  },
  void_window_closed: {
    code: 'void_window_closed',
    family: 'data',
    isoCode: '12',
    cupCode: '22',
    title: { 'zh-CN': '已超过撤销期限', en: 'Too late to void' },
    explanation: {
      'zh-CN':
        '撤销仅适用于当前未结算批次内的交易，通常须在交易当日办理。该交易已结算，无法再撤销；如需退还款项，请办理退货。',
      en: 'A void is only possible for a transaction in the current, unsettled batch, normally on the same day. This transaction has been settled and can no longer be voided; a refund is the way to return the money.',
    },
    remediation: {
      cardholder: {
        'zh-CN':
          '本次操作未对您的卡扣款或退款。商户可改为办理退货，退货款项一般需要几个工作日才能退回您的账户。',
        en: 'This attempt neither charged nor refunded your card. The merchant can return your money with a refund instead; a refund can take a few working days to reach your account.',
      },
      merchant: {
        'zh-CN': '请改为办理退货（而非撤销），并输入原交易签购单上的参考号和交易日期。',
        en: 'Do a refund instead of a void, with the reference number and date from the original receipt.',
      },
      operator: {
        'zh-CN':
          '在检查明细中查看原交易的批次号和结算日期。如商户经常在隔日发起撤销，应在培训中提醒：撤销仅限当批次交易，其余情况一律办理退货。',
        en: "Check the original's batch and settlement date in the checks. If merchants often try late voids, make it part of their training: a void is for the current batch only, a refund for everything else.",
      },
    },
    retry: DO_NOT_RETRY,
  },
  duplicate_mismatch: {
    code: 'duplicate_mismatch',
    family: 'data',
    isoCode: '94',
    cupCode: null,
    title: { 'zh-CN': '重复交易（内容不一致）', en: 'Duplicate with different content' },
    explanation: {
      'zh-CN':
        '系统已收到过同一终端、同一凭证号（系统跟踪号）和同一传输时间的交易，但本次内容（金额、卡号或交易类型）与之不同。真正的重发会收到原交易的应答；以相同标识发送的不同交易将被拒绝，以免重复处理或相互混淆。',
      en: 'A transaction with the same terminal, trace number (STAN) and transmission time was already received, with different content (amount, card or type). A true retransmission gets the original answer; a different transaction under the same key is refused so that nothing is processed twice or mixed up.',
    },
    remediation: {
      cardholder: {
        'zh-CN': '本次交易未扣款。再次支付前，请收银员先确认之前的交易是否已成功，以免重复扣款。',
        en: 'This attempt did not charge your card. Before paying again, ask the cashier to check whether the earlier payment went through, so that you are not charged twice.',
      },
      merchant: {
        'zh-CN':
          '请先查询（或重打）该终端上一笔交易，确认其是否成功，再发起新交易。如再次出现，说明终端重复使用了凭证号：请重启终端并重新签到，仍未解决请联系收单机构。',
        en: 'Look up (or reprint) the last transaction on this terminal and check whether it succeeded before starting a new one. If this happens again, the terminal is reusing trace numbers: restart it and sign on again, and call your acquirer if it persists.',
      },
      operator: {
        'zh-CN':
          '在检查明细中比对两笔报文。终端重复使用凭证号（如重置或升级异常后）需由厂商修复计数器；多个终端大量出现此问题，可能存在报文重放或伪造。',
        en: 'Compare the two messages in the checks. A terminal that reuses trace numbers (after a reset or a bad update) needs its counter fixed by the vendor; many such declines across terminals may mean replayed or forged messages.',
      },
    },
    retry: DO_NOT_RETRY,
  },

  // ---------------------------------------------------------------------------------------
  // card
  // ---------------------------------------------------------------------------------------
  card_not_found: {
    code: 'card_not_found',
    family: 'card',
    isoCode: '14',
    cupCode: null,
    title: { 'zh-CN': '无此卡号', en: 'Card not found' },
    explanation: {
      'zh-CN': '卡号格式正确，但发卡方没有该卡号的记录：该卡从未发行，或其账户已销户。',
      en: "The card number is well formed, but the card's issuer has no record of it: the card was never issued, or its account has been closed.",
    },
    remediation: {
      cardholder: {
        'zh-CN': '您的卡未被扣款。请换用其他卡，并联系该卡的发卡行核实卡片状态。',
        en: 'Your card was not charged. Please use another card, and ask the bank that issued this one to check its status.',
      },
      merchant: {
        'zh-CN':
          '请优先插卡读取芯片重新读卡，排除读卡错误。如仍失败，请顾客换卡或改用其他支付方式。',
        en: 'Read the card again, by its chip if possible, to rule out a misread. If it fails again, ask for another card or payment method.',
      },
      operator: {
        'zh-CN':
          '发卡处理模式下，按卡标识查询卡片表，确认该卡是否已注销或尚未导入。如同一终端或商户出现大量不存在的卡号，可能有人在试探卡号，应通知风控人员。',
        en: 'In issuer-processor mode, look the card token up in the card table: a closed card, or one not loaded yet. Many unknown cards from one terminal or merchant suggest card-number testing: alert risk staff.',
      },
    },
    retry: DO_NOT_RETRY,
  },
  expired_card: {
    code: 'expired_card',
    family: 'card',
    isoCode: '54',
    cupCode: null,
    title: { 'zh-CN': '卡片已过期', en: 'Expired card' },
    explanation: {
      'zh-CN': '该卡已超过有效期，无法继续使用。发卡行通常会在卡片到期前寄发新卡。',
      en: "The card's expiry date has passed, so it can no longer be used. Banks usually send a new card before the old one expires.",
    },
    remediation: {
      cardholder: {
        'zh-CN': '请使用发卡行寄发的新卡或其他卡支付。如未收到新卡，请联系发卡行。',
        en: 'Use the new card your bank sent you, or another card. If you have not received a new card, contact your bank.',
      },
      merchant: {
        'zh-CN': '请查看卡面上的有效期，并请顾客换用其他卡或其他支付方式。',
        en: 'Check the expiry date printed on the card, and ask for another card or payment method.',
      },
      operator: {
        'zh-CN':
          '一般无需处理。如未过期的卡也被以此原因拒绝，检查终端上送的有效期字段（格式应为YYMM）以及系统的业务日期。',
        en: "Usually nothing to do. If cards that have not expired are declined this way, check the expiry field the terminal sends (it must be YYMM) and the switch's business date.",
      },
    },
    retry: DO_NOT_RETRY,
  },
  expiry_mismatch: {
    code: 'expiry_mismatch',
    family: 'card',
    isoCode: '54',
    cupCode: null,
    title: { 'zh-CN': '卡片有效期不符', en: 'Expiry date does not match' },
    explanation: {
      'zh-CN':
        '交易中的卡片有效期与该卡号登记的有效期不一致。常见原因是使用了已换发的旧卡（新卡卡号相同但有效期不同），或手工输入有效期时出错。',
      en: 'The expiry date in the request differs from the one on record for this card number. The usual cause is an old card that has been replaced (same number, new expiry date), or an expiry date keyed in wrongly.',
    },
    remediation: {
      cardholder: {
        'zh-CN': '如发卡行已为您换发新卡，请使用新卡，旧卡已无法使用；否则请联系发卡行。',
        en: 'If your bank has sent you a new card, use it: the old one no longer works. Otherwise, contact your bank.',
      },
      merchant: {
        'zh-CN':
          '如顾客持有新换发的卡，请改用新卡。如有效期为手工输入，请核对月份和年份后重新输入；否则请顾客改用其他支付方式。',
        en: 'If the customer has a newer card, use it. If you typed the expiry date in, check the month and year and enter it again. Otherwise ask for another payment method.',
      },
      operator: {
        'zh-CN':
          '核对卡片记录中的有效期以及是否已换发新卡。同一张卡反复出现有效期不符，或某终端多张卡出现此情况，可能是用猜测数据伪造的卡片，应通知风控人员。',
        en: 'Check the expiry on the card record and whether a replacement was issued. Repeated mismatches on one card, or on many cards at one terminal, can mean counterfeit cards made with guessed data: alert risk staff.',
      },
    },
    retry: DO_NOT_RETRY,
  },
  card_inactive: {
    code: 'card_inactive',
    family: 'card',
    isoCode: '62',
    cupCode: null,
    title: { 'zh-CN': '卡片未激活或已冻结', en: 'Card not active' },
    explanation: {
      'zh-CN':
        '该卡当前不是正常可用状态：尚未激活、因长期未使用转为睡眠卡，或已被发卡行冻结。须由发卡行恢复正常状态后方可使用。',
      en: 'The card is not in an active state: it has not been activated yet, has become dormant after long disuse, or has been frozen by its issuer. Only the issuer can make it usable again.',
    },
    remediation: {
      cardholder: {
        'zh-CN':
          '请联系发卡行（客服电话见卡片背面）办理激活或解冻后再使用，目前请先换用其他卡支付。',
        en: 'Contact your bank (the phone number is on the back of the card) to activate or unfreeze the card; meanwhile pay with another card.',
      },
      merchant: {
        'zh-CN': '请顾客换用其他卡或其他支付方式。该卡需由发卡行激活或解冻，收银台无法处理。',
        en: "Ask for another card or payment method. The customer's bank has to activate or unfreeze the card; it cannot be fixed at the till.",
      },
      operator: {
        'zh-CN':
          '发卡处理模式下，查看该卡的状态及变更记录（激活、冻结及操作人）。收单转接模式下此为发卡行的应答，收单侧无需处理。',
        en: "In issuer-processor mode, check the card's status and its history (activation, freeze, and by whom). In acquirer-switch mode this is the issuer's answer: nothing to do on the acquiring side.",
      },
    },
    retry: DO_NOT_RETRY,
  },
  card_lost: {
    code: 'card_lost',
    family: 'card',
    isoCode: '41',
    cupCode: null,
    title: { 'zh-CN': '挂失卡', en: 'Card reported lost' },
    explanation: {
      'zh-CN': '该卡已向发卡行挂失，不能再使用。',
      en: 'The card has been reported lost to its issuer and can no longer be used.',
    },
    remediation: {
      cardholder: {
        'zh-CN':
          '如这是您本人的卡且已找回，请联系发卡行：已挂失的卡通常需要补办新卡。目前请换用其他卡支付。',
        en: 'If this is your card and you have found it again, contact your bank: a card reported lost usually has to be replaced. Meanwhile pay with another card.',
      },
      merchant: {
        'zh-CN':
          '请勿受理该卡。礼貌地请顾客改用其他支付方式，不要当面指责。仅在确保安全的前提下，按收单机构的要求处理该卡（如暂扣卡片）。',
        en: "Do not accept the card. Ask politely for another payment method, without accusing anyone. Follow your acquirer's instructions about keeping the card only if it is safe to do so.",
      },
      operator: {
        'zh-CN':
          '单笔拒绝无需处理。如同一商户或终端短时间内多次出现挂失卡或被盗卡，属于风险信号，应通知风控人员。',
        en: 'Nothing to do for a single decline. Several lost or stolen cards tried at one merchant or terminal in a short time are a warning sign: alert risk staff.',
      },
    },
    retry: DO_NOT_RETRY,
  },
  card_stolen: {
    code: 'card_stolen',
    family: 'card',
    isoCode: '43',
    cupCode: null,
    title: { 'zh-CN': '被盗卡', en: 'Card reported stolen' },
    explanation: {
      'zh-CN': '该卡已向发卡行报告被盗，不能再使用。',
      en: 'The card has been reported stolen to its issuer and can no longer be used.',
    },
    remediation: {
      cardholder: {
        'zh-CN': '如您是持卡人本人，请联系发卡行。目前请换用其他卡支付。',
        en: 'If you are the cardholder, contact your bank. Meanwhile pay with another card.',
      },
      merchant: {
        'zh-CN':
          '请勿受理该卡，也不要交付商品。保持冷静，不要与顾客发生冲突，请其改用其他支付方式。如感到不安全，请勿采取进一步行动，事后再向收单机构报告。',
        en: 'Do not accept the card and do not hand over the goods. Stay calm, do not confront the customer, and ask for another payment method. If you feel unsafe, do nothing more and report it to your acquirer afterwards.',
      },
      operator: {
        'zh-CN':
          '单笔拒绝无需处理；如商户报告了相关情况，转交发卡行。如同一商户或终端短时间内多次出现挂失卡或被盗卡，应通知风控人员。',
        en: 'Nothing to do for a single decline; if the merchant reports details, pass them to the issuer. Several lost or stolen cards tried at one merchant or terminal in a short time are a warning sign: alert risk staff.',
      },
    },
    retry: DO_NOT_RETRY,
  },
  card_not_permitted_at_merchant: {
    code: 'card_not_permitted_at_merchant',
    family: 'card',
    isoCode: '57',
    cupCode: null,
    title: { 'zh-CN': '该卡不能在此类商户使用', en: 'Card not accepted for this kind of merchant' },
    explanation: {
      'zh-CN':
        '该卡种不允许在此类商户（商户类别码MCC）使用，例如该行业不允许使用信用卡，或预付卡、公务卡仅限特定用途消费。',
      en: 'This card product may not be used at merchants of this category (MCC): for example a credit card in a category where credit cards are not allowed, or a prepaid or corporate card limited to certain kinds of spending.',
    },
    remediation: {
      cardholder: {
        'zh-CN': '您的卡未被扣款。该卡不能用于此类消费，请改用其他卡（如借记卡）或其他支付方式。',
        en: 'Your card was not charged. This card cannot be used for this kind of purchase: please pay with another card, such as a debit card, or another way.',
      },
      merchant: {
        'zh-CN': '请顾客换用其他卡（借记卡通常可以受理）或其他支付方式。',
        en: 'Ask for another card (a debit card usually works) or another payment method.',
      },
      operator: {
        'zh-CN':
          '在检查明细中核对商户的MCC以及该卡种允许的商户类别。如商户MCC与其实际经营不符，审核后予以更正；卡种限制本身来自卡组织或发卡行的规定。',
        en: "Check the merchant's MCC and the categories allowed for the card product in the checks. If the MCC does not fit the merchant's real business, correct it after review; the restriction itself comes from card-scheme or issuer policy.",
      },
    },
    retry: DO_NOT_RETRY,
  },

  // ---------------------------------------------------------------------------------------
  // merchant and terminal
  // ---------------------------------------------------------------------------------------
  unknown_merchant: {
    code: 'unknown_merchant',
    family: 'merchant',
    isoCode: '03',
    cupCode: null,
    title: { 'zh-CN': '无效商户', en: 'Merchant not registered' },
    explanation: {
      'zh-CN': '交易中的商户号未在收单机构登记，无法为其受理交易。',
      en: 'The merchant number in the request is not registered with the acquirer, so no transaction can be accepted for it.',
    },
    remediation: {
      cardholder: CARDHOLDER_MERCHANT_SIDE,
      merchant: {
        'zh-CN':
          '请核对签购单或终端设置中的商户号与您和收单机构签约的商户号是否一致，并致电收单机构：终端参数可能有误。',
        en: "Compare the merchant number on your receipts or in the terminal settings with the one in your acquirer agreement, and call your acquirer: the terminal's parameters may be wrong.",
      },
      operator: {
        'zh-CN':
          '在商户库中查询该商户号。如商户存在但商户号不同，修正终端参数；如查无此商户，查明该终端由谁布放。上送未知商户号的终端可能已被他人非法使用。',
        en: "Look the merchant number up in the merchant registry. If the merchant exists under another number, fix the terminal's parameters; if it does not exist, find out who deployed the terminal. A terminal sending an unknown merchant number may be in the wrong hands.",
      },
    },
    retry: DO_NOT_RETRY,
  },
  merchant_pending_audit: {
    code: 'merchant_pending_audit',
    family: 'merchant',
    isoCode: '03',
    cupCode: null,
    title: { 'zh-CN': '商户审核中', en: 'Merchant pending approval' },
    explanation: {
      'zh-CN': '该商户已向收单机构申请入网，但入网审核尚未完成，暂不能受理银行卡交易。',
      en: 'The merchant has applied to the acquirer, but its onboarding review is not complete, so it may not take card payments yet.',
    },
    remediation: {
      cardholder: CARDHOLDER_MERCHANT_SIDE,
      merchant: {
        'zh-CN':
          '您的商户入网审核尚未完成。请向收单机构确认尚需补充的资料或待完成的核查，审核通过后即可受理刷卡。',
        en: 'Your merchant account is still under review. Ask your acquirer which documents or checks are outstanding; card payments work once the review is approved.',
      },
      operator: {
        'zh-CN':
          '查看该商户的入网审核记录：待补资料、实地核查、证照核验等。即使商户催促，也不得在审核完成前开通交易。',
        en: "Check the merchant's onboarding record: outstanding documents, site visit, licence checks. Do not switch it on before the review is complete, however urgent the merchant says it is.",
      },
    },
    retry: DO_NOT_RETRY,
  },
  merchant_restricted: {
    code: 'merchant_restricted',
    family: 'merchant',
    isoCode: '58',
    cupCode: null,
    title: { 'zh-CN': '商户交易受限', en: 'Merchant restricted' },
    explanation: {
      'zh-CN':
        '收单机构已对该商户设置交易限制：该商户仍可办理部分交易，但不能办理本笔交易（例如某类卡、某种交易类型或某一金额区间已被关闭，通常是因为审核未结束或资料不全）。',
      en: 'The acquirer has restricted this merchant: it may still take some transactions, but not this one (a card type, a transaction type or an amount range has been switched off for it, usually while a review is open or documents are missing).',
    },
    remediation: {
      cardholder: CARDHOLDER_MERCHANT_SIDE,
      merchant: {
        'zh-CN':
          '收单机构已限制您商户的部分交易。请致电收单机构，了解受限的交易范围以及解除限制所需的条件（通常是补充或更新资料）。',
        en: 'Your acquirer has restricted some transactions on your account. Call your acquirer to learn which ones and what is needed to lift the restriction (often new or updated documents).',
      },
      operator: {
        'zh-CN':
          '查看该商户的限制设置：限制范围、设置时间、原因及操作人（见审计日志）。仅在限制原因消除后方可解除。',
        en: "Check the merchant's restriction: what it covers, when and why it was set, and by whom (see the audit log). Lift it only once its cause is resolved.",
      },
    },
    retry: DO_NOT_RETRY,
  },
  merchant_suspended: {
    code: 'merchant_suspended',
    family: 'merchant',
    isoCode: '03',
    cupCode: null,
    title: { 'zh-CN': '商户已暂停受理', en: 'Merchant suspended' },
    explanation: {
      'zh-CN': '收单机构已暂停该商户的银行卡受理，解除暂停之前不能办理任何刷卡交易。',
      en: 'The acquirer has suspended this merchant: no card transactions are accepted until the suspension is lifted.',
    },
    remediation: {
      cardholder: CARDHOLDER_MERCHANT_SIDE,
      merchant: {
        'zh-CN':
          '您的商户已被暂停刷卡受理。请致电收单机构了解原因及需办理的手续，在此期间请使用其他方式收款。',
        en: 'Card acceptance on your account is suspended. Call your acquirer to find out why and what you need to do; take payment by other means meanwhile.',
      },
      operator: {
        'zh-CN':
          '在审计日志中查看暂停原因及处理记录。如被暂停的商户仍持续发起交易，确认其已收到通知，并排查其终端是否被挪作他用。',
        en: 'Look up the reason for the suspension and its history in the audit log. If a suspended merchant keeps sending transactions, make sure it has been told, and check that its terminals are not being used by someone else.',
      },
    },
    retry: DO_NOT_RETRY,
  },
  unknown_terminal: {
    code: 'unknown_terminal',
    family: 'merchant',
    isoCode: '58',
    cupCode: '97',
    title: { 'zh-CN': '终端未登记', en: 'Terminal not registered' },
    explanation: {
      'zh-CN': '交易中的终端号未在收单机构登记。',
      en: 'The terminal ID in the request is not registered with the acquirer.',
    },
    remediation: {
      cardholder: CARDHOLDER_MERCHANT_SIDE,
      merchant: {
        'zh-CN':
          '请在终端设置或签购单上查看终端号，并致电收单机构：新装或更换的终端可能尚未登记，也可能终端参数有误。',
        en: 'Find the terminal ID in the terminal settings or on a receipt and call your acquirer: a new or replaced terminal may not be registered yet, or its parameters may be wrong.',
      },
      operator: {
        'zh-CN':
          '在终端库中查询该终端号。如为新装或更换的终端，完成登记并绑定商户；如无法确认来源，按非法终端处理，核查清楚前不得开通。',
        en: 'Look the terminal ID up in the terminal registry. If it is a new or replacement terminal, register it and bind it to its merchant; if nobody can account for it, treat it as unauthorized and investigate before enabling anything.',
      },
    },
    retry: DO_NOT_RETRY,
  },
  terminal_inactive: {
    code: 'terminal_inactive',
    family: 'merchant',
    isoCode: '58',
    cupCode: null,
    title: { 'zh-CN': '终端未启用或已停用', en: 'Terminal not active' },
    explanation: {
      'zh-CN':
        '该终端已登记，但未处于启用状态：尚未开通交易，或已被收单机构停用（例如终端已退回或已更换）。',
      en: 'The terminal is registered but not active: it has not been switched on for transactions yet, or the acquirer has deactivated it (after it was returned or replaced, for example).',
    },
    remediation: {
      cardholder: CARDHOLDER_MERCHANT_SIDE,
      merchant: {
        'zh-CN': '请持终端号致电收单机构：新装终端可能尚待启用；已被更换的旧终端不应继续使用。',
        en: 'Call your acquirer with the terminal ID: a newly installed terminal may still need activating, and a terminal that has been replaced must no longer be used.',
      },
      operator: {
        'zh-CN':
          '查看该终端的状态及变更记录。如已完成装机，可予以启用；如已停用，查明停用的终端为何仍在发起交易（可能存在移机或被挪用）。',
        en: "Check the terminal's status and history. If its installation is complete, activate it; if it was deactivated, find out why a deactivated terminal is still sending transactions (it may have been moved or misused).",
      },
    },
    retry: DO_NOT_RETRY,
  },
  terminal_merchant_mismatch: {
    code: 'terminal_merchant_mismatch',
    family: 'merchant',
    isoCode: '58',
    cupCode: null,
    title: { 'zh-CN': '终端与商户不匹配', en: 'Terminal not bound to this merchant' },
    explanation: {
      'zh-CN': '该终端登记绑定的商户与交易中的商户号不一致。每台终端只能为其绑定的商户收款。',
      en: 'The terminal is registered to a different merchant from the one named in the request. A terminal may only take payments for the merchant it is bound to.',
    },
    remediation: {
      cardholder: CARDHOLDER_MERCHANT_SIDE,
      merchant: {
        'zh-CN':
          '请核对终端设置中的商户号和终端号，然后重新签到以更新参数。如该终端来自其他门店，请先致电收单机构重新绑定后再使用。',
        en: 'Check the merchant number and terminal ID in the terminal settings, then sign on again to refresh its parameters. If the terminal came from another shop, call your acquirer to bind it again before using it.',
      },
      operator: {
        'zh-CN':
          '将上送的商户号与终端绑定的商户进行比对。终端未经批准被移至其他商户或地点使用（移机）可能被用于套现：与商户核实情况，如无法说明原因，应通知风控人员。',
        en: "Compare the merchant number sent with the terminal's bound merchant. A terminal moved to another merchant or place without approval can be used for cash-out: check with the merchant, and alert risk staff if the move is unexplained.",
      },
    },
    retry: DO_NOT_RETRY,
  },

  // ---------------------------------------------------------------------------------------
  // limit
  // ---------------------------------------------------------------------------------------
  transaction_amount_limit_exceeded: {
    code: 'transaction_amount_limit_exceeded',
    family: 'limit',
    isoCode: '61',
    cupCode: null,
    title: { 'zh-CN': '超出单笔交易限额', en: 'Above the single-transaction limit' },
    explanation: {
      'zh-CN':
        '交易金额超过了适用的单笔交易限额。检查明细中会列明具体限额及其设定方：卡片自身的限额由发卡行设定，按卡种和商户类别设置的限额由收单机构设定。',
      en: "The amount is above the single-transaction limit that applies here. The checks name the limit and who set it: the card's issuer for the card's own limit, or the acquirer for a limit by card type and merchant category.",
    },
    remediation: {
      cardholder: {
        'zh-CN':
          '您的卡未被扣款。本笔金额超过单笔支付限额，请改用其他卡或其他支付方式。如需了解或调整卡片自身的限额，请咨询发卡行。',
        en: "Your card was not charged. The amount is above the limit for a single payment: please use another card or payment method. Your bank can tell you your card's own limits and whether they can be changed.",
      },
      merchant: {
        'zh-CN':
          '请顾客换用其他卡或其他支付方式。请勿将一笔交易拆分为多笔小额刷卡以规避限额，这违反银行卡受理规定。',
        en: 'Ask for another card or payment method. Do not split one sale into several smaller card payments to stay under the limit: card acceptance rules forbid it.',
      },
      operator: {
        'zh-CN':
          '在检查明细中查看适用的限额项（卡种、商户类别）及其数值。如正常经营的商户经常触及该限额，应与风控人员共同评估后再调整，不应仅凭商户要求提额。',
        en: 'See in the checks which limit applied (card type, merchant category) and its value. If a genuine merchant often reaches it, review the limit together with risk staff rather than raising it on request.',
      },
    },
    retry: DO_NOT_RETRY,
  },
  card_daily_amount_limit_exceeded: {
    code: 'card_daily_amount_limit_exceeded',
    family: 'limit',
    isoCode: '61',
    cupCode: null,
    title: { 'zh-CN': '超出卡片当日累计限额', en: "Card's daily amount limit reached" },
    explanation: {
      'zh-CN':
        '加上本笔交易，该卡当日累计交易金额将超过其日累计限额。该限额由发卡行设定，或由持卡人通过发卡行自行设置。',
      en: "With this transaction the card's spending today would go over its daily amount limit, which the card's issuer sets (or the cardholder sets through the issuer).",
    },
    remediation: {
      cardholder: {
        'zh-CN':
          '您的卡未被扣款。该卡今日累计消费已达限额，请换用其他卡，或明日再试。您可以通过发卡行手机银行或客服电话查询或调整限额。',
        en: "Your card was not charged. Your card's daily spending limit has been reached: pay with another card, or try again tomorrow. You can check or change the limit in your bank's app or by calling your bank.",
      },
      merchant: {
        'zh-CN': '请顾客换用其他卡或其他支付方式，请勿在该卡上拆分多笔刷卡。',
        en: 'Ask for another card or payment method. Do not split the amount into several payments on this card.',
      },
      operator: {
        'zh-CN':
          '在检查明细中查看当日已用金额与限额。该限额属于卡片本身，请引导持卡人联系发卡行；发卡处理模式下，仅可根据经身份核验的持卡人申请进行调整。',
        en: "See today's usage and the limit in the checks. The limit belongs to the card: refer the cardholder to the issuer. In issuer-processor mode, change it only at the request of a cardholder whose identity has been checked.",
      },
    },
    retry: DO_NOT_RETRY,
  },
  card_daily_count_limit_exceeded: {
    code: 'card_daily_count_limit_exceeded',
    family: 'limit',
    isoCode: '65',
    cupCode: null,
    title: { 'zh-CN': '超出卡片当日交易次数', en: "Card's daily transaction count reached" },
    explanation: {
      'zh-CN': '该卡当日交易笔数已达发卡行规定的每日上限。',
      en: 'The card has already made as many transactions today as its issuer allows in one day.',
    },
    remediation: {
      cardholder: {
        'zh-CN':
          '您的卡未被扣款。该卡今日交易次数已达上限，请换用其他卡，或明日再试。如需了解或调整该限制，请咨询发卡行。',
        en: 'Your card was not charged. Your card has reached the number of payments allowed per day: pay with another card, or try again tomorrow. Your bank can tell you the limit and whether it can be changed.',
      },
      merchant: {
        'zh-CN': '请顾客换用其他卡或其他支付方式。',
        en: 'Ask for another card or payment method.',
      },
      operator: {
        'zh-CN':
          '在检查明细中查看当日已用笔数与限制，并引导持卡人联系发卡行。同一张卡在同一商户频繁小额交易，可能是拆单或套现的迹象，如反复出现应交由风控人员核查。',
        en: "See today's count and the limit in the checks, and refer the cardholder to the issuer. Many small payments by one card at one merchant can be split sales or cash-out: if the pattern repeats, pass it to risk staff.",
      },
    },
    retry: DO_NOT_RETRY,
  },
  merchant_daily_amount_limit_exceeded: {
    code: 'merchant_daily_amount_limit_exceeded',
    family: 'limit',
    isoCode: '61',
    cupCode: null,
    title: { 'zh-CN': '超出商户当日收款限额', en: "Merchant's daily amount limit reached" },
    explanation: {
      'zh-CN':
        '加上本笔交易，该商户当日刷卡收款累计金额将超过收单机构为其设定的日累计限额。这是收单机构对商户设置的限额，不是发卡行的限额，持卡人的卡片本身没有问题。',
      en: "With this transaction the merchant's card takings today would go over the daily amount limit the acquirer set for this merchant. This is the acquirer's limit on the merchant, not the card's bank's limit: the card itself is fine.",
    },
    remediation: {
      cardholder: {
        'zh-CN':
          '您的卡未被扣款，卡片本身没有问题。该商户今日刷卡收款已达上限，请改用其他支付方式，无需联系发卡行。',
        en: 'Your card was not charged and there is nothing wrong with your card. This merchant has reached its daily limit for card payments: please use another payment method. There is no need to contact your bank.',
      },
      merchant: {
        'zh-CN':
          '您的商户今日刷卡收款已达收单机构设定的日限额，今日剩余交易请改用其他方式收款。如正常经营需要更高限额，请凭近期经营流水向收单机构申请调整。',
        en: 'Your shop has reached the daily card-takings limit your acquirer set: take payment by other means for the rest of the day. If your normal business needs a higher limit, apply to your acquirer with your recent turnover.',
      },
      operator: {
        'zh-CN':
          '将该商户当日收款与其日常经营流水进行比较。收款突增可能是业务增长，也可能是套现，提额前应由风控人员审核。',
        en: "Compare today's takings with the merchant's usual turnover. A sudden rise can be real growth or cash-out: have risk staff review it before raising the limit.",
      },
    },
    retry: DO_NOT_RETRY,
  },
  merchant_daily_count_limit_exceeded: {
    code: 'merchant_daily_count_limit_exceeded',
    family: 'limit',
    isoCode: '65',
    cupCode: null,
    title: { 'zh-CN': '超出商户当日交易笔数', en: "Merchant's daily transaction count reached" },
    explanation: {
      'zh-CN':
        '该商户当日刷卡交易笔数已达收单机构为其设定的每日上限。这是收单机构对商户设置的限制，不是发卡行的限制，持卡人的卡片本身没有问题。',
      en: "The merchant has already taken as many card payments today as the acquirer allows it per day. This is the acquirer's limit on the merchant, not the card's bank's limit: the card itself is fine.",
    },
    remediation: {
      cardholder: {
        'zh-CN':
          '您的卡未被扣款，卡片本身没有问题。该商户今日刷卡笔数已达上限，请改用其他支付方式，无需联系发卡行。',
        en: 'Your card was not charged and there is nothing wrong with your card. This merchant has reached its daily number of card payments: please use another payment method. There is no need to contact your bank.',
      },
      merchant: {
        'zh-CN':
          '您的商户今日刷卡笔数已达收单机构设定的上限，今日剩余交易请改用其他方式收款。如正常经营需要提高笔数限制，请向收单机构申请调整。',
        en: 'Your shop has reached the daily number of card payments your acquirer set: take payment by other means for the rest of the day. If your normal business needs more, apply to your acquirer.',
      },
      operator: {
        'zh-CN':
          '将该商户当日交易笔数与其日常情况进行比较。笔数突增、单笔金额接近或略低于限额，可能是拆单或套现，调整前应由风控人员审核。',
        en: "Compare today's count with the merchant's usual pattern. A jump in count, or many amounts just under a limit, can be split sales or cash-out: have risk staff review it before changing the limit.",
      },
    },
    retry: DO_NOT_RETRY,
  },
  terminal_daily_amount_limit_exceeded: {
    code: 'terminal_daily_amount_limit_exceeded',
    family: 'limit',
    isoCode: '61',
    cupCode: null,
    title: { 'zh-CN': '超出终端当日收款限额', en: "Terminal's daily amount limit reached" },
    explanation: {
      'zh-CN':
        '加上本笔交易，该终端当日刷卡收款累计金额将超过收单机构为其设定的日累计限额。这是收单机构对终端设置的限额，不是发卡行的限额，持卡人的卡片本身没有问题。',
      en: "With this transaction the terminal's card takings today would go over the daily amount limit the acquirer set for this terminal. This is the acquirer's limit on the terminal, not the card's bank's limit: the card itself is fine.",
    },
    remediation: {
      cardholder: {
        'zh-CN':
          '您的卡未被扣款，卡片本身没有问题。该收银终端今日收款已达上限，请使用商户的其他收银终端或其他支付方式，无需联系发卡行。',
        en: "Your card was not charged and there is nothing wrong with your card. This payment terminal has reached its daily limit: please pay at another of the shop's terminals or another way. There is no need to contact your bank.",
      },
      merchant: {
        'zh-CN':
          '该终端今日收款已达收单机构设定的日限额。如有其他已登记的终端，可改用其他终端收款，否则请使用其他方式收款。如正常经营需要更高限额，请向收单机构申请调整。',
        en: 'This terminal has reached the daily limit your acquirer set. Use another of your registered terminals if you have one, or take payment by other means. If your normal business needs a higher limit, apply to your acquirer.',
      },
      operator: {
        'zh-CN':
          '将该终端当日收款与其日常情况及所属商户的其他终端进行比较。单台终端收款突增可能是移机或套现，调整前应由风控人员审核。',
        en: "Compare today's takings with the terminal's usual pattern and with the merchant's other terminals. A sudden rise on one terminal can mean it has been moved or is used for cash-out: have risk staff review it before raising the limit.",
      },
    },
    retry: DO_NOT_RETRY,
  },
  terminal_daily_count_limit_exceeded: {
    code: 'terminal_daily_count_limit_exceeded',
    family: 'limit',
    isoCode: '65',
    cupCode: null,
    title: { 'zh-CN': '超出终端当日交易笔数', en: "Terminal's daily transaction count reached" },
    explanation: {
      'zh-CN':
        '该终端当日刷卡交易笔数已达收单机构为其设定的每日上限。这是收单机构对终端设置的限制，不是发卡行的限制，持卡人的卡片本身没有问题。',
      en: "The terminal has already taken as many card payments today as the acquirer allows it per day. This is the acquirer's limit on the terminal, not the card's bank's limit: the card itself is fine.",
    },
    remediation: {
      cardholder: {
        'zh-CN':
          '您的卡未被扣款，卡片本身没有问题。该收银终端今日交易笔数已达上限，请使用商户的其他收银终端或其他支付方式，无需联系发卡行。',
        en: "Your card was not charged and there is nothing wrong with your card. This payment terminal has reached its daily number of payments: please pay at another of the shop's terminals or another way. There is no need to contact your bank.",
      },
      merchant: {
        'zh-CN':
          '该终端今日刷卡笔数已达收单机构设定的上限。如有其他已登记的终端，可改用其他终端收款，否则请使用其他方式收款。如正常经营需要提高限制，请向收单机构申请调整。',
        en: 'This terminal has reached the daily number of card payments your acquirer set. Use another of your registered terminals if you have one, or take payment by other means. If your normal business needs more, apply to your acquirer.',
      },
      operator: {
        'zh-CN':
          '将该终端当日交易笔数与其日常情况进行比较。笔数突增、大量整数或接近限额的金额，可能是拆单或套现，调整前应由风控人员审核。',
        en: "Compare today's count with the terminal's usual pattern. A jump in count, or many round amounts or amounts near a limit, can be split sales or cash-out: have risk staff review it before changing the limit.",
      },
    },
    retry: DO_NOT_RETRY,
  },

  // ---------------------------------------------------------------------------------------
  // risk: the cardholder's text says only what to do, never why risk control acted
  // ---------------------------------------------------------------------------------------
  card_blocked: {
    code: 'card_blocked',
    family: 'risk',
    isoCode: '62',
    cupCode: null,
    title: { 'zh-CN': '该卡已被限制交易', en: 'Card blocked' },
    explanation: {
      'zh-CN':
        '该卡已被列入风控黑名单，相关交易一律拒绝。检查明细中列明了列入的时间、来源及原因，仅供内部人员查看。',
      en: 'The card is on the block list kept by risk control, so its transactions are refused. The checks show when, by whom and why it was listed; that is for staff only.',
    },
    remediation: {
      cardholder: {
        'zh-CN':
          '您的卡未被扣款。该卡目前无法在此使用，请联系发卡行咨询，目前请换用其他卡或其他支付方式。',
        en: 'Your card was not charged. This card cannot be used here at the moment: please contact your card-issuing bank, and meanwhile pay with another card or another way.',
      },
      merchant: {
        'zh-CN': '请勿再次尝试该卡。礼貌地请顾客换用其他卡或其他支付方式，无需向顾客解释具体原因。',
        en: 'Do not try this card again. Ask politely for another card or payment method, without going into the reason with the customer.',
      },
      operator: {
        'zh-CN':
          '查看该卡的黑名单记录：列入原因、来源及有效期。如属误列，按规定流程复核后移除（操作将记入审计日志）；如列入无误，则无需处理。',
        en: "Check the card's block-list entry: reason, source and expiry. If it was listed by mistake, remove it through the usual review (the change goes to the audit log); if the entry is right, nothing to do.",
      },
    },
    retry: DO_NOT_RETRY,
  },
  bin_blocked: {
    code: 'bin_blocked',
    family: 'risk',
    isoCode: '57',
    cupCode: null,
    title: { 'zh-CN': '该卡号段暂停受理', en: 'Card range not accepted' },
    explanation: {
      'zh-CN':
        '该卡所属的整个卡号段（BIN）已被风控限制，例如该号段的卡片近期被集中盗用，或收单机构不受理该卡产品。',
      en: 'The whole number range (BIN) of this card is blocked by risk control: for example after an attack with cards of that range, or because the acquirer does not accept that card product.',
    },
    remediation: {
      cardholder: {
        'zh-CN':
          '您的卡未被扣款。该卡目前无法在此使用，请改用其他卡或其他支付方式；如有疑问，请联系发卡行。',
        en: 'Your card was not charged. This card cannot be used here at the moment: please pay with another card or another way, and contact your card-issuing bank if you have questions.',
      },
      merchant: {
        'zh-CN': '请顾客换用其他卡或其他支付方式，其他卡不受影响。',
        en: 'Ask for another card or payment method; other cards are not affected.',
      },
      operator: {
        'zh-CN':
          '查看该卡号段的限制记录：原因、设置人及有效期。号段限制会影响该号段的所有持卡人，应确认其仍有必要，可缩小范围（例如仅限特定商户类别），风险消除后及时解除。',
        en: 'Check the BIN block: reason, who set it and until when. A BIN block hits every cardholder of the range: make sure it is still needed, narrow it (to some merchant categories, say) where possible, and lift it when the threat has passed.',
      },
    },
    retry: DO_NOT_RETRY,
  },
  merchant_blocked: {
    code: 'merchant_blocked',
    family: 'risk',
    isoCode: '03',
    cupCode: null,
    title: { 'zh-CN': '商户已被风控限制', en: 'Merchant blocked' },
    explanation: {
      'zh-CN': '该商户已被列入风控黑名单，不能受理任何刷卡交易。',
      en: 'The merchant is on the block list kept by risk control, so no card transactions are accepted for it.',
    },
    remediation: {
      cardholder: CARDHOLDER_MERCHANT_SIDE,
      merchant: {
        'zh-CN':
          '您的商户刷卡受理已被限制。请联系收单机构客户经理了解原因及处理要求，在此期间请使用其他方式收款。',
        en: "Card acceptance on your account is blocked. Contact your acquirer's account manager to learn why and what is required; take payment by other means meanwhile.",
      },
      operator: {
        'zh-CN':
          '查看该商户的黑名单记录及相关风险案件。风控人员结案前保持限制；对商户的答复口径应与风控人员协调一致。',
        en: "Check the merchant's block-list entry and the case behind it. Keep the block until risk staff close the case, and agree with them what the merchant is told.",
      },
    },
    retry: DO_NOT_RETRY,
  },
  terminal_blocked: {
    code: 'terminal_blocked',
    family: 'risk',
    isoCode: '58',
    cupCode: null,
    title: { 'zh-CN': '终端已被风控限制', en: 'Terminal blocked' },
    explanation: {
      'zh-CN': '该终端已被列入风控黑名单，不受理其发起的任何交易。',
      en: 'The terminal is on the block list kept by risk control, so no transactions from it are accepted.',
    },
    remediation: {
      cardholder: CARDHOLDER_MERCHANT_SIDE,
      merchant: {
        'zh-CN':
          '该终端已被限制刷卡受理。请持终端号联系收单机构；在此期间请勿移动或转借该终端，并使用其他方式收款。',
        en: 'This terminal is blocked from taking card payments. Call your acquirer with the terminal ID; meanwhile do not move or lend the terminal, and take payment by other means.',
      },
      operator: {
        'zh-CN':
          '查看该终端的黑名单记录及相关风险案件（例如终端在登记地址以外使用）。风控人员结案前保持限制，必要时安排上门核查。',
        en: "Check the terminal's block-list entry and the case behind it (the terminal used away from its registered place, for example). Keep the block until risk staff close the case, and arrange a site visit if needed.",
      },
    },
    retry: DO_NOT_RETRY,
  },
  suspected_fraud: {
    code: 'suspected_fraud',
    family: 'risk',
    isoCode: '59',
    cupCode: '57',
    title: { 'zh-CN': '交易存在风险', en: 'Declined by risk control' },
    explanation: {
      'zh-CN':
        '风控系统根据卡片、商户或终端近期的交易特征等信息，判断本笔交易存在较高的欺诈或套现风险，予以拦截。检查明细列出了命中的规则及相关指标，仅供内部人员查看，不得向持卡人透露。',
      en: 'Risk control judged this transaction too likely to be fraud or cash-out (from the recent activity of the card, the merchant or the terminal, for example) and blocked it. The checks list the rule that fired and the values it used; they are for staff only and must not be read out to the cardholder.',
    },
    remediation: {
      cardholder: {
        'zh-CN': '您的卡未被扣款。本笔支付未能完成，请联系发卡行咨询，目前可改用其他支付方式。',
        en: 'Your card was not charged. This payment could not be completed: please contact your card-issuing bank, and meanwhile use another payment method.',
      },
      merchant: {
        'zh-CN':
          '请勿重复刷卡，也不要将金额拆分成多笔。请顾客改用其他支付方式，对顾客仅说明交易未成功即可；如对该笔交易本身存有疑虑，请致电收单机构。',
        en: 'Do not try the card again and do not split the amount. Ask for another payment method and tell the customer no more than that the payment was declined; if the sale itself worries you, call your acquirer.',
      },
      operator: {
        'zh-CN':
          '在风控复核队列中处理该案件：查看命中规则、特征值以及卡片、商户、终端的近期交易。如属误拦截，记录在案供分析人员优化规则；未经复核不得将该卡加入白名单放行。',
        en: 'Work the case in the risk review queue: the rule, the feature values and the recent activity of the card, merchant and terminal. If it was a false positive, record it so that analysts can tune the rule; never allow-list the card without a review.',
      },
    },
    retry: DO_NOT_RETRY,
  },

  do_not_honour: {
    code: 'do_not_honour',
    family: 'risk',
    isoCode: '05',
    // CUP 05 reads "cardholder verification failed" (ADR 0002): a risk decline shows 57.
    cupCode: '57',
    title: { 'zh-CN': '交易未获批准', en: 'Do not honour' },
    explanation: {
      'zh-CN':
        '风控规则要求拒绝本笔交易，但不对外说明具体原因（“不予承兑”）。检查明细列出了命中的规则及相关指标，仅供内部人员查看。',
      en: 'A risk-control rule declined this transaction without giving the cause to the outside ("do not honour"). The checks list the rule and the values it used; they are for staff only.',
    },
    remediation: {
      cardholder: {
        'zh-CN': '您的卡未被扣款。本笔支付未能完成，请联系发卡行咨询，目前可改用其他支付方式。',
        en: 'Your card was not charged. This payment could not be completed: please contact your card-issuing bank, and meanwhile use another payment method.',
      },
      merchant: {
        'zh-CN': '请勿重复刷卡，请顾客改用其他支付方式；对顾客仅说明交易未成功即可。',
        en: 'Do not try the card again. Ask for another payment method and tell the customer no more than that the payment was declined.',
      },
      operator: {
        'zh-CN':
          '查看命中的风控规则、版本、表达式和特征值。如属误拦截，在复核队列中记录，交由风控分析人员调整规则。',
        en: 'Look at the rule, its version, its expression and the feature values. If it was a false positive, record it in the review queue for the risk analysts to tune the rule.',
      },
    },
    retry: DO_NOT_RETRY,
  },
  transaction_not_permitted: {
    code: 'transaction_not_permitted',
    family: 'risk',
    isoCode: '57',
    cupCode: null,
    title: { 'zh-CN': '不允许的交易', en: 'Transaction not permitted' },
    explanation: {
      'zh-CN':
        '风控规则不允许该卡在此场景下进行这类交易（例如特定商户类别、时段或金额）。检查明细列出了命中的规则及相关指标，仅供内部人员查看。',
      en: 'A risk-control rule does not permit this kind of transaction for this card here (a merchant category, a time of day or an amount, for example). The checks list the rule and the values it used; they are for staff only.',
    },
    remediation: {
      cardholder: {
        'zh-CN': '您的卡未被扣款。该卡暂不能用于本笔交易，请改用其他支付方式，或联系发卡行咨询。',
        en: 'Your card was not charged. The card cannot be used for this payment: please use another payment method, or ask your card-issuing bank.',
      },
      merchant: {
        'zh-CN': '请勿重复刷卡，请顾客改用其他卡或其他支付方式。',
        en: 'Do not try the card again; ask for another card or another payment method.',
      },
      operator: {
        'zh-CN':
          '查看命中的风控规则及其说明。如商户经营范围确需此类交易，请风控人员评估后调整规则，不要直接停用规则。',
        en: "Look at the rule and its description. If the merchant's business genuinely needs such transactions, have risk staff assess and adjust the rule rather than switching it off.",
      },
    },
    retry: DO_NOT_RETRY,
  },

  // ---------------------------------------------------------------------------------------
  // security
  // ---------------------------------------------------------------------------------------
  incorrect_pin: {
    code: 'incorrect_pin',
    family: 'security',
    isoCode: '55',
    cupCode: null,
    title: { 'zh-CN': '密码错误', en: 'Incorrect PIN' },
    explanation: {
      'zh-CN':
        '输入的密码与该卡密码不符。密码错误次数超过发卡行规定的上限后，该卡的密码交易将被锁定，通常次日自动解锁或须由持卡人办理密码重置。',
      en: "The PIN entered does not match the card's PIN. After too many wrong tries the issuer locks PIN transactions on the card, usually until the next day or until the cardholder resets the PIN.",
    },
    remediation: {
      cardholder: {
        'zh-CN':
          '请遮挡键盘后重新仔细输入密码。如记不清密码，请勿反复尝试，以免卡片被锁定，可联系发卡行重置密码。',
        en: 'Enter your PIN again carefully, shielding the keypad. If you are not sure of it, stop before the card is locked and ask your bank to reset it.',
      },
      merchant: {
        'zh-CN':
          '请顾客在密码键盘上重新输入密码，收银员应回避，不要查看。如再次失败，建议顾客换卡，不要反复尝试。',
        en: 'Let the customer enter the PIN again on the PIN pad, and look away while they do. If it fails again, suggest another card rather than more attempts.',
      },
      operator: {
        'zh-CN':
          '单笔拒绝无需处理。如同一终端多张卡频繁出现密码错误，可能是密码键盘故障、PIN加密密钥不正确（需重新签到下载密钥），或有人在使用盗取的卡片试密码。',
        en: 'Nothing to do for a single decline. Many wrong PINs for different cards on one terminal suggest a faulty PIN pad, wrong PIN encryption keys (sign on again to download keys), or someone trying stolen cards.',
      },
    },
    retry: RETRY_NOW,
  },
  pin_tries_exceeded: {
    code: 'pin_tries_exceeded',
    family: 'security',
    isoCode: '75',
    cupCode: null,
    title: { 'zh-CN': '密码错误次数超限', en: 'PIN tries exceeded' },
    explanation: {
      'zh-CN':
        '密码输错次数已超过上限，发卡行已锁定该卡的密码交易，此后即使输入正确密码也会被拒绝。',
      en: 'A wrong PIN has been entered too many times, so the issuer has locked PIN transactions on this card. Further tries are refused even with the right PIN.',
    },
    remediation: {
      cardholder: {
        'zh-CN':
          '您的卡未被扣款。该卡密码已被锁定：视发卡行规定，可能次日自动解锁，或需通过手机银行、客服电话或网点办理密码重置。目前请换用其他卡支付。',
        en: "Your card was not charged. Your PIN is locked: depending on your bank, it unlocks the next day, or you need to reset it in your bank's app, by phone or at a branch. Meanwhile pay with another card.",
      },
      merchant: {
        'zh-CN': '今日请勿再用该卡尝试，请顾客换用其他卡或其他支付方式。',
        en: 'Do not try this card again today. Ask for another card or payment method.',
      },
      operator: {
        'zh-CN':
          '商户侧无需处理。发卡处理模式下，仅可通过经身份核验的流程为持卡人解锁密码。关注多张卡在同一终端出现此情况的现象。',
        en: "Nothing to do on the merchant's side. In issuer-processor mode, unlock a PIN only through the identity-checked process. Watch for terminals where many cards end up locked.",
      },
    },
    retry: DO_NOT_RETRY,
  },
  mac_verification_failed: {
    code: 'mac_verification_failed',
    family: 'security',
    isoCode: '63',
    cupCode: 'A0',
    title: { 'zh-CN': 'MAC校验错', en: 'MAC verification failed' },
    explanation: {
      'zh-CN':
        '交易报文的MAC（报文鉴别码）校验不通过：报文在传输中被篡改，或终端与系统使用的MAC密钥不一致，通常是终端工作密钥未及时更新。本笔交易未被处理。',
      en: "The message authentication code (MAC) on the request did not match: the message was changed on the way, or the terminal and the switch use different MAC keys, usually because the terminal's working keys are out of date. The request was not processed.",
    },
    remediation: {
      cardholder: {
        'zh-CN':
          '您的卡未被扣款，卡片本身没有问题。终端出现技术问题，收银员重新签到后可再试，您也可以改用其他支付方式。',
        en: 'Your card was not charged and there is nothing wrong with your card. The terminal has a technical problem: the cashier can try again after resetting it, or you can pay another way.',
      },
      merchant: {
        'zh-CN':
          '请在终端上重新签到（会重新下载工作密钥），然后重新发起交易。如签到后仍反复出现此错误，请暂停使用该终端刷卡并致电收单机构。',
        en: 'Sign on again at the terminal (this downloads new working keys), then start the sale again. If the error keeps coming back after sign-on, stop taking cards on that terminal and call your acquirer.',
      },
      operator: {
        'zh-CN':
          '检查该终端的密钥状态：最近一次签到及密钥交换情况、终端主密钥。如重新签到后仍报错，可能是主密钥灌装有误（需厂商重新灌装），也可能报文在线路上被篡改，须查明原因后再恢复受理。',
        en: "Check the terminal's keys: its last sign-on and key exchange, and its master key. If errors continue after a fresh sign-on, the master key may have been injected wrongly (the vendor must inject it again) or messages are being tampered with on the line: find out which before accepting cards on it again.",
      },
    },
    retry: DO_NOT_RETRY,
  },

  // ---------------------------------------------------------------------------------------
  // system
  // ---------------------------------------------------------------------------------------
  system_error: {
    code: 'system_error',
    family: 'system',
    isoCode: '96',
    cupCode: null,
    title: { 'zh-CN': '系统异常', en: 'System error' },
    explanation: {
      'zh-CN':
        '系统在处理本笔交易时发生内部故障（例如数据库无响应），在批准前已中止处理。本笔交易未入账，持卡人未被扣款。',
      en: 'The switch hit an internal fault while processing this transaction (its database did not answer, for example) and stopped before approving it. Nothing was committed: the card was not charged.',
    },
    remediation: {
      cardholder: {
        'zh-CN': '您的卡未被扣款。请稍候几分钟再由收银员重新发起交易，或改用其他支付方式。',
        en: 'Your card was not charged. Please wait a few minutes and let the cashier try again, or pay another way.',
      },
      merchant: {
        'zh-CN':
          '本笔交易未扣款。请约5分钟后重试；如仍失败，请致电收单机构客服，在此期间请使用其他方式收款。',
        en: "Nothing was charged. Try again in about 5 minutes; if it keeps failing, call your acquirer's support line and take payment another way meanwhile.",
      },
      operator: {
        'zh-CN':
          '按故障事件处理：查看该时段的错误日志和监控指标（数据库错误、断言失败、进程重启等），按应急流程处置，并确认该交易没有遗留未释放的冻结或未完成的冲正。',
        en: 'Treat it as an incident: read the error logs and metrics for the time (database errors, failed assertions, restarts) and follow the incident procedure. Check that no hold or reversal is left pending for this transaction.',
      },
    },
    retry: retryAfter(5),
  },
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child)
    Object.freeze(value)
  }
  return value
}

/**
 * Every reason code with its family, response codes, texts and retry advice. Deeply frozen.
 *
 * @example REASON_CATALOGUE.insufficient_funds.isoCode // '51'
 */
export const REASON_CATALOGUE: Readonly<Record<ReasonCode, ReasonEntry>> = deepFreeze(CATALOGUE)

/**
 * The catalogue entry of a reason code. A code that is not in the catalogue can only come from
 * an unchecked cast: that is a bug, so it throws instead of returning a half-made explanation.
 */
export function reasonEntry(code: ReasonCode): ReasonEntry {
  if (!Object.hasOwn(REASON_CATALOGUE, code)) {
    throw new Error(`reasonEntry: unknown reason code ${JSON.stringify(code)}`)
  }
  const entry = REASON_CATALOGUE[code]
  if (entry.code !== code) throw new Error(`reasonEntry: entry for ${code} is ${entry.code}`)
  return entry
}
