import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../common/clock.ts';
import { silentLogger } from '../../common/log.ts';
import { createPlannerFeed } from './planner-feed.ts';

/** The orchestrator's one planner poller against a stand-in planner on loopback whose /decision answer the test sets. */
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
    response
      .writeHead(status, { 'content-type': 'application/json' })
      .end(body === undefined ? '' : JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

const decision = (threshold: number) => ({
  at_ms: 1,
  prefill_replicas: 2,
  decode_replicas: 3,
  disaggregation_threshold_tokens: threshold,
  predicted: { request_rate: 4 },
  pools: [],
  reasons: ['r'],
});

describe('the planner feed', () => {
  it('shows the decision and applies its threshold when it changes, keeping the last through bad answers', async () => {
    let current: { status: number; body?: unknown } = { status: 404 };
    const url = await planner(() => current);
    const applied: number[] = [];
    const feed = createPlannerFeed({
      url,
      pollMs: 60_000,
      clock: createVirtualClock(),
      logger: silentLogger,
      onThreshold: (t) => applied.push(t),
    });
    expect((await feed.poll()).state).toBe('waiting'); // no decision yet
    current = { status: 200, body: decision(512) };
    expect(await feed.poll()).toMatchObject({
      state: 'ok',
      error: null,
      decision: { thresholdTokens: 512, prefillReplicas: 2, decodeReplicas: 3, predictedRequestRate: 4 },
    });
    await feed.poll();
    for (const bad of [
      { status: 500 },
      { status: 200, body: decision(-3) },
      { status: 200, body: { prefill_replicas: 2 } },
      { status: 200, body: 'not json at all' },
    ]) {
      current = bad;
      const view = await feed.poll();
      expect(view.state).toBe('unreachable');
      expect(view.decision?.thresholdTokens).toBe(512);
    }
    current = { status: 404 };
    expect((await feed.poll()).state).toBe('ok'); // a planner restarting keeps the last decision shown
    current = { status: 200, body: decision(2048) };
    expect((await feed.poll()).decision?.thresholdTokens).toBe(2048);
    // Only changes are applied.
    expect(applied).toEqual([512, 2048]);
    feed.close();
  });

  it('only shows the decision when not told to apply it, and says "none" without a URL', async () => {
    const url = await planner(() => ({ status: 200, body: decision(100) }));
    const feed = createPlannerFeed({ url, pollMs: 60_000, clock: createVirtualClock(), logger: silentLogger });
    expect((await feed.poll()).decision?.thresholdTokens).toBe(100);
    feed.close();
    const none = createPlannerFeed({
      url: undefined,
      pollMs: 1000,
      clock: createVirtualClock(),
      logger: silentLogger,
      onThreshold: () => expect.fail('no planner'),
    });
    expect(await none.poll()).toEqual({ state: 'none', url: null, error: null, decision: null });
  });

  it('polls on its interval of the injected clock, and not after stop', async () => {
    let polls = 0;
    const url = await planner(() => {
      polls++;
      return { status: 200, body: decision(100 + polls) };
    });
    const clock = createVirtualClock();
    const feed = createPlannerFeed({ url, pollMs: 1000, clock, logger: silentLogger, onThreshold: () => undefined });
    const settle = async (n: number) => {
      for (let i = 0; i < 200 && polls < n; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    };
    await settle(1);
    expect(polls).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await clock.advanceAsync(1000);
    await settle(2);
    expect(polls).toBe(2);
    feed.close();
    await clock.advanceAsync(5000);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(polls).toBe(2);
  });

  it('keeps the threshold when the planner is unreachable', async () => {
    const feed = createPlannerFeed({
      url: 'http://127.0.0.1:1',
      pollMs: 60_000,
      clock: createVirtualClock(),
      logger: silentLogger,
      onThreshold: () => expect.fail('nothing to apply'),
    });
    const view = await feed.poll();
    expect(view.state).toBe('unreachable');
    expect(view.error).toContain('/decision');
    feed.close();
  });
});
