import type { Extension, Patient } from '@medplum/fhirtypes';
import type { CcdaDocumentInfo, CcdaDocumentKind } from './ccda-import-types';
import { address, codeableConcept, contactPoint, dateOnly, dateTime, humanName, identifier, identifiers } from './cda-datatype-readers';
import type { ImportContext } from './import-context';
import { mapOrganization } from './participant-map';
import { XNode, attr, child, children, path, textOf } from './xml-node';

const DOCUMENT_TEMPLATES: Record<string, CcdaDocumentKind> = {
  '2.16.840.1.113883.10.20.22.1.2': 'ccd',
  '2.16.840.1.113883.10.20.22.1.14': 'referral-note',
  '2.16.840.1.113883.10.20.22.1.8': 'discharge-summary',
  '2.16.840.1.113883.10.20.22.1.9': 'progress-note',
  '2.16.840.1.113883.10.20.22.1.4': 'consultation-note',
  '2.16.840.1.113883.10.20.22.1.3': 'history-and-physical',
  '2.16.840.1.113883.10.20.22.1.13': 'transfer-summary',
  '2.16.840.1.113883.10.20.22.1.15': 'care-plan',
  '2.16.840.1.113883.10.20.22.1.10': 'unstructured',
  '2.16.840.1.113883.10.20.22.1.7': 'operative-note',
  '2.16.840.1.113883.10.20.22.1.6': 'procedure-note',
  '2.16.840.1.113883.10.20.22.1.5': 'diagnostic-imaging-report',
};

/** Document LOINC codes for documents whose templateIds do not say (older or vendor headers). */
const DOCUMENT_CODES: Record<string, CcdaDocumentKind> = {
  '34133-9': 'ccd',
  '57133-1': 'referral-note',
  '18842-5': 'discharge-summary',
  '11490-0': 'discharge-summary',
  '11506-3': 'progress-note',
  '11488-4': 'consultation-note',
  '34847-4': 'consultation-note',
  '34117-2': 'history-and-physical',
  '18761-7': 'transfer-summary',
  '52521-2': 'care-plan',
  '81334-5': 'care-plan',
  '11504-8': 'operative-note',
  '28570-0': 'procedure-note',
  '18748-4': 'diagnostic-imaging-report',
};

const US_REALM_HEADER = '2.16.840.1.113883.10.20.22.1.1';

/** What kind of C-CDA document this is, and which release its header declares. */
export function documentInfo(root: XNode, ctx: ImportContext): CcdaDocumentInfo {
  const templates = children(root, 'templateId');
  const templateIds = templates.map((t) => (attr(t, 'extension') ? `${attr(t, 'root')}:${attr(t, 'extension')}` : (attr(t, 'root') ?? '')));
  let kind: CcdaDocumentKind | undefined;
  for (const t of templates) kind ??= DOCUMENT_TEMPLATES[attr(t, 'root') ?? ''];
  const code = child(root, 'code');
  const typeCode = attr(code, 'code');
  if (child(child(root, 'component'), 'nonXMLBody')) kind = 'unstructured';
  kind ??= DOCUMENT_CODES[typeCode ?? ''] ?? 'unknown';
  // The US Realm Header's extension names the release; documents that omit the header template (HL7's
  // own R2.1 CCD example does) still date their document-type template.
  const cdaTemplates = templates.filter((t) => attr(t, 'root') === US_REALM_HEADER || DOCUMENT_TEMPLATES[attr(t, 'root') ?? '']);
  const ext = attr(
    cdaTemplates.find((t) => attr(t, 'root') === US_REALM_HEADER && attr(t, 'extension')) ?? cdaTemplates.find((t) => attr(t, 'extension')),
    'extension',
  );
  const release = ext === '2015-08-01' ? 'R2.1' : ext === '2014-06-09' ? 'R2.0' : cdaTemplates.length ? 'R1.1' : 'unknown';
  const version = Number(attr(child(root, 'versionNumber'), 'value'));
  return {
    kind,
    release,
    templateIds,
    id: identifier(child(root, 'id')),
    setId: identifier(child(root, 'setId')),
    versionNumber: Number.isFinite(version) && version > 0 ? version : undefined,
    typeCode,
    typeDisplay: attr(code, 'displayName'),
    title: textOf(child(root, 'title')),
    effectiveTime: dateTime(attr(child(root, 'effectiveTime'), 'value'), ctx),
  };
}

const GENDER: Record<string, Patient['gender']> = { M: 'male', F: 'female', UN: 'other', U: 'unknown' };
const OMB_RACE = new Set(['1002-5', '2028-9', '2054-5', '2076-8', '2106-3']);
const OMB_ETHNICITY = new Set(['2135-2', '2186-5']);
const RACE_SYSTEM = 'urn:oid:2.16.840.1.113883.6.238';

/** The Patient of the document, from recordTarget/patientRole (an empty Patient, with a warning, if absent). */
export function mapPatient(root: XNode, ctx: ImportContext): Patient {
  const targets = children(root, 'recordTarget');
  if (targets.length > 1) ctx.warn('More than one recordTarget; the first is the patient');
  const role = path(targets[0], 'patientRole');
  const person = child(role, 'patient');
  const patient: Patient = { resourceType: 'Patient' };
  if (!role) {
    ctx.warn('The document has no recordTarget/patientRole; the Patient has no demographics');
    return patient;
  }
  const ids = identifiers(role);
  if (ids.length) patient.identifier = ids;
  const names = children(person, 'name')
    .map(humanName)
    .filter((n) => n !== undefined);
  if (names.length) patient.name = names;
  const telecom = children(role, 'telecom')
    .map(contactPoint)
    .filter((t) => t !== undefined);
  if (telecom.length) patient.telecom = telecom;
  const genderCode = child(person, 'administrativeGenderCode');
  const gender = GENDER[attr(genderCode, 'code') ?? ''];
  if (gender) patient.gender = gender;
  else if (genderCode && attr(genderCode, 'nullFlavor')) patient.gender = 'unknown';
  const birthDate = dateOnly(attr(child(person, 'birthTime'), 'value'), ctx);
  if (birthDate) patient.birthDate = birthDate;
  const deceasedTime = dateTime(attr(child(person, 'sdtc:deceasedTime'), 'value'), ctx);
  if (deceasedTime) patient.deceasedDateTime = deceasedTime;
  else if (attr(child(person, 'sdtc:deceasedInd'), 'value') === 'true') patient.deceasedBoolean = true;
  const addresses = children(role, 'addr')
    .map(address)
    .filter((a) => a !== undefined);
  if (addresses.length) patient.address = addresses;
  const marital = codeableConcept(child(person, 'maritalStatusCode'), ctx);
  if (marital?.coding) patient.maritalStatus = marital;
  const extensions = [
    ...raceOrEthnicity(
      'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race',
      [child(person, 'raceCode'), ...children(person, 'sdtc:raceCode')],
      OMB_RACE,
    ),
    ...raceOrEthnicity(
      'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity',
      [child(person, 'ethnicGroupCode'), ...children(person, 'sdtc:ethnicGroupCode')],
      OMB_ETHNICITY,
    ),
  ];
  if (extensions.length) patient.extension = extensions;
  const languages = children(person, 'languageCommunication')
    .map((lc) => {
      const code = attr(child(lc, 'languageCode'), 'code');
      if (!code) return undefined;
      const preferred = attr(child(lc, 'preferenceInd'), 'value') === 'true';
      return { language: { coding: [{ system: 'urn:ietf:bcp:47', code }] }, ...(preferred ? { preferred } : {}) };
    })
    .filter((c) => c !== undefined);
  if (languages.length) patient.communication = languages;
  const org = mapOrganization(child(role, 'providerOrganization'), ctx);
  if (org) patient.managingOrganization = org;
  return patient;
}

function raceOrEthnicity(url: string, nodes: (XNode | undefined)[], omb: ReadonlySet<string>): Extension[] {
  const parts: Extension[] = [];
  const texts: string[] = [];
  for (const node of nodes) {
    const code = attr(node, 'code');
    if (!code || attr(node, 'nullFlavor')) continue;
    const display = attr(node, 'displayName');
    parts.push({
      url: omb.has(code) ? 'ombCategory' : 'detailed',
      valueCoding: { system: RACE_SYSTEM, code, ...(display ? { display } : {}) },
    });
    if (display) texts.push(display);
  }
  if (parts.length === 0) return [];
  return [
    { url, extension: [...parts, { url: 'text', valueString: texts.join(', ') || parts.map((p) => p.valueCoding?.code).join(', ') }] },
  ];
}
