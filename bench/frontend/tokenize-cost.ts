/**
 * Tokenization-cost benchmark (not a test): the CPU the frontend spends turning a request body
 * into prompt token ids (JSON parse, chat template, tokenize), per request, for a ~1001-token
 * prompt: fresh text each time (completion and chat), and a chat whose long system prompt was
 * seen before (only the short user turn is new). Each figure is measured twice in the same run:
 * with every text sent to the native `tokenizers` library on the libuv pool (`native`, what the
 * orchestrator did before) and with the JavaScript byte-level BPE and its segment cache
 * (`js+cache`, the default now). CPU is process.cpuUsage() (every thread, the pool included) over
 * `--requests` requests after `--warmup` unmeasured ones; requests run one at a time.
 *
 *   npx tsx bench/frontend/tokenize-cost.ts [--requests 400] [--warmup 100] [--tokenizer qwen3]
 *
 * "Fresh" prompts are new word sequences over a 24k-word vocabulary (the tokenizer's own whole
 * words), so the word cache is warm as in steady serving; `cold` repeats the fresh chat with a
 * new tokenizer whose caches are empty, once per request (the first request after start-up).
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createPromptTexts } from './prompt-texts.ts';
import {
  createHfTokenizer,
  loadModelTokenizer,
  type ChatTemplate,
  type Tokenizer,
} from '../../common/tokenizer/index.ts';

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '400' },
    warmup: { type: 'string', default: '100' },
    tokenizer: { type: 'string', default: 'qwen3' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(
    'npx tsx bench/frontend/tokenize-cost.ts [--requests 400] [--warmup 100] [--tokenizer qwen3|DIR]\nPrints CPU per request (parse + chat template + tokenize) for a ~1001-token prompt, native vs JavaScript + segment cache.',
  );
  process.exit(0);
}
const REQUESTS = Number(args.requests);
const WARMUP = Number(args.warmup);

const model = await loadModelTokenizer(args.tokenizer);
const template = model.chatTemplate!;
const tokenizerJson = readFileSync(join(model.directory, 'tokenizer.json'), 'utf8');
const make = (maxSyncChars: number): Tokenizer => {
  const created = createHfTokenizer({ tokenizerJson, maxSyncChars });
  if (!created.ok) throw created.error;
  return created.value;
};
const promptTexts = createPromptTexts(model.directory);
type Body = () => string;
const bodies: Record<string, Body> = Object.fromEntries(
  Object.entries(promptTexts.bodies).map(([label, body]) => [
    label,
    () => JSON.stringify(body({ model: 'm', max_tokens: 64 })),
  ]),
);

async function prepare(body: string, tokenizer: Tokenizer, chat: ChatTemplate): Promise<number> {
  const parsed = JSON.parse(body) as { prompt?: string; messages?: { role: string; content: string }[] };
  if (parsed.prompt !== undefined) return (await tokenizer.encode(parsed.prompt, { addSpecialTokens: true })).length;
  const rendered = chat.renderRequest({ messages: parsed.messages! });
  if (!rendered.ok) throw rendered.error;
  return (await tokenizer.encode(rendered.value.text, { addSpecialTokens: false })).length;
}

async function measure(
  _label: string,
  body: Body,
  tokenizer: () => Tokenizer,
): Promise<{ ms: number; tokens: number }> {
  const texts = Array.from({ length: WARMUP + REQUESTS }, body);
  const shared = tokenizer();
  let tokens = 0;
  for (const text of texts.slice(0, WARMUP)) await prepare(text, shared, template);
  const start = process.cpuUsage();
  for (const text of texts.slice(WARMUP)) tokens += await prepare(text, shared, template);
  const used = process.cpuUsage(start);
  return { ms: (used.user + used.system) / 1000 / REQUESTS, tokens: tokens / REQUESTS };
}

console.log(
  `load average before: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}; ${REQUESTS} requests after ${WARMUP} warm-up, one at a time`,
);
const native = make(0);
const fast = make(65_536);
for (const [label, body] of Object.entries(bodies)) {
  const before = await measure(label, body, () => native);
  const after = await measure(label, body, () => fast);
  console.log(
    `${label.padEnd(34)} ${before.tokens.toFixed(0)} tokens  native ${before.ms.toFixed(3)} ms/request   js+cache ${after.ms.toFixed(3)} ms/request   (${(before.ms / after.ms).toFixed(1)}x)`,
  );
}
// Cold: a fresh tokenizer per request (empty word and segment caches), the fresh chat.
{
  const body = bodies['chat, fresh system + user']!;
  const n = Math.min(REQUESTS, 20);
  const texts = Array.from({ length: n }, body);
  const tokenizers = texts.map(() => make(65_536));
  const start = process.cpuUsage();
  for (const [i, text] of texts.entries()) await prepare(text, tokenizers[i]!, template);
  const used = process.cpuUsage(start);
  console.log(
    `${'chat, fresh, empty caches (cold)'.padEnd(34)} js ${((used.user + used.system) / 1000 / n).toFixed(3)} ms/request over ${n} new tokenizers`,
  );
}
// The parts of the chat path, warm: template rendering alone, and JSON.parse alone.
{
  const texts = Array.from({ length: REQUESTS }, bodies['chat, system prompt seen before']!);
  let start = process.cpuUsage();
  const parsed = texts.map((t) => JSON.parse(t) as { messages: { role: string; content: string }[] });
  let used = process.cpuUsage(start);
  const parseMs = (used.user + used.system) / 1000 / REQUESTS;
  start = process.cpuUsage();
  for (const p of parsed) template.renderRequest({ messages: p.messages });
  used = process.cpuUsage(start);
  console.log(
    `of which: JSON.parse ${parseMs.toFixed(3)} ms, chat template render ${((used.user + used.system) / 1000 / REQUESTS).toFixed(3)} ms per request`,
  );
}
console.log(
  `load average after: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
