/** The database-backed throttle: counters shared by every instance, bumped atomically, forgotten when stale. */
import { openTestDatabase, type TestDatabase } from '../../test/support/test-database';
import { FixedClock } from '../fhir/clock';
import { ACCOUNT_LOGIN_THROTTLE } from './login-throttle';
import { ThrottledError, ThrottleStore } from './throttle-store';

describe('ThrottleStore', () => {
  let database: TestDatabase;
  const clock = new FixedClock(new Date('2026-11-22T18:00:00Z'));
  const check = { key: 'login:email:test', policy: ACCOUNT_LOGIN_THROTTLE };
  beforeAll(async () => {
    database = await openTestDatabase();
  });
  afterAll(() => database?.close());

  it('counts concurrent failures from two instances (two stores, one table) without losing one', async () => {
    const a = new ThrottleStore(database.db, clock);
    const b = new ThrottleStore(database.db, clock);
    await Promise.all([a.recordFailure(check), b.recordFailure(check), a.recordFailure(check), b.recordFailure(check)]);
    expect(await a.state(check.key)).toEqual({ failures: 4, lastFailureAt: clock.now() });
  });

  it('refuses with 429 and the wait in seconds, then allows once the wait is over', async () => {
    const store = new ThrottleStore(database.db, clock);
    let error: unknown;
    await store.assertAllowed([check], 'failed sign-ins').catch((err) => (error = err));
    expect(error).toBeInstanceOf(ThrottledError);
    expect([(error as ThrottledError).status, (error as ThrottledError).retryAfterSeconds]).toEqual([429, 2]);
    clock.advance(2000);
    await expect(store.assertAllowed([check], 'failed sign-ins')).resolves.toBeUndefined();
  });

  it('starts again from 1 when the last failure is older than the forget window', async () => {
    const store = new ThrottleStore(database.db, clock);
    clock.advance(ACCOUNT_LOGIN_THROTTLE.forgetAfterMs);
    await store.recordFailure(check);
    expect((await store.state(check.key)).failures).toBe(1);
    await store.clear(check.key);
    expect(await store.state(check.key)).toEqual({ failures: 0, lastFailureAt: null });
  });

  it('consume counts each request: a rate limit', async () => {
    const store = new ThrottleStore(database.db, clock);
    const limit = {
      key: 'register:addr:10.0.0.1',
      policy: { ...ACCOUNT_LOGIN_THROTTLE, freeFailures: 2, baseDelayMs: 60_000, maxDelayMs: 120_000 },
    };
    await store.consume([limit], 'requests');
    await store.consume([limit], 'requests');
    await expect(store.consume([limit], 'requests')).rejects.toMatchObject({ status: 429, retryAfterSeconds: 60 });
  });
});
