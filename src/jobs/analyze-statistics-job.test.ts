import { sql } from 'kysely';
import { autovacuumRuns } from '../db/table-statistics';
import { openTestDatabase, type TestDatabase } from '../../test/support/test-database';
import { analyzeStatisticsJob } from './analyze-statistics-job';
import type { JobDeps } from './job-deps';

let database: TestDatabase;
beforeAll(async () => {
  database = await openTestDatabase();
}, 120_000);
afterAll(() => database?.close());

test('where autovacuum does not run, the job analyses the tables that changed since their last analyse, and only those', async () => {
  const deps = { db: database.db } as JobDeps;
  // Everything the migrations filled was analysed then; a first run settles whatever else is left.
  await analyzeStatisticsJob(deps);
  await sql`insert into release_notice (patient_id, resource_type, resource_id, released_at)
    select 'p' || i, 'DocumentReference', 'd' || i, now() from generate_series(1, 3000) i`.execute(database.db);
  const planned = async () =>
    (
      await sql<{ n: number }>`select reltuples::int as n from pg_class where relname = 'release_notice' and relkind = 'r'`.execute(
        database.db,
      )
    ).rows[0].n;
  if (await autovacuumRuns(database.db)) {
    // A server where autovacuum runs: the job leaves the work to it.
    expect(await analyzeStatisticsJob(deps)).toEqual([]);
    return;
  }
  expect(await analyzeStatisticsJob(deps)).toEqual(['release_notice']);
  expect(await planned()).toBe(3000);
  // Nothing changed since: nothing to do.
  expect(await analyzeStatisticsJob(deps)).toEqual([]);
  await sql`delete from release_notice`.execute(database.db);
}, 120_000);
