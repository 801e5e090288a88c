import { fail, ok, type TandemError, type Result } from '../../common/errors.ts';
import {
  DEFAULT_SAMPLING,
  parseWireRequest,
  readTokenLevel,
  type ChatInput,
  type CompletionInput,
  type Endpoint,
  type RequestLimits,
  type SamplingFields,
  type WireRequest,
} from '../../common/openai/index.ts';

/**
 * Validates an untrusted OpenAI body into a ParsedRequest, or a 4xx TandemError whose `param`
 * names the field at fault (common/openai does the reading). Every field is accepted here: a
 * field Tandem's own engines do not honour (tools, n > 1, an image part, an unknown field) is
 * refused only once routing has chosen such an engine (`tokenLevelRefusal`), while an HTTP
 * engine gets the body as it came. Nothing here tokenizes; prepare-request.ts does.
 */

/**
 * What every generation request carries, with OpenAI's and vLLM's defaults applied. An undefined
 * `model` is the served one (as vLLM serves its only model); an undefined `maxTokens` is the
 * endpoint's default (16 for completions, the rest of the context for chat).
 */
export interface OutputOptions
  extends SamplingFields,
    Pick<WireRequest, 'model' | 'stream' | 'includeUsage' | 'continuousUsage' | 'maxTokens' | 'user'> {}

export type { CompletionPrompt } from '../../common/openai/index.ts';

export interface ParsedRequest {
  readonly kind: Endpoint;
  readonly options: OutputOptions;
  /** The prompt, or the messages with what the chat template renders besides them (tools, documents, kwargs). */
  readonly input: CompletionInput | ChatInput;
  /** The client's body, verbatim: what an HTTP engine gets. */
  readonly body: Readonly<Record<string, unknown>>;
  /** The field Tandem's own (token-level) engines cannot honour, as the 400 to answer if routing picks one. */
  readonly tokenLevelRefusal: TandemError | undefined;
}

export interface RequestParsers {
  completion(body: unknown): Result<ParsedRequest>;
  chat(body: unknown): Result<ParsedRequest>;
}

export function createRequestParsers(limits: RequestLimits): RequestParsers {
  const parse = (kind: Endpoint, body: unknown): Result<ParsedRequest> => {
    const wire = parseWireRequest(kind, body, limits);
    if (!wire.ok) return wire;
    const w = wire.value;
    const sampling = readTokenLevel(w, { unknownFields: 'refuse', limits });
    if (!sampling.ok && sampling.error.kind === 'invalid') return fail(sampling.error.error);
    return ok({
      kind,
      input: w.input,
      body: w.body,
      tokenLevelRefusal: sampling.ok ? undefined : sampling.error.error,
      options: {
        ...(sampling.ok ? sampling.value : DEFAULT_SAMPLING),
        model: w.model,
        stream: w.stream,
        includeUsage: w.includeUsage,
        continuousUsage: w.continuousUsage,
        maxTokens: w.maxTokens,
        user: w.user,
      },
    });
  };
  return { completion: (body) => parse('completion', body), chat: (body) => parse('chat', body) };
}
