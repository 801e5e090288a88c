import type { Command } from 'commander';
import { runAction } from '../run-action.ts';

interface PlannerFlags {
  config?: string;
  once?: boolean;
  observations?: string;
  json?: boolean;
  dryRun?: boolean;
}

export function registerPlannerCommand(program: Command): void {
  program
    .command('planner')
    .description('size the prefill and decode pools and the disaggregation threshold, and scale them')
    .option(
      '--config <file>',
      'config file (YAML); the `planner` section applies, TANDEM_PLANNER__* variables override it',
    )
    .option('--once', 'make one decision from --observations and exit')
    .option('--observations <file>', 'with --once: a JSON observation (or an array of them, oldest first)')
    .option('--json', 'with --once: print the decision as one JSON object')
    .option('--dry-run', 'log decisions without acting on Kubernetes')
    .action((flags: PlannerFlags) => runAction('planner', () => planner(flags)));
}

async function planner(flags: PlannerFlags): Promise<void> {
  const { TandemError } = await import('../../common/errors.ts');
  const bad = (message: string) => new TandemError('invalid_request', message);
  if (flags.once && !flags.observations) throw bad('--once needs --observations FILE');
  if (!flags.once && flags.observations) throw bad('--observations is only read with --once');
  if (!flags.once && flags.json)
    throw bad('--json applies to --once (the continuous planner serves /decision as JSON)');

  const { loadConfig } = await import('../../common/config/index.ts');
  const loaded = loadConfig({
    file: flags.config,
    env: process.env,
    overrides: flags.dryRun ? { 'planner.dry_run': true } : {},
  });
  if (!loaded.ok) throw loaded.error;
  const config = loaded.value;
  const { realClock } = await import('../../common/clock.ts');

  if (flags.once) {
    const { planOnce } = await import('../../planner/once.ts');
    const decision = planOnce(config, flags.observations!, realClock.now());
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(decision, null, 2)}\n`);
      return;
    }
    const pools = decision.pools as { name: string; replicas: number; gpu: string; tp: number }[];
    process.stdout.write(
      [
        `prefill replicas: ${decision.prefill_replicas}`,
        `decode replicas: ${decision.decode_replicas}`,
        `disaggregation threshold: ${decision.disaggregation_threshold_tokens} tokens`,
        ...pools.map((pool) => `  ${pool.name}: ${pool.replicas} x ${pool.gpu} (tp ${pool.tp})`),
        'reasons:',
        ...(decision.reasons as string[]).map((reason) => `  - ${reason}`),
        '',
      ].join('\n'),
    );
    return;
  }

  const { createLogger } = await import('../../common/log.ts');
  const { startPlanner } = await import('../../planner/run.ts');
  const log = createLogger({ name: 'planner', level: config.log.level, format: config.log.format });
  const running = await startPlanner(config, { clock: realClock, log });
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      log.info('stopping');
      void running.stop().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
