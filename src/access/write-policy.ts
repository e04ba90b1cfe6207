/**
 * Who may write what. Reading is the visibility filter's job; these rules decide, for a resource the caller can
 * see, whether they may also create, change or delete it.
 *
 * - Portal callers (a patient, or a family member at 'full'): only what a patient writes through a portal —
 *   messages to the practice (Communication), their attachments (Binary) and questionnaire answers — and only
 *   when every patient the resource is about is one they hold at 'full'. A family member at 'full' writes what the
 *   patient could (a message on the patient's behalf). Billing levels write nothing. Clinical data, the Patient
 *   itself (a birth date change would move the age rules), grants (Consent/RelatedPerson: through the family
 *   access operations, which check who may grant) and AuditEvents are never written by portal callers.
 * - Staff: anything in their organisation's patients' records, and a Patient only when it is managed by their
 *   organisation. AuditEvents are written by the service alone: an activity log anyone could edit proves nothing.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { AccessLevel } from './access-level';

/** Resource types a patient (or a full-access family member) may write through the API. */
export const PORTAL_WRITABLE_TYPES: ReadonlySet<string> = new Set(['Communication', 'Binary', 'QuestionnaireResponse']);

/** Types nobody but the service itself writes. */
export const SERVICE_ONLY_TYPES: ReadonlySet<string> = new Set(['AuditEvent']);

/**
 * Whether a portal caller may write `resource`, which lands in the compartments of `compartments`; `levelOf`
 * gives the caller's level for a patient. A resource outside every patient's record is not a portal write.
 */
export function portalMayWrite(resource: Resource, compartments: readonly string[] | undefined, levelOf: (patientId: string) => AccessLevel): boolean {
  if (!PORTAL_WRITABLE_TYPES.has(resource.resourceType)) return false;
  if (!compartments?.length) return false;
  return compartments.every((patientId) => levelOf(patientId) === 'full');
}

/** Whether staff of `organizationId` may write `resource` (compartment membership is checked in SQL). */
export function staffMayWrite(resource: Resource, organizationId: string): boolean {
  if (SERVICE_ONLY_TYPES.has(resource.resourceType)) return false;
  if (resource.resourceType === 'Patient') {
    return resource.managingOrganization?.reference === `Organization/${organizationId}`;
  }
  return true;
}
