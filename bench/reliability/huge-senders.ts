/**
 * The huge case's hostile clients (front-door.ts spawns this, in its own process so that pushing
 * 7 MB bodies as fast as they are refused does not delay the timings of the measuring process):
 * four clients each sending 7 MB completion prompts in a loop for --seconds, then one JSON line
 * on stdout: every outcome, this process's CPU seconds, and its own event-loop delay (ms), which
 * every client-side figure here includes.
 *
 *   npx tsx bench/reliability/huge-senders.ts --url URL [--seconds 15] [--write whole|paced] [--model M]
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { agent, hugeBody, type Outcome, sendPaced, streamOnce } from './http-clients.ts';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    seconds: { type: 'string', default: '15' },
    /** `whole`: undici writes each body at once; `paced`: 64 kB at a time, stopping at the answer (http-clients.ts). */
    write: { type: 'string', default: 'whole' },
    model: { type: 'string', default: 'Qwen/Qwen3-8B' },
  },
});
if (args.url === undefined) throw new Error('--url is required');
const url = args.url;
const body = hugeBody(args.model);
const until = performance.now() + Number(args.seconds) * 1000;
const refusals: Outcome[] = [];
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
await Promise.all(
  Array.from({ length: 4 }, async () => {
    while (performance.now() < until)
      refusals.push(await (args.write === 'paced' ? sendPaced(url, body) : streamOnce(url, body)));
  }),
);
loopDelay.disable();
const cpu = process.cpuUsage();
const loopDelayMs = { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 };
console.log(JSON.stringify({ refusals, cpuS: (cpu.user + cpu.system) / 1e6, loopDelayMs }));
await agent.close();
