import { describe, expect, it } from 'vitest';
import type { ChatPromptRequest } from '../common/tokenizer/index.ts';
import { firstDifference } from '../common/first-difference.ts';
import { PROBE_CHAT } from '../orchestrator/discovery/index.ts';
import { startFakeVllmServer } from './fakes/fake-vllm-server.ts';
import {
  sample,
  startOrchestrator,
  testConfig,
  tokenizer,
  waitUntil,
  type RunningOrchestrator,
} from './fakes/orchestrator-harness.ts';
import { cleanupsAfter } from './fakes/cleanups.ts';

/**
 * The chat-template self-check against real loopback vLLM fakes: a vllm-http worker joining the
 * fleet is asked to tokenize the probe chat; the orchestrator compares with its own ids.
 */

const cleanups = cleanupsAfter('each');

/** What the bundled Qwen3 tokenizer and Tandem's renderer make of a chat body. */
async function idsOf(body: ChatPromptRequest): Promise<number[]> {
  const { chatTemplate, tokenizer: t } = await tokenizer();
  const rendered = chatTemplate!.renderRequest(body);
  if (!rendered.ok) throw rendered.error;
  return t.encode(rendered.value.text, { addSpecialTokens: false });
}

async function start(
  tokenize: ((body: Record<string, unknown>) => Promise<number[]>) | undefined,
): Promise<{ running: RunningOrchestrator; bodies: Record<string, unknown>[] }> {
  const server = await startFakeVllmServer({ servedModel: 'org/served-name', ...(tokenize ? { tokenize } : {}) });
  cleanups.push(() => server.close());
  const running = await startOrchestrator(
    testConfig([{ name: 'v0', backend: 'vllm-http', address: server.url, served_model_name: 'org/served-name' }]),
  );
  cleanups.push(() => running.close());
  return { running, bodies: server.tokenizeBodies };
}

const checks = async (running: RunningOrchestrator, outcome: string) =>
  sample(
    await (await fetch(`${running.url}/metrics`)).text(),
    `tandem_chat_template_checks_total{worker="v0",outcome="${outcome}"}`,
  ) ?? 0;

describe('chat-template self-check', () => {
  it('asks a joining vllm-http worker to tokenize a probe chat with a tool, and counts a match', async () => {
    const { running, bodies } = await start((body) => idsOf(body as unknown as ChatPromptRequest));
    await waitUntil('the check', async () => (await checks(running, 'match')) === 1);
    expect(bodies).toHaveLength(1);
    expect(bodies[0]).toMatchObject({
      model: 'org/served-name',
      add_special_tokens: false,
      add_generation_prompt: true,
      tools: PROBE_CHAT.tools,
      messages: PROBE_CHAT.messages,
    });
    expect(running.logs.some((l) => l.level >= 50)).toBe(false);
  });

  it('logs one loud line naming the worker and the first differing position, and counts a mismatch, when the worker tokenizes differently', async () => {
    // A worker whose template ignores tools (e.g. another model's template): same chat, no tool preamble.
    const withoutTools = (body: Record<string, unknown>) =>
      idsOf({ ...(body as unknown as ChatPromptRequest), tools: null });
    const { running } = await start(withoutTools);
    await waitUntil('the check', async () => (await checks(running, 'mismatch')) === 1);
    const expectedAt = firstDifference(await idsOf(PROBE_CHAT), await idsOf({ ...PROBE_CHAT, tools: null }));
    expect(expectedAt).toBeGreaterThan(5); // the system prompt's opening tokens agree
    const loud = running.logs.filter((l) => l.level >= 50 && l.msg.includes('CHAT TEMPLATE MISMATCH'));
    expect(loud).toHaveLength(1);
    expect(loud[0]).toMatchObject({ worker: 'v0', position: expectedAt });
    expect(loud[0]!.msg).toContain(`worker v0`);
    expect(loud[0]!.msg).toContain(`from token ${expectedAt}`);
    expect(await checks(running, 'match')).toBe(0);
  });

  it('counts a worker without /tokenize as unavailable, with a warning and no error', async () => {
    const { running } = await start(undefined);
    await waitUntil('the check', async () => (await checks(running, 'unavailable')) === 1);
    expect(running.logs.some((l) => l.level === 40 && l.msg.includes('cannot check worker v0'))).toBe(true);
    expect(running.logs.some((l) => l.level >= 50)).toBe(false);
  });

  it('finds the first differing position, and the shorter length when one sequence is a prefix', () => {
    expect(firstDifference([1, 2, 3], [1, 2, 3])).toBe(-1);
    expect(firstDifference([1, 2, 3], [1, 9, 3])).toBe(1);
    expect(firstDifference([1, 2], [1, 2, 3])).toBe(2);
    expect(firstDifference([], [7])).toBe(0);
  });
});
