/**
 * From a verified token to a Caller: the account row, then its scope, computed on every request from the clock.
 * Nothing about a grant's level is stored: the 13th or 18th birthday changes what a family member sees at local
 * midnight (config.timeZone), and a revoked grant or a disabled account stops working on the next request.
 */
import type { Patient } from '@medplum/fhirtypes';
import { Kysely, RawBuilder, Selectable, SqlBool, sql } from 'kysely';
import type { AuthenticateOptions, Caller } from '../access/caller';
import { prepared } from '../db/prepared-statement';
import type { AccountTable, Tables } from '../db/tables';
import type { Clock } from '../fhir/clock';
import { unauthorized } from '../fhir/outcomes';
import { type AccessScope, unrestrictedScope } from '../access/access-scope';
import { effectiveAccessLevel, knownChildOn } from '../access/age-policy';
import type { AgePolicy } from '../access/age-policy-profiles';
import { todayIn } from '../access/calendar-date';
import { familyRelationshipOf } from '../access/family-relationship';
import { type PatientAccess, portalScope, staffScope } from '../access/portal-scope';
import { type AccountGrant } from '../access/proxy-grants';
import { grantsOfAccount } from '../fhir/proxy-grant-store';
import { pendingPortalConsent } from './portal-consent-status';

/** The account columns a scope is built from. */
export type ScopeAccount = Pick<Selectable<AccountTable>, 'id' | 'kind' | 'patient_id' | 'organization_id' | 'display_name'> &
  Partial<Pick<Selectable<AccountTable>, 'practitioner_id' | 'disabled_at'>>;

/** A Caller signed in with an account; the audit trail names them by these. */
export interface AccountCaller extends Caller {
  readonly account: ScopeAccount;
}

/** What the age rules need besides the account: the clock, the organisation's time zone and its policy. */
export interface ScopeOptions {
  readonly clock: Clock;
  readonly timeZone: string;
  readonly policy: AgePolicy;
  /**
   * Set when the practice asks every portal account to complete its portal consent form (the Questionnaire id): an
   * account that has not completed the current version sees no record until it does (Caller.consentRequired).
   */
  readonly portalConsentFormId?: string;
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
  const [allGrants, ownIds] = await Promise.all([grantsOfAccount(db, account.id), ownRecordsOf(db, account)]);
  const grants = allGrants.filter((g) => g.active && inPeriod(g, now));
  const patientIds = [...new Set([...ownIds, ...grants.map((g) => g.patientId)])];
  const birthDates = await birthDatesOf(db, patientIds);
  const today = todayIn(options.timeZone, now);
  const out: PatientAccess[] = [];
  for (const patientId of ownIds) {
    if (birthDates.has(patientId)) out.push({ patientId, level: 'full', self: true });
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
    const child = knownChildOn(birthDates.get(grant.patientId), today, options.policy);
    out.push({ patientId: grant.patientId, level, self: false, relatedPersonId: grant.relatedPersonId, child });
  }
  return out;
}

/**
 * The records a patient account holds as the patient: its own, and one per further practice it enrolled at with a
 * security token (account_record; un-enrolled links ended, the own record's too: src/portal/enrollment/account-records.ts).
 */
async function ownRecordsOf(db: Kysely<Tables>, account: ScopeAccount): Promise<string[]> {
  if (account.kind !== 'patient') return account.patient_id ? [account.patient_id] : [];
  const { rows } = await prepared(sql<{ patient_id: string; ended: boolean }>`
    select patient_id, ended_at is not null as ended from account_record where account_id = ${account.id} order by linked_at`).execute(db);
  // An ended link to the account's own record is its un-enrollment from that practice.
  const ended = new Set(rows.filter((r) => r.ended).map((r) => r.patient_id));
  const own = account.patient_id && !ended.has(account.patient_id) ? [account.patient_id] : [];
  return [...new Set([...own, ...rows.filter((r) => !r.ended).map((r) => r.patient_id)])];
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

/**
 * The account a token names, if it may still act: it exists, is of one of `kinds`, is not disabled, and the login
 * session the token came from (`sid`) is still open (a token stops working the moment its session is signed out
 * or revoked). One prepared query on every authenticated request.
 */
async function activeAccount(
  db: Kysely<Tables>,
  id: string,
  kinds: readonly string[],
  claims: { sid?: unknown } | undefined,
  options: ScopeOptions,
): Promise<ScopeAccount> {
  const sid = sessionOf(claims);
  const { rows } = await prepared(sql<ScopeAccount & { disabled_at: Date | null; session_open: boolean }>`
    select a.id, a.kind, a.patient_id, a.practitioner_id, a.organization_id, a.display_name, a.disabled_at,
      ${sessionOpen(sid, options.clock.now())} as session_open
    from account a where a.id = ${id}`).execute(db);
  const account = rows[0];
  if (sid !== null && !account?.session_open) throw unauthorized('This session has been signed out');
  if (!account || account.disabled_at || !kinds.includes(account.kind)) {
    throw unauthorized('The access token is not valid');
  }
  const { session_open: _open, ...fields } = account;
  return fields;
}

/** The login session a token came from (its `sid` claim), if it names one. */
function sessionOf(claims: { sid?: unknown } | undefined): string | null {
  return typeof claims?.sid === 'string' ? claims.sid : null;
}

/** True in SQL while the session `sid` is open (no sid: a token not tied to a session, e.g. issued by the CLI). */
function sessionOpen(sid: string | null, now: Date): RawBuilder<SqlBool> {
  // Two statement shapes rather than "$sid is null or ...": fewer parameters, and nothing left for the planner to fold.
  if (sid === null) return sql<SqlBool>`true`;
  return sql<SqlBool>`exists (select 1 from refresh_token t where t.family_id = ${sid} and t.revoked_at is null and t.expires_at > ${now})`;
}

/** `a.<column>` equals `value` in SQL, null included (one statement shape for null, one for a value). */
function accountColumnIs(column: 'organization_id' | 'practitioner_id', value: string | null): RawBuilder<SqlBool> {
  return value === null ? sql<SqlBool>`a.${sql.raw(column)} is null` : sql<SqlBool>`a.${sql.raw(column)} = ${value}`;
}

/**
 * True in SQL while a staff account is exactly as `account` (enabled, same organisation, Practitioner and name, so
 * the same scope and audit agent) and the session `sid` is open: what a caller taken on trust must still be.
 */
function staffAccountUnchanged(account: ScopeAccount, sid: string | null, now: Date): RawBuilder<SqlBool> {
  return sql<SqlBool>`(exists (select 1 from account a where a.id = ${account.id} and a.kind = 'staff' and a.disabled_at is null
    and ${accountColumnIs('organization_id', account.organization_id)} and ${accountColumnIs('practitioner_id', account.practitioner_id ?? null)}
    and a.display_name = ${account.display_name}) and ${sessionOpen(sid, now)})`;
}

/** The Caller of a staff account (found enabled): its organisation's records, named by its Practitioner in the audit trail. */
export function staffCaller(account: ScopeAccount): AccountCaller {
  return {
    kind: 'staff',
    subject: `account:${account.id}`,
    ...(account.practitioner_id ? { actor: `Practitioner/${account.practitioner_id}` } : {}),
    scope: staffScope(account.organization_id ?? undefined, `staff account ${account.id}`),
    account,
  };
}

/** Staff accounts remembered per token subject and session, for reads that take their caller on trust. */
const REMEMBERED_ACCOUNTS = 10_000;

/** Resolves user tokens (sub = account id of a patient or family account) to Callers. */
export function userResolver(
  db: Kysely<Tables>,
  options: ScopeOptions,
): (subject: string, claims?: { sid?: unknown }) => Promise<AccountCaller> {
  return async (subject, claims) => {
    const account = await activeAccount(db, subject, ['patient', 'family'], claims, options);
    const [scope, consentRequired] = await Promise.all([
      scopeForAccount(db, account, options),
      options.portalConsentFormId ? pendingPortalConsent(db, account.id, options.portalConsentFormId) : undefined,
    ]);
    return {
      kind: 'user',
      subject: `account:${account.id}`,
      ...(account.patient_id ? { actor: `Patient/${account.patient_id}` } : {}),
      // Until the form is completed the account sees no record, whatever path a request takes.
      scope: consentRequired ? portalScope([], `${account.kind} account ${account.id} (portal consent form not completed)`) : scope,
      ...(consentRequired ? { consentRequired } : {}),
      account,
    };
  };
}

/**
 * Resolves staff tokens: a staff account (sub = account id) sees its organisation; the CLI operator's token
 * ('staff:cli' or 'Practitioner/ID') stays unrestricted; anything else, including a disabled account, is a 401.
 *
 * A read-by-id (options.readById) by an account resolved before, in the same session, takes the account as it was
 * then, unconfirmed: the read checks in its own statement that the account and session are still as they were
 * (Caller.unconfirmed), which saves it a round trip, and resolves afresh when they are not.
 */
export function staffResolver(
  db: Kysely<Tables>,
  options: ScopeOptions,
): (subject: string, claims?: { sid?: unknown }, authenticate?: AuthenticateOptions) => Promise<Caller> {
  // Per token subject and session: the account as last resolved, and its caller (built once: its scope is read-only).
  const remembered = new Map<string, { account: ScopeAccount; caller: AccountCaller }>();
  const callerOf = staffCaller;
  const resolve = async (subject: string, claims: { sid?: unknown } | undefined, key: string): Promise<Caller> => {
    remembered.delete(key);
    const account = await activeAccount(db, subject, ['staff'], claims, options);
    if (remembered.size >= REMEMBERED_ACCOUNTS) remembered.delete(remembered.keys().next().value as string);
    const caller = callerOf(account);
    remembered.set(key, { account, caller });
    return caller;
  };
  return async (subject, claims, authenticate) => {
    if (isOperatorSubject(subject)) {
      return { kind: 'staff', subject, actor: subject, scope: unrestrictedScope(`staff ${subject}`) };
    }
    const sid = sessionOf(claims);
    const key = `${subject}\u0000${sid ?? ''}`;
    const known = authenticate?.readById ? remembered.get(key) : undefined;
    if (!known) return resolve(subject, claims, key);
    return {
      ...known.caller,
      unconfirmed: {
        condition: staffAccountUnchanged(known.account, sid, options.clock.now()),
        confirm: () => resolve(subject, claims, key),
      },
    };
  };
}
