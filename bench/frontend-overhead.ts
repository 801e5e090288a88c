/**
 * Frontend-overhead benchmark (not a test): the time to first token a client sees through the
 * whole orchestrator (HTTP parsing, chat/completion handling, tokenizing, routing, gRPC to the
 * worker, detokenizing, SSE) against talking to a worker directly, at 256 concurrent streams.
 *
 * Three processes on this machine: workers, the orchestrator (`tandem orchestrator`), and this
 * client. Each client stream is a closed loop of `--rounds` requests of 64 tokens; the first
 * request of each stream (connection set-up) is not measured; starts are staggered over one
 * stream's length. One unmeasured pass (`--concurrency` streams, one request each) warms the
 * orchestrator up before its CPU is counted; the CPU per streamed token is the orchestrator
 * process's user + system time (every thread: tokenizer pool, GC) over the measured phase,
 * divided by the tokens it streamed, so per-request work (HTTP parsing, tokenizing the prompt,
 * routing) is in it. The direct phase prints the stand-in HTTP streamer's own CPU per token, a
 * floor for any Node.js SSE server on the same machine at the same moment.
 *
 *   npx tsx bench/frontend-overhead.ts [--concurrency 256] [--rounds 4] [--workers 4] [--policy kv] [--mode both|grpc|http] [--cpu-prof DIR]
 *
 * `--mode both` (default) measures two orchestrators one after the other in the same run: the
 * token-level path (gRPC stand-ins: the frontend tokenizes, the workers stream token ids, the
 * orchestrator detokenizes) and the HTTP pass-through (vllm-http stand-ins that stream like vLLM,
 * text only: the frontend tokenizes to route, the client's body goes through, the engine's chunks
 * come back verbatim), and prints each one's CPU per request and per streamed token side by side.
 *
 * By default the workers are zero-compute stand-ins in a child process (a first token at once,
 * then one token every --itl-ms), so the figure is the orchestrator's own cost. Against real
 * workers (the simulated worker once it lands), pass their addresses: the direct baseline then
 * streams from the first worker's vLLM-compatible HTTP API, the orchestrator reaches them over
 * gRPC:
 *
 *   npx tsx bench/frontend-overhead.ts --worker-grpc 127.0.0.1:50051,127.0.0.1:50052 --worker-http http://127.0.0.1:8101
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { loadModelTokenizer } from '../common/tokenizer/index.ts';
import { FinishReason, WorkerRole, WorkerService } from '../proto/gen/tandem/v1/worker_pb.ts';
import { createGrpcServer } from '../proto/grpc/index.ts';

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
    /** Writes a V8 CPU profile of the orchestrator process into this directory. */
    'cpu-prof': { type: 'string' },
  },
});
const TOKENS = Number(args.tokens);
const ITL_MS = Number(args['itl-ms']);
const MODEL = 'Qwen/Qwen3-8B';
const tandem = new URL('../bin/tandem.js', import.meta.url).pathname;

if (args['serve-workers']) await serveWorkers(Number(args.workers));
else await main();

/** The child process: N stand-in workers (gRPC WorkerService) and one direct HTTP streamer. */
async function serveWorkers(n: number): Promise<void> {
  const stream = async function* (signal: AbortSignal) {
    for (let i = 0; i < TOKENS; i++) {
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
          for await (const i of stream(context.signal)) yield { tokenIds: [1000 + (i % 50)] };
          yield {
            finishReason: FinishReason.LENGTH,
            usage: { promptTokens: req.tokenIds.length, completionTokens: TOKENS },
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
        return_token_ids?: boolean;
        stream_options?: { include_usage?: boolean };
      };
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const abort = new AbortController();
      res.on('close', () => abort.abort());
      running++;
      try {
        for await (const i of stream(abort.signal)) {
          const id = 1000 + (i % 50);
          res.write(
            `data: ${JSON.stringify({ id: 'cmpl-bench', object: 'text_completion', created: 1, model: MODEL, choices: [{ index: 0, text: `t${id}`, logprobs: null, finish_reason: i === TOKENS - 1 ? 'length' : null, stop_reason: null, ...(body.return_token_ids ? { token_ids: [id] } : {}) }] })}\n\n`,
          );
        }
        if (body.stream_options?.include_usage)
          res.write(
            `data: ${JSON.stringify({ id: 'cmpl-bench', object: 'text_completion', created: 1, model: MODEL, choices: [], usage: { prompt_tokens: 1000, completion_tokens: TOKENS, total_tokens: 1000 + TOKENS, prompt_tokens_details: { cached_tokens: 0 } } })}\n\n`,
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
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        new URL(import.meta.url).pathname,
        '--serve-workers',
        '--workers',
        args.workers,
        '--tokens',
        args.tokens,
        '--itl-ms',
        args['itl-ms'],
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(child);
    workersPid = child.pid;
    const line = await firstLine(child, (text) => text.startsWith('{"grpc"'));
    ({ grpc, http: direct, httpWorkers } = JSON.parse(line) as { grpc: string[]; http: string; httpWorkers: string[] });
  }

  const { tokenizer } = await loadModelTokenizer('qwen3');
  const prompt = 'The quick brown fox jumps over the lazy dog. '.repeat(Math.round(Number(args['prompt-words']) / 10));
  const promptIds = await tokenizer.encode(prompt, { addSpecialTokens: false });
  console.log(
    `prompt ${promptIds.length} tokens, ${TOKENS} output tokens at ${ITL_MS} ms, ${concurrency} concurrent streams x ${rounds} rounds (first round not measured), ${grpc.length} workers, policy ${args.policy}`,
  );
  console.log(
    `load average before: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );

  const directBefore = cpuSeconds(workersPid);
  const directWallBefore = performance.now();
  const directResult = await load(
    `${direct}/v1/completions`,
    JSON.stringify({ model: MODEL, prompt: promptIds, max_tokens: TOKENS, stream: true, return_token_ids: true }),
    concurrency,
    rounds,
  );
  const directCpu = cpuSeconds(workersPid) - directBefore;
  const directWall = (performance.now() - directWallBefore) / 1000;
  report('direct to a worker (HTTP SSE, token ids)', directResult);
  // The stand-ins' HTTP streamer is a floor for any Node.js SSE server: one JSON.stringify and one
  // socket write per token, no gRPC, no tokenizer.
  if (Number.isFinite(directCpu))
    console.log(
      `direct phase, stand-in workers' CPU: ${directCpu.toFixed(1)} s over ${directWall.toFixed(1)} s, ${((1e6 * directCpu) / (concurrency * rounds * TOKENS)).toFixed(0)} us per streamed token (an HTTP SSE streamer alone)`,
    );

  const viaBody = JSON.stringify({ model: MODEL, prompt, max_tokens: TOKENS, stream: true });
  const paths: { label: string; backend: string; addresses: readonly string[] }[] = [];
  if (args.mode !== 'http')
    paths.push({ label: 'through the orchestrator (HTTP -> gRPC, token level)', backend: 'grpc', addresses: grpc });
  if (args.mode !== 'grpc' && httpWorkers.length > 0)
    paths.push({
      label: 'through the orchestrator (HTTP pass-through -> vllm-http)',
      backend: 'vllm-http',
      addresses: httpWorkers,
    });
  const figures: { label: string; perRequestMs: number; perTokenUs: number }[] = [];
  for (const path of paths) {
    const config = join(dir, `bench-${path.backend}.yaml`);
    writeFileSync(
      config,
      [
        'log: { level: warn }',
        // One serving process: its CPU is the whole orchestrator's (the figure reads one pid).
        `orchestrator: { model: "${MODEL}", port: 0, processes: 1, dispatch: { max_inflight_per_worker: 100000 }, admission: { max_inflight: 100000 } }`,
        `routing: { policy: ${args.policy} }`,
        'workers:',
        ...path.addresses.map((address, i) => `  - { name: w${i}, backend: ${path.backend}, address: "${address}" }`),
        '',
      ].join('\n'),
    );
    const profile = args['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', args['cpu-prof']] : [];
    const orchestrator = spawn(process.execPath, [...profile, tandem, 'orchestrator', '--config', config], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, TANDEM_LOG__LEVEL: 'info', TANDEM_LOG__FORMAT: 'json' },
    });
    children.push(orchestrator);
    const listening = await firstLine(orchestrator, (text) => text.includes('"url"'));
    const url = (JSON.parse(listening) as { url: string }).url;
    for (;;) {
      const ready = await fetch(`${url}/ready`).catch(() => undefined);
      if (ready?.status === 200) break;
      await sleep(100);
    }
    // One unmeasured pass through the orchestrator first, so that its CPU figure is the steady
    // state (JIT-compiled code, warm connections), not start-up.
    await load(`${url}/v1/completions`, viaBody, concurrency, 1);
    const cpuBefore = cpuSeconds(orchestrator.pid);
    const systemBefore = cpuSplit(orchestrator.pid).system;
    const mainBefore = cpuSeconds(orchestrator.pid, orchestrator.pid);
    const workersBefore = cpuSeconds(workersPid);
    const clientBefore = process.cpuUsage();
    const wallBefore = performance.now();
    const viaResult = await load(`${url}/v1/completions`, viaBody, concurrency, rounds);
    const cpu = cpuSeconds(orchestrator.pid) - cpuBefore;
    const systemCpu = cpuSplit(orchestrator.pid).system - systemBefore;
    const mainCpu = cpuSeconds(orchestrator.pid, orchestrator.pid) - mainBefore;
    const workersCpu = cpuSeconds(workersPid) - workersBefore;
    const clientUsage = process.cpuUsage(clientBefore);
    const clientCpu = (clientUsage.user + clientUsage.system) / 1e6;
    const wall = (performance.now() - wallBefore) / 1000;
    report(path.label, viaResult);
    const requests = concurrency * rounds;
    if (Number.isFinite(cpu))
      console.log(
        `orchestrator CPU: ${cpu.toFixed(1)} s over ${wall.toFixed(1)} s (${((100 * cpu) / wall).toFixed(0)}% of a core), ${((1000 * cpu) / requests).toFixed(2)} ms per request, ${((1e6 * cpu) / (requests * TOKENS)).toFixed(0)} us per streamed token (${((1e6 * (cpu - systemCpu)) / (requests * TOKENS)).toFixed(0)} user + ${((1e6 * systemCpu) / (requests * TOKENS)).toFixed(0)} system; ${((1e6 * mainCpu) / (requests * TOKENS)).toFixed(0)} on the main thread, the rest on the tokenizer pool, GC and JIT threads)`,
      );
    figures.push({
      label: path.label,
      perRequestMs: (1000 * cpu) / requests,
      perTokenUs: (1e6 * cpu) / (requests * TOKENS),
    });
    const share = (seconds: number) =>
      Number.isFinite(seconds) ? `${seconds.toFixed(1)} s (${((100 * seconds) / wall).toFixed(0)}% of a core)` : 'n/a';
    console.log(
      `same phase, the other processes: stand-in workers ${share(workersCpu)}, this client ${share(clientCpu)}; the machine has 2 cores`,
    );
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
    const serverTtft =
      metric('tandem_time_to_first_token_seconds_sum{mode="aggregated"}') /
      metric('tandem_time_to_first_token_seconds_count{mode="aggregated"}');
    const routing = metric('tandem_router_decision_seconds_sum') / metric('tandem_router_decision_seconds_count');
    const lag = (q: string) => (1000 * metric(`nodejs_eventloop_lag_${q}_seconds`)).toFixed(1);
    console.log(
      `as the orchestrator measures itself (all rounds): mean TTFT from arrival ${(1000 * serverTtft).toFixed(1)} ms, mean routing decision ${(1e6 * routing).toFixed(0)} us, event-loop lag p50 ${lag('p50')} p99 ${lag('p99')} max ${lag('max')} ms`,
    );
    const added = (p: number) => (pct(viaResult.ttft, p) - pct(directResult.ttft, p)).toFixed(1);
    console.log(`added TTFT ms: p50 ${added(0.5)}  p90 ${added(0.9)}  p99 ${added(0.99)}`);
    orchestrator.kill('SIGTERM');
    await new Promise((resolve) => orchestrator.once('exit', resolve));
  }
  if (figures.length > 1) {
    console.log('orchestrator CPU, side by side (same run):');
    for (const f of figures)
      console.log(
        `  ${f.label.padEnd(60)} ${f.perRequestMs.toFixed(2)} ms per request, ${f.perTokenUs.toFixed(0)} us per streamed token`,
      );
  }
  console.log(
    `load average after: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  stop();
  process.exit(0);
}

interface LoadResult {
  ttft: number[];
  itl: number[];
  errors: number;
}

/** Closed loop: `concurrency` clients, each sending `rounds` streaming requests back to back. */
async function load(target: string, body: string, concurrency: number, rounds: number): Promise<LoadResult> {
  const agent = new Agent({ connections: concurrency + 8, pipelining: 1 });
  const result: LoadResult = { ttft: [], itl: [], errors: 0 };
  const streamMs = TOKENS * ITL_MS;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, c) => {
      await sleep((c * streamMs) / concurrency);
      for (let r = 0; r < rounds; r++) {
        const one = await stream(target, body, agent).catch(() => undefined);
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
    await response.body.dump();
    throw new Error(`HTTP ${response.statusCode}`);
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
      if (!/"text":"[^"]/.test(event)) continue; // token chunks only
      const now = performance.now();
      if (first < 0) first = now - started;
      else gaps.push(now - last);
      last = now;
    }
  }
  if (first < 0) throw new Error('no token');
  return { ttft: first, gaps };
}

/** User + system CPU seconds of a process (or one of its threads) so far (Linux /proc; NaN elsewhere). */
function cpuSeconds(pid: number | undefined, thread?: number): number {
  const { user, system } = cpuSplit(pid, thread);
  return user + system;
}

/** User and system CPU seconds of a process so far, every thread or one (Linux /proc; NaN elsewhere). */
function cpuSplit(pid: number | undefined, thread?: number): { user: number; system: number } {
  try {
    const fields = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8')
      .split(') ')[1]!
      .split(' ');
    return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 }; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return { user: Number.NaN, system: Number.NaN };
  }
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
}

function firstLine(child: ChildProcess, match: (line: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      for (const line of buffered.split('\n')) {
        if (match(line)) {
          child.stdout!.off('data', onData);
          child.stdout!.resume();
          resolve(line);
          return;
        }
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`child exited with ${code} before it was ready`)));
  });
}
