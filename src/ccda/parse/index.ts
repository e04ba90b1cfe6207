/** C-CDA -> FHIR import: a pure library (no database, no HTTP). */
export { parseCcda } from './parse-ccda';
export type { ParseCcdaOptions } from './parse-ccda';
export { CcdaParseError } from './ccda-parse-error';
export type { CcdaParseErrorCode } from './ccda-parse-error';
export type {
  CcdaDocumentInfo,
  CcdaDocumentKind,
  CcdaImportEntry,
  CcdaImportResult,
  CcdaSectionStats,
  CcdaWarning,
} from './ccda-import-types';
export { CCDA_POSITION_SYSTEM } from './import-context';
export { USCDI_SECTION_KINDS, sectionKind } from './section-catalog';
export type { SectionKind } from './section-catalog';
export { DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, DEFAULT_MAX_ATTRIBUTES, DEFAULT_MAX_ELEMENTS } from './xml-reader';
