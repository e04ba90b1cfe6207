import { CcdaParseError, lineColumnAt } from './ccda-parse-error';

/** Limits applied before any tree is built. */
export interface XmlLimits {
  readonly maxDepth: number;
  readonly maxAttributes: number;
  /** Most elements in the document: what the tree and the mapping cost grows with (not its bytes). */
  readonly maxElements: number;
}

/*
 * fast-xml-parser's XMLParser is deliberately lenient: it does not check that an end tag
 * names the element it closes, so a truncated or hand-edited document parses into a wrong
 * tree without complaint. Its XMLValidator does check, but it runs at ~65 MB/s and costs
 * ~30% of @medplum/ccda's whole conversion time on the corpus. This guard is a single sticky
 * regular expression over markup only (text is skipped with indexOf; an end tag that closes the
 * open element as `</name>` is compared directly), ~300 MB/s on the corpus with the view below,
 * and it checks exactly what the import relies on: balanced and matching tags, one root, no
 * DOCTYPE/ENTITY declarations, nesting depth and attribute count, with line and column.
 * Since it matches every tag anyway, it also records what the tree parser can be spared
 * (MarkupScan; the measurements are in xml-reader.ts).
 */
const MARKUP = /<(?:!--[\s\S]*?-->|!\[CDATA\[[\s\S]*?\]\]>|\?[\s\S]*?\?>|(![A-Za-z])|\/([^\s>]+)\s*>|([A-Za-z_][\w:.-]*))/y;
/*
 * A start tag's attributes are matched one at a time, not by one repeated group: V8's regular expressions backtrack
 * through a repeated group recursively, so a tag of a million attributes (or one whose list never ends) overflowed
 * the stack, a 500. One at a time, the count stops at the limit and an unclosed list is found where it breaks.
 */
const ATTRIBUTE = /\s+[A-Za-z_][\w:.-]*\s*=\s*(?:"[^"<]*"|'[^'<]*')/y;
const TAG_END = /\s*(\/?)>/y;

/** What the guard's scan found, for the reader. */
export interface MarkupScan {
  /** [start, end) offsets of the content of every `<section><text>` (the narrative), in document order. */
  readonly narratives: number[];
  /** The attribute text of every start tag outside narrative, in document order ('' for none). */
  readonly attributes: string[];
  /**
   * [start, end) offsets of every text run inside the root element and outside narrative that
   * is not all whitespace (runs end at any markup, comments included), and of every CDATA
   * section's content there, in document order. In `parserView` a run is a single 'x' and a
   * CDATA section is `<![CDATA[c]]>`.
   */
  readonly texts: number[];
  /**
   * The document as the tree parser gets it: without the narratives, without every start tag's
   * attribute text (attached to the tree separately), without the whitespace right after each
   * start or end tag (text starts there, and the parser trims it away anyway), text runs as 'x'.
   */
  readonly parserView: string;
}

/**
 * Throws CcdaParseError unless `xml` is well-formed enough to import, within the limits.
 * Returns where the narrative lies, each start tag's attribute text, where the text lies, and
 * the rest of the document for the tree parser (see MarkupScan).
 */
export function assertWellFormed(xml: string, limits: XmlLimits): MarkupScan {
  const narratives: number[] = [];
  const attributes: string[] = [];
  const texts: number[] = [];
  let parserView = '';
  let kept = 0;
  let narrativeDepth = -1;
  const names: string[] = [];
  const starts: number[] = [];
  let roots = 0;
  let elements = 0;
  let text = 0;
  let i = xml.indexOf('<');
  while (i !== -1) {
    if (i > text && names.length > 0 && narrativeDepth < 0 && hasNonSpace(xml, text, i)) {
      texts.push(text, i);
      parserView += `${xml.slice(kept, text)}x`;
      kept = i;
    }
    // End tags are half the markup: one that closes the open element as `</name>` is checked
    // without the regular expression (any other form goes through it, errors included).
    const open = names[names.length - 1];
    let end: number;
    let isTag = true;
    if (xml.charCodeAt(i + 1) === 47 && open !== undefined && xml.charCodeAt(i + 2 + open.length) === 62 && xml.startsWith(open, i + 2)) {
      end = i + 3 + open.length;
      names.pop();
      starts.pop();
      if (names.length === narrativeDepth) {
        narratives.push(i);
        kept = i;
        narrativeDepth = -1;
      }
    } else {
      MARKUP.lastIndex = i;
      const m = MARKUP.exec(xml);
      if (!m) fail(xml, i, 'malformed', 'Malformed markup');
      end = MARKUP.lastIndex;
      isTag = m[2] !== undefined || m[3] !== undefined;
      // A start tag: its attributes, then `>` or `/>` (m[4] the attribute text, m[5] the `/`, as one regex gave them).
      if (m[3] !== undefined) {
        const tag = startTagRest(xml, end, limits.maxAttributes);
        if (tag === 'too-many') fail(xml, i, 'too-many-attributes', `Element <${m[3]}> has more than ${limits.maxAttributes} attributes`);
        if (tag === 'malformed') fail(xml, i, 'malformed', 'Malformed markup');
        m[4] = xml.slice(end, tag.attributesEnd);
        m[5] = tag.selfClosing ? '/' : '';
        end = tag.end;
        if (++elements > limits.maxElements) fail(xml, i, 'too-many-elements', `The document has more than ${limits.maxElements} elements`);
      }
      if (m[1] !== undefined) {
        fail(xml, i, 'dtd-refused', 'DOCTYPE, ENTITY and other declarations are not accepted');
      } else if (xml.charCodeAt(i + 2) === 91 && names.length > 0 && narrativeDepth < 0) {
        // CDATA (`<![`): its content is text the parser keeps untrimmed.
        texts.push(i + 9, end - 3);
        parserView += `${xml.slice(kept, i + 9)}c`;
        kept = end - 3;
      } else if (m[2] !== undefined) {
        names.pop();
        if (open !== m[2]) {
          fail(xml, i, 'malformed', open ? `End tag </${m[2]}> does not close <${open}>` : `End tag </${m[2]}> has no start tag`);
        }
        starts.pop();
        if (names.length === narrativeDepth) {
          narratives.push(i);
          kept = i;
          narrativeDepth = -1;
        }
      } else if (m[3] !== undefined) {
        if (names.length === 0 && ++roots > 1) fail(xml, i, 'malformed', 'More than one root element');
        const attrs = m[4];
        if (narrativeDepth < 0) {
          attributes.push(attrs);
          const attrsEnd = end - 1 - m[5].length;
          const nameEnd = i + 1 + m[3].length;
          if (attrsEnd > nameEnd) {
            parserView += xml.slice(kept, nameEnd);
            kept = attrsEnd;
          }
        }
        if (m[5] && m[3] === 'text' && narrativeDepth < 0 && open === 'section') {
          narratives.push(end, end);
        }
        if (!m[5]) {
          if (narrativeDepth < 0 && m[3] === 'text' && open === 'section') {
            narrativeDepth = names.length;
            narratives.push(end);
            parserView += xml.slice(kept, end);
          }
          names.push(m[3]);
          starts.push(i);
          if (names.length > limits.maxDepth) fail(xml, i, 'too-deep', `Elements nested deeper than ${limits.maxDepth}`);
        }
      }
    }
    text = end;
    if (narrativeDepth < 0 && isTag) {
      while (isSpace(xml.charCodeAt(text))) text++;
      if (text > end) {
        parserView += xml.slice(kept, end);
        kept = text;
      }
    }
    i = xml.indexOf('<', text);
  }
  if (names.length > 0) {
    fail(xml, starts[starts.length - 1], 'malformed', `Element <${names[names.length - 1]}> is never closed`);
  }
  if (roots === 0) throw new CcdaParseError('malformed', 'The document has no root element', 1, 1);
  parserView += xml.slice(kept);
  return { narratives, attributes, texts, parserView };
}

/**
 * The rest of a start tag from just after its name: where its attribute text ends, whether it closes itself and
 * where the tag ends; 'too-many' past `maxAttributes` attributes, 'malformed' when neither an attribute nor the
 * tag's end follows.
 */
function startTagRest(
  xml: string,
  from: number,
  maxAttributes: number,
): { attributesEnd: number; selfClosing: boolean; end: number } | 'too-many' | 'malformed' {
  let at = from;
  for (let count = 0; ; count++) {
    ATTRIBUTE.lastIndex = at;
    if (!ATTRIBUTE.test(xml)) break;
    if (count >= maxAttributes) return 'too-many';
    at = ATTRIBUTE.lastIndex;
  }
  TAG_END.lastIndex = at;
  const end = TAG_END.exec(xml);
  if (!end) return 'malformed';
  return { attributesEnd: at, selfClosing: end[1] === '/', end: TAG_END.lastIndex };
}

/** Whether xml[from, to) has a character that String.prototype.trim would not remove. */
function hasNonSpace(xml: string, from: number, to: number): boolean {
  const first = xml.charCodeAt(from);
  if (first > 32 && first < 127) return true;
  return /\S/.test(xml.slice(from, to));
}

function isSpace(code: number): boolean {
  return code === 32 || code === 10 || code === 13 || code === 9;
}

function fail(
  xml: string,
  offset: number,
  code: 'malformed' | 'dtd-refused' | 'too-deep' | 'too-many-attributes' | 'too-many-elements',
  message: string,
): never {
  const { line, column } = lineColumnAt(xml, offset);
  throw new CcdaParseError(code, message, line, column);
}
