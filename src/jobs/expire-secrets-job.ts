/**
 * Expires invitations, passcodes, reset links and verification sessions: once past their expiry (or used) and
 * a grace week, they are deleted. Until then an old link still answers "expired" instead of "not valid".
 * Throttle counters older than a day are dropped too.
 */
import { SecretStore } from '../auth/account-secrets';
import { ThrottleStore } from '../auth/throttle-store';
import { runUnderAdvisoryLock } from './advisory-lock';
import type { JobDeps } from './job-deps';

/** How long an expired or used secret is kept, so its link can say "expired". */
export const EXPIRED_SECRET_GRACE_MS = 7 * 24 * 60 * 60 * 1000;
/** Throttle counters idle this long are dropped (every policy forgets sooner). */
export const STALE_THROTTLE_MS = 24 * 60 * 60 * 1000;

/** What one run removed. */
export interface ExpireSecretsResult {
  readonly secrets: number;
  readonly throttles: number;
}

/** Deletes expired and used one-time secrets past the grace period, and stale throttle counters. */
export async function expireSecretsJob(deps: JobDeps): Promise<ExpireSecretsResult | undefined> {
  const run = await runUnderAdvisoryLock(deps.db, 'expire-secrets', async (trx) => {
    const now = deps.clock.now().getTime();
    const secrets = await new SecretStore(trx, deps.clock).purge(new Date(now - EXPIRED_SECRET_GRACE_MS));
    const throttles = await new ThrottleStore(trx, deps.clock).purgeOlderThan(new Date(now - STALE_THROTTLE_MS));
    return { secrets, throttles };
  });
  return run.ran ? run.result : undefined;
}
