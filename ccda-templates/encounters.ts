import type { Condition, Encounter, Organization, Practitioner } from '@medplum/fhirtypes';
import { codeSystemName } from '../src/ccda/code-systems';
import {
  conceptText,
  isCdaCode,
  nameText,
  writeCode,
  writeIdentifier,
  writeInterval,
  writePersonName,
  writeResourceId,
  writeTextRef,
} from '../src/ccda/render/cda-datatype-writers';
import { isEnteredInError, newestFirst } from '../src/ccda/render/fhir-read';
import { displayDateTime } from '../src/ccda/render/hl7-time';
import type { RenderContext } from '../src/ccda/render/render-context';
import type { XmlWriter } from '../src/ccda/render/xml-writer';
import { isActiveCondition, writeProblemObservation } from './problems';
import { onePerRow, type NarrativeRow, type SectionDefinition } from './section-definition';

const ACT_CODE = '2.16.840.1.113883.5.4';

function practitionersOf(e: Encounter, ctx: RenderContext): Practitioner[] {
  const out: Practitioner[] = [];
  for (const p of e.participant ?? []) {
    const pr = ctx.lookup.practitioner(p.individual);
    if (pr && !out.includes(pr)) out.push(pr);
  }
  return out;
}

function diagnosesOf(e: Encounter, ctx: RenderContext): Condition[] {
  const refs = [...(e.diagnosis ?? []).map((d) => d.condition), ...(e.reasonReference ?? [])];
  const seen = new Set<string>();
  const out: Condition[] = [];
  for (const ref of refs) {
    const c = ctx.lookup.resolve<Condition>(ref);
    if (c?.resourceType === 'Condition' && !seen.has(c.id as string) && !isEnteredInError(c)) {
      seen.add(c.id as string);
      out.push(c);
    }
  }
  return out;
}

function writeEncounter(w: XmlWriter, row: NarrativeRow<Encounter>, ctx: RenderContext): void {
  const e = row.item;
  w.open('encounter', { classCode: 'ENC', moodCode: 'EVN' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.49', extension: '2015-08-01' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.49' });
  writeResourceId(w, ctx, e);
  const type = e.type?.[0];
  if (type?.coding?.length || !isCdaCode(e.class?.code)) {
    writeCode(w, 'code', type, {
      textRef: `${row.id}-name`,
      prefer: ['http://www.ama-assn.org/go/cpt', 'http://snomed.info/sct'],
    });
  } else {
    w.open('code', { code: e.class?.code, codeSystem: ACT_CODE, codeSystemName: codeSystemName(ACT_CODE), displayName: e.class?.display });
    w.open('originalText')
      .empty('reference', { value: `#${row.id}-name` })
      .close('originalText');
    w.close('code');
  }
  writeTextRef(w, row.id);
  writeInterval(w, 'effectiveTime', e.period?.start, e.period?.end);
  for (const pr of practitionersOf(e, ctx)) {
    w.open('performer').open('assignedEntity');
    w.empty('id', { root: ctx.idRoot, extension: `Practitioner/${pr.id ?? 'unknown'}` });
    for (const ident of pr.identifier ?? []) writeIdentifier(w, 'id', ident);
    w.open('assignedPerson');
    writePersonName(w, pr.name?.[0]);
    w.close('assignedPerson');
    w.close('assignedEntity').close('performer');
  }
  for (const c of diagnosesOf(e, ctx)) {
    w.open('entryRelationship', { typeCode: 'COMP' });
    w.open('act', { classCode: 'ACT', moodCode: 'EVN' });
    w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.80', extension: '2015-08-01' });
    w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.80' });
    w.empty('code', { code: '29308-4', codeSystem: '2.16.840.1.113883.6.1', codeSystemName: 'LOINC', displayName: 'Diagnosis' });
    // Whether the diagnosis is still a concern: without it a reader takes a resolved diagnosis for an active one.
    w.empty('statusCode', { code: isActiveCondition(c) ? 'active' : 'completed' });
    w.open('entryRelationship', { typeCode: 'SUBJ' });
    writeProblemObservation(w, c, ctx, row.id, undefined);
    w.close('entryRelationship');
    w.close('act').close('entryRelationship');
  }
  w.close('encounter');
}

/** Encounters Section (entries required) (V3). */
export const ENCOUNTERS_SECTION: SectionDefinition<Encounter> = {
  key: 'encounters',
  title: 'Encounters',
  templateId: { root: '2.16.840.1.113883.10.20.22.2.22.1', extension: '2015-08-01' },
  compatibleTemplateIds: [{ root: '2.16.840.1.113883.10.20.22.2.22.1' }],
  loinc: { code: '46240-8', displayName: 'History of Hospitalizations+Outpatient visits Narrative' },
  resourceTypes: ['Encounter'],
  whenEmpty: 'nullFlavor',
  emptyText: 'No encounters are recorded for this period.',
  columns: [
    { header: 'Encounter', cell: (e) => conceptText(e.type?.[0]) || e.class?.display || e.class?.code || 'Encounter' },
    {
      header: 'Provider',
      cell: (e, ctx) =>
        practitionersOf(e, ctx)
          .map((p) => nameText(p.name?.[0]))
          .join(', '),
    },
    { header: 'Location', cell: (e, ctx) => ctx.lookup.resolve<Organization>(e.serviceProvider)?.name ?? e.serviceProvider?.display ?? '' },
    {
      header: 'Diagnosis',
      cell: (e, ctx) =>
        diagnosesOf(e, ctx)
          .map((c) => conceptText(c.code))
          .join('; '),
    },
    { header: 'Start', cell: (e) => displayDateTime(e.period?.start) },
    { header: 'End', cell: (e) => displayDateTime(e.period?.end) },
  ],
  rows: (data) =>
    newestFirst(
      data.ofType<Encounter>('Encounter').filter((e) => !isEnteredInError(e)),
      (e) => e.period?.start,
    ),
  writeEntries: onePerRow(writeEncounter),
};
