/**
 * The AccessScope of a portal account (a patient, a family member, or both) and of a staff account, built from
 * what the caller holds: per patient, an access level. The repository turns the scope into SQL; this file only
 * says which types each patient's record shows, how reduced views are shaped and what may be written.
 */
import type { Reference, Resource } from '@medplum/fhirtypes';
import { type AccessLevel, maxLevel, minLevel, resourceTypesForLevel } from './access-level';
import { type AccessScope, SHARED_TYPES } from './access-scope';
import { searchParamAllowedAt, viewForLevel } from './reduced-view';
import { portalAuthorshipIssues, portalMayWrite, staffMayWrite } from './write-policy';

/** What a caller holds on one patient's record. */
export interface PatientAccess {
  readonly patientId: string;
  readonly level: AccessLevel;
  /** True for the account holder's own record. */
  readonly self: boolean;
  /** The RelatedPerson standing for the caller in this patient's record (grants), for audit events. */
  readonly relatedPersonId?: string;
  /**
   * True when the patient is a child today under the age policy (whatever the exact birth date): no account of their
   * own, so a family member at 'full' keeps their personal information as the patient would.
   */
  readonly child?: boolean;
}

/** A portal caller's scope, with the per-patient levels it was built from. */
export interface PortalScope extends AccessScope {
  readonly access: ReadonlyMap<string, PatientAccess>;
  /** The caller's level on a patient's record ('none' when they hold nothing). */
  levelFor(patientId: string): AccessLevel;
}

/** Builds the scope of a portal caller from their per-patient access ('none' entries give nothing). */
export function portalScope(access: readonly PatientAccess[], description: string): PortalScope {
  const byPatient = new Map<string, PatientAccess>();
  for (const a of access) {
    if (a.level === 'none') continue;
    const before = byPatient.get(a.patientId);
    // Several grants to one patient: the own record wins, then the best level.
    const better = !before || (!before.self && (a.self || maxLevel(a.level, before.level) !== before.level));
    if (better) byPatient.set(a.patientId, a);
  }
  const patients = new Map<string, ReadonlySet<string> | undefined>();
  for (const [id, a] of byPatient) patients.set(id, typesAt(a.level));
  const levelFor = (patientId: string): AccessLevel => byPatient.get(patientId)?.level ?? 'none';
  const own = ownReferences(access);
  const details = detailsKept(byPatient);
  const scope: PortalScope = {
    description,
    unrestricted: false,
    patients,
    sharedTypes: SHARED_TYPES,
    releasedOnly: true,
    portalRules: true,
    access: byPatient,
    levelFor,
    canWrite: (resource, compartments, stored = false) => portalMayWrite(resource, compartments, levelFor, { own, stored, details }),
    authorshipIssues: (resource, stored) => portalAuthorshipIssues(resource, own, stored),
    present: (resource) => presentAt(resource, levelFor),
    presentsWholeType: (type) => !REDUCED_VIEW_TYPES.has(type),
    // A Patient is reduced at the caller's level on its own record (presentAt): at full, it is shown as it is.
    presentsWholeResource: (type, id) => !REDUCED_VIEW_TYPES.has(type) || (type === 'Patient' && levelFor(id) === 'full'),
    narrowForSearch(type, params) {
      const blocked = [...byPatient.values()].filter((a) => !params.every((p) => searchParamAllowedAt(a.level, type, p)));
      if (!blocked.length) return scope;
      // Those patients' records drop out of this search of this type; their other types stay as they were.
      const narrowed = new Map(patients);
      for (const a of blocked) narrowed.set(a.patientId, withoutType(a.level, type));
      return { ...scope, patients: narrowed };
    },
  };
  return scope;
}

/** The references that stand for the caller: their own Patient, and their RelatedPerson in each record they hold. */
function ownReferences(access: readonly PatientAccess[]): ReadonlySet<string> {
  const own = new Set<string>();
  for (const a of access) {
    if (a.level === 'none') continue;
    if (a.self) own.add(`Patient/${a.patientId}`);
    if (a.relatedPersonId) own.add(`RelatedPerson/${a.relatedPersonId}`);
  }
  return own;
}

/** The Patients whose details the caller changes: their own, and each child's whose record they hold at full. */
function detailsKept(byPatient: ReadonlyMap<string, PatientAccess>): ReadonlySet<string> {
  const out = new Set<string>();
  for (const a of byPatient.values()) if (a.self || (a.level === 'full' && a.child === true)) out.add(`Patient/${a.patientId}`);
  return out;
}

function typesAt(level: AccessLevel): ReadonlySet<string> | undefined {
  const types = resourceTypesForLevel(level);
  return types === 'all' ? undefined : types;
}

/** The types a level shows, minus one (a full level allows every parameter, so it never gets here). */
function withoutType(level: AccessLevel, type: string): ReadonlySet<string> {
  const out = new Set(typesAt(level) ?? []);
  out.delete(type);
  return out;
}

/** Staff of one organisation: its patients' records (SQL: Patient.managingOrganization), and shared resources. */
export function staffScope(organizationId: string | undefined, description: string): AccessScope {
  return {
    description,
    unrestricted: false,
    patients: new Map(),
    // A staff account without an organisation sees no patient at all.
    ...(organizationId ? { organizationId } : {}),
    sharedTypes: SHARED_TYPES,
    canWrite: (resource) => (organizationId ? staffMayWrite(resource, organizationId) : false),
    present: (resource) => resource,
    presentsWhole: true,
  };
}

/**
 * Shapes a visible resource for the caller's level on the patient(s) it is about: the lowest of them, as a resource in
 * several records (an Appointment of two patients) shows no more than the caller may see of each.
 */
function presentAt(resource: Resource, levelFor: (patientId: string) => AccessLevel): Resource {
  const patients = patientsNamedBy(resource);
  if (!patients.length) return resource;
  const level = patients.map(levelFor).reduce(minLevel, 'full' as AccessLevel);
  if (level === 'full') return resource;
  // The SQL filter let it through, so the level sees the type; should it not, show no more than the id.
  return viewForLevel(level, resource) ?? ({ resourceType: resource.resourceType, id: resource.id } as Resource);
}

/** The types presentAt may reduce (patientsNamedBy names their patients); every other type is shown whole. */
const REDUCED_VIEW_TYPES: ReadonlySet<string> = new Set(['Patient', 'Appointment', 'ChargeItem']);

/** The patients a reduced-view type is about (other types are shown whole when visible at all). */
function patientsNamedBy(resource: Resource): string[] {
  switch (resource.resourceType) {
    case 'Patient':
      return resource.id ? [resource.id] : [];
    case 'Appointment':
      return patientIds((resource.participant ?? []).map((p) => p.actor));
    case 'ChargeItem':
      return patientIds([resource.subject]);
    default:
      return [];
  }
}

function patientIds(refs: (Reference | undefined)[]): string[] {
  const out: string[] = [];
  for (const ref of refs) {
    const match = /^Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(ref?.reference ?? '');
    if (match) out.push(match[1]);
  }
  return out;
}

/**
 * What the patient themself sees of their own record (full, released only). For documents generated once and
 * stored for everyone who may read the record (a CCD behind $docref): rendering with the requester's scope would
 * store staff-only content (unreleased results) or a billing-reduced view under the patient's name.
 */
export function patientViewScope(patientId: string): PortalScope {
  return portalScope([{ patientId, level: 'full', self: true }], `patient view of Patient/${patientId}`);
}
