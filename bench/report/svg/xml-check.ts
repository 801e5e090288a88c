/**
 * A strict well-formedness check for the SVG the report writes (no DTDs, no processing
 * instructions beyond the XML declaration): one root element, every tag closed in order,
 * attributes quoted and unique, `&` only in the five predefined or numeric entities, no `<` in
 * text or attribute values. Returns the first problem, or undefined when the document is
 * well-formed. Also returns the root element's name and every element name seen, for tests.
 */
export interface XmlCheck {
  readonly problem: string | undefined;
  readonly root: string | undefined;
  readonly elements: readonly string[];
  /** Text content of every element, in document order. */
  readonly texts: readonly string[];
}

const NAME = /^[A-Za-z_][\w.:-]*/;
const ENTITY = /^&(?:lt|gt|amp|quot|apos|#\d+|#x[0-9A-Fa-f]+);/;

export function checkXml(source: string): XmlCheck {
  const elements: string[] = [];
  const texts: string[] = [];
  const stack: string[] = [];
  let root: string | undefined;
  let i = 0;
  const result = (problem: string | undefined): XmlCheck => ({ problem, root, elements, texts });
  const checkText = (text: string, where: string): string | undefined => {
    for (let k = text.indexOf('&'); k >= 0; k = text.indexOf('&', k + 1))
      if (!ENTITY.test(text.slice(k))) return `bad entity in ${where} at ${text.slice(k, k + 10)}`;
    return undefined;
  };

  if (source.startsWith('<?xml')) {
    const end = source.indexOf('?>');
    if (end < 0) return result('unterminated XML declaration');
    i = end + 2;
  }
  while (i < source.length) {
    const lt = source.indexOf('<', i);
    const text = lt < 0 ? source.slice(i) : source.slice(i, lt);
    if (text.trim() !== '') {
      if (stack.length === 0) return result(`text outside the root element: ${text.trim().slice(0, 20)}`);
      const bad = checkText(text, 'text');
      if (bad) return result(bad);
      texts.push(text);
    }
    if (lt < 0) break;
    i = lt;
    if (source.startsWith('<!--', i)) {
      const end = source.indexOf('-->', i + 4);
      if (end < 0) return result('unterminated comment');
      i = end + 3;
      continue;
    }
    if (source.startsWith('<!', i) || source.startsWith('<?', i))
      return result('DTDs and processing instructions are not expected');
    if (source.startsWith('</', i)) {
      const name = NAME.exec(source.slice(i + 2))?.[0];
      if (!name) return result('bad closing tag');
      const end = source.indexOf('>', i);
      if (end < 0 || source.slice(i + 2 + name.length, end).trim() !== '') return result(`bad closing tag </${name}`);
      const open = stack.pop();
      if (open !== name) return result(`</${name}> closes <${open ?? 'nothing'}>`);
      i = end + 1;
      continue;
    }
    const name = NAME.exec(source.slice(i + 1))?.[0];
    if (!name) return result(`bad tag at offset ${i}`);
    if (stack.length === 0) {
      if (root !== undefined) return result(`a second root element <${name}>`);
      root = name;
    }
    elements.push(name);
    i += 1 + name.length;
    const seen = new Set<string>();
    for (;;) {
      const ws = /^\s*/.exec(source.slice(i))![0];
      i += ws.length;
      if (source.startsWith('/>', i)) {
        i += 2;
        break;
      }
      if (source.startsWith('>', i)) {
        stack.push(name);
        i += 1;
        break;
      }
      if (ws === '') return result(`<${name}>: attributes must be separated by white space`);
      const attribute = NAME.exec(source.slice(i))?.[0];
      if (!attribute) return result(`<${name}>: bad attribute at offset ${i}`);
      if (seen.has(attribute)) return result(`<${name}>: attribute ${attribute} given twice`);
      seen.add(attribute);
      i += attribute.length;
      const eq = /^\s*=\s*/.exec(source.slice(i));
      if (!eq) return result(`<${name}>: attribute ${attribute} has no value`);
      i += eq[0].length;
      const quote = source[i];
      if (quote !== '"' && quote !== "'") return result(`<${name}>: attribute ${attribute} is not quoted`);
      const close = source.indexOf(quote, i + 1);
      if (close < 0) return result(`<${name}>: unterminated attribute ${attribute}`);
      const value = source.slice(i + 1, close);
      if (value.includes('<')) return result(`<${name}>: < in attribute ${attribute}`);
      const bad = checkText(value, `attribute ${attribute}`);
      if (bad) return result(bad);
      i = close + 1;
    }
  }
  if (stack.length > 0) return result(`<${stack.at(-1)}> is never closed`);
  if (root === undefined) return result('no root element');
  return result(undefined);
}
