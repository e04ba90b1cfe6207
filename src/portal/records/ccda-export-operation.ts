import { renderCcdForPatient } from './ccd-for-patient';
import { hasFullAccess } from '../../access/full-access';
import { badRequest, forbidden } from '../../fhir/outcomes';
import type { FhirOperation, OperationResult } from '../../fhir/operations/operation';

type CcdFormat = 'xml' | 'html' | 'zip';

const FORMAT_ALIASES: Record<string, CcdFormat> = {
  xml: 'xml',
  'application/xml': 'xml',
  'text/xml': 'xml',
  'application/cda+xml': 'xml',
  html: 'html',
  'text/html': 'html',
  zip: 'zip',
  'application/zip': 'zip',
  xdm: 'zip',
};

/** The answer format: `_format` wins; else the first Accept type we know; else the C-CDA XML. */
export function ccdFormat(format: string | undefined, accept: string | undefined): CcdFormat {
  if (format) {
    const name = format.trim().toLowerCase();
    const known = Object.hasOwn(FORMAT_ALIASES, name) ? FORMAT_ALIASES[name] : undefined;
    if (!known) throw badRequest(`_format must be xml, html or zip (or their media types), got "${format}"`, '_format');
    return known;
  }
  for (const part of (accept ?? '').split(',')) {
    const type = part.split(';')[0].trim().toLowerCase();
    if (Object.hasOwn(FORMAT_ALIASES, type)) return FORMAT_ALIASES[type];
  }
  return 'xml';
}

/**
 * The preview's policy as a header (the page's meta tag says the same, for a saved copy): nothing loads or runs, its
 * own inline styles apply, and no other site may frame it. A meta tag cannot say frame-ancestors.
 */
export const CCD_HTML_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** A document period as file names show it: `all`, `2025-03-04`, `2024-01-01-2026-06-30`. */
export function periodInFileName(period: { readonly start?: string; readonly end?: string } | undefined): string {
  return `${period?.start ?? 'all'}${period?.end && period.end !== period.start ? `-${period.end}` : ''}`;
}

/**
 * Patient/{id}/$ccda: the patient's record as a C-CDA R2.1 CCD for one date, a range or all time,
 * as the XML, an HTML preview rendered from that XML (times in the practice's zone), or an IHE XDM zip.
 */
export const ccdaExportOperation = (timeZone: string): FhirOperation => ({
  info: { name: 'ccda', resourceType: 'Patient', definition: 'https://chartkeeper.dev/fhir/OperationDefinition/Patient-ccda' },
  level: 'instance',
  methods: ['GET'],
  async handle({ repo, id, params, accept }): Promise<OperationResult> {
    const format = ccdFormat(params._format, accept);
    await repo.read('Patient', id as string);
    if (!hasFullAccess(repo.context.scope, id as string)) {
      throw forbidden('A C-CDA document holds the whole clinical record; it needs full access to the patient');
    }
    const outputs = format === 'html' ? { html: { timeZone } } : format === 'zip' ? { xdm: { timeZone } } : {};
    const { xml, html, zip, input } = await repo.asOperation('$ccda', () =>
      renderCcdForPatient(repo, id as string, params.start, params.end, outputs),
    );
    const fileBase = `ccd-${input.patient.id}-${periodInFileName(input.period)}`;
    if (format === 'html')
      return {
        kind: 'content',
        contentType: 'text/html; charset=utf-8',
        body: html!,
        headers: { 'Content-Security-Policy': CCD_HTML_POLICY },
      };
    if (format === 'zip') {
      return {
        kind: 'content',
        contentType: 'application/zip',
        body: zip!,
        headers: { 'Content-Disposition': `attachment; filename="${fileBase}.zip"` },
      };
    }
    return {
      kind: 'content',
      contentType: 'application/xml; charset=utf-8',
      body: xml,
      headers: { 'Content-Disposition': `inline; filename="${fileBase}.xml"` },
    };
  },
});
