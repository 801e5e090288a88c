/**
 * Per-request CPU of two orchestrator trees, interleaved (not a test): on a machine others load
 * too, two servers measured one after the other see different loads; here both run at once
 * against the same stand-in workers, and blocks of requests alternate between them (A, B, A,
 * B, ...), so both see the same conditions. For each prompt kind of frontend-overhead.ts
 * (max_tokens 1, or --tokens N streamed) it prints each tree's CPU per request (/proc, user +
 * system, every thread) summed over its blocks, and B / A.
 *
 *   npx tsx bench/frontend/interleaved-ab.ts --a bin/tandem.js --b ../old-tree/bin/tandem.js [--backend grpc|vllm-http]
 *       [--blocks 16] [--block 64] [--concurrency 16] [--tokens 1]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { loadModelTokenizer } from '../../common/tokenizer/index.ts';
import { createPromptTexts, type PromptKind } from './prompt-texts.ts';
import { cpuSeconds, firstLine, loadText } from './processes.ts';

const { values: args } = parseArgs({
  options: {
    a: { type: 'string', default: new URL('../../bin/tandem.js', import.meta.url).pathname },
    b: { type: 'string' },
    backend: { type: 'string', default: 'grpc' },
    blocks: { type: 'string', default: '16' },
    block: { type: 'string', default: '64' },
    concurrency: { type: 'string', default: '16' },
    tokens: { type: 'string', default: '1' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help || !args.b) {
  console.log(
    [
      'npx tsx bench/frontend/interleaved-ab.ts --a TREE_A/bin/tandem.js --b TREE_B/bin/tandem.js [flags]',
      'CPU per request of two orchestrators run at once, blocks of requests alternating between them.',
      '  --a bin/tandem.js    tree A (default: this tree)',
      '  --b PATH             tree B (required)',
      '  --backend grpc       grpc (token level) | vllm-http (pass-through)',
      '  --blocks 16          blocks per server and prompt kind',
      '  --block 64           requests per block',
      '  --concurrency 16     closed-loop clients within a block',
      '  --tokens 1           max_tokens of each request (streamed)',
    ].join('\n'),
  );
  process.exit(args.help ? 0 : 1);
}
const MODEL = 'Qwen/Qwen3-8B';
const KINDS: PromptKind[] = [
  'completion, fresh prompt',
  'chat, fresh system + user',
  'chat, system prompt seen before',
];
const blocks = Number(args.blocks);
const block = Number(args.block);
const concurrency = Number(args.concurrency);
const tokens = Number(args.tokens);

const children: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'tandem-ab-'));
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

const workers = spawnLogged(process.execPath, [
  '--import',
  'tsx',
  new URL('./frontend-overhead.ts', import.meta.url).pathname,
  '--serve-workers',
  '--tokens',
  String(Math.max(tokens, 1)),
]);
const addresses = JSON.parse(await firstLine(workers, (line) => line.startsWith('{"grpc"'))) as {
  grpc: string[];
  httpWorkers: string[];
};
const servers = await Promise.all(
  (['a', 'b'] as const).map(async (name) => ({ name, ...(await startOrchestrator(name, args[name]!)) })),
);
const { directory } = await loadModelTokenizer('qwen3');
const texts = createPromptTexts(directory);
const body = (kind: PromptKind) =>
  JSON.stringify(texts.bodies[kind]({ model: MODEL, max_tokens: tokens, stream: true }));

console.log(
  `A ${args.a}\nB ${args.b}\n${args.backend}, max_tokens ${tokens}, ${blocks} blocks of ${block} requests per server and kind, alternating, ${concurrency} clients; load average before: ${loadText()}`,
);
for (const server of servers) for (const kind of KINDS) await run(server.url, kind, 128); // warm-up
for (const kind of KINDS) {
  const cpu = { a: 0, b: 0 };
  for (let i = 0; i < blocks; i++)
    for (const server of i % 2 === 0 ? servers : [...servers].reverse()) {
      const before = cpuSeconds(server.pid);
      await run(server.url, kind, block);
      cpu[server.name] += cpuSeconds(server.pid) - before;
    }
  const perRequest = (seconds: number) => (1000 * seconds) / (blocks * block);
  console.log(
    `${kind.padEnd(32)} A ${perRequest(cpu.a).toFixed(2)} ms  B ${perRequest(cpu.b).toFixed(2)} ms  B/A ${(cpu.b / cpu.a).toFixed(2)}`,
  );
}
console.log(`load average after: ${loadText()}`);
process.exit(0);

async function startOrchestrator(name: string, bin: string): Promise<{ url: string; pid: number }> {
  const config = join(dir, `${name}.yaml`);
  const list = args.backend === 'grpc' ? addresses.grpc : addresses.httpWorkers;
  writeFileSync(
    config,
    [
      'log: { level: warn }',
      `orchestrator: { model: "${MODEL}", port: 0, processes: 1, dispatch: { max_inflight_per_worker: 100000 }, admission: { max_inflight: 100000, shed_event_loop_lag_ms: 0 } }`,
      'routing: { policy: kv }',
      'workers:',
      ...list.map((address, i) => `  - { name: w${i}, backend: ${args.backend}, address: "${address}" }`),
      '',
    ].join('\n'),
  );
  // As frontend-overhead.ts runs it: one info line per request, as a deployment logs.
  const child = spawnLogged(process.execPath, [bin, 'orchestrator', '--config', config], {
    TANDEM_LOG__LEVEL: 'info',
    TANDEM_LOG__FORMAT: 'json',
  });
  const url = (JSON.parse(await firstLine(child, (line) => line.includes('"url"'))) as { url: string }).url;
  for (;;) {
    const ready = await fetch(`${url}/ready`).catch(() => undefined);
    if (ready?.status === 200) break;
    await sleep(100);
  }
  return { url, pid: child.pid! };
}

/** `n` requests of one kind, `concurrency` at a time, each body fresh; fails on any non-200. */
async function run(url: string, kind: PromptKind, n: number): Promise<void> {
  const bodies = Array.from({ length: n }, () => body(kind));
  const agent = new Agent({ connections: concurrency, pipelining: 1 });
  const path = kind.startsWith('chat') ? '/v1/chat/completions' : '/v1/completions';
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const response = await request(`${url}${path}`, {
          method: 'POST',
          body: bodies[next++]!,
          headers: { 'content-type': 'application/json' },
          dispatcher: agent,
        });
        const text = await response.body.text();
        if (response.statusCode !== 200) throw new Error(`HTTP ${response.statusCode}: ${text.slice(0, 200)}`);
      }
    }),
  );
  await agent.close();
}

function spawnLogged(command: string, argv: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  children.push(child);
  return child;
}
