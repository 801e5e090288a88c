import { fail, ok, TandemError, type Result } from '../../common/errors.ts';
import { parseWireRequest, readTokenLevel, textOfParts, type SamplingFields } from '../../common/openai/index.ts';
import type { ChatMessage } from '../../common/tokenizer/index.ts';

/**
 * vLLM's OpenAI request bodies as this facade runs them, read with the one request schema
 * (common/openai): the wire fields every server reads, then the token-level sampling Tandem's
 * engines honour. As in vLLM, fields nobody here knows are ignored (vLLM logs and drops them);
 * fields the engines know but cannot honour (n > 1, tools, image parts, echo, ...) are refused
 * with a 400 naming them, and so are logprobs, which this facade does not write (the
 * orchestrator's gRPC path does). Untrusted input: a Result, never a throw.
 */

export type PromptInput =
  | { readonly kind: 'text'; readonly text: string; readonly addSpecialTokens: boolean }
  | { readonly kind: 'tokens'; readonly tokenIds: readonly number[] }
  | {
      readonly kind: 'chat';
      readonly messages: readonly ChatMessage[];
      readonly addGenerationPrompt: boolean;
      readonly continueFinalMessage: boolean;
      readonly kwargs: Readonly<Record<string, unknown>>;
    };

export interface ParsedRequest extends SamplingFields {
  readonly endpoint: 'completion' | 'chat';
  /** Undefined: the served model (vLLM's default when `model` is omitted). */
  readonly model: string | undefined;
  readonly prompt: PromptInput;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  readonly continuousUsage: boolean;
  /** Undefined: the endpoint's default (16 for completions, the rest of the context for chat). */
  readonly maxTokens: number | undefined;
  readonly returnTokenIds: boolean;
  readonly kvTransferParams: Readonly<Record<string, unknown>> | undefined;
}

export function parseCompletion(body: unknown): Result<ParsedRequest> {
  return parseRequest('completion', body);
}

export function parseChat(body: unknown): Result<ParsedRequest> {
  return parseRequest('chat', body);
}

function parseRequest(endpoint: 'completion' | 'chat', body: unknown): Result<ParsedRequest> {
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
  let prompt: PromptInput;
  if (w.input.kind === 'completion') {
    const p = w.input.prompt;
    prompt =
      'text' in p
        ? { kind: 'text', text: p.text, addSpecialTokens: w.input.addSpecialTokens }
        : { kind: 'tokens', tokenIds: p.tokenIds };
  } else {
    const messages: ChatMessage[] = [];
    for (const message of w.input.messages) {
      // Non-text parts were refused by readTokenLevel: the text is complete.
      const { text } = textOfParts(message.content);
      messages.push({
        role: message.role,
        content: text,
        ...(message.name === undefined ? {} : { name: message.name }),
      });
    }
    prompt = {
      kind: 'chat',
      messages,
      // vLLM's default: on, unless continuing the final message.
      addGenerationPrompt:
        (w.body.add_generation_prompt as boolean | null | undefined) ?? !w.input.continue_final_message,
      continueFinalMessage: w.input.continue_final_message,
      kwargs: w.input.chat_template_kwargs,
    };
  }
  return ok({
    ...sampling.value,
    endpoint,
    model: w.model,
    prompt,
    stream: w.stream,
    includeUsage: w.includeUsage,
    continuousUsage: w.continuousUsage,
    maxTokens: w.maxTokens,
    returnTokenIds: w.returnTokenIds,
    kvTransferParams: w.kvTransferParams,
  });
}
