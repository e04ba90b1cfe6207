/**
 * $ccda, $docref and $transmit read only CCD_RECORD_TYPES of a record (plus what those reference), not its messages,
 * files, bills or audit trail. These tests show that this changes nothing in the document: rendered from everything
 * or from only those types, each record gives the same XML, byte for byte.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Bundle, Patient, Resource } from '@medplum/fhirtypes';
import { demoFamilyCcdInputs } from '../../../test/support/ccda/ccd-demo-inputs';
import { SPARSE_PATIENT, SPARSE_RESOURCES, TEST_ORG, TEST_PATIENT, TEST_RESOURCES } from '../../../test/support/ccda/ccd-test-record';
import { resourcesFromBundle } from './bundle-resources';
import { CCD_RECORD_TYPES, renderCcd, type CcdInput } from './render-ccd';

const NOW = new Date('2026-11-21T12:00:00Z');
const SYNTHEA = path.resolve(__dirname, '../../..', '../shared/corpus/fhir/smart-generated-sample-data-r4-synthea');
/** What Patient/$everything adds to the record's resources: the shared resources they reference. */
const REFERENCED_TYPES = ['Practitioner', 'PractitionerRole', 'Organization', 'Location', 'Medication', 'Device'];

function onlyRecordTypes(input: CcdInput): CcdInput {
  const kept = new Set([...CCD_RECORD_TYPES, ...REFERENCED_TYPES]);
  return { ...input, resources: input.resources.filter((r) => kept.has(r.resourceType)) };
}

function syntheaInputs(count: number): CcdInput[] {
  if (!existsSync(SYNTHEA)) return [];
  return readdirSync(SYNTHEA)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .slice(0, count)
    .map((f) => {
      const resources = resourcesFromBundle(JSON.parse(readFileSync(path.join(SYNTHEA, f), 'utf8')) as Bundle);
      const patient = resources.find((r): r is Patient => r.resourceType === 'Patient') as Patient;
      return { patient, resources: resources.filter((r: Resource) => r !== patient), custodian: TEST_ORG, documentId: f, now: NOW };
    });
}

test('the CCD record types leave out what no section reads (messages, files, bills, audit)', () => {
  for (const type of ['Communication', 'Binary', 'AuditEvent', 'Invoice', 'Account', 'Task', 'Appointment', 'Consent', 'Patient']) {
    expect([type, CCD_RECORD_TYPES.includes(type)]).toEqual([type, false]);
  }
});

test('a CCD rendered from only the record types is the CCD rendered from everything', () => {
  const inputs: CcdInput[] = [
    { patient: TEST_PATIENT, resources: TEST_RESOURCES, custodian: TEST_ORG, documentId: 'unit', now: NOW },
    { patient: SPARSE_PATIENT, resources: SPARSE_RESOURCES, custodian: TEST_ORG, documentId: 'sparse', now: NOW },
    ...demoFamilyCcdInputs(NOW).map((d) => ({
      patient: d.patient,
      resources: d.resources,
      custodian: d.custodian,
      documentId: d.key,
      now: NOW,
    })),
  ];
  for (const input of inputs) expect([input.documentId, renderCcd(onlyRecordTypes(input))]).toEqual([input.documentId, renderCcd(input)]);
});

const synthea = syntheaInputs(6);
if (!synthea.length) console.warn(`Skipping the Synthea record-types check: corpus absent (${SYNTHEA})`);
(synthea.length ? test : test.skip)('the same holds for Synthea records, which hold claims, provenance and more (corpus)', () => {
  let left = 0;
  for (const input of synthea) {
    const filtered = onlyRecordTypes(input);
    left += input.resources.length - filtered.resources.length;
    expect([input.documentId, renderCcd(filtered)]).toEqual([input.documentId, renderCcd(input)]);
  }
  // The check means something only if the records held resources of other types.
  expect(left).toBeGreaterThan(100);
});
