/**
 * Slowing down and locking out repeated failures, as a pure policy over (failure count, last failure time,
 * now). The caller keeps the state per account and per client address, in the database so every instance
 * sees it, and asks `throttleDecision` before checking a password: a refused attempt is not checked and not
 * recorded, so hammering a locked account does not extend or reveal anything.
 */

/** The numbers of one throttle. */
export interface ThrottlePolicy {
  /** Failures allowed with no delay. */
  readonly freeFailures: number;
  /** Delay after the first failure past the free ones; doubles with each further failure. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** From this many failures on, the key is locked for `lockMs` after the last one. */
  readonly lockAfterFailures: number;
  readonly lockMs: number;
  /** Failures older than this (counted from the last one) are forgotten. Never shorter than `lockMs`. */
  readonly forgetAfterMs: number;
}

/** Per account: 3 free tries, then 1 s, 2 s, 4 s ... up to 30 s; the 10th failure locks for 15 minutes. */
export const ACCOUNT_LOGIN_THROTTLE: ThrottlePolicy = Object.freeze({
  freeFailures: 3,
  baseDelayMs: 1000,
  maxDelayMs: 30_000,
  lockAfterFailures: 10,
  lockMs: 15 * 60 * 1000,
  forgetAfterMs: 15 * 60 * 1000,
});

/**
 * Per client address: looser, since a household or clinic shares one address, but it stops one machine from
 * trying many accounts. Also suits register, passcode and reset requests, recording each request as a failure.
 */
export const ADDRESS_LOGIN_THROTTLE: ThrottlePolicy = Object.freeze({
  freeFailures: 10,
  baseDelayMs: 1000,
  maxDelayMs: 60_000,
  lockAfterFailures: 50,
  lockMs: 60 * 60 * 1000,
  forgetAfterMs: 60 * 60 * 1000,
});

/** The failure history kept per key (account id or client address). */
export interface FailureState {
  readonly failures: number;
  readonly lastFailureAt: Date | null;
}

/** A clean slate: no failures. Also the state after a successful login. */
export const NO_FAILURES: FailureState = Object.freeze({ failures: 0, lastFailureAt: null });

/** Whether an attempt may go ahead now, and if not, when it may. */
export type ThrottleDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly reason: 'slow-down' | 'locked'; readonly retryAt: Date; readonly retryAfterSeconds: number };

/** The failures that still count at `now`. */
export function activeFailures(state: FailureState, now: Date, policy: ThrottlePolicy): number {
  if (!state.lastFailureAt || state.failures <= 0) {
    return 0;
  }
  const forgetAfter = Math.max(policy.forgetAfterMs, policy.lockMs);
  return now.getTime() - state.lastFailureAt.getTime() >= forgetAfter ? 0 : state.failures;
}

/** The wait imposed after `failures` failures, counted from the last one (0 = none). */
export function waitAfterFailures(failures: number, policy: ThrottlePolicy): number {
  if (failures >= policy.lockAfterFailures) {
    return policy.lockMs;
  }
  if (failures < policy.freeFailures || failures === 0) {
    return 0;
  }
  return Math.min(policy.baseDelayMs * 2 ** (failures - policy.freeFailures), policy.maxDelayMs);
}

/** Decides whether an attempt may be checked at `now`. */
export function throttleDecision(state: FailureState, now: Date, policy: ThrottlePolicy): ThrottleDecision {
  const failures = activeFailures(state, now, policy);
  const wait = waitAfterFailures(failures, policy);
  if (wait === 0 || !state.lastFailureAt) {
    return { allowed: true };
  }
  const retryAt = new Date(state.lastFailureAt.getTime() + wait);
  if (now.getTime() >= retryAt.getTime()) {
    return { allowed: true };
  }
  return {
    allowed: false,
    reason: failures >= policy.lockAfterFailures ? 'locked' : 'slow-down',
    retryAt,
    retryAfterSeconds: Math.ceil((retryAt.getTime() - now.getTime()) / 1000),
  };
}

/** The state after a failed attempt at `now` (forgotten failures do not count towards the new total). */
export function recordFailure(state: FailureState, now: Date, policy: ThrottlePolicy): FailureState {
  return { failures: activeFailures(state, now, policy) + 1, lastFailureAt: now };
}
