import type { Condition } from '@medplum/fhirtypes';
import {
  conceptText,
  writeCode,
  writeFixedCode,
  writeInterval,
  writeResourceId,
  writeTextRef,
} from '../src/ccda/render/cda-datatype-writers';
import { writeAuthorParticipation } from '../src/ccda/render/author-participation';
import { categoryCodes, isEnteredInError, newestFirst } from '../src/ccda/render/fhir-read';
import { assertionName, hasNoInformation, isNoKnown, isRefuted, isUnconfirmed } from '../src/ccda/render/clinical-assertion';
import { displayDateTime } from '../src/ccda/render/hl7-time';
import type { RenderContext } from '../src/ccda/render/render-context';
import type { XmlWriter } from '../src/ccda/render/xml-writer';
import { onePerRow, type NarrativeRow, type SectionDefinition } from './section-definition';

const SNOMED = '2.16.840.1.113883.6.96';
const LOINC = '2.16.840.1.113883.6.1';
const SNOMED_URI = 'http://snomed.info/sct';
const ICD10_URI = 'http://hl7.org/fhir/sid/icd-10-cm';

/** Whether a Condition is still a concern (active, recurrence, relapse). */
export function isActiveCondition(c: Condition): boolean {
  const s = c.clinicalStatus?.coding?.[0]?.code;
  return s === 'active' || s === 'recurrence' || s === 'relapse';
}

/** Writes a Problem Observation (V3) for a Condition; used by the Problem and Health Concern sections. */
export function writeProblemObservation(
  w: XmlWriter,
  c: Condition,
  ctx: RenderContext,
  rowId: string,
  valueTextRef: string | undefined = `${rowId}-name`,
): void {
  const diagnosis = categoryCodes(c.category).includes('encounter-diagnosis');
  // A refuted problem is stated as denied (negationInd), and "no current problems" as the negated generic
  // Problem code (C-CDA R2.1 Companion Guide): never as a problem the patient has.
  const noKnown = isNoKnown(c.code);
  const negated = noKnown || isRefuted(c.verificationStatus);
  w.open('observation', { classCode: 'OBS', moodCode: 'EVN', negationInd: negated ? 'true' : undefined });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.4', extension: '2015-08-01' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.4' });
  writeResourceId(w, ctx, c);
  const [type, typeName, loinc, loincName] = diagnosis
    ? ['282291009', 'Diagnosis', '29308-4', 'Diagnosis']
    : ['55607006', 'Problem', '75326-9', 'Problem'];
  w.open('code', { code: type, codeSystem: SNOMED, codeSystemName: 'SNOMED CT', displayName: typeName });
  w.empty('translation', { code: loinc, codeSystem: LOINC, codeSystemName: 'LOINC', displayName: loincName });
  w.close('code');
  writeTextRef(w, rowId);
  w.empty('statusCode', { code: 'completed' });
  const onset = c.onsetDateTime ?? c.onsetPeriod?.start;
  const abatement = c.abatementDateTime ?? c.abatementPeriod?.end;
  writeInterval(w, 'effectiveTime', onset, abatement, { highNullFlavor: !isActiveCondition(c) && !abatement ? 'UNK' : undefined });
  if (noKnown) {
    w.open('value', { 'xsi:type': 'CD', code: '55607006', codeSystem: SNOMED, codeSystemName: 'SNOMED CT', displayName: 'Problem' });
    if (valueTextRef)
      w.open('originalText')
        .empty('reference', { value: `#${valueTextRef}` })
        .close('originalText');
    w.close('value');
  } else if (hasNoInformation(c.code)) {
    writeCode(w, 'value', undefined, { xsiType: 'CD', nullFlavor: 'NI' });
  } else {
    writeCode(w, 'value', c.code, { xsiType: 'CD', textRef: valueTextRef, prefer: [SNOMED_URI, ICD10_URI] });
  }
  writeAuthorParticipation(w, ctx, c.recorder ?? c.asserter, c.recordedDate);
  w.close('observation');
}

/** Writes a Problem Concern Act (V3) around the Problem Observation. */
function writeProblemConcern(w: XmlWriter, row: NarrativeRow<Condition>, ctx: RenderContext): void {
  const c = row.item;
  const active = isActiveCondition(c);
  const abatement = c.abatementDateTime ?? c.abatementPeriod?.end;
  w.open('act', { classCode: 'ACT', moodCode: 'EVN' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.3', extension: '2015-08-01' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.3' });
  writeResourceId(w, ctx, c, 'concern');
  writeFixedCode(w, 'code', 'CONC', '2.16.840.1.113883.5.6', 'Concern');
  writeTextRef(w, row.id);
  w.empty('statusCode', { code: active ? 'active' : 'completed' });
  writeInterval(w, 'effectiveTime', c.recordedDate ?? c.onsetDateTime ?? c.onsetPeriod?.start, active ? undefined : abatement, {
    highNullFlavor: active ? undefined : 'UNK',
  });
  w.open('entryRelationship', { typeCode: 'SUBJ' });
  writeProblemObservation(w, c, ctx, row.id);
  w.close('entryRelationship');
  w.close('act');
}

/** The Status cell: what the record asserts, in words (ccda-templates/README.md, "What each status says"). */
export function conditionStatusWords(c: Condition): string {
  if (isRefuted(c.verificationStatus)) return 'No: denied';
  if (isNoKnown(c.code)) return 'None known';
  if (hasNoInformation(c.code)) return '';
  const clinical = c.clinicalStatus?.coding?.[0]?.code ?? '';
  return isUnconfirmed(c.verificationStatus) ? `${clinical ? `${clinical}, ` : ''}unconfirmed` : clinical;
}

/** Narrative columns shared by the Problem and Health Concern sections. */
export const CONDITION_COLUMNS = [
  { header: 'Problem', cell: (c: Condition) => assertionName(c.code, conceptText(c.code)) },
  { header: 'Status', cell: conditionStatusWords },
  { header: 'Onset', cell: (c: Condition) => displayDateTime(c.onsetDateTime ?? c.onsetPeriod?.start) },
  { header: 'Resolved', cell: (c: Condition) => displayDateTime(c.abatementDateTime ?? c.abatementPeriod?.end) },
];

/** Problem Section (entries required) (V3): problem-list items and encounter diagnoses. */
export const PROBLEMS_SECTION: SectionDefinition<Condition> = {
  key: 'problems',
  title: 'Problems',
  templateId: { root: '2.16.840.1.113883.10.20.22.2.5.1', extension: '2015-08-01' },
  compatibleTemplateIds: [{ root: '2.16.840.1.113883.10.20.22.2.5.1' }],
  loinc: { code: '11450-4', displayName: 'Problem list - Reported' },
  resourceTypes: ['Condition'],
  whenEmpty: 'nullFlavor',
  emptyText: 'No information about problems is recorded for this period.',
  columns: CONDITION_COLUMNS,
  rows: (data) =>
    newestFirst(
      data.ofType<Condition>('Condition').filter((c) => !isEnteredInError(c) && !categoryCodes(c.category).includes('health-concern')),
      (c) => c.onsetDateTime ?? c.onsetPeriod?.start ?? c.recordedDate,
    ),
  writeEntries: onePerRow(writeProblemConcern),
};

/** Writes a Health Concern Act (V2) holding the concern's Problem Observation. */
function writeHealthConcern(w: XmlWriter, row: NarrativeRow<Condition>, ctx: RenderContext): void {
  const c = row.item;
  w.open('act', { classCode: 'ACT', moodCode: 'EVN' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.132', extension: '2015-08-01' });
  writeResourceId(w, ctx, c, 'concern');
  writeFixedCode(w, 'code', '75310-3', LOINC, 'Health concerns Document');
  writeTextRef(w, row.id);
  w.empty('statusCode', { code: isActiveCondition(c) ? 'active' : 'completed' });
  w.open('entryRelationship', { typeCode: 'REFR' });
  writeProblemObservation(w, c, ctx, row.id);
  w.close('entryRelationship');
  w.close('act');
}

/** Health Concerns Section (V2): Conditions in the health-concern category. */
export const HEALTH_CONCERNS_SECTION: SectionDefinition<Condition> = {
  key: 'concerns',
  title: 'Health Concerns',
  templateId: { root: '2.16.840.1.113883.10.20.22.2.58', extension: '2015-08-01' },
  compatibleTemplateIds: [],
  loinc: { code: '75310-3', displayName: 'Health concerns Document' },
  resourceTypes: ['Condition'],
  whenEmpty: 'nullFlavor',
  emptyText: 'No health concerns are recorded for this period.',
  columns: CONDITION_COLUMNS,
  rows: (data) =>
    newestFirst(
      data.ofType<Condition>('Condition').filter((c) => !isEnteredInError(c) && categoryCodes(c.category).includes('health-concern')),
      (c) => c.onsetDateTime ?? c.recordedDate,
    ),
  writeEntries: onePerRow(writeHealthConcern),
};
