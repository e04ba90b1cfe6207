import { XMLParser } from 'fast-xml-parser';

/**
 * An ordered XML tree as fast-xml-parser's preserveOrder mode gives it: each node is either
 * `{ '#text': string }` or `{ [tagName]: XmlNode[], ':@'?: { '@_attr': value } }`. Order matters here
 * because the narrative is mixed content (text, <content>, <br/> interleaved).
 */
export type XmlNode = Record<string, unknown>;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: true,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  removeNSPrefix: false,
});

/** Parses an XML document into an ordered node list. */
export function parseXmlTree(xml: string): XmlNode[] {
  return parser.parse(xml) as XmlNode[];
}

/** The element name of a node ('#text' for text). */
export function nodeName(node: XmlNode): string {
  for (const key of Object.keys(node)) if (key !== ':@') return key;
  return '';
}

/** Local name without a namespace prefix ("sdtc:raceCode" -> "raceCode"). */
export function localName(node: XmlNode): string {
  const n = nodeName(node);
  const i = n.indexOf(':');
  return i < 0 ? n : n.slice(i + 1);
}

/** The child nodes of an element (empty for text). */
export function childNodes(node: XmlNode | undefined): XmlNode[] {
  if (!node) return [];
  const v = node[nodeName(node)];
  return Array.isArray(v) ? (v as XmlNode[]) : [];
}

/** An attribute's value. */
export function attr(node: XmlNode | undefined, name: string): string | undefined {
  // parseAttributeValue is off: every attribute value is the string as written.
  const a = node?.[':@'] as Record<string, string | undefined> | undefined;
  return a?.[`@_${name}`];
}

/** Child elements with a given (prefixed) name. */
export function childrenNamed(node: XmlNode | undefined, name: string): XmlNode[] {
  return childNodes(node).filter((c) => nodeName(c) === name);
}

/** The first child element with a name, following a path of names. */
export function child(node: XmlNode | undefined, ...path: string[]): XmlNode | undefined {
  let cur = node;
  for (const name of path) {
    cur = childNodes(cur).find((c) => nodeName(c) === name);
    if (!cur) return undefined;
  }
  return cur;
}

/** All the text under a node, concatenated. */
export function textContent(node: XmlNode | undefined): string {
  if (!node) return '';
  if ('#text' in node) return String(node['#text']);
  return childNodes(node).map(textContent).join('');
}
