/**
 * A message from a family member who holds less than full access to the record (billing, or Westchester's
 * appointments and billing): about the bills only. Its subject is `billing`, it goes to the practice (the patient's
 * managing Organization), and it carries no files; the other message rules (card numbers, length) hold as for anyone.
 */
import type { OperationOutcomeIssue, Patient } from '@medplum/fhirtypes';
import type { AccessScope } from '../../access/access-scope';
import type { PortalScope } from '../../access/portal-scope';
import { invalidResource } from '../../fhir/outcomes';
import type { WriteCheck } from '../../fhir/write-check';
import { MESSAGE_SUBJECT_SYSTEM } from './message-rules';

/** Whether the caller holds less than full access to any of these records. */
function belowFull(scope: AccessScope, patientIds: readonly string[]): boolean {
  const levelFor = (scope as Partial<PortalScope>).levelFor;
  return levelFor !== undefined && patientIds.some((id) => levelFor(id) !== 'full');
}

/** The rules of a billing-only family member's message (RepositoryContext.portalWriteCheck). */
export const billingMessageCheck: WriteCheck = async (resource, patientIds, session) => {
  if (resource.resourceType !== 'Communication' || !belowFull(session.scope, patientIds)) return;
  const message = resource;
  const issues: OperationOutcomeIssue[] = [];
  const billing = message.topic?.coding?.some((c) => c.system === MESSAGE_SUBJECT_SYSTEM && c.code === 'billing') ?? false;
  if (!billing) {
    issues.push(
      issue(
        `With access to the bills only, a message is about the bills: its subject (Communication.topic) is ${MESSAGE_SUBJECT_SYSTEM}|billing`,
        'Communication.topic',
      ),
    );
  }
  const practices = new Set<string>();
  for (const id of patientIds) {
    const patient = await session.readVisible<Patient>('Patient', id);
    const practice = patient?.managingOrganization?.reference;
    if (practice) practices.add(practice);
  }
  (message.recipient ?? []).forEach((recipient, i) => {
    if (!recipient.reference || !practices.has(recipient.reference)) {
      issues.push(
        issue(
          `With access to the bills only, a message goes to the practice's billing office (${[...practices].join(', ') || 'the practice'})`,
          `Communication.recipient[${i}]`,
          'business-rule',
        ),
      );
    }
  });
  if (message.payload?.some((p) => p.contentAttachment)) {
    issues.push(issue('With access to the bills only, a message carries no files', 'Communication.payload'));
  }
  if (issues.length) throw invalidResource(issues);
};

function issue(text: string, expression: string, code: OperationOutcomeIssue['code'] = 'invalid'): OperationOutcomeIssue {
  return { severity: 'error', code, details: { text }, expression: [expression] };
}
