/**
 * Read access to fast-xml-parser's `preserveOrder` tree. Each element is an object with one
 * key (the tag name) holding its children, plus ':@' for attributes; text is `{ '#text': s }`.
 * Entities are left undecoded by the parser (see xml-reader.ts) and decoded here on access,
 * only for the values that actually contain '&'.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type XNode = Record<string, any>;

const ATTRS = ':@';
const TEXT = '#text';
const NO_KIDS: readonly XNode[] = Object.freeze([]);

/** The tag name of an element ('' for text nodes is never returned: text nodes are '#text'). */
export function tagOf(node: XNode): string {
  for (const key in node) {
    if (key !== ATTRS) return key;
  }
  return '';
}

/** The child nodes of an element, elements and text alike. */
export function kidsOf(node: XNode | undefined): readonly XNode[] {
  if (!node) return NO_KIDS;
  const kids = node[tagOf(node)];
  return Array.isArray(kids) ? kids : NO_KIDS;
}

/** An attribute value with XML entities decoded, or undefined. */
export function attr(node: XNode | undefined, name: string): string | undefined {
  const value = node?.[ATTRS]?.[name];
  if (value === undefined) return undefined;
  return value.includes('&') ? decodeXmlEntities(value) : value;
}

/** The first child element called `name`. */
export function child(node: XNode | undefined, name: string): XNode | undefined {
  for (const kid of kidsOf(node)) {
    if (kid[name] !== undefined) return kid;
  }
  return undefined;
}

/** All child elements called `name`, in document order. */
export function children(node: XNode | undefined, name: string): XNode[] {
  const out: XNode[] = [];
  for (const kid of kidsOf(node)) {
    if (kid[name] !== undefined) out.push(kid);
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
  return kidsOf(node).filter((kid) => kid[TEXT] === undefined);
}

/** All text below an element, entities decoded, whitespace collapsed; undefined when empty. */
export function textOf(node: XNode | undefined): string | undefined {
  if (!node) return undefined;
  const kids = kidsOf(node);
  // The common case, one text child, needs no array and no join.
  const raw = kids.length === 1 && typeof kids[0][TEXT] === 'string' ? (kids[0][TEXT] as string) : collectText(node, []).join('');
  if (raw === '') return undefined;
  const text = (raw.includes('&') ? decodeXmlEntities(raw) : raw).replace(/\s+/g, ' ').trim();
  return text === '' ? undefined : text;
}

function collectText(node: XNode, parts: string[]): string[] {
  for (const kid of kidsOf(node)) {
    const text = kid[TEXT];
    if (text !== undefined) parts.push(String(text));
    else collectText(kid, parts);
  }
  return parts;
}

/** The raw (undecoded) text of a stop node such as a section's narrative `<text>`. */
export function rawTextOf(node: XNode | undefined): string {
  const kids = kidsOf(node);
  if (kids.length === 1 && typeof kids[0][TEXT] === 'string') return kids[0][TEXT];
  return kids.map((k) => (typeof k[TEXT] === 'string' ? k[TEXT] : '')).join('');
}

/** The templateId roots an element declares. */
export function templateRoots(node: XNode | undefined): string[] {
  const out: string[] = [];
  for (const kid of kidsOf(node)) {
    if (kid.templateId !== undefined) {
      const root = kid[ATTRS]?.root;
      if (root) out.push(root);
    }
  }
  return out;
}

/** Whether an element declares any of the given templateId roots. */
export function hasTemplate(node: XNode | undefined, roots: ReadonlySet<string>): boolean {
  for (const kid of kidsOf(node)) {
    if (kid.templateId !== undefined && roots.has(kid[ATTRS]?.root)) return true;
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
