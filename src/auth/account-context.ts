/**
 * What every account flow runs with: the database, the clock, the mailer, the signing key, the age policy
 * and the throttles, passed explicitly (no module singletons) so tests can give a fixed clock, a loopback
 * SMTP server and cheap password hashing.
 */
import type { Patient } from '@medplum/fhirtypes';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { unrestrictedScope } from '../access/access-scope';
import type { AgePolicy } from '../access/age-policy-profiles';
import { todayIn } from '../access/calendar-date';
import type { Tables } from '../db/tables';
import { outsideStatementScope } from '../db/statement-scope';
import type { Clock } from '../fhir/clock';
import { Repository } from '../fhir/repository';
import type { Mailer } from '../mail/mailer';
import type { SigningKey } from './access-token';
import { ACCOUNT_LOGIN_THROTTLE, ADDRESS_LOGIN_THROTTLE, type ThrottlePolicy } from './login-throttle';
import { DEFAULT_SCRYPT_PARAMS, type ScryptParams } from './password-hash';
import { type PortalRoute, portalLink } from './portal-links';

/** The throttles of the account flows (documented defaults below). */
export interface AccountThrottles {
  /** Failed sign-ins per login email. */
  readonly loginAccount: ThrottlePolicy;
  /** Failed sign-ins per client address. */
  readonly loginAddress: ThrottlePolicy;
  /** Register, passcode, reset and invitation requests per target email or account (each request counts). */
  readonly requestAccount: ThrottlePolicy;
  /** The same requests per client address (each request counts). */
  readonly requestAddress: ThrottlePolicy;
}

/**
 * Per email: 3 requests free, then 1 min, 2 min ... up to 15 min between them; the 10th within an hour locks
 * for an hour. Enough for a person who mistypes, too slow to mail-bomb a patient with passcodes.
 */
export const REQUEST_ACCOUNT_THROTTLE: ThrottlePolicy = Object.freeze({
  freeFailures: 3,
  baseDelayMs: 60_000,
  maxDelayMs: 15 * 60_000,
  lockAfterFailures: 10,
  lockMs: 60 * 60_000,
  forgetAfterMs: 60 * 60_000,
});

/** The defaults: login per account and per address from login-throttle.ts, requests as above. */
export const DEFAULT_ACCOUNT_THROTTLES: AccountThrottles = Object.freeze({
  loginAccount: ACCOUNT_LOGIN_THROTTLE,
  loginAddress: ADDRESS_LOGIN_THROTTLE,
  requestAccount: REQUEST_ACCOUNT_THROTTLE,
  requestAddress: ADDRESS_LOGIN_THROTTLE,
});

/** Everything the account services need. */
export interface AccountContext {
  readonly db: Kysely<Tables>;
  readonly clock: Clock;
  readonly mailer: Mailer;
  /** Public base URL of the service (no trailing slash). */
  readonly baseUrl: string;
  /** The portal frontend emailed links open (PORTAL_URL); undefined: baseUrl. */
  readonly portalUrl?: string;
  /** The organization's IANA time zone: ages and expiry times in emails are read there. */
  readonly timeZone: string;
  readonly policy: AgePolicy;
  readonly signingKey: SigningKey;
  readonly throttles: AccountThrottles;
  /** scrypt cost for new password and security-answer hashes. */
  readonly passwordParams: ScryptParams;
  readonly logger?: Logger;
  /** Work started by inBackground that has not finished yet; a server stopping waits for it (backgroundSettled). */
  readonly background: Set<Promise<unknown>>;
}

/** Builds a context, filling in the documented defaults. */
export function accountContext(
  input: Omit<AccountContext, 'throttles' | 'passwordParams' | 'background'> & {
    throttles?: Partial<AccountThrottles>;
    passwordParams?: ScryptParams;
  },
): AccountContext {
  return Object.freeze({
    ...input,
    background: new Set<Promise<unknown>>(),
    baseUrl: input.baseUrl.replace(/\/$/, ''),
    throttles: { ...DEFAULT_ACCOUNT_THROTTLES, ...input.throttles },
    passwordParams: input.passwordParams ?? DEFAULT_SCRYPT_PARAMS,
  });
}

/** A repository that sees every record: account flows find the patient before anyone may see them. */
export function systemRepository(context: AccountContext, db: Kysely<Tables> = context.db): Repository {
  return new Repository(db, { scope: unrestrictedScope('system accounts'), clock: context.clock, fhirBase: `${context.baseUrl}/fhir` });
}

/** Today's date in the organization's time zone. */
export function todayOf(context: AccountContext): string {
  return todayIn(context.timeZone, context.clock.now());
}

/** The practice's name as emails show it: the patient's managing organization, or a neutral fallback. */
export function organizationNameOf(patient: Patient | undefined): string {
  return patient?.managingOrganization?.display?.trim() || 'Chartkeeper';
}

/** "Ada Park" from a Patient's first usable name. */
export function patientDisplayName(patient: Patient): string {
  const name = patient.name?.find((n) => n.use === 'official') ?? patient.name?.[0];
  if (!name) return 'the patient';
  if (name.text) return name.text;
  return [...(name.given ?? []), name.family].filter(Boolean).join(' ') || 'the patient';
}

/** The patient's first given name, for greetings. */
export function patientFirstName(patient: Patient): string | undefined {
  const name = patient.name?.find((n) => n.use === 'official') ?? patient.name?.[0];
  return name?.given?.[0];
}

/** A link for an email: the portal frontend's `route` (src/auth/portal-links.ts), e.g. `/auth/invitations/accept?token=...`. */
export function serviceLink(context: AccountContext, route: PortalRoute, query: Record<string, string> = {}): string {
  return portalLink(context.portalUrl ?? context.baseUrl, route, query);
}

/**
 * Runs work after the response is decided without letting its failure escape (it is logged). The work is tracked
 * until it ends, so a server stopping right after answering still sends the mail it promised (backgroundSettled), and
 * it runs outside the request's statement scope, so a client that leaves before the answer arrives does not cancel it.
 */
export function inBackground(context: AccountContext, what: string, work: () => Promise<unknown>): void {
  const running = outsideStatementScope(work)
    .catch((err: unknown) => context.logger?.error({ err: { message: (err as Error)?.message } }, `${what} failed`))
    .finally(() => context.background.delete(running));
  context.background.add(running);
}

/** Resolves when every piece of background work started so far has ended. */
export async function backgroundSettled(context: AccountContext): Promise<void> {
  while (context.background.size) await Promise.all([...context.background]);
}
