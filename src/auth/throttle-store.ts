/**
 * Failure counters and rate limits kept in the `throttle` table, so every instance behind a load balancer
 * sees the same counts. The policy (how many, how long) is the pure `login-throttle.ts`; this file only
 * stores its state. A counter is bumped with one upsert, so two requests racing both count.
 */
import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables';
import type { Clock } from '../fhir/clock';
import { FhirError } from '../fhir/outcomes';
import { type FailureState, NO_FAILURES, throttleDecision, type ThrottleDecision, type ThrottlePolicy } from './login-throttle';

/** A 429 that also tells the client when to come back (sent as `Retry-After`). */
export class ThrottledError extends FhirError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(429, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'throttled', details: { text: message } }] });
  }
}

/** One counter to check: its key and the policy it follows. */
export interface ThrottleCheck {
  readonly key: string;
  readonly policy: ThrottlePolicy;
}

/** Reads and bumps failure counters. */
export class ThrottleStore {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly clock: Clock,
  ) {}

  /** The stored state of a key (no failures when absent). */
  async state(key: string): Promise<FailureState> {
    const row = await this.db.selectFrom('throttle').select(['failures', 'last_failure_at']).where('key', '=', key).executeTakeFirst();
    return row ? { failures: row.failures, lastFailureAt: new Date(row.last_failure_at) } : NO_FAILURES;
  }

  /** Whether an attempt on this key may go ahead now. */
  async decide(check: ThrottleCheck): Promise<ThrottleDecision> {
    return throttleDecision(await this.state(check.key), this.clock.now(), check.policy);
  }

  /**
   * Throws a ThrottledError (429) when any of the keys refuses an attempt now, naming the longest wait.
   * `what` completes "Too many ... ": e.g. "failed sign-ins".
   */
  async assertAllowed(checks: readonly ThrottleCheck[], what: string): Promise<void> {
    let worst: Extract<ThrottleDecision, { allowed: false }> | undefined;
    for (const check of checks) {
      const decision = await this.decide(check);
      if (!decision.allowed && (!worst || decision.retryAfterSeconds > worst.retryAfterSeconds)) {
        worst = decision;
      }
    }
    if (worst) {
      const wait =
        worst.retryAfterSeconds >= 120 ? `${Math.ceil(worst.retryAfterSeconds / 60)} minutes` : `${worst.retryAfterSeconds} seconds`;
      const locked = worst.reason === 'locked' ? ' This is locked for a while to protect the account.' : '';
      throw new ThrottledError(`Too many ${what}. Try again in ${wait}.${locked}`, worst.retryAfterSeconds);
    }
  }

  /** Counts one failure (or one request, for rate limits) against the key, forgetting stale failures. */
  async recordFailure(check: ThrottleCheck): Promise<void> {
    const now = this.clock.now();
    const forgetAfter = Math.max(check.policy.forgetAfterMs, check.policy.lockMs);
    const staleBefore = new Date(now.getTime() - forgetAfter);
    await this.db
      .insertInto('throttle')
      .values({ key: check.key, failures: 1, last_failure_at: now })
      .onConflict((oc) =>
        oc.column('key').doUpdateSet((eb) => ({
          failures: eb
            .case()
            .when('throttle.last_failure_at', '<=', staleBefore)
            .then(1)
            .else(eb('throttle.failures', '+', 1))
            .end(),
          last_failure_at: now,
        })),
      )
      .execute();
  }

  /** A rate limit: refuses when over the limit, otherwise counts this request on every key. */
  async consume(checks: readonly ThrottleCheck[], what: string): Promise<void> {
    await this.assertAllowed(checks, what);
    for (const check of checks) {
      await this.recordFailure(check);
    }
  }

  /** Forgets a key's failures (after a successful sign-in). */
  async clear(key: string): Promise<void> {
    await this.db.deleteFrom('throttle').where('key', '=', key).execute();
  }

  /** Deletes counters whose last failure is older than `before` (housekeeping). */
  async purgeOlderThan(before: Date): Promise<number> {
    const result = await this.db.deleteFrom('throttle').where('last_failure_at', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows ?? 0);
  }
}
