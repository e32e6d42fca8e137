import type { CoreRequest } from '../core/pipeline/requests.js'
import type { RequestResult } from '../core/pipeline/result.js'

export type SubmitOutcome =
  | { readonly type: 'accepted'; readonly result: Promise<RequestResult> }
  | { readonly type: 'busy'; readonly depth: number; readonly depthMax: number }
  | { readonly type: 'closing' }

/** What a channel talks to: a bounded queue in front of the core. */
export interface Authorizer {
  submit(request: CoreRequest): SubmitOutcome
  readonly depth: number
}
