/** FHIR -> C-CDA R2.1 CCD rendering: a pure library (no database, no HTTP). */
export { renderCcd, ccdTitle, CCD_RECORD_TYPES } from './render-ccd';
export type { CcdInput } from './render-ccd';
export { resourcesFromBundle } from './bundle-resources';
export { DEFAULT_ID_ROOT } from './render-context';
export { ccdDocumentReference } from './ccd-document-reference';
export type { CcdDocumentReferenceInput } from './ccd-document-reference';
export { selectForPeriod, isInPeriod, clinicalSpan } from '../period/select-for-period';
export type { DocumentPeriod, ClinicalSpan } from '../period/select-for-period';
export { parseDocumentPeriod } from '../period/parse-document-period';
export { renderCcdHtml } from '../html/render-ccd-html';
export { buildXdmZip, XDM_PATHS } from '../xdm/build-xdm-zip';
export type { XdmMeta } from '../xdm/build-xdm-zip';
export { xdmMetaForCcd } from '../xdm/xdm-meta-for-ccd';
export { SECTION_DEFINITIONS, findSectionByLoinc, findSectionByTemplateId } from '../../../ccda-templates';
