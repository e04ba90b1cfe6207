import type { CarePlan, CodeableConcept, ServiceRequest } from '@medplum/fhirtypes';
import { conceptText, writeCode, writeResourceId, writeTextRef, writeTs } from '../src/ccda/render/cda-datatype-writers';
import { categoryCodes, hasCode, isEnteredInError, newestFirst } from '../src/ccda/render/fhir-read';
import { displayDateTime } from '../src/ccda/render/hl7-time';
import type { RenderContext } from '../src/ccda/render/render-context';
import type { XmlWriter } from '../src/ccda/render/xml-writer';
import { onePerRow, type NarrativeRow, type SectionDefinition } from './section-definition';

/** One planned thing: a CarePlan activity (or the plan itself when it lists none) or a ServiceRequest. */
export interface PlannedItem {
  readonly source: CarePlan | ServiceRequest;
  readonly code: CodeableConcept | undefined;
  readonly activityIndex?: number;
  readonly date?: string;
  readonly status: string;
}

const PLANNED = ['active', 'on-hold', 'draft'];

/** Referral ServiceRequests go to Reason for Referral, not the plan. */
export function isReferral(s: ServiceRequest): boolean {
  return hasCode(s.code, ['3457005', '306206005']) || categoryCodes(s.category).includes('3457005');
}

function plannedItems(carePlans: readonly CarePlan[], requests: readonly ServiceRequest[]): PlannedItem[] {
  const items: PlannedItem[] = [];
  for (const cp of carePlans) {
    if (isEnteredInError(cp) || !PLANNED.includes(cp.status)) continue;
    const date = cp.period?.start ?? cp.created;
    const activities = (cp.activity ?? []).filter(
      (a) => a.detail?.code && a.detail.status !== 'completed' && a.detail.status !== 'cancelled',
    );
    if (activities.length === 0) {
      items.push({ source: cp, code: cp.category?.[0] ?? { text: cp.title ?? cp.description }, date, status: cp.status });
      continue;
    }
    activities.forEach((a) =>
      items.push({
        source: cp,
        code: a.detail?.code,
        activityIndex: (cp.activity ?? []).indexOf(a),
        date: a.detail?.scheduledPeriod?.start ?? date,
        status: a.detail?.status ?? cp.status,
      }),
    );
  }
  for (const s of requests) {
    if (isEnteredInError(s) || !PLANNED.includes(s.status) || isReferral(s)) continue;
    items.push({ source: s, code: s.code, date: s.occurrenceDateTime ?? s.occurrencePeriod?.start ?? s.authoredOn, status: s.status });
  }
  return newestFirst(items, (i) => i.date);
}

function writePlanned(w: XmlWriter, row: NarrativeRow<PlannedItem>, ctx: RenderContext): void {
  const item = row.item;
  const suffix = item.activityIndex !== undefined ? `activity-${item.activityIndex}` : undefined;
  if (item.source.resourceType === 'ServiceRequest') {
    w.open('procedure', { classCode: 'PROC', moodCode: 'RQO' });
    w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.41', extension: '2014-06-09' });
    w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.41' });
  } else {
    w.open('act', { classCode: 'ACT', moodCode: 'INT' });
    w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.39', extension: '2014-06-09' });
    w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.39' });
  }
  writeResourceId(w, ctx, item.source, suffix);
  writeCode(w, 'code', item.code, { textRef: `${row.id}-name`, prefer: ['http://snomed.info/sct', 'http://loinc.org'] });
  writeTextRef(w, row.id);
  w.empty('statusCode', { code: 'active' });
  if (item.date) writeTs(w, 'effectiveTime', item.date);
  w.close(item.source.resourceType === 'ServiceRequest' ? 'procedure' : 'act');
}

/** Plan of Treatment Section (V2): active care plan activities and open service requests. */
export const PLAN_OF_TREATMENT_SECTION: SectionDefinition<PlannedItem> = {
  key: 'plan',
  title: 'Plan of Treatment',
  templateId: { root: '2.16.840.1.113883.10.20.22.2.10', extension: '2014-06-09' },
  compatibleTemplateIds: [{ root: '2.16.840.1.113883.10.20.22.2.10' }],
  loinc: { code: '18776-5', displayName: 'Plan of care note' },
  resourceTypes: ['CarePlan', 'ServiceRequest'],
  whenEmpty: 'narrative',
  emptyText: 'No planned care is recorded for this period.',
  columns: [
    { header: 'Planned care', cell: (i) => conceptText(i.code) || 'Planned care' },
    { header: 'Part of', cell: (i) => (i.source.resourceType === 'CarePlan' ? conceptText(i.source.category?.[0]) : 'Order') },
    { header: 'Status', cell: (i) => i.status },
    { header: 'Date', cell: (i) => displayDateTime(i.date) },
  ],
  rows: (data) => plannedItems(data.ofType<CarePlan>('CarePlan'), data.ofType<ServiceRequest>('ServiceRequest')),
  writeEntries: onePerRow(writePlanned),
};
