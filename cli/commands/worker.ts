import type { Command } from 'commander';
import { notImplemented } from '../run-action.ts';

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run an engine worker (simulated or reference) serving tandem.v1.WorkerService and a vLLM-compatible HTTP API')
    .option('--config <file>', 'config file (YAML); the `worker` section applies')
    .action(() => notImplemented('worker', 'simulated engine worker issue'));
}
