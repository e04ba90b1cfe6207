import { sql } from 'kysely';
import { Client } from 'pg';
import { autovacuumRuns } from '../db/table-statistics';
import { openTestDatabase, type TestDatabase } from '../../test/support/test-database';
import { advisoryLockKey } from './advisory-lock';
import type { JobDeps } from './job-deps';
import { vacuumTablesJob } from './vacuum-tables-job';

let database: TestDatabase;
beforeAll(async () => {
  database = await openTestDatabase({ statementTimeoutMs: 5000 });
}, 120_000);
afterAll(() => database?.close());

const heapBytes = async (table: string): Promise<number> =>
  Number((await sql<{ n: string }>`select pg_relation_size(${table}::regclass) as n`.execute(database.db)).rows[0].n);

/** 20,000 access records written and taken again, as a day of audited reads leaves the log. */
async function churnAuditLog(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await sql`insert into audit_log (entry) select jsonb_build_object('patientId', 'p' || g, 'interaction', 'read',
      'resources', jsonb_build_array('Observation/' || g)) from generate_series(1, 2000) g`.execute(database.db);
    await sql`delete from audit_log`.execute(database.db);
  }
}

test('where autovacuum does not run, the churning tables are vacuumed and their space given back', async () => {
  const deps = { db: database.db } as JobDeps;
  await churnAuditLog();
  const bloated = await heapBytes('audit_log');
  if (await autovacuumRuns(database.db)) {
    // A server where autovacuum runs: the job leaves the work to it.
    expect(await vacuumTablesJob(deps)).toEqual([]);
    return;
  }
  expect(bloated).toBeGreaterThan(1_000_000);
  const vacuumed = await vacuumTablesJob(deps);
  expect(vacuumed).toEqual(expect.arrayContaining(['audit_log', 'portal_notice', 'subscription_notification', 'throttle']));
  expect(vacuumed).not.toContain('resource');
  // The emptied table's pages are cut off its end.
  expect(await heapBytes('audit_log')).toBe(0);
  // The connection went back to the pool with its statement timeout as it was.
  const { rows } = await sql<{ t: string }>`select current_setting('statement_timeout') as t`.execute(database.db);
  expect(rows[0].t).toBe(database.kind === 'postgres' ? '5s' : rows[0].t);
}, 120_000);

test('where the server counts dead rows, another table past autovacuum’s threshold is vacuumed too', async () => {
  if (database.kind !== 'postgres' || (await autovacuumRuns(database.db))) return;
  const deps = { db: database.db } as JobDeps;
  await vacuumTablesJob(deps);
  await sql`insert into job_run (job, run_key, finished_at) select 'churn', 'k' || g, now() from generate_series(1, 1000) g`.execute(
    database.db,
  );
  await sql`delete from job_run where job = 'churn'`.execute(database.db);
  // The server's counts reach pg_stat_user_tables when the writing backend reports them (at most a second later).
  let vacuumed: string[] | undefined = [];
  for (let i = 0; i < 20 && !vacuumed?.includes('job_run'); i++) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    vacuumed = await vacuumTablesJob(deps);
  }
  expect(vacuumed).toContain('job_run');
  expect(await vacuumTablesJob(deps)).not.toContain('job_run');
}, 120_000);

test('an instance that finds another one vacuuming skips the run', async () => {
  if (database.kind !== 'postgres') return; // one process has the embedded database
  const other = new Client({ connectionString: database.url });
  await other.connect();
  try {
    await other.query('select pg_advisory_lock($1::bigint)', [advisoryLockKey('vacuum-tables').toString()]);
    expect(await vacuumTablesJob({ db: database.db } as JobDeps)).toBeUndefined();
  } finally {
    await other.end();
  }
  expect(await vacuumTablesJob({ db: database.db } as JobDeps)).toBeDefined();
}, 120_000);
