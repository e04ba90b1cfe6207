/**
 * Scheduled jobs run on every instance's cron, but each run must happen once: a job takes a PostgreSQL
 * transaction-level advisory lock first, and an instance that does not get it skips the run. The lock goes
 * with the transaction (commit, rollback or a dead connection), so a crashed instance never holds it. PGlite
 * is PostgreSQL too, so the same code runs embedded.
 */
import { createHash } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Tables } from '../db/tables';

/** The 64-bit lock key of a job name (stable across instances and releases). */
export function advisoryLockKey(jobName: string): bigint {
  return createHash('sha256').update(`chartkeeper:job:${jobName}`).digest().readBigInt64BE(0);
}

/** The outcome of a locked run: the job's result, or skipped because another instance holds the lock. */
export type LockedRun<T> = { readonly ran: true; readonly result: T } | { readonly ran: false };

/** Runs `work` inside a transaction holding the job's advisory lock; skips when another instance has it. */
export async function runUnderAdvisoryLock<T>(
  db: Kysely<Tables>,
  jobName: string,
  work: (trx: Kysely<Tables>) => Promise<T>,
): Promise<LockedRun<T>> {
  return db.transaction().execute(async (trx) => {
    const key = advisoryLockKey(jobName).toString();
    const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(${key}::bigint) as locked`.execute(trx);
    if (!rows[0]?.locked) return { ran: false };
    return { ran: true, result: await work(trx) };
  });
}

/**
 * Runs `work` on one connection holding the job's advisory lock at session level, outside any transaction, for work
 * that cannot run inside one (VACUUM); skips when another instance has it. The lock is released when `work` ends, or
 * with the connection should the process die.
 */
export async function runUnderSessionAdvisoryLock<T>(
  db: Kysely<Tables>,
  jobName: string,
  work: (conn: Kysely<Tables>) => Promise<T>,
): Promise<LockedRun<T>> {
  const key = advisoryLockKey(jobName).toString();
  return db.connection().execute(async (conn) => {
    const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${key}::bigint) as locked`.execute(conn);
    if (!rows[0]?.locked) return { ran: false };
    try {
      return { ran: true, result: await work(conn) };
    } finally {
      await sql`select pg_advisory_unlock(${key}::bigint)`.execute(conn);
    }
  });
}

/**
 * Records that a job has done the work for `runKey` (a date, say) and answers true the first time only, so a
 * restarted instance does not repeat a day's notices. Call inside the locked transaction.
 */
export async function claimJobRun(trx: Kysely<Tables>, job: string, runKey: string, now: Date): Promise<boolean> {
  const { rows } = await sql<{ job: string }>`
    insert into job_run (job, run_key, finished_at) values (${job}, ${runKey}, ${now})
    on conflict (job, run_key) do nothing returning job`.execute(trx);
  return rows.length === 1;
}
