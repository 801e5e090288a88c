import { TandemError } from '../../common/errors.ts';
import type { TokenizedRequest } from '../serving.ts';
import type { BackendKind } from './backend.ts';

/**
 * What each backend kind can run of an OpenAI request: the one table to extend.
 *
 * - `passThrough`: the client's body goes to the engine as it is (vllm-http: vLLM's and SGLang's
 *   OpenAI servers), so every field that engine accepts works: tools, structured output,
 *   logprobs, n, images, fields Tandem has never heard of.
 * - Otherwise the backend runs the token-level path, and the fields it honours are the token-level
 *   schema of `common/openai/request-schema.ts` (`tokenLevelCompletionFields` /
 *   `tokenLevelChatFields`, with SamplingFields): teach an engine a field there. The frontend
 *   records the first field outside it as the request's `tokenLevelRefusal`.
 */
export interface BackendCapabilities {
  readonly passThrough: boolean;
}

export const BACKEND_CAPABILITIES = {
  grpc: { passThrough: false },
  'vllm-http': { passThrough: true },
} as const satisfies Record<BackendKind, BackendCapabilities>;

/**
 * The 400 for `request` routed to `worker` of backend `kind`, or undefined when that backend can
 * run it: `"tools: not supported by backend grpc (worker w1): no tool calling; vllm-http workers
 * support it"`. Decided per request after routing, never a silent drop.
 */
export function refusalOf(request: TokenizedRequest, kind: BackendKind, worker: string): TandemError | undefined {
  const refusal = request.tokenLevelRefusal;
  if (refusal === undefined || BACKEND_CAPABILITIES[kind].passThrough) return undefined;
  const param = refusal.param ?? 'body';
  const why = refusal.message.startsWith(`${param}: `)
    ? refusal.message.slice(param.length + 2).replace(/^is not supported \((.*)\)$/, '$1')
    : refusal.message;
  const able = (Object.keys(BACKEND_CAPABILITIES) as BackendKind[]).filter((k) => BACKEND_CAPABILITIES[k].passThrough);
  return new TandemError(
    'invalid_request',
    `${param}: not supported by backend ${kind} (worker ${worker}): ${why}; ${able.join(', ')} workers support it`,
    { param, cause: refusal },
  );
}
