/**
 * From a verified token to a Caller: the account row, then its scope, computed on every request from the clock.
 * Nothing about a grant's level is stored: the 13th or 18th birthday changes what a family member sees at local
 * midnight (config.timeZone), and a revoked grant or a disabled account stops working on the next request.
 */
import type { Patient } from '@medplum/fhirtypes';
import { Kysely, Selectable, sql } from 'kysely';
import type { Caller } from '../auth/caller';
import { sessionIsOpen } from '../auth/session-service';
import type { AccountTable, Tables } from '../db/tables';
import type { Clock } from '../fhir/clock';
import { unauthorized } from '../fhir/outcomes';
import { type AccessScope, unrestrictedScope } from './access-scope';
import { effectiveAccessLevel } from './age-policy';
import type { AgePolicy } from './age-policy-profiles';
import { todayIn } from './calendar-date';
import { familyRelationshipOf } from './family-relationship';
import { type PatientAccess, portalScope, type PortalScope, staffScope } from './portal-scope';
import { type AccountGrant, grantsOfAccount } from './proxy-grants';

/** The account columns a scope is built from. */
export type ScopeAccount = Pick<Selectable<AccountTable>, 'id' | 'kind' | 'patient_id' | 'organization_id' | 'display_name'> &
  Partial<Pick<Selectable<AccountTable>, 'practitioner_id' | 'disabled_at'>>;

/** What the age rules need besides the account: the clock, the organisation's time zone and its policy. */
export interface ScopeOptions {
  readonly clock: Clock;
  readonly timeZone: string;
  readonly policy: AgePolicy;
}

/** A Caller signed in with an account; the audit trail names them by these. */
export interface AccountCaller extends Caller {
  readonly account: ScopeAccount;
}

/** Staff token subjects minted by the CLI (`chartkeeper token --staff [--sub Practitioner/ID]`): the operator. */
export function isOperatorSubject(subject: string): boolean {
  return subject === 'staff:cli' || /^Practitioner\/[A-Za-z0-9\-.]{1,64}$/.test(subject);
}

/**
 * The scope of an account today. Patient and family accounts: their own record at full, plus every active grant
 * at the level the age rules give it today (several grants to one patient: the best). Staff: their organisation.
 */
export async function scopeForAccount(db: Kysely<Tables>, account: ScopeAccount, options: ScopeOptions): Promise<AccessScope> {
  const description = `${account.kind} account ${account.id}`;
  if (account.kind === 'staff') return staffScope(account.organization_id ?? undefined, description);
  return portalScope(await patientAccessOf(db, account, options), description);
}

/** Per patient, what a portal account holds today (levels may be 'none'). */
export async function patientAccessOf(db: Kysely<Tables>, account: ScopeAccount, options: ScopeOptions): Promise<PatientAccess[]> {
  const now = options.clock.now();
  const grants = (await grantsOfAccount(db, account.id)).filter((g) => g.active && inPeriod(g, now));
  const patientIds = [...new Set([...(account.patient_id ? [account.patient_id] : []), ...grants.map((g) => g.patientId)])];
  const birthDates = await birthDatesOf(db, patientIds);
  const today = todayIn(options.timeZone, now);
  const out: PatientAccess[] = [];
  if (account.patient_id && birthDates.has(account.patient_id)) {
    out.push({ patientId: account.patient_id, level: 'full', self: true });
  }
  for (const grant of grants) {
    // A deleted patient has no record to see.
    if (!birthDates.has(grant.patientId)) continue;
    const level = effectiveAccessLevel(
      {
        birthDate: birthDates.get(grant.patientId),
        today,
        grant: { level: grant.level, grantedBy: grant.grantedBy, grantedOn: todayIn(options.timeZone, new Date(grant.granted)) },
        relationship: familyRelationshipOf(grant.relatedPerson.relationship),
      },
      options.policy,
    );
    out.push({ patientId: grant.patientId, level, self: false, relatedPersonId: grant.relatedPersonId });
  }
  return out;
}

/** A grant limited in time (provision.period) counts only inside it. */
function inPeriod(grant: AccountGrant, now: Date): boolean {
  const start = grant.period?.start ? Date.parse(grant.period.start) : undefined;
  const end = grant.period?.end ? Date.parse(grant.period.end) : undefined;
  if (start !== undefined && (Number.isNaN(start) || now.getTime() < start)) return false;
  if (end !== undefined && (Number.isNaN(end) || now.getTime() > end)) return false;
  return true;
}

/** Patient id -> birthDate (undefined when unknown) for the patients that exist. */
async function birthDatesOf(db: Kysely<Tables>, ids: string[]): Promise<Map<string, string | undefined>> {
  const out = new Map<string, string | undefined>();
  if (!ids.length) return out;
  const { rows } = await sql<{ id: string; content: string }>`
    select r.id, r.content from resource r
    where r.resource_type = 'Patient' and r.deleted = false and r.id = any(${ids}::text[])`.execute(db);
  for (const row of rows) out.set(row.id, (JSON.parse(row.content) as Patient).birthDate);
  return out;
}

/** Reads an account for a token; a missing or disabled account is a 401, as is a token of the wrong kind. */
async function activeAccount(db: Kysely<Tables>, id: string, kinds: readonly string[]): Promise<ScopeAccount> {
  const account = await db
    .selectFrom('account')
    .select(['id', 'kind', 'patient_id', 'practitioner_id', 'organization_id', 'display_name', 'disabled_at'])
    .where('id', '=', id)
    .executeTakeFirst();
  if (!account || account.disabled_at || !kinds.includes(account.kind)) {
    throw unauthorized('The access token is not valid');
  }
  return account;
}

/** A token from a login session (`sid`) stops working the moment that session is logged out or revoked. */
async function assertSessionOpen(db: Kysely<Tables>, claims: { sid?: unknown } | undefined, options: ScopeOptions): Promise<void> {
  if (typeof claims?.sid !== 'string') return;
  if (!(await sessionIsOpen(db, claims.sid, options.clock.now()))) throw unauthorized('This session has been signed out');
}

/** Resolves user tokens (sub = account id of a patient or family account) to Callers. */
export function userResolver(db: Kysely<Tables>, options: ScopeOptions): (subject: string, claims?: { sid?: unknown }) => Promise<AccountCaller> {
  return async (subject, claims) => {
    await assertSessionOpen(db, claims, options);
    const account = await activeAccount(db, subject, ['patient', 'family']);
    return {
      kind: 'user',
      subject: `account:${account.id}`,
      ...(account.patient_id ? { actor: `Patient/${account.patient_id}` } : {}),
      scope: await scopeForAccount(db, account, options),
      account,
    };
  };
}

/**
 * Resolves staff tokens: a staff account (sub = account id) sees its organisation; the CLI operator's token
 * ('staff:cli' or 'Practitioner/ID') stays unrestricted; anything else, including a disabled account, is a 401.
 */
export function staffResolver(db: Kysely<Tables>, options: ScopeOptions): (subject: string, claims?: { sid?: unknown }) => Promise<Caller> {
  return async (subject, claims) => {
    if (isOperatorSubject(subject)) {
      return { kind: 'staff', subject, actor: subject, scope: unrestrictedScope(`staff ${subject}`) };
    }
    await assertSessionOpen(db, claims, options);
    const account = await activeAccount(db, subject, ['staff']);
    const caller: AccountCaller = {
      kind: 'staff',
      subject: `account:${account.id}`,
      ...(account.practitioner_id ? { actor: `Practitioner/${account.practitioner_id}` } : {}),
      scope: await scopeForAccount(db, account, options),
      account,
    };
    return caller;
  };
}

/** True when the caller signed in with an account (rather than an operator or system token). */
export function isAccountCaller(caller: Caller): caller is AccountCaller {
  return (caller as Partial<AccountCaller>).account !== undefined;
}

export type { PortalScope };
