/**
 * The server-side latency of refusing a huge prompt while it arrives (issue 16; not a test): the
 * front doors' fastify app (common/openai/http-app.ts, as the orchestrator's frontend builds it:
 * its body scan, the Qwen3 tokenizer's bounds, max_model_len 32,768, its error answers) in this
 * process, and four senders in a child process posting 7 MB completion prompts in a loop (the same
 * prompt as front-door.ts --case huge). Prints, server-side, from the request's head arriving
 * (fastify's onRequest; the senders write head and body together, so it is about the first body
 * byte) to the 400 handed to the kernel (onResponse), the bytes each refused connection read, and
 * this process's CPU time per refusal (user and system: the senders are another process).
 * front-door.ts measures the same refusals client-side, against a real orchestrator.
 *
 *   npx tsx bench/reliability/body-refusal.ts [--seconds 10]
 */
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { silentLogger } from '../../common/log.ts';
import { createOpenAiApp } from '../../common/openai/http-app.ts';
import { checkPromptTextLength } from '../../common/openai/prompt.ts';
import { loadModelTokenizer } from '../../common/tokenizer/index.ts';
import { sendError, toHttpError } from '../../orchestrator/frontend/http-errors.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    /** Internal: be the senders, posting to this URL. */
    senders: { type: 'string' },
  },
});
const SECONDS = Number(args.seconds);
const MAX_MODEL_LEN = 32_768;

const load = () => loadavg()[0]!.toFixed(2);
const pct = (values: readonly number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};
const spread = (values: readonly number[]) =>
  `p50 ${pct(values, 50).toFixed(1)} ms, p99 ${pct(values, 99).toFixed(1)} ms, max ${pct(values, 100).toFixed(1)} ms`;

async function serve(): Promise<void> {
  const { tokenizer } = await loadModelTokenizer('qwen3');
  const app = createOpenAiApp({
    logger: silentLogger,
    bodyLimit: 16 * 1024 * 1024,
    maxJsonDepth: 128,
    refusePrompt: (endpoint, length) => {
      const fits = checkPromptTextLength(endpoint, length, MAX_MODEL_LEN, tokenizer);
      return fits.ok ? undefined : fits.error;
    },
  });
  app.setErrorHandler((error, _request, reply) => sendError(reply, toHttpError(error)));
  app.post('/v1/completions', async () => ({ never: 'a 7 MB prompt fits no 32k context' }));
  const arrived = new WeakMap<object, number>();
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  app.addHook('onRequest', async (req) => {
    arrived.set(req.raw, performance.now());
  });
  app.addHook('onResponse', async (req, reply) => {
    latencies.push(performance.now() - (arrived.get(req.raw) ?? Number.NaN));
    statuses.set(reply.statusCode, (statuses.get(reply.statusCode) ?? 0) + 1);
  });
  const reads: number[] = [];
  app.server.on('connection', (socket: Socket) => socket.once('close', () => reads.push(socket.bytesRead)));
  const url = await app.listen({ host: '127.0.0.1', port: 0 });

  console.log(`== refusing 7 MB prompts server-side: four senders (their own process) for ${SECONDS} s`);
  console.log(`load average at start: ${load()}`);
  // CPU per refusal from 4 s in (JIT warm, the tokenizer's start-up garbage collected) to the senders' end.
  let warm: { cpu: NodeJS.CpuUsage; answered: number } | undefined;
  const warmTimer = setTimeout(() => {
    warm = { cpu: process.cpuUsage(), answered: latencies.length };
  }, 4000);
  const senders = spawn(
    process.execPath,
    ['--import', 'tsx', new URL(import.meta.url).pathname, '--senders', url, '--seconds', String(SECONDS)],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  await new Promise((resolve) => senders.once('close', resolve));
  clearTimeout(warmTimer);
  const cpu = warm && process.cpuUsage(warm.cpu);
  const refusedWarm = latencies.length - (warm?.answered ?? 0);
  await new Promise((resolve) => setTimeout(resolve, 2500)); // the last connections' linger
  const answered = [...statuses].map(([status, n]) => `${n} x ${status}`).join(', ');
  console.log(`answered ${latencies.length} (${answered}); head arrived -> answer sent: ${spread(latencies)}`);
  const readKb = reads.map((bytes) => bytes / 1000);
  if (cpu) {
    const perRefusalMs = (us: number) => (us / 1000 / refusedWarm).toFixed(3);
    const totalUs = cpu.user + cpu.system;
    console.log(
      `this process's CPU from 4 s in to the senders' end: ${(totalUs / 1e6).toFixed(2)} s for ${refusedWarm} refusals, ` +
        `${perRefusalMs(totalUs)} ms per refusal (user ${perRefusalMs(cpu.user)}, system ${perRefusalMs(cpu.system)})`,
    );
  }
  console.log(
    `bytes read per connection: p50 ${pct(readKb, 50).toFixed(0)} kB, max ${pct(readKb, 100).toFixed(0)} kB (of 7,000 kB sent)`,
  );
  console.log(`load average at end: ${load()}`);
  await app.close();
}

/** Four clients posting 7 MB completion prompts in a loop for --seconds. */
async function send(url: string): Promise<void> {
  const prompt = 'lorem ipsum dolor sit amet '.repeat(Math.ceil(7_000_000 / 27));
  const body = Buffer.from(JSON.stringify({ model: 'Qwen/Qwen3-8B', prompt, max_tokens: 16 }));
  const agent = new Agent({ connections: 64, pipelining: 1 });
  const until = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (performance.now() < until) {
        const response = await request(`${url}/v1/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          dispatcher: agent,
        }).catch(() => undefined);
        await response?.body.text();
      }
    }),
  );
  await agent.close();
}

if (args.senders !== undefined) await send(args.senders);
else await serve();
