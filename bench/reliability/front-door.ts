/**
 * Front-door reliability benchmark (issue 16; not a test): a real `tandem orchestrator` (one
 * process, default admission settings) in front of zero-compute stand-in gRPC workers (those of
 * bench/frontend/frontend-overhead.ts: a first token at once, then one every --itl-ms), driven from this
 * process. Cases (--case, default all):
 *
 * - overload: open-loop streaming arrivals, first at the fleet's capacity rate (workers x
 *   --per-worker in flight, each request --tokens tokens long), then at 3x it. Prints per phase:
 *   the share of 200 / 429 / 503, refusal latency p50/p99, Retry-After values, admitted TTFT
 *   p50/p99, completed requests per second; and the ratios the issue's goals are stated in.
 * - huge: --background streaming clients (closed loop) measured alone, then with four clients
 *   (their own process, at --senders-nice) each sending 7 MB completion prompts in a loop: refusal
 *   latency (client-side: to the status line and to the whole answer, and the senders' own
 *   event-loop delay, which that includes), the same from a fifth 7 MB client in this process (the
 *   probe, one every 50 ms), the orchestrator's own (its histogram, and how many took over 50 ms),
 *   the orchestrator's CPU time and the bytes it read per refusal (/proc rchar), how long its main
 *   thread ran and how long it waited for a core (schedstat; with --trace-gc, its GC pauses), its RSS
 *   growth (VmRSS before, after, peak VmHWM), the others' TTFT p99 with and without.
 * - rate: the front door's non-streaming request rate and latency at fixed concurrency
 *   (autocannon, max_tokens 1, --connections clients).
 *
 *   npx tsx bench/reliability/front-door.ts [--case all|overload|huge|rate] [--workers 4] [--per-worker 16] [--senders-nice 0]
 *       [--senders-write whole|paced] [--processes 1] [--trace-gc] [--tokens 32] [--itl-ms 40] [--seconds 15] [--background 16]
 *       [--connections 32] [--wait-factor F] [--cpu-prof DIR]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { ORCHESTRATOR_METRICS } from '../../orchestrator/metrics/names.ts';
import {
  diffDistribution,
  histogramQuantile,
  parsePrometheusText,
  type Sample,
  scrapedHistogram,
  scrapedSum,
} from '../../planner/observe/index.ts';
import type { ProfiledPhase } from '../frontend/frontend-overhead.ts';
import { firstLine, processUsage, residentKb } from '../frontend/processes.ts';
import { agent, hugeBody, type Outcome, sendPaced, streamOnce } from './http-clients.ts';

const { values: args } = parseArgs({
  options: {
    case: { type: 'string', default: 'all' },
    workers: { type: 'string', default: '4' },
    'per-worker': { type: 'string', default: '16' },
    tokens: { type: 'string', default: '32' },
    'itl-ms': { type: 'string', default: '40' },
    seconds: { type: 'string', default: '15' },
    background: { type: 'string', default: '16' },
    connections: { type: 'string', default: '32' },
    /** admission.queue_wait_ttft_factor for the orchestrator; unset: its default. A large one (1000) gives the old rule: wait up to queue_timeout_s. */
    'wait-factor': { type: 'string' },
    /** Run the orchestrator with V8's --trace-gc; the huge case prints its GC pauses (wall ms, CPU waits included). */
    'trace-gc': { type: 'boolean', default: false },
    /** orchestrator.processes: serving processes behind the one port (default 1). */
    processes: { type: 'string', default: '1' },
    /** huge: the senders' process priority (nice, 0-19; default 0). Hostile clients run on other machines; here their CPU competes with the orchestrator's. */
    'senders-nice': { type: 'string', default: '0' },
    /**
     * Write a V8 CPU profile of the orchestrator there, and phases.json: the huge case's windows
     * (npx tsx bench/frontend/profile-summary.ts DIR --server orchestrator --phase "7 MB prompts").
     */
    'cpu-prof': { type: 'string' },
    /**
     * huge: how the senders write their 7 MB: `whole` (one write of the whole body: the kernel
     * copies what the socket buffers take, several MB, whatever the answer) or `paced` (64 KB at a
     * time as the socket drains, stopping at the answer, as a client that reads while it sends).
     */
    'senders-write': { type: 'string', default: 'whole' },
  },
});
const WORKERS = Number(args.workers);
const PER_WORKER = Number(args['per-worker']);
const TOKENS = Number(args.tokens);
const ITL_MS = Number(args['itl-ms']);
const SECONDS = Number(args.seconds);
const MODEL = 'Qwen/Qwen3-8B';
const here = new URL('.', import.meta.url).pathname;
const tandem = new URL('../../bin/tandem.js', import.meta.url).pathname;

const streamBody = JSON.stringify({
  model: MODEL,
  prompt: 'tell me a story about a lighthouse',
  max_tokens: TOKENS,
  stream: true,
});

/** Open loop: one arrival every 1000 / rate ms for `seconds`, each on its own (ids `${tag}-i`). */
async function openLoop(
  url: string,
  rate: number,
  seconds: number,
  tag = 'open',
): Promise<{ outcomes: Outcome[]; wallS: number }> {
  const pending: Promise<Outcome>[] = [];
  const started = performance.now();
  const total = Math.round(rate * seconds);
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    pending.push(streamOnce(url, streamBody, `${tag}-${i}`));
  }
  const outcomes = await Promise.all(pending);
  return { outcomes, wallS: (performance.now() - started) / 1000 };
}

/** `clients` closed-loop streaming clients for `seconds` (with `tag`: ids `${tag}-client-n`). */
async function closedLoop(
  url: string,
  clients: number,
  seconds: number,
  body = streamBody,
  tag?: string,
): Promise<Outcome[]> {
  const until = performance.now() + seconds * 1000;
  const outcomes: Outcome[] = [];
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      await sleep((c * 1000) / clients / 4);
      for (let n = 0; performance.now() < until; n++)
        outcomes.push(await streamOnce(url, body, tag === undefined ? undefined : `${tag}-${c}-${n}`));
    }),
  );
  return outcomes;
}

function pct(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const ms = (v: number) => (Number.isNaN(v) ? '-' : `${v.toFixed(1)} ms`);
/** "p50 x p99 y max z" of a list of ms. */
const spread = (values: readonly number[]) =>
  `p50 ${ms(pct(values, 50))} p99 ${ms(pct(values, 99))} max ${ms(pct(values, 100))}`;
const load = () => loadavg()[0]!.toFixed(2);

interface PhaseFigures {
  ttftP50: number;
  ttftP99: number;
  completedPerS: number;
}

function describe(label: string, outcomes: readonly Outcome[], wallS: number): PhaseFigures {
  const by = (status: number) => outcomes.filter((o) => o.status === status);
  const ok = by(200);
  const refused = outcomes.filter((o) => o.status === 429 || o.status === 503);
  const share = (n: number) => `${((100 * n) / Math.max(1, outcomes.length)).toFixed(1)}%`;
  const ttft = ok.flatMap((o) => (o.ttftMs === undefined ? [] : [o.ttftMs]));
  const retry = refused.flatMap((o) => (o.retryAfter === undefined ? [] : [o.retryAfter]));
  const others = outcomes.length - ok.length - refused.length;
  const figures = { ttftP50: pct(ttft, 50), ttftP99: pct(ttft, 99), completedPerS: ok.length / wallS };
  console.log(
    `${label}: ${outcomes.length} requests in ${wallS.toFixed(1)} s; 200 ${share(ok.length)}, 429 ${share(by(429).length)}, 503 ${share(by(503).length)}, other ${share(others)}`,
  );
  console.log(
    `  admitted TTFT p50 ${ms(figures.ttftP50)} p99 ${ms(figures.ttftP99)}; completed ${figures.completedPerS.toFixed(1)} req/s`,
  );
  if (refused.length > 0)
    console.log(
      `  refusal latency ${spread(refused.map((o) => o.headMs))}; Retry-After s: min ${pct(retry, 0)} p50 ${pct(retry, 50)} max ${pct(retry, 100)}`,
    );
  // Grouped by the message up to its first digit; the last one of each group is printed whole (its numbers).
  const reasons = new Map<string, { n: number; last: string }>();
  for (const o of refused) {
    const key = `${o.status} ${/^[^0-9]*/.exec(o.message ?? '')![0]}`;
    reasons.set(key, { n: (reasons.get(key)?.n ?? 0) + 1, last: `${o.status} ${o.message}` });
  }
  for (const { n, last } of [...reasons.values()].sort((a, b) => b.n - a.n).slice(0, 4))
    console.log(`  ${n} x ${last}`);
  return figures;
}

/** The orchestrator's request log lines (info, JSON) by request id: its own TTFT and queue wait, ms. */
const serverLog = new Map<string, { ttftMs: number | null; queuedMs: number | null }>();

/** With --trace-gc: the orchestrator's GC pauses so far (wall ms), each with its kind and, for a scavenge, whether external memory forced it. */
const gcPauses: { readonly kind: string; readonly ms: number }[] = [];

function collectRequestLog(child: ChildProcess): void {
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      // --trace-gc: "... ms: Scavenge 161.1 (183.5) -> 154.9 (186.5) MB, 18.91 / 0.01 ms ...", the pause first.
      const gc = /ms: (Scavenge|Mark-Compact|Mark-Compact \(reduce\)|Minor Mark-Sweep)\b[^,]*, ([\d.]+) \//.exec(line);
      if (gc)
        gcPauses.push({
          kind: line.includes('external memory pressure') ? `${gc[1]} (external memory)` : gc[1]!,
          ms: Number(gc[2]),
        });
      if (!line.includes('"queuedMs"')) continue;
      const entry = JSON.parse(line) as { requestId: string; ttftMs: number | null; queuedMs: number | null };
      serverLog.set(entry.requestId, { ttftMs: entry.ttftMs, queuedMs: entry.queuedMs });
    }
  });
}

/**
 * Where an admitted request's TTFT went (the orchestrator's log: time waiting in the admission
 * queue), and whether refusals' Retry-After was truthful: for each refusal, the line it saw is
 * the admitted requests then waiting (in line from their first token - queued ms to their first
 * token, client clock: the stand-in workers answer at once), and that line's actual drain time
 * is how long until the last of them was placed.
 */
function queueFigures(outcomes: readonly Outcome[]): void {
  const admitted = outcomes.flatMap((o) => {
    const logged = o.id === undefined ? undefined : serverLog.get(o.id);
    return o.status === 200 && o.ttftMs !== undefined && o.sentAt !== undefined && logged ? [{ o, logged }] : [];
  });
  if (admitted.length === 0) return;
  const queued = admitted.map((a) => a.logged.queuedMs ?? 0);
  const waited = queued.filter((q) => q > 0);
  const serverTtft = admitted.map((a) => a.logged.ttftMs ?? 0);
  console.log(
    `  queue wait of the admitted (server): ${waited.length} of ${admitted.length} waited; ${spread(queued)}; server-side TTFT ${spread(serverTtft)}`,
  );
  const lines = admitted
    .filter((a) => (a.logged.queuedMs ?? 0) > 0)
    .map((a) => {
      const placedAt = a.o.sentAt! + a.o.ttftMs!;
      return { from: placedAt - a.logged.queuedMs!, to: placedAt };
    });
  const checks = outcomes.flatMap((o) => {
    if ((o.status !== 429 && o.status !== 503) || o.retryAfter === undefined || o.sentAt === undefined) return [];
    const at = o.sentAt + o.headMs;
    const drainMs = Math.max(0, ...lines.filter((l) => l.from <= at && l.to > at).map((l) => l.to - at));
    return [{ retryMs: o.retryAfter * 1000, drainMs }];
  });
  if (checks.length === 0) return;
  const early = checks.filter((c) => c.retryMs < c.drainMs).length;
  console.log(
    `  Retry-After vs the actual drain of the line each refusal saw: drain ${spread(checks.map((c) => c.drainMs))}; Retry-After shorter than the drain for ${early} of ${checks.length}; Retry-After - drain p50 ${ms(
      pct(
        checks.map((c) => c.retryMs - c.drainMs),
        50,
      ),
    )}`,
  );
}

async function overload(url: string): Promise<void> {
  const capacity = WORKERS * PER_WORKER;
  const serviceS = ((TOKENS - 1) * ITL_MS) / 1000;
  console.log(
    `\n== overload: capacity ${capacity} in flight (${WORKERS} workers x ${PER_WORKER}), ${TOKENS} tokens at ${ITL_MS} ms = ${serviceS.toFixed(2)} s each at least; ${SECONDS} s per phase`,
  );
  console.log(`load average at start: ${load()}`);
  // At capacity: exactly `capacity` closed-loop clients, so the fleet is full and nobody waits.
  const started = performance.now();
  const at = await closedLoop(url, capacity, SECONDS, streamBody, 'at');
  const base = describe(`at capacity (${capacity} closed-loop clients)`, at, (performance.now() - started) / 1000);
  await sleep(500); // the last log lines
  queueFigures(at);
  await sleep(3000);
  const offered = 3 * base.completedPerS;
  console.log(
    `load average before 3x: ${load()}; offering ${offered.toFixed(1)} req/s, open loop (3x the throughput at capacity)`,
  );
  const over = await openLoop(url, offered, SECONDS, 'over');
  const three = describe('3x capacity', over.outcomes, over.wallS);
  await sleep(500);
  queueFigures(over.outcomes);
  console.log(
    `  ratios: admitted TTFT p99 3x / 1x = ${(three.ttftP99 / base.ttftP99).toFixed(2)} (goal <= 3); throughput 3x / 1x = ${(three.completedPerS / base.completedPerS).toFixed(2)} (goal ~1)`,
  );
  console.log(`load average at end: ${load()}`);
}

/** A process's main thread: seconds on a core and seconds ready but waiting for one (Linux /proc schedstat; NaN elsewhere). */
function mainThreadSched(pid: number): { runS: number; waitS: number } {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ').map(Number);
    return { runS: run! / 1e9, waitS: wait! / 1e9 };
  } catch {
    return { runS: Number.NaN, waitS: Number.NaN };
  }
}

/** "GC pauses N, total T ms, longest a b c ... ms; over 15 ms: kinds" of wall-time pauses. */
function gcSummary(pauses: readonly { readonly kind: string; readonly ms: number }[]): string {
  const longest = pauses
    .map((p) => p.ms)
    .sort((a, b) => b - a)
    .slice(0, 5);
  const total = pauses.reduce((sum, p) => sum + p.ms, 0);
  const kinds = new Map<string, number>();
  for (const p of pauses) if (p.ms > 15) kinds.set(p.kind, (kinds.get(p.kind) ?? 0) + 1);
  const over = [...kinds].map(([kind, n]) => `${n} ${kind}`).join(', ') || 'none';
  return `GC pauses ${pauses.length}, total ${total.toFixed(0)} ms, longest ${longest.map((p) => p.toFixed(1)).join(' ')} ms; over 15 ms: ${over}`;
}

/** The orchestrator's /metrics, parsed. */
async function scrapeMetrics(url: string): Promise<readonly Sample[]> {
  const parsed = parsePrometheusText(await (await fetch(`${url}/metrics`)).text());
  if (!parsed.ok) throw parsed.error;
  return parsed.value;
}

/**
 * Between two scrapes: the orchestrator's own refusal latency (tandem_body_refusal_seconds: its
 * body's read starting to the answer written; quantiles interpolated in the buckets, as
 * Prometheus' histogram_quantile) and its memory as Node sees it (V8 heap used; external memory:
 * Buffers and ArrayBuffers outside the heap), beside the RSS the kernel sees.
 */
function serverSide(before: readonly Sample[], after: readonly Sample[]): { refusals: string; memory: string } {
  const name = ORCHESTRATOR_METRICS.bodyRefusal;
  const now = scrapedHistogram(after, name);
  const delta = now && diffDistribution(now, scrapedHistogram(before, name));
  const count = scrapedSum(after, `${name}_count`) - scrapedSum(before, `${name}_count`);
  const meanMs = (1000 * (scrapedSum(after, `${name}_sum`) - scrapedSum(before, `${name}_sum`))) / count;
  const q = (p: number) => ms(1000 * (delta === undefined ? Number.NaN : (histogramQuantile(delta, p) ?? Number.NaN)));
  const mb = (samples: readonly Sample[], metric: string) => (scrapedSum(samples, metric) / 1024 / 1024).toFixed(0);
  const change = (metric: string) => `${mb(before, metric)} -> ${mb(after, metric)} MB`;
  // Cumulative counts: those past the 50 ms bucket's bound took longer than 50 ms.
  const within50 = delta?.counts[delta.bounds.indexOf(0.05)] ?? Number.NaN;
  return {
    refusals: `${count} refused, p50 ${q(0.5)} p99 ${q(0.99)} (in its buckets), mean ${ms(meanMs)}; over 50 ms: ${count - within50}`,
    memory:
      `V8 heap used ${change('nodejs_heap_size_used_bytes')}, ` +
      `external (Buffers, ArrayBuffers) ${change('nodejs_external_memory_bytes')}, ` +
      `RSS ${change('process_resident_memory_bytes')}`,
  };
}

/** With --cpu-prof: the huge case's phases (CLOCK_MONOTONIC, us: the clock V8's profiles stamp samples with). */
const profiledPhases: ProfiledPhase[] = [];
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

async function huge(url: string, pid: number): Promise<void> {
  const background = Number(args.background);
  const nice = Number(args['senders-nice']);
  console.log(
    `\n== huge prompts: ${background} streaming clients alone, then with four clients sending 7 MB prompts in a loop (their process at nice ${nice}); ${SECONDS} s each`,
  );
  console.log(`load average at start: ${load()}`);
  const workAtStart = processUsage(pid);
  const aloneStartUs = monotonicUs();
  const alone = await closedLoop(url, background, SECONDS);
  profiledPhases.push({
    server: 'orchestrator',
    pid,
    phase: 'others alone',
    requests: alone.length,
    startUs: aloneStartUs,
    endUs: monotonicUs(),
  });
  const aloneTtft = alone.flatMap((o) => (o.ttftMs === undefined ? [] : [o.ttftMs]));
  const before = residentKb(pid);
  const workBefore = processUsage(pid);
  const metricsBefore = await scrapeMetrics(url);
  console.log(
    `others alone: ${alone.length} requests, TTFT p50 ${ms(pct(aloneTtft, 50))} p99 ${ms(pct(aloneTtft, 99))}; orchestrator CPU ${(workBefore.cpuS - workAtStart.cpuS).toFixed(1)} s`,
  );
  console.log(`load average before: ${load()}`);
  // The senders run in their own process: pushing 7 MB bodies as fast as they are refused would
  // otherwise hold this process's event loop and delay the very TTFTs it measures.
  const senders = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(here, 'huge-senders.ts'),
      '--url',
      url,
      '--seconds',
      String(SECONDS),
      '--write',
      String(args['senders-write']),
      '--model',
      MODEL,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  if (nice !== 0) setPriority(senders.pid!, nice);
  const hugeStartUs = monotonicUs();
  let output = '';
  senders.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise((resolve) => senders.once('close', resolve));
  const schedBefore = mainThreadSched(pid);
  const gcBefore = gcPauses.length;
  const [withHuge, probed] = await Promise.all([closedLoop(url, background, SECONDS), probeRefusals(url, SECONDS - 1)]);
  await exited;
  const schedAfter = mainThreadSched(pid);
  const hugeEndUs = monotonicUs();
  const {
    refusals,
    cpuS: sendersCpuS,
    loopDelayMs,
  } = JSON.parse(output.trim().split('\n').at(-1)!) as {
    refusals: Outcome[];
    cpuS: number;
    loopDelayMs: { p99: number; max: number };
  };
  const after = residentKb(pid);
  const workAfter = processUsage(pid);
  const server = serverSide(metricsBefore, await scrapeMetrics(url));
  profiledPhases.push({
    server: 'orchestrator',
    pid,
    phase: '7 MB prompts',
    requests: refusals.length,
    startUs: hugeStartUs,
    endUs: hugeEndUs,
  });
  const withTtft = withHuge.flatMap((o) => (o.ttftMs === undefined ? [] : [o.ttftMs]));
  const statuses = [...new Set(refusals.map((o) => o.status))].join(',');
  console.log(
    `7 MB prompts: ${refusals.length} sent (status ${statuses}), answered in ${spread(refusals.map((o) => o.endMs))} (goal < 50 ms; from the first byte sent to the whole answer); status line in ${spread(refusals.map((o) => o.headMs))}`,
  );
  console.log(
    `  the probe (a fifth 7 MB client in the measuring process, one every ${PROBE_EVERY_MS} ms): ${probed.length} sent ` +
      `(status ${[...new Set(probed.map((o) => o.status))].join(',')}), answered in ${spread(probed.map((o) => o.endMs))}`,
  );
  console.log(
    `  server-side (tandem_body_refusal_seconds: the body's read starting -> the answer written): ${server.refusals}`,
  );
  // Bytes the orchestrator read (sockets included) beyond what the others' requests read alone, per refusal.
  const othersRead = ((workBefore.readBytes - workAtStart.readBytes) / Math.max(1, alone.length)) * withHuge.length;
  const readPerRefusal =
    (workAfter.readBytes - workBefore.readBytes - othersRead) / Math.max(1, refusals.length + probed.length);
  // CPU beyond what the others' requests cost alone (per request, from the first phase), per refusal.
  const othersCpuS = ((workBefore.cpuS - workAtStart.cpuS) / Math.max(1, alone.length)) * withHuge.length;
  const cpuPerRefusalMs =
    (1000 * (workAfter.cpuS - workBefore.cpuS - othersCpuS)) / Math.max(1, refusals.length + probed.length);
  console.log(
    `orchestrator while they ran: CPU ${(workAfter.cpuS - workBefore.cpuS).toFixed(1)} s in ${SECONDS} s ` +
      `(${(workAfter.systemS - workBefore.systemS).toFixed(1)} s of it in the kernel) ` +
      `(about ${cpuPerRefusalMs.toFixed(2)} ms per refusal, the others' share taken out); ` +
      `read about ${(readPerRefusal / 1e6).toFixed(2)} MB per 7 MB prompt; the senders' own CPU ${sendersCpuS.toFixed(1)} s`,
  );
  // A late answer the sender's own event loop was late to see is not the orchestrator's.
  console.log(
    `  the senders' own event-loop delay (their share of a client-side figure): p99 ${ms(loopDelayMs.p99)} max ${ms(loopDelayMs.max)}`,
  );
  // Time the main thread was ready to run but had no core: every latency above includes it.
  console.log(
    `  the orchestrator's main thread: ran ${(schedAfter.runS - schedBefore.runS).toFixed(1)} s, waited for a core ` +
      `${(schedAfter.waitS - schedBefore.waitS).toFixed(1)} s (Linux schedstat)` +
      (args['trace-gc'] ? `; ${gcSummary(gcPauses.slice(gcBefore))}` : ''),
  );
  console.log(
    `orchestrator RSS: ${(before.rss / 1024).toFixed(0)} MB before, ${(after.rss / 1024).toFixed(0)} MB after (growth ${((after.rss - before.rss) / 1024).toFixed(0)} MB, goal < 100); peak ${(after.hwm / 1024).toFixed(0)} MB (peak before ${(before.hwm / 1024).toFixed(0)} MB)`,
  );
  console.log(`  as Node sees it: ${server.memory}`);
  console.log(
    `others with them: ${withHuge.length} requests, TTFT p50 ${ms(pct(withTtft, 50))} p99 ${ms(pct(withTtft, 99))}; p99 ratio ${(pct(withTtft, 99) / pct(aloneTtft, 99)).toFixed(2)} (goal <= 2)`,
  );
  console.log(`load average at end: ${load()}`);
}

async function rate(url: string): Promise<void> {
  const connections = Number(args.connections);
  console.log(`\n== front-door request rate: autocannon, non-streaming max_tokens 1, ${connections} connections, 10 s`);
  console.log(`load average at start: ${load()}`);
  const result = await autocannon({
    url: `${url}/v1/completions`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, prompt: 'tell me a story about a lighthouse', max_tokens: 1 }),
    connections,
    duration: 10,
  });
  console.log(
    `${result.requests.average.toFixed(0)} req/s (mean over 1 s samples), latency p50 ${result.latency.p50} ms p99 ${result.latency.p99} ms max ${result.latency.max} ms; 2xx ${result['2xx']}, non-2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts}`,
  );
  console.log(`load average at end: ${load()}`);
}

async function main(): Promise<void> {
  const children: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'tandem-front-door-'));
  try {
    const workers = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(here, '../frontend/frontend-overhead.ts'),
        '--serve-workers',
        '--workers',
        String(WORKERS),
        '--tokens',
        String(TOKENS),
        '--itl-ms',
        String(ITL_MS),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(workers);
    const { grpc } = JSON.parse(await firstLine(workers, (l) => l.startsWith('{"grpc"'))) as { grpc: string[] };
    const config = join(dir, 'orchestrator.yaml');
    writeFileSync(
      config,
      [
        'log: { level: error }',
        `orchestrator: { model: "${MODEL}", port: 0, processes: ${Number(args.processes)}, dispatch: { max_inflight_per_worker: ${PER_WORKER} }${
          args['wait-factor'] === undefined
            ? ''
            : `, admission: { queue_wait_ttft_factor: ${Number(args['wait-factor'])} }`
        } }`,
        'workers:',
        ...grpc.map((address, i) => `  - { name: w${i}, backend: grpc, address: "${address}" }`),
        '',
      ].join('\n'),
    );
    const profile = args['cpu-prof'] === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', args['cpu-prof']];
    const traceGc = args['trace-gc'] ? ['--trace-gc'] : [];
    const orchestrator = spawn(process.execPath, [...traceGc, ...profile, tandem, 'orchestrator', '--config', config], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, TANDEM_LOG__LEVEL: 'info', TANDEM_LOG__FORMAT: 'json' },
    });
    children.push(orchestrator);
    const url = (JSON.parse(await firstLine(orchestrator, (l) => l.includes('"url"'))) as { url: string }).url;
    collectRequestLog(orchestrator);
    for (;;) {
      const ready = await fetch(`${url}/ready`).catch(() => undefined);
      if (ready?.status === 200) break;
      await sleep(100);
    }
    // Warm up (tokenizer caches, JIT) before anything is measured.
    await closedLoop(url, 8, 2);
    const which = args.case;
    if (which === 'all' || which === 'rate') await rate(url);
    if (which === 'all' || which === 'overload') await overload(url);
    if (which === 'all' || which === 'huge') await huge(url, orchestrator.pid!);
  } finally {
    if (args['cpu-prof'] !== undefined)
      writeFileSync(join(args['cpu-prof'], 'phases.json'), `${JSON.stringify(profiledPhases, null, 1)}\n`);
    for (const child of children) child.kill('SIGTERM');
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * One more 7 MB client, in this process: a paced request every PROBE_EVERY_MS (or at once after a
 * slower one) for `seconds`. The senders' own figures include their process's waits for a CPU
 * they keep busy; this one's do not, as this process has CPU to spare.
 */
async function probeRefusals(url: string, seconds: number): Promise<Outcome[]> {
  const body = hugeBody(MODEL);
  const until = performance.now() + seconds * 1000;
  const outcomes: Outcome[] = [];
  while (performance.now() < until) {
    const outcome = await sendPaced(url, body);
    outcomes.push(outcome);
    await sleep(Math.max(0, PROBE_EVERY_MS - outcome.endMs));
  }
  return outcomes;
}

/** How often the probe sends (ms). */
const PROBE_EVERY_MS = 50;

await main();
