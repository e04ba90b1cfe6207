/**
 * Deletes refresh tokens past their expiry. Used and revoked tokens stay until then on purpose: a stolen token
 * presented again must still be recognized, so that its whole session is revoked.
 */
import { runUnderAdvisoryLock } from './advisory-lock';
import type { JobDeps } from './job-deps';

/** Deletes expired refresh tokens; returns how many (undefined when another instance ran it). */
export async function purgeRefreshTokensJob(deps: Pick<JobDeps, 'db' | 'clock'>): Promise<number | undefined> {
  const run = await runUnderAdvisoryLock(deps.db, 'purge-refresh-tokens', async (trx) => {
    const result = await trx.deleteFrom('refresh_token').where('expires_at', '<', deps.clock.now()).executeTakeFirst();
    return Number(result.numDeletedRows ?? 0);
  });
  return run.ran ? run.result : undefined;
}
