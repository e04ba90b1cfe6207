import type { DiagnosticReport, Observation, ObservationComponent } from '@medplum/fhirtypes';
import { conceptText, writeCode, writeResourceId, writeTextRef } from '../src/ccda/render/cda-datatype-writers';
import { writeAuthorParticipation } from '../src/ccda/render/author-participation';
import { categoryCodes, isEnteredInError, newestFirst, observationTime } from '../src/ccda/render/fhir-read';
import { displayDateTime, toHl7Ts } from '../src/ccda/render/hl7-time';
import {
  hasValue,
  referenceRangeText,
  valueText,
  writeInterpretation,
  writeObservationValue,
  writeReferenceRanges,
} from '../src/ccda/render/observation-value';
import type { RenderContext } from '../src/ccda/render/render-context';
import type { XmlWriter } from '../src/ccda/render/xml-writer';
import type { NarrativeRow, SectionData, SectionDefinition } from './section-definition';
import { isSmokingStatus } from './social-history';
import { isMentalStatus, isFunctionalStatus } from './status-observations';

const LOINC_URI = 'http://loinc.org';

/** One result value: an Observation (or one of its components), grouped under a report or itself. */
export interface ResultRow {
  readonly observation: Observation;
  readonly component?: ObservationComponent;
  readonly componentIndex?: number;
  /** The organizer: the DiagnosticReport, or the observation when it stands alone. */
  readonly group: DiagnosticReport | Observation;
}

const STATUS: Record<string, string> = {
  registered: 'active',
  preliminary: 'active',
  final: 'completed',
  amended: 'completed',
  corrected: 'completed',
  appended: 'completed',
  cancelled: 'cancelled',
  unknown: 'completed',
  partial: 'active',
};

/** Observations that belong in other sections (vital signs, social history, functional/mental status). */
export function isNonResultObservation(o: Observation): boolean {
  const cats = categoryCodes(o.category);
  return (
    cats.includes('vital-signs') || cats.includes('social-history') || isSmokingStatus(o) || isFunctionalStatus(o) || isMentalStatus(o)
  );
}

function rowsOf(o: Observation, group: DiagnosticReport | Observation): ResultRow[] {
  if (!hasValue(o) && o.component?.length) {
    return o.component.map((component, componentIndex) => ({ observation: o, component, componentIndex, group }));
  }
  return [{ observation: o, group }];
}

function resultRows(data: SectionData, ctx: RenderContext): ResultRow[] {
  const reports = newestFirst(
    data.ofType<DiagnosticReport>('DiagnosticReport').filter((d) => !isEnteredInError(d)),
    (d) => d.effectiveDateTime ?? d.effectivePeriod?.start ?? d.issued,
  );
  const rows: ResultRow[] = [];
  const claimed = new Set<string>();
  for (const report of reports) {
    const members: Observation[] = [];
    for (const ref of report.result ?? []) {
      const o = ctx.lookup.resolve<Observation>(ref);
      if (!o || o.resourceType !== 'Observation' || isEnteredInError(o)) continue;
      claimed.add(o.id as string);
      members.push(o);
    }
    for (const o of members) rows.push(...rowsOf(o, report));
  }
  const loose = data
    .ofType<Observation>('Observation')
    .filter((o) => !claimed.has(o.id as string) && !isEnteredInError(o) && !isNonResultObservation(o));
  for (const o of newestFirst(loose, (x) => observationTime(x).start)) rows.push(...rowsOf(o, o));
  return rows;
}

function rowCode(r: ResultRow): Observation['code'] {
  return r.component?.code ?? r.observation.code;
}

function writeResultObservation(w: XmlWriter, row: NarrativeRow<ResultRow>, ctx: RenderContext): void {
  const o = row.item.observation;
  const v = row.item.component ?? o;
  w.open('observation', { classCode: 'OBS', moodCode: 'EVN' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.2', extension: '2015-08-01' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.2' });
  writeResourceId(w, ctx, o, row.item.componentIndex !== undefined ? `component-${row.item.componentIndex}` : undefined);
  writeCode(w, 'code', rowCode(row.item), { textRef: `${row.id}-name`, prefer: [LOINC_URI] });
  writeTextRef(w, row.id);
  w.empty('statusCode', { code: STATUS[o.status] ?? 'completed' });
  const t = toHl7Ts(observationTime(o).start);
  w.empty('effectiveTime', t ? { value: t } : { nullFlavor: 'UNK' });
  writeObservationValue(w, v);
  writeInterpretation(w, o);
  writeReferenceRanges(w, row.item.component?.referenceRange ?? o.referenceRange);
  w.close('observation');
}

function groupTimes(rows: readonly NarrativeRow<ResultRow>[]): { low?: string; high?: string } {
  const times = rows
    .map((r) => observationTime(r.item.observation).start)
    .filter((t): t is string => Boolean(t))
    .sort();
  return { low: times[0], high: times[times.length - 1] };
}

function writeResultOrganizers(w: XmlWriter, rows: readonly NarrativeRow<ResultRow>[], ctx: RenderContext): void {
  let i = 0;
  while (i < rows.length) {
    const group = rows[i].item.group;
    let j = i;
    while (j < rows.length && rows[j].item.group === group) j++;
    const members = rows.slice(i, j);
    i = j;
    const report = group.resourceType === 'DiagnosticReport' ? group : undefined;
    w.open('entry', { typeCode: 'DRIV' });
    w.open('organizer', { classCode: report ? 'BATTERY' : 'CLUSTER', moodCode: 'EVN' });
    w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.1', extension: '2015-08-01' });
    w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.1' });
    writeResourceId(w, ctx, group, report ? undefined : 'organizer');
    writeCode(w, 'code', group.code, { prefer: [LOINC_URI] });
    w.empty('statusCode', { code: STATUS[group.status] ?? 'completed' });
    const { low, high } = groupTimes(members);
    const lowTs = toHl7Ts(report?.effectivePeriod?.start ?? low);
    const highTs = toHl7Ts(report?.effectivePeriod?.end ?? high);
    if (lowTs && highTs) {
      w.open('effectiveTime').empty('low', { value: lowTs }).empty('high', { value: highTs }).close('effectiveTime');
    }
    writeAuthorParticipation(w, ctx, group.performer?.[0], group.issued ?? low);
    for (const m of members) {
      w.open('component');
      writeResultObservation(w, m, ctx);
      w.close('component');
    }
    w.close('organizer').close('entry');
  }
}

/** Results Section (entries required) (V3): DiagnosticReports as Result Organizers, other results alone. */
export const RESULTS_SECTION: SectionDefinition<ResultRow> = {
  key: 'results',
  title: 'Results',
  templateId: { root: '2.16.840.1.113883.10.20.22.2.3.1', extension: '2015-08-01' },
  compatibleTemplateIds: [{ root: '2.16.840.1.113883.10.20.22.2.3.1' }],
  loinc: { code: '30954-2', displayName: 'Relevant diagnostic tests/laboratory data Narrative' },
  resourceTypes: ['DiagnosticReport', 'Observation'],
  whenEmpty: 'nullFlavor',
  emptyText: 'No results are recorded for this period.',
  columns: [
    { header: 'Test', cell: (r) => conceptText(rowCode(r)) || 'Unknown test' },
    { header: 'Result', cell: (r) => valueText(r.component ?? r.observation) },
    { header: 'Reference range', cell: (r) => referenceRangeText(r.component?.referenceRange ?? r.observation.referenceRange) },
    { header: 'Panel', cell: (r) => (r.group === r.observation ? '' : conceptText(r.group.code)) },
    { header: 'Date', cell: (r) => displayDateTime(observationTime(r.observation).start) },
  ],
  rows: resultRows,
  writeEntries: writeResultOrganizers,
};
