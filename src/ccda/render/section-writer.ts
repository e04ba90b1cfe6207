import type { NarrativeRow, SectionData, SectionDefinition } from '../../../ccda-templates/section-definition';
import { codeSystemName } from '../code-systems';
import type { RenderContext } from './render-context';
import type { XmlWriter } from './xml-writer';

const LOINC = '2.16.840.1.113883.6.1';

/**
 * Writes one `<component><section>` from its declarative definition: templateIds, code, title, the
 * narrative table (each `<tr>` has an ID the entries reference) and the coded entries. Returns false
 * when the section was omitted.
 */
export function writeSection<T>(w: XmlWriter, def: SectionDefinition<T>, data: SectionData, ctx: RenderContext): boolean {
  const items = def.rows(data, ctx);
  if (items.length === 0 && def.whenEmpty === 'omit') return false;
  const rows: NarrativeRow<T>[] = items.map((item, i) => ({ item, id: `${def.key}-${i + 1}` }));
  const nullFlavor = rows.length === 0 && def.whenEmpty === 'nullFlavor' ? 'NI' : undefined;

  w.open('component').open('section', nullFlavor ? { nullFlavor } : undefined);
  w.empty('templateId', { root: def.templateId.root, extension: def.templateId.extension });
  for (const t of def.compatibleTemplateIds) w.empty('templateId', { root: t.root, extension: t.extension });
  w.empty('code', {
    code: def.loinc.code,
    codeSystem: LOINC,
    codeSystemName: codeSystemName(LOINC),
    displayName: def.loinc.displayName,
  });
  w.element('title', def.title);
  w.open('text');
  if (rows.length === 0) {
    w.element('paragraph', def.emptyText);
  } else {
    writeNarrativeTable(w, def, rows, ctx);
  }
  w.close('text');
  if (rows.length > 0) def.writeEntries(w, rows, ctx);
  w.close('section').close('component');
  return true;
}

function writeNarrativeTable<T>(w: XmlWriter, def: SectionDefinition<T>, rows: readonly NarrativeRow<T>[], ctx: RenderContext): void {
  w.open('table', { border: '1', width: '100%' });
  w.element('caption', def.title);
  w.open('thead').open('tr');
  for (const col of def.columns) w.element('th', col.header);
  w.close('tr').close('thead');
  w.open('tbody');
  for (const row of rows) {
    w.open('tr', { ID: row.id });
    def.columns.forEach((col, i) => {
      // Required FHIR fields can still be missing in stored data: an absent value is an empty cell.
      const text = col.cell(row.item, ctx) ?? '';
      w.element('td', String(text), i === 0 ? { ID: `${row.id}-name` } : undefined);
    });
    w.close('tr');
  }
  w.close('tbody').close('table');
}
