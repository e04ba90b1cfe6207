import type { Patient } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import { openTestDatabase, TestDatabase } from '../../test/support/test-database';
import { insertNew, prepareWrite } from './resource-writer';

let database: TestDatabase;
const now = new Date('2026-03-01T12:00:00Z');

beforeAll(async () => {
  database = await openTestDatabase();
});
afterAll(() => database.close());

const patient = (id: string, family: string): Patient & { id: string } => ({ resourceType: 'Patient', id, name: [{ family }] });

test('concurrent autocommit inserts share statements, and every caller gets its own outcome', async () => {
  await insertNew(database.db, [prepareWrite(patient('taken', 'First'), 1, now)]);
  const callers = Array.from({ length: 30 }, (_, i) => [prepareWrite(patient(`g${i}`, `Family${i}`), 1, now, { compartments: ['extra'] })]);
  // One caller collides with an existing row: it alone must fail, the other 30 must land.
  const results = await Promise.allSettled(
    [...callers, [prepareWrite(patient('taken', 'Second'), 1, now)]].map((writes) => insertNew(database.db, writes)),
  );
  expect(results.slice(0, 30).every((r) => r.status === 'fulfilled')).toBe(true);
  expect(results[30].status).toBe('rejected');

  const { rows } = await sql<{ id: string; compartments: string[]; family: string }>`
    select id, compartments, content::json->'name'->0->>'family' as family from resource where id like 'g%' order by id`.execute(
    database.db,
  );
  expect(rows).toHaveLength(30);
  expect(rows.find((r) => r.id === 'g7')).toEqual({ id: 'g7', compartments: ['extra', 'g7'], family: 'Family7' });
  const { rows: taken } = await sql<{
    family: string;
  }>`select content::json->'name'->0->>'family' as family from resource where id = 'taken'`.execute(database.db);
  expect(taken).toEqual([{ family: 'First' }]);
  const { rows: counts } = await sql<{ history: string; names: string }>`
    select (select count(*) from resource_history where id like 'g%')::text as history,
           (select count(*) from search_string where resource_id like 'g%' and code = 'family')::text as names`.execute(database.db);
  expect(counts).toEqual([{ history: '30', names: '30' }]);
});

test('inside a transaction the rows go in with it and leave with its rollback', async () => {
  await expect(
    database.db.transaction().execute(async (trx) => {
      await insertNew(trx, [prepareWrite(patient('rolled', 'Back'), 1, now)]);
      throw new Error('abort');
    }),
  ).rejects.toThrow('abort');
  const { rows } = await sql<{ n: string }>`select count(*)::text as n from resource_history where id = 'rolled'`.execute(database.db);
  expect(rows).toEqual([{ n: '0' }]);
});

test('the stored text is exactly the resource’s JSON: quotes, backslashes, escapes and any script, row by row in order', async () => {
  const awkward = [
    'Ünïcødé 李小龍 😀',
    'quote " backslash \\ slash / tab \t newline \n',
    // (FHIR strings hold no control characters but tab, CR and LF; the validator refuses them before this.)
    'line separator \u2028 and paragraph separator \u2029, CR \r',
    '{"looks": ["like", "json"]}',
  ];
  const writes = Array.from({ length: 2500 }, (_, i) => prepareWrite(patient(`exact${i}`, awkward[i % awkward.length] + i), 1, now));
  await insertNew(database.db, writes);
  const { rows } = await sql<{ id: string; content: string; history: string }>`
    select r.id, r.content, h.content as history from resource r join resource_history h using (resource_type, id)
    where r.id like 'exact%'`.execute(database.db);
  expect(rows).toHaveLength(2500);
  const byId = new Map(writes.map((w) => [w.resource.id, w.content]));
  for (const row of rows) {
    expect(row.content).toBe(byId.get(row.id));
    expect(row.history).toBe(row.content);
  }
});
