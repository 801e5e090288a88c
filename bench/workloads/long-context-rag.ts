import { z } from 'zod';
import { poissonArrivals } from './arrivals.ts';
import { count, defineWorkload, rangeProblem, rate } from './define.ts';
import { createIndependentSource } from './independent-source.ts';
import { createBranchPoint, fillTokens, freshSegment, intBetween, type BranchPoint } from './tokens.ts';

/**
 * Retrieval-augmented questions over a few large documents: each request is an optional system
 * prompt, one of `documents` documents (uniform, or Zipf-popular: document k with weight
 * 1/(k+1)), and a short question nobody asked before. Poisson arrivals.
 */
export const longContextRagWorkload = defineWorkload({
  description: 'a few large shared documents, short questions',
  params: {
    rate: rate(5),
    documents: count(4, 'distinct documents'),
    document_tokens: count(16000, 'tokens of each document'),
    system_prompt_tokens: count(200, 'tokens of the system prompt before the document', 0),
    question_tokens_min: count(20, 'tokens of each question, uniform in [min, max]'),
    question_tokens_max: count(120, 'see question_tokens_min'),
    output_tokens_min: count(64, 'max_tokens of each request, uniform in [min, max]'),
    output_tokens_max: count(256, 'see output_tokens_min'),
    popularity: z.enum(['uniform', 'zipf']).default('uniform').describe('how requests pick a document'),
  },
  check: (p) => rangeProblem(p, 'question_tokens', 'output_tokens'),
  open(params, _prepared, rng) {
    const arrivals = poissonArrivals(rng.fork('arrivals'), params.rate);
    const shape = rng.fork('shape');
    const content = rng.fork('content');
    const system = freshSegment(content.fork('system'), params.system_prompt_tokens, createBranchPoint());
    const documentBranch = createBranchPoint();
    // system + document, one array per document; built on first use, first tokens in index order.
    const firstTokens = Array.from({ length: params.documents }, () => documentBranch.freshFirstToken(content));
    const contexts = new Array<Uint32Array | undefined>(params.documents);
    const questionBranches = Array.from({ length: params.documents }, (): BranchPoint => createBranchPoint());
    const seen = new Uint8Array(params.documents);
    const weights = Array.from({ length: params.documents }, (_, k) =>
      params.popularity === 'zipf' ? 1 / (k + 1) : 1,
    );
    const totalWeight = weights.reduce((a, b) => a + b, 0);
    const pick = (): number => {
      let u = shape.next() * totalWeight;
      for (let k = 0; k < weights.length; k++) if ((u -= weights[k]!) < 0) return k;
      return weights.length - 1;
    };
    const contextOf = (doc: number): Uint32Array => {
      let context = contexts[doc];
      if (!context) {
        context = new Uint32Array(system.length + params.document_tokens);
        context.set(system);
        context[system.length] = firstTokens[doc]!;
        fillTokens(content.fork(`document-${doc}`), context, system.length + 1, params.document_tokens - 1);
        contexts[doc] = context;
      }
      return context;
    };
    let sent = 0;
    return createIndependentSource(() => {
      const doc = pick();
      const context = contextOf(doc);
      const questionTokens = intBetween(shape, params.question_tokens_min, params.question_tokens_max);
      const prompt = new Uint32Array(context.length + questionTokens);
      prompt.set(context);
      prompt[context.length] = questionBranches[doc]!.freshFirstToken(content);
      fillTokens(content, prompt, context.length + 1, questionTokens - 1);
      const sharedPrefixTokens = seen[doc] ? context.length : sent > 0 ? system.length : 0;
      seen[doc] = 1;
      const id = `q${sent++}`;
      return {
        id,
        arrivalMs: arrivals.next(),
        promptTokenIds: prompt,
        maxOutputTokens: intBetween(shape, params.output_tokens_min, params.output_tokens_max),
        sessionKey: id,
        sharedPrefixTokens,
      };
    });
  },
});
