import type { AccessScope } from './access-scope';

/**
 * Whether the caller sees everything of this patient's record that the patient does: staff, systems,
 * the patient, and proxies at the full level. A clinical document (a CCD) is only for them: rendered
 * for a billing-only proxy it would say "no allergies recorded" where allergies are merely hidden.
 */
export function hasFullAccess(scope: AccessScope, patientId: string): boolean {
  // A token that shows only some types (SMART scopes) never sees the whole record.
  if (scope.allowedTypes) return false;
  if (scope.unrestricted || scope.organizationId) return true;
  return scope.patients.has(patientId) && scope.patients.get(patientId) === undefined;
}
