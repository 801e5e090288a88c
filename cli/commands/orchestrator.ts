import type { Command } from 'commander';
import { notImplemented } from '../run-action.ts';

export function registerOrchestratorCommand(program: Command): void {
  program
    .command('orchestrator')
    .description('run the OpenAI-compatible front door and KV-aware router')
    .option('--config <file>', 'config file (YAML); TANDEM_* environment variables override it')
    .action(() => notImplemented('orchestrator', 'orchestrator issue'));
}
