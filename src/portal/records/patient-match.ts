import type { Patient } from '@medplum/fhirtypes';
import type { Repository } from '../../fhir/repository';
import { ownResourceOf } from './own-resource-id';

/** How an incoming document's patient was found (or not) among the stored ones. */
export type PatientMatch =
  | { readonly kind: 'identifier'; readonly patient: Patient }
  | { readonly kind: 'demographics'; readonly patient: Patient; readonly by: string }
  | { readonly kind: 'none' };

/**
 * The match rule, in order:
 * 0. The document is one Chartkeeper rendered: an id under our own root names a stored Patient ("Patient/<id>") that
 *    the caller may see and that does not contradict the document (as in 1). Such an id is not an identifier the
 *    Patient carries, so step 1 cannot find it; without this, re-importing our own CCD of a patient with no phone,
 *    email or postal code created a copy of them. A Patient the caller may not see (another organisation's) is never
 *    matched, nor its existence revealed: the document then goes through steps 1 to 3 like any other.
 * 1. An identifier (system + value) of the incoming patient names exactly one stored Patient, and that
 *    Patient does not contradict the document: same birth date and family name where both have one.
 *    (Sample and test documents reuse patient ids for different people; an id alone never merges them.)
 * 2. Otherwise: same family name, same first given name (case and accents ignored), same birth
 *    date, and at least one more demographic in common: a phone number (digits compared), an email
 *    address, or a postal code (first five characters). Exactly one such Patient must exist.
 * 3. Otherwise no match: the import creates a new Patient.
 * Several candidates at any step are never merged: the rule then moves on or creates a new Patient.
 */
export async function matchPatient(repo: Repository, incoming: Patient): Promise<PatientMatch> {
  const own = await ownPatient(repo, incoming);
  if (own) return { kind: 'identifier', patient: own };
  const byIdentifier = new Map<string, Patient>();
  for (const identifier of incoming.identifier ?? []) {
    if (!identifier.system || !identifier.value) continue;
    const found = await repo.searchResources<Patient>('Patient', { identifier: `${identifier.system}|${identifier.value}` });
    for (const patient of found) byIdentifier.set(patient.id as string, patient);
  }
  const consistent = [...byIdentifier.values()].filter((p) => agrees(incoming, p));
  if (consistent.length === 1) return { kind: 'identifier', patient: consistent[0] };

  const name = incoming.name?.[0];
  if (!name?.family || !incoming.birthDate || incoming.birthDate.length < 10) return { kind: 'none' };
  const candidates = await repo.searchResources<Patient>('Patient', {
    'family:exact': name.family,
    birthdate: incoming.birthDate.slice(0, 10),
  });
  const matches: { patient: Patient; by: string }[] = [];
  for (const candidate of candidates) {
    if (!sameGiven(incoming, candidate)) continue;
    const by = sharedDemographic(incoming, candidate);
    if (by) matches.push({ patient: candidate, by });
  }
  if (matches.length === 1) return { kind: 'demographics', ...matches[0] };
  return { kind: 'none' };
}

/** The first Patient an id under our own root names that the caller may see and that agrees with the document. */
async function ownPatient(repo: Repository, incoming: Patient): Promise<Patient | undefined> {
  const ids = (incoming.identifier ?? [])
    .map(ownResourceOf)
    .filter((own) => own?.type === 'Patient')
    .map((own) => own!.id);
  // A rendered document names one; the bound keeps a hostile one from costing a search per id.
  for (const id of [...new Set(ids)].slice(0, MAX_OWN_IDS)) {
    // A search, not a read: it answers only what the caller may see, and an id it may not is just no match.
    const [found] = await repo.searchResources<Patient>('Patient', { _id: id });
    if (found && agrees(incoming, found)) return found;
  }
  return undefined;
}

const MAX_OWN_IDS = 4;

function agrees(a: Patient, b: Patient): boolean {
  if (a.birthDate && b.birthDate && a.birthDate.slice(0, 10) !== b.birthDate.slice(0, 10)) return false;
  const familyA = fold(a.name?.[0]?.family);
  if (familyA && b.name?.length && !b.name.some((n) => fold(n.family) === familyA)) return false;
  return true;
}

function fold(text: string | undefined): string {
  return (text ?? '')
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .trim();
}

function sameGiven(a: Patient, b: Patient): boolean {
  const given = fold(a.name?.[0]?.given?.[0]);
  return !!given && (b.name ?? []).some((n) => fold(n.given?.[0]) === given);
}

function sharedDemographic(a: Patient, b: Patient): string | undefined {
  const phones = (p: Patient) =>
    (p.telecom ?? []).filter((t) => t.system === 'phone' && t.value).map((t) => t.value!.replace(/\D/g, '').slice(-10));
  const emails = (p: Patient) => (p.telecom ?? []).filter((t) => t.system === 'email' && t.value).map((t) => fold(t.value));
  const postal = (p: Patient) => (p.address ?? []).filter((x) => x.postalCode).map((x) => x.postalCode!.trim().slice(0, 5));
  const overlap = (x: string[], y: string[]) => x.some((v) => v.length >= 5 && y.includes(v));
  if (overlap(phones(a), phones(b))) return 'phone';
  if (overlap(emails(a), emails(b))) return 'email';
  if (overlap(postal(a), postal(b))) return 'postal code';
  return undefined;
}
