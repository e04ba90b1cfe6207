import { XmlWriter } from '../render/xml-writer';
import { stableUuid, xdsTime, xdsUniqueId } from './xdm-ids';

/** What the XDS metadata says about the package and its one document. */
export interface XdmMeta {
  /** The document's id (ClinicalDocument/id: a UUID or OID, or any string under `idRoot`). */
  readonly documentId: string;
  /** The patient's id and the OID of the authority that assigned it (XDS patientId CX). */
  readonly patientId: string;
  readonly patientIdRoot: string;
  readonly patientName?: { readonly family?: string; readonly given?: readonly string[] };
  /** YYYY-MM-DD */
  readonly patientBirthDate?: string;
  /** FHIR gender (male/female/other/unknown). */
  readonly patientGender?: string;
  readonly creationTime: Date;
  /** The document's period (YYYY-MM-DD), when it has one. */
  readonly serviceStart?: string;
  readonly serviceStop?: string;
  readonly title?: string;
  readonly authorInstitution?: string;
  readonly authorPerson?: string;
  /** OID of the sending system (SubmissionSet.sourceId). */
  readonly sourceId: string;
  /** Root for ids that are not OIDs/UUIDs (default: sourceId). */
  readonly idRoot?: string;
}

const XDS = {
  documentEntry: 'urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1',
  submissionSet: 'urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd',
  classCode: 'urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a',
  confidentialityCode: 'urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f',
  formatCode: 'urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d',
  healthcareFacilityTypeCode: 'urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1',
  practiceSettingCode: 'urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead',
  typeCode: 'urn:uuid:f0306f51-975f-434e-a61c-c59651d33983',
  author: 'urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d',
  ssAuthor: 'urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d',
  contentTypeCode: 'urn:uuid:aa543740-bdda-424e-8c96-df4873be8500',
  dePatientId: 'urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427',
  deUniqueId: 'urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab',
  ssPatientId: 'urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446',
  ssUniqueId: 'urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8',
  ssSourceId: 'urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832',
} as const;

/** The file name of the document inside the XDM subset folder. */
export const XDM_DOCUMENT_NAME = 'DOC0001.XML';

function slot(w: XmlWriter, name: string, ...values: string[]): void {
  w.open('rim:Slot', { name }).open('rim:ValueList');
  for (const v of values) w.element('rim:Value', v);
  w.close('rim:ValueList').close('rim:Slot');
}

function localized(w: XmlWriter, tag: 'rim:Name' | 'rim:Description', text: string): void {
  w.open(tag).empty('rim:LocalizedString', { value: text }).close(tag);
}

function classification(
  w: XmlWriter,
  id: string,
  scheme: string,
  object: string,
  code: string,
  codingScheme: string,
  display: string,
): void {
  w.open('rim:Classification', {
    id,
    classificationScheme: scheme,
    classifiedObject: object,
    nodeRepresentation: code,
    objectType: 'urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification',
  });
  slot(w, 'codingScheme', codingScheme);
  localized(w, 'rim:Name', display);
  w.close('rim:Classification');
}

function externalId(w: XmlWriter, id: string, scheme: string, object: string, value: string, name: string): void {
  w.open('rim:ExternalIdentifier', {
    id,
    identificationScheme: scheme,
    registryObject: object,
    value,
    objectType: 'urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier',
  });
  localized(w, 'rim:Name', name);
  w.close('rim:ExternalIdentifier');
}

const GENDER: Record<string, string> = { male: 'M', female: 'F', other: 'O', unknown: 'U' };

/** Builds METADATA.XML: an XDS.b SubmitObjectsRequest with one SubmissionSet and one DocumentEntry. */
export function buildXdmMetadata(meta: XdmMeta, document: { readonly size: number; readonly sha1: string }): string {
  const root = meta.idRoot ?? meta.sourceId;
  const docEntry = `urn:uuid:${stableUuid('document-entry', meta.documentId)}`;
  const subSet = `urn:uuid:${stableUuid('submission-set', meta.documentId)}`;
  const cls = (n: string): string => `urn:uuid:${stableUuid(meta.documentId, n)}`;
  const patientCx = `${meta.patientId}^^^&${meta.patientIdRoot}&ISO`;
  const time = xdsTime(meta.creationTime);
  const w = new XmlWriter();
  w.raw('<?xml version="1.0" encoding="UTF-8"?>\n');
  w.open('lcm:SubmitObjectsRequest', {
    'xmlns:lcm': 'urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0',
    'xmlns:rim': 'urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0',
  });
  w.open('rim:RegistryObjectList');

  w.open('rim:ExtrinsicObject', {
    id: docEntry,
    mimeType: 'text/xml',
    objectType: XDS.documentEntry,
    status: 'urn:oasis:names:tc:ebxml-regrep:StatusType:Approved',
  });
  slot(w, 'creationTime', time);
  slot(w, 'hash', document.sha1);
  slot(w, 'size', String(document.size));
  slot(w, 'languageCode', 'en-US');
  slot(w, 'sourcePatientId', patientCx);
  const pid = [`PID-3|${patientCx}`];
  if (meta.patientName) pid.push(`PID-5|${meta.patientName.family ?? ''}^${(meta.patientName.given ?? []).join(' ')}^^^`);
  if (meta.patientBirthDate) pid.push(`PID-7|${meta.patientBirthDate.replace(/-/g, '')}`);
  if (meta.patientGender && GENDER[meta.patientGender]) pid.push(`PID-8|${GENDER[meta.patientGender]}`);
  slot(w, 'sourcePatientInfo', ...pid);
  if (meta.serviceStart) slot(w, 'serviceStartTime', meta.serviceStart.replace(/-/g, ''));
  if (meta.serviceStop) slot(w, 'serviceStopTime', meta.serviceStop.replace(/-/g, ''));
  slot(w, 'URI', XDM_DOCUMENT_NAME);
  localized(w, 'rim:Name', meta.title ?? 'Continuity of Care Document');
  if (meta.authorInstitution || meta.authorPerson) {
    w.open('rim:Classification', {
      id: cls('author'),
      classificationScheme: XDS.author,
      classifiedObject: docEntry,
      nodeRepresentation: '',
      objectType: 'urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification',
    });
    if (meta.authorPerson) slot(w, 'authorPerson', meta.authorPerson);
    if (meta.authorInstitution) slot(w, 'authorInstitution', meta.authorInstitution);
    w.close('rim:Classification');
  }
  classification(w, cls('class'), XDS.classCode, docEntry, '34133-9', '2.16.840.1.113883.6.1', 'Summarization of Episode Note');
  classification(w, cls('confidentiality'), XDS.confidentialityCode, docEntry, 'N', '2.16.840.1.113883.5.25', 'normal');
  classification(
    w,
    cls('format'),
    XDS.formatCode,
    docEntry,
    'urn:hl7-org:sdwg:ccda-structuredBody:2.1',
    '1.3.6.1.4.1.19376.1.2.3',
    'C-CDA R2.1 structured body',
  );
  classification(
    w,
    cls('facility'),
    XDS.healthcareFacilityTypeCode,
    docEntry,
    '35971002',
    '2.16.840.1.113883.6.96',
    'Ambulatory care site',
  );
  classification(w, cls('practice'), XDS.practiceSettingCode, docEntry, '408443003', '2.16.840.1.113883.6.96', 'General medical practice');
  classification(w, cls('type'), XDS.typeCode, docEntry, '34133-9', '2.16.840.1.113883.6.1', 'Summarization of Episode Note');
  externalId(w, cls('de-patient'), XDS.dePatientId, docEntry, patientCx, 'XDSDocumentEntry.patientId');
  externalId(w, cls('de-unique'), XDS.deUniqueId, docEntry, xdsUniqueId(meta.documentId, root), 'XDSDocumentEntry.uniqueId');
  w.close('rim:ExtrinsicObject');

  w.open('rim:RegistryPackage', { id: subSet, objectType: 'urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage' });
  slot(w, 'submissionTime', time);
  localized(w, 'rim:Name', 'Patient record export');
  if (meta.authorInstitution || meta.authorPerson) {
    w.open('rim:Classification', {
      id: cls('ss-author'),
      classificationScheme: XDS.ssAuthor,
      classifiedObject: subSet,
      nodeRepresentation: '',
      objectType: 'urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification',
    });
    if (meta.authorPerson) slot(w, 'authorPerson', meta.authorPerson);
    if (meta.authorInstitution) slot(w, 'authorInstitution', meta.authorInstitution);
    w.close('rim:Classification');
  }
  classification(w, cls('content-type'), XDS.contentTypeCode, subSet, '34133-9', '2.16.840.1.113883.6.1', 'Summarization of Episode Note');
  externalId(
    w,
    cls('ss-unique'),
    XDS.ssUniqueId,
    subSet,
    xdsUniqueId(stableUuid('submission-set-unique', meta.documentId), root),
    'XDSSubmissionSet.uniqueId',
  );
  externalId(w, cls('ss-source'), XDS.ssSourceId, subSet, meta.sourceId, 'XDSSubmissionSet.sourceId');
  externalId(w, cls('ss-patient'), XDS.ssPatientId, subSet, patientCx, 'XDSSubmissionSet.patientId');
  w.close('rim:RegistryPackage');

  w.empty('rim:Classification', {
    id: cls('ss-classification'),
    classifiedObject: subSet,
    classificationNode: XDS.submissionSet,
    objectType: 'urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification',
  });
  w.open('rim:Association', {
    id: cls('has-member'),
    associationType: 'urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember',
    sourceObject: subSet,
    targetObject: docEntry,
    objectType: 'urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Association',
  });
  slot(w, 'SubmissionSetStatus', 'Original');
  w.close('rim:Association');

  w.close('rim:RegistryObjectList').close('lcm:SubmitObjectsRequest');
  return w.toString();
}
