/**
 * Finding the patient a person says they are (or asks about): last name + birth date + one more fact the
 * practice has on file (email, phone, postal code or MRN), as in the Westmed sign-up. And where a patient's
 * mail goes: their own portal login when they have one, else the email on their record.
 */
import type { ContactPoint, Identifier, Patient, RelatedPerson } from '@medplum/fhirtypes';
import { badRequest, conflict, FhirError } from '../fhir/outcomes';
import type { Repository } from '../fhir/repository';
import { type Fields, optionalEmail, optionalString, requiredPastDate, requiredString } from './account-input';
import { normalizeEmail } from './account-store';

/** What a person gives to be matched to a Patient. */
export interface PatientIdentity {
  readonly lastName: string;
  readonly birthDate: string;
  readonly email?: string;
  readonly phone?: string;
  readonly postalCode?: string;
  readonly mrn?: string;
}

/** The field names a PatientIdentity is read from. */
export const PATIENT_IDENTITY_FIELDS = ['lastName', 'birthDate', 'email', 'phone', 'postalCode', 'mrn'] as const;

/** Reads a PatientIdentity; at least one of email, phone, postal code or MRN is required. */
export function readPatientIdentity(fields: Fields, today: string, where = ''): PatientIdentity {
  const identity = {
    lastName: requiredString(fields, 'lastName', 100, where),
    birthDate: requiredPastDate(fields, 'birthDate', today, where),
    email: optionalEmail(fields, 'email', where),
    phone: optionalString(fields, 'phone', 40, where),
    postalCode: optionalString(fields, 'postalCode', 20, where),
    mrn: optionalString(fields, 'mrn', 64, where),
  };
  if (!identity.email && !identity.phone && !identity.postalCode && !identity.mrn) {
    throw badRequest(
      `Give the patient's email, phone, postal code or medical record number (MRN) as well as ${where}lastName and ${where}birthDate`,
      `${where}email`,
    );
  }
  return identity;
}

/** 404 with a message that does not say which detail was wrong. */
export function noMatchingPatient(): FhirError {
  const text =
    'We could not find a patient record matching these details. Check the last name, birth date and the other detail ' +
    'as the practice has them, or contact the practice.';
  return new FhirError(404, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found', details: { text } }] });
}

function digits(value: string): string {
  const all = value.replace(/\D/g, '');
  // US numbers with or without the country code compare equal.
  return all.length === 11 && all.startsWith('1') ? all.slice(1) : all;
}

function isMrn(identifier: Identifier): boolean {
  const codes = identifier.type?.coding?.map((c) => c.code) ?? [];
  return codes.includes('MR') || (!identifier.type && !!identifier.value);
}

function emailsOf(telecom: readonly ContactPoint[] | undefined): string[] {
  return (telecom ?? [])
    .filter((t) => t.system === 'email' && t.value && t.period?.end === undefined)
    .map((t) => normalizeEmail(t.value as string));
}

/** Whether a Patient carries the identity's second fact. */
function secondFactMatches(patient: Patient, identity: PatientIdentity): boolean {
  if (identity.email && emailsOf(patient.telecom).includes(identity.email)) return true;
  if (identity.phone) {
    const wanted = digits(identity.phone);
    if (wanted.length >= 7 && (patient.telecom ?? []).some((t) => t.system === 'phone' && t.value && digits(t.value) === wanted))
      return true;
  }
  if (identity.postalCode) {
    const wanted = identity.postalCode.replace(/\s/g, '').toUpperCase().slice(0, 5);
    if ((patient.address ?? []).some((a) => a.postalCode && a.postalCode.replace(/\s/g, '').toUpperCase().slice(0, 5) === wanted))
      return true;
  }
  if (identity.mrn) {
    const wanted = identity.mrn.trim().toUpperCase();
    if ((patient.identifier ?? []).some((i) => isMrn(i) && i.value?.trim().toUpperCase() === wanted)) return true;
  }
  return false;
}

function lastNameMatches(patient: Patient, lastName: string): boolean {
  const wanted = lastName.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
  return (patient.name ?? []).some((n) => n.family?.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase() === wanted);
}

/**
 * The one active Patient matching the identity, or undefined. Two records matching (twins at one address) is
 * a 409 asking for the MRN, never a guess.
 */
export async function findPatientByIdentity(repo: Repository, identity: PatientIdentity): Promise<Patient | undefined> {
  const candidates = await repo.searchResources<Patient>('Patient', { family: identity.lastName, birthdate: identity.birthDate });
  const matches = candidates.filter(
    (p) =>
      p.active !== false && p.birthDate === identity.birthDate && lastNameMatches(p, identity.lastName) && secondFactMatches(p, identity),
  );
  if (matches.length > 1) {
    throw conflict(
      'More than one patient record matches these details. Add the medical record number (MRN) from a visit summary, or contact the practice.',
    );
  }
  return matches[0];
}

/** The email on the patient's own record (telecom), preferring home and rank. */
export function patientEmailOnFile(patient: Patient): string | undefined {
  const emails = (patient.telecom ?? [])
    .filter((t) => t.system === 'email' && t.value && t.period?.end === undefined)
    .sort((a, b) => (a.rank ?? 99) - (b.rank ?? 99) || Number(b.use === 'home') - Number(a.use === 'home'));
  return emails[0]?.value ? normalizeEmail(emails[0].value) : undefined;
}

/** The email of the patient's contact people (a minor's parent), when the record has no own email. */
export function contactEmailOnFile(patient: Patient): string | undefined {
  for (const contact of patient.contact ?? []) {
    const email = emailsOf(contact.telecom)[0];
    if (email) return email;
  }
  return undefined;
}

/** A RelatedPerson of the patient whose email is `email` (the guardian who reads a minor's mail), if any. */
export async function relatedPersonWithEmail(repo: Repository, patientId: string, email: string): Promise<RelatedPerson | undefined> {
  const people = await repo.searchResources<RelatedPerson>('RelatedPerson', { patient: `Patient/${patientId}` });
  return people.find((rp) => rp.active !== false && emailsOf(rp.telecom).includes(email));
}
