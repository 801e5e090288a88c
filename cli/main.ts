import { Command } from 'commander';
import { registerBenchCommand } from './commands/bench.ts';
import { registerOrchestratorCommand } from './commands/orchestrator.ts';
import { registerPlannerCommand } from './commands/planner.ts';
import { registerSimulateCommand } from './commands/simulate.ts';
import { registerUpCommand } from './commands/up.ts';
import { registerWorkerCommand } from './commands/worker.ts';

/**
 * The `tandem` command line. Each subcommand lives in cli/commands/ and imports its
 * implementation lazily, so `tandem --help` loads nothing heavy.
 */
const program = new Command('tandem')
  .description('Tandem: a disaggregated prefill/decode orchestrator for LLM serving')
  .showHelpAfterError('(run with --help for usage)')
  .configureHelp({ sortSubcommands: false });

registerUpCommand(program);
registerOrchestratorCommand(program);
registerWorkerCommand(program);
registerPlannerCommand(program);
registerSimulateCommand(program);
registerBenchCommand(program);

await program.parseAsync(process.argv);
