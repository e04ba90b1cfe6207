import type { Extension, Organization, Patient, Practitioner } from '@medplum/fhirtypes';
import { codeSystemName } from '../code-systems';
import { isCdaCode, writeAddr, writeIdentifier, writePersonName, writeTelecoms, writeTs } from './cda-datatype-writers';
import { toHl7Ts } from './hl7-time';
import type { RenderContext } from './render-context';
import type { XmlWriter } from './xml-writer';

const RACE_URL = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race';
const ETHNICITY_URL = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity';
const CDC_RACE = '2.16.840.1.113883.6.238';
const NULL_FLAVOR_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-NullFlavor';

/** What the header needs beyond the render context. */
export interface HeaderInput {
  readonly documentId: string;
  readonly title: string;
  readonly custodian: Organization;
  readonly author?: Practitioner | Organization;
  /** serviceEvent low/high as FHIR dates. */
  readonly serviceStart: string;
  readonly serviceEnd: string;
  readonly careTeam: readonly Practitioner[];
}

const GENDER: Record<string, [string, string]> = {
  male: ['M', 'Male'],
  female: ['F', 'Female'],
  other: ['UN', 'Undifferentiated'],
};

/** Writes everything in ClinicalDocument before `<component>`: US Realm Header + CCD header constraints. */
export function writeCcdHeader(w: XmlWriter, h: HeaderInput, ctx: RenderContext): void {
  w.empty('realmCode', { code: 'US' });
  w.empty('typeId', { root: '2.16.840.1.113883.1.3', extension: 'POCD_HD000040' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.1.1', extension: '2015-08-01' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.1.1' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.1.2', extension: '2015-08-01' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.1.2' });
  writeDocumentId(w, 'id', h.documentId, ctx);
  w.empty('code', {
    code: '34133-9',
    codeSystem: '2.16.840.1.113883.6.1',
    codeSystemName: 'LOINC',
    displayName: 'Summarization of Episode Note',
  });
  w.element('title', h.title);
  w.empty('effectiveTime', { value: ctx.nowTs });
  w.empty('confidentialityCode', { code: 'N', codeSystem: '2.16.840.1.113883.5.25', displayName: 'normal' });
  w.empty('languageCode', { code: 'en-US' });
  writeDocumentId(w, 'setId', h.documentId, ctx);
  w.empty('versionNumber', { value: '1' });
  writeRecordTarget(w, ctx.patient, ctx);
  writeAuthor(w, h.author, h.custodian, ctx);
  writeCustodian(w, h.custodian, ctx);
  writeServiceEvent(w, h, ctx);
}

function writeDocumentId(w: XmlWriter, tag: string, documentId: string, ctx: RenderContext): void {
  if (/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(documentId)) {
    w.empty(tag, { root: documentId.toUpperCase() });
  } else {
    w.empty(tag, { root: ctx.idRoot, extension: `document/${documentId}` });
  }
}

function writeRecordTarget(w: XmlWriter, p: Patient, ctx: RenderContext): void {
  w.open('recordTarget').open('patientRole');
  w.empty('id', { root: ctx.idRoot, extension: `Patient/${p.id ?? 'unknown'}` });
  for (const ident of p.identifier ?? []) writeIdentifier(w, 'id', ident);
  const addresses = (p.address ?? []).filter((a) => a.use !== 'old');
  if (addresses.length === 0) writeAddr(w, undefined);
  for (const a of addresses) writeAddr(w, a);
  writeTelecoms(w, p.telecom);
  w.open('patient');
  const names = (p.name ?? []).filter((n) => n.use !== 'old' && n.use !== 'maiden');
  if (names.length === 0) writePersonName(w, undefined);
  for (const n of names) writePersonName(w, n);
  const gender = p.gender ? GENDER[p.gender] : undefined;
  if (gender) {
    w.empty('administrativeGenderCode', {
      code: gender[0],
      codeSystem: '2.16.840.1.113883.5.1',
      codeSystemName: 'AdministrativeGender',
      displayName: gender[1],
    });
  } else {
    w.empty('administrativeGenderCode', { nullFlavor: 'UNK' });
  }
  writeTs(w, 'birthTime', p.birthDate, 'UNK');
  if (p.deceasedBoolean || p.deceasedDateTime) {
    w.empty('sdtc:deceasedInd', { value: 'true' });
    if (p.deceasedDateTime) writeTs(w, 'sdtc:deceasedTime', p.deceasedDateTime);
  }
  const marital = p.maritalStatus?.coding?.find(
    (c) => c.system === 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus' && isCdaCode(c.code),
  );
  if (marital) {
    w.empty('maritalStatusCode', {
      code: marital.code,
      codeSystem: '2.16.840.1.113883.5.2',
      codeSystemName: 'MaritalStatus',
      displayName: marital.display,
    });
  }
  writeOmb(w, p.extension, RACE_URL, 'raceCode', 'sdtc:raceCode');
  writeOmb(w, p.extension, ETHNICITY_URL, 'ethnicGroupCode', 'sdtc:ethnicGroupCode');
  for (const comm of p.communication ?? []) {
    const lang = comm.language?.coding?.find((c) => isCdaCode(c.code))?.code;
    if (!lang) continue;
    w.open('languageCommunication');
    w.empty('languageCode', { code: lang });
    if (comm.preferred !== undefined) w.empty('preferenceInd', { value: String(comm.preferred) });
    w.close('languageCommunication');
  }
  w.close('patient');
  w.close('patientRole').close('recordTarget');
}

/** Race/ethnicity from the US Core extension: first OMB category as the main code, the rest as sdtc codes. */
function writeOmb(w: XmlWriter, extensions: Extension[] | undefined, url: string, tag: string, sdtcTag: string): void {
  const ext = extensions?.find((e) => e.url === url);
  const parts = ext?.extension ?? [];
  const omb = parts.filter((e) => e.url === 'ombCategory' && isCdaCode(e.valueCoding?.code)).map((e) => e.valueCoding!);
  const detailed = parts.filter((e) => e.url === 'detailed' && isCdaCode(e.valueCoding?.code)).map((e) => e.valueCoding!);
  const nullCode = omb.find((c) => c.system === NULL_FLAVOR_SYSTEM);
  const real = omb.filter((c) => c.system !== NULL_FLAVOR_SYSTEM);
  if (real.length === 0) {
    w.empty(tag, { nullFlavor: nullCode?.code === 'ASKU' ? 'ASKU' : 'UNK' });
    return;
  }
  const attrs = (c: { code?: string; display?: string }): Record<string, string | undefined> => ({
    code: c.code,
    codeSystem: CDC_RACE,
    codeSystemName: codeSystemName(CDC_RACE),
    displayName: c.display,
  });
  w.empty(tag, attrs(real[0]));
  for (const c of [...real.slice(1), ...detailed]) w.empty(sdtcTag, attrs(c));
}

function writeOrganizationBody(w: XmlWriter, org: Organization, ctx: RenderContext, oneTelecom: boolean): void {
  w.empty('id', { root: ctx.idRoot, extension: `Organization/${org.id ?? 'unknown'}` });
  for (const ident of org.identifier ?? []) writeIdentifier(w, 'id', ident);
  if (org.name) w.element('name', org.name);
  else w.empty('name', { nullFlavor: 'UNK' });
  writeTelecoms(w, org.telecom, oneTelecom ? 1 : Infinity);
  writeAddr(w, org.address?.[0]);
}

function writeAuthor(w: XmlWriter, author: Practitioner | Organization | undefined, custodian: Organization, ctx: RenderContext): void {
  w.open('author');
  w.empty('time', { value: ctx.nowTs });
  w.open('assignedAuthor');
  if (author?.resourceType === 'Practitioner') {
    w.empty('id', { root: ctx.idRoot, extension: `Practitioner/${author.id ?? 'unknown'}` });
    for (const ident of author.identifier ?? []) writeIdentifier(w, 'id', ident);
    writeAddr(w, author.address?.[0]);
    writeTelecoms(w, author.telecom);
    w.open('assignedPerson');
    writePersonName(w, author.name?.[0]);
    w.close('assignedPerson');
  } else {
    // No person authored this summary: the software did, on behalf of the organization.
    const org = author ?? custodian;
    w.empty('id', { root: ctx.idRoot, extension: 'Device/chartkeeper' });
    writeAddr(w, org.address?.[0]);
    writeTelecoms(w, org.telecom);
    w.open('assignedAuthoringDevice');
    w.element('manufacturerModelName', 'Chartkeeper');
    w.element('softwareName', 'Chartkeeper C-CDA renderer');
    w.close('assignedAuthoringDevice');
    w.open('representedOrganization');
    writeOrganizationBody(w, org, ctx, false);
    w.close('representedOrganization');
  }
  w.close('assignedAuthor').close('author');
}

function writeCustodian(w: XmlWriter, org: Organization, ctx: RenderContext): void {
  w.open('custodian').open('assignedCustodian').open('representedCustodianOrganization');
  writeOrganizationBody(w, org, ctx, true);
  w.close('representedCustodianOrganization').close('assignedCustodian').close('custodian');
}

function writeServiceEvent(w: XmlWriter, h: HeaderInput, ctx: RenderContext): void {
  w.open('documentationOf').open('serviceEvent', { classCode: 'PCPR' });
  w.open('effectiveTime');
  w.empty('low', { value: toHl7Ts(h.serviceStart) ?? ctx.nowTs.slice(0, 8) });
  w.empty('high', { value: toHl7Ts(h.serviceEnd) ?? ctx.nowTs.slice(0, 8) });
  w.close('effectiveTime');
  for (const pr of h.careTeam) {
    w.open('performer', { typeCode: 'PRF' }).open('assignedEntity');
    w.empty('id', { root: ctx.idRoot, extension: `Practitioner/${pr.id ?? 'unknown'}` });
    for (const ident of pr.identifier ?? []) writeIdentifier(w, 'id', ident);
    if (pr.address?.[0]) writeAddr(w, pr.address[0]);
    for (const t of pr.telecom ?? []) if (t.value) writeTelecoms(w, [t]);
    w.open('assignedPerson');
    writePersonName(w, pr.name?.[0]);
    w.close('assignedPerson');
    w.close('assignedEntity').close('performer');
  }
  w.close('serviceEvent').close('documentationOf');
}
