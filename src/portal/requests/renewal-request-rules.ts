/**
 * Prescription renewal requests (the seed's "Request prescription refills"): the only Task a portal caller writes.
 *
 * - A `Task` with `intent: order`, `status: requested`, `code` renewal-request of the portal request types, `for`
 *   the patient and `focus` an active MedicationRequest of that patient whose prescriber takes part in the portal;
 *   an optional note (at most 1,000 characters, no payment card number) and preferred pharmacy (an `input`, kept as
 *   given). One open renewal per medication: a second is 409 naming the first.
 * - From the portal an open request may only be cancelled.
 * - The practice answers: `completed` with an `output` naming the new MedicationRequest, or `rejected` with a
 *   `statusReason`.
 */
import type { MedicationRequest, OperationOutcomeIssue, Task } from '@medplum/fhirtypes';
import { deepEquals } from '@medplum/core';
import { sql } from 'kysely';
import { conflict } from '../../fhir/outcomes';
import type { WriteCheckSession } from '../../fhir/write-check';
import { findCardNumber } from '../messaging/message-rules';
import { MAX_REQUEST_TEXT } from './appointment-request-rules';
import { notTakingPartText, resolveProvider } from './provider-participation';

/** The code system of portal request Tasks (fhir-profiles/CodeSystem-portal-request-type.json). */
export const PORTAL_REQUEST_TYPE_SYSTEM = 'https://chartkeeper.example/fhir/CodeSystem/portal-request-type';

/** Whether a Task is a prescription renewal request. */
export function isRenewalRequest(task: Task): boolean {
  return task.code?.coding?.some((c) => c.system === PORTAL_REQUEST_TYPE_SYSTEM && c.code === 'renewal-request') ?? false;
}

/** The issues of a portal caller's Task: a renewal request, or the cancellation of an open one. Throws 409 for a second open one. */
export async function renewalRequestIssues(
  task: Task,
  patientIds: readonly string[],
  session: WriteCheckSession,
): Promise<OperationOutcomeIssue[]> {
  const replaced = session.replaced as Task | undefined;
  if (replaced) {
    const { status, meta: _m, ...rest } = task;
    const { status: _s, meta: _rm, ...before } = replaced;
    const request = replaced.code?.coding?.some(
      (c) => c.system === PORTAL_REQUEST_TYPE_SYSTEM && (c.code === 'renewal-request' || c.code === 'profile-change'),
    );
    if (!request) return [issue('From the portal only a request you made (a renewal, a change of your details) can be changed', 'Task')];
    if ((status !== 'cancelled' && status !== 'requested') || !deepEquals(rest, before)) {
      return [issue('From the portal an open request can only be cancelled (status "cancelled"); the practice answers it', 'Task.status')];
    }
    return [];
  }
  const issues: OperationOutcomeIssue[] = [];
  if (!isRenewalRequest(task)) {
    return [
      issue(
        `From the portal a Task is a prescription renewal request or a change of your details: code ${PORTAL_REQUEST_TYPE_SYSTEM}|renewal-request or |profile-change`,
        'Task.code',
      ),
    ];
  }
  if (task.status !== 'requested')
    issues.push(
      issue(
        `A renewal request is status "requested" (the practice answers it); "${task.status}" is not taken from the portal`,
        'Task.status',
      ),
    );
  if (task.intent !== 'order') issues.push(issue('A renewal request has intent "order"', 'Task.intent'));
  for (const field of ['output', 'owner', 'executionPeriod', 'statusReason', 'businessStatus'] as const) {
    if (task[field] !== undefined) issues.push(issue(`Task.${field} is the practice's to set when it answers`, `Task.${field}`));
  }
  if (patientIds.length !== 1 || task.for?.reference !== `Patient/${patientIds[0]}`)
    issues.push(issue('A renewal request is for the patient (Task.for: Patient/{id})', 'Task.for'));
  for (const [i, note] of (task.note ?? []).entries()) {
    const at = `Task.note[${i}].text`;
    if (note.text.length > MAX_REQUEST_TEXT)
      issues.push(issue(`${at} is ${note.text.length} characters; at most ${MAX_REQUEST_TEXT}`, at, 'too-long'));
    if (findCardNumber(note.text))
      issues.push(
        issue(`${at} looks like it holds a payment card number. Do not send card details through the portal`, at, 'business-rule'),
      );
  }
  const id = /^MedicationRequest\/([A-Za-z0-9\-.]{1,64})$/.exec(task.focus?.reference ?? '')?.[1];
  if (!id)
    return [...issues, issue('A renewal request names the prescription to renew (Task.focus: MedicationRequest/{id})', 'Task.focus')];
  const medication = await session.readVisible<MedicationRequest>('MedicationRequest', id);
  if (!medication || medication.subject?.reference !== task.for?.reference) {
    return [
      ...issues,
      issue(`Task.focus names MedicationRequest/${id}, which is not a prescription of this patient`, 'Task.focus', 'not-found'),
    ];
  }
  if (medication.status !== 'active') {
    return [
      ...issues,
      issue(
        `Only an active prescription is renewed; MedicationRequest/${id} is ${medication.status}: ask your provider in a message`,
        'Task.focus',
        'business-rule',
      ),
    ];
  }
  const prescriber = await resolveProvider(medication.requester, (type, rid) => session.readVisible(type, rid));
  if (!prescriber?.takesPart) {
    return [
      ...issues,
      issue(
        notTakingPartText('The prescriber of this medication', medication.requester?.reference ?? 'none'),
        'Task.focus',
        'business-rule',
      ),
    ];
  }
  if (!issues.length) {
    const open = await openRenewalOf(session, id);
    if (open) throw conflict(`A renewal of MedicationRequest/${id} is already waiting for the practice: Task/${open}`);
  }
  return issues;
}

/** How an open renewal (stored `requested`) is answered by the practice: completed with its new prescription, or rejected with a reason. */
export function renewalAnswerIssues(task: Task, replaced: Task | undefined): OperationOutcomeIssue[] {
  if (replaced?.status !== 'requested' || !isRenewalRequest(replaced) || task.status === replaced.status) return [];
  if (task.status === 'completed' && !task.output?.some((o) => /^MedicationRequest\//.test(o.valueReference?.reference ?? ''))) {
    return [issue('Accepting a renewal names the new prescription: Task.output with valueReference MedicationRequest/{id}', 'Task.output')];
  }
  if (task.status === 'rejected' && !task.statusReason?.text && !task.statusReason?.coding?.length) {
    return [issue('Declining a renewal says why (statusReason), which the patient is shown', 'Task.statusReason')];
  }
  return [];
}

/** The id of an open renewal request (status requested) of this prescription, if there is one. */
async function openRenewalOf(session: WriteCheckSession, medicationRequestId: string): Promise<string | undefined> {
  const { rows } = await sql<{ id: string }>`
    select r.id from resource r
    join search_reference f on f.resource_type = 'Task' and f.resource_id = r.id and f.code = 'focus'
      and f.target_type = 'MedicationRequest' and f.target_id = ${medicationRequestId}
    join search_token s on s.resource_type = 'Task' and s.resource_id = r.id and s.code = 'status' and s.value = 'requested'
    where r.resource_type = 'Task' and not r.deleted
    limit 1`.execute(session.db);
  return rows[0]?.id;
}

function issue(text: string, expression: string, code: OperationOutcomeIssue['code'] = 'invalid'): OperationOutcomeIssue {
  return { severity: 'error', code, details: { text }, expression: [expression] };
}
