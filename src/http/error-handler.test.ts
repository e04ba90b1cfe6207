import { sql } from 'kysely';
import { openTestDatabase, TestDatabase } from '../../test/support/test-database';
import { toFhirError } from './error-handler';

let database: TestDatabase;
beforeAll(async () => {
  database = await openTestDatabase();
});
afterAll(() => database.close());

/** The error the database itself throws for a statement. */
async function databaseError(statement: ReturnType<typeof sql>): Promise<unknown> {
  try {
    await statement.execute(database.db);
  } catch (err) {
    return err;
  }
  throw new Error('the statement did not fail');
}

test('a NUL character the database refuses in text or jsonb is a 400, not a 500', async () => {
  const inText = await databaseError(sql`select ${'a\u0000b'}::text as t`);
  const inJsonb = await databaseError(sql`select ${'{"a":"\\u0000"}'}::jsonb as j`);
  for (const err of [inText, inJsonb]) {
    const fhirError = toFhirError(err);
    expect(fhirError.status).toBe(400);
    expect(fhirError.outcome.issue).toEqual([
      { severity: 'error', code: 'invalid', details: { text: 'Text may not contain a NUL character (\\u0000)' } },
    ]);
  }
});

test('other database errors stay 500', async () => {
  const err = await databaseError(sql`select * from no_such_table`);
  expect(toFhirError(err).status).toBe(500);
});
