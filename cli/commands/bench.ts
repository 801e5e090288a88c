import type { Command } from 'commander';
import { runAction } from '../run-action.ts';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerBenchCommand(program: Command): void {
  const bench = program
    .command('bench')
    .description('drive a running orchestrator with a workload and measure TTFT and ITL, or build reports');

  bench
    .command('live')
    .description('drive a running OpenAI-compatible server (the orchestrator) with a workload over streaming HTTP')
    .option('--url <url>', 'the server, e.g. http://127.0.0.1:8000')
    .option('--workload <name>', 'a workload name (tandem bench workloads lists them)')
    .option('-p, --param <key=value>', 'a workload parameter (repeatable)', collect)
    .option(
      '--concurrency <n>',
      'closed loop: keep n requests in flight (a list or start:end:points sweeps); with --qps, a cap',
    )
    .option(
      '--qps <rate>',
      "open loop at this many requests/s, following the workload's arrivals (8, 1,2,4 or 3:60:6 sweeps)",
    )
    .option('--requests <n>', 'requests per load point')
    .option('--duration <s>', 'seconds per load point (stop issuing after)')
    .option('--seed <seed>', 'workload seed', '1')
    .option('--model <name>', 'served model name (default: the first of GET /v1/models)')
    .option('--out <file>', 'write the result file (JSON) for tandem bench report')
    .option('--csv <file>', 'write one CSV row per load point')
    .option('--json', 'print the result file as JSON instead of tables')
    .option('--timeout <s>', 'per-request limit, seconds', '600')
    .option('--slo-ttft-ms <ms>', "goodput TTFT target (default: the config's planner.slo.ttft_s)")
    .option('--slo-itl-ms <ms>', 'goodput per-request mean ITL target (default: planner.slo.itl_s)')
    .option('--block-size <tokens>', 'KV block size for the hit-rate bound (default: routing.block_size)')
    .option('--policy <name>', 'record the routing policy the server runs (groups lines in reports)')
    .option('--label <text>', 'record a label telling runs of one policy apart')
    .option('--experiment <name>', 'report page this result belongs to (default: the --out file name)')
    .option('--title <text>', 'report page title')
    .option('--description <markdown>', 'report page text: what is compared and why')
    .option('--no-ignore-eos', 'let the model stop early instead of asking for exactly max_tokens')
    .option('--config <file>', 'config file for the SLO and block-size defaults')
    .action((flags) =>
      runAction('bench live', async () => (await import('../../bench/live/command.ts')).benchLive(flags)),
    );

  bench
    .command('report')
    .description('turn result files into Markdown pages with SVG figures')
    .option('--in <dir>', 'directory of result files (*.json)', 'bench/results')
    .option('--out <dir>', 'where to write the pages and figures', 'bench/results')
    .action((flags: { in: string; out: string }) =>
      runAction('bench report', async () => {
        const { buildReport } = await import('../../bench/report/build-report.ts');
        const result = buildReport({ inDir: flags.in, outDir: flags.out });
        process.stdout.write(
          `wrote ${result.written.length} files to ${flags.out}: ${result.written.filter((n) => n.endsWith('.md')).join(', ')}\n`,
        );
        for (const problem of result.problems) process.stderr.write(`skipped ${problem}\n`);
        if (result.problems.length > 0) process.exitCode = 1;
      }),
    );

  bench
    .command('workloads [name]')
    .description('list workloads and their parameters, or draw a sample of one (--sample)')
    .option('--sample <n>', 'draw n requests and describe them')
    .option('-p, --param <key=value>', 'a workload parameter (repeatable)', collect)
    .option('--seed <seed>', 'workload seed', '1')
    .action((name: string | undefined, flags: { sample?: string; param?: string[]; seed: string }) =>
      runAction('bench workloads', async () => {
        const { describeWorkloads, sampleWorkload } = await import('../../bench/workloads/describe.ts');
        if (flags.sample === undefined) return void process.stdout.write(describeWorkloads(name));
        if (!name)
          throw new (await import('../../common/errors.ts')).TandemError(
            'invalid_request',
            '--sample needs a workload name',
          );
        const { parseParams } = await import('../../bench/live/command.ts');
        process.stdout.write(sampleWorkload(name, parseParams(flags.param ?? []), flags.seed, Number(flags.sample)));
      }),
    );

  bench
    .command('fake-server')
    .description('serve a fake streaming OpenAI API with fixed timing, to try the load generator')
    .option('--port <port>', 'port (0: any free one)', '8100')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--ttft-ms <ms>', 'time to the first token', '50')
    .option('--itl-ms <ms>', 'gap between tokens', '10')
    .option('--model <name>', 'the model it serves', 'fake-model')
    .action((flags: { port: string; host: string; ttftMs: string; itlMs: string; model: string }) =>
      runAction('bench fake-server', async () => {
        const { startFakeServer } = await import('../../bench/live/fake-server.ts');
        const server = await startFakeServer({
          host: flags.host,
          port: Number(flags.port),
          ttftMs: Number(flags.ttftMs),
          itlMs: Number(flags.itlMs),
          model: flags.model,
        });
        process.stdout.write(
          `fake OpenAI server at ${server.url} (model ${flags.model}, TTFT ${flags.ttftMs} ms, ITL ${flags.itlMs} ms); Ctrl-C stops it\n`,
        );
        await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
        await server.close();
      }),
    );
}
