import { fail, ok, TandemError, type Result } from '../../common/errors.ts';
import type { UpWorkerGroup } from '../../common/config/sections/up.ts';

/** The flags of `tandem up` as commander hands them over (strings; `planner` false for --no-planner). */
export interface UpFlags {
  readonly config?: string;
  readonly port?: string;
  readonly workers?: string;
  readonly gpu?: string;
  readonly model?: string;
  readonly engine?: string;
  readonly disaggregation?: string;
  readonly timeScale?: string;
  readonly planner?: boolean;
}

/** What the flags ask for: config overrides, and profile fields every worker group must take. */
export interface FlagSettings {
  /** Dotted config paths, the highest precedence (`{ 'orchestrator.port': 9000 }`). */
  readonly overrides: Record<string, unknown>;
  /** --gpu, --model, --engine: they replace what up.workers groups name, not only the default. */
  readonly force: { readonly gpu?: string; readonly model?: string; readonly engine?: 'sim' | 'reference' };
}

/**
 * Flags -> config overrides. Only what was given is set; values the schema checks (engine,
 * disaggregation mode) are left to it, so its errors name the flag.
 */
export function settingsFromFlags(flags: UpFlags): Result<FlagSettings> {
  const bad = (message: string) => fail(new TandemError('invalid_request', message));
  const overrides: Record<string, unknown> = {};
  if (flags.port !== undefined) {
    const port = Number(flags.port);
    if (!/^\d+$/.test(flags.port) || port > 65535)
      return bad(`--port must be an integer from 0 to 65535, got "${flags.port}"`);
    overrides['orchestrator.port'] = port;
  }
  if (flags.workers !== undefined) {
    const groups = parseWorkersSpec(flags.workers);
    if (!groups.ok) return groups;
    overrides['up.workers'] = groups.value;
  }
  if (flags.timeScale !== undefined) {
    const scale = Number(flags.timeScale);
    if (flags.timeScale.trim() === '' || !Number.isFinite(scale) || scale <= 0)
      return bad(`--time-scale must be a positive number, got "${flags.timeScale}"`);
    overrides['worker.time_scale'] = scale;
  }
  const force: { gpu?: string; model?: string; engine?: 'sim' | 'reference' } = {};
  if (flags.gpu !== undefined) overrides['worker.gpu'] = force.gpu = flags.gpu;
  if (flags.model !== undefined) overrides['worker.model'] = force.model = flags.model;
  if (flags.engine !== undefined) {
    overrides['worker.engine'] = flags.engine;
    if (flags.engine === 'sim' || flags.engine === 'reference') force.engine = flags.engine;
  }
  if (flags.disaggregation !== undefined) overrides['disaggregation.mode'] = flags.disaggregation;
  if (flags.planner === false) overrides['up.planner'] = false;
  return ok({ overrides, force });
}

export const WORKERS_SYNTAX = 'N (N workers of role both) or P:D[:B] (prefill:decode[:both], e.g. 2:2)';

/**
 * `--workers`: `N` starts N workers of role both; `P:D` starts P prefill and D decode workers;
 * `P:D:B` adds B of role both. At least one worker, at most 64 of a role.
 */
export function parseWorkersSpec(text: string): Result<UpWorkerGroup[]> {
  const parts = text.trim().split(':');
  const counts = parts.map((part) => (/^\d+$/.test(part) ? Number(part) : Number.NaN));
  if (parts.length > 3 || counts.some((n) => !Number.isInteger(n) || n > 64) || counts.every((n) => n === 0)) {
    return fail(
      new TandemError('invalid_request', `--workers must be ${WORKERS_SYNTAX}, with 1 to 64 of a role; got "${text}"`, {
        param: 'up.workers',
      }),
    );
  }
  const roles: UpWorkerGroup['role'][] = parts.length === 1 ? ['both'] : ['prefill', 'decode', 'both'];
  return ok(counts.flatMap((count, i) => (count > 0 ? [{ role: roles[i]!, count }] : [])));
}
