/**
 * Fresh planner statistics where autovacuum does not keep them: with it off (a server set up for bulk loads, these
 * machines) or on the embedded database (which never runs it), a table filled since its last ANALYZE is planned as it
 * was, and a search that took a millisecond can take seconds. Every five minutes the job analyses each table changed
 * past autovacuum's own threshold; where autovacuum runs, it leaves the work to it.
 */
import { autovacuumRuns, tablesNeedingAnalyze } from '../db/table-statistics';
import { sql } from 'kysely';
import { runUnderAdvisoryLock } from './advisory-lock';
import type { JobDeps } from './job-deps';

/** The tables analysed (none where autovacuum runs); undefined when another instance is running the job. */
export async function analyzeStatisticsJob(deps: JobDeps): Promise<string[] | undefined> {
  const run = await runUnderAdvisoryLock(deps.db, 'analyze-statistics', async (trx) => {
    if (await autovacuumRuns(trx)) return [];
    const tables = await tablesNeedingAnalyze(trx);
    // ANALYZE samples at most 30,000 rows of a table whatever its size; no request's timeout applies to it.
    await sql`set local statement_timeout = 0`.execute(trx);
    for (const table of tables) await sql`analyze ${sql.table(table)}`.execute(trx);
    return tables;
  });
  if (!run.ran) return undefined;
  if (run.result.length) deps.logger?.info({ tables: run.result }, 'tables analysed');
  return run.result;
}
