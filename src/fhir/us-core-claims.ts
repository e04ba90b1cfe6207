/**
 * What this service writes claims US Core only where it meets it: the demo family and the C-CDA import's output are
 * given, in meta.profile, the US Core 6.1.0 profile that fits each resource (by its type, and for Observations,
 * Conditions and DiagnosticReports by code and category) when the resource passes that profile; one that does not
 * (a document that leaves out what the profile requires) claims nothing and is held to R4 as before. The claim is
 * validated again on write (validation.ts), like any client's.
 */
import type { Coding, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { usCoreClaimsOf, usCoreProfiles } from './us-core-profiles';
import { meetsProfile } from './validation';

const BASE = 'http://hl7.org/fhir/us/core/StructureDefinition/';
const LOINC = 'http://loinc.org';

/** The one profile of each type that has one US Core profile (the others are chosen by candidatesFor). */
const BY_TYPE: Record<string, string> = {
  AllergyIntolerance: 'us-core-allergyintolerance',
  CarePlan: 'us-core-careplan',
  CareTeam: 'us-core-careteam',
  Coverage: 'us-core-coverage',
  Device: 'us-core-implantable-device',
  DocumentReference: 'us-core-documentreference',
  Encounter: 'us-core-encounter',
  Goal: 'us-core-goal',
  Immunization: 'us-core-immunization',
  Location: 'us-core-location',
  Medication: 'us-core-medication',
  MedicationRequest: 'us-core-medicationrequest',
  Organization: 'us-core-organization',
  Patient: 'us-core-patient',
  Practitioner: 'us-core-practitioner',
  PractitionerRole: 'us-core-practitionerrole',
  Procedure: 'us-core-procedure',
  Provenance: 'us-core-provenance',
  QuestionnaireResponse: 'us-core-questionnaireresponse',
  RelatedPerson: 'us-core-relatedperson',
  ServiceRequest: 'us-core-servicerequest',
};

/** Observation profiles fixed to one LOINC code (US Core 6.1.0's vital signs and single-code observations). */
const OBSERVATION_BY_LOINC: Record<string, string> = {
  '85354-9': 'us-core-blood-pressure',
  '39156-5': 'us-core-bmi',
  '8302-2': 'us-core-body-height',
  '8310-5': 'us-core-body-temperature',
  '29463-7': 'us-core-body-weight',
  '9843-4': 'us-core-head-circumference',
  '8867-4': 'us-core-heart-rate',
  '59408-5': 'us-core-pulse-oximetry',
  '2708-6': 'us-core-pulse-oximetry',
  '9279-1': 'us-core-respiratory-rate',
  '59576-9': 'pediatric-bmi-for-age',
  '77606-2': 'pediatric-weight-for-height',
  '8289-1': 'head-occipital-frontal-circumference-percentile',
  '72166-2': 'us-core-smokingstatus',
  '76690-7': 'us-core-observation-sexual-orientation',
  '82810-3': 'us-core-observation-pregnancystatus',
  '86645-9': 'us-core-observation-pregnancyintent',
  '11341-5': 'us-core-observation-occupation',
};

/** Observation profiles by category code, after the code's own profile. */
const OBSERVATION_BY_CATEGORY: Record<string, string> = {
  laboratory: 'us-core-observation-lab',
  'vital-signs': 'us-core-vital-signs',
  survey: 'us-core-observation-screening-assessment',
  sdoh: 'us-core-observation-screening-assessment',
  'functional-status': 'us-core-observation-screening-assessment',
  'cognitive-status': 'us-core-observation-screening-assessment',
  'disability-status': 'us-core-observation-screening-assessment',
  imaging: 'us-core-observation-clinical-result',
  procedure: 'us-core-observation-clinical-result',
};

/** The US Core profiles that may fit `resource`, the most specific first (ids, without the base URL). */
export function usCoreCandidatesFor(resource: Resource): string[] {
  switch (resource.resourceType) {
    case 'Observation': {
      const out: string[] = [];
      for (const coding of codings(resource.code?.coding)) {
        const byCode = coding.system === LOINC && coding.code ? OBSERVATION_BY_LOINC[coding.code] : undefined;
        if (byCode) out.push(byCode);
      }
      for (const coding of codings(resource.category?.flatMap((c) => c.coding ?? []))) {
        const byCategory = coding.code ? OBSERVATION_BY_CATEGORY[coding.code] : undefined;
        if (byCategory) out.push(byCategory);
      }
      out.push('us-core-simple-observation');
      return [...new Set(out)];
    }
    case 'Condition': {
      const encounterDiagnosis = codings(resource.category?.flatMap((c) => c.coding ?? [])).some((c) => c.code === 'encounter-diagnosis');
      return [encounterDiagnosis ? 'us-core-condition-encounter-diagnosis' : 'us-core-condition-problems-health-concerns'];
    }
    case 'DiagnosticReport': {
      const lab = codings(resource.category?.flatMap((c) => c.coding ?? [])).some((c) => c.code === 'LAB');
      return lab ? ['us-core-diagnosticreport-lab', 'us-core-diagnosticreport-note'] : ['us-core-diagnosticreport-note'];
    }
    default: {
      const profile = BY_TYPE[resource.resourceType];
      return profile ? [profile] : [];
    }
  }
}

/**
 * The resource with the first US Core profile it meets added to meta.profile (the same object, changed in place),
 * or as it was when it meets none or already claims one.
 */
export function claimUsCoreProfile<T extends Resource>(resource: T): T {
  if (usCoreClaimsOf(resource).length) return resource;
  for (const id of usCoreCandidatesFor(resource)) {
    const url = BASE + id;
    const profile = usCoreProfiles().get(url);
    if (!profile || profile.type !== resource.resourceType || lacksRequiredElement(resource, profile)) continue;
    const claimed = { ...resource, meta: { ...resource.meta, profile: [...(resource.meta?.profile ?? []), url] } };
    if (meetsProfile(claimed, profile)) {
      resource.meta = claimed.meta;
      return resource;
    }
  }
  return resource;
}

/** Takes back the US Core claims of a resource (after a change that may no longer meet them). */
export function dropUsCoreClaims(resource: Resource): void {
  const profiles = (resource.meta?.profile ?? []).filter((p) => !usCoreClaimsOf({ ...resource, meta: { profile: [p] } }).length);
  if (!resource.meta) return;
  if (profiles.length) resource.meta = { ...resource.meta, profile: profiles };
  else {
    const { profile: _dropped, ...meta } = resource.meta;
    resource.meta = meta;
  }
}

/** Per profile, the top-level elements it requires (`value[x]` as `value`), read once. */
const requiredElements = new WeakMap<StructureDefinition, readonly { name: string; choice: boolean }[]>();

/**
 * Whether the resource lacks an element the profile requires at its top level: it cannot meet the profile then, and
 * the full validation (as costly as the write's own) is spared. Most resources that meet no profile are found here.
 */
function lacksRequiredElement(resource: Resource, profile: StructureDefinition): boolean {
  let required = requiredElements.get(profile);
  if (!required) {
    required = (profile.snapshot?.element ?? [])
      .filter((e) => (e.min ?? 0) > 0 && !e.id?.includes(':') && e.path?.split('.').length === 2)
      .map((e) => {
        const name = e.path.split('.')[1];
        return { name: name.replace('[x]', ''), choice: name.endsWith('[x]') };
      });
    requiredElements.set(profile, required);
  }
  const keys = Object.keys(resource);
  return required.some(({ name, choice }) =>
    choice ? !keys.some((k) => k.startsWith(name) && /^[A-Z]/.test(k.slice(name.length))) : !(name in resource),
  );
}

function codings(list: Coding[] | undefined): Coding[] {
  return list ?? [];
}
