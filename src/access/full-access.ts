import type { AccessScope } from './access-scope';

/**
 * Whether the caller sees everything of this patient's record that the patient does: staff, systems,
 * the patient, and proxies at the full level. A clinical document (a CCD) is only for them: rendered
 * for a billing-only proxy it would say "no allergies recorded" where allergies are merely hidden.
 */
export function hasFullAccess(scope: AccessScope, patientId: string): boolean {
  // A token that shows only some resources of a type (SMART scopes with a query) never sees the whole record.
  if (scope.resourceFilters?.size) return false;
  if (scope.patients.has(patientId) && scope.patients.get(patientId) === undefined) return true;
  // Nor does one that shows only some types of the organisation's records.
  if (scope.allowedTypes) return false;
  return scope.unrestricted || scope.organizationId !== undefined;
}
