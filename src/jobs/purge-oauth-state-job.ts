/**
 * Deletes what the SMART authorization server stored and no longer needs: sessions, interactions, grants, codes and
 * tokens past their expiry (oauth_state, migration 0016). oidc-provider never reads an expired row again; a used
 * code stays until it expires, so a second use is still caught.
 */
import { sql } from 'kysely';
import { runUnderAdvisoryLock } from './advisory-lock';
import type { JobDeps } from './job-deps';

/** Deletes expired authorization-server state; returns how many rows (undefined when another instance ran it). */
export async function purgeOauthStateJob(deps: Pick<JobDeps, 'db' | 'clock'>): Promise<number | undefined> {
  const run = await runUnderAdvisoryLock(deps.db, 'purge-oauth-state', async (trx) => {
    const result = await sql`delete from oauth_state where expires_at < ${deps.clock.now()}`.execute(trx);
    return Number(result.numAffectedRows ?? 0);
  });
  return run.ran ? run.result : undefined;
}
