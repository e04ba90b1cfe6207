import type { Procedure } from '@medplum/fhirtypes';
import { conceptText, writeCode, writeInterval, writeResourceId, writeTextRef } from '../src/ccda/render/cda-datatype-writers';
import { writeAuthorParticipation } from '../src/ccda/render/author-participation';
import { isEnteredInError, newestFirst } from '../src/ccda/render/fhir-read';
import { displayDateTime, toHl7Ts } from '../src/ccda/render/hl7-time';
import type { RenderContext } from '../src/ccda/render/render-context';
import type { XmlWriter } from '../src/ccda/render/xml-writer';
import { onePerRow, type NarrativeRow, type SectionDefinition } from './section-definition';

const STATUS: Record<string, string> = {
  completed: 'completed',
  'in-progress': 'active',
  preparation: 'active',
  'on-hold': 'active',
  stopped: 'aborted',
  'not-done': 'cancelled',
  unknown: 'completed',
};

function performedStart(p: Procedure): string | undefined {
  return p.performedDateTime ?? p.performedPeriod?.start;
}

function writeProcedure(w: XmlWriter, row: NarrativeRow<Procedure>, ctx: RenderContext): void {
  const p = row.item;
  w.open('procedure', { classCode: 'PROC', moodCode: 'EVN', negationInd: p.status === 'not-done' ? 'true' : undefined });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.14', extension: '2014-06-09' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.14' });
  writeResourceId(w, ctx, p);
  writeCode(w, 'code', p.code, {
    textRef: `${row.id}-name`,
    prefer: ['http://snomed.info/sct', 'http://www.ama-assn.org/go/cpt', 'http://loinc.org'],
  });
  writeTextRef(w, row.id);
  w.empty('statusCode', { code: STATUS[p.status] ?? 'completed' });
  if (p.performedPeriod) {
    writeInterval(w, 'effectiveTime', p.performedPeriod.start, p.performedPeriod.end);
  } else {
    const t = toHl7Ts(p.performedDateTime);
    w.empty('effectiveTime', t ? { value: t } : { nullFlavor: 'UNK' });
  }
  for (const site of p.bodySite ?? []) writeCode(w, 'targetSiteCode', site);
  writeAuthorParticipation(w, ctx, p.recorder ?? p.performer?.[0]?.actor, performedStart(p));
  w.close('procedure');
}

/** Procedures Section (entries required) (V2). */
export const PROCEDURES_SECTION: SectionDefinition<Procedure> = {
  key: 'procedures',
  title: 'Procedures',
  templateId: { root: '2.16.840.1.113883.10.20.22.2.7.1', extension: '2014-06-09' },
  compatibleTemplateIds: [{ root: '2.16.840.1.113883.10.20.22.2.7.1' }],
  loinc: { code: '47519-4', displayName: 'History of Procedures Document' },
  resourceTypes: ['Procedure'],
  whenEmpty: 'nullFlavor',
  emptyText: 'No procedures are recorded for this period.',
  columns: [
    { header: 'Procedure', cell: (p) => conceptText(p.code) || 'Unknown procedure' },
    { header: 'Status', cell: (p) => p.status },
    { header: 'Date', cell: (p) => displayDateTime(performedStart(p)) },
    { header: 'Body site', cell: (p) => (p.bodySite ?? []).map(conceptText).join(', ') },
  ],
  rows: (data) =>
    newestFirst(
      data.ofType<Procedure>('Procedure').filter((p) => !isEnteredInError(p)),
      performedStart,
    ),
  writeEntries: onePerRow(writeProcedure),
};
