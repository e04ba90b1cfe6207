/**
 * Family access grants stored: RelatedPersons and Consents written through the repository, and every grant an
 * account holds read in one query before any scope exists. The rules and shapes are in access/proxy-grants.ts.
 */
import type { Consent, HumanName, RelatedPerson } from '@medplum/fhirtypes';
import { Kysely, RawBuilder, sql } from 'kysely';
import type { GrantLevel } from '../access/access-level';
import type { GrantedBy } from '../access/age-policy';
import {
  ACCESS_LEVEL_EXTENSION,
  ACCOUNT_IDENTIFIER_SYSTEM,
  type AccountGrant,
  buildConsent,
  consentToGrant,
  extensionCode,
  GRANT_LEVELS,
  GRANTED_BY,
  GRANTED_BY_EXTENSION,
  type GrantRequest,
  idOf,
  relationshipConcept,
  type StoredGrant,
} from '../access/proxy-grants';
import type { Tables } from '../db/tables';
import { badRequest, notFound } from './outcomes';
import type { Repository } from './repository';

/**
 * Grants an account access to a patient's record: finds or creates the account's RelatedPerson for the patient,
 * retires the active Consent on the same authority (grantedBy) and writes the new one, in one transaction. One
 * active Consent per RelatedPerson and authority: a teen's own grant to a parent sits beside the parent's guardian
 * grant instead of replacing it, so revoking the teen's grant falls back to what the guardian grant gives
 * (billing in the teen band) rather than to nothing; the caller's scope takes the best of them. `repo` must be allowed to write
 * Consent and RelatedPerson for the patient (a system or staff repository: portal callers' repositories are not,
 * see access-write-policy.ts); the caller of this function decides whether the grant is allowed.
 */
export async function grantAccess(repo: Repository, request: GrantRequest): Promise<{ consent: Consent; relatedPerson: RelatedPerson }> {
  if (!GRANT_LEVELS.includes(request.level)) throw badRequest(`A grant's level must be full or billing, got "${request.level}"`);
  if (!GRANTED_BY.includes(request.grantedBy)) throw badRequest(`Unknown grantedBy "${request.grantedBy}"`);
  if (!/^(Patient|RelatedPerson|Practitioner)\/[A-Za-z0-9\-.]{1,64}$/.test(request.performer)) {
    throw badRequest(`A grant's performer must be a Patient, RelatedPerson or Practitioner reference, got "${request.performer}"`);
  }
  return repo.transaction(async (trx) => {
    await trx.read('Patient', request.patientId);
    const relatedPerson = await relatedPersonFor(trx, request);
    const reference = `RelatedPerson/${relatedPerson.id}`;
    for (const old of await activeConsentsOf(trx, reference, request.grantedBy)) {
      await trx.update<Consent>({ ...old, status: 'inactive' });
    }
    const { resource: consent } = await trx.create<Consent>(buildConsent(request, reference, trx.context.clock.now().toISOString()));
    return { consent, relatedPerson };
  });
}

/** Revokes a grant: its Consent becomes inactive (kept, so the history shows it). Returns the new version. */
export async function revokeGrant(repo: Repository, consentId: string): Promise<Consent> {
  return repo.transaction(async (trx) => {
    const consent = await grantConsent(trx, consentId);
    if (consent.status === 'inactive') return consent;
    return (await trx.update<Consent>({ ...consent, status: 'inactive' })).resource;
  });
}

/** Changes the level of an active grant in place (a new Consent version; dateTime and grantedBy stay). */
export async function changeGrantLevel(repo: Repository, consentId: string, level: GrantLevel): Promise<Consent> {
  if (!GRANT_LEVELS.includes(level)) throw badRequest(`A grant's level must be full or billing, got "${level}"`);
  return repo.transaction(async (trx) => {
    const consent = await grantConsent(trx, consentId);
    if (consent.status !== 'active') throw badRequest(`Consent/${consentId} has been revoked; grant access again instead`);
    const extension = (consent.extension ?? []).map((e) => (e.url === ACCESS_LEVEL_EXTENSION ? { url: e.url, valueCode: level } : e));
    return (await trx.update<Consent>({ ...consent, extension })).resource;
  });
}

/** The grants (active and revoked) of a patient's record that the repository's caller can see, newest first. */
export async function grantsOfPatient(repo: Repository, patientId: string): Promise<StoredGrant[]> {
  const consents = await repo.searchResources<Consent>('Consent', { patient: `Patient/${patientId}`, _sort: '-_lastUpdated' });
  return consents.map(consentToGrant).filter((g): g is StoredGrant => g !== undefined);
}

/**
 * Every grant (active or not) held by an account, with its RelatedPerson, read straight from the tables in
 * one query: this runs on every request a family member makes, before any scope exists to filter with.
 */
export async function grantsOfAccount(db: Kysely<Tables>, accountId: string): Promise<AccountGrant[]> {
  return (await keyedGrantsOfAccount(db, accountId)).grants;
}

/**
 * The same grants and their key: the ids and versions of every Consent and RelatedPerson they were read from, as
 * grantsKey computes it in the same statement. A scope built from them stays right while grantsKey still gives the
 * same key (src/auth/caller-scope.ts).
 */
export async function keyedGrantsOfAccount(db: Kysely<Tables>, accountId: string): Promise<{ grants: AccountGrant[]; key: string }> {
  const { rows } = await sql<{ consent: string; related_person: string; key: string }>`
    with g as (${grantRows(accountId)})
    select g.consent, g.related_person, (select ${keyOf(sql`g.key`)} from g) as key
    from g order by g.last_updated desc, g.consent_id`.execute(db);
  const out: AccountGrant[] = [];
  for (const row of rows) {
    const grant = consentToGrant(JSON.parse(row.consent) as Consent);
    const relatedPerson = JSON.parse(row.related_person) as RelatedPerson;
    // The Consent must be about the RelatedPerson's own patient: a Consent naming someone else's RelatedPerson
    // gives nothing.
    if (grant && grant.relatedPersonId === relatedPerson.id && idOf(relatedPerson.patient, 'Patient') === grant.patientId) {
      out.push({ ...grant, relatedPerson });
    }
  }
  return { grants: out, key: rows[0]?.key ?? '' };
}

/** SQL: the key of an account's grants now (what keyedGrantsOfAccount returned with them, while nothing changed). */
export function grantsKey(accountId: string): RawBuilder<string> {
  return sql<string>`(select ${keyOf(sql`g.key`)} from (${grantRows(accountId)}) g)`;
}

/**
 * The rows behind an account's grants: each Consent naming one of the account's RelatedPersons, keyed by both versions.
 * From the account's identifier, each step a lookup of its own ("offset 0"): the order is fixed, so planning the rows
 * costs PostgreSQL about 0.3 ms where the same rows as one join cost 1 ms (it runs on every portal request), and no
 * statistics can turn the lookups into a walk over every RelatedPerson.
 */
function grantRows(accountId: string): RawBuilder<unknown> {
  return sql`select c.content as consent, rp.content as related_person, c.last_updated, c.id as consent_id,
      c.id || ':' || c.version || ':' || rp.id || ':' || rp.version as key
    from (select distinct t.resource_id from search_token t where t.resource_type = 'RelatedPerson' and t.code = 'identifier'
        and t.system = ${ACCOUNT_IDENTIFIER_SYSTEM} and t.value = ${accountId} offset 0) t
    cross join lateral (select rp.id, rp.version, rp.content from resource rp
      where rp.resource_type = 'RelatedPerson' and rp.id = t.resource_id and rp.deleted = false offset 0) rp
    cross join lateral (select i.resource_id from search_reference i
      where i.target_id = rp.id and i.code = 'actor' and i.resource_type = 'Consent' and i.target_type = 'RelatedPerson' offset 0) i
    cross join lateral (select c.id, c.version, c.content, c.last_updated from resource c
      where c.resource_type = 'Consent' and c.id = i.resource_id and c.deleted = false offset 0) c`;
}

/** The keys of a set of rows as one text, in an order that does not depend on the database's collation. */
function keyOf(key: RawBuilder<unknown>): RawBuilder<string> {
  return sql<string>`coalesce(string_agg(${key}, ',' order by ${key} collate "C"), '')`;
}

async function relatedPersonFor(repo: Repository, request: GrantRequest): Promise<RelatedPerson> {
  const identifier = `${ACCOUNT_IDENTIFIER_SYSTEM}|${request.accountId}`;
  const existing = await repo.searchResources<RelatedPerson>('RelatedPerson', { patient: `Patient/${request.patientId}`, identifier });
  if (existing.length) {
    const rp = existing[0];
    return rp.active === false ? (await repo.update<RelatedPerson>({ ...rp, active: true })).resource : rp;
  }
  const accountIdentifier = { system: ACCOUNT_IDENTIFIER_SYSTEM, value: request.accountId };
  if (request.relatedPersonId) {
    const rp = await repo.read<RelatedPerson>('RelatedPerson', request.relatedPersonId);
    if (idOf(rp.patient, 'Patient') !== request.patientId) {
      throw badRequest(`RelatedPerson/${request.relatedPersonId} is not about Patient/${request.patientId}`);
    }
    const adopted = { ...rp, active: true, identifier: [...(rp.identifier ?? []), accountIdentifier] };
    return (await repo.update<RelatedPerson>(adopted)).resource;
  }
  const { grantee } = request;
  const name: HumanName = typeof grantee.name === 'string' ? { text: grantee.name } : grantee.name;
  const { resource } = await repo.create<RelatedPerson>({
    resourceType: 'RelatedPerson',
    identifier: [accountIdentifier],
    active: true,
    patient: { reference: `Patient/${request.patientId}` },
    relationship: [relationshipConcept(grantee.relationship)],
    name: [name],
    ...(grantee.email ? { telecom: [{ system: 'email', value: grantee.email }] } : {}),
  });
  return resource;
}

async function activeConsentsOf(repo: Repository, relatedPerson: string, grantedBy: GrantedBy): Promise<Consent[]> {
  const consents = await repo.searchResources<Consent>('Consent', { actor: relatedPerson, status: 'active' });
  return consents.filter((c) => extensionCode(c, GRANTED_BY_EXTENSION) === grantedBy);
}

async function grantConsent(repo: Repository, consentId: string): Promise<Consent> {
  const consent = await repo.read<Consent>('Consent', consentId);
  if (!consentToGrant(consent)) throw notFound(`Grant Consent/${consentId}`);
  return consent;
}
