import type { Command } from 'commander';
import { runAction } from '../run-action.ts';

interface OrchestratorFlags {
  config?: string;
  port?: string;
  host?: string;
  policy?: string;
}

export function registerOrchestratorCommand(program: Command): void {
  program
    .command('orchestrator')
    .description('run the OpenAI-compatible front door and KV-aware router in front of the configured workers')
    .option('--config <file>', 'config file (YAML); TANDEM_* environment variables override it, flags override both')
    .option('--port <port>', 'listen port (orchestrator.port; 0 picks a free one)')
    .option('--host <host>', 'bind address (orchestrator.host)')
    .option(
      '--policy <name>',
      'routing policy (routing.policy): kv, cache-aware, round-robin, random, least-loaded, power-of-two, session',
    )
    .action((flags: OrchestratorFlags) => runAction('orchestrator', () => orchestrator(flags)));
}

async function orchestrator(flags: OrchestratorFlags): Promise<void> {
  const { TandemError } = await import('../../common/errors.ts');
  const overrides: Record<string, unknown> = {};
  if (flags.port !== undefined) {
    const port = Number(flags.port);
    if (!/^\d+$/.test(flags.port) || port > 65535)
      throw new TandemError('invalid_request', `--port must be an integer from 0 to 65535, got "${flags.port}"`);
    overrides['orchestrator.port'] = port;
  }
  if (flags.host !== undefined) overrides['orchestrator.host'] = flags.host;
  if (flags.policy !== undefined) overrides['routing.policy'] = flags.policy;
  const { runOrchestrator } = await import('../../orchestrator/server/index.ts');
  await runOrchestrator({ file: flags.config, env: process.env, overrides });
  // Everything is closed; do not wait for stray handles (a half-open client socket, say).
  process.exit(process.exitCode ?? 0);
}
