import type { Observation, ObservationComponent } from '@medplum/fhirtypes';
import { conceptText, writeCode, writePq, writeResourceId, writeTextRef } from '../src/ccda/render/cda-datatype-writers';
import { categoryCodes, isEnteredInError, newestFirst, observationTime } from '../src/ccda/render/fhir-read';
import { displayDateTime, toHl7Ts } from '../src/ccda/render/hl7-time';
import { valueText, writeInterpretation } from '../src/ccda/render/observation-value';
import type { RenderContext } from '../src/ccda/render/render-context';
import type { XmlWriter } from '../src/ccda/render/xml-writer';
import type { NarrativeRow, SectionDefinition } from './section-definition';

const LOINC_URI = 'http://loinc.org';

/** One vital sign value: a quantity Observation, or one quantity component (e.g. systolic BP). */
export interface VitalSignRow {
  readonly observation: Observation;
  readonly component?: ObservationComponent;
  readonly componentIndex?: number;
  /** When it was measured (the organizer groups rows measured at the same time). */
  readonly time?: string;
}

/** Vital-sign Observations whose values are quantities (the only kind a Vital Sign Observation carries). */
function vitalRows(observations: readonly Observation[]): VitalSignRow[] {
  const rows: VitalSignRow[] = [];
  for (const o of observations) {
    const time = observationTime(o).start;
    if (o.valueQuantity?.value !== undefined) rows.push({ observation: o, time });
    else if (o.component) {
      o.component.forEach((component, componentIndex) => {
        if (component.valueQuantity?.value !== undefined) rows.push({ observation: o, component, componentIndex, time });
      });
    }
  }
  return rows;
}

/** Whether an Observation is shown as a vital sign. */
export function isVitalSign(o: Observation): boolean {
  return categoryCodes(o.category).includes('vital-signs') && !isEnteredInError(o);
}

function writeVitalSignObservation(w: XmlWriter, row: NarrativeRow<VitalSignRow>, ctx: RenderContext): void {
  const { observation: o, component, componentIndex } = row.item;
  w.open('observation', { classCode: 'OBS', moodCode: 'EVN' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.27', extension: '2014-06-09' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.27' });
  writeResourceId(w, ctx, o, componentIndex !== undefined ? `component-${componentIndex}` : undefined);
  writeCode(w, 'code', component?.code ?? o.code, { textRef: `${row.id}-name`, prefer: [LOINC_URI] });
  writeTextRef(w, row.id);
  w.empty('statusCode', { code: 'completed' });
  const t = toHl7Ts(row.item.time);
  w.empty('effectiveTime', t ? { value: t } : { nullFlavor: 'UNK' });
  writePq(w, 'value', (component ?? o).valueQuantity);
  writeInterpretation(w, o);
  w.close('observation');
}

function writeVitalSignOrganizers(w: XmlWriter, rows: readonly NarrativeRow<VitalSignRow>[], ctx: RenderContext): void {
  let i = 0;
  while (i < rows.length) {
    const time = rows[i].item.time;
    let j = i;
    while (j < rows.length && rows[j].item.time === time) j++;
    const members = rows.slice(i, j);
    i = j;
    w.open('entry', { typeCode: 'DRIV' });
    w.open('organizer', { classCode: 'CLUSTER', moodCode: 'EVN' });
    w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.26', extension: '2015-08-01' });
    w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.26' });
    writeResourceId(w, ctx, members[0].item.observation, 'vital-signs-organizer');
    w.open('code', { code: '46680005', codeSystem: '2.16.840.1.113883.6.96', codeSystemName: 'SNOMED CT', displayName: 'Vital signs' });
    w.empty('translation', {
      code: '74728-7',
      codeSystem: '2.16.840.1.113883.6.1',
      codeSystemName: 'LOINC',
      displayName: 'Vital signs, weight, height, head circumference, oximetry, BMI, and BSA panel - HL7.CCDAr1.1',
    });
    w.close('code');
    w.empty('statusCode', { code: 'completed' });
    const t = toHl7Ts(time);
    w.empty('effectiveTime', t ? { value: t } : { nullFlavor: 'UNK' });
    for (const m of members) {
      w.open('component');
      writeVitalSignObservation(w, m, ctx);
      w.close('component');
    }
    w.close('organizer').close('entry');
  }
}

/** Vital Signs Section (entries required) (V3): one organizer per measurement time. */
export const VITAL_SIGNS_SECTION: SectionDefinition<VitalSignRow> = {
  key: 'vitals',
  title: 'Vital Signs',
  templateId: { root: '2.16.840.1.113883.10.20.22.2.4.1', extension: '2015-08-01' },
  compatibleTemplateIds: [{ root: '2.16.840.1.113883.10.20.22.2.4.1' }],
  loinc: { code: '8716-3', displayName: 'Vital signs' },
  resourceTypes: ['Observation'],
  whenEmpty: 'nullFlavor',
  emptyText: 'No vital signs are recorded for this period.',
  columns: [
    { header: 'Vital sign', cell: (r) => conceptText(r.component?.code ?? r.observation.code) },
    { header: 'Value', cell: (r) => valueText(r.component ?? r.observation) },
    { header: 'Date', cell: (r) => displayDateTime(r.time) },
  ],
  rows: (data) => vitalRows(newestFirst(data.ofType<Observation>('Observation').filter(isVitalSign), (o) => observationTime(o).start)),
  writeEntries: writeVitalSignOrganizers,
};
