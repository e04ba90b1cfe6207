import type { BundleEntry, Patient } from '@medplum/fhirtypes';
import { openTestDatabase, type TestDatabase } from '../../../test/support/test-database';
import { unrestrictedScope } from '../../access/access-scope';
import type { CcdaImportResult } from '../../ccda/parse';
import { processBundle } from '../../fhir/bundle-processor';
import { systemClock } from '../../fhir/clock';
import { FhirError } from '../../fhir/outcomes';
import { Repository } from '../../fhir/repository';
import { dropFailedUsCoreClaims } from './ccda-us-core-claims';

const US_CORE_PATIENT = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient';

describe('a US Core claim the store refuses', () => {
  let database: TestDatabase;
  let repo: Repository;
  beforeAll(async () => {
    database = await openTestDatabase();
    repo = new Repository(database.db, { scope: unrestrictedScope(), clock: systemClock, fhirBase: 'http://test/fhir' });
  });
  afterAll(() => database?.close());

  it('is taken back from the entry the refusal names, and the transaction then goes through', async () => {
    // A claim the resource does not meet (no gender), as the import's write would meet it.
    const patient: Patient = {
      resourceType: 'Patient',
      meta: { profile: [US_CORE_PATIENT], tag: [{ code: 'kept' }] },
      identifier: [{ system: 'urn:oid:1.2.3', value: 'claims-1' }],
      name: [{ family: 'Claim' }],
    };
    const other: Patient = {
      resourceType: 'Patient',
      meta: { profile: [US_CORE_PATIENT] },
      identifier: [{ system: 'urn:oid:1.2.3', value: 'fine-1' }],
      gender: 'male',
      name: [{ family: 'Fine' }],
    };
    const entries: BundleEntry[] = [
      { fullUrl: 'urn:uuid:11111111-1111-4111-8111-111111111111', resource: other, request: { method: 'POST', url: 'Patient' } },
      { fullUrl: 'urn:uuid:22222222-2222-4222-8222-222222222222', resource: patient, request: { method: 'POST', url: 'Patient' } },
    ];
    const parsed = { bundle: { resourceType: 'Bundle', type: 'transaction', entry: entries } } as unknown as CcdaImportResult;
    const refusal = await processBundle(repo, { resourceType: 'Bundle', type: 'transaction', entry: entries }).catch((err: unknown) => err);
    expect(refusal).toBeInstanceOf(FhirError);
    expect(dropFailedUsCoreClaims(refusal as FhirError, entries, parsed)).toBe(true);
    expect(patient.meta).toEqual({ tag: [{ code: 'kept' }] });
    expect(other.meta?.profile).toEqual([US_CORE_PATIENT]); // the entry that met its claim keeps it
    const done = await processBundle(repo, { resourceType: 'Bundle', type: 'transaction', entry: entries });
    expect(done.entry?.map((e) => e.response?.status)).toEqual(['201 Created', '201 Created']);
  });

  it('leaves every claim alone when the refusal is about something else', () => {
    const patient: Patient = { resourceType: 'Patient', meta: { profile: [US_CORE_PATIENT] } };
    const entries: BundleEntry[] = [{ fullUrl: 'urn:uuid:a', resource: patient }];
    const parsed = { bundle: { resourceType: 'Bundle', type: 'transaction', entry: entries } } as unknown as CcdaImportResult;
    const other = new FhirError(400, {
      resourceType: 'OperationOutcome',
      issue: [
        {
          severity: 'error',
          code: 'invalid',
          details: { text: 'Invalid date' },
          expression: ['Bundle.entry[0].resource.Patient.birthDate'],
        },
      ],
    });
    expect(dropFailedUsCoreClaims(other, entries, parsed)).toBe(false);
    expect(patient.meta?.profile).toEqual([US_CORE_PATIENT]);
  });
});
