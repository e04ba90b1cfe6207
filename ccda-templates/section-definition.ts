import type { Patient, Resource } from '@medplum/fhirtypes';
import type { RenderContext } from '../src/ccda/render/render-context';
import type { XmlWriter } from '../src/ccda/render/xml-writer';

/** An HL7 templateId: root OID plus the version date (extension) where the template is versioned. */
export interface TemplateIdRef {
  readonly root: string;
  readonly extension?: string;
}

/** The resources a section may draw its rows from, already cut to the document's period. */
export interface SectionData {
  readonly patient: Patient;
  /** Resources of one type (in the period). */
  ofType<T extends Resource>(resourceType: T['resourceType']): readonly T[];
}

/** One narrative column: its header and how a row's cell reads. */
export interface NarrativeColumn<T> {
  readonly header: string;
  cell(row: T, ctx: RenderContext): string;
}

/** A narrative row and the ID its entries point at (`text/reference/@value="#id"`). */
export interface NarrativeRow<T> {
  readonly item: T;
  /** ID of the `<tr>`; the first cell carries `${id}-name`, which originalText points at. */
  readonly id: string;
}

/**
 * A C-CDA section, declared: identity (templateIds, LOINC code, title), which data it shows
 * (`rows`), how the narrative table reads (`columns`), and how its coded entries are written
 * (`writeEntries`). The renderer has one code path for all sections; adding a section is adding one
 * of these to SECTION_DEFINITIONS.
 */
export interface SectionDefinition<T = unknown> {
  /** Short stable key, also the narrative ID prefix. */
  readonly key: string;
  readonly title: string;
  /** The R2.1 (versioned) templateId. */
  readonly templateId: TemplateIdRef;
  /** R1.1-compatible templateIds written after the R2.1 one (no extension). */
  readonly compatibleTemplateIds: readonly TemplateIdRef[];
  /** The section code (LOINC). */
  readonly loinc: { readonly code: string; readonly displayName: string };
  /** FHIR resource types the section's rows come from (informative, also for the parser). */
  readonly resourceTypes: readonly string[];
  /**
   * When there are no rows: 'nullFlavor' writes the section with nullFlavor="NI" and a sentence saying
   * there is no information; 'narrative' writes the section with that sentence and no entries (sections
   * whose entries are optional); 'omit' leaves the section out (sections sent only when present).
   */
  readonly whenEmpty: 'nullFlavor' | 'narrative' | 'omit';
  /** The sentence shown when there is nothing to list. */
  readonly emptyText: string;
  readonly columns: readonly NarrativeColumn<T>[];
  /** The rows of the narrative table, in display order. */
  rows(data: SectionData, ctx: RenderContext): T[];
  /** Writes the section's `<entry>` elements for the rows (several rows may share one entry). */
  writeEntries(w: XmlWriter, rows: readonly NarrativeRow<T>[], ctx: RenderContext): void;
  /**
   * Optional: rows whose entries say something the table cannot (e.g. "no known allergies")
   * may replace the empty behaviour; the default is `whenEmpty`.
   */
  readonly entryTypeCode?: 'DRIV' | 'COMP';
}

/** Entry writer for the common case: one `<entry>` per narrative row. */
export function onePerRow<T>(
  write: (w: XmlWriter, row: NarrativeRow<T>, ctx: RenderContext) => void,
  typeCode?: 'DRIV' | 'COMP',
): (w: XmlWriter, rows: readonly NarrativeRow<T>[], ctx: RenderContext) => void {
  return (w, rows, ctx) => {
    for (const row of rows) {
      w.open('entry', typeCode ? { typeCode } : undefined);
      write(w, row, ctx);
      w.close('entry');
    }
  };
}
