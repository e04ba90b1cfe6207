/**
 * The document tree the import reads: elements with their children in order, text nodes, and
 * attributes. Built from fast-xml-parser's `preserveOrder` output (see buildTree).
 * Entities are left undecoded by the parser (see xml-reader.ts) and decoded here on access,
 * only for the values that actually contain '&'.
 */

/**
 * One element, or one text node (name '#text', `text` set). One class for both, so every
 * read site sees one object shape: the parser's own objects (`{ [tagName]: kids, ':@': attrs }`)
 * have a shape per tag name, and reading them by name was a third of the mapping's time.
 */
export class XNode {
  constructor(
    /** The tag name as written (with any prefix), or '#text'. */
    readonly name: string,
    /** Child elements and text, in document order. */
    readonly kids: readonly XNode[],
    /** The attribute text as written, split into [name, value...] on first read (rawAttr); or the values by name. */
    public attrs: string | string[] | Record<string, string> | undefined = undefined,
    /** A text node's text (entities undecoded). */
    readonly text: string | undefined = undefined,
  ) {}

  /** The templateId roots, found on first use (templateRoots): each entry is asked several times. */
  roots: readonly string[] | undefined = undefined;
}

const TEXT = '#text';
const NO_KIDS: readonly XNode[] = Object.freeze([]);

/** The tag name of an element ('#text' for text nodes). */
export function tagOf(node: XNode): string {
  return node.name;
}

/** The child nodes of an element, elements and text alike. */
export function kidsOf(node: XNode | undefined): readonly XNode[] {
  return node ? node.kids : NO_KIDS;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ParsedNode = Record<string, any>;

/**
 * The tree of fast-xml-parser's `preserveOrder` output (elements `{ [tagName]: kids }`, text
 * `{ '#text': s }`) for the guard's parser view: each element gets its attribute text from the
 * guard's scan, in document order, and a text node inside the root gets back the text runs
 * of `source` its 'x's stand for, or the CDATA content its 'c' stands for (see MarkupScan).
 * Returns the top-level nodes and how many elements and runs it met, which must be how many
 * the guard found.
 */
export function buildTree(
  parsed: readonly ParsedNode[],
  attributes: readonly string[],
  source: string,
  runs: readonly number[],
): { nodes: XNode[]; elements: number; texts: number } {
  let element = 0;
  let run = 0;
  const runText = (): string => {
    const raw = source.slice(runs[run], runs[run + 1]);
    run += 2;
    return raw.includes('\r') ? raw.replace(/\r\n?/g, '\n') : raw;
  };
  // The parser trimmed the text node; the runs it stands for are trimmed as a whole. A text
  // node is 'x's and whitespace, so 'c' alone is a CDATA section, which is kept as written.
  const textFor = (value: string): string => {
    if (value === 'x') return runText().trim();
    if (value === 'c') return runText();
    let out = '';
    for (const ch of value) out += ch === 'x' ? runText() : ch;
    return out.trim();
  };
  const convert = (items: readonly ParsedNode[], inRoot: boolean): XNode[] => {
    const out = new Array<XNode>(items.length);
    for (let k = 0; k < items.length; k++) {
      const item = items[k];
      let name = '';
      for (const key in item) {
        name = key;
        break;
      }
      if (name === TEXT) {
        const value = String(item[TEXT]);
        out[k] = new XNode(TEXT, NO_KIDS, undefined, inRoot ? textFor(value) : value);
        continue;
      }
      const text = attributes[element++];
      const kids = item[name] as ParsedNode[];
      out[k] = new XNode(name, kids.length ? convert(kids, true) : NO_KIDS, text || undefined);
    }
    return out;
  };
  const nodes = convert(parsed, false);
  return { nodes, elements: element, texts: run / 2 };
}

/** Attribute name characters as the guard accepts them: [\w:.\-]. */
function isNameChar(code: number): boolean {
  return (
    (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || (code >= 48 && code <= 58) || code === 95 || code === 45 || code === 46
  );
}

/**
 * An attribute's raw value (entities not yet decoded). An element's attribute text is split
 * into [name, value, name, value...] on its first read and kept on the element for the rest of
 * this parse: elements are read several times (a code for code, codeSystem, displayName,
 * nullFlavor); re-scanning the text on each read measured ~7% slower end to end, and a
 * name -> value object ~5% slower (each name, a slice of the document, must be interned).
 */
function rawAttr(node: XNode | undefined, name: string): string | undefined {
  let attrs = node?.attrs;
  if (attrs === undefined) return undefined;
  if (typeof attrs === 'string') {
    attrs = splitAttributes(attrs);
    (node as XNode).attrs = attrs;
  }
  if (!Array.isArray(attrs)) return attrs[name];
  // The last of a repeated name wins, as in the parser.
  for (let k = attrs.length - 2; k >= 0; k -= 2) {
    if (attrs[k] === name) return attrs[k + 1];
  }
  return undefined;
}

/**
 * Attribute text that passed the guard's grammar, a run of `\s+name\s*=\s*"value"` (or single
 * quotes), as the parser would have read it: values trimmed, line ends normalized.
 */
function splitAttributes(text: string): string[] {
  const out: string[] = [];
  const length = text.length;
  let i = 0;
  while (i < length) {
    while (!isNameChar(text.charCodeAt(i))) i++;
    let end = i + 1;
    while (isNameChar(text.charCodeAt(end))) end++;
    let open = text.indexOf('=', end) + 1;
    let quote = text.charCodeAt(open);
    while (quote !== 34 && quote !== 39) quote = text.charCodeAt(++open);
    const close = text.indexOf(quote === 34 ? '"' : "'", open + 1);
    let value = text.slice(open + 1, close).trim();
    if (value.includes('\r')) value = value.replace(/\r\n?/g, '\n');
    out.push(text.slice(i, end), value);
    i = close + 1;
  }
  return out;
}

/** An attribute value with XML entities decoded, or undefined. */
export function attr(node: XNode | undefined, name: string): string | undefined {
  const value = rawAttr(node, name);
  if (value === undefined) return undefined;
  return value.includes('&') ? decodeXmlEntities(value) : value;
}

/** The first child element called `name`. */
export function child(node: XNode | undefined, name: string): XNode | undefined {
  if (!node) return undefined;
  for (const kid of node.kids) {
    if (kid.name === name) return kid;
  }
  return undefined;
}

/** All child elements called `name`, in document order. */
export function children(node: XNode | undefined, name: string): XNode[] {
  const out: XNode[] = [];
  if (!node) return out;
  for (const kid of node.kids) {
    if (kid.name === name) out.push(kid);
  }
  return out;
}

/** The element reached by following child names, first match at each step. */
export function path(node: XNode | undefined, ...names: string[]): XNode | undefined {
  let at = node;
  for (const name of names) {
    at = child(at, name);
    if (!at) return undefined;
  }
  return at;
}

/** The child elements (not text) of a node. */
export function elementKids(node: XNode | undefined): XNode[] {
  return kidsOf(node).filter((kid) => kid.text === undefined);
}

/** All text below an element, entities decoded, whitespace collapsed; undefined when empty. */
export function textOf(node: XNode | undefined): string | undefined {
  if (!node) return undefined;
  const kids = kidsOf(node);
  // The common case, one text child, needs no array and no join.
  const raw = kids.length === 1 && kids[0].text !== undefined ? kids[0].text : collectText(node, []).join('');
  if (raw === '') return undefined;
  const text = (raw.includes('&') ? decodeXmlEntities(raw) : raw).replace(/\s+/g, ' ').trim();
  return text === '' ? undefined : text;
}

function collectText(node: XNode, parts: string[]): string[] {
  for (const kid of node.kids) {
    if (kid.text !== undefined) parts.push(kid.text);
    else collectText(kid, parts);
  }
  return parts;
}

/** The raw (undecoded) text of a stop node such as a section's narrative `<text>`. */
export function rawTextOf(node: XNode | undefined): string {
  const kids = kidsOf(node);
  if (kids.length === 1 && kids[0].text !== undefined) return kids[0].text;
  return kids.map((k) => k.text ?? '').join('');
}

/** The templateId roots an element declares. */
export function templateRoots(node: XNode | undefined): readonly string[] {
  if (!node) return NO_ROOTS;
  if (node.roots) return node.roots;
  const out: string[] = [];
  for (const kid of node.kids) {
    if (kid.name === 'templateId') {
      const root = rawAttr(kid, 'root');
      if (root) out.push(root);
    }
  }
  node.roots = out;
  return out;
}

const NO_ROOTS: readonly string[] = Object.freeze([]);

/** Whether an element declares any of the given templateId roots. */
export function hasTemplate(node: XNode | undefined, roots: ReadonlySet<string>): boolean {
  for (const kid of kidsOf(node)) {
    if (kid.name === 'templateId' && roots.has(rawAttr(kid, 'root') as string)) return true;
  }
  return false;
}

const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Decodes the five XML entities and numeric character references; anything else stays as written. */
export function decodeXmlEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z]+);/g, (whole, ref: string) => {
    if (ref.charCodeAt(0) === 35) {
      const code = ref.charCodeAt(1) === 120 ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED[ref] ?? whole;
  });
}
