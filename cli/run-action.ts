import { isTandemError } from '../common/errors.ts';

/**
 * Runs a subcommand's body and turns failures into one clear line on stderr and an exit code:
 * 2 for bad input (flags, config, files), 1 for anything else. No stack traces unless
 * TANDEM_DEBUG=1.
 */
export async function runAction(command: string, body: () => Promise<void> | void): Promise<void> {
  try {
    await body();
  } catch (error) {
    if (process.env.TANDEM_DEBUG === '1') console.error(error);
    const message = error instanceof Error ? error.message : String(error);
    console.error(`tandem ${command}: ${message}`);
    process.exitCode = isTandemError(error) && error.code === 'invalid_request' ? 2 : 1;
  }
}

/** What a subcommand does until its issue lands. */
export function notImplemented(command: string, issue: string): never {
  console.error(`tandem ${command}: not implemented yet (${issue})`);
  process.exit(3);
}
