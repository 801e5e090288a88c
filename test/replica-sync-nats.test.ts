import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeGrpcWorker } from './fakes/fake-grpc-worker.ts';
import { natsServerBinary, startNatsServer, type NatsServer } from './fakes/nats-server.ts';
import { sample, startWorkers, waitUntil } from './fakes/orchestrator-harness.ts';
import { completion, get, spawnOrchestrator, type OrchestratorProcess } from './fakes/orchestrator-process.ts';

/**
 * Two orchestrator replicas (real processes, one serving process each) syncing bookings over a
 * real nats-server on a free loopback port, in front of four fake gRPC workers. Worker status is
 * polled once at start only, so what one replica knows of the other's requests comes from sync.
 */

const INSTALL = 'install it with .ci/setup-nats (Debian: apt-get install nats-server)';
const binary = natsServerBinary();
if (!binary && process.env.CI !== 'true')
  console.warn(`test/replica-sync-nats.test.ts skipped: no nats-server; ${INSTALL}`);

describe.runIf(!binary && process.env.CI === 'true')('replica sync over NATS (CI)', () => {
  it('has nats-server', () => {
    throw new Error(`no nats-server under CI=true: ${INSTALL}`);
  });
});

describe.skipIf(!binary)('replica sync over NATS', () => {
  let nats: NatsServer;
  let workers: FakeGrpcWorker[];
  let a: OrchestratorProcess;
  let b: OrchestratorProcess;

  beforeAll(async () => {
    nats = await startNatsServer(binary!);
    workers = await startWorkers(4, { tokenDelayMs: 25 });
    const config = {
      log: { level: 'info' },
      orchestrator: {
        host: '127.0.0.1',
        port: 0,
        processes: 1,
        // One status poll at start: later load is known only from this replica's bookings and sync.
        health: { interval_s: 60, timeout_s: 2, failure_threshold: 2, success_threshold: 1 },
        shutdown_grace_s: 2,
        replica_sync: { nats_url: nats.url, heartbeat_s: 0.2, peer_timeout_s: 1.5, reconnect_wait_s: 0.2 },
      },
      routing: { policy: 'least-loaded', guard: { enabled: false } },
      workers: workers.map((w, i) => ({ name: `w${i}`, address: w.address })),
    };
    [a, b] = await Promise.all([
      spawnOrchestrator(config, { timeoutMs: 150_000 }),
      spawnOrchestrator(config, { timeoutMs: 150_000 }),
    ]);
    for (const replica of [a, b])
      await waitUntil('ready', async () => (await get(replica.url, '/ready')).status === 200, 60_000);
    await waitUntil(
      'the replicas see each other',
      async () => {
        const peers = await Promise.all(
          [a, b].map(
            async (r) => (JSON.parse((await get(r.url, '/debug/replicas')).body) as { peers: unknown[] }).peers.length,
          ),
        );
        return peers.every((n) => n === 1);
      },
      30_000,
    );
  }, 240_000);

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    for (const w of workers ?? []) await w.close();
    await nats?.kill();
  });

  const running = () => workers.map((w) => w.running);
  const total = () => running().reduce((x, y) => x + y, 0);

  it("routes around the other replica's requests: a burst sent half to each does not herd", async () => {
    // A's two requests occupy two workers; B, told by sync, sends its two to the idle ones.
    const first = [completion(a.url, 'alpha one', 300), completion(a.url, 'alpha two', 300)];
    await waitUntil('A running 2', () => total() === 2, 30_000);
    await waitUntil(
      "B holds A's bookings",
      async () => {
        const rows = JSON.parse((await get(b.url, '/debug/workers')).body) as {
          ranks: { load: { booked: { inflightRequests: number } } }[];
        }[];
        return rows.reduce((n, r) => n + r.ranks.reduce((m, k) => m + k.load.booked.inflightRequests, 0), 0) === 2;
      },
      10_000,
    );
    const second = [completion(b.url, 'beta one', 300), completion(b.url, 'beta two', 300)];
    await waitUntil('4 running', () => total() === 4, 30_000);
    expect(running()).toEqual([1, 1, 1, 1]);
    // Then a burst of 8 more, alternating between the replicas 200 ms apart (sync takes
    // milliseconds): 3 per worker, none herded.
    const burst: ReturnType<typeof completion>[] = [];
    for (let i = 0; i < 8; i++) {
      burst.push(completion(i % 2 === 0 ? a.url : b.url, `burst ${i}`, 240));
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await waitUntil('12 running', () => total() === 12, 30_000);
    expect(Math.max(...running())).toBe(3);
    for (const r of await Promise.all([...first, ...second, ...burst])) expect(r.status).toBe(200);
  }, 120_000);

  it('keeps serving while NATS is killed and restarted, says so, and resumes sync', async () => {
    let stop = false;
    const failures: string[] = [];
    let served = 0;
    const loop = async (url: string) => {
      while (!stop) {
        const r = await completion(url, 'steady traffic', 4).catch((e: Error) => ({ status: 0, body: e.message }));
        if (r.status === 200) served++;
        else failures.push(`${r.status} ${r.body}`);
      }
    };
    const loops = [loop(a.url), loop(a.url), loop(b.url), loop(b.url)];
    await waitUntil('traffic', () => served >= 8, 30_000);
    await nats.kill();
    for (const r of [a, b])
      await waitUntil(
        'the loss logged',
        () => r.logs().some((l) => /replica sync over nats lost/.test(String(l['msg']))),
        20_000,
      );
    for (const r of [a, b])
      expect(sample((await get(r.url, '/metrics')).body, 'tandem_replica_sync_connected{transport="nats"}')).toBe(0);
    const duringOutage = served;
    await waitUntil('served during the outage', () => served >= duringOutage + 8, 30_000);
    await nats.start();
    // The first connection logged one line; the reconnection logs a second.
    for (const r of [a, b])
      await waitUntil(
        'reconnected',
        () => r.logs().filter((l) => /replica sync over nats connected/.test(String(l['msg']))).length >= 2,
        30_000,
      );
    for (const r of [a, b])
      await waitUntil(
        'sync resumed',
        async () => (JSON.parse((await get(r.url, '/debug/replicas')).body) as { peers: unknown[] }).peers.length === 1,
        20_000,
      );
    for (const r of [a, b])
      expect(sample((await get(r.url, '/metrics')).body, 'tandem_replica_sync_connected{transport="nats"}')).toBe(1);
    stop = true;
    await Promise.all(loops);
    expect(failures).toEqual([]);
  }, 150_000);

  it("ends the killed replica's requests with a clean error, serves every request sent to the survivor, and forgets the dead one's bookings", async () => {
    const onA = Array.from({ length: 4 }, (_, i) =>
      completion(a.url, `doomed ${i}`, 200).then(
        (r) => `HTTP ${r.status}`,
        (e: Error) => e.message,
      ),
    );
    await waitUntil('A running 4', () => total() === 4, 30_000);
    const onB = Array.from({ length: 4 }, (_, i) => completion(b.url, `survivor ${i}`, 40));
    await waitUntil('8 running', () => total() === 8, 30_000);
    a.child.kill('SIGKILL');
    for (const outcome of await Promise.all(onA)) expect(outcome).toMatch(/socket hang up|ECONNRESET/);
    const more = await Promise.all(Array.from({ length: 6 }, (_, i) => completion(b.url, `after ${i}`, 4)));
    for (const r of [...(await Promise.all(onB)), ...more]) expect(r.status).toBe(200);
    await waitUntil(
      'the dead replica dropped',
      () => b.logs().some((l) => /peer silent: dropping its bookings/.test(String(l['msg']))),
      20_000,
    );
    await waitUntil(
      'no bookings of A left on B',
      async () => (JSON.parse((await get(b.url, '/debug/replicas')).body) as { peers: unknown[] }).peers.length === 0,
      20_000,
    );
  }, 120_000);
});
