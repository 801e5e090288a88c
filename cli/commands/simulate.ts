import type { Command } from 'commander';
import { runAction } from '../run-action.ts';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description(
      'run a whole fleet on a virtual clock: the real router, disaggregation and planner over simulated engines',
    )
    .option('--workload <name>', 'a workload name (tandem bench workloads lists them)')
    .option('-p, --param <key=value>', 'a workload parameter (repeatable)', collect)
    .option(
      '--policy <names>',
      "routing policy, or a comma-separated list to compare (default: the config's routing.policy)",
    )
    .option('--workers <n>', 'simulated workers (with --planner on: the most it may run)', '8')
    .option('--gpu <kind>', "GPU profile (default: the config's worker.gpu)")
    .option('--model <name>', "model profile (default: the config's worker.model)")
    .option('--tp <k>', 'GPUs per worker (tensor parallelism)')
    .option(
      '--qps <rate>',
      "mean arrival rate, requests/s: 8, a list 1,2,4 or a sweep start:end:points (default: the workload's)",
    )
    .option('--duration <s>', 'seconds during which requests arrive; in-flight requests then finish', '600')
    .option('--seed <seed>', 'seed of the workload, the router and the engines', '1')
    .option(
      '--disaggregation <modes>',
      "auto, always or never, or a list (default: never without --prefill-workers, else the config's mode)",
    )
    .option('--prefill-workers <p>', 'prefill-only workers, the rest decode (a list compares splits)')
    .option(
      '--decode-workers <d>',
      'decode workers at the start (default: the rest); with --planner on, fewer leaves it room to grow',
    )
    .option(
      '--threshold-tokens <n>',
      "auto mode: disaggregate above this many uncached prompt tokens (default: the config's)",
    )
    .option(
      '--planner <on|off>',
      'let the planner size the prefill and decode pools (and the threshold) every planner.interval_s',
      'off',
    )
    .option(
      '--index <modes>',
      "precise (KV events) or approximate (the router's own decisions), or both: precise,approximate",
    )
    .option('--json', 'print the result file as JSON instead of tables')
    .option('--csv <file>', 'write one CSV row per run')
    .option('--out <file>', 'write the result file (JSON) for tandem bench report')
    .option('--experiment <name>', 'report page this result belongs to (default: the --out file name)')
    .option('--title <text>', 'report page title')
    .option('--description <markdown>', 'report page text: what is compared and why')
    .option('--label <text>', 'label every run with this (default: what varies between runs of one policy)')
    .option('--config <file>', 'config file (routing, disaggregation, planner, worker engine limits, SLO)')
    .option('--slo-ttft-ms <ms>', 'goodput TTFT target (default: planner.slo.ttft_s)')
    .option('--slo-itl-ms <ms>', 'goodput per-request mean ITL target (default: planner.slo.itl_s)')
    .option('--dispatch-ms <ms>', 'simulated latency orchestrator -> worker (requests, handoffs, releases)')
    .option('--token-ms <ms>', 'simulated latency worker -> client per token')
    .option('--kv-event-ms <ms>', 'simulated latency of a KV-event batch to the index')
    .option(
      '--replicas <n>',
      'router (orchestrator) replicas over the fleet, requests spread at random as a Kubernetes Service does (default 1; needs --planner off above 1)',
    )
    .option('--replica-sync <on|off>', 'replicas share their bookings, as orchestrator.replica_sync does (default on)')
    .option('--sync-ms <ms>', 'one-way delay of a booking delta between replicas (default 1)')
    .option('--status-interval-ms <ms>', 'how often worker status reaches the load book')
    .option(
      '--status-queued-prefill <on|off>',
      'worker status carries queued prefill tokens (on: gRPC GetStatus; off: as vLLM metrics, the load book keeps its own bookings)',
      'on',
    )
    .option('--startup-s <s>', 'seconds a worker the planner adds takes to become routable')
    .option(
      '--by-class',
      "also report each request class (the workload's id prefix: short, long, chat...) as its own run",
    )
    .option('--quiet', 'print nothing but errors (with --out or --csv)')
    .action((flags) =>
      runAction('simulate', async () => {
        await (await import('../../bench/sim/command.ts')).simulate(flags);
      }),
    );
}
