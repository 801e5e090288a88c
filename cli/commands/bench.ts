import type { Command } from 'commander';
import { notImplemented } from '../run-action.ts';

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('drive a running orchestrator with a workload and measure TTFT and ITL, or build reports')
    .action(() => notImplemented('bench', 'benchmarks issue'));
}
