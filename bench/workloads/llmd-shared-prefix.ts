import { z } from 'zod';
import { parseRateStages, poissonArrivals, stagedPoissonArrivals } from './arrivals.ts';
import { count, defineWorkload, rate } from './define.ts';
import { createIndependentSource } from './independent-source.ts';
import { createBranchPoint, fillTokens } from './tokens.ts';

/**
 * llm-d's "KV-cache wins" benchmark, as its load generator (inference-perf's shared-prefix data
 * generator) defines it: `groups` x `users_per_group` prompts; every user of a group sends the
 * group's system prompt followed by that user's own question, the same question every time.
 * The prompts are shuffled once and requests cycle through them (order `cycle`, inference-perf's
 * behaviour), or each request picks a user uniformly (order `random`). Poisson arrivals at
 * `rate`, or stepping through `stages` as llm-d's ladder does (warm-up at 15 req/s for 50 s,
 * then 3 -> 60 req/s; bench/experiments/llmd-ladder.sh).
 *
 * With the defaults a prompt is 7,200 tokens; a run of N >= 750 requests in `cycle` order can
 * hit at most 1 - (150 x 6000 + 750 x 1200) / (7200 N) of its prompt tokens.
 */
export const llmdSharedPrefixWorkload = defineWorkload({
  description: "llm-d's KV-cache benchmark: groups share a long system prompt, each user repeats one question",
  params: {
    groups: count(150, 'prefix groups (tenants), each with its own system prompt'),
    users_per_group: count(5, 'users per group, each with one fixed question'),
    system_prompt_tokens: count(6000, "tokens of each group's system prompt"),
    question_tokens: count(1200, "tokens of each user's question"),
    output_tokens: count(1000, 'max_tokens of every request'),
    rate: rate(10),
    stages: z
      .string()
      .default('')
      .describe(
        "a rate ladder instead of `rate`: 'rate x seconds' stages, comma-separated (e.g. 15x50,3x20,10x20); empty: `rate` throughout",
      ),
    order: z
      .enum(['cycle', 'random'])
      .default('cycle')
      .describe(
        'cycle: shuffle the users once and send them round after round (inference-perf); random: a uniform user per request',
      ),
  },
  check(params) {
    if (params.stages === '') return undefined;
    const stages = parseRateStages(params.stages);
    return stages.ok ? undefined : `parameter stages: ${stages.error.message}`;
  },
  open(params, _prepared, rng) {
    const contentRng = rng.fork('content');
    const stages = params.stages === '' ? null : parseRateStages(params.stages);
    const arrivals = stages?.ok
      ? stagedPoissonArrivals(rng.fork('arrivals'), stages.value)
      : poissonArrivals(rng.fork('arrivals'), params.rate);
    const pickRng = rng.fork('order');
    const users = params.groups * params.users_per_group;

    // Content is drawn per group and per user from forked streams, and first tokens (which must
    // differ between siblings) in index order, so no prompt depends on which user is asked first.
    const groupBranch = createBranchPoint();
    const groupFirst = Array.from({ length: params.groups }, () => groupBranch.freshFirstToken(contentRng));
    const prefixes = new Array<Uint32Array | undefined>(params.groups);
    const userFirst = new Array<Uint32Array | undefined>(params.groups);
    const prompts = new Array<Uint32Array | undefined>(users);
    const seenGroup = new Uint8Array(params.groups);
    const seenUser = new Uint8Array(users);

    const buildGroup = (group: number): Uint32Array => {
      let prefix = prefixes[group];
      if (!prefix) {
        const groupRng = contentRng.fork(`group-${group}`);
        prefix = new Uint32Array(params.system_prompt_tokens);
        prefix[0] = groupFirst[group]!;
        fillTokens(groupRng, prefix, 1, prefix.length - 1);
        prefixes[group] = prefix;
        const branch = createBranchPoint();
        userFirst[group] = Uint32Array.from({ length: params.users_per_group }, () => branch.freshFirstToken(groupRng));
      }
      return prefix;
    };
    /** One array per user, shared by all that user's requests: the group's prefix + the question. */
    const promptOf = (user: number): Uint32Array => {
      let prompt = prompts[user];
      if (!prompt) {
        const group = Math.floor(user / params.users_per_group);
        const local = user % params.users_per_group;
        const prefix = buildGroup(group);
        prompt = new Uint32Array(prefix.length + params.question_tokens);
        prompt.set(prefix);
        prompt[prefix.length] = userFirst[group]![local]!;
        fillTokens(
          contentRng.fork(`group-${group}/user-${local}`),
          prompt,
          prefix.length + 1,
          params.question_tokens - 1,
        );
        prompts[user] = prompt;
      }
      return prompt;
    };

    const order = pickRng.shuffle(Array.from({ length: users }, (_, i) => i));
    let sent = 0;
    return createIndependentSource(() => {
      const user = params.order === 'cycle' ? order[sent % users]! : pickRng.int(users);
      const group = Math.floor(user / params.users_per_group);
      const prompt = promptOf(user);
      const shared = seenUser[user] ? prompt.length : seenGroup[group] ? params.system_prompt_tokens : 0;
      seenUser[user] = 1;
      seenGroup[group] = 1;
      const id = `r${sent++}`;
      return {
        id,
        arrivalMs: arrivals.next(),
        promptTokenIds: prompt,
        maxOutputTokens: params.output_tokens,
        sessionKey: `group-${group}/user-${user % params.users_per_group}`,
        sharedPrefixTokens: shared,
      };
    });
  },
});
