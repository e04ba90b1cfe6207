import { escapeXml as escapeHtml } from '../render/xml-writer';
import { attr, childNodes, localName, nodeName, textContent, type XmlNode } from './xml-tree';

/**
 * CDA narrative block -> HTML. Only the narrative elements CDA defines are mapped, each to its plain
 * HTML counterpart; everything is escaped and nothing executable can come through: links become text,
 * multimedia becomes a placeholder, styles are dropped except CDA's Bold/Italics/Underline.
 */
const SIMPLE: Record<string, string> = {
  paragraph: 'p',
  thead: 'thead',
  tbody: 'tbody',
  tfoot: 'tfoot',
  tr: 'tr',
  td: 'td',
  sub: 'sub',
  sup: 'sup',
  item: 'li',
};

function idAttr(node: XmlNode): string {
  const id = attr(node, 'ID');
  return id ? ` id="${escapeHtml(id)}"` : '';
}

function styled(node: XmlNode, inner: string): string {
  const style = attr(node, 'styleCode') ?? '';
  let out = inner;
  if (/\bBold\b/.test(style)) out = `<strong>${out}</strong>`;
  if (/\bItalics\b/.test(style)) out = `<em>${out}</em>`;
  if (/\bUnderline\b/.test(style)) out = `<u>${out}</u>`;
  return out;
}

function renderChildren(node: XmlNode, ctx: NarrativeContext): string {
  return childNodes(node)
    .map((c) => renderNode(c, ctx))
    .join('');
}

interface NarrativeContext {
  /** Caption for tables that have none (the section title), so every table is labelled. */
  readonly fallbackCaption: string;
  /** How a run of text reads (times put in the practice's zone). */
  readonly text: (text: string) => string;
  inHead: boolean;
}

function renderTable(node: XmlNode, ctx: NarrativeContext): string {
  const parts = childNodes(node);
  const hasCaption = parts.some((c) => localName(c) === 'caption');
  let out = '<table>';
  if (!hasCaption) out += `<caption>${escapeHtml(ctx.fallbackCaption)}</caption>`;
  for (const c of parts) {
    const name = localName(c);
    if (name === 'caption') out += `<caption>${renderChildren(c, ctx)}</caption>`;
    else if (name === 'thead') {
      ctx.inHead = true;
      out += `<thead>${renderChildren(c, ctx)}</thead>`;
      ctx.inHead = false;
    } else if (name === 'tbody' || name === 'tfoot' || name === 'tr') out += renderNode(c, ctx);
  }
  return `${out}</table>`;
}

function renderNode(node: XmlNode, ctx: NarrativeContext): string {
  const name = nodeName(node);
  if (name === '#text') return escapeHtml(ctx.text(String(node['#text'])));
  const local = localName(node);
  switch (local) {
    case 'table':
      return renderTable(node, ctx);
    case 'th': {
      const scope = ctx.inHead ? 'col' : 'row';
      return `<th scope="${scope}"${idAttr(node)}>${renderChildren(node, ctx)}</th>`;
    }
    case 'list': {
      const tag = attr(node, 'listType') === 'ordered' ? 'ol' : 'ul';
      const items = childNodes(node).filter((c) => localName(c) === 'item' || localName(c) === 'caption');
      const caption = items.find((c) => localName(c) === 'caption');
      const head = caption ? `<p><strong>${renderChildren(caption, ctx)}</strong></p>` : '';
      const lis = items
        .filter((c) => localName(c) === 'item')
        .map((c) => renderNode(c, ctx))
        .join('');
      return `${head}<${tag}${idAttr(node)}>${lis}</${tag}>`;
    }
    case 'content':
      return `<span${idAttr(node)}>${styled(node, renderChildren(node, ctx))}</span>`;
    case 'br':
      return '<br>';
    case 'caption':
      return `<strong>${renderChildren(node, ctx)}</strong>`;
    case 'linkHtml':
    case 'footnote':
    case 'footnoteRef':
      return `<span${idAttr(node)}>${escapeHtml(textContent(node))}</span>`;
    case 'renderMultiMedia':
      return '<span>[multimedia not shown]</span>';
    case 'col':
    case 'colgroup':
      return '';
    default: {
      const tag = SIMPLE[local];
      if (tag) return `<${tag}${idAttr(node)}>${styled(node, renderChildren(node, ctx))}</${tag}>`;
      return escapeHtml(textContent(node));
    }
  }
}

/** Renders the content of a section's `<text>` element as HTML; `text` rewrites each run of text (default: as is). */
export function narrativeToHtml(textNode: XmlNode | undefined, sectionTitle: string, text: (text: string) => string = (t) => t): string {
  if (!textNode) return '';
  return renderChildren(textNode, { fallbackCaption: sectionTitle, text, inHead: false });
}
