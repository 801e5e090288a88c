/**
 * Where a server's CPU goes per request, from the V8 CPU profiles `frontend-overhead.ts --cpu-prof
 * DIR` writes (not a test): the samples of one measured phase (its window in DIR/phases.json),
 * self time summed by source file or by function, in microseconds per request of that phase.
 * `(idle)` is time the main thread waited; the rest is what the /proc figure counts on that
 * thread (plus the sampler's own overhead, a few percent). Inlined functions count under
 * the function they were inlined into.
 *
 *   npx tsx bench/frontend/profile-summary.ts DIR [--server grpc] [--phase "completion, fresh prompt"] [--by file|function] [--top 40]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ProfiledPhase } from './frontend-overhead.ts';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    server: { type: 'string', default: 'grpc' },
    phase: { type: 'string', default: 'completion, fresh prompt' },
    by: { type: 'string', default: 'file' },
    top: { type: 'string', default: '40' },
    help: { type: 'boolean', default: false },
  },
});

interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number;
    readonly callFrame: { readonly functionName: string; readonly url: string };
  }[];
  readonly startTime: number;
  readonly samples: readonly number[];
  /** Microseconds from the previous sample (the first: from startTime). */
  readonly timeDeltas: readonly number[];
}

const dir = positionals[0];
if (args.help || dir === undefined) {
  console.log(
    [
      'npx tsx bench/frontend/profile-summary.ts DIR [flags]',
      'Self CPU time per request of one measured phase, from the profiles and phases.json that',
      '`frontend-overhead.ts --cpu-prof DIR` wrote.',
      '  --server grpc       the server: relay, grpc, http, grpc before, ... (as in the side-by-side table)',
      '  --phase "completion, fresh prompt"   streaming, or a prompt kind of the per-request phases',
      '  --by file           file | function',
      '  --top 40            rows printed',
    ].join('\n'),
  );
  process.exit(dir === undefined && !args.help ? 1 : 0);
}

const phases = JSON.parse(readFileSync(join(dir, 'phases.json'), 'utf8')) as ProfiledPhase[];
const phase = phases.find((p) => p.server === args.server && p.phase === args.phase);
if (!phase) {
  console.error(`no phase "${args.phase}" of server "${args.server}" in ${dir}/phases.json; there are:`);
  for (const p of phases) console.error(`  --server "${p.server}" --phase "${p.phase}"`);
  process.exit(1);
}
// Node names a profile CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; thread 0 is the main thread.
const file = readdirSync(dir).find((name) => name.includes(`.${phase.pid}.0.`) && name.endsWith('.cpuprofile'));
if (!file) {
  console.error(`no main-thread profile of process ${phase.pid} in ${dir}`);
  process.exit(1);
}
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;

const frameOf = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
/** The repository's top-level folders: a profiled tree's paths are shown from one of them on. */
const topFolders = readdirSync('.', { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.') && entry.name !== 'node_modules')
  .map((entry) => entry.name);
/** A file's path from its package or the repository's root (node: and native frames as they are), for reading. */
const where = (url: string) => {
  const path = url.replace(/^file:\/\//, '');
  const inPackage = path.lastIndexOf('/node_modules/');
  if (inPackage >= 0) return path.slice(inPackage + 1);
  const starts = topFolders.map((folder) => path.indexOf(`/${folder}/`)).filter((at) => at >= 0);
  return starts.length > 0 ? path.slice(Math.min(...starts) + 1) : path;
};
const keyOf = (id: number) => {
  const frame = frameOf.get(id)!;
  const file = where(frame.url) || frame.functionName;
  return args.by === 'function' ? `${frame.functionName || '(anonymous)'}  ${file}` : file;
};
const selfUs = new Map<string, number>();
let at = profile.startTime;
let total = 0;
let idle = 0;
for (let i = 0; i < profile.samples.length; i++) {
  at += profile.timeDeltas[i]!;
  if (at < phase.startUs || at > phase.endUs) continue;
  // A sample stands for the time until the next one.
  const us = profile.timeDeltas[i + 1] ?? 0;
  const key = keyOf(profile.samples[i]!);
  selfUs.set(key, (selfUs.get(key) ?? 0) + us);
  total += us;
  if (frameOf.get(profile.samples[i]!)!.functionName === '(idle)') idle += us;
}
const busy = total - idle;
console.log(
  `${phase.server}, ${phase.phase}: ${phase.requests} requests over ${((phase.endUs - phase.startUs) / 1e6).toFixed(1)} s; main thread busy ${(busy / phase.requests).toFixed(0)} us per request (sampled); self time by ${args.by}, us per request:`,
);
for (const [key, us] of [...selfUs].sort((a, b) => b[1] - a[1]).slice(0, Number(args.top)))
  console.log(
    `${(us / phase.requests).toFixed(1).padStart(9)} ${((100 * us) / total).toFixed(1).padStart(5)}%  ${key}`,
  );
