import { z } from 'zod';

/**
 * One group of identical workers `tandem up` starts on this machine. Unset profile fields come
 * from the `worker` section (which every launched worker reads, as `tandem worker` does).
 */
export const upWorkerGroup = z.strictObject({
  role: z.enum(['prefill', 'decode', 'both']),
  count: z.number().int().min(0).max(64).default(1),
  /** common/profiles names; default: worker.gpu, worker.model, worker.tp. */
  gpu: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
  tp: z.number().int().positive().optional(),
  /** `sim` or `reference`; default: worker.engine. */
  engine: z.enum(['sim', 'reference']).optional(),
});

export type UpWorkerGroup = z.output<typeof upWorkerGroup>;

/**
 * `tandem up` (`npm start`): an orchestrator in front of a fleet of local worker processes, and
 * the planner in dry run. The other sections configure those processes as they would alone;
 * this one says which processes to start and how to look after them.
 */
export const upSection = z.strictObject({
  /** The fleet: 2 prefill + 2 decode workers by default (`--workers 2:2`). */
  workers: z
    .array(upWorkerGroup)
    .default([
      { role: 'prefill', count: 2 },
      { role: 'decode', count: 2 },
    ])
    .refine((groups) => groups.some((group) => group.count > 0), { message: 'needs at least one worker' }),
  /** Run `tandem planner --dry-run` against the orchestrator and show its decisions on /ui. */
  planner: z.boolean().default(true),
  /** Seconds each process gets to start (print its ready line, answer its health check). */
  start_timeout_s: z.number().positive().default(60),
  /** On Ctrl-C or SIGTERM: seconds each process group gets after SIGTERM before SIGKILL. */
  stop_grace_s: z.number().nonnegative().default(10),
  /** A process that exits on its own is restarted after this many seconds, doubling per crash... */
  restart_backoff_s: z.number().positive().default(1),
  /** ...up to this many seconds. */
  restart_backoff_max_s: z.number().positive().default(30),
  /** A process that ran at least this long before it crashed starts again from the first backoff. */
  restart_reset_s: z.number().positive().default(60),
});

export type UpConfig = z.output<typeof upSection>;
