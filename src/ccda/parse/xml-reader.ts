import { XMLParser } from 'fast-xml-parser';
import { CcdaParseError } from './ccda-parse-error';
import { assertWellFormed } from './xml-guard';
import { XNode, attr, buildTree, tagOf } from './xml-node';

/** Size and shape limits for an incoming document. */
export interface XmlReadOptions {
  /** Largest accepted document in bytes (default 20 MB). */
  readonly maxBytes?: number;
  /** Deepest accepted element nesting (default 128). */
  readonly maxDepth?: number;
  /** Most attributes accepted on one element (default 64). */
  readonly maxAttributes?: number;
  /** Most elements accepted in the document (default 200,000). */
  readonly maxElements?: number;
}

export const DEFAULT_MAX_BYTES = 20 * 1024 * 1024;
export const DEFAULT_MAX_DEPTH = 128;
export const DEFAULT_MAX_ATTRIBUTES = 64;
/**
 * What a document's tree and mapping cost grows with. The corpus's largest document has about 5,000; a CCD of decades
 * of results, some tens of thousands. 20 MB of tiny elements are five million, and held about 2 GB to parse.
 */
export const DEFAULT_MAX_ELEMENTS = 200_000;

/*
 * Parser configuration, measured on the 625 corpus documents (median per document on the 77
 * that @medplum/ccda converts; Medplum's own parse: 3.73 ms, its whole conversion 3.82 ms):
 *   Medplum's config (isArray callback doing ~50 jPath.endsWith per tag)    3.73 ms
 *   no isArray at all (objects, shapes vary)                                 2.39 ms
 *   isArray: () => true (a call per tag, no allocation)                      2.43 ms
 *   attributesGroupName + isArray: () => true                                1.91 ms
 *   preserveOrder (children always arrays, no callback, text order kept)     1.75 ms  <- this
 * preserveOrder wins twice: it has no per-tag callback and it keeps mixed content in order,
 * which narrative needs. jPath: false stops the parser building a path string per tag.
 * processEntities: false: no entity work in the parser at all (the five XML entities and
 * numeric references are decoded on access, xml-node.ts); since DOCTYPE is refused by the
 * guard, no other entity can be defined, so no expansion attack is possible.
 * Section narrative: the guard (which scans every tag anyway) records where each
 * `<section><text>` content lies; it is cut out and the parser sees `<text></text>`. As
 * stopNodes the parser still walked it char by char (~15% gain); cut out, it costs nothing.
 * narrative.ts converts the raw strings to XHTML in one regex pass.
 * Attributes: building attribute maps was a third of the parser's time (a regex, two objects
 * and a dozen calls per attribute, ~1,100 attributes per document). The guard's regex already
 * matches every start tag's attribute text (checking its syntax), so the parser ignores
 * attributes and the guard's texts are attached to the elements in document order
 * (buildTree, which also turns the parser's objects into XNodes); an element's attribute text
 * is split into values when first read.
 * What the parser sees (MarkupScan.parserView): the guard also cuts each start tag's attribute
 * text and the whitespace after each tag (indentation, which the parser appended char by char
 * only to trim it away), and gives each text run as one 'x' (the parser appends text char by
 * char); buildTree puts the runs back. Median parser time per document on the 77:
 *   attributes in the parser, narrative cut                          1.36 ms
 *   ignoreAttributes, narrative cut                                  0.89 ms
 *   ignoreAttributes, narrative + attribute text + whitespace cut    0.66 ms
 *   ... and text runs as 'x'                                         0.57 ms  <- this
 * The parser now walks about a quarter of the document's characters; what is left is its cost
 * per element (~0.6 us, ~900 elements per document). The guard went from 0.13 to 0.20 ms
 * building the view; buildTree takes 0.02 ms.
 * parseTagValue/parseAttributeValue false: codes like "0012" and dates stay strings.
 * trimValues: whitespace-only text between elements is dropped (fewer nodes to walk).
 * End to end on those 77 documents (best of 5, warm, alone): parseCcda 1.46 ms = guard and
 * view 0.17 + parser 0.56 + buildTree 0.02 + mapping (narrative 0.10 of it) + GC; in
 * `npm run bench:ccda-import` (best of 3, interleaved with Medplum and blue-button) ~1.7 ms
 * against Medplum's ~4.2 ms. Measured and not taken: renaming every element to one name in
 * the view makes the parser's objects monomorphic (0.56 -> 0.44 ms), but then the parser
 * would no longer read any element name, only nesting.
 */
const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: true,
  parseAttributeValue: false,
  parseTagValue: false,
  trimValues: true,
  processEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  jPath: false,
  maxNestedTags: DEFAULT_MAX_DEPTH * 4,
});

/** Decodes, checks and parses a C-CDA document; returns its ClinicalDocument element. */
export function readCdaXml(
  input: string | Buffer | Uint8Array,
  options: XmlReadOptions = {},
): { root: XNode; text: string; narratives: string[] } {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const byteLength = typeof input === 'string' ? Buffer.byteLength(input) : input.byteLength;
  if (byteLength > maxBytes) {
    throw new CcdaParseError('too-large', `The document is ${byteLength} bytes; the limit is ${maxBytes}`);
  }
  const text = typeof input === 'string' ? stripBom(input) : decodeBytes(input);
  const scan = assertWellFormed(text, {
    maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH,
    maxAttributes: options.maxAttributes ?? DEFAULT_MAX_ATTRIBUTES,
    maxElements: options.maxElements ?? DEFAULT_MAX_ELEMENTS,
  });
  // Section narrative is kept as raw strings, in order; the parser sees neither it nor the
  // attribute text nor the whitespace between tags nor the text (see the note above).
  const narratives: string[] = [];
  for (let k = 0; k < scan.narratives.length; k += 2) narratives.push(text.slice(scan.narratives[k], scan.narratives[k + 1]));
  let parsed: Record<string, unknown>[];
  try {
    parsed = parser.parse(scan.parserView) as Record<string, unknown>[];
  } catch (err) {
    throw new CcdaParseError('malformed', `XML could not be parsed: ${(err as Error).message}`);
  }
  const { nodes: tree, elements, texts } = buildTree(parsed, scan.attributes, text, scan.texts);
  if (elements !== scan.attributes.length || texts !== scan.texts.length / 2) {
    throw new CcdaParseError('malformed', 'XML could not be parsed: the elements found do not match the markup');
  }
  const root = tree.find((node) => tagOf(node) !== '#text');
  if (!root || tagOf(root) !== 'ClinicalDocument') {
    throw new CcdaParseError('not-cda', `The root element is <${root ? tagOf(root) : ''}>, not <ClinicalDocument>`, 1, 1);
  }
  const ns = attr(root, 'xmlns');
  if (ns !== 'urn:hl7-org:v3') {
    throw new CcdaParseError('not-cda', `ClinicalDocument is not in the urn:hl7-org:v3 namespace (found ${ns ?? 'none'})`);
  }
  return { root, text, narratives };
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Bytes to text: BOM first, then the XML declaration's encoding, else UTF-8. */
function decodeBytes(bytes: Uint8Array): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes.subarray(2));
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes.subarray(2));
  const head = Buffer.from(bytes.subarray(0, 200)).toString('latin1');
  const declared = /^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(head)?.[1]?.toLowerCase();
  if (declared && declared !== 'utf-8' && declared !== 'utf8') {
    try {
      return stripBom(new TextDecoder(declared).decode(bytes));
    } catch {
      throw new CcdaParseError('encoding', `Unsupported document encoding ${declared}`);
    }
  }
  return stripBom(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
}
