import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeGrpcWorker } from './fakes/fake-grpc-worker.ts';
import { sample, startWorkers, waitUntil } from './fakes/orchestrator-harness.ts';
import { completion, get, spawnOrchestrator, type OrchestratorProcess } from './fakes/orchestrator-process.ts';

/**
 * `orchestrator.processes: 2`: a cluster primary and two serving processes behind one port,
 * as real processes in front of fake gRPC workers. /metrics aggregates every process; the
 * processes share their bookings; a serving process SIGKILLed under traffic is restarted and
 * only its own requests in flight fail.
 */

let workers: FakeGrpcWorker[];
let orchestrator: OrchestratorProcess;

beforeAll(async () => {
  workers = await startWorkers(2, { tokenDelayMs: 20 });
  orchestrator = await spawnOrchestrator(
    {
      log: { level: 'info' },
      orchestrator: {
        host: '127.0.0.1',
        port: 0,
        processes: 2,
        health: { interval_s: 0.1, timeout_s: 1, failure_threshold: 2, success_threshold: 1 },
        shutdown_grace_s: 5,
        replica_sync: { heartbeat_s: 0.2, peer_timeout_s: 1 },
      },
      workers: workers.map((w, i) => ({ name: `w${i}`, address: w.address })),
    },
    { listening: /serving processes$/, timeoutMs: 150_000 },
  );
}, 180_000);

afterAll(async () => {
  await orchestrator?.stop();
  for (const w of workers ?? []) await w.close();
});

const pids = (): number[] => {
  const line = orchestrator.logs().find((l) => Array.isArray(l['pids']));
  return (line?.['pids'] as number[] | undefined) ?? [];
};
const metric = async (series: string) => sample((await get(orchestrator.url, '/metrics')).body, series) ?? 0;

describe('several serving processes behind one port', () => {
  it('serves from every process, and one /metrics scrape counts the requests of all of them', async () => {
    await waitUntil('ready', async () => (await get(orchestrator.url, '/ready')).status === 200, 30_000);
    // Both processes must be ready: the next connections alternate between them.
    await waitUntil(
      'both ready',
      async () =>
        (await get(orchestrator.url, '/ready')).status === 200 &&
        (await get(orchestrator.url, '/ready')).status === 200,
      30_000,
    );
    const origins = new Set<string>();
    for (let i = 0; i < 6; i++)
      origins.add((JSON.parse((await get(orchestrator.url, '/debug/replicas')).body) as { origin: string }).origin);
    expect(origins.size).toBe(2);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => completion(orchestrator.url, `hello ${i}`, 3)),
    );
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    // Each process counted about half; every scrape, whichever process answers it, shows all 20.
    for (let i = 0; i < 4; i++)
      expect(await metric('tandem_requests_total{outcome="success",mode="aggregated"}')).toBe(20);
    expect(await metric('tandem_orchestrator_processes')).toBe(2);
  }, 60_000);

  it('shares bookings: each process sees the other as a peer and its requests in flight', async () => {
    const replicas = JSON.parse((await get(orchestrator.url, '/debug/replicas')).body) as {
      peers: { origin: string }[];
      transports: { name: string; connected: boolean }[];
    };
    expect(replicas.transports).toEqual([{ name: 'ipc', connected: true }]);
    expect(replicas.peers).toHaveLength(1);
    // 8 slow requests spread over both processes: every process's book holds all 8.
    const running = Array.from({ length: 8 }, (_, i) => completion(orchestrator.url, `long ${i}`, 40));
    await waitUntil('8 running', () => workers.reduce((n, w) => n + w.running, 0) === 8, 40_000);
    await waitUntil('both processes see 8 booked', async () => {
      const seen = await Promise.all(
        Array.from({ length: 4 }, async () => {
          const rows = JSON.parse((await get(orchestrator.url, '/debug/workers')).body) as {
            ranks: { load: { booked: { inflightRequests: number } } }[];
          }[];
          return rows.reduce((n, r) => n + r.ranks.reduce((m, rank) => m + rank.load.booked.inflightRequests, 0), 0);
        }),
      );
      return seen.every((n) => n === 8);
    });
    expect((await Promise.all(running)).map((r) => r.status)).toEqual(Array(8).fill(200));
  }, 60_000);

  it('restarts a serving process killed under traffic; only its requests in flight fail, cleanly', async () => {
    const [victim] = pids();
    expect(victim).toBeGreaterThan(0);
    const before = Array.from({ length: 16 }, (_, i) =>
      completion(orchestrator.url, `before ${i}`, 30).then(
        (r) => ({ ok: r.status === 200, error: r.status === 200 ? null : `HTTP ${r.status}` }),
        (e: Error) => ({ ok: false, error: e.message }),
      ),
    );
    await waitUntil('16 running', () => workers.reduce((n, w) => n + w.running, 0) === 16, 40_000);
    process.kill(victim!, 'SIGKILL');
    await waitUntil(
      'the death noticed',
      () => orchestrator.logs().some((l) => /died .*restarting it/.test(String(l['msg']))),
      40_000,
    );
    // Sent after the death: every one is served, by the survivor or the restarted process.
    const after = await Promise.all(
      Array.from({ length: 12 }, (_, i) => completion(orchestrator.url, `after ${i}`, 3)),
    );
    expect(after.map((r) => r.status)).toEqual(Array(12).fill(200));
    const settled = await Promise.all(before);
    const failed = settled.filter((r) => !r.ok);
    // The victim held about half; the survivor's all finished.
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.length).toBeLessThan(16);
    for (const f of failed) expect(f.error).toMatch(/socket hang up|ECONNRESET/);
    await waitUntil('restarted', () => orchestrator.logs().some((l) => /is back$/.test(String(l['msg']))), 60_000);
    expect(await metric('tandem_orchestrator_process_restarts_total')).toBe(1);
    await waitUntil('2 processes again', async () => (await metric('tandem_orchestrator_processes')) === 2, 30_000);
    // The dead process's bookings are gone from the survivor's book at once (it said nothing, the primary did).
    await waitUntil(
      'no bookings left',
      async () => {
        const rows = JSON.parse((await get(orchestrator.url, '/debug/replicas')).body) as {
          peers: { bookings: number }[];
        };
        return rows.peers.every((p) => p.bookings === 0);
      },
      30_000,
    );
  }, 180_000);

  it('stops every process on SIGTERM and exits 0', async () => {
    orchestrator.child.kill('SIGTERM');
    expect(await orchestrator.exited()).toBe(0);
    for (const pid of pids()) expect(() => process.kill(pid, 0)).toThrow();
  }, 30_000);
});
