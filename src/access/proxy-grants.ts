/**
 * Family access grants as FHIR resources: one RelatedPerson per (account, patient), standing for the grantee in
 * the patient's record, and one active Consent per RelatedPerson saying at which level and on whose authority.
 * Keeping grants in FHIR lets the patient and staff list them through the API like any other record; the
 * caller's scope (auth/caller-scope.ts) reads them back through fhir/proxy-grant-store.ts on every request, so revoking a grant takes effect at once.
 */
import type { CodeableConcept, Consent, HumanName, Reference, RelatedPerson } from '@medplum/fhirtypes';
import { badRequest } from '../fhir/outcomes';
import type { GrantLevel } from './access-level';
import type { GrantedBy } from './age-policy';

/** Identifier system of the account a RelatedPerson stands for (value: the account id). */
export const ACCOUNT_IDENTIFIER_SYSTEM = 'https://chartkeeper.dev/fhir/account';

/** The portal account a grant's RelatedPerson stands for (its ACCOUNT_IDENTIFIER_SYSTEM identifier), if any. */
export function accountIdOf(person: RelatedPerson | undefined): string | undefined {
  return person?.identifier?.find((i) => i.system === ACCOUNT_IDENTIFIER_SYSTEM)?.value;
}
/** Consent extension: the level granted (valueCode full | billing). */
export const ACCESS_LEVEL_EXTENSION = 'https://chartkeeper.dev/fhir/StructureDefinition/access-level';
/** Consent extension: on whose authority (valueCode patient | guardian | staff-legal-authorization). */
export const GRANTED_BY_EXTENSION = 'https://chartkeeper.dev/fhir/StructureDefinition/granted-by';

const V3_ROLE_CODE = 'http://terminology.hl7.org/CodeSystem/v3-RoleCode';
const V3_ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
const CONSENT_SCOPE = 'http://terminology.hl7.org/CodeSystem/consentscope';
const LOINC = 'http://loinc.org';
export const GRANT_LEVELS: readonly string[] = ['full', 'billing', 'billing+appointments'];
export const GRANTED_BY: readonly string[] = ['patient', 'guardian', 'staff-legal-authorization'];

/** The person a grant is for, as the RelatedPerson records them. */
export interface Grantee {
  /** "Dan Reyes", or a structured name. */
  readonly name: string | HumanName;
  readonly email?: string;
  /** v3 RoleCode code of the relationship to the patient (MTH, FTH, GUARD, SPS, FAMMEMB...). */
  readonly relationship: string;
}

/** What grantAccess needs. */
export interface GrantRequest {
  readonly patientId: string;
  /** The grantee's account (account.id). */
  readonly accountId: string;
  readonly grantee: Grantee;
  readonly level: GrantLevel;
  readonly grantedBy: GrantedBy;
  /** Who granted: 'Patient/{id}', 'RelatedPerson/{guardian's}' or 'Practitioner/{staff}'. */
  readonly performer: string;
  /**
   * An existing RelatedPerson of this patient to stand for the account (e.g. the demo's "Ada, mother of Ben");
   * it gets the account identifier. Ignored when the account already has a RelatedPerson for the patient.
   */
  readonly relatedPersonId?: string;
}

/** A grant as read back from its Consent. */
export interface StoredGrant {
  readonly consentId: string;
  readonly patientId: string;
  readonly relatedPersonId: string;
  readonly level: GrantLevel;
  readonly grantedBy: GrantedBy;
  /** Consent.dateTime: the instant the grant was made (the age rules use its local calendar date). */
  readonly granted: string;
  readonly active: boolean;
  /** provision.period, when the grant is limited in time. */
  readonly period?: { readonly start?: string; readonly end?: string };
}

/** A grant with the RelatedPerson it is for, as the caller's scope needs it. */
export interface AccountGrant extends StoredGrant {
  readonly relatedPerson: RelatedPerson;
}

/** Reads a Consent as a family access grant; undefined when it is not one (or is malformed: fail closed). */
export function consentToGrant(consent: Consent): StoredGrant | undefined {
  const level = extensionCode(consent, ACCESS_LEVEL_EXTENSION);
  const grantedBy = extensionCode(consent, GRANTED_BY_EXTENSION);
  const patientId = idOf(consent.patient, 'Patient');
  const actors = consent.provision?.actor ?? [];
  const relatedPersonId = actors.length === 1 ? idOf(actors[0].reference, 'RelatedPerson') : undefined;
  if (!consent.id || !level || !GRANT_LEVELS.includes(level) || !grantedBy || !GRANTED_BY.includes(grantedBy)) return undefined;
  if (!patientId || !relatedPersonId || !consent.dateTime || consent.provision?.type !== 'permit') return undefined;
  const period = consent.provision?.period;
  return {
    consentId: consent.id,
    patientId,
    relatedPersonId,
    level: level as GrantLevel,
    grantedBy: grantedBy as GrantedBy,
    granted: consent.dateTime,
    active: consent.status === 'active',
    ...(period ? { period: { start: period.start, end: period.end } } : {}),
  };
}

/** The Consent that records a grant to `relatedPerson` (a reference) as of `now`. */
export function buildConsent(request: GrantRequest, relatedPerson: string, now: string): Consent {
  return {
    resourceType: 'Consent',
    extension: [
      { url: ACCESS_LEVEL_EXTENSION, valueCode: request.level },
      { url: GRANTED_BY_EXTENSION, valueCode: request.grantedBy },
    ],
    status: 'active',
    scope: { coding: [{ system: CONSENT_SCOPE, code: 'patient-privacy', display: 'Privacy Consent' }] },
    category: [{ coding: [{ system: LOINC, code: '59284-0', display: 'Patient Consent' }] }],
    patient: { reference: `Patient/${request.patientId}` },
    dateTime: now,
    performer: [{ reference: request.performer }],
    policyRule: { coding: [{ system: V3_ACT_CODE, code: 'OPTIN', display: 'opt-in' }] },
    provision: {
      type: 'permit',
      actor: [{ role: relationshipConcept(request.grantee.relationship), reference: { reference: relatedPerson } }],
    },
  };
}

/** A v3 RoleCode relationship; 400 for anything else. */
export function relationshipConcept(code: string): CodeableConcept {
  if (!/^[A-Z]{2,10}$/.test(code)) throw badRequest(`A relationship must be a v3 RoleCode code such as MTH or FAMMEMB, got "${code}"`);
  return { coding: [{ system: V3_ROLE_CODE, code }] };
}

/** The code of the single extension `url` of a Consent, if exactly one. */
export function extensionCode(consent: Consent, url: string): string | undefined {
  const found = (consent.extension ?? []).filter((e) => e.url === url);
  return found.length === 1 ? found[0].valueCode : undefined;
}

/** The id of a reference to `type`, if it is one. */
export function idOf(reference: Reference | undefined, type: string): string | undefined {
  const match = /^([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(reference?.reference ?? '');
  return match && match[1] === type ? match[2] : undefined;
}
