import type { Patient } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import { unrestrictedScope } from '../access/access-scope';
import { openTestDatabase, type TestDatabase } from '../../test/support/test-database';
import { processBundle } from './bundle-processor';
import { systemClock } from './clock';
import { Repository } from './repository';

let database: TestDatabase;
let repo: Repository;
beforeAll(async () => {
  database = await openTestDatabase();
  repo = new Repository(database.db, { scope: unrestrictedScope(), clock: systemClock, fhirBase: 'http://test/fhir' });
  // Connections opened beforehand (on PostgreSQL), so that the writers below start at once rather than one by one.
  await Promise.all(Array.from({ length: 8 }, () => sql`select pg_sleep(0.05)`.execute(database.db)));
});
afterAll(() => database.close());

const patient = (mrn: string): Patient => ({
  resourceType: 'Patient',
  identifier: [{ system: 'urn:lock-test', value: mrn }],
  name: [{ family: 'Lock' }],
});

async function stored(mrn: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    select count(*)::int as n from resource where resource_type = 'Patient' and content::jsonb->'identifier' @> ${JSON.stringify([{ value: mrn }])}::jsonb`.execute(
    database.db,
  );
  return rows[0].n;
}

test('eight creates with the same If-None-Exist at once: one creates, seven find it', async () => {
  const results = await Promise.all(
    Array.from({ length: 8 }, () => repo.create(patient('once'), { ifNoneExist: 'identifier=urn:lock-test|once' })),
  );
  expect(results.map((r) => r.created).sort()).toEqual([false, false, false, false, false, false, false, true]);
  expect(new Set(results.map((r) => r.resource.id)).size).toBe(1);
  expect(await stored('once')).toBe(1);
});

test('transactions naming the same conditions in opposite orders all commit, each resource once', async () => {
  const entry = (mrn: string) => ({
    resource: patient(mrn),
    request: { method: 'POST' as const, url: 'Patient', ifNoneExist: `identifier=urn:lock-test|${mrn}` },
  });
  const forwards = () => processBundle(repo, { resourceType: 'Bundle', type: 'transaction', entry: [entry('a'), entry('b'), entry('c')] });
  const backwards = () => processBundle(repo, { resourceType: 'Bundle', type: 'transaction', entry: [entry('c'), entry('b'), entry('a')] });
  const answers = await Promise.all([forwards(), backwards(), forwards(), backwards()]);
  expect(answers.map((b) => b.type)).toEqual(Array(4).fill('transaction-response'));
  expect([await stored('a'), await stored('b'), await stored('c')]).toEqual([1, 1, 1]);
});
