import { fail, ok, TandemError, type Result } from '../../common/errors.ts';
import {
  parseWireRequest,
  readTokenLevel,
  type ChatInput,
  type CompletionInput,
  type SamplingFields,
} from '../../common/openai/index.ts';

/**
 * vLLM's OpenAI request bodies as this facade runs them, read with the one request schema
 * (common/openai): the wire fields every server reads, then the token-level sampling Tandem's
 * engines honour. As in vLLM, fields nobody here knows are ignored (vLLM logs and drops them);
 * fields the engines know but cannot honour (n > 1, tools, image parts, echo, ...) are refused
 * with a 400 naming them, and so are logprobs, which this facade does not write (the
 * orchestrator's gRPC path does). Untrusted input: a Result, never a throw.
 */

export interface FacadeRequest extends SamplingFields {
  readonly endpoint: 'completion' | 'chat';
  /** Undefined: the served model (vLLM's default when `model` is omitted). */
  readonly model: string | undefined;
  /** The prompt as the wire module read it (chat messages as sent, rendered by prepare-request). */
  readonly input: CompletionInput | ChatInput;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  readonly continuousUsage: boolean;
  /** Undefined: the endpoint's default (16 for completions, the rest of the context for chat). */
  readonly maxTokens: number | undefined;
  readonly returnTokenIds: boolean;
  readonly kvTransferParams: Readonly<Record<string, unknown>> | undefined;
}

export function parseCompletion(body: unknown): Result<FacadeRequest> {
  return parseRequest('completion', body);
}

export function parseChat(body: unknown): Result<FacadeRequest> {
  return parseRequest('chat', body);
}

function parseRequest(endpoint: 'completion' | 'chat', body: unknown): Result<FacadeRequest> {
  const wire = parseWireRequest(endpoint, body);
  if (!wire.ok) return wire;
  const w = wire.value;
  const sampling = readTokenLevel(w, { unknownFields: 'ignore' });
  if (!sampling.ok) return fail(sampling.error.error);
  if (sampling.value.logprobs !== undefined) {
    return fail(
      new TandemError(
        'invalid_request',
        "logprobs: is not supported by the worker's HTTP facade (the orchestrator's gRPC path returns them)",
        { param: 'logprobs' },
      ),
    );
  }
  return ok({
    ...sampling.value,
    endpoint,
    model: w.model,
    input: w.input,
    stream: w.stream,
    includeUsage: w.includeUsage,
    continuousUsage: w.continuousUsage,
    maxTokens: w.maxTokens,
    returnTokenIds: w.returnTokenIds,
    kvTransferParams: w.kvTransferParams,
  });
}
