import { sql } from 'kysely';
import { openTestDatabase, type TestDatabase } from '../../test/support/test-database';
import { StatementScope, withStatementScope } from './statement-scope';

let database: TestDatabase;
beforeAll(async () => {
  database = await openTestDatabase();
}, 120_000);
afterAll(() => database?.close());

const onPostgres = !!process.env.DATABASE_URL;

/**
 * A request's client leaves as its statement ends: the cancel request (which names the backend, not the statement)
 * must not reach the connection's next user. Each trial aborts the scope a moment after its short statement was sent,
 * so the statement often ends before the request arrives; the next statement on that same connection, outside any
 * request, must run to its end.
 */
(onPostgres ? test : test.skip)(
  'a cancel sent as a statement ends never cancels the connection’s next statement (PostgreSQL)',
  async () => {
    const trials = 150;
    const casualties: string[] = [];
    await database.db.connection().execute(async (conn) => {
      for (let i = 0; i < trials; i++) {
        const scope = new StatementScope();
        const leaving = withStatementScope(scope, () => sql`select pg_sleep(0.002)`.execute(conn)).catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, i % 4));
        scope.abort();
        await leaving;
        try {
          await sql`select pg_sleep(0.02)`.execute(conn);
        } catch (err) {
          casualties.push((err as Error).message);
        }
      }
    });
    expect(casualties).toEqual([]);
  },
  120_000,
);
