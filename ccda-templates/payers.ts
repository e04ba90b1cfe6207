import type { Coverage, Organization, Patient, RelatedPerson } from '@medplum/fhirtypes';
import { codeSystemName, oidForSystemUri } from '../src/ccda/code-systems';
import {
  conceptText,
  isCdaCode,
  writeAddr,
  writeInterval,
  writeResourceId,
  writeTelecoms,
  writeTextRef,
} from '../src/ccda/render/cda-datatype-writers';
import { isEnteredInError, newestFirst } from '../src/ccda/render/fhir-read';
import { displayDateTime } from '../src/ccda/render/hl7-time';
import type { RenderContext } from '../src/ccda/render/render-context';
import type { XmlWriter } from '../src/ccda/render/xml-writer';
import type { NarrativeRow, SectionDefinition } from './section-definition';

const ACT_CODE_URI = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
const SOP_OID = '2.16.840.1.113883.3.221.5';
const ROLE_CODE = '2.16.840.1.113883.5.111';

/** Coverage.relationship (subscriber-relationship) -> HL7 RoleCode for the covered party. */
const RELATIONSHIP: Record<string, [string, string]> = {
  self: ['SELF', 'Self'],
  spouse: ['SPS', 'spouse'],
  child: ['CHILD', 'child'],
  parent: ['PRN', 'parent'],
  common: ['DOMPART', 'domestic partner'],
  other: ['DEPEN', 'dependent'],
};

function periodText(start: string | undefined, end: string | undefined): string {
  if (start && end) return `${displayDateTime(start)} to ${displayDateTime(end)}`;
  if (start) return `from ${displayDateTime(start)}`;
  if (end) return `until ${displayDateTime(end)}`;
  return '';
}

function payerOf(c: Coverage, ctx: RenderContext): Organization | Patient | RelatedPerson | undefined {
  return ctx.lookup.resolve(c.payor?.[0]);
}

function payerName(c: Coverage, ctx: RenderContext): string {
  const p = payerOf(c, ctx);
  if (p?.resourceType === 'Organization') return p.name ?? '';
  return c.payor?.[0]?.display ?? '';
}

function planName(c: Coverage): string {
  const plan = c.class?.find((k) => k.type?.coding?.some((x) => x.code === 'plan')) ?? c.class?.[0];
  return plan?.name ?? plan?.value ?? '';
}

function writePolicyCode(w: XmlWriter, c: Coverage): void {
  const typeCoding = c.type?.coding?.find((x) => x.system === ACT_CODE_URI && isCdaCode(x.code));
  const sop = (c.type?.coding ?? []).filter((x) => isCdaCode(x.code) && x.system && oidForSystemUri(x.system) === SOP_OID);
  w.open(
    'code',
    typeCoding
      ? {
          code: typeCoding.code,
          codeSystem: '2.16.840.1.113883.5.4',
          codeSystemName: codeSystemName('2.16.840.1.113883.5.4'),
          displayName: typeCoding.display,
        }
      : { nullFlavor: 'UNK' },
  );
  if (c.type?.text) w.element('originalText', c.type.text);
  // The template wants the payer type (Source of Payment Typology) as a translation, even when unknown.
  if (sop.length === 0) w.empty('translation', { nullFlavor: 'NI' });
  for (const s of sop)
    w.empty('translation', { code: s.code, codeSystem: SOP_OID, codeSystemName: codeSystemName(SOP_OID), displayName: s.display });
  w.close('code');
}

function writeCoverage(w: XmlWriter, row: NarrativeRow<Coverage>, ctx: RenderContext): void {
  const c = row.item;
  const payer = payerOf(c, ctx);
  w.open('entry', { typeCode: 'DRIV' });
  w.open('act', { classCode: 'ACT', moodCode: 'EVN' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.60', extension: '2015-08-01' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.60' });
  writeResourceId(w, ctx, c, 'coverage');
  w.empty('code', { code: '48768-6', codeSystem: '2.16.840.1.113883.6.1', codeSystemName: 'LOINC', displayName: 'Payment sources' });
  writeTextRef(w, row.id);
  w.empty('statusCode', { code: 'completed' });
  w.open('entryRelationship', { typeCode: 'COMP' });
  w.open('act', { classCode: 'ACT', moodCode: 'EVN' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.61', extension: '2015-08-01' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.61' });
  writeResourceId(w, ctx, c);
  writePolicyCode(w, c);
  writeTextRef(w, row.id);
  w.empty('statusCode', { code: 'completed' });
  if (c.period) writeInterval(w, 'effectiveTime', c.period.start, c.period.end);
  w.open('performer', { typeCode: 'PRF' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.87' });
  w.open('assignedEntity');
  if (payer) writeResourceId(w, ctx, payer);
  else w.empty('id', { nullFlavor: 'UNK' });
  w.empty('code', { code: 'PAYOR', codeSystem: '2.16.840.1.113883.5.110', codeSystemName: 'RoleClass', displayName: 'invoice payor' });
  if (payer?.resourceType === 'Organization') {
    writeAddr(w, payer.address?.[0]);
    writeTelecoms(w, payer.telecom);
  }
  const name = payerName(c, ctx);
  if (name) {
    w.open('representedOrganization');
    if (payer?.resourceType === 'Organization') writeResourceId(w, ctx, payer);
    w.element('name', name).close('representedOrganization');
  }
  w.close('assignedEntity').close('performer');
  w.open('participant', { typeCode: 'COV' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.89' });
  if (c.period) writeInterval(w, 'time', c.period.start, c.period.end);
  w.open('participantRole', { classCode: 'PAT' });
  w.empty('id', { root: ctx.idRoot, extension: `Coverage/${c.id ?? 'unknown'}#beneficiary${c.subscriberId ? `/${c.subscriberId}` : ''}` });
  const rel = RELATIONSHIP[c.relationship?.coding?.[0]?.code ?? ''];
  if (rel) w.empty('code', { code: rel[0], codeSystem: ROLE_CODE, codeSystemName: codeSystemName(ROLE_CODE), displayName: rel[1] });
  else w.empty('code', { nullFlavor: 'UNK' });
  w.close('participantRole').close('participant');
  // The plan itself, as the Policy Activity's required REFR target.
  w.open('entryRelationship', { typeCode: 'REFR' });
  w.open('act', { classCode: 'ACT', moodCode: 'DEF' });
  writeResourceId(w, ctx, c, 'plan');
  w.empty('code', { nullFlavor: 'NA' });
  writeTextRef(w, row.id);
  w.close('act').close('entryRelationship');
  w.close('act').close('entryRelationship');
  w.close('act').close('entry');
}

/** Payers Section (V3): the patient's insurance coverage. */
export const PAYERS_SECTION: SectionDefinition<Coverage> = {
  key: 'payers',
  title: 'Insurance Providers',
  templateId: { root: '2.16.840.1.113883.10.20.22.2.18', extension: '2015-08-01' },
  compatibleTemplateIds: [{ root: '2.16.840.1.113883.10.20.22.2.18' }],
  loinc: { code: '48768-6', displayName: 'Payment sources Document' },
  resourceTypes: ['Coverage'],
  whenEmpty: 'nullFlavor',
  emptyText: 'No insurance coverage is recorded for this period.',
  columns: [
    { header: 'Payer', cell: (c, ctx) => payerName(c, ctx) || 'Unknown payer' },
    { header: 'Plan', cell: (c) => planName(c) },
    { header: 'Type', cell: (c) => conceptText(c.type) },
    { header: 'Member ID', cell: (c) => c.subscriberId ?? '' },
    { header: 'Relationship', cell: (c) => conceptText(c.relationship) },
    { header: 'Coverage period', cell: (c) => periodText(c.period?.start, c.period?.end) },
  ],
  rows: (data) =>
    newestFirst(
      data.ofType<Coverage>('Coverage').filter((c) => !isEnteredInError(c)),
      (c) => c.period?.start,
    ),
  writeEntries: (w, rows, ctx) => {
    for (const row of rows) writeCoverage(w, row, ctx);
  },
};
