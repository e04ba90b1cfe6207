import type { Goal } from '@medplum/fhirtypes';
import { conceptText, writeCode, writeInterval, writeResourceId, writeTextRef } from '../src/ccda/render/cda-datatype-writers';
import { isEnteredInError, newestFirst } from '../src/ccda/render/fhir-read';
import { displayDateTime } from '../src/ccda/render/hl7-time';
import type { RenderContext } from '../src/ccda/render/render-context';
import type { XmlWriter } from '../src/ccda/render/xml-writer';
import { onePerRow, type NarrativeRow, type SectionDefinition } from './section-definition';

function dueDate(g: Goal): string | undefined {
  return g.target?.find((t) => t.dueDate)?.dueDate;
}

function writeGoal(w: XmlWriter, row: NarrativeRow<Goal>, ctx: RenderContext): void {
  const g = row.item;
  w.open('observation', { classCode: 'OBS', moodCode: 'GOL' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.121' });
  writeResourceId(w, ctx, g);
  writeCode(w, 'code', g.description, { textRef: `${row.id}-name`, prefer: ['http://loinc.org', 'http://snomed.info/sct'] });
  writeTextRef(w, row.id);
  w.empty('statusCode', {
    code: g.lifecycleStatus === 'completed' ? 'completed' : g.lifecycleStatus === 'cancelled' ? 'cancelled' : 'active',
  });
  if (g.startDate || dueDate(g)) writeInterval(w, 'effectiveTime', g.startDate, dueDate(g));
  w.close('observation');
}

/** Goals Section. */
export const GOALS_SECTION: SectionDefinition<Goal> = {
  key: 'goals',
  title: 'Goals',
  templateId: { root: '2.16.840.1.113883.10.20.22.2.60' },
  compatibleTemplateIds: [],
  loinc: { code: '61146-7', displayName: 'Goals' },
  resourceTypes: ['Goal'],
  whenEmpty: 'nullFlavor',
  emptyText: 'No goals are recorded for this period.',
  columns: [
    { header: 'Goal', cell: (g) => conceptText(g.description) || 'Goal' },
    {
      header: 'Status',
      cell: (g) => (g.achievementStatus ? `${g.lifecycleStatus} (${conceptText(g.achievementStatus)})` : g.lifecycleStatus),
    },
    { header: 'Start', cell: (g) => displayDateTime(g.startDate) },
    { header: 'Due', cell: (g) => displayDateTime(dueDate(g)) },
  ],
  rows: (data) =>
    newestFirst(
      data.ofType<Goal>('Goal').filter((g) => !isEnteredInError(g)),
      (g) => g.startDate ?? g.statusDate,
    ),
  writeEntries: onePerRow(writeGoal),
};
