import { sql } from 'kysely';
import { openTestDatabase, TestDatabase } from '../../test/support/test-database';
import { arrayLiteral } from './array-literal';

let database: TestDatabase;
beforeAll(async () => {
  database = await openTestDatabase();
});
afterAll(() => database.close());

/** What PostgreSQL reads from the parameter arrayLiteral makes. */
async function roundTrip(values: (string | null)[]): Promise<(string | null)[]> {
  const { rows } = await sql<{ v: string | null }>`select unnest(${arrayLiteral(values)}::text[]) as v`.execute(database.db);
  return rows.map((r) => r.v);
}

test('text with quotes, backslashes, braces, commas, spaces, NULL-like words and non-ASCII reads back exactly', async () => {
  const values = ['plain', 'a "quoted" word', 'back\\slash', '\\"', '{x}', 'a,b', ' padded ', 'NULL', '', 'Größe 体重 🩺', null];
  expect(typeof arrayLiteral(values)).toBe('string');
  expect(await roundTrip(values)).toEqual(values);
});

test('control characters and other JSON escapes fall back to the values, which the driver quotes', async () => {
  const values = ['line\nbreak', 'tab\there', '\u0001'];
  for (const value of values) expect(arrayLiteral([value])).toEqual([value]);
  expect(await roundTrip(values)).toEqual(values);
  // A backslash before a letter is an escaped backslash, which the literal carries.
  expect(typeof arrayLiteral(['back\\n', 'C:\\temp'])).toBe('string');
  expect(await roundTrip(['back\\n', 'C:\\temp', 'mixed\\"\n'])).toEqual(['back\\n', 'C:\\temp', 'mixed\\"\n']);
});

test('numbers and booleans are written as PostgreSQL reads them', async () => {
  const { rows } = await sql<{ n: string; b: boolean }>`
    select unnest(${arrayLiteral([1, 2.5, -3e-7, 1e21])}::numeric[])::text as n, unnest(${arrayLiteral([true, false, true, false])}::boolean[]) as b`.execute(
    database.db,
  );
  expect(rows.map((r) => [Number(r.n), r.b])).toEqual([
    [1, true],
    [2.5, false],
    [-3e-7, true],
    [1e21, false],
  ]);
  expect(arrayLiteral([])).toBe('{}');
});
