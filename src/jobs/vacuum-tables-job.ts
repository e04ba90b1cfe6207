/**
 * Space reclaimed where autovacuum does not reclaim it: with it off (a server set up for bulk loads, these machines) or
 * on the embedded database (which never runs it), a deleted row's space is never reused, and the queues and outboxes,
 * which fill and empty all day, grow without end. Every minute the job vacuums those tables (milliseconds each while
 * they are nearly empty) and, where the server counts dead rows, any other table past autovacuum's own threshold;
 * where autovacuum runs, it leaves the work to it.
 *
 * VACUUM cannot run inside a transaction, so the job holds one connection and a session-level advisory lock on it
 * (runUnderSessionAdvisoryLock), instead of the transaction-level lock the other jobs take.
 */
import { sql } from 'kysely';
import { runUnderSessionAdvisoryLock } from './advisory-lock';
import { autovacuumRuns, tablesNeedingVacuum } from '../db/table-statistics';
import type { JobDeps } from './job-deps';

/** The tables vacuumed (none where autovacuum runs); undefined when another instance is running the job. */
export async function vacuumTablesJob(deps: JobDeps): Promise<string[] | undefined> {
  const run = await runUnderSessionAdvisoryLock(deps.db, 'vacuum-tables', async (conn) => {
    if (await autovacuumRuns(conn)) return [];
    const due = await tablesNeedingVacuum(conn);
    // A big table's vacuum may take minutes; it takes no lock that holds up reads or writes. The session's timeout
    // is put back before the connection goes back to the pool.
    await sql`set statement_timeout = 0`.execute(conn);
    try {
      for (const table of due) await sql`vacuum ${sql.table(table)}`.execute(conn);
    } finally {
      await sql`reset statement_timeout`.execute(conn);
    }
    return due;
  });
  if (!run.ran) return undefined;
  if (run.result.length) deps.logger?.debug({ tables: run.result }, 'tables vacuumed');
  return run.result;
}
