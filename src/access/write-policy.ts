/**
 * Who may write what. Reading is the visibility filter's job; these rules decide, for a resource the caller can
 * see, whether they may also create, change or delete it.
 *
 * - Portal callers (a patient, or a family member at 'full'): only what a patient writes through a portal —
 *   messages to the practice (Communication), their attachments (Binary) and questionnaire answers — and only
 *   when every patient the resource is about is one they hold at 'full'. A family member at 'full' writes what the
 *   patient could (a message on the patient's behalf). A message goes out as its writer: its sender, when named, is
 *   the caller (their Patient, or their RelatedPerson in the record), never a clinician. Once sent it is part of the
 *   record: only the caller's own drafts (status 'preparation') may be changed or deleted; an uploaded file (Binary) is
 *   never changed or deleted from the portal. Billing levels write nothing. Clinical data, the Patient
 *   itself (a birth date change would move the age rules), grants (Consent/RelatedPerson: through the family
 *   access operations, which check who may grant) and AuditEvents are never written by portal callers.
 * - Staff: anything in their organisation's patients' records, and a Patient only when it is managed by their
 *   organisation. AuditEvents are written by the service alone: an activity log anyone could edit proves nothing.
 */
import type { Communication, Resource } from '@medplum/fhirtypes';
import type { AccessLevel } from './access-level';

/** Resource types a patient (or a full-access family member) may write through the API. */
export const PORTAL_WRITABLE_TYPES: ReadonlySet<string> = new Set(['Communication', 'Binary', 'QuestionnaireResponse']);

/** Types nobody but the service itself writes. */
export const SERVICE_ONLY_TYPES: ReadonlySet<string> = new Set(['AuditEvent']);

/** Who the portal caller is, and which version of the resource is being judged. */
export interface PortalWriter {
  /** The references standing for the caller: `Patient/<own id>`, `RelatedPerson/<id>` in each record they hold. */
  readonly own: ReadonlySet<string>;
  /** True for the stored version an update or delete would replace; false for the version a write would store. */
  readonly stored: boolean;
}

/**
 * Whether a portal caller may write `resource`, which lands in the compartments of `compartments`; `levelOf`
 * gives the caller's level for a patient. A resource outside every patient's record is not a portal write.
 */
export function portalMayWrite(
  resource: Resource,
  compartments: readonly string[] | undefined,
  levelOf: (patientId: string) => AccessLevel,
  writer: PortalWriter,
): boolean {
  if (!PORTAL_WRITABLE_TYPES.has(resource.resourceType)) return false;
  if (!compartments?.length) return false;
  if (!compartments.every((patientId) => levelOf(patientId) === 'full')) return false;
  // An uploaded file may be a released report or a sent message's attachment: the portal adds files, never
  // changes or removes one (a draft that needs another file uploads it).
  if (resource.resourceType === 'Binary' && writer.stored) return false;
  return resource.resourceType !== 'Communication' || portalMayWriteMessage(resource as Communication, writer);
}

/** A message is written as its sender; a sent one (anything but a draft) is no longer the sender's to change. */
function portalMayWriteMessage(message: Communication, { own, stored }: PortalWriter): boolean {
  const sender = message.sender?.reference;
  if (stored) return message.status === 'preparation' && sender !== undefined && own.has(sender);
  return sender === undefined || own.has(sender);
}

/** Whether staff of `organizationId` may write `resource` (compartment membership is checked in SQL). */
export function staffMayWrite(resource: Resource, organizationId: string): boolean {
  if (SERVICE_ONLY_TYPES.has(resource.resourceType)) return false;
  if (resource.resourceType === 'Patient') {
    return resource.managingOrganization?.reference === `Organization/${organizationId}`;
  }
  return true;
}
