import type { Result } from '../errors.ts';
import type { ChatPromptRequest, ContentFormat } from './chat-request.ts';

/**
 * The tokenizer seam. The frontend tokenizes prompts once (the core and the workers only ever
 * see token ids) and turns sampled ids back into text as they stream.
 */

export interface Tokenizer {
  /** Ids this tokenizer can decode: the base vocabulary plus added tokens are [0, vocabSize). */
  readonly vocabSize: number;
  /** The end-of-sequence token from tokenizer_config.json, when it names one in the vocabulary. */
  readonly eosTokenId: number | undefined;
  /** True for added tokens flagged `special` (dropped from output when skipping special tokens). */
  isSpecial(tokenId: number): boolean;
  /**
   * Token ids of `text`, computed off the event loop (native, libuv thread pool).
   * `addSpecialTokens` applies the tokenizer's post-processor (e.g. a BOS token): true for raw
   * completions, false for rendered chat templates, which carry their own, as vLLM does.
   */
  encode(text: string, options: { addSpecialTokens: boolean }): Promise<number[]>;
  /**
   * `encode`, bounded for untrusted text: the ids when there are at most `maxTokens` of them,
   * else `{ atLeast }`, a count known to exceed `maxTokens`, found for the price of about
   * `maxTokens` ids rather than the whole text (a text `minTokens` already rules out costs
   * nothing). The frontend's context check.
   */
  encodeWithin(text: string, options: { addSpecialTokens: boolean; maxTokens: number }): Promise<BoundedEncoding>;
  /**
   * A lower bound on the ids `text` encodes to, from its length alone (no tokenizing, O(1)
   * but for counting UTF-8 bytes): 0 when this tokenizer can promise nothing. Lets a prompt
   * that cannot fit a context be refused before any work is spent on it.
   */
  minTokens(text: string): number;
  /**
   * The same bound for a text known only by its length: any text of at least `length.units`
   * UTF-16 units, at least `length.ascii` of them ASCII characters, encodes to at least this many
   * ids (0 when this tokenizer can promise nothing). Lets a body be refused while it is still
   * being read (common/openai/body-scan.ts counts the prompt's strings as they arrive).
   */
  minTokensOf(length: TextLength): number;
  /**
   * Whether `length.words` bounds ids (word-bound.ts: no vocabulary entry spans two
   * whitespace-separated words, checked when the tokenizer loads); when false, minTokensOf
   * ignores it.
   */
  readonly wordsAreTokens: boolean;
  /** The text of a whole id sequence; ids outside [0, vocabSize) decode to nothing. */
  decode(tokenIds: readonly number[], options: { skipSpecialTokens: boolean }): Promise<string>;
  /** A fresh incremental decoder for one output stream. */
  createDetokenizer(options: DetokenizerOptions): Detokenizer;
}

/** What a length bound knows of a text: lower bounds on its UTF-16 units and on its ASCII characters among them. */
export interface TextLength {
  readonly units: number;
  readonly ascii: number;
  /**
   * A lower bound on its word breaks (word-bound.ts countWordBreaks, summed over the strings the
   * text is made of): ids, for a tokenizer whose `wordsAreTokens`. Unset: 0.
   */
  readonly words?: number;
}

/** encodeWithin's answer: every id, or a count past the bound (tokenizing stopped there). */
export type BoundedEncoding = { readonly ids: number[] } | { readonly atLeast: number };

export interface DetokenizerOptions {
  readonly skipSpecialTokens: boolean;
  /**
   * The last few prompt ids (up to 6 are used). Decoders that strip a leading space at the start
   * of a text (SentencePiece's Metaspace) need them so the first generated word keeps its space.
   */
  readonly promptTail?: readonly number[];
}

/**
 * Turns a stream of token ids into a stream of text. The concatenation of everything `push`
 * and `flush` return equals decoding the whole sequence; no returned piece ends inside a
 * multi-byte character (bytes of an unfinished character are held until it completes).
 */
export interface Detokenizer {
  /** The text this token completes; often '' while a character's bytes are still arriving. Synchronous. */
  push(tokenId: number): string;
  /** Releases held bytes at the end of the stream (an unfinished character becomes U+FFFD). */
  flush(): string;
}

/** One chat message as the template sees it (OpenAI's fields, content already flattened to text). */
export interface ChatMessage {
  readonly role: string;
  readonly content: string | null;
  readonly name?: string;
  readonly tool_calls?: unknown;
  readonly tool_call_id?: string;
  readonly reasoning_content?: string;
}

export interface ChatRenderOptions {
  /** Append the assistant turn's opening (vLLM's default: true). */
  readonly addGenerationPrompt: boolean;
  /** Leave the last (assistant) message open so the model continues it; excludes addGenerationPrompt. */
  readonly continueFinalMessage: boolean;
  /** Extra template variables (OpenAI-compatible `chat_template_kwargs`, e.g. `enable_thinking`). */
  readonly kwargs: Readonly<Record<string, unknown>>;
}

/** A chat request's prompt text, as the engine will render it. */
export interface RenderedChat {
  /**
   * The prompt. When the request carries a media part (image, audio, ...), only the text before
   * the first one: the engine expands media into tokens Tandem cannot know, so routing uses the
   * prefix the engine is sure to share.
   */
  readonly text: string;
  /** False when `text` stops before a media part (the whole prompt is longer). */
  readonly complete: boolean;
}

export interface ChatTemplate {
  /** How the template reads message content: vLLM's "string" or "openai" content format. */
  readonly contentFormat: ContentFormat;
  /**
   * The prompt vLLM renders for a chat request in its wire shape (tools, documents,
   * add_generation_prompt, continue_final_message, chat_template_kwargs, content parts); fails
   * (invalid_request, naming the field) where vLLM would answer 400.
   */
  renderRequest(request: ChatPromptRequest): Result<RenderedChat>;
  /** The prompt text for already-flattened `messages` (no tools); fails (invalid_request) when the template rejects them. */
  render(messages: readonly ChatMessage[], options: ChatRenderOptions): Result<string>;
}
