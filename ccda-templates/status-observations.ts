import type { Coding, Observation } from '@medplum/fhirtypes';
import { conceptText, writeCode, writeResourceId, writeTextRef } from '../src/ccda/render/cda-datatype-writers';
import { categoryCodes, hasCode, isEnteredInError, newestFirst, observationTime } from '../src/ccda/render/fhir-read';
import { displayDateTime, toHl7Ts } from '../src/ccda/render/hl7-time';
import { valueText, writeObservationValue } from '../src/ccda/render/observation-value';
import type { RenderContext } from '../src/ccda/render/render-context';
import type { XmlWriter } from '../src/ccda/render/xml-writer';
import { onePerRow, type NarrativeRow, type SectionDefinition } from './section-definition';

const LOINC_URI = 'http://loinc.org';
/** Cognitive assessment scores that are mental status even when filed as plain surveys. */
const COGNITIVE_LOINC = ['72106-8', '72107-6', '72172-0', '72133-2', '71492-3'];

/** Whether an Observation is a functional status finding (US Core category functional-status). */
export function isFunctionalStatus(o: Observation): boolean {
  return categoryCodes(o.category).includes('functional-status');
}

/** Whether an Observation is a mental/cognitive status finding. */
export function isMentalStatus(o: Observation): boolean {
  const cats = categoryCodes(o.category);
  return (
    cats.includes('cognitive-status') || cats.includes('mental-status') || (cats.includes('survey') && hasCode(o.code, COGNITIVE_LOINC))
  );
}

function otherCodings(o: Observation): Coding[] {
  return (o.code?.coding ?? []).filter((c) => c.code && c.system);
}

function writeTime(w: XmlWriter, o: Observation): void {
  const t = toHl7Ts(observationTime(o).start);
  w.empty('effectiveTime', t ? { value: t } : { nullFlavor: 'UNK' });
}

function writeFunctionalStatus(w: XmlWriter, row: NarrativeRow<Observation>, ctx: RenderContext): void {
  const o = row.item;
  w.open('observation', { classCode: 'OBS', moodCode: 'EVN' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.67', extension: '2014-06-09' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.67' });
  writeResourceId(w, ctx, o);
  if (o.code?.coding?.some((c) => c.system === LOINC_URI && c.code)) {
    writeCode(w, 'code', o.code, { textRef: `${row.id}-name`, prefer: [LOINC_URI] });
  } else {
    // The template requires a LOINC code: the generic one, with the record's own code kept as a translation.
    writeCode(
      w,
      'code',
      { coding: [{ system: LOINC_URI, code: '54522-8', display: 'Functional status' }] },
      {
        textRef: `${row.id}-name`,
        extraTranslations: otherCodings(o),
      },
    );
  }
  writeTextRef(w, row.id);
  w.empty('statusCode', { code: 'completed' });
  writeTime(w, o);
  writeObservationValue(w, o);
  w.close('observation');
}

function writeMentalStatus(w: XmlWriter, row: NarrativeRow<Observation>, ctx: RenderContext): void {
  const o = row.item;
  w.open('observation', { classCode: 'OBS', moodCode: 'EVN' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.74', extension: '2015-08-01' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.74' });
  writeResourceId(w, ctx, o);
  // The template fixes the code (cognitive function); what was assessed travels as translations.
  writeCode(
    w,
    'code',
    { coding: [{ system: 'http://snomed.info/sct', code: '373930000', display: 'Cognitive function' }] },
    {
      textRef: `${row.id}-name`,
      extraTranslations: [{ system: LOINC_URI, code: '75275-8', display: 'Cognitive function' }, ...otherCodings(o)],
    },
  );
  writeTextRef(w, row.id);
  w.empty('statusCode', { code: 'completed' });
  writeTime(w, o);
  writeObservationValue(w, o);
  w.close('observation');
}

const COLUMNS = [
  { header: 'Assessment', cell: (o: Observation) => conceptText(o.code) },
  { header: 'Finding', cell: (o: Observation) => valueText(o) },
  { header: 'Date', cell: (o: Observation) => displayDateTime(observationTime(o).start) },
];

/** Functional Status Section (V2). */
export const FUNCTIONAL_STATUS_SECTION: SectionDefinition<Observation> = {
  key: 'functional',
  title: 'Functional Status',
  templateId: { root: '2.16.840.1.113883.10.20.22.2.14', extension: '2014-06-09' },
  compatibleTemplateIds: [{ root: '2.16.840.1.113883.10.20.22.2.14' }],
  loinc: { code: '47420-5', displayName: 'Functional status assessment note' },
  resourceTypes: ['Observation'],
  whenEmpty: 'narrative',
  emptyText: 'No functional status assessments are recorded for this period.',
  columns: COLUMNS,
  rows: (data) =>
    newestFirst(
      data.ofType<Observation>('Observation').filter((o) => !isEnteredInError(o) && isFunctionalStatus(o)),
      (o) => observationTime(o).start,
    ),
  writeEntries: onePerRow(writeFunctionalStatus),
};

/** Mental Status Section (V2). */
export const MENTAL_STATUS_SECTION: SectionDefinition<Observation> = {
  key: 'mental',
  title: 'Mental Status',
  templateId: { root: '2.16.840.1.113883.10.20.22.2.56', extension: '2015-08-01' },
  compatibleTemplateIds: [{ root: '2.16.840.1.113883.10.20.22.2.56' }],
  loinc: { code: '10190-7', displayName: 'Mental status Narrative' },
  resourceTypes: ['Observation'],
  whenEmpty: 'narrative',
  emptyText: 'No mental status assessments are recorded for this period.',
  columns: COLUMNS,
  rows: (data) =>
    newestFirst(
      data.ofType<Observation>('Observation').filter((o) => !isEnteredInError(o) && isMentalStatus(o) && !isFunctionalStatus(o)),
      (o) => observationTime(o).start,
    ),
  writeEntries: onePerRow(writeMentalStatus),
};
