import { z } from 'zod';
import { exponentialDelayMs } from './arrivals.ts';
import { count, defineWorkload, rangeProblem, rate } from './define.ts';
import { createSessionSource } from './session-source.ts';
import { createBranchPoint, freshSegment, intBetween } from './tokens.ts';

/**
 * Agent loops: every agent starts from the same long system prompt (instructions and tool
 * definitions) plus its own task; each step the model answers with a short tool call, the tool's
 * result is appended, and the whole, growing context is sent again after the tool's latency.
 * Long prompts, short outputs, nearly all of each prompt a prefix of the next: Dynamo's agentic
 * A/B is this shape. Agents start as a Poisson process at rate / mean steps.
 */
export const agenticWorkload = defineWorkload({
  description: 'tool-call loops re-sending a long, growing context with short outputs',
  params: {
    rate: rate(5),
    agents: count(0, 'agent sessions to run in all; 0 = as many as the run takes', 0),
    system_prompt_tokens: count(6000, 'tokens of the shared instructions and tool definitions', 0),
    task_tokens_min: count(200, "tokens of each agent's task, uniform in [min, max]"),
    task_tokens_max: count(1000, 'see task_tokens_min'),
    steps_min: count(5, 'model calls per agent, uniform in [steps_min, steps_max]'),
    steps_max: count(20, 'see steps_min'),
    output_tokens_min: count(30, 'max_tokens of each call (a tool call), uniform in [min, max]'),
    output_tokens_max: count(200, 'see output_tokens_min'),
    tool_result_tokens_min: count(100, 'tokens each tool result appends, uniform in [min, max]'),
    tool_result_tokens_max: count(2000, 'see tool_result_tokens_min'),
    tool_latency_s: z
      .number()
      .nonnegative()
      .default(0.5)
      .describe("mean tool latency between a call's completion and the next call, seconds (exponential)"),
    max_context_tokens: count(32768, 'an agent stops before a call whose prompt + max_tokens would exceed this'),
  },
  check: (p) => rangeProblem(p, 'task_tokens', 'steps', 'output_tokens', 'tool_result_tokens'),
  open(params, _prepared, rng) {
    const systemPrompt = freshSegment(rng.fork('system'), params.system_prompt_tokens, createBranchPoint());
    return createSessionSource({
      rng,
      ratePerS: params.rate,
      meanSteps: (params.steps_min + params.steps_max) / 2,
      sessions: params.agents,
      sharedPrefix: systemPrompt,
      idPrefix: 'agent',
      maxContextTokens: params.max_context_tokens,
      newSession: (r) => ({
        steps: intBetween(r, params.steps_min, params.steps_max),
        openingTokens: intBetween(r, params.task_tokens_min, params.task_tokens_max),
      }),
      maxOutputTokens: (r) => intBetween(r, params.output_tokens_min, params.output_tokens_max),
      followUp: (r) => ({
        appendTokens: intBetween(r, params.tool_result_tokens_min, params.tool_result_tokens_max),
        delayMs: exponentialDelayMs(r, params.tool_latency_s),
      }),
    });
  },
});
