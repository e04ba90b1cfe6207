import type { Bundle, BundleEntryRequest, Identifier, Resource } from '@medplum/fhirtypes';

/** The document types C-CDA defines (and `unknown` for any other ClinicalDocument). */
export type CcdaDocumentKind =
  | 'ccd'
  | 'referral-note'
  | 'discharge-summary'
  | 'progress-note'
  | 'consultation-note'
  | 'history-and-physical'
  | 'transfer-summary'
  | 'care-plan'
  | 'unstructured'
  | 'operative-note'
  | 'procedure-note'
  | 'diagnostic-imaging-report'
  | 'unknown';

/** Where a document came from and what it is. */
export interface CcdaDocumentInfo {
  readonly kind: CcdaDocumentKind;
  /** C-CDA release of the header template: R2.1 (2015-08-01), R2.0 (2014-06-09), R1.1 (no extension). */
  readonly release: 'R2.1' | 'R2.0' | 'R1.1' | 'unknown';
  readonly templateIds: string[];
  readonly id?: Identifier;
  readonly setId?: Identifier;
  readonly versionNumber?: number;
  readonly typeCode?: string;
  readonly typeDisplay?: string;
  readonly title?: string;
  readonly effectiveTime?: string;
}

/** Counts for one section of the document: what it carried and what the import made of it. */
export interface CcdaSectionStats {
  /** Position of the section in document order (nested sections included), from 0. */
  readonly index: number;
  readonly loinc?: string;
  readonly title?: string;
  readonly templateIds: string[];
  /** The mapping used: a known section kind, or 'narrative-only' when entries are not mapped. */
  readonly kind: string;
  /** `<entry>` elements with a clinical statement. */
  entries: number;
  /** Resources created from those entries (members and nested resources included). */
  resourcesCreated: number;
  /** Entries whose statement has negationInd="true" (mapped to refuted / not-done / "no known"). */
  negated: number;
  /** Entries whose statement, or its key code, is nullFlavored. */
  nullFlavored: number;
  /** Entries that produced no resource (each also has a warning). */
  unmapped: number;
}

/** Something the import noticed and worked around; never fatal. */
export interface CcdaWarning {
  readonly message: string;
  /** The section (LOINC code or title) the warning concerns, if any. */
  readonly section?: string;
}

/** One resource of the result, ready for a FHIR transaction Bundle. */
export interface CcdaImportEntry {
  readonly fullUrl: string;
  readonly resource: Resource;
  readonly request: BundleEntryRequest;
}

/** The outcome of parseCcda: resources ready for one transaction, plus what was noticed. */
export interface CcdaImportResult {
  /**
   * A transaction Bundle. Every resource has a urn:uuid fullUrl and references the others by it.
   * Requests: clinical resources with an identifier use a conditional update on that identifier
   * (re-import restates instead of duplicating); Patient, Practitioner, Organization and Device use
   * POST with ifNoneExist on their first identifier; resources without identifiers POST.
   */
  readonly bundle: Omit<Bundle, 'entry'> & { type: 'transaction'; entry: CcdaImportEntry[] };
  readonly patientFullUrl: string;
  readonly compositionFullUrl: string;
  readonly document: CcdaDocumentInfo;
  readonly sections: CcdaSectionStats[];
  readonly warnings: CcdaWarning[];
}
