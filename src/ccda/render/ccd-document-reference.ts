import { createHash } from 'node:crypto';
import type { DocumentReference, Organization, Patient, Reference } from '@medplum/fhirtypes';
import type { DocumentPeriod } from '../period/select-for-period';
import { ccdTitle } from './render-ccd';

/** What a $docref answer says about one generated CCD. */
export interface CcdDocumentReferenceInput {
  readonly patient: Patient;
  readonly custodian: Organization;
  /** The rendered document (to size and hash it). */
  readonly xml: string;
  /** Where the document is stored, e.g. { reference: 'Binary/123' }. */
  readonly binary: Reference;
  readonly documentId: string;
  readonly period?: DocumentPeriod;
  readonly now: Date;
}

/**
 * A US Core DocumentReference for a generated CCD (what `$docref` with on-demand=true returns): type 34133-9,
 * category clinical-note, the C-CDA R2.1 format code, the Binary as attachment with size and SHA-1 hash, and the
 * document period as context.period.
 */
export function ccdDocumentReference(input: CcdDocumentReferenceInput): DocumentReference {
  const bytes = Buffer.from(input.xml, 'utf8');
  const period = input.period ?? {};
  const subject: Reference<Patient> = { reference: `Patient/${input.patient.id}` };
  return {
    resourceType: 'DocumentReference',
    identifier: [
      {
        system: 'urn:ietf:rfc:3986',
        value: /^[0-9a-f-]{36}$/i.test(input.documentId)
          ? `urn:uuid:${input.documentId.toLowerCase()}`
          : `urn:chartkeeper:ccd:${input.documentId}`,
      },
    ],
    status: 'current',
    docStatus: 'final',
    type: {
      coding: [{ system: 'http://loinc.org', code: '34133-9', display: 'Summarization of episode note' }],
      text: 'Continuity of Care Document',
    },
    category: [
      {
        coding: [
          {
            system: 'http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category',
            code: 'clinical-note',
            display: 'Clinical Note',
          },
        ],
      },
    ],
    subject,
    date: input.now.toISOString(),
    author: input.custodian.id ? [{ reference: `Organization/${input.custodian.id}`, display: input.custodian.name }] : undefined,
    custodian: input.custodian.id ? { reference: `Organization/${input.custodian.id}`, display: input.custodian.name } : undefined,
    description: ccdTitle(period),
    content: [
      {
        attachment: {
          contentType: 'application/xml',
          url: input.binary.reference,
          size: bytes.length,
          hash: createHash('sha1').update(bytes).digest('base64'),
          title: ccdTitle(period),
          creation: input.now.toISOString(),
        },
        format: {
          system: 'http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode',
          code: 'urn:hl7-org:sdwg:ccda-structuredBody:2.1',
          display: 'C-CDA R2.1 structured body',
        },
      },
    ],
    context: period.start || period.end ? { period: { start: period.start, end: period.end } } : undefined,
  };
}
