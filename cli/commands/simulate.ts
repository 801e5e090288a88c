import type { Command } from 'commander';
import { notImplemented } from '../run-action.ts';

export function registerSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description('run a whole fleet on a virtual clock: the real router and planner over simulated engines')
    .action(() => notImplemented('simulate', 'cluster simulator issue'));
}
