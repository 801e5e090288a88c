/**
 * Longest shared prefixes for replayed traces, where no generator knows the structure:
 * `insert(prompt)` returns the longest prefix (tokens) the prompt shares with any prompt inserted
 * before it, then remembers it. Radix tree over token arrays: edges are ranges of the inserted
 * arrays (never copied), so memory is O(prompts) nodes on top of the prompts themselves, and an
 * insert costs O(prompt length).
 */
export interface TokenPrefixTrie {
  insert(tokens: Uint32Array): number;
}

interface Edge {
  readonly src: Uint32Array;
  start: number;
  readonly end: number;
  readonly children: Map<number, Edge>;
}

export function createTokenPrefixTrie(): TokenPrefixTrie {
  const root: Edge = { src: new Uint32Array(0), start: 0, end: 0, children: new Map() };
  return {
    insert(tokens) {
      let node = root;
      let pos = 0;
      for (;;) {
        if (pos === tokens.length) return pos;
        const child = node.children.get(tokens[pos]!);
        if (!child) {
          node.children.set(tokens[pos]!, { src: tokens, start: pos, end: tokens.length, children: new Map() });
          return pos;
        }
        let k = 0;
        while (child.start + k < child.end && pos + k < tokens.length && child.src[child.start + k] === tokens[pos + k])
          k++;
        if (child.start + k === child.end) {
          node = child;
          pos += k;
          continue;
        }
        if (pos + k === tokens.length) return pos + k; // a prefix of a remembered prompt
        const middle: Edge = {
          src: child.src,
          start: child.start,
          end: child.start + k,
          children: new Map([[child.src[child.start + k]!, child]]),
        };
        child.start += k;
        node.children.set(tokens[pos]!, middle);
        middle.children.set(tokens[pos + k]!, { src: tokens, start: pos + k, end: tokens.length, children: new Map() });
        return pos + k;
      }
    },
  };
}

/**
 * The same for prompts given as chained block ids (Mooncake's `hash_ids`: an id names a block
 * together with everything before it). Two prompts share block k when their first k+1 ids match;
 * a block shared by a shorter earlier prompt counts only the tokens that prompt had. Exact at
 * block granularity; two different blocks whose drawn tokens happen to start alike (chance
 * 1/151643 per token) are not credited.
 */
export interface BlockPrefixTrie {
  insert(blockIds: readonly number[], promptTokens: number): number;
}

interface BlockNode {
  readonly children: Map<number, BlockNode>;
  /** Most tokens of this block's chain any inserted prompt held. */
  extent: number;
}

export function createBlockPrefixTrie(blockTokens: number): BlockPrefixTrie {
  const root: BlockNode = { children: new Map(), extent: 0 };
  return {
    insert(blockIds, promptTokens) {
      let node = root;
      let shared = 0;
      for (let k = 0; k < blockIds.length; k++) {
        const covered = Math.min(promptTokens, (k + 1) * blockTokens);
        let child = node.children.get(blockIds[k]!);
        if (child) {
          shared = Math.min(covered, child.extent);
        } else {
          child = { children: new Map(), extent: 0 };
          node.children.set(blockIds[k]!, child);
        }
        child.extent = Math.max(child.extent, covered);
        node = child;
      }
      return shared;
    },
  };
}
