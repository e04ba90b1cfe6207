/**
 * Reads a `RelatedPerson.relationship` as the age rules need it: is this person a parent or legal guardian
 * (who keeps teen-band access for themselves), or anyone else? Step- and foster parents are not guardians by
 * relationship alone; staff record a legal authorization for them.
 */
import type { CodeableConcept } from '@medplum/fhirtypes';
import type { FamilyRelationship } from './age-policy';

const V3_ROLE_CODE = 'http://terminology.hl7.org/CodeSystem/v3-RoleCode';
const V3_ROLE_CLASS = 'http://terminology.hl7.org/CodeSystem/v3-RoleClass';

/** v3 RoleCode codes of parents (natural or adoptive) and legal guardians. */
export const GUARDIAN_ROLE_CODES: ReadonlySet<string> = new Set([
  'GUARD',
  'PRN',
  'PARNT',
  'MTH',
  'FTH',
  'NPRN',
  'NMTH',
  'NFTH',
  'ADOPTP',
  'ADOPTM',
  'ADOPTF',
]);

/** 'guardian' when any coding names a parent or legal guardian, otherwise 'other'. */
export function familyRelationshipOf(relationship: readonly CodeableConcept[] | undefined): FamilyRelationship {
  for (const concept of relationship ?? []) {
    for (const coding of concept.coding ?? []) {
      if (coding.code === undefined) {
        continue;
      }
      if (coding.system === V3_ROLE_CODE && GUARDIAN_ROLE_CODES.has(coding.code)) {
        return 'guardian';
      }
      if (coding.system === V3_ROLE_CLASS && coding.code === 'GUARD') {
        return 'guardian';
      }
    }
  }
  return 'other';
}
