/**
 * Who may write what. Reading is the visibility filter's job; these rules decide, for a resource the caller can
 * see, whether they may also create, change or delete it.
 *
 * - Portal callers (a patient, or a family member at 'full'): only what a patient writes through a portal —
 *   messages to the practice (Communication), their attachments (Binary), questionnaire answers, requests
 *   (appointment requests, renewal and change-of-details Tasks) and the patient's own contact details — and only
 *   when every patient the resource is about is one they hold at 'full' (WRITING_LEVELS for the exceptions). A family member at 'full' writes what the
 *   patient could (a message on the patient's behalf). A message goes out as its writer: its sender, when named, is
 *   the caller (their Patient, or their RelatedPerson in the record), never a clinician. Once sent it is part of the
 *   record: only the caller's own drafts (status 'preparation') may be changed or deleted; an uploaded file (Binary) is
 *   never changed or deleted from the portal. Billing levels write only messages about the bills. Clinical data, the
 *   Patient of anyone but the caller herself or a child whose record she holds at 'full' (which of its fields she
 *   changes is the portal's rule: not the birth date that moves the age rules), grants (Consent/RelatedPerson: through the family access operations, which
 *   check who may grant) and AuditEvents are never written by portal callers.
 *   A portal caller is the author of what she writes: a questionnaire answer's author and source, when given, are
 *   the caller. The resource's meta.security, meta.tag and meta.source are the service's (security labels, tags
 *   that staff work by, where a record came from): a portal write may restate what is stored, never set them.
 * - Staff: anything in their organisation's patients' records, and a Patient only when it is managed by their
 *   organisation. AuditEvents are written by the service alone: an activity log anyone could edit proves nothing.
 */
import { deepEquals } from '@medplum/core';
import type { Communication, Resource } from '@medplum/fhirtypes';
import type { AccessLevel } from './access-level';

/** Resource types a patient (or a full-access family member) may write through the API. */
export const PORTAL_WRITABLE_TYPES: ReadonlySet<string> = new Set([
  'Communication',
  'Binary',
  'QuestionnaireResponse',
  'Appointment',
  'Task',
  'Patient',
]);

/**
 * The levels that write a type, where more than 'full' does: an appointment request is what Westchester's 12-17 band
 * (appointments and billing) is for. What an appointment request or a request Task may say is the portal's
 * request rules' call (src/portal/requests/).
 */
const WRITING_LEVELS: Readonly<Record<string, readonly AccessLevel[]>> = {
  Appointment: ['full', 'billing+appointments'],
  // A family member who holds billing may write to the practice about the bills (the portal's message rules hold
  // such a message to the billing subject and the practice as its recipient).
  Communication: ['full', 'billing+appointments', 'billing'],
};

/** Types nobody but the service itself writes. */
export const SERVICE_ONLY_TYPES: ReadonlySet<string> = new Set(['AuditEvent']);

/** Who the portal caller is, and which version of the resource is being judged. */
export interface PortalWriter {
  /** The references standing for the caller: `Patient/<own id>`, `RelatedPerson/<id>` in each record they hold. */
  readonly own: ReadonlySet<string>;
  /** True for the stored version an update or delete would replace; false for the version a write would store. */
  readonly stored: boolean;
  /**
   * The Patients (`Patient/<id>`) whose details the caller keeps: their own, and a child's whose record they hold at
   * full (the child has no account of their own). Absent: their own only.
   */
  readonly details?: ReadonlySet<string>;
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
  const levels = WRITING_LEVELS[resource.resourceType] ?? ['full'];
  if (!compartments.every((patientId) => levels.includes(levelOf(patientId)))) return false;
  // A request is the practice's once it is answered: the portal changes an appointment request only while it is
  // open (to cancel it), and a request Task only while it waits.
  if (resource.resourceType === 'Appointment' && writer.stored) return resource.status === 'proposed';
  // Patients keep their own contact details (the portal's profile rules say which fields), and a parent at full keeps a
  // child's, who has no account to do it: never another family member's, never a new Patient.
  if (resource.resourceType === 'Patient') return (writer.details ?? writer.own).has(`Patient/${resource.id}`);
  if (resource.resourceType === 'Task' && writer.stored) return resource.status === 'requested';
  // An uploaded file may be a released report or a sent message's attachment: the portal adds files, never
  // changes or removes one (a draft that needs another file uploads it).
  if (resource.resourceType === 'Binary' && writer.stored) return false;
  return resource.resourceType !== 'Communication' || portalMayWriteMessage(resource, writer);
}

/** A message is written as its sender; a sent one (anything but a draft) is no longer the sender's to change. */
function portalMayWriteMessage(message: Communication, { own, stored }: PortalWriter): boolean {
  const sender = message.sender?.reference;
  if (stored) return message.status === 'preparation' && sender !== undefined && own.has(sender);
  return sender === undefined || own.has(sender);
}

/** The meta elements that are the service's to set (see the header). */
export const SERVICE_META_ELEMENTS = ['security', 'tag', 'source'] as const;

/** One reason a portal write is not the caller's to make: what is wrong, and where (FHIRPath). */
export interface AuthorshipIssue {
  readonly text: string;
  readonly expression: string;
}

/**
 * What in a portal caller's write speaks for someone else or sets what the service sets (see the header), compared
 * with `stored`, the version it replaces (none for a create). Empty when the write is the caller's own.
 */
export function portalAuthorshipIssues(resource: Resource, own: ReadonlySet<string>, stored?: Resource): AuthorshipIssue[] {
  const type = resource.resourceType;
  const issues: AuthorshipIssue[] = [];
  for (const element of SERVICE_META_ELEMENTS) {
    if (!deepEquals(resource.meta?.[element], stored?.meta?.[element])) {
      issues.push({
        text: `meta.${element} is set by the service, not through the portal: leave it out`,
        expression: `${type}.meta.${element}`,
      });
    }
  }
  if (type === 'QuestionnaireResponse') {
    const answers = resource;
    for (const field of ['author', 'source'] as const) {
      const reference = answers[field]?.reference;
      if (answers[field] && (reference === undefined || !own.has(reference))) {
        issues.push({
          text: `${field} must be you (${[...own].join(' or ')}), or left out: a portal caller writes in their own name`,
          expression: `QuestionnaireResponse.${field}`,
        });
      }
    }
  }
  return issues;
}

/** Whether staff of `organizationId` may write `resource` (compartment membership is checked in SQL). */
export function staffMayWrite(resource: Resource, organizationId: string): boolean {
  if (SERVICE_ONLY_TYPES.has(resource.resourceType)) return false;
  if (resource.resourceType === 'Patient') {
    return resource.managingOrganization?.reference === `Organization/${organizationId}`;
  }
  return true;
}

/** Largest file a portal caller may upload or attach, in bytes (10 MB, as the portal promises). */
export const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;

/** Most attachments of one portal message (the seed's 10; the portal-message profile says the same). */
export const MAX_ATTACHMENTS = 10;
