import { escapeXml as esc } from '../render/xml-writer';
import { narrativeToHtml } from './narrative-html';
import { attr, child, childNodes, childrenNamed, localName, nodeName, parseXmlTree, textContent, type XmlNode } from './xml-tree';

/**
 * Human-readable HTML for a C-CDA document, rendered from the XML itself (never from FHIR), so the
 * preview shows exactly what the document says. Self-contained: inline CSS, no scripts, no external
 * resources (a Content-Security-Policy forbids them), every table captioned with header cells.
 */
const STYLE = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#1a1a1a;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.25rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:2px solid #2b5f8a;padding-bottom:.2rem}
dl.header{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dl.header dt{font-weight:600}dl.header dd{margin:0}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{border:1px solid #999;padding:.3rem .5rem;text-align:left;vertical-align:top;white-space:pre-line}thead th{background:#e8eef4}
nav ol{columns:2}.empty{font-style:italic}`;

function hl7Date(ts: string | undefined): string {
  if (!ts) return '';
  const m = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d+)?([+-]\d{4})?$/.exec(ts);
  if (!m) return ts;
  const [, y, mo, d, h, mi, s, , tz] = m;
  let out = y + (mo ? `-${mo}` : '') + (d ? `-${d}` : '');
  if (h) out += ` ${h}:${mi ?? '00'}${s ? `:${s}` : ''}`;
  if (tz) out += ` ${tz.slice(0, 3)}:${tz.slice(3)}`;
  return out;
}

function nameOf(node: XmlNode | undefined): string {
  if (!node) return '';
  const parts = childNodes(node).filter((c) => nodeName(c) !== '#text');
  if (parts.length === 0) return textContent(node).trim() || (attr(node, 'nullFlavor') ? 'Unknown' : '');
  const order = ['prefix', 'given', 'family', 'suffix'];
  return order
    .flatMap((o) => parts.filter((p) => localName(p) === o).map((p) => textContent(p).trim()))
    .filter(Boolean)
    .join(' ');
}

function addrOf(node: XmlNode | undefined): string {
  if (!node || attr(node, 'nullFlavor')) return '';
  return childNodes(node)
    .filter((c) => nodeName(c) !== '#text')
    .map((c) => textContent(c).trim())
    .filter(Boolean)
    .join(', ');
}

function codeText(node: XmlNode | undefined): string {
  if (!node) return '';
  if (attr(node, 'nullFlavor')) return 'Unknown';
  return attr(node, 'displayName') ?? attr(node, 'code') ?? '';
}

function row(label: string, value: string): string {
  return value ? `<dt>${esc(label)}</dt><dd>${esc(value)}</dd>` : '';
}

function headerHtml(doc: XmlNode): string {
  const role = child(doc, 'recordTarget', 'patientRole');
  const patient = child(role, 'patient');
  const races = [child(patient, 'raceCode'), ...childrenNamed(patient, 'sdtc:raceCode')].map(codeText).filter(Boolean);
  const ethnicity = [child(patient, 'ethnicGroupCode'), ...childrenNamed(patient, 'sdtc:ethnicGroupCode')].map(codeText).filter(Boolean);
  const languages = childrenNamed(patient, 'languageCommunication').map((l) => attr(child(l, 'languageCode'), 'code') ?? '');
  const telecoms = childrenNamed(role, 'telecom').map((t) => attr(t, 'value') ?? '').filter(Boolean);
  const author = child(doc, 'author', 'assignedAuthor');
  const authorName =
    nameOf(child(author, 'assignedPerson', 'name')) ||
    [textContent(child(author, 'assignedAuthoringDevice', 'softwareName')), textContent(child(author, 'representedOrganization', 'name'))]
      .filter(Boolean)
      .join(', ');
  const event = child(doc, 'documentationOf', 'serviceEvent');
  const period = child(event, 'effectiveTime');
  const team = childrenNamed(event, 'performer').map((p) => nameOf(child(p, 'assignedEntity', 'assignedPerson', 'name'))).filter(Boolean);
  return (
    '<dl class="header">' +
    row('Patient', childrenNamed(patient, 'name').map(nameOf).filter(Boolean).join('; ')) +
    row('Date of birth', hl7Date(attr(child(patient, 'birthTime'), 'value'))) +
    row('Administrative gender', codeText(child(patient, 'administrativeGenderCode'))) +
    row('Race', races.join(', ')) +
    row('Ethnicity', ethnicity.join(', ')) +
    row('Preferred language', languages.join(', ')) +
    row('Address', childrenNamed(role, 'addr').map(addrOf).filter(Boolean).join('; ')) +
    row('Contact', telecoms.join(', ')) +
    row('Period covered', `${hl7Date(attr(child(period, 'low'), 'value'))} to ${hl7Date(attr(child(period, 'high'), 'value'))}`) +
    row('Care team', team.join(', ')) +
    row('Author', authorName) +
    row('Custodian', textContent(child(doc, 'custodian', 'assignedCustodian', 'representedCustodianOrganization', 'name'))) +
    row('Document created', hl7Date(attr(child(doc, 'effectiveTime'), 'value'))) +
    '</dl>'
  );
}

/**
 * The document without its coded entries. The preview shows the header and the narrative, which is what the
 * document says to a human reader; entries (about 70% of a CCD) are never shown, so they are cut out before the
 * tree parse, which made the preview about three times faster. Entries never nest inside entries in CDA.
 */
function withoutEntries(xml: string): string {
  return xml
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<entry(?:\s[^>]*)?\/>/g, '')
    .replace(/<entry(?:\s[^>]*)?>[\s\S]*?<\/entry>/g, '');
}

/** Renders the HTML preview of a C-CDA document from its XML. */
export function renderCcdHtml(xml: string): string {
  const doc = parseXmlTree(withoutEntries(xml)).find((n) => localName(n) === 'ClinicalDocument');
  if (!doc) throw new Error('Not a CDA document: no ClinicalDocument root element');
  const title = textContent(child(doc, 'title')).trim() || 'Clinical document';
  const patientName = nameOf(child(doc, 'recordTarget', 'patientRole', 'patient', 'name'));
  const sections = childrenNamed(child(doc, 'component', 'structuredBody'), 'component')
    .map((c) => child(c, 'section'))
    .filter((s): s is XmlNode => Boolean(s));
  const index = sections
    .map((s, i) => `<li><a href="#section-${i + 1}">${esc(textContent(child(s, 'title')).trim() || `Section ${i + 1}`)}</a></li>`)
    .join('');
  const body = sections
    .map((s, i) => {
      const sectionTitle = textContent(child(s, 'title')).trim() || `Section ${i + 1}`;
      const narrative = narrativeToHtml(child(s, 'text'), sectionTitle);
      return `<section id="section-${i + 1}" aria-labelledby="section-${i + 1}-title"><h2 id="section-${i + 1}-title">${esc(sectionTitle)}</h2>${narrative || '<p class="empty">No narrative.</p>'}</section>`;
    })
    .join('\n');
  return (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">' +
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">` +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>${esc(title)}${patientName ? ` - ${esc(patientName)}` : ''}</title><style>${STYLE}</style></head><body>\n` +
    `<header><h1>${esc(title)}</h1>${headerHtml(doc)}</header>\n` +
    `<nav aria-label="Sections"><h2>Sections</h2><ol>${index}</ol></nav>\n` +
    `<main>${body}</main>\n</body></html>\n`
  );
}
