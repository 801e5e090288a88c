import type { OpenAIErrorBody } from '../errors.ts';

/**
 * OpenAI's error shapes, in both directions. Tandem writes the current one
 * (`{"error": {"message", "type", "param", "code"}}`, `toOpenAIErrorBody` in common/errors.ts);
 * it reads every shape vLLM and SGLang have used: that one, the older flat
 * `{"object": "error", "message", ...}`, FastAPI's `{"detail"}`, or plain text.
 */
export type { OpenAIErrorBody };
export { toOpenAIErrorBody } from '../errors.ts';

/** The message of an error body in any of those shapes, else the text itself (trimmed, at most 500 characters). */
export function errorMessageOf(text: string): string {
  try {
    const message = errorMessageOfJson(JSON.parse(text));
    if (message !== undefined) return message;
  } catch {
    // not JSON: use the text
  }
  return text.trim().slice(0, 500) || '(empty body)';
}

/**
 * The message of a parsed body that is an error (a mid-stream `data: {"error": ...}` event, or
 * a flat `{"object": "error"}`), else undefined: a body that is not an error says nothing.
 */
export function errorMessageOfJson(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const b = body as { error?: unknown; object?: unknown; message?: unknown; detail?: unknown };
  if (typeof b.error === 'object' && b.error !== null) {
    const message = (b.error as { message?: unknown }).message;
    return typeof message === 'string' ? message : JSON.stringify(b.error);
  }
  if (typeof b.error === 'string') return b.error;
  if (typeof b.message === 'string' && (b.object === 'error' || !('choices' in b))) return b.message;
  if (typeof b.detail === 'string') return b.detail;
  return undefined;
}
