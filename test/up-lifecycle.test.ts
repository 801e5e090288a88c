import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUp, stillRunning, type UpProcess } from './fakes/up-process.ts';

/**
 * `tandem up` as a newcomer runs it, as a child process on free ports: it serves completions
 * through the `openai` client, restarts a worker that crashes (and the orchestrator routes to it
 * again), and Ctrl-C (SIGINT) leaves no process behind. The fleet is the default one (two
 * prefill and two decode workers, disaggregation auto) plus the planner in dry run.
 */

let up: UpProcess;
const MODEL = 'Qwen/Qwen3-8B';

beforeAll(async () => {
  up = await startUp(['--port', '0']);
}, 150_000);

afterAll(() => up?.killAll());

const client = () => new OpenAI({ baseURL: `${up.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 30_000 });

interface DebugWorker {
  name: string;
  state: string;
  address: string;
}
const debugWorkers = async () => (await (await fetch(`${up.url}/debug/workers`)).json()) as DebugWorker[];

describe('tandem up', () => {
  it('prints where everything is and serves completions through the openai client', async () => {
    const banner = up.output();
    expect(banner).toContain(
      'Tandem is up: an orchestrator in front of 2 prefill + 2 decode simulated workers (qwen3-8b on h100-sxm, time scale 1), disaggregation auto, planner in dry run',
    );
    expect(banner).toMatch(/Status page +http:\/\/127\.0\.0\.1:\d+\/ui/);
    expect(banner).toMatch(/Planner +http:\/\/127\.0\.0\.1:\d+\/decision/);
    expect(banner).not.toContain('Not serving yet');

    const completion = await client().completions.create({
      model: MODEL,
      prompt: 'The capital of France is',
      max_tokens: 8,
    });
    expect(completion.usage?.completion_tokens).toBe(8);
    expect(completion.choices[0]!.finish_reason).toBe('length');

    const stream = await client().chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Hello!' }],
      max_tokens: 6,
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: { completion_tokens: number } | undefined;
    for await (const chunk of stream) usage = chunk.usage ?? usage;
    expect(usage?.completion_tokens).toBe(6);

    // The planner runs and scrapes the orchestrator.
    const plannerUrl = banner.match(/Planner +(http:\/\/\S+)\/decision/)![1]!;
    expect((await fetch(`${plannerUrl}/healthz`)).status).toBe(200);
  });

  it('reports a worker that crashes, restarts it, and the orchestrator routes to it again', async () => {
    const [, pid] = up.output().match(/decode-0 (\d+) \(grpc/)!;
    const before = (await debugWorkers()).find((w) => w.name === 'decode-0')!;
    process.kill(Number(pid), 'SIGKILL');
    await up.waitForOutput(new RegExp(`decode-0 \\(pid ${pid}\\) was killed by SIGKILL: restarting it in 1 s`));
    const [, newPid] = await up.waitForOutput(/decode-0 is back \(pid (\d+)\)/);
    expect(newPid).not.toBe(pid);
    let after: DebugWorker | undefined;
    for (let i = 0; i < 200 && !(after && after.state === 'healthy' && after.address !== before.address); i++) {
      after = (await debugWorkers()).find((w) => w.name === 'decode-0');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(after).toMatchObject({ state: 'healthy' });
    expect(after!.address).not.toBe(before.address);
    // The fleet serves again, long prompts disaggregated onto the restarted decode worker too.
    for (let i = 0; i < 6; i++) {
      const completion = await client().completions.create({
        model: MODEL,
        prompt: `after the restart ${i} `.repeat(i + 1),
        max_tokens: 2,
      });
      expect(completion.usage?.completion_tokens).toBe(2);
    }
  });

  it('stops every process it started on Ctrl-C (SIGINT), leaving none behind', async () => {
    const tree = up.processTree();
    // tandem up, four workers (one restarted), the orchestrator (its primary and one serving
    // process per core, orchestrator.processes: auto) and the planner.
    const commands = tree.map((p) => p.cmdline);
    expect(commands.filter((c) => c.includes('tandem.js worker'))).toHaveLength(4);
    const cores = availableParallelism();
    expect(commands.filter((c) => c.includes('tandem.js orchestrator'))).toHaveLength(cores > 1 ? 1 + cores : 1);
    expect(commands.filter((c) => c.includes('tandem.js planner'))).toHaveLength(1);
    const dir = up.output().match(/"dir":"([^"]+)"/)![1]!;
    expect(existsSync(dir)).toBe(true);

    const exit = await up.stop('SIGINT');
    expect(exit).toEqual({ code: 0, signal: null });
    const recorded = up.recorded();
    expect(recorded.length).toBeGreaterThanOrEqual(tree.length + 1);
    expect(recorded.filter(stillRunning).map((p) => `${p.pid} ${p.cmdline}`)).toEqual([]);
    expect(up.output()).toContain('stopped: every process has exited');
    expect(existsSync(dir)).toBe(false);
  });
});
