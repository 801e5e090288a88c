import { z } from 'zod';

/** How the router picks workers and keeps its KV index. */
export const routingSection = z.strictObject({
  /** A policy name from orchestrator/routing's registry; unknown names fail at start-up. */
  policy: z.string().min(1).default('kv'),
  /** Tokens per KV block the router hashes by; must equal every worker's block size. */
  block_size: z.number().int().positive().default(16),
  /** Seed of the router's own chained block hash (independent of the engines' hashes). */
  hash_seed: z.number().int().nonnegative().default(1337),
  /** `precise`: fed by workers' KV events; `approximate`: the router's own decisions with a TTL. */
  index_mode: z.enum(['precise', 'approximate']).default('precise'),
});
