/**
 * Frontend-overhead benchmark (not a test): what the orchestrator costs a client, in one run
 * beside a yardstick. Three processes on this machine: zero-compute stand-in workers (a first
 * token at once, then one every --itl-ms, as many as the request's max tokens up to --tokens),
 * the server under test, and this client. Servers measured one after the other:
 *
 * - direct: the stand-ins' own HTTP SSE streamer (the TTFT baseline);
 * - relay: the yardstick, a minimal Node.js HTTP relay (the client's body sent upstream, the
 *   upstream SSE response piped back, nothing parsed), in its own process;
 * - the orchestrator (`tandem orchestrator`, `--processes` serving processes) on the token-level
 *   path (gRPC stand-ins: it tokenizes, routes, detokenizes, writes the SSE) and on the HTTP
 *   pass-through (vllm-http stand-ins: it tokenizes to route, the engine's chunks go back verbatim).
 *
 * For each server: a streaming phase (`--concurrency` closed-loop streams x `--rounds` requests of
 * --tokens tokens, starts staggered, first round not measured for TTFT) gives TTFT percentiles,
 * the TTFT added against direct, and CPU per request; then per-request phases (max_tokens 1,
 * `--fixed-concurrency` clients, `--fixed-requests` each) give the CPU per request of each prompt
 * kind: a fresh ~1001-token completion prompt, a fresh chat (~880-token system prompt + ~100-token
 * user turn), and a chat whose system prompt was seen before (only the user turn new). The
 * marginal CPU per streamed token is (CPU per request at --tokens - at 1 token) / (--tokens - 1),
 * for the relay and each orchestrator path alike. CPU is user + system time from /proc, every
 * thread, summed over the server's child processes (a cluster's serving processes). Each server
 * is warmed up (every kind, one streaming pass) before it is measured.
 *
 *   npx tsx bench/frontend/frontend-overhead.ts [--concurrency 256] [--rounds 4] [--processes 1|N|auto] [--mode both|grpc|http]
 *       [--fixed-concurrency 16] [--fixed-requests 256] [--workers 4] [--policy kv] [--cpu-prof DIR]
 *
 * Against real workers, pass their addresses (the direct baseline then streams from the first
 * worker's vLLM-compatible HTTP API, the orchestrator reaches them over gRPC):
 *
 *   npx tsx bench/frontend/frontend-overhead.ts --worker-grpc 127.0.0.1:50051,127.0.0.1:50052 --worker-http http://127.0.0.1:8101
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent as HttpAgent, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { loadModelTokenizer } from '../../common/tokenizer/index.ts';
import { createPromptTexts, type PromptKind } from './prompt-texts.ts';
import { cpuTree, firstLine, loadText } from './processes.ts';
import { FinishReason, WorkerRole, WorkerService } from '../../proto/gen/tandem/v1/worker_pb.ts';
import { createGrpcServer } from '../../proto/grpc/index.ts';

const { values: args } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '256' },
    rounds: { type: 'string', default: '4' },
    workers: { type: 'string', default: '4' },
    tokens: { type: 'string', default: '64' },
    'itl-ms': { type: 'string', default: '20' },
    'prompt-words': { type: 'string', default: '1000' },
    policy: { type: 'string', default: 'kv' },
    'worker-grpc': { type: 'string' },
    'worker-http': { type: 'string' },
    'serve-workers': { type: 'boolean', default: false },
    /** Which orchestrator paths to measure: grpc (token level), http (pass-through to vllm-http stand-ins), or both. */
    mode: { type: 'string', default: 'both' },
    /** Serving processes of each orchestrator (`auto`: the machine's parallelism); CPU is summed over them. */
    processes: { type: 'string', default: '1' },
    /** Another tree's bin/tandem.js, measured beside this one in the same run (before/after). */
    before: { type: 'string' },
    /** The per-request phases (max_tokens 1): closed-loop clients, and requests per prompt kind. */
    'fixed-concurrency': { type: 'string', default: '16' },
    'fixed-requests': { type: 'string', default: '256' },
    'serve-relay': { type: 'string' },
    /** Writes V8 CPU profiles of the orchestrator and relay processes into this directory. */
    'cpu-prof': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(`npx tsx bench/frontend/frontend-overhead.ts [flags]
What the orchestrator costs a client beside a bare Node relay, in one run: added TTFT, CPU per
request (fresh completion, fresh chat, chat with a seen system prompt) and marginal CPU per
streamed token, token-level (gRPC) and HTTP pass-through paths. Figures are printed, not judged.
  --concurrency 256        closed-loop streams in the streaming phase
  --rounds 4               requests per stream (the first round is not timed for TTFT)
  --tokens 64              output tokens per streamed request
  --itl-ms 20              the stand-in workers' gap between tokens (ms)
  --workers 4              stand-in workers per path
  --prompt-words 1000      words in the fresh completion prompt (~1001 tokens)
  --policy kv              the orchestrator's routing policy
  --mode both              grpc | http | both: which orchestrator paths to measure
  --processes 1            serving processes, a list (1,auto); auto = the machine's parallelism
  --before TREE/bin/tandem.js   another tree's orchestrator measured beside this one
  --fixed-concurrency 16   clients in the per-request phases (max_tokens 1)
  --fixed-requests 256     requests per prompt kind in those phases (0 skips them)
  --cpu-prof DIR           write V8 CPU profiles of the orchestrator and relay processes there, and
                           phases.json: each measured phase's window (npx tsx bench/frontend/profile-summary.ts DIR)
  --worker-grpc A,B --worker-http URL   measure against running workers instead of stand-ins
  --serve-workers          only start the stand-in workers and print their addresses (one JSON line)`);
  process.exit(0);
}
const TOKENS = Number(args.tokens);
const ITL_MS = Number(args['itl-ms']);
const MODEL = 'Qwen/Qwen3-8B';
const tandem = new URL('../../bin/tandem.js', import.meta.url).pathname;

if (args['serve-workers']) await serveWorkers(Number(args.workers));
else if (args['serve-relay']) await serveRelay(args['serve-relay']);
else await main();

/** The child process: N stand-in workers (gRPC WorkerService) and one direct HTTP streamer. */
async function serveWorkers(n: number): Promise<void> {
  /** `count` tokens (the request's max tokens, at most --tokens): a first one at once, then one every --itl-ms. */
  const stream = async function* (signal: AbortSignal, count: number) {
    for (let i = 0; i < count; i++) {
      if (i > 0) await sleep(ITL_MS, undefined, { signal });
      yield i;
    }
  };
  const addresses: string[] = [];
  const servers = [];
  for (let w = 0; w < n; w++) {
    const server = createGrpcServer();
    let running = 0;
    server.add(WorkerService, {
      async *generate(req, context) {
        running++;
        try {
          const count = Math.min(TOKENS, req.sampling?.maxTokens || TOKENS);
          for await (const i of stream(context.signal, count)) yield { tokenIds: [1000 + (i % 50)] };
          yield {
            finishReason: FinishReason.LENGTH,
            usage: { promptTokens: req.tokenIds.length, completionTokens: count },
          };
        } finally {
          running--;
        }
      },
      prefill: () => Promise.reject(new Error('not used')),
      decode: () => (async function* () {})(),
      pullKv: async () => ({ held: false }),
      releaseKv: async () => ({ found: false }),
      getStatus: async () => ({
        engineId: `bench-${process.pid}-${w}`,
        role: WorkerRole.BOTH,
        engineKind: 'bench',
        gpu: 'h100-sxm',
        model: 'qwen3-8b',
        tpSize: 1,
        blockSize: 16,
        runningRequests: running,
      }),
    });
    addresses.push(`127.0.0.1:${await server.listen('127.0.0.1', 0)}`);
    servers.push(server);
  }
  // "Talking to a worker directly", and the vllm-http workers of the pass-through phase: vLLM's
  // completions SSE, text only (token ids only when asked, as vLLM), a usage chunk when asked.
  const httpServers = [];
  const httpUrls: string[] = [];
  for (let w = 0; w < n; w++) {
    let running = 0;
    const http = createServer(async (req, res) => {
      let text = '';
      for await (const piece of req) text += piece;
      if (req.method === 'GET') {
        if (req.url === '/health') return void res.writeHead(200).end();
        if (req.url === '/v1/models')
          return void res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ object: 'list', data: [{ id: MODEL, object: 'model', max_model_len: 32768 }] }));
        if (req.url === '/metrics')
          return void res
            .writeHead(200, { 'content-type': 'text/plain' })
            .end(
              `vllm:num_requests_running{engine="0",model_name="${MODEL}"} ${running}\nvllm:num_requests_waiting{engine="0",model_name="${MODEL}"} 0\nvllm:kv_cache_usage_perc{engine="0",model_name="${MODEL}"} 0.1\nvllm:cache_config_info{block_size="16",engine="0",num_gpu_blocks="100000"} 1.0\n`,
            );
        return void res.writeHead(404).end();
      }
      const body = JSON.parse(text || '{}') as {
        max_tokens?: number;
        return_token_ids?: boolean;
        stream_options?: { include_usage?: boolean };
      };
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const abort = new AbortController();
      res.on('close', () => abort.abort());
      running++;
      try {
        const count = Math.min(TOKENS, body.max_tokens || TOKENS);
        for await (const i of stream(abort.signal, count)) {
          const id = 1000 + (i % 50);
          res.write(
            `data: ${JSON.stringify({ id: 'cmpl-bench', object: 'text_completion', created: 1, model: MODEL, choices: [{ index: 0, text: `t${id}`, logprobs: null, finish_reason: i === count - 1 ? 'length' : null, stop_reason: null, ...(body.return_token_ids ? { token_ids: [id] } : {}) }] })}\n\n`,
          );
        }
        if (body.stream_options?.include_usage)
          res.write(
            `data: ${JSON.stringify({ id: 'cmpl-bench', object: 'text_completion', created: 1, model: MODEL, choices: [], usage: { prompt_tokens: 1000, completion_tokens: count, total_tokens: 1000 + count, prompt_tokens_details: { cached_tokens: 0 } } })}\n\n`,
          );
        res.end('data: [DONE]\n\n');
      } catch {
        res.destroy();
      } finally {
        running--;
      }
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    httpServers.push(http);
    httpUrls.push(`http://127.0.0.1:${(http.address() as AddressInfo).port}`);
  }
  process.stdout.write(`${JSON.stringify({ grpc: addresses, http: httpUrls[0], httpWorkers: httpUrls })}\n`);
  await new Promise<void>((resolve) => process.once('SIGTERM', resolve));
  for (const http of httpServers) {
    http.closeAllConnections();
    http.close();
  }
  await Promise.all(servers.map((s) => s.close(100)));
  process.exit(0);
}

async function main(): Promise<void> {
  const concurrency = Number(args.concurrency);
  const rounds = Number(args.rounds);
  const fixedConcurrency = Number(args['fixed-concurrency']);
  const fixedRequests = Number(args['fixed-requests']);
  const children: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'tandem-fe-bench-'));
  const stop = () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', stop);

  let grpc: string[];
  let direct: string;
  /** The pass-through phase's vllm-http workers (the stand-ins'); none against real workers. */
  let httpWorkers: string[] = [];
  let workersPid: number | undefined;
  if (args['worker-grpc'] && args['worker-http']) {
    grpc = args['worker-grpc'].split(',');
    direct = args['worker-http'];
  } else {
    const child = spawnSelf([
      '--serve-workers',
      '--workers',
      args.workers,
      '--tokens',
      args.tokens,
      '--itl-ms',
      args['itl-ms'],
    ]);
    children.push(child);
    workersPid = child.pid;
    const line = await firstLine(child, (text) => text.startsWith('{"grpc"'));
    ({ grpc, http: direct, httpWorkers } = JSON.parse(line) as { grpc: string[]; http: string; httpWorkers: string[] });
  }

  const { tokenizer, directory } = await loadModelTokenizer('qwen3');
  const texts = createPromptTexts(directory);
  const bodies = (kind: PromptKind, n: number, maxTokens: number): string[] =>
    Array.from({ length: n }, () =>
      JSON.stringify(texts.bodies[kind]({ model: MODEL, max_tokens: maxTokens, stream: true })),
    );
  const sample = JSON.parse(bodies('completion, fresh prompt', 1, TOKENS)[0]!) as { prompt: string };
  const promptIds = await tokenizer.encode(sample.prompt, { addSpecialTokens: false });
  console.log(
    [
      `prompts: a fresh ~${promptIds.length}-token text per request (chat: a ~880-token system prompt, fresh or the one`,
      'seen before, and a fresh ~100-token user turn);',
      `streaming phases ${TOKENS} output tokens at ${ITL_MS} ms, ${concurrency} concurrent streams x ${rounds} rounds`,
      '(first round not measured for TTFT);',
      `per-request phases max_tokens 1, ${fixedConcurrency} clients, ${fixedRequests} requests per kind;`,
      `${grpc.length} workers, policy ${args.policy}, orchestrator processes ${args.processes}`,
    ].join(' '),
  );
  console.log(`load average before: ${loadText()}`);

  const directBefore = cpuTree(workersPid);
  const directWallBefore = performance.now();
  const directBody = JSON.stringify({
    model: MODEL,
    prompt: promptIds,
    max_tokens: TOKENS,
    stream: true,
    return_token_ids: true,
  });
  const directResult = await load(`${direct}/v1/completions`, () => directBody, concurrency, rounds);
  const directCpu = cpuTree(workersPid) - directBefore;
  const directWall = (performance.now() - directWallBefore) / 1000;
  report('direct to a worker (HTTP SSE, token ids)', directResult);
  // The stand-ins' HTTP streamer: one JSON.stringify and one socket write per token, no gRPC, no tokenizer.
  if (Number.isFinite(directCpu))
    console.log(
      `direct phase, stand-in workers' CPU: ${directCpu.toFixed(1)} s over ${directWall.toFixed(1)} s, ${((1e6 * directCpu) / (concurrency * rounds * TOKENS)).toFixed(0)} us per streamed token (an HTTP SSE streamer alone)`,
    );

  interface Target {
    readonly label: string;
    readonly short: string;
    /** Starts the server; its URL and the pid whose CPU (with its children's) is the figure. */
    start(): Promise<{ url: string; pid: number; child: ChildProcess }>;
    readonly kinds: readonly PromptKind[];
  }
  const allKinds: PromptKind[] = [
    'completion, fresh prompt',
    'chat, fresh system + user',
    'chat, system prompt seen before',
  ];
  const targets: Target[] = [];
  const relayUpstream = httpWorkers[0] ?? direct;
  // The yardstick: a minimal Node.js HTTP relay, the client's body sent upstream and the
  // upstream's SSE response piped back, nothing parsed.
  targets.push({
    label: 'bare relay (yardstick: body and SSE piped, nothing parsed)',
    short: 'relay',
    kinds: ['completion, fresh prompt'],
    start: async () => {
      const child = spawnSelf(['--serve-relay', relayUpstream], args['cpu-prof']);
      children.push(child);
      const url = (JSON.parse(await firstLine(child, (text) => text.startsWith('{"relay"'))) as { relay: string })
        .relay;
      return { url, pid: child.pid!, child };
    },
  });
  const paths: { label: string; short: string; backend: string; addresses: readonly string[] }[] = [];
  if (args.mode !== 'http')
    paths.push({ label: 'orchestrator, HTTP -> gRPC (token level)', short: 'grpc', backend: 'grpc', addresses: grpc });
  if (args.mode !== 'grpc' && httpWorkers.length > 0)
    paths.push({
      label: 'orchestrator, HTTP pass-through -> vllm-http',
      short: 'http',
      backend: 'vllm-http',
      addresses: httpWorkers,
    });
  // Every path x process count x build (this tree's, and with --before another tree's bin/tandem.js).
  const builds = [{ name: '', bin: tandem }, ...(args.before ? [{ name: ' before', bin: args.before }] : [])];
  const processCounts = args.processes.split(',');
  for (const path of paths)
    for (const processes of processCounts)
      for (const build of builds) {
        const suffix = `${processCounts.length > 1 ? ` p=${processes}` : ''}${build.name}`;
        targets.push({
          label: `${path.label}${suffix}`,
          short: `${path.short}${suffix}`,
          kinds: allKinds,
          start: async () => {
            const config = join(dir, `bench-${path.backend}-${processes}-${targets.length}.yaml`);
            writeFileSync(
              config,
              [
                'log: { level: warn }',
                // No shedding on event-loop lag: every request is served, so CPU and TTFT cover them all.
                `orchestrator: { model: "${MODEL}", port: 0, processes: ${processes}, dispatch: { max_inflight_per_worker: 100000 }, admission: { max_inflight: 100000, shed_event_loop_lag_ms: 0 } }`,
                `routing: { policy: ${args.policy} }`,
                'workers:',
                ...path.addresses.map(
                  (address, i) => `  - { name: w${i}, backend: ${path.backend}, address: "${address}" }`,
                ),
                '',
              ].join('\n'),
            );
            const profile = args['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', args['cpu-prof']] : [];
            const child = spawn(process.execPath, [...profile, build.bin, 'orchestrator', '--config', config], {
              stdio: ['ignore', 'pipe', 'inherit'],
              env: { ...process.env, TANDEM_LOG__LEVEL: 'info', TANDEM_LOG__FORMAT: 'json' },
            });
            children.push(child);
            const listening = await firstLine(child, (text) => text.includes('"url"'));
            const url = (JSON.parse(listening) as { url: string }).url;
            for (;;) {
              const ready = await fetch(`${url}/ready`).catch(() => undefined);
              if (ready?.status === 200) break;
              await sleep(100);
            }
            return { url, pid: child.pid!, child };
          },
        });
      }

  interface Figures {
    readonly perRequestMs: Partial<Record<PromptKind, number>>;
    readonly streamingPerRequestMs: number;
    readonly marginalPerTokenUs: number;
    /** TTFT added against direct at the streaming phase's percentiles, ms. */
    readonly addedTtftMs: { readonly p50: number; readonly p99: number };
  }
  const figures = new Map<string, Figures>();
  /** With --cpu-prof: each measured phase's window, for profile-summary.ts to cut the profiles by. */
  const phases: ProfiledPhase[] = [];
  const phase = async <T>(server: string, pid: number, name: string, requests: number, run: () => Promise<T>) => {
    const startUs = monotonicUs();
    const value = await run();
    phases.push({ server, pid, phase: name, requests, startUs, endUs: monotonicUs() });
    return value;
  };
  for (const target of targets) {
    const { url, pid, child } = await target.start();
    // Unmeasured first: every kind a few times and one streaming pass, so that the figures are
    // the steady state (JIT-compiled code, warm connections, the seen-before system prompt seen).
    for (const kind of target.kinds)
      await load(`${url}/v1/${endpointOf(kind)}`, feed(bodies(kind, 64, 1)), fixedConcurrency, 4, 0);
    await load(`${url}/v1/completions`, feed(bodies('completion, fresh prompt', concurrency, TOKENS)), concurrency, 1);

    const streamingBodies = feed(bodies('completion, fresh prompt', concurrency * rounds, TOKENS));
    const cpuBefore = cpuTree(pid);
    const workersBefore = cpuTree(workersPid);
    const clientBefore = process.cpuUsage();
    const wallBefore = performance.now();
    const result = await phase(target.short, pid, 'streaming', concurrency * rounds, () =>
      load(`${url}/v1/completions`, streamingBodies, concurrency, rounds),
    );
    const cpu = cpuTree(pid) - cpuBefore;
    const workersCpu = cpuTree(workersPid) - workersBefore;
    const clientUsage = process.cpuUsage(clientBefore);
    const clientCpu = (clientUsage.user + clientUsage.system) / 1e6;
    const wall = (performance.now() - wallBefore) / 1000;
    console.log(`--- ${target.label}`);
    report(`${target.short}, ${TOKENS} tokens per stream`, result);
    const requests = concurrency * rounds;
    const share = (seconds: number) =>
      Number.isFinite(seconds) ? `${seconds.toFixed(1)} s (${((100 * seconds) / wall).toFixed(0)}% of a core)` : 'n/a';
    console.log(
      `CPU: ${share(cpu)} over ${wall.toFixed(1)} s, ${((1000 * cpu) / requests).toFixed(2)} ms per request of ${TOKENS} tokens; same phase: stand-in workers ${share(workersCpu)}, this client ${share(clientCpu)}; the machine has 2 cores`,
    );
    const added = (p: number) => (pct(result.ttft, p) - pct(directResult.ttft, p)).toFixed(1);
    console.log(`added TTFT ms against direct: p50 ${added(0.5)}  p90 ${added(0.9)}  p99 ${added(0.99)}`);

    const perRequestMs: Partial<Record<PromptKind, number>> = {};
    for (const kind of fixedRequests > 0 ? target.kinds : []) {
      const fixed = feed(bodies(kind, fixedRequests, 1));
      const before = cpuTree(pid);
      const fixedRounds = Math.ceil(fixedRequests / fixedConcurrency);
      const r = await phase(target.short, pid, kind, fixedConcurrency * fixedRounds, () =>
        load(`${url}/v1/${endpointOf(kind)}`, fixed, fixedConcurrency, fixedRounds, 0),
      );
      perRequestMs[kind] = (1000 * (cpuTree(pid) - before)) / (fixedConcurrency * fixedRounds);
      if (r.errors > 0)
        console.log(`  ${kind}: ${r.errors} errors (${[...r.why].map(([why, n]) => `${n}x ${why}`).join('; ')})`);
    }
    const oneToken = perRequestMs['completion, fresh prompt'] ?? Number.NaN;
    const streamingPerRequestMs = (1000 * cpu) / requests;
    figures.set(target.short, {
      perRequestMs,
      streamingPerRequestMs,
      marginalPerTokenUs: (1000 * (streamingPerRequestMs - oneToken)) / (TOKENS - 1),
      addedTtftMs: {
        p50: pct(result.ttft, 0.5) - pct(directResult.ttft, 0.5),
        p99: pct(result.ttft, 0.99) - pct(directResult.ttft, 0.99),
      },
    });
    if (target.short !== 'relay') {
      const metricsText = await (await fetch(`${url}/metrics`)).text();
      const metric = (name: string) =>
        Number(
          /^(\S+) (\S+)$/m.exec(
            metricsText
              .split('\n')
              .filter((l) => l.startsWith(name))
              .join('\n'),
          )?.[2] ?? Number.NaN,
        );
      const routing = metric('tandem_router_decision_seconds_sum') / metric('tandem_router_decision_seconds_count');
      const lag = (q: string) => (1000 * metric(`nodejs_eventloop_lag_${q}_seconds`)).toFixed(1);
      console.log(
        `as the orchestrator measures itself (all phases): mean routing decision ${(1e6 * routing).toFixed(0)} us, event-loop lag p50 ${lag('p50')} p99 ${lag('p99')} max ${lag('max')} ms`,
      );
    }
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }

  console.log(
    `side by side (same run; CPU of each server process${args.processes === '1' ? '' : ' and its children'}; TTFT added against direct at ${concurrency} streams):`,
  );
  const columns = [...figures.keys()];
  const cell = (text: string) => text.padStart(18);
  console.log(`${''.padEnd(56)}${columns.map(cell).join('')}`);
  for (const kind of allKinds)
    console.log(
      `${`CPU per request, max_tokens 1, ${kind}`.padEnd(56)}${columns
        .map((c) => {
          const ms = figures.get(c)!.perRequestMs[kind];
          return cell(ms === undefined ? '-' : `${ms.toFixed(2)} ms`);
        })
        .join('')}`,
    );
  console.log(
    `${`CPU per request, ${TOKENS} tokens streamed`.padEnd(56)}${columns.map((c) => cell(`${figures.get(c)!.streamingPerRequestMs.toFixed(2)} ms`)).join('')}`,
  );
  const relay = figures.get('relay');
  console.log(
    `${'marginal CPU per streamed token'.padEnd(56)}${columns
      .map((c) => {
        const us = figures.get(c)!.marginalPerTokenUs;
        // Without the per-request phases (--fixed-requests 0) there is no 1-token figure to subtract.
        if (!Number.isFinite(us)) return cell('-');
        return cell(
          `${us.toFixed(0)} us${relay && c !== 'relay' ? ` ${(us / relay.marginalPerTokenUs).toFixed(2)}x` : ''}`,
        );
      })
      .join('')}`,
  );
  console.log(
    `${'added TTFT p50 / p99'.padEnd(56)}${columns
      .map((c) => {
        const { p50, p99 } = figures.get(c)!.addedTtftMs;
        return cell(`${p50.toFixed(1)} / ${p99.toFixed(1)} ms`);
      })
      .join('')}`,
  );
  console.log(`load average after: ${loadText()}`);
  if (args['cpu-prof']) writeFileSync(join(args['cpu-prof'], 'phases.json'), `${JSON.stringify(phases, null, 1)}\n`);
  stop();
  process.exit(0);
}

/** The bare relay: POST bodies forwarded to `upstream` as they came, responses piped back unread. */
async function serveRelay(upstream: string): Promise<void> {
  const agent = new HttpAgent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
  const target = new URL(upstream);
  const server = createServer((req, res) => {
    const out = httpRequest(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers, agent },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    res.on('close', () => out.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.stdout.write(`${JSON.stringify({ relay: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`);
  await new Promise<void>((resolve) => process.once('SIGTERM', resolve));
  server.closeAllConnections();
  server.close();
  process.exit(0);
}

/**
 * A measured phase's window in the monotonic clock V8's CPU profiles stamp their samples with
 * (CLOCK_MONOTONIC on Linux, microseconds, shared by every process on the machine).
 */
export interface ProfiledPhase {
  /** The server's short name in the side-by-side table (relay, grpc, http before, ...). */
  readonly server: string;
  /** The server's process (its profile's file name holds it). */
  readonly pid: number;
  /** `streaming` or a prompt kind (the per-request phases at max_tokens 1). */
  readonly phase: string;
  readonly requests: number;
  readonly startUs: number;
  readonly endUs: number;
}

function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

function spawnSelf(extra: string[], cpuProf?: string): ChildProcess {
  const profile = cpuProf ? ['--cpu-prof', '--cpu-prof-dir', cpuProf] : [];
  return spawn(process.execPath, [...profile, '--import', 'tsx', new URL(import.meta.url).pathname, ...extra], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

function endpointOf(kind: PromptKind): string {
  return kind.startsWith('chat') ? 'chat/completions' : 'completions';
}

/** Hands out the bodies in order (each request its own), then starts over. */
function feed(list: readonly string[]): () => string {
  let next = 0;
  return () => list[next++ % list.length]!;
}

interface LoadResult {
  ttft: number[];
  itl: number[];
  errors: number;
  /** Why requests failed: the HTTP status and the start of the error body, or the exception, with counts. */
  why: Map<string, number>;
}

/**
 * Closed loop: `concurrency` clients, each sending `rounds` streaming requests back to back,
 * starts staggered over `staggerMs` (default: one stream's length); each client's first
 * request is not measured.
 */
async function load(
  target: string,
  body: () => string,
  concurrency: number,
  rounds: number,
  staggerMs = TOKENS * ITL_MS,
): Promise<LoadResult> {
  const agent = new Agent({ connections: concurrency + 8, pipelining: 1 });
  const result: LoadResult = { ttft: [], itl: [], errors: 0, why: new Map() };
  await Promise.all(
    Array.from({ length: concurrency }, async (_, c) => {
      await sleep((c * staggerMs) / concurrency);
      for (let r = 0; r < rounds; r++) {
        const one = await stream(target, body(), agent).catch((error: Error) => {
          const why = error.message.slice(0, 160);
          result.why.set(why, (result.why.get(why) ?? 0) + 1);
          return undefined;
        });
        if (!one) {
          result.errors++;
          continue;
        }
        if (r === 0) continue;
        result.ttft.push(one.ttft);
        result.itl.push(...one.gaps);
      }
    }),
  );
  await agent.close();
  return result;
}

async function stream(target: string, body: string, agent: Agent): Promise<{ ttft: number; gaps: number[] }> {
  const started = performance.now();
  const response = await request(target, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
    dispatcher: agent,
  });
  if (response.statusCode !== 200) {
    throw new Error(`HTTP ${response.statusCode} ${(await response.body.text()).slice(0, 120)}`);
  }
  let buffer = '';
  let first = -1;
  let last = 0;
  const gaps: number[] = [];
  for await (const chunk of response.body) {
    buffer += chunk.toString();
    let at: number;
    while ((at = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, at);
      buffer = buffer.slice(at + 2);
      if (!/"(text|content)":"[^"]/.test(event)) continue; // token chunks only (completions' text, chat's delta content)
      const now = performance.now();
      if (first < 0) first = now - started;
      else gaps.push(now - last);
      last = now;
    }
  }
  if (first < 0) throw new Error('no token');
  return { ttft: first, gaps };
}

function pct(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

function report(label: string, r: LoadResult): void {
  const f = (values: number[], p: number) => pct(values, p).toFixed(1);
  console.log(
    `${label.padEnd(42)} streams=${r.ttft.length} errors=${r.errors}  ttft_ms p50=${f(r.ttft, 0.5)} p90=${f(r.ttft, 0.9)} p99=${f(r.ttft, 0.99)}  itl_ms p50=${f(r.itl, 0.5)} p99=${f(r.itl, 0.99)}`,
  );
  for (const [why, count] of r.why) console.log(`  ${count} failed: ${why}`);
}
