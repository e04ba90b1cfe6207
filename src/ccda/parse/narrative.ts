import { decodeXmlEntities } from './xml-node';

/**
 * CDA narrative (section.text, kept raw by the parser) to FHIR XHTML, and the ID -> text
 * lookup that `originalText/reference` and `text/reference` point into. Narrative markup has
 * already been checked for balance by the guard, so a one-pass tag rename keeps it balanced.
 */
const TAG =
  /<!--[\s\S]*?-->|<!\[CDATA\[([\s\S]*?)\]\]>|<\?[\s\S]*?\?>|<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[^\s=>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g;
const ATTR = /([^\s=]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

const RENAME: Record<string, string> = {
  content: 'span',
  paragraph: 'p',
  item: 'li',
  linkHtml: 'a',
  footnote: 'span',
  footnoteRef: 'span',
  table: 'table',
  thead: 'thead',
  tbody: 'tbody',
  tfoot: 'tfoot',
  tr: 'tr',
  th: 'th',
  td: 'td',
  col: 'col',
  colgroup: 'colgroup',
  caption: 'caption',
  br: 'br',
  sub: 'sub',
  sup: 'sup',
};
const KEPT_ATTRS = new Set(['colspan', 'rowspan', 'align', 'valign', 'width', 'border', 'span']);

/** The XHTML div for a section's raw narrative, or undefined when the narrative is empty. */
export function narrativeToXhtml(raw: string): string | undefined {
  if (!raw || raw.trim() === '') return undefined;
  const stack: string[] = [];
  let out = '';
  let last = 0;
  TAG.lastIndex = 0;
  for (let m = TAG.exec(raw); m; m = TAG.exec(raw)) {
    out += raw.slice(last, m.index);
    last = TAG.lastIndex;
    if (m[1] !== undefined) {
      out += escapeText(m[1]);
      continue;
    }
    if (m[3] === undefined) continue; // comment or processing instruction
    const local = m[3].includes(':') ? m[3].slice(m[3].indexOf(':') + 1) : m[3];
    if (m[2]) {
      const open = stack.pop();
      if (open) out += `</${open}>`;
      continue;
    }
    if (local === 'renderMultiMedia') {
      if (!m[5]) stack.push('span');
      out += m[5] ? '' : '<span>';
      continue;
    }
    let name = RENAME[local] ?? 'span';
    const attrs = readAttrs(m[4]);
    if (local === 'list') name = attrs.listType === 'ordered' ? 'ol' : 'ul';
    // A list caption has no XHTML home inside ul/ol; it becomes the first item.
    if (local === 'caption' && (stack[stack.length - 1] === 'ul' || stack[stack.length - 1] === 'ol')) name = 'li';
    let tag = `<${name}`;
    if (attrs.ID) tag += ` id="${escapeAttr(attrs.ID)}"`;
    if (attrs.styleCode) tag += ` class="${escapeAttr(attrs.styleCode)}"`;
    if (name === 'a' && attrs.href && /^(https?:|mailto:|#)/i.test(attrs.href)) tag += ` href="${escapeAttr(attrs.href)}"`;
    for (const key in attrs) if (KEPT_ATTRS.has(key)) tag += ` ${key}="${escapeAttr(attrs[key])}"`;
    if (m[5] || name === 'br' || name === 'col') {
      out += name === 'br' || name === 'col' ? `${tag}/>` : `${tag}></${name}>`;
      if (!m[5] && (name === 'br' || name === 'col')) stack.push('');
    } else {
      out += `${tag}>`;
      stack.push(name);
    }
  }
  out += raw.slice(last);
  // Strip the empty end tags pushed for void elements written as <br></br>.
  if (out.includes('</>')) out = out.replace(/<\/>/g, '');
  if (out.trim() === '') return undefined;
  return `<div xmlns="http://www.w3.org/1999/xhtml">${normalizeEntities(out)}</div>`;
}

/** Plain text of narrative markup: tags dropped, entities decoded, whitespace collapsed. */
export function narrativeToPlainText(raw: string): string | undefined {
  const text = decodeXmlEntities(
    raw
      .replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, (_m, c: string) => escapeText(c))
      .replace(/<(br|\/p|\/paragraph|\/tr|\/td|\/th|\/item|\/li)\b[^>]*>/gi, ' ')
      .replace(/<[^>]*>/g, ''),
  )
    .replace(/\s+/g, ' ')
    .trim();
  return text === '' ? undefined : text;
}

/**
 * Index of narrative elements carrying an ID attribute: ID -> their plain text. Built once per
 * document, lazily, on the first reference that needs it (most entries carry their own text).
 */
export class NarrativeIndex {
  private readonly raws: string[] = [];
  private index: Map<string, string> | undefined;

  /** Registers one section's raw narrative for later lookups. */
  add(raw: string): void {
    if (raw.includes('ID')) this.raws.push(raw);
    this.index = undefined;
  }

  /** The text an `#id` (or `id`) reference points to, if any element carries that ID. */
  lookup(reference: string | undefined): string | undefined {
    if (!reference) return undefined;
    const id = reference.startsWith('#') ? reference.slice(1) : reference;
    if (!this.index) this.index = buildIndex(this.raws);
    return this.index.get(id);
  }
}

function buildIndex(raws: readonly string[]): Map<string, string> {
  const index = new Map<string, string>();
  const idAttr = /<([A-Za-z_][\w:.-]*)\b[^>]*?\sID\s*=\s*(?:"([^"]*)"|'([^']*)')[^>]*?(\/?)>/g;
  for (const raw of raws) {
    idAttr.lastIndex = 0;
    for (let m = idAttr.exec(raw); m; m = idAttr.exec(raw)) {
      const id = m[2] ?? m[3];
      if (index.has(id)) continue;
      if (m[4]) {
        index.set(id, '');
        continue;
      }
      const end = matchingEnd(raw, idAttr.lastIndex, m[1]);
      const text = narrativeToPlainText(raw.slice(idAttr.lastIndex, end)) ?? '';
      index.set(id, text);
    }
  }
  return index;
}

/** Offset of the end tag that closes an element named `name` whose content starts at `from`. */
function matchingEnd(raw: string, from: number, name: string): number {
  const tag = tagPattern(name);
  tag.lastIndex = from;
  let depth = 1;
  for (let m = tag.exec(raw); m; m = tag.exec(raw)) {
    if (m[1]) {
      if (--depth === 0) return m.index;
    } else if (!m[2]) depth++;
  }
  return raw.length;
}

const NO_ATTRS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * Start or end tags named `name`. Patterns are kept per name and reused (lastIndex is set on
 * each use): compiling one per ID'd element measured ~5% of parseCcda. Narrative uses a few
 * dozen names; past TAG_PATTERN_LIMIT (odd documents) new names are compiled and not kept.
 */
function tagPattern(name: string): RegExp {
  let pattern = TAG_PATTERNS.get(name);
  if (!pattern) {
    pattern = new RegExp(`<(/?)${name.replace(/[.]/g, '\\.')}(?=[\\s/>])[^>]*?(/?)>`, 'g');
    if (TAG_PATTERNS.size < TAG_PATTERN_LIMIT) TAG_PATTERNS.set(name, pattern);
  }
  return pattern;
}

const TAG_PATTERNS = new Map<string, RegExp>();
const TAG_PATTERN_LIMIT = 256;

function readAttrs(text: string): Readonly<Record<string, string>> {
  if (!text) return NO_ATTRS;
  const out: Record<string, string> = {};
  ATTR.lastIndex = 0;
  for (let m = ATTR.exec(text); m; m = ATTR.exec(text)) {
    const value = m[2] ?? m[3];
    out[m[1]] = value.includes('&') ? decodeXmlEntities(value) : value;
  }
  return out;
}

/** XHTML allows only the XML entities: a stray `&` or an HTML-only reference (&nbsp;) is escaped. */
function normalizeEntities(xhtml: string): string {
  return xhtml.replace(/&(?!(?:lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);)/g, '&amp;');
}

function escapeText(text: string): string {
  if (!MARKUP_CHARS.test(text)) return text;
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeAttr(text: string): string {
  if (!ATTR_CHARS.test(text)) return text;
  return escapeText(text).replace(/"/g, '&quot;');
}

const MARKUP_CHARS = /[&<>]/;
const ATTR_CHARS = /[&<>"]/;
