/**
 * Tokenizer CPU per fresh prompt, two trees in one process, cold-ish (not a test). In the server a
 * fresh prompt tokenizes 4-6x slower than in a tight loop: between requests everything else the
 * process does evicts the encoder's tables from the CPU caches. Here each prompt is new text and,
 * in `cold` mode, a 32 MB buffer is written between prompts (the sweep is not timed). Tree A's
 * and tree B's `createHfTokenizer` run in blocks that alternate (A, B, B, A, ...), so a loaded
 * machine biases neither; figures are process.cpuUsage() (every thread, so GC helpers count)
 * around `encodeWithin` alone, summed over the blocks, per prompt, and B / A (> 1: A is cheaper).
 *
 *   NODE_OPTIONS=--expose-gc npx tsx bench/frontend/tokenize-cold-ab.ts --b ../old-tree [--a .] [--blocks 12] [--block 40] [--mode cold|warm]
 *
 * Texts: `words` are ~1001-token sentences over the tokenizer's own whole words (prompt-texts.ts,
 * each word one id); `chat` and `seen` are the Qwen3 template's rendering of a fresh chat and of a
 * chat whose ~880-token system prompt every request shares (frontend-overhead.ts's kinds);
 * `files` are ~4,000-character windows of this repository's Markdown and TypeScript (code,
 * punctuation runs, newlines, indentation). Both tokenizers first encode 300
 * prompts of each kind unmeasured (a word cache warm as in steady serving).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createRng } from '../../common/rng.ts';
import { loadModelTokenizer, type TemplateChatMessage, type Tokenizer } from '../../common/tokenizer/index.ts';
import { createPromptTexts, type PromptKind } from './prompt-texts.ts';

const { values: args } = parseArgs({
  options: {
    a: { type: 'string', default: new URL('../..', import.meta.url).pathname },
    b: { type: 'string' },
    blocks: { type: 'string', default: '12' },
    block: { type: 'string', default: '40' },
    mode: { type: 'string', default: 'cold' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help || !args.b || (args.mode !== 'cold' && args.mode !== 'warm')) {
  console.log(
    [
      'npx tsx bench/frontend/tokenize-cold-ab.ts --b TREE_B [flags]',
      'Tokenizer CPU per fresh prompt of two trees in one process, blocks alternating.',
      '  --a DIR        tree A (default: this tree)',
      '  --b DIR        tree B (required): a worktree root holding common/tokenizer/',
      '  --blocks 12    blocks per tree and text kind',
      '  --block 40     prompts per block',
      '  --mode cold    cold: a 32 MB buffer written between prompts (untimed); warm: none',
    ].join('\n'),
  );
  process.exit(args.help ? 0 : 1);
}
const blocks = Number(args.blocks);
const block = Number(args.block);
const cold = args.mode === 'cold';

type CreateHf = typeof import('../../common/tokenizer/index.ts').createHfTokenizer;
const model = await loadModelTokenizer('qwen3');
const tokenizerJson = readFileSync(join(model.directory, 'tokenizer.json'), 'utf8');
const load = async (tree: string): Promise<Tokenizer> => {
  const module = (await import(join(resolve(tree), 'common/tokenizer/hf-tokenizer.ts'))) as {
    createHfTokenizer: CreateHf;
  };
  const created = module.createHfTokenizer({ tokenizerJson });
  if (!created.ok) throw created.error;
  return created.value;
};
const trees = { A: await load(args.a), B: await load(args.b) };

const rng = createRng(14);
const promptTexts = createPromptTexts(model.directory, 14);
const root = new URL('../..', import.meta.url).pathname;
const files = ['common/tokenizer', 'orchestrator/frontend', 'bench/frontend', 'docs', '.']
  .flatMap((dir) => {
    try {
      return readdirSync(join(root, dir))
        .filter((f) => f.endsWith('.ts') || f.endsWith('.md'))
        .map((f) => readFileSync(join(root, dir, f), 'utf8'));
    } catch {
      return [];
    }
  })
  .filter((text) => text.length > 5000);
const template = model.chatTemplate!;
const rendered = (kind: PromptKind) => () => {
  const body = promptTexts.bodies[kind]({}) as { messages: TemplateChatMessage[] };
  const result = template.renderRequest({ messages: body.messages });
  if (!result.ok) throw result.error;
  return result.value.text;
};
const kinds: Record<string, () => string> = {
  words: () => promptTexts.sentence(1001),
  chat: rendered('chat, fresh system + user'),
  seen: rendered('chat, system prompt seen before'),
  files: () => {
    const file = rng.pick(files);
    const at = rng.int(file.length - 4000);
    return file.slice(at, at + 4000);
  },
};

/** With `node --expose-gc` (NODE_OPTIONS), a full collection between blocks. */
const gc = (globalThis as { gc?: () => void }).gc;
const sweep = new Uint8Array(32 << 20);
let sink = 0;
const evict = () => {
  for (let i = 0; i < sweep.length; i += 64) sweep[i] = (sweep[i]! + i) & 255;
  sink += sweep[rng.int(sweep.length)]!;
};
/** CPU microseconds of encoding `texts`, evicting the caches before each when cold. */
const run = async (tokenizer: Tokenizer, texts: string[]): Promise<{ us: number; ids: number }> => {
  let us = 0;
  let ids = 0;
  for (const text of texts) {
    if (cold) evict();
    const start = process.cpuUsage();
    const result = await tokenizer.encodeWithin(text, { addSpecialTokens: false, maxTokens: 1 << 20 });
    const used = process.cpuUsage(start);
    us += used.user + used.system;
    ids += 'ids' in result ? result.ids.length : 0;
  }
  return { us, ids };
};

const load3 = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
console.log(
  `load average before: ${load3()}; mode ${args.mode}; ${blocks} blocks x ${block} prompts per tree and kind`,
);
for (const [kind, make] of Object.entries(kinds)) {
  for (const tokenizer of Object.values(trees)) await run(tokenizer, Array.from({ length: 300 }, make));
  const total = { A: { us: 0, ids: 0 }, B: { us: 0, ids: 0 } };
  for (let b = 0; b < blocks; b++) {
    const texts = Array.from({ length: block }, make);
    const order = b % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const);
    for (const name of order) {
      gc?.(); // each block starts from a collected heap (untimed): a major GC left by the other tree's block does not land in this one
      const { us, ids } = await run(
        trees[name],
        texts.map((t) => `${t} `.slice(0, -1)),
      );
      total[name].us += us;
      total[name].ids += ids;
    }
  }
  if (total.A.ids !== total.B.ids) throw new Error(`${kind}: trees disagree on ids (${total.A.ids} vs ${total.B.ids})`);
  const n = blocks * block;
  const a = total.A.us / n;
  const b = total.B.us / n;
  console.log(
    `${kind.padEnd(6)} ${(total.A.ids / n).toFixed(0)} ids/prompt  A ${a.toFixed(0)} us  B ${b.toFixed(0)} us  B/A ${(b / a).toFixed(2)}`,
  );
}
console.log(`load average after: ${load3()}${sink < 0 ? ' ' : ''}`);
