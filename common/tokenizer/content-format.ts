import type { Template } from '@huggingface/jinja';
import type { ContentFormat } from './chat-request.ts';

/**
 * Whether a chat template reads a message's content as a string or loops over its parts, decided
 * from the template's syntax tree the way vLLM does (vllm/renderers/hf.py, _detect_content_format):
 * "openai" when some `{% for x in <m>['content'] %}` (or `<m>.content`, through filters, tests
 * or slices) loops over the content of a loop variable `<m>` that iterates `messages` or a
 * variable set from it; "string" otherwise.
 */

interface Node {
  readonly type: string;
  readonly [key: string]: unknown;
}

export function detectContentFormat(program: Template['parsed']): ContentFormat {
  const nodes = allNodes(program as unknown as Node);
  const fors = nodes.filter((n) => n.type === 'For');
  const sets = nodes.filter((n) => n.type === 'Set' || n.type === 'SetStatement');

  // `messages` and every variable set from it (or from a filter / slice of it), transitively.
  const messageLists = new Set(['messages']);
  for (let grew = true; grew; ) {
    grew = false;
    for (const set of sets) {
      const target = set.assignee as Node | undefined;
      if (target?.type !== 'Identifier' || !set.value) continue;
      const name = (target as unknown as { value: string }).value;
      if (!messageLists.has(name) && [...messageLists].some((v) => accesses(set.value as Node, v))) {
        messageLists.add(name);
        grew = true;
      }
    }
  }
  const messageVars = new Set<string>();
  for (const loop of fors) {
    const target = loop.loopvar as Node;
    if (target.type === 'Identifier' && [...messageLists].some((v) => accesses(iterable(loop), v)))
      messageVars.add((target as unknown as { value: string }).value);
  }
  for (const loop of fors) {
    if ([...messageVars].some((v) => accesses(iterable(loop), v, 'content'))) return 'openai';
  }
  return 'string';
}

/** A loop's iterable without its `if` filter (`for x in xs if cond`). */
function iterable(loop: Node): Node {
  const it = loop.iterable as Node;
  return it.type === 'SelectExpression' ? (it.lhs as Node) : it;
}

/** `node` is `name` (or `name[key]` / `name.key` with a key) seen through filters, tests and slices. */
function accesses(node: Node, name: string, key?: string): boolean {
  if (node.type === 'FilterExpression' || node.type === 'TestExpression')
    return accesses(node.operand as Node, name, key);
  if (node.type === 'MemberExpression' && (node.property as Node).type === 'SliceExpression')
    return accesses(node.object as Node, name, key);
  if (key === undefined) return node.type === 'Identifier' && node.value === name;
  if (node.type !== 'MemberExpression') return false;
  const object = node.object as Node;
  const property = node.property as Node;
  if (object.type !== 'Identifier' || object.value !== name) return false;
  return node.computed
    ? property.type === 'StringLiteral' && property.value === key
    : property.type === 'Identifier' && property.value === key;
}

/** Every node of the tree (objects with a string `type`), found through arrays and Maps too. */
function allNodes(root: Node): Node[] {
  const out: Node[] = [];
  const seen = new Set<unknown>();
  const visit = (value: unknown): void => {
    if (value === null || typeof value !== 'object' || seen.has(value)) return;
    seen.add(value);
    if (Array.isArray(value)) {
      value.forEach(visit);
      return;
    }
    if (value instanceof Map) {
      for (const [k, v] of value) {
        visit(k);
        visit(v);
      }
      return;
    }
    if (typeof (value as Node).type === 'string') out.push(value as Node);
    for (const child of Object.values(value)) visit(child);
  };
  visit(root);
  return out;
}
