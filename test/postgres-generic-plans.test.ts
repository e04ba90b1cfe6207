/**
 * A statement prepared on a connection (src/db/prepared-statement.ts) is planned once and runs on that plan (src/db/
 * database.ts SESSION_SETTINGS, plan_cache_mode): by default PostgreSQL planned a staff search afresh at each
 * execution (0.6-0.7 ms of the server's CPU each time), as its plan for any value was estimated dearer than those for
 * the values at hand. And the plan for any value of a string search's prefix still reads the index by the prefix's range
 * (src/fhir/search/search-filters.ts stringCondition). PGlite runs no statement prepared by name.
 */
import { sql } from 'kysely';
import { prepared } from '../src/db/prepared-statement';
import { openTestDatabase, type TestDatabase } from './support/test-database';

const serverUrl = process.env.DATABASE_URL;
if (!serverUrl) console.log('postgres-generic-plans: PostgreSQL only (set DATABASE_URL); PGlite prepares no statement by name');
const onPostgres = serverUrl ? test : test.skip;

let database: TestDatabase | undefined;
afterAll(() => database?.close());

onPostgres('every connection runs its prepared statements on one plan, and a prefix search reads its range of the index', async () => {
  database = await openTestDatabase();
  expect(database.kind).toBe('postgres');
  const db = database.db;
  const settings = await Promise.all(
    Array.from(
      { length: 4 },
      async () => (await sql<{ mode: string }>`select current_setting('plan_cache_mode') as mode`.execute(db)).rows[0].mode,
    ),
  );
  expect(settings).toEqual(Array.from({ length: 4 }, () => 'force_generic_plan'));

  await db.transaction().execute(async (trx) => {
    // One connection: eight executions of one prepared statement with eight different values.
    const marker = `generic-plan-check-${process.pid}`;
    for (const [low, high] of [
      ['par', 'pas'],
      ['a', 'b'],
      ['lee', 'lef'],
      ['z', '{'],
      ['kim', 'kin'],
      ['o', 'p'],
      ['ω', 'ϊ'],
      ['ch', 'ci'],
    ])
      await prepared(sql`select ${sql.lit(marker)}::text as marker, count(*) from search_string i
        where i.resource_type = 'Patient' and i.code = 'name' and i.value ~>=~ ${low}::text and i.value ~<~ ${high}::text`).execute(trx);
    const { rows } = await sql<{ generic_plans: string; custom_plans: string }>`
      select generic_plans, custom_plans from pg_prepared_statements where statement like ${`%${marker}%`} and name like 'ck\\_%'`.execute(
      trx,
    );
    // Without the setting the first five executions at least are planned for their values.
    expect(rows).toHaveLength(1);
    expect(Number(rows[0].custom_plans)).toBe(0);
    expect(Number(rows[0].generic_plans)).toBeGreaterThanOrEqual(7);

    // The plan for any prefix, on a practice's names (statistics taken): an index scan bounded by the prefix's range,
    // not one that reads every name and filters.
    await sql`insert into search_string (resource_type, resource_id, code, value, exact)
      select 'Patient', 'p' || n, 'name', md5(n::text), md5(n::text) from generate_series(1, 5000) n`.execute(trx);
    await sql`analyze search_string`.execute(trx);
    await sql`prepare prefix_check(text, text) as select 1 from search_string i
      where i.resource_type = 'Patient' and i.code = 'name' and i.value ~>=~ $1 and i.value ~<~ $2`.execute(trx);
    const plan = (await sql<{ 'QUERY PLAN': string }>`explain execute prefix_check('par', 'pas')`.execute(trx)).rows
      .map((r) => r['QUERY PLAN'])
      .join('\n');
    expect(plan).toMatch(/Index (Only )?Scan using search_string_value_idx/);
    expect(plan).toMatch(/Index Cond: .*value ~>=~ \$1.*value ~<~ \$2/s);
    await sql`deallocate prefix_check`.execute(trx);
  });
});
