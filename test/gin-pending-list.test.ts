/**
 * The GIN indexes take each entry into the index itself, not into a pending list that every search through the index
 * reads whole and that only VACUUM merges: where autovacuum is off, and on the embedded database, that list grows with
 * every write and a patient's $everything and C-CDA documents slow down with it (migration 0027). Both databases.
 */
import type { Observation } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import { insertNew, prepareWrite } from '../src/fhir/resource-writer';
import { openTestDatabase, type TestDatabase } from './support/test-database';

let database: TestDatabase;
beforeAll(async () => {
  database = await openTestDatabase();
});
afterAll(() => database?.close());

test('every GIN index of the schema is built without a pending list', async () => {
  const { rows } = await sql<{ name: string; options: string[] | null }>`
    select c.relname as name, c.reloptions as options from pg_class c
      join pg_am a on a.oid = c.relam join pg_namespace n on n.oid = c.relnamespace
    where c.relkind = 'i' and a.amname = 'gin' and n.nspname = current_schema() order by 1`.execute(database.db);
  expect(rows.map((row) => row.name)).toContain('resource_owners_idx');
  for (const row of rows) expect([row.name, row.options ?? []]).toEqual([row.name, expect.arrayContaining(['fastupdate=off'])]);
});

test('writes one at a time leave nothing pending in the record-owners index', async () => {
  const at = new Date('2026-03-01T12:00:00Z');
  for (let i = 0; i < 60; i++) {
    const observation: Observation & { id: string } = {
      resourceType: 'Observation',
      id: `gin-obs-${i}`,
      status: 'final',
      code: { text: 'heart rate' },
      subject: { reference: `Patient/gin-patient-${i % 3}` },
    };
    await database.db.transaction().execute((trx) => insertNew(trx, [prepareWrite(observation, 1, at)]));
  }
  // gin_clean_pending_list merges what is pending and says how many pages it merged.
  const { rows } = await sql<{ pages: number }>`select gin_clean_pending_list('resource_owners_idx'::regclass)::int as pages`.execute(
    database.db,
  );
  expect(rows[0].pages).toBe(0);
  const owned = await sql<{ n: number }>`select count(*)::int as n from resource where owners @> array['gin-patient-1']`.execute(
    database.db,
  );
  expect(owned.rows[0].n).toBe(20);
});
