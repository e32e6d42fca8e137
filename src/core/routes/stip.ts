import type { CardType, Evidence } from '../model.js'
import type { StipPolicy } from './model.js'

/**
 * Stand-in processing: whether Tollgate may approve on the issuer's behalf while its route is
 * down, within the route's stand-in limits. Pure; the usage is the card's stand-in approvals of
 * the business day so far.
 */
export type StipDecision =
  | { readonly ok: true; readonly evidence: Evidence }
  | { readonly ok: false; readonly why: string; readonly evidence: Evidence }

export function standIn(
  policy: StipPolicy,
  request: { readonly amountMinor: number; readonly currency: string; readonly cardType: CardType },
  usedToday: { readonly count: number; readonly amountMinor: number },
): StipDecision {
  const money = (amountMinor: number) => ({ amountMinor, currency: policy.currency })
  const evidence: Evidence = {
    stipAmountMax: money(policy.perTransactionMaxMinor),
    stipDailyAmountMax: money(policy.dailyAmountMaxMinor),
    stipDailyCountMax: policy.dailyCountMax,
    stipUsedToday: money(usedToday.amountMinor),
    stipCountToday: usedToday.count,
  }
  const refuse = (why: string): StipDecision => ({ ok: false, why, evidence: { ...evidence, why } })
  if (!policy.enabled) return refuse('stand-in is not enabled for this route')
  if (request.currency !== policy.currency) return refuse(`stand-in covers ${policy.currency} only`)
  if (!policy.cardTypes.includes(request.cardType))
    return refuse(`stand-in does not cover ${request.cardType} cards`)
  if (request.amountMinor > policy.perTransactionMaxMinor)
    return refuse('the amount is above the stand-in limit for one payment')
  if (usedToday.amountMinor + request.amountMinor > policy.dailyAmountMaxMinor)
    return refuse("the card's stand-in amount for today would pass its limit")
  if (usedToday.count + 1 > policy.dailyCountMax)
    return refuse("the card's stand-in count for today would pass its limit")
  return { ok: true, evidence }
}
