import type { Observation } from '@medplum/fhirtypes';
import {
  codableCodings,
  conceptText,
  writeCode,
  writeFixedCode,
  writeResourceId,
  writeTextRef,
} from '../src/ccda/render/cda-datatype-writers';
import { categoryCodes, hasCode, isEnteredInError, newestFirst, observationTime } from '../src/ccda/render/fhir-read';
import { displayDateTime, toHl7Ts } from '../src/ccda/render/hl7-time';
import { valueText, writeObservationValue } from '../src/ccda/render/observation-value';
import type { RenderContext } from '../src/ccda/render/render-context';
import type { XmlWriter } from '../src/ccda/render/xml-writer';
import { onePerRow, type NarrativeRow, type SectionDefinition } from './section-definition';

const BIRTH_SEX_URL = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex';
const LOINC = '2.16.840.1.113883.6.1';

/** A social history row: an Observation, or the patient's sex assigned at birth (US Core extension). */
export type SocialHistoryRow =
  { readonly kind: 'observation'; readonly observation: Observation } | { readonly kind: 'birth-sex'; readonly code: string };

const BIRTH_SEX: Record<string, string> = { F: 'Female', M: 'Male', UNK: 'Unknown' };

/** Whether an Observation records tobacco smoking status (LOINC 72166-2). */
export function isSmokingStatus(o: Observation): boolean {
  return hasCode(o.code, ['72166-2']);
}

function writeSmokingStatus(w: XmlWriter, o: Observation, ctx: RenderContext, rowId: string): void {
  w.open('observation', { classCode: 'OBS', moodCode: 'EVN' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.78', extension: '2014-06-09' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.78' });
  writeResourceId(w, ctx, o);
  writeFixedCode(w, 'code', '72166-2', LOINC, 'Tobacco smoking status NHIS');
  writeTextRef(w, rowId);
  w.empty('statusCode', { code: 'completed' });
  const t = toHl7Ts(observationTime(o).start);
  w.empty('effectiveTime', t ? { value: t } : { nullFlavor: 'UNK' });
  writeCode(w, 'value', o.valueCodeableConcept, { xsiType: 'CD', prefer: ['http://snomed.info/sct'] });
  w.close('observation');
}

function writeSocialHistoryObservation(w: XmlWriter, o: Observation, ctx: RenderContext, rowId: string): void {
  w.open('observation', { classCode: 'OBS', moodCode: 'EVN' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.38', extension: '2015-08-01' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.38' });
  writeResourceId(w, ctx, o);
  writeCode(w, 'code', o.code, { textRef: `${rowId}-name`, prefer: ['http://loinc.org'], translationUnlessSystem: LOINC });
  writeTextRef(w, rowId);
  w.empty('statusCode', { code: 'completed' });
  const { start, end } = observationTime(o);
  if (end && end !== start) {
    w.open('effectiveTime');
    const s = toHl7Ts(start);
    w.empty('low', s ? { value: s } : { nullFlavor: 'UNK' });
    w.empty('high', { value: toHl7Ts(end) });
    w.close('effectiveTime');
  } else {
    const t = toHl7Ts(start);
    w.empty('effectiveTime', t ? { value: t } : { nullFlavor: 'UNK' });
  }
  writeObservationValue(w, o);
  w.close('observation');
}

function writeBirthSex(w: XmlWriter, code: string, rowId: string, ctx: RenderContext): void {
  w.open('observation', { classCode: 'OBS', moodCode: 'EVN' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.200', extension: '2016-06-01' });
  // Named after the Patient it is read from, so this document coming back is known to restate the record.
  writeResourceId(w, ctx, ctx.patient, 'birth-sex');
  writeFixedCode(w, 'code', '76689-9', LOINC, 'Sex assigned at birth');
  writeTextRef(w, rowId);
  w.empty('statusCode', { code: 'completed' });
  if (code === 'F' || code === 'M') {
    w.empty('value', {
      'xsi:type': 'CD',
      code,
      codeSystem: '2.16.840.1.113883.5.1',
      codeSystemName: 'AdministrativeGender',
      displayName: BIRTH_SEX[code],
    });
  } else {
    w.empty('value', { 'xsi:type': 'CD', nullFlavor: 'UNK' });
  }
  w.close('observation');
}

function writeEntry(w: XmlWriter, row: NarrativeRow<SocialHistoryRow>, ctx: RenderContext): void {
  const r = row.item;
  if (r.kind === 'birth-sex') writeBirthSex(w, r.code, row.id, ctx);
  // The Smoking Status template needs a coded value; anything else is an ordinary social history observation.
  else if (isSmokingStatus(r.observation) && codableCodings(r.observation.valueCodeableConcept).length > 0)
    writeSmokingStatus(w, r.observation, ctx, row.id);
  else writeSocialHistoryObservation(w, r.observation, ctx, row.id);
}

/** Social History Section (V3): smoking status, sex assigned at birth, other social-history observations. */
export const SOCIAL_HISTORY_SECTION: SectionDefinition<SocialHistoryRow> = {
  key: 'social',
  title: 'Social History',
  templateId: { root: '2.16.840.1.113883.10.20.22.2.17', extension: '2015-08-01' },
  compatibleTemplateIds: [{ root: '2.16.840.1.113883.10.20.22.2.17' }],
  loinc: { code: '29762-2', displayName: 'Social history Narrative' },
  resourceTypes: ['Observation', 'Patient'],
  whenEmpty: 'narrative',
  emptyText: 'No social history is recorded for this period.',
  columns: [
    {
      header: 'Social history',
      cell: (r) => (r.kind === 'birth-sex' ? 'Sex assigned at birth' : conceptText(r.observation.code)),
    },
    { header: 'Value', cell: (r) => (r.kind === 'birth-sex' ? (BIRTH_SEX[r.code] ?? r.code) : valueText(r.observation)) },
    { header: 'Date', cell: (r) => (r.kind === 'birth-sex' ? '' : displayDateTime(observationTime(r.observation).start)) },
  ],
  rows: (data) => {
    const rows: SocialHistoryRow[] = [];
    const birthSex = data.patient.extension?.find((e) => e.url === BIRTH_SEX_URL)?.valueCode;
    if (birthSex) rows.push({ kind: 'birth-sex', code: birthSex });
    const observations = data
      .ofType<Observation>('Observation')
      .filter((o) => !isEnteredInError(o) && (isSmokingStatus(o) || categoryCodes(o.category).includes('social-history')));
    for (const o of newestFirst(observations, (x) => observationTime(x).start)) rows.push({ kind: 'observation', observation: o });
    return rows;
  },
  writeEntries: onePerRow(writeEntry),
};
