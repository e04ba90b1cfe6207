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

/** How the preview shows times: in the practice's zone, to the minute, without an offset. */
export interface PreviewOptions {
  /** IANA zone of the practice (ORG_TIME_ZONE); times with an offset are shown in it. Default UTC. */
  readonly timeZone?: string;
}

/** "2026-02-06 09:30" in the zone: the instant an HL7 or narrative time names, as the practice's clock read it. */
function inZone(instant: Date, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(instant)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

function hl7Date(ts: string | undefined, timeZone: string): string {
  if (!ts) return '';
  const m = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d+)?([+-]\d{4})?$/.exec(ts);
  if (!m) return ts;
  const [, y, mo, d, h, mi, , , tz] = m;
  const date = y + (mo ? `-${mo}` : '') + (d ? `-${d}` : '');
  if (!h) return date;
  if (!tz) return `${date} ${h}:${mi ?? '00'}`;
  return inZone(new Date(`${date}T${h}:${mi ?? '00'}:00${tz.slice(0, 3)}:${tz.slice(3)}`), timeZone);
}

/** Narrative times as the renderer writes them ("2026-02-06 09:30:00 -08:00", "... UTC"). */
const NARRATIVE_TIME = /\b(\d{4}-\d{2}-\d{2}) (\d{2}):(\d{2})(?::\d{2}(?:\.\d+)?)? ?([+-]\d{2}:\d{2}|UTC|Z)?(?![\d:])/g;

/** Text of the narrative with its times in the practice's zone, to the minute (other text unchanged). */
function localTimes(text: string, timeZone: string): string {
  return text.replace(NARRATIVE_TIME, (whole, date: string, h: string, mi: string, zone: string | undefined) => {
    if (!zone) return `${date} ${h}:${mi}`;
    const offset = zone === 'UTC' || zone === 'Z' ? 'Z' : zone;
    const instant = new Date(`${date}T${h}:${mi}:00${offset}`);
    return Number.isNaN(instant.getTime()) ? whole : inZone(instant, timeZone);
  });
}

const LANGUAGES = new Intl.DisplayNames(['en'], { type: 'language' });

/** A language by name: "English" for en-US (the region adds nothing a patient needs), "Korean" for ko. */
function languageName(code: string): string {
  const base = code.split(/[-_]/)[0];
  try {
    return LANGUAGES.of(base) ?? code;
  } catch {
    return code;
  }
}

/** A telecom value as people write it: no tel:, mailto: or fax: scheme. */
function telecomText(value: string): string {
  return value.replace(/^(tel|mailto|fax):(\/\/)?/i, '');
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

function headerHtml(doc: XmlNode, timeZone: string): string {
  const role = child(doc, 'recordTarget', 'patientRole');
  const patient = child(role, 'patient');
  const races = [child(patient, 'raceCode'), ...childrenNamed(patient, 'sdtc:raceCode')].map(codeText).filter(Boolean);
  const ethnicity = [child(patient, 'ethnicGroupCode'), ...childrenNamed(patient, 'sdtc:ethnicGroupCode')].map(codeText).filter(Boolean);
  const languages = [
    ...new Set(
      childrenNamed(patient, 'languageCommunication')
        .map((l) => attr(child(l, 'languageCode'), 'code') ?? '')
        .filter(Boolean)
        .map(languageName),
    ),
  ];
  const telecoms = childrenNamed(role, 'telecom')
    .map((t) => telecomText(attr(t, 'value') ?? ''))
    .filter(Boolean);
  const author = child(doc, 'author', 'assignedAuthor');
  // Software that assembled the document on a practice's behalf is not who the patient deals with: the practice is.
  const authorName =
    nameOf(child(author, 'assignedPerson', 'name')) ||
    textContent(child(author, 'representedOrganization', 'name')).trim() ||
    textContent(child(author, 'assignedAuthoringDevice', 'softwareName')).trim();
  const event = child(doc, 'documentationOf', 'serviceEvent');
  const period = child(event, 'effectiveTime');
  const team = childrenNamed(event, 'performer')
    .map((p) => nameOf(child(p, 'assignedEntity', 'assignedPerson', 'name')))
    .filter(Boolean);
  return (
    '<dl class="header">' +
    row('Patient', childrenNamed(patient, 'name').map(nameOf).filter(Boolean).join('; ')) +
    row('Date of birth', hl7Date(attr(child(patient, 'birthTime'), 'value'), timeZone)) +
    row('Administrative gender', codeText(child(patient, 'administrativeGenderCode'))) +
    row('Race', races.join(', ')) +
    row('Ethnicity', ethnicity.join(', ')) +
    row('Preferred language', languages.join(', ')) +
    row('Address', childrenNamed(role, 'addr').map(addrOf).filter(Boolean).join('; ')) +
    row('Contact', telecoms.join(', ')) +
    row(
      'Period covered',
      `${hl7Date(attr(child(period, 'low'), 'value'), timeZone)} to ${hl7Date(attr(child(period, 'high'), 'value'), timeZone)}`,
    ) +
    row('Care team', team.join(', ')) +
    row('Author', authorName) +
    row('Custodian', textContent(child(doc, 'custodian', 'assignedCustodian', 'representedCustodianOrganization', 'name'))) +
    row('Document created', hl7Date(attr(child(doc, 'effectiveTime'), 'value'), timeZone)) +
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

/** Renders the HTML preview of a C-CDA document from its XML, times in the practice's zone. */
export function renderCcdHtml(xml: string, options: PreviewOptions = {}): string {
  const timeZone = options.timeZone ?? 'UTC';
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
      const narrative = narrativeToHtml(child(s, 'text'), sectionTitle, (text) => localTimes(text, timeZone));
      return `<section id="section-${i + 1}" aria-labelledby="section-${i + 1}-title"><h2 id="section-${i + 1}-title">${esc(sectionTitle)}</h2>${narrative || '<p class="empty">No narrative.</p>'}</section>`;
    })
    .join('\n');
  return (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">' +
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">` +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>${esc(title)}${patientName ? ` - ${esc(patientName)}` : ''}</title><style>${STYLE}</style></head><body>\n` +
    `<header><h1>${esc(title)}</h1>${headerHtml(doc, timeZone)}</header>\n` +
    `<nav aria-label="Sections"><h2>Sections</h2><ol>${index}</ol></nav>\n` +
    `<main>${body}</main>\n</body></html>\n`
  );
}
