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
import { grantsKey, keyedGrantsOfAccount } from '../fhir/proxy-grant-store';
import { pendingPortalConsent, portalConsentCompleted } from './portal-consent-status';
import { ACCESS_TOKEN_TTL_SECONDS } from './access-token';
import { ExpiringEntries } from './expiring-entries';

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
  return (await keyedPatientAccessOf(db, account, options)).access;
}

/**
 * What a portal account's access was computed from, besides the account row itself: the keys (ids and versions) of
 * the rows read, each taken in the statement that read them, the calendar day and the instant until which no grant's
 * period starts or ends. While all of them are as they were, the access computed from them is the access today.
 */
interface AccessInputs {
  readonly grants: string;
  /** undefined for a family account (no account_record rows count). */
  readonly records?: string;
  readonly patientIds: readonly string[];
  readonly patients: string;
  readonly today: string;
  /** Epoch ms: the next start or end of a grant's period (Infinity: none to come). */
  readonly validUntil: number;
}

/** patientAccessOf, with what it was computed from (AccessInputs). */
async function keyedPatientAccessOf(
  db: Kysely<Tables>,
  account: ScopeAccount,
  options: ScopeOptions,
): Promise<{ access: PatientAccess[]; inputs: AccessInputs }> {
  const now = options.clock.now();
  const [keyedGrants, records] = await Promise.all([keyedGrantsOfAccount(db, account.id), ownRecordsOf(db, account)]);
  const grants = keyedGrants.grants.filter((g) => g.active && inPeriod(g, now));
  const ownIds = records.ids;
  const patientIds = [...new Set([...ownIds, ...grants.map((g) => g.patientId)])];
  const patients = await birthDatesOf(db, patientIds);
  const birthDates = patients.birthDates;
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
  const inputs: AccessInputs = {
    grants: keyedGrants.key,
    ...(records.key !== undefined ? { records: records.key } : {}),
    patientIds,
    patients: patients.key,
    today,
    validUntil: nextPeriodChange(keyedGrants.grants, now),
  };
  return { access: out, inputs };
}

/**
 * The records a patient account holds as the patient: its own, and one per further practice it enrolled at with a
 * security token (account_record; un-enrolled links ended, the own record's too: src/portal/enrollment/account-records.ts).
 * `key`: of the account_record rows read (recordsKey), for a patient account.
 */
async function ownRecordsOf(db: Kysely<Tables>, account: ScopeAccount): Promise<{ ids: string[]; key?: string }> {
  if (account.kind !== 'patient') return { ids: account.patient_id ? [account.patient_id] : [] };
  const { rows } = await prepared(sql<{ patient_id: string; ended: boolean; key: string }>`
    select patient_id, ended_at is not null as ended, ${recordsKey(account.id)} as key
    from account_record where account_id = ${account.id} order by linked_at`).execute(db);
  // An ended link to the account's own record is its un-enrollment from that practice.
  const ended = new Set(rows.filter((r) => r.ended).map((r) => r.patient_id));
  const own = account.patient_id && !ended.has(account.patient_id) ? [account.patient_id] : [];
  return { ids: [...new Set([...own, ...rows.filter((r) => !r.ended).map((r) => r.patient_id)])], key: rows[0]?.key ?? '' };
}

/** SQL: the key of a patient account's account_record rows (which records it holds, and which links ended). */
function recordsKey(accountId: string): RawBuilder<string> {
  return sql<string>`(select coalesce(string_agg(k.patient_id || ':' || (k.ended_at is not null)::text, ',' order by k.patient_id collate "C", k.ended_at is not null), '')
    from account_record k where k.account_id = ${accountId})`;
}

/** The first instant after `now` at which a grant's period starts or ends (Infinity when none will). */
function nextPeriodChange(grants: readonly AccountGrant[], now: Date): number {
  let next = Infinity;
  for (const grant of grants) {
    for (const bound of [grant.period?.start, grant.period?.end]) {
      const at = bound ? Date.parse(bound) : NaN;
      if (!Number.isNaN(at) && at >= now.getTime()) next = Math.min(next, at);
    }
  }
  return next;
}

/** A grant limited in time (provision.period) counts only inside it. */
function inPeriod(grant: AccountGrant, now: Date): boolean {
  const start = grant.period?.start ? Date.parse(grant.period.start) : undefined;
  const end = grant.period?.end ? Date.parse(grant.period.end) : undefined;
  if (start !== undefined && (Number.isNaN(start) || now.getTime() < start)) return false;
  if (end !== undefined && (Number.isNaN(end) || now.getTime() > end)) return false;
  return true;
}

/** Patient id -> birthDate (undefined when unknown) for the patients that exist, and their key (patientsKey). */
async function birthDatesOf(db: Kysely<Tables>, ids: string[]): Promise<{ birthDates: Map<string, string | undefined>; key: string }> {
  const birthDates = new Map<string, string | undefined>();
  if (!ids.length) return { birthDates, key: '' };
  const { rows } = await sql<{ id: string; content: string; key: string }>`
    select r.id, r.content, ${patientsKey(ids)} as key from resource r
    where r.resource_type = 'Patient' and r.deleted = false and r.id = any(${ids}::text[])`.execute(db);
  for (const row of rows) birthDates.set(row.id, (JSON.parse(row.content) as Patient).birthDate);
  return { birthDates, key: rows[0]?.key ?? '' };
}

/** SQL: the key (ids and versions) of the live Patients among `ids`: any change to one of them changes it. */
function patientsKey(ids: readonly string[]): RawBuilder<string> {
  if (!ids.length) return sql<string>`''`;
  return sql<string>`(select coalesce(string_agg(p.id || ':' || p.version, ',' order by p.id collate "C"), '')
    from resource p where p.resource_type = 'Patient' and p.deleted = false and p.id = any(${[...ids]}::text[]))`;
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
function sessionOpen(sid: string | null, now: unknown): RawBuilder<SqlBool> {
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
function staffAccountUnchanged(account: ScopeAccount, sid: string | null, now: unknown): RawBuilder<SqlBool> {
  return sql<SqlBool>`(exists (select 1 from account a where a.id = ${account.id} and a.kind = 'staff' and a.disabled_at is null
    and ${accountColumnIs('organization_id', account.organization_id)} and ${accountColumnIs('practitioner_id', account.practitioner_id ?? null)}
    and a.display_name = ${account.display_name}) and ${sessionOpen(sid, now)})`;
}

/**
 * True in SQL while a portal account and everything its access was computed from are as they were (`inputs`): the
 * account enabled, with the same kind, Patient and name (the same audit agent); the session open; the same Consent
 * and RelatedPerson versions behind its grants, the same account_record rows, the same Patient versions; and, where
 * the practice asks for it, the current portal consent form completed. With the calendar day and no grant period
 * starting or ending meanwhile (checked before trusting), the access rules give the same scope again.
 */
function portalAccountUnchanged(
  account: ScopeAccount,
  inputs: AccessInputs,
  sid: string | null,
  now: unknown,
  consentFormId: string | undefined,
): RawBuilder<SqlBool> {
  const patientId = account.patient_id === null ? sql`a.patient_id is null` : sql`a.patient_id = ${account.patient_id}`;
  return sql<SqlBool>`(exists (select 1 from account a where a.id = ${account.id} and a.kind = ${account.kind} and a.disabled_at is null
      and ${patientId} and a.display_name = ${account.display_name})
    and ${sessionOpen(sid, now)}
    and ${grantsKey(account.id)} = ${inputs.grants}
    ${inputs.records !== undefined ? sql`and ${recordsKey(account.id)} = ${inputs.records}` : sql``}
    and ${patientsKey(inputs.patientIds)} = ${inputs.patients}
    ${consentFormId ? sql`and ${portalConsentCompleted(account.id, consentFormId)}` : sql``})`;
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

let conditions = 0;

/**
 * A new key for the condition of one remembered resolution (TimedCondition.key): its account, session and access
 * inputs never change while it is remembered, and a resolution afresh gets a key of its own.
 */
function nextConditionKey(kind: string): string {
  return `${kind} caller ${++conditions}`;
}

/** Portal and staff accounts remembered per token subject and session, for requests that take their caller on trust. */
const REMEMBERED_ACCOUNTS = 10_000;

/**
 * How long a session's caller is remembered without a request: an access token's lifetime. A session idle longer
 * has no valid access token left; its next request (after a refresh) resolves its caller afresh, four statements.
 */
const REMEMBERED_IDLE_MS = ACCESS_TOKEN_TTL_SECONDS * 1000;

/** Remembers a session's resolved caller until it has been idle for REMEMBERED_IDLE_MS (each use renews it). */
function remember<V>(remembered: ExpiringEntries<V>, key: string, value: V, clock: Clock): void {
  const now = clock.now().getTime();
  remembered.set(key, value, now + REMEMBERED_IDLE_MS, now);
}

/**
 * Resolves user tokens (sub = account id of a patient or family account) to Callers.
 *
 * A read-by-id or a search (options.confirmedInStatement) by an account resolved before, in the same session, on the
 * same calendar day and with no grant period starting or ending since, takes the caller as it was then, unconfirmed:
 * the request's statement checks that nothing its access was computed from has changed (portalAccountUnchanged), which
 * spares it the four statements of a resolution, and resolves afresh when something has.
 */
export function userResolver(
  db: Kysely<Tables>,
  options: ScopeOptions,
): (subject: string, claims?: { sid?: unknown }, authenticate?: AuthenticateOptions) => Promise<Caller> {
  const remembered = new ExpiringEntries<{ caller: AccountCaller; inputs: AccessInputs; conditionKey: string }>(REMEMBERED_ACCOUNTS);
  const resolve = async (subject: string, claims: { sid?: unknown } | undefined, key: string): Promise<AccountCaller> => {
    remembered.delete(key);
    const account = await activeAccount(db, subject, ['patient', 'family'], claims, options);
    const [keyed, consentRequired] = await Promise.all([
      keyedPatientAccessOf(db, account, options),
      options.portalConsentFormId ? pendingPortalConsent(db, account.id, options.portalConsentFormId) : undefined,
    ]);
    const description = `${account.kind} account ${account.id}`;
    const caller: AccountCaller = {
      kind: 'user',
      subject: `account:${account.id}`,
      ...(account.patient_id ? { actor: `Patient/${account.patient_id}` } : {}),
      // Until the form is completed the account sees no record, whatever path a request takes.
      scope: consentRequired
        ? portalScope([], `${description} (portal consent form not completed)`)
        : portalScope(keyed.access, description),
      ...(consentRequired ? { consentRequired } : {}),
      account,
    };
    // A caller still to complete the form is asked for it on every request, never taken on trust.
    if (!consentRequired)
      remember(remembered, key, { caller, inputs: keyed.inputs, conditionKey: nextConditionKey('portal') }, options.clock);
    return caller;
  };
  return async (subject, claims, authenticate) => {
    const sid = sessionOf(claims);
    const key = `${subject}\u0000${sid ?? ''}`;
    const now = options.clock.now();
    const known = authenticate?.confirmedInStatement ? remembered.get(key, now.getTime(), now.getTime() + REMEMBERED_IDLE_MS) : undefined;
    if (!known || known.inputs.today !== todayIn(options.timeZone, now) || now.getTime() >= known.inputs.validUntil) {
      return resolve(subject, claims, key);
    }
    const at = (time: unknown) => portalAccountUnchanged(known.caller.account, known.inputs, sid, time, options.portalConsentFormId);
    return {
      ...known.caller,
      unconfirmed: {
        condition: at(now),
        timed: { key: known.conditionKey, now, at },
        confirm: () => resolve(subject, claims, key),
      },
    };
  };
}

/**
 * Resolves staff tokens: a staff account (sub = account id) sees its organisation; the CLI operator's token
 * ('staff:cli' or 'Practitioner/ID') stays unrestricted; anything else, including a disabled account, is a 401.
 *
 * A read-by-id or a search (options.confirmedInStatement) by an account resolved before, in the same session, takes
 * the account as it was then, unconfirmed: the request checks in its own statement that the account and session are
 * still as they were (Caller.unconfirmed), which saves it a round trip, and resolves afresh when they are not.
 */
export function staffResolver(
  db: Kysely<Tables>,
  options: ScopeOptions,
): (subject: string, claims?: { sid?: unknown }, authenticate?: AuthenticateOptions) => Promise<Caller> {
  // Per token subject and session: the account as last resolved, and its caller (built once: its scope is read-only).
  const remembered = new ExpiringEntries<{ account: ScopeAccount; caller: AccountCaller; conditionKey: string }>(REMEMBERED_ACCOUNTS);
  const callerOf = staffCaller;
  const resolve = async (subject: string, claims: { sid?: unknown } | undefined, key: string): Promise<Caller> => {
    remembered.delete(key);
    const account = await activeAccount(db, subject, ['staff'], claims, options);
    const caller = callerOf(account);
    remember(remembered, key, { account, caller, conditionKey: nextConditionKey('staff') }, options.clock);
    return caller;
  };
  return async (subject, claims, authenticate) => {
    if (isOperatorSubject(subject)) {
      return { kind: 'staff', subject, actor: subject, scope: unrestrictedScope(`staff ${subject}`) };
    }
    const sid = sessionOf(claims);
    const key = `${subject}\u0000${sid ?? ''}`;
    const now = options.clock.now();
    const known = authenticate?.confirmedInStatement ? remembered.get(key, now.getTime(), now.getTime() + REMEMBERED_IDLE_MS) : undefined;
    if (!known) return resolve(subject, claims, key);
    const at = (time: unknown) => staffAccountUnchanged(known.account, sid, time);
    return {
      ...known.caller,
      unconfirmed: {
        condition: at(now),
        timed: { key: known.conditionKey, now, at },
        confirm: () => resolve(subject, claims, key),
      },
    };
  };
}
