import type { DocumentReference } from '@medplum/fhirtypes';
import { conceptText, writeCode, writeResourceId, writeTextRef, writeTs } from '../src/ccda/render/cda-datatype-writers';
import { isEnteredInError, newestFirst } from '../src/ccda/render/fhir-read';
import { displayDateTime } from '../src/ccda/render/hl7-time';
import type { RenderContext } from '../src/ccda/render/render-context';
import type { XmlWriter } from '../src/ccda/render/xml-writer';
import { onePerRow, type NarrativeRow, type SectionDefinition } from './section-definition';

/** The note's words: inline text/plain content decoded, else its title or where it lives. */
export function noteText(d: DocumentReference): string {
  for (const c of d.content ?? []) {
    const a = c.attachment;
    if (a?.data && (a.contentType ?? '').startsWith('text/plain')) return Buffer.from(a.data, 'base64').toString('utf8');
  }
  const a = d.content?.[0]?.attachment;
  return d.description ?? a?.title ?? (a?.url ? `Document at ${a.url}` : '');
}

function writeNote(w: XmlWriter, row: NarrativeRow<DocumentReference>, ctx: RenderContext): void {
  const d = row.item;
  w.open('act', { classCode: 'ACT', moodCode: 'EVN' });
  w.empty('templateId', { root: '2.16.840.1.113883.10.20.22.4.202', extension: '2016-11-01' });
  writeResourceId(w, ctx, d);
  writeCode(
    w,
    'code',
    { coding: [{ system: 'http://loinc.org', code: '34109-9', display: 'Note' }] },
    { textRef: `${row.id}-name`, extraTranslations: (d.type?.coding ?? []).filter((c) => c.system === 'http://loinc.org' && c.code) },
  );
  writeTextRef(w, row.id);
  w.empty('statusCode', { code: 'completed' });
  writeTs(w, 'effectiveTime', d.context?.period?.start ?? d.date);
  w.close('act');
}

/** Notes Section (C-CDA R2.1 Companion Guide): clinical notes kept as DocumentReferences. */
export const NOTES_SECTION: SectionDefinition<DocumentReference> = {
  key: 'notes',
  title: 'Notes',
  templateId: { root: '2.16.840.1.113883.10.20.22.2.65', extension: '2016-11-01' },
  compatibleTemplateIds: [],
  loinc: { code: '34109-9', displayName: 'Note' },
  resourceTypes: ['DocumentReference'],
  whenEmpty: 'omit',
  emptyText: 'No notes are recorded for this period.',
  columns: [
    { header: 'Note type', cell: (d) => conceptText(d.type) || 'Note' },
    { header: 'Note', cell: noteText },
    { header: 'Date', cell: (d) => displayDateTime(d.context?.period?.start ?? d.date) },
  ],
  rows: (data) =>
    newestFirst(
      data.ofType<DocumentReference>('DocumentReference').filter(
        (d) =>
          !isEnteredInError(d) &&
          d.status === 'current' &&
          // Unreleased documents (docStatus preliminary) never leave the practice.
          (d.docStatus === undefined || d.docStatus === 'final' || d.docStatus === 'amended') &&
          (d.category ?? []).some((c) => c.coding?.some((x) => x.code === 'clinical-note')),
      ),
      (d) => d.date,
    ),
  writeEntries: onePerRow(writeNote),
};
