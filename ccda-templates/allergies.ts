import type { AllergyIntolerance, AllergyIntoleranceReaction, CodeableConcept } from '@medplum/fhirtypes';
import {
  conceptText,
  writeCode,
  writeFixedCode,
  writeInterval,
  writeResourceId,
  writeTextRef,
} from '../src/ccda/render/cda-datatype-writers';
import { writeAuthorParticipation } from '../src/ccda/render/author-participation';
import { isEnteredInError, newestFirst } from '../src/ccda/render/fhir-read';
import { NO_INFORMATION, hasNoInformation, isRefuted } from '../src/ccda/render/clinical-assertion';
import { displayDateTime } from '../src/ccda/render/hl7-time';
import type { RenderContext } from '../src/ccda/render/render-context';
import type { XmlWriter } from '../src/ccda/render/xml-writer';
import { onePerRow, type NarrativeRow, type SectionDefinition } from './section-definition';

const SNOMED = '2.16.840.1.113883.6.96';
const SNOMED_URI = 'http://snomed.info/sct';
const RXNORM_URI = 'http://www.nlm.nih.gov/research/umls/rxnorm';

/** SNOMED codes FHIR uses for "no known allergy" assertions, with the allergy type each negates. */
const NO_KNOWN: Record<string, [string, string]> = {
  '716186003': ['419199007', 'Allergy to substance (disorder)'],
  '409137002': ['416098002', 'Drug allergy (disorder)'],
  '429625007': ['414285001', 'Food allergy (disorder)'],
  '428607008': ['426232007', 'Environmental allergy (disorder)'],
};

function allergyType(a: AllergyIntolerance): [string, string] {
  const cat = a.category?.[0];
  const intolerance = a.type === 'intolerance';
  if (cat === 'medication') return intolerance ? ['59037007', 'Drug intolerance (disorder)'] : ['416098002', 'Drug allergy (disorder)'];
  if (cat === 'food') return intolerance ? ['235719002', 'Food intolerance (disorder)'] : ['414285001', 'Food allergy (disorder)'];
  if (cat === 'environment' && !intolerance) return ['426232007', 'Environmental allergy (disorder)'];
  if (a.type === 'allergy') return ['419199007', 'Allergy to substance (disorder)'];
  return ['420134006', 'Propensity to adverse reactions (disorder)'];
}

const SEVERITY: Record<string, [string, string]> = {
  mild: ['255604002', 'Mild (qualifier value)'],
  moderate: ['6736007', 'Moderate (severity modifier) (qualifier value)'],
  severe: ['24484000', 'Severe (severity modifier) (qualifier value)'],
};

function noKnownType(a: AllergyIntolerance): [string, string] | undefined {
  const code = a.code?.coding?.find((c) => c.system === SNOMED_URI && c.code && NO_KNOWN[c.code]);
  return code ? NO_KNOWN[code.code as string] : undefined;
}

function isActive(a: AllergyIntolerance): boolean {
  const s = a.clinicalStatus?.coding?.[0]?.code;
  return s === undefined || s === 'active';
}

function reactionsText(a: AllergyIntolerance): string {
  return (a.reaction ?? [])
    .map((r) => (r.manifestation ?? []).map(conceptText).join(', ') + (r.severity ? ` (${r.severity})` : ''))
    .filter(Boolean)
    .join('; ');
}

function writeSeverity(w: XmlWriter, severity: string | undefined): void {
  const sev = severity ? SEVERITY[severity] : undefined;
  if (!sev) return;
  w.open('entryRelationship', { typeCode: 'SUBJ', inversionInd: 'true' });
  w.open('observation', { classCode: 'OBS', moodCode: 'EVN' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.8', extension: '2014-06-09' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.8' });
  writeFixedCode(w, 'code', 'SEV', '2.16.840.1.113883.5.4', 'Severity Observation');
  w.empty('statusCode', { code: 'completed' });
  writeFixedCode(w, 'value', sev[0], SNOMED, sev[1], 'CD');
  w.close('observation').close('entryRelationship');
}

function writeReaction(
  w: XmlWriter,
  a: AllergyIntolerance,
  r: AllergyIntoleranceReaction,
  i: number,
  m: CodeableConcept,
  ctx: RenderContext,
  rowId: string,
): void {
  w.open('entryRelationship', { typeCode: 'MFST', inversionInd: 'true' });
  w.open('observation', { classCode: 'OBS', moodCode: 'EVN' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.9', extension: '2014-06-09' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.9' });
  writeResourceId(w, ctx, a, `reaction-${i}`);
  writeFixedCode(w, 'code', 'ASSERTION', '2.16.840.1.113883.5.4');
  writeTextRef(w, rowId);
  w.empty('statusCode', { code: 'completed' });
  if (r.onset) writeInterval(w, 'effectiveTime', r.onset, undefined);
  writeCode(w, 'value', m, { xsiType: 'CD', prefer: [SNOMED_URI] });
  writeSeverity(w, r.severity);
  w.close('observation').close('entryRelationship');
}

function writeAllergyEntry(w: XmlWriter, row: NarrativeRow<AllergyIntolerance>, ctx: RenderContext): void {
  const a = row.item;
  const active = isActive(a);
  const noKnown = noKnownType(a);
  // A refuted allergy is written as denied (negationInd with its allergen), never left out: the receiver must
  // know the patient was found not to be allergic. With no allergen at all it is the "no information" pattern.
  const refuted = !noKnown && isRefuted(a.verificationStatus);
  const noInformation = !noKnown && hasNoInformation(a.code);
  const onset = a.onsetDateTime ?? a.onsetPeriod?.start;
  w.open('act', { classCode: 'ACT', moodCode: 'EVN' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.30', extension: '2015-08-01' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.30' });
  writeResourceId(w, ctx, a, 'concern');
  writeFixedCode(w, 'code', 'CONC', '2.16.840.1.113883.5.6', 'Concern');
  writeTextRef(w, row.id);
  w.empty('statusCode', { code: active ? 'active' : 'completed' });
  writeInterval(w, 'effectiveTime', a.recordedDate ?? onset, active ? undefined : a.lastOccurrence, {
    highNullFlavor: active ? undefined : 'UNK',
  });
  w.open('entryRelationship', { typeCode: 'SUBJ' });
  w.open('observation', { classCode: 'OBS', moodCode: 'EVN', negationInd: noKnown || refuted ? 'true' : undefined });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.7', extension: '2014-06-09' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.7' });
  writeResourceId(w, ctx, a);
  writeFixedCode(w, 'code', 'ASSERTION', '2.16.840.1.113883.5.4', 'Assertion');
  writeTextRef(w, row.id);
  w.empty('statusCode', { code: 'completed' });
  writeInterval(w, 'effectiveTime', onset, undefined, { lowNullFlavor: noKnown ? 'NA' : 'UNK' });
  const type = noKnown ?? allergyType(a);
  w.open('value', { 'xsi:type': 'CD', code: type[0], codeSystem: SNOMED, codeSystemName: 'SNOMED CT', displayName: type[1] });
  w.open('originalText')
    .empty('reference', { value: `#${row.id}-name` })
    .close('originalText');
  w.close('value');
  writeAuthorParticipation(w, ctx, a.recorder ?? a.asserter, a.recordedDate);
  w.open('participant', { typeCode: 'CSM' }).open('participantRole', { classCode: 'MANU' });
  w.open('playingEntity', { classCode: 'MMAT' });
  if (noKnown) w.empty('code', { nullFlavor: 'NA' });
  else if (noInformation) w.empty('code', { nullFlavor: 'NI' });
  else writeCode(w, 'code', a.code, { textRef: `${row.id}-name`, prefer: [RXNORM_URI, SNOMED_URI] });
  w.close('playingEntity').close('participantRole').close('participant');
  if (!noKnown && !refuted) {
    (a.reaction ?? []).forEach((r, i) => {
      (r.manifestation ?? []).forEach((m, j) => writeReaction(w, a, r, i * 10 + j, m, ctx, row.id));
    });
  }
  w.close('observation').close('entryRelationship');
  w.close('act');
}

/** The Type cell: the allergy type, or what the row denies ("No known allergy", "No drug allergy (denied)"). */
function allergyTypeWords(a: AllergyIntolerance): string {
  const type = allergyType(a)[1].replace(/ \(disorder\)$/, '');
  if (noKnownType(a)) return 'No known allergy';
  if (isRefuted(a.verificationStatus)) return `No ${type.toLowerCase()} (denied)`;
  return type;
}

/** Allergies and Intolerances Section (entries required) (V3). */
export const ALLERGIES_SECTION: SectionDefinition<AllergyIntolerance> = {
  key: 'allergies',
  title: 'Allergies and Intolerances',
  templateId: { root: '2.16.840.1.113883.10.20.22.2.6.1', extension: '2015-08-01' },
  compatibleTemplateIds: [{ root: '2.16.840.1.113883.10.20.22.2.6.1' }],
  loinc: { code: '48765-2', displayName: 'Allergies and adverse reactions Document' },
  resourceTypes: ['AllergyIntolerance'],
  whenEmpty: 'nullFlavor',
  emptyText: 'No information about allergies or intolerances is recorded for this period.',
  columns: [
    { header: 'Substance', cell: (a) => (noKnownType(a) || !hasNoInformation(a.code) ? conceptText(a.code) : NO_INFORMATION) },
    { header: 'Type', cell: allergyTypeWords },
    { header: 'Reaction', cell: reactionsText },
    { header: 'Criticality', cell: (a) => a.criticality ?? '' },
    { header: 'Status', cell: (a) => (isRefuted(a.verificationStatus) ? 'No: denied' : (a.clinicalStatus?.coding?.[0]?.code ?? 'active')) },
    { header: 'Onset', cell: (a) => displayDateTime(a.onsetDateTime ?? a.onsetPeriod?.start) },
  ],
  rows: (data) =>
    newestFirst(
      data.ofType<AllergyIntolerance>('AllergyIntolerance').filter((a) => !isEnteredInError(a)),
      (a) => a.recordedDate ?? a.onsetDateTime,
    ),
  writeEntries: onePerRow(writeAllergyEntry),
};
