import type { Clock } from '../../common/clock.ts';
import { firstDifference } from '../../common/first-difference.ts';
import type { Logger } from '../../common/log.ts';
import type { ChatPromptRequest, ModelTokenizer } from '../../common/tokenizer/index.ts';
import type { OrchestratorMetrics } from '../metrics/index.ts';
import type { WorkerSpec } from './discovery.ts';

/**
 * The chat-template self-check: when a vllm-http worker joins, Tandem renders a probe chat (a
 * system prompt, a tool, a tool call and its result, reasoning, a follow-up question) and
 * tokenizes it as the router does, asks the worker's own `POST /tokenize` (vLLM's chat form:
 * `{model?, messages, tools, add_generation_prompt, chat_template_kwargs}` -> `{count,
 * max_model_len, tokens}`) for the same chat, and compares. Any difference is one error log line
 * naming the worker and the first differing token position, and
 * `tandem_chat_template_checks_total{outcome="mismatch"}`: the router's prefix hashes for chats
 * would not match the engine's KV blocks on that worker (a wrong tokenizer, template or vLLM
 * version). A worker without /tokenize (older vLLM, SGLang) counts as `unavailable`, logged
 * once; a worker not up yet is retried (`retryDelaysMs`), so a check never holds anything up.
 */

export interface TemplateCheckOptions {
  readonly tokenizer: ModelTokenizer;
  readonly logger: Logger;
  readonly metrics: OrchestratorMetrics;
  readonly clock: Clock;
  /** Waits between attempts while the worker does not answer (default 1, 2, 5, 10, 30 s). */
  readonly retryDelaysMs?: readonly number[];
  /** Per attempt, ms (default 10 000). */
  readonly timeoutMs?: number;
}

export type TemplateCheckOutcome =
  | { readonly outcome: 'match'; readonly tokens: number }
  | {
      readonly outcome: 'mismatch';
      readonly position: number;
      readonly ours: number | undefined;
      readonly theirs: number | undefined;
    }
  | { readonly outcome: 'unavailable'; readonly reason: string };

export interface TemplateCheck {
  /** Checks `worker` in the background (vllm-http workers only; others are ignored). */
  start(worker: WorkerSpec): void;
  /** Checks `worker` now; resolves when done (tests, and start()). */
  run(worker: WorkerSpec): Promise<TemplateCheckOutcome>;
  /** Stops pending retries. */
  close(): void;
}

/** The probe chat: a tool, a tool call and its result, reasoning and a follow-up question. */
export const PROBE_CHAT: ChatPromptRequest = {
  tools: [
    {
      type: 'function',
      function: {
        name: 'lookup_order',
        description: 'Find an order by its number',
        parameters: {
          type: 'object',
          properties: {
            order: { type: 'string', description: 'Order number, e.g. "A-17"' },
            verbose: { type: 'boolean' },
          },
          required: ['order'],
        },
      },
    },
  ],
  messages: [
    { role: 'system', content: 'You are the support desk of a small bookshop. Answer briefly.' },
    { role: 'user', content: 'Where is my order A-17? Café «Lumière» ordered it.' },
    {
      role: 'assistant',
      content: null,
      reasoning: 'I should look it up.',
      tool_calls: [
        {
          id: 'call_0',
          type: 'function',
          function: { name: 'lookup_order', arguments: '{"order":"A-17","verbose":false}' },
        },
      ],
    },
    { role: 'tool', tool_call_id: 'call_0', content: '{"status": "shipped", "eta_days": 2}' },
    { role: 'assistant', content: 'It shipped and should arrive in 2 days.' },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'Thanks!' },
        { type: 'text', text: 'Can I change the address?' },
      ],
    },
  ],
  add_generation_prompt: true,
  chat_template_kwargs: { enable_thinking: false },
};

export function createTemplateCheck(options: TemplateCheckOptions): TemplateCheck {
  const { tokenizer, logger, metrics, clock } = options;
  const delays = options.retryDelaysMs ?? [1000, 2000, 5000, 10_000, 30_000];
  const timeoutMs = options.timeoutMs ?? 10_000;
  const stop = new AbortController();

  const ours = async (): Promise<number[] | undefined> => {
    const rendered = tokenizer.chatTemplate?.renderRequest(PROBE_CHAT);
    if (!rendered?.ok) return undefined;
    return tokenizer.tokenizer.encode(rendered.value.text, { addSpecialTokens: false });
  };

  /** The worker's ids, `unavailable` for an answer that will not change, or undefined to retry. */
  const theirs = async (worker: WorkerSpec): Promise<number[] | { unavailable: string } | undefined> => {
    const base = /^[a-z][a-z0-9+.-]*:\/\//i.test(worker.address) ? worker.address : `http://${worker.address}`;
    const body = {
      ...(worker.served_model_name ? { model: worker.served_model_name } : {}),
      ...PROBE_CHAT,
      add_special_tokens: false,
    };
    let response: Response;
    try {
      response = await fetch(new URL('/tokenize', base.endsWith('/') ? base : `${base}/`), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.any([stop.signal, AbortSignal.timeout(timeoutMs)]),
      });
    } catch {
      return undefined; // not up yet, or gone: retry
    }
    const text = await response.text().catch(() => '');
    if (response.status >= 500) return undefined;
    if (!response.ok) return { unavailable: `POST /tokenize answered ${response.status}: ${text.slice(0, 200)}` };
    try {
      const tokens = (JSON.parse(text) as { tokens?: unknown }).tokens;
      if (Array.isArray(tokens) && tokens.every((t) => Number.isInteger(t))) return tokens as number[];
    } catch {
      // fall through
    }
    return { unavailable: 'POST /tokenize answered without a list of token ids' };
  };

  const run = async (worker: WorkerSpec): Promise<TemplateCheckOutcome> => {
    const expected = await ours();
    if (!expected) {
      metrics.countChatTemplateCheck(worker.name, 'unavailable');
      return { outcome: 'unavailable', reason: 'the orchestrator has no chat template that renders the probe' };
    }
    for (let attempt = 0; ; attempt++) {
      if (stop.signal.aborted) return { outcome: 'unavailable', reason: 'stopped' };
      const got = await theirs(worker);
      if (Array.isArray(got)) {
        const position = firstDifference(expected, got);
        if (position < 0) {
          metrics.countChatTemplateCheck(worker.name, 'match');
          logger.info(
            { worker: worker.name, tokens: got.length },
            `chat template self-check: worker ${worker.name} tokenizes the probe chat exactly as the router does (${got.length} tokens)`,
          );
          return { outcome: 'match', tokens: got.length };
        }
        metrics.countChatTemplateCheck(worker.name, 'mismatch');
        const around = (ids: readonly number[]) => ids.slice(Math.max(0, position - 2), position + 3);
        logger.error(
          {
            worker: worker.name,
            position,
            routerTokens: expected.length,
            workerTokens: got.length,
            routerIds: around(expected),
            workerIds: around(got),
          },
          [
            `CHAT TEMPLATE MISMATCH: worker ${worker.name} tokenizes the probe chat differently from the router`,
            `from token ${position} on (router ${expected.length} tokens, worker ${got.length});`,
            'prefix-aware routing of chats to this worker will miss its cache.',
            'Check orchestrator.tokenizer against the model the worker serves, and its chat template.',
          ].join(' '),
        );
        return { outcome: 'mismatch', position, ours: expected[position], theirs: got[position] };
      }
      if (got !== undefined || attempt >= delays.length) {
        const reason = got?.unavailable ?? `no answer from POST /tokenize after ${attempt + 1} attempts`;
        metrics.countChatTemplateCheck(worker.name, 'unavailable');
        logger.warn(
          { worker: worker.name, reason },
          `chat template self-check: cannot check worker ${worker.name}: ${reason}`,
        );
        return { outcome: 'unavailable', reason };
      }
      try {
        await clock.sleep(delays[attempt]!, stop.signal);
      } catch {
        return { outcome: 'unavailable', reason: 'stopped' };
      }
    }
  };

  return {
    run,
    start(worker) {
      if (worker.backend !== 'vllm-http') return;
      run(worker).catch((error: unknown) =>
        logger.warn({ worker: worker.name, err: error }, 'chat template self-check failed'),
      );
    },
    close: () => stop.abort(),
  };
}
