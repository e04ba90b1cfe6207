/**
 * Which writes tell the patient something by email (src/jobs/portal-notice-job.ts sends it): the practice answering
 * an open request (an appointment request booked or declined, a renewal completed or rejected), and a message from
 * the practice to the patient. The notice is queued in the write's own transaction; the email names nothing clinical.
 * A change of the record's email also tells the address replaced (email-change-notice.ts).
 */
import type { Appointment, Communication, QuestionnaireResponse, Resource, Task } from '@medplum/fhirtypes';
import type { WriteCheckSession } from '../../fhir/write-check';
import { queueRecordEmailChanged, replacedEmails } from './email-change-notice';
import { isProfileChange } from './profile-change-rules';
import { isRenewalRequest } from './renewal-request-rules';

/** What a portal notice says; 'form-completed' sends no email: it completes the form's Task (form-completion job). */
export type PortalNoticeKind = 'request-answered' | 'new-message' | 'form-completed';

/** The notice this write gives its patients, if any: answers and messages from the practice, forms completed by anyone. */
export function noticeOf(resource: Resource, session: WriteCheckSession): PortalNoticeKind | undefined {
  const replaced = session.replaced;
  if (resource.resourceType === 'QuestionnaireResponse') {
    const completedNow = resource.status === 'completed' && (replaced as QuestionnaireResponse | undefined)?.status !== 'completed';
    return completedNow ? 'form-completed' : undefined;
  }
  if (session.scope.portalRules) return undefined;
  if (resource.resourceType === 'Appointment') {
    const before = (replaced as Appointment | undefined)?.status;
    return before === 'proposed' && (resource.status === 'booked' || resource.status === 'cancelled') ? 'request-answered' : undefined;
  }
  if (resource.resourceType === 'Task') {
    const before = replaced as Task | undefined;
    return before?.status === 'requested' &&
      (isRenewalRequest(before) || isProfileChange(before)) &&
      (resource.status === 'completed' || resource.status === 'rejected')
      ? 'request-answered'
      : undefined;
  }
  if (resource.resourceType === 'Communication') {
    const message = resource;
    const toPatient = message.recipient?.some((r) => r.reference?.startsWith('Patient/'));
    const sentNow = message.status !== 'preparation' && (!replaced || (replaced as Communication).status === 'preparation');
    return toPatient && sentNow ? 'new-message' : undefined;
  }
  return undefined;
}

/**
 * Queues the notice of this write, if it gives one, for each patient it is about, in the write's transaction; and a
 * security notice to each email a change of a Patient's contact details replaces (email-change-notice.ts).
 */
export async function queuePortalNotice(resource: Resource, patientIds: readonly string[], session: WriteCheckSession): Promise<void> {
  const now = session.now ?? new Date();
  if (resource.resourceType === 'Patient' && resource.id)
    await queueRecordEmailChanged(session.db, resource.id, replacedEmails(resource, session.replaced), now);
  const kind = noticeOf(resource, session);
  if (!kind || !patientIds.length || !resource.id) return;
  await session.db
    .insertInto('portal_notice')
    .values(
      patientIds.map((patientId) => ({
        patient_id: patientId,
        kind,
        resource_type: resource.resourceType,
        resource_id: resource.id as string,
        noted_at: now,
      })),
    )
    .execute();
}
