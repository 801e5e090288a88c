import type { Command } from 'commander';
import { notImplemented } from '../run-action.ts';

export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description('start an orchestrator in front of a local simulated fleet (what `npm start` runs)')
    .option('--port <port>', "the orchestrator's port (the others are picked free)", '8000')
    .option('--config <file>', 'a config file describing the fleet')
    .action(() => notImplemented('up', 'operator experience issue'));
}
