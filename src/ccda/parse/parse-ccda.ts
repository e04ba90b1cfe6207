import { createHash } from 'node:crypto';
import type { Composition, DocumentReference } from '@medplum/fhirtypes';
import type { CcdaImportResult } from './ccda-import-types';
import { codeableConcept, effective } from './cda-datatype-readers';
import { compact } from './entry-common';
import { documentInfo, mapPatient } from './header-map';
import { ImportContext } from './import-context';
import { mapAssigned, mapAuthors, mapOrganization, PARTY_TARGETS } from './participant-map';
import { mapSections } from './section-map';
import { XmlReadOptions, readCdaXml } from './xml-reader';
import { XNode, attr, child, children, path, rawTextOf } from './xml-node';
import { narrativeToPlainText } from './narrative';
import type { AnyRef } from './import-context';

/** Options for parseCcda: the XML limits (size 20 MB, depth 128, attributes 64 by default). */
export type ParseCcdaOptions = XmlReadOptions;

/**
 * Turns a C-CDA document (R1.1, R2.0 or R2.1; any document type) into FHIR resources ready
 * for one transaction: the Patient, authors and organizations, the clinical resources of every
 * section, and a Composition that keeps every section's narrative. Throws CcdaParseError only
 * when the XML itself is refused (malformed, DTD, limits, not a ClinicalDocument); anything
 * odd inside a well-formed document becomes a warning instead.
 */
export function parseCcda(xml: string | Buffer, options: ParseCcdaOptions = {}): CcdaImportResult {
  const { root, text, narratives } = readCdaXml(xml, options);
  return mapCdaDocument(root, narratives, text);
}

/** Maps an already read ClinicalDocument (see readCdaXml) to the import result. */
export function mapCdaDocument(root: XNode, narratives: readonly string[], text: string): CcdaImportResult {
  const idNode = child(root, 'id');
  const documentKey = attr(idNode, 'root')
    ? `${attr(idNode, 'root')}${attr(idNode, 'extension') ? `^${attr(idNode, 'extension')}` : ''}`
    : `sha1:${createHash('sha1').update(text).digest('hex')}`;
  const ctx = new ImportContext(documentKey);
  const info = documentInfo(root, ctx);
  ctx.documentDate = info.effectiveTime;

  const patient = mapPatient(root, ctx);
  const patientRef = ctx.add(patient);
  ctx.patientReference = patientRef;

  const authors = mapAuthors(root, ctx);
  const custodian = mapOrganization(path(root, 'custodian', 'assignedCustodian', 'representedCustodianOrganization'), ctx);
  const legal = mapAssigned(path(root, 'legalAuthenticator', 'assignedEntity'), ctx, PARTY_TARGETS.personOrOrganization);

  const composition: Composition = {
    resourceType: 'Composition',
    identifier: info.id,
    status: 'final',
    type: codeableConcept(child(root, 'code'), ctx) ?? { text: 'Clinical document' },
    subject: patientRef,
    date: info.effectiveTime ?? ctx.documentDate ?? '',
    // An author is a Practitioner, a Device or an Organization; mapAuthors does not say which (AnyRef).
    // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment
    author: authors.length ? authors : custodian ? [custodian] : [{ display: 'Unknown author' }],
    title: info.title ?? info.typeDisplay ?? 'Clinical document',
    confidentiality: attr(child(root, 'confidentialityCode'), 'code') as Composition['confidentiality'],
    attester: legal
      ? [{ mode: 'legal', party: legal, time: effective(path(root, 'legalAuthenticator', 'time'), ctx).dateTime }]
      : undefined,
    custodian: custodian,
    event: serviceEvents(root, ctx),
  };
  if (!composition.date) {
    ctx.warn('The document has no effectiveTime; Composition.date is the import time');
    composition.date = new Date().toISOString();
  }
  if (!composition.confidentiality || !['U', 'L', 'M', 'N', 'R', 'V'].includes(composition.confidentiality))
    delete composition.confidentiality;
  if (composition.attester?.[0] && !composition.attester[0].time) delete composition.attester[0].time;

  const body = child(root, 'component');
  const structured = child(body, 'structuredBody');
  const nonXml = child(body, 'nonXMLBody');
  let stats: CcdaImportResult['sections'] = [];
  if (structured) {
    const mapped = mapSections(structured, narratives, ctx);
    composition.section = mapped.sections;
    stats = mapped.stats;
    ctx.resolveEncounterLinks();
  } else if (nonXml) {
    const docRef = mapNonXmlBody(nonXml, ctx, info.title, patientRef, composition.type);
    composition.section = [
      {
        title: info.title ?? 'Document',
        text: {
          status: 'generated',
          div: '<div xmlns="http://www.w3.org/1999/xhtml">The document body is an attachment (unstructured document).</div>',
        },
        entry: [docRef],
      },
    ];
  } else {
    ctx.warn('The document has neither a structuredBody nor a nonXMLBody');
  }
  const compositionRef = ctx.add(compact(composition));
  return {
    bundle: { resourceType: 'Bundle', type: 'transaction', entry: ctx.entries() },
    patientFullUrl: patientRef.reference as string,
    compositionFullUrl: compositionRef.reference as string,
    document: info,
    sections: stats,
    warnings: ctx.warnings,
  };
}

function serviceEvents(root: XNode, ctx: ImportContext): Composition['event'] {
  const out: NonNullable<Composition['event']> = [];
  for (const doc of children(root, 'documentationOf')) {
    const event = child(doc, 'serviceEvent');
    if (!event) continue;
    const time = effective(child(event, 'effectiveTime'), ctx);
    const detail = children(event, 'performer')
      .map((p) => mapAssigned(child(p, 'assignedEntity'), ctx))
      .filter((r): r is NonNullable<typeof r> => !!r);
    const code = codeableConcept(child(event, 'code'), ctx);
    const item = compact({
      code: code?.coding ? [code] : undefined,
      period: time.period ?? (time.dateTime ? { start: time.dateTime } : undefined),
      detail,
    });
    if (Object.keys(item).length) out.push(item);
  }
  return out.length ? out : undefined;
}

/** An unstructured document's body, kept as a DocumentReference attachment (base64 as sent, or a URL). */
function mapNonXmlBody(nonXml: XNode, ctx: ImportContext, title: string | undefined, subject: AnyRef, type: Composition['type']): AnyRef {
  const textNode = child(nonXml, 'text');
  const mediaType = attr(textNode, 'mediaType') ?? 'text/plain';
  const reference = attr(child(textNode, 'reference'), 'value');
  const raw = rawTextOf(textNode);
  const attachment: NonNullable<DocumentReference['content']>[number]['attachment'] = { contentType: mediaType };
  if (title) attachment.title = title;
  if (attr(textNode, 'representation') === 'B64') attachment.data = raw.replace(/\s+/g, '');
  else if (reference) attachment.url = reference;
  else attachment.data = Buffer.from(narrativeToPlainText(raw) ?? '', 'utf8').toString('base64');
  const doc: DocumentReference = {
    resourceType: 'DocumentReference',
    identifier: ((ctx.entryPosition = 'nonXMLBody'), ctx.claimIdentifiers('DocumentReference', [])),
    status: 'current',
    type,
    subject,
    content: [{ attachment }],
  };
  return ctx.add(doc);
}
