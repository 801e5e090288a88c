import type { Command } from 'commander';
import { runAction } from '../run-action.ts';
import type { UpFlags } from '../up/index.ts';

export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description(
      'start an orchestrator in front of a local simulated fleet, and the planner in dry run (what `npm start` runs)',
    )
    .option(
      '--port <port>',
      "the orchestrator's port (default orchestrator.port, 8000); 0 picks a free one; every other port is picked free",
    )
    .option(
      '--workers <spec>',
      'the fleet: P:D[:B] prefill:decode[:both] workers, or N workers of role both (default 2:2)',
    )
    .option('--gpu <name>', 'GPU profile of every worker (common/profiles), e.g. h100-sxm, l40s')
    .option('--model <name>', 'model profile of every worker, e.g. qwen3-8b; the API serves its Hugging Face id')
    .option('--engine <name>', 'worker engine: sim | reference')
    .option('--disaggregation <mode>', 'auto | always | never')
    .option('--time-scale <s>', 'simulated time runs this many times faster than the wall clock')
    .option(
      '--config <file>',
      'a config file (YAML): its `up` section describes the fleet, the other sections configure the processes',
    )
    .option('--no-planner', 'do not start the planner')
    // Bad flags: one line on stderr, exit 2 (not commander's default 1 plus a help hint).
    .showHelpAfterError(false)
    .configureOutput({ outputError: (text, write) => write(`tandem up: ${oneLine(text)}\n`) })
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2))
    .action(async (flags: UpFlags) => {
      await runAction('up', async () => (await import('../up/index.ts')).runUp(flags));
      // Everything it started has exited; do not wait for stray handles.
      process.exit(process.exitCode ?? 0);
    });
}

/** Commander's "error: unknown option '--x'\n(Did you mean --y?)" as one line. */
function oneLine(text: string): string {
  return text
    .replace(/^error: /, '')
    .replace(/\s*\(Did you mean (.+)\?\)/, ' (did you mean $1?)')
    .trim();
}
