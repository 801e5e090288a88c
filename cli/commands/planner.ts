import type { Command } from 'commander';
import { notImplemented } from '../run-action.ts';

export function registerPlannerCommand(program: Command): void {
  program
    .command('planner')
    .description('size the prefill and decode pools and the disaggregation threshold, and scale them')
    .option('--config <file>', 'config file (YAML); the `planner` section applies')
    .action(() => notImplemented('planner', 'planner issue'));
}
