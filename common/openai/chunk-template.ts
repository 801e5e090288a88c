import type { OpenAIUsage, ResponseIdentity } from './shapes.ts';

/**
 * The SSE event of a streamed text chunk, built from a template fixed per request: only the
 * text and the usage vary from token to token, so the id, object, created and model are
 * serialized once, and each event costs one JSON.stringify of a string. The output is byte for
 * byte `data: ${JSON.stringify(chunkBody(who, { text, usage }))}\n\n` (shapes.ts), which
 * chunk-template.test.ts checks; anything else (the role chunk, the finish chunk, errors) still
 * goes through chunkBody.
 */
export type TextChunkEvent = (text: string, usage: OpenAIUsage | null | undefined) => string;

export function createTextChunkEvent(who: ResponseIdentity): TextChunkEvent {
  const head = `data: {"id":${JSON.stringify(who.id)},"object":${who.kind === 'chat' ? '"chat.completion.chunk"' : '"text_completion"'},"created":${JSON.stringify(who.created)},"model":${JSON.stringify(who.model)},"choices":[{"index":0,`;
  const open = who.kind === 'chat' ? `${head}"delta":{"content":` : `${head}"text":`;
  const close =
    who.kind === 'chat'
      ? '},"logprobs":null,"finish_reason":null}]'
      : ',"logprobs":null,"finish_reason":null,"stop_reason":null}]';
  const withUsage = (usage: OpenAIUsage | null | undefined) =>
    usage === undefined ? '}\n\n' : usage === null ? ',"usage":null}\n\n' : `,"usage":${usageJson(usage)}}\n\n`;
  if (who.kind === 'chat') {
    // An empty chat delta has no content field at all: rare (text events carry text), so the general path.
    const empty = (usage: OpenAIUsage | null | undefined) =>
      `${head}"delta":{},"logprobs":null,"finish_reason":null}]${withUsage(usage)}`;
    return (text, usage) => (text === '' ? empty(usage) : open + JSON.stringify(text) + close + withUsage(usage));
  }
  return (text, usage) => open + JSON.stringify(text) + close + withUsage(usage);
}

/** Running usage in key order; a details field, when present, through JSON.stringify. */
function usageJson(usage: OpenAIUsage): string {
  if (usage.prompt_tokens_details !== undefined) return JSON.stringify(usage);
  return `{"prompt_tokens":${JSON.stringify(usage.prompt_tokens)},"completion_tokens":${JSON.stringify(usage.completion_tokens)},"total_tokens":${JSON.stringify(usage.total_tokens)}}`;
}
