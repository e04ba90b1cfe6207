/**
 * What a family member's grant lets them see. Levels are ordered: a grant is always cut down to the
 * lowest of the levels that apply to it (what was granted, what the policy allowed then, what it allows now).
 */
import type { ResourceType } from '@medplum/fhirtypes';

/** The effective access a caller has to another person's record. */
export type AccessLevel = 'none' | 'billing' | 'billing+appointments' | 'full';

/** The levels a patient (or staff) can put on a grant; which of them the practice offers is its policy's (AgePolicy.grantLevels). */
export type GrantLevel = 'full' | 'billing' | 'billing+appointments';

/** Every level, from least to most access. */
export const ACCESS_LEVELS: readonly AccessLevel[] = Object.freeze(['none', 'billing', 'billing+appointments', 'full']);

/** The lower of two levels. */
export function minLevel(a: AccessLevel, b: AccessLevel): AccessLevel {
  return ACCESS_LEVELS.indexOf(a) <= ACCESS_LEVELS.indexOf(b) ? a : b;
}

/** The higher of two levels: a grantee with several grants to one patient (a guardian grant and the teen's own) gets the best. */
export function maxLevel(a: AccessLevel, b: AccessLevel): AccessLevel {
  return ACCESS_LEVELS.indexOf(a) >= ACCESS_LEVELS.indexOf(b) ? a : b;
}

/** True when `level` gives at least as much access as `atLeast`. */
export function levelAtLeast(level: AccessLevel, atLeast: AccessLevel): boolean {
  return ACCESS_LEVELS.indexOf(level) >= ACCESS_LEVELS.indexOf(atLeast);
}

/**
 * Resource types of the patient's compartment visible at the billing level. Patient is visible only in its
 * reduced form (see `minimalPatient`).
 */
export const BILLING_RESOURCE_TYPES: readonly ResourceType[] = Object.freeze([
  'Patient',
  'Account',
  'Invoice',
  'ChargeItem',
  'Coverage',
  'PaymentReconciliation',
  'PaymentNotice',
]);

/** Billing plus the patient's appointments (westchester's 12-17 band). */
export const BILLING_AND_APPOINTMENT_RESOURCE_TYPES: readonly ResourceType[] = Object.freeze([...BILLING_RESOURCE_TYPES, 'Appointment']);

/**
 * The resource types a level may see in the patient's record, or 'all' for full access. 'none' sees nothing,
 * not even that the Patient exists.
 */
export function resourceTypesForLevel(level: AccessLevel): 'all' | ReadonlySet<ResourceType> {
  switch (level) {
    case 'full':
      return 'all';
    case 'billing+appointments':
      return new Set(BILLING_AND_APPOINTMENT_RESOURCE_TYPES);
    case 'billing':
      return new Set(BILLING_RESOURCE_TYPES);
    case 'none':
      return new Set();
  }
}

/** True when a caller at `level` may see resources of `resourceType` in the patient's record. */
export function levelSeesResourceType(level: AccessLevel, resourceType: string): boolean {
  const types = resourceTypesForLevel(level);
  return types === 'all' || types.has(resourceType as ResourceType);
}
