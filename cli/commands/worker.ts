import type { Command } from 'commander';
import { runAction } from '../run-action.ts';

/** Flag -> `worker.<key>` config path, and whether its value is a number. Unset flags leave the config (file, env, defaults) alone. */
const FLAGS = [
  ['engine', '--engine <name>', 'engine: sim | reference', 'engine', false],
  [
    'role',
    '--role <role>',
    'advertised role: prefill | decode | both (every worker serves every RPC, as vLLM does)',
    'role',
    false,
  ],
  ['gpu', '--gpu <name>', 'GPU profile (common/profiles), e.g. h100-sxm', 'gpu', false],
  ['model', '--model <name>', 'model profile, e.g. qwen3-8b', 'model', false],
  ['tp', '--tp <n>', 'tensor-parallel size', 'tp', true],
  ['host', '--host <host>', 'bind address of every server', 'host', false],
  ['advertiseHost', '--advertise-host <host>', 'host others connect to (handoffs, GetStatus)', 'advertise_host', false],
  ['grpcPort', '--grpc-port <port>', 'tandem.v1.WorkerService port (0 picks a free one)', 'grpc_port', true],
  ['httpPort', '--http-port <port>', 'vLLM-compatible HTTP port (0 picks a free one)', 'http_port', true],
  ['kvEventsPort', '--kv-events-port <port>', 'KV-event ZMQ PUB port (0 picks a free one)', 'kv_events_port', true],
  ['replayPort', '--replay-port <port>', 'KV-event replay ROUTER port (0 picks a free one)', 'replay_port', true],
  [
    'kvEventsTopic',
    '--kv-events-topic <topic>',
    'frame 0 of every KV-event message (default "")',
    'kv_events_topic',
    false,
  ],
  [
    'kvEventShape',
    '--kv-event-shape <shape>',
    'KV-event wire shape: current | legacy-12 | legacy-7',
    'kv_event_shape',
    false,
  ],
  [
    'timeScale',
    '--time-scale <s>',
    'simulated time runs this many times faster than the wall clock',
    'time_scale',
    true,
  ],
  ['seed', '--seed <n>', 'engine seed', 'seed', true],
  ['numGpuBlocks', '--num-gpu-blocks <n>', 'KV blocks (default: from the GPU x model profile)', 'num_gpu_blocks', true],
  ['blockSize', '--block-size <n>', 'tokens per KV block', 'block_size', true],
  [
    'maxNumBatchedTokens',
    '--max-num-batched-tokens <n>',
    'token budget of one forward pass',
    'max_num_batched_tokens',
    true,
  ],
  ['maxNumSeqs', '--max-num-seqs <n>', 'most requests running at once', 'max_num_seqs', true],
  ['maxModelLen', '--max-model-len <n>', 'context length, tokens', 'max_model_len', true],
  ['kvLink', '--kv-link <name>', 'link KV pulls are priced on (common/profiles/links.ts)', 'kv_link', false],
  ['kvHoldTimeout', '--kv-hold-timeout <s>', 'seconds a prefill holds blocks for a decode', 'kv_hold_timeout_s', true],
  [
    'kvLoadFailurePolicy',
    '--kv-load-failure-policy <p>',
    'when a KV pull cannot happen: recompute | fail',
    'kv_load_failure_policy',
    false,
  ],
  [
    'httpMaxBodyBytes',
    '--http-max-body-bytes <n>',
    'largest HTTP request body, bytes (413 beyond)',
    'http_max_body_bytes',
    true,
  ],
  [
    'servedModelName',
    '--served-model-name <name>',
    "model name of the HTTP API (default: the profile's Hugging Face id)",
    'served_model_name',
    false,
  ],
  ['tokenizer', '--tokenizer <source>', 'tokenizer for text prompts: qwen3 or a model directory', 'tokenizer', false],
  ['hashSeed', '--hash-seed <seed>', 'PYTHONHASHSEED of the emulated block hashes', 'hash_seed', false],
  [
    'eosProbability',
    '--eos-probability <p>',
    'per-token chance of EOS (0: run to max_tokens)',
    'eos_probability',
    true,
  ],
  ['dpRank', '--dp-rank <n>', 'data-parallel rank stamped on KV events', 'dp_rank', true],
] as const;

type WorkerFlags = Partial<Record<(typeof FLAGS)[number][0], string>> & {
  config?: string;
  kvEvents?: boolean;
  logLevel?: string;
  logFormat?: string;
};

export function registerWorkerCommand(program: Command): void {
  const command = program
    .command('worker')
    .description(
      'run an engine worker (simulated or reference) serving tandem.v1.WorkerService and a vLLM-compatible HTTP API',
    )
    .option(
      '--config <file>',
      'config file (YAML); the `worker` section applies, TANDEM_WORKER__* variables override it, flags override both',
    );
  for (const [, flag, help] of FLAGS) command.option(flag, help);
  command
    .option('--no-kv-events', 'do not publish KV events')
    .option('--log-level <level>', 'trace | debug | info | warn | error | silent')
    .option('--log-format <format>', 'auto | json | pretty (logs go to stderr)')
    // Bad flags: one line on stderr, exit 2 (not commander's default 1 plus a help hint).
    .showHelpAfterError(false)
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2))
    .action((flags: WorkerFlags) => runAction('worker', () => worker(flags)));
}

async function worker(flags: WorkerFlags): Promise<void> {
  const overrides: Record<string, unknown> = {};
  for (const [key, , , path, numeric] of FLAGS) {
    const value = flags[key];
    if (value === undefined) continue;
    // A non-numeric value stays a string, so validation names the flag and the expected type.
    overrides[`worker.${path}`] =
      numeric && value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
  }
  if (flags.kvEvents === false) overrides['worker.enable_kv_cache_events'] = false;
  if (flags.logLevel !== undefined) overrides['log.level'] = flags.logLevel;
  if (flags.logFormat !== undefined) overrides['log.format'] = flags.logFormat;

  const { loadConfig } = await import('../../common/config/index.ts');
  const loaded = loadConfig({ file: flags.config, env: process.env, overrides });
  if (!loaded.ok) throw loaded.error;
  const config = loaded.value;
  const { createLogger } = await import('../../common/log.ts');
  const logger = createLogger({
    name: 'worker',
    level: config.log.level,
    format: config.log.format,
    destination: process.stderr,
  });
  const { startWorker } = await import('../../workers/process/index.ts');
  const running = await startWorker({ config: config.worker, logger });
  const { addresses } = running;

  // The one machine-readable line (stdout; logs go to stderr): what `tandem up` and tests read.
  process.stdout.write(
    `${JSON.stringify({ event: 'tandem-worker-ready', engine_id: addresses.engineId, role: addresses.role, grpc: addresses.grpc, http: addresses.http, kv_events: addresses.kvEvents, replay: addresses.replay, topic: addresses.topic, pid: process.pid })}\n`,
  );
  logger.info(
    {
      ...addresses,
      engine: config.worker.engine,
      gpu: config.worker.gpu,
      model: config.worker.model,
      timeScale: config.worker.time_scale,
    },
    'worker ready',
  );

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'stopping: cancelling running requests and closing sockets');
      // A second signal while closing exits at once.
      process.once(signal, () => process.exit(1));
      void running.close().then(resolve, (error: unknown) => {
        logger.error({ err: error }, 'error while stopping');
        resolve();
      });
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  logger.info('stopped');
  // Native sockets (ZMQ, gRPC) may keep the loop alive a little longer; nothing is left to do.
  process.exit(0);
}
