import { sql } from 'kysely';
import { Client } from 'pg';
import { type Database, openDatabase } from '../src/db/database';

/**
 * The service's PostgreSQL connections never JIT-compile a statement (src/db/database.ts, SESSION_SETTINGS): a
 * portal caller's $ccda spent 0.6 to 2.3 s compiling a statement that ran in 10 ms once its estimated cost passed
 * jit_above_cost. PGlite has no JIT.
 */

const serverUrl = process.env.DATABASE_URL;
if (!serverUrl) console.log('postgres-jit: PostgreSQL only (set DATABASE_URL); PGlite has no JIT');
const onPostgres = serverUrl ? test : test.skip;

/** A statement whose estimated cost is far above the default jit_above_cost (100,000), and cheap to plan. */
const COSTLY = 'explain select count(*) from pg_class a, pg_class b, pg_class c';

let database: Database | undefined;
afterAll(() => database?.close());

onPostgres('a statement whose estimated cost passes jit_above_cost is planned without JIT, on every connection', async () => {
  // The server as it is configured: it would JIT the statement (when it has JIT at all).
  const plain = new Client({ connectionString: serverUrl });
  await plain.connect();
  let serverJits: boolean;
  try {
    const { rows } = await plain.query<{ on: boolean }>(`select pg_jit_available() and current_setting('jit') = 'on' as on`);
    serverJits = rows[0].on;
    const plan = (await plain.query<{ 'QUERY PLAN': string }>(COSTLY)).rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(plan.includes('JIT:')).toBe(serverJits);
  } finally {
    await plain.end();
  }
  if (!serverJits) console.log('postgres-jit: this server does not JIT anyway; the test shows only that the setting is off');

  database = await openDatabase({ databaseUrl: serverUrl, dataDir: '' });
  const db = database.db;
  // Several at once, so that several of the pool's connections answer.
  const answers = await Promise.all(
    Array.from({ length: 4 }, async () => {
      const { rows } = await sql<{ 'QUERY PLAN': string }>`${sql.raw(COSTLY)}`.execute(db);
      const { rows: setting } = await sql<{ jit: string }>`select current_setting('jit') as jit`.execute(db);
      return { jit: rows.some((r) => r['QUERY PLAN'].startsWith('JIT:')), setting: setting[0].jit };
    }),
  );
  expect(answers).toEqual(Array.from({ length: 4 }, () => ({ jit: false, setting: 'off' })));
  // Inside a transaction too (its first statement may be the connection's first).
  const inTransaction = await db
    .transaction()
    .execute(async (trx) => (await sql<{ jit: string }>`select current_setting('jit') as jit`.execute(trx)).rows[0].jit);
  expect(inTransaction).toBe('off');
});
