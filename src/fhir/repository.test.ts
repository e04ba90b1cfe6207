import type { Observation, Patient } from '@medplum/fhirtypes';
import { parseSearchRequest } from '@medplum/core';
import { unrestrictedScope } from '../access/access-scope';
import { openTestDatabase, TestDatabase } from '../../test/support/test-database';
import { FixedClock } from './clock';
import { Repository } from './repository';

let database: TestDatabase;
let repo: Repository;
const clock = new FixedClock(new Date('2026-03-01T12:00:00Z'));

beforeAll(async () => {
  database = await openTestDatabase();
  repo = new Repository(database.db, { scope: unrestrictedScope(), clock, fhirBase: 'http://test/fhir' });
});
afterAll(() => database.close());

test('create, read, update with versions, delete', async () => {
  const { resource: ada } = await repo.create<Patient>({
    resourceType: 'Patient',
    name: [{ family: 'Park', given: ['Ada'] }],
    birthDate: '1984-05-02',
  });
  expect(ada.meta?.versionId).toBe('1');
  expect(ada.meta?.lastUpdated).toBe('2026-03-01T12:00:00.000Z');
  expect(await repo.read('Patient', ada.id!)).toEqual(ada);

  clock.advance(1000);
  const { resource: v2 } = await repo.update<Patient>({ ...ada, gender: 'female' }, { ifMatch: 'W/"1"' });
  expect(v2.meta?.versionId).toBe('2');
  await expect(repo.update<Patient>({ ...ada, gender: 'male' }, { ifMatch: 'W/"1"' })).rejects.toMatchObject({ status: 412 });
  expect((await repo.vread('Patient', ada.id!, '1')).content).toContain('"versionId":"1"');

  await repo.delete('Patient', ada.id!);
  await expect(repo.read('Patient', ada.id!)).rejects.toMatchObject({ status: 410 });
  const history = await repo.history('Patient', ada.id);
  expect(history.entry?.map((e) => e.response?.etag)).toEqual(['W/"3"', 'W/"2"', 'W/"1"']);
});

test('search by token, string, date, reference and quantity', async () => {
  const { resource: ben } = await repo.create<Patient>({
    resourceType: 'Patient',
    name: [{ family: 'Park', given: ['Ben'] }],
    birthDate: '2017-01-10',
  });
  const subject = { reference: `Patient/${ben.id}` };
  const glucose = (value: number, when: string): Observation => ({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '2345-7', display: 'Glucose' }] },
    subject,
    effectiveDateTime: when,
    valueQuantity: { value, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
  });
  await repo.create(glucose(90, '2025-01-05T09:00:00-05:00'));
  await repo.create(glucose(140, '2025-06-05'));
  const ids = async (query: string) => {
    const bundle = await repo.search(parseSearchRequest(`Observation?${query}`));
    return (bundle.entry ?? []).map((e) => (e.resource as Observation).valueQuantity?.value).sort();
  };
  expect(await ids(`patient=Patient/${ben.id}`)).toEqual([140, 90]);
  expect(await ids('code=http://loinc.org|2345-7')).toEqual([140, 90]);
  expect(await ids('code:text=gluc')).toEqual([140, 90]);
  expect(await ids('code:not=2345-7')).toEqual([]);
  expect(await ids('date=ge2025-06')).toEqual([140]);
  expect(await ids('date=2025-01-05')).toEqual([90]);
  expect(await ids('date=lt2025-01-05T14:00:00Z')).toEqual([]);
  expect(await ids('value-quantity=gt100')).toEqual([140]);
  expect(await ids('value-quantity=90|http://unitsofmeasure.org|mg/dL')).toEqual([90]);
  const patients = await repo.search(parseSearchRequest('Patient?name=be&birthdate=2017'));
  expect(patients.total).toBe(1);
  await expect(repo.search(parseSearchRequest('Patient?shoe-size=9'))).rejects.toMatchObject({ status: 400 });
  expect(() => parseSearchRequest('Observation?date=2025-13-01')).toThrow('Invalid format for date');
});

test('an update that restates the current content writes no new version', async () => {
  const { resource: cara } = await repo.create<Patient>({
    resourceType: 'Patient',
    name: [{ family: 'Park', given: ['Cara'] }],
    birthDate: '2011-07-02',
  });
  const same = await repo.update<Patient>({
    resourceType: 'Patient',
    id: cara.id,
    name: [{ family: 'Park', given: ['Cara'] }],
    birthDate: '2011-07-02',
  });
  expect(same).toMatchObject({ created: false, unchanged: true });
  expect(same.resource.meta?.versionId).toBe('1');
  const changed = await repo.update<Patient>({ ...cara, gender: 'female' });
  expect(changed.resource.meta?.versionId).toBe('2');
});
