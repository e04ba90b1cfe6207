import { createHash } from 'node:crypto';
import { strToU8, zipSync } from 'fflate';
import { renderCcdHtml, type PreviewOptions } from '../html/render-ccd-html';
import { escapeXml as esc } from '../render/xml-writer';
import { buildXdmMetadata, XDM_DOCUMENT_NAME, type XdmMeta } from './xdm-metadata';

export type { XdmMeta } from './xdm-metadata';

/** Where the parts of an XDM package live (IHE ITI TF-1 16 / TF-3 4.2.1). */
export const XDM_PATHS = Object.freeze({
  document: `IHE_XDM/SUBSET01/${XDM_DOCUMENT_NAME}`,
  /** The same document to read in a browser: the HTML the preview shows (a browser shows the XML as a raw tree). */
  readable: 'IHE_XDM/SUBSET01/DOC0001.HTM',
  metadata: 'IHE_XDM/SUBSET01/METADATA.XML',
  index: 'INDEX.HTM',
  readme: 'README.TXT',
});

function indexHtml(meta: XdmMeta): string {
  const title = meta.title ?? 'Continuity of Care Document';
  return (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Health record package</title></head><body>\n' +
    '<h1>Health record package (IHE XDM)</h1>\n' +
    '<p>This package holds one clinical document in C-CDA R2.1 format, with the metadata that describes it.</p>\n' +
    `<p><a href="${XDM_PATHS.readable}"><strong>Open the health record to read it</strong></a> (${esc(title)}, in this browser).</p>\n` +
    '<ul>\n' +
    `<li><a href="${XDM_PATHS.readable}">${esc(title)}</a> (${esc(XDM_PATHS.readable)}, to read)</li>\n` +
    `<li><a href="${XDM_PATHS.document}">${esc(title)}</a> (${esc(XDM_PATHS.document)}, C-CDA XML, for health record systems)</li>\n` +
    `<li><a href="${XDM_PATHS.metadata}">Document metadata</a> (${esc(XDM_PATHS.metadata)}, IHE XDS.b)</li>\n` +
    `<li><a href="${XDM_PATHS.readme}">About this package</a></li>\n` +
    '</ul>\n</body></html>\n'
  );
}

function readme(meta: XdmMeta): string {
  return [
    'IHE XDM package created by Chartkeeper',
    '',
    `Created: ${meta.creationTime.toISOString()}`,
    `Sender: ${meta.authorInstitution ?? meta.sourceId}`,
    '',
    'Contents:',
    `  ${XDM_PATHS.document}  the clinical document (HL7 C-CDA R2.1 Continuity of Care Document, XML)`,
    `  ${XDM_PATHS.readable}  the same document to read in a web browser (HTML)`,
    `  ${XDM_PATHS.metadata}  XDS.b metadata: submission set and document entry (hash, size, patient id)`,
    `  ${XDM_PATHS.index}  an index to open in a web browser`,
    '',
    'The document contains personal health information. Keep it private.',
    '',
  ].join('\r\n');
}

/** Packs a C-CDA document as an IHE XDM zip (DOC0001.XML and its readable DOC0001.HTM, METADATA.XML, INDEX.HTM, README.TXT). */
export function buildXdmZip(xml: string, meta: XdmMeta, preview: PreviewOptions = {}): Uint8Array {
  const doc = strToU8(xml);
  const sha1 = createHash('sha1').update(doc).digest('hex');
  const metadata = buildXdmMetadata(meta, { size: doc.length, sha1 });
  const mtime = meta.creationTime;
  return zipSync(
    {
      [XDM_PATHS.index]: [strToU8(indexHtml(meta)), { mtime }],
      [XDM_PATHS.readme]: [strToU8(readme(meta)), { mtime }],
      [XDM_PATHS.document]: [doc, { mtime }],
      [XDM_PATHS.readable]: [strToU8(renderCcdHtml(xml, preview)), { mtime }],
      [XDM_PATHS.metadata]: [strToU8(metadata), { mtime }],
    },
    { level: 6 },
  );
}
