import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../common/clock.ts';
import { silentLogger } from '../../common/log.ts';
import { startPlannerFeed } from './planner-feed.ts';

/** The planner feed against a stand-in planner on loopback whose /decision answer the test sets. */
let server: Server | undefined;
afterEach(async () => {
  const running = server;
  server = undefined;
  if (running === undefined) return;
  running.closeAllConnections();
  await new Promise((resolve) => running.close(resolve));
});

async function planner(answer: () => { status: number; body?: unknown }): Promise<string> {
  server = createServer((request, response) => {
    const { status, body } = request.url === '/decision' ? answer() : { status: 404 };
    response.writeHead(status, { 'content-type': 'application/json' }).end(body === undefined ? '' : JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

describe('the planner feed', () => {
  it('applies the decision\'s threshold when it changes, and keeps the last one through bad answers', async () => {
    let current: { status: number; body?: unknown } = { status: 404 };
    const url = await planner(() => current);
    const applied: number[] = [];
    const feed = startPlannerFeed({ url, intervalMs: 60_000, clock: createVirtualClock(), logger: silentLogger, apply: (t) => applied.push(t) });
    expect(await feed.poll()).toBeNull(); // no decision yet
    current = { status: 200, body: { disaggregation_threshold_tokens: 512 } };
    expect(await feed.poll()).toBe(512);
    expect(await feed.poll()).toBe(512);
    for (const bad of [{ status: 500 }, { status: 200, body: { disaggregation_threshold_tokens: -3 } }, { status: 200, body: { prefill_replicas: 2 } }, { status: 200, body: 'not json at all' }]) {
      current = bad;
      expect(await feed.poll()).toBeNull();
    }
    current = { status: 200, body: { disaggregation_threshold_tokens: 2048 } };
    expect(await feed.poll()).toBe(2048);
    // Only changes are applied.
    expect(applied).toEqual([512, 2048]);
    feed.stop();
    expect(await feed.poll()).toBeNull();
  });

  it('polls on its interval of the injected clock, and not after stop', async () => {
    let polls = 0;
    const url = await planner(() => {
      polls++;
      return { status: 200, body: { disaggregation_threshold_tokens: 100 + polls } };
    });
    const clock = createVirtualClock();
    const feed = startPlannerFeed({ url, intervalMs: 1000, clock, logger: silentLogger, apply: () => undefined });
    const settle = async (n: number) => {
      for (let i = 0; i < 200 && polls < n; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    };
    await settle(1);
    expect(polls).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await clock.advanceAsync(1000);
    await settle(2);
    expect(polls).toBe(2);
    feed.stop();
    await clock.advanceAsync(5000);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(polls).toBe(2);
  });

  it('keeps the threshold when the planner is unreachable', async () => {
    const feed = startPlannerFeed({ url: 'http://127.0.0.1:1', intervalMs: 60_000, clock: createVirtualClock(), logger: silentLogger, apply: () => expect.fail('nothing to apply') });
    expect(await feed.poll()).toBeNull();
    feed.stop();
  });
});
