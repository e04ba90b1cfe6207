import {
  ACCOUNT_LOGIN_THROTTLE,
  activeFailures,
  ADDRESS_LOGIN_THROTTLE,
  type FailureState,
  NO_FAILURES,
  recordFailure,
  throttleDecision,
  waitAfterFailures,
} from './login-throttle';

const t0 = new Date('2026-11-21T23:00:00Z');
const at = (ms: number) => new Date(t0.getTime() + ms);
const policy = ACCOUNT_LOGIN_THROTTLE;

describe('waitAfterFailures', () => {
  test('account policy: 3 free, then doubling from 1 s up to 30 s, locked for 15 min from the 10th', () => {
    expect(Array.from({ length: 12 }, (_, n) => waitAfterFailures(n, policy))).toEqual([
      0, 0, 0, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 900000, 900000,
    ]);
  });

  test('address policy is looser', () => {
    expect([9, 10, 11, 49, 50].map((n) => waitAfterFailures(n, ADDRESS_LOGIN_THROTTLE))).toEqual([0, 1000, 2000, 60000, 3600000]);
  });
});

describe('throttleDecision', () => {
  test('a run of failures, each attempt made as soon as allowed, ends in a 15-minute lock', () => {
    let state: FailureState = NO_FAILURES;
    let now = t0;
    const waits: number[] = [];
    for (let attempt = 1; attempt <= 10; attempt++) {
      const decision = throttleDecision(state, now, policy);
      if (!decision.allowed) {
        waits.push(decision.retryAt.getTime() - now.getTime());
        now = decision.retryAt;
        expect(throttleDecision(state, now, policy)).toEqual({ allowed: true });
      }
      state = recordFailure(state, now, policy);
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    expect(state.failures).toBe(10);
    const locked = throttleDecision(state, now, policy);
    expect(locked).toEqual({ allowed: false, reason: 'locked', retryAt: at(91_000 + 900_000), retryAfterSeconds: 900 });
    expect(throttleDecision(state, new Date(now.getTime() + 899_001), policy)).toMatchObject({
      allowed: false,
      reason: 'locked',
      retryAfterSeconds: 1,
    });
    // When the lock ends the count is forgotten: the next failure is the first of a new run.
    const after = new Date(now.getTime() + 900_000);
    expect(throttleDecision(state, after, policy)).toEqual({ allowed: true });
    expect(recordFailure(state, after, policy)).toEqual({ failures: 1, lastFailureAt: after });
  });

  test('slow-down answers with seconds to wait, rounded up', () => {
    const state = { failures: 4, lastFailureAt: t0 };
    expect(throttleDecision(state, at(500), policy)).toEqual({
      allowed: false,
      reason: 'slow-down',
      retryAt: at(2000),
      retryAfterSeconds: 2,
    });
    expect(throttleDecision(state, at(1999), policy)).toMatchObject({ retryAfterSeconds: 1 });
    expect(throttleDecision(state, at(2000), policy)).toEqual({ allowed: true });
  });

  test('old failures are forgotten after 15 minutes', () => {
    const state = { failures: 8, lastFailureAt: t0 };
    expect(activeFailures(state, at(899_999), policy)).toBe(8);
    expect(activeFailures(state, at(900_000), policy)).toBe(0);
    expect(recordFailure(state, at(899_999), policy).failures).toBe(9);
    expect(recordFailure(state, at(900_000), policy).failures).toBe(1);
  });

  test('a clean state and a success reset allow at once', () => {
    expect(throttleDecision(NO_FAILURES, t0, policy)).toEqual({ allowed: true });
    expect(activeFailures({ failures: 3, lastFailureAt: null }, t0, policy)).toBe(0);
    expect(Object.isFrozen(NO_FAILURES)).toBe(true);
  });

  test('a clock that went backwards never unlocks early', () => {
    const state = { failures: 10, lastFailureAt: t0 };
    expect(throttleDecision(state, at(-60_000), policy)).toMatchObject({ allowed: false, reason: 'locked', retryAfterSeconds: 960 });
  });
});
