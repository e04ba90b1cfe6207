/**
 * Personal information (the seed's "Update personal information"): a patient changes their own contact details
 * directly, and asks the practice to change who they are.
 *
 * - A `PUT` of their own Patient, with `If-Match`, may change `telecom`, `address`, `communication` (preferred
 *   language) and `contact`; a change to anything else is 400 naming the field. Family members do not change the
 *   Patient (write-policy.ts), but for a child's: a family member at full access keeps the details of a child who has
 *   no account of their own, by the same rules (the same direct changes, the same requests for review).
 * - A change of name, birth date or administrative gender is a `Task` (code profile-change, `for` and `focus` the
 *   patient, an `input` per field: `name` valueHumanName, `birthDate` valueDate, `gender` valueCode) that staff
 *   review: they apply it to the Patient and then complete the Task (completing it before the Patient holds the
 *   change is 400), or reject it with a reason.
 */
import { deepEquals } from '@medplum/core';
import type { OperationOutcomeIssue, Patient, Task, TaskInput } from '@medplum/fhirtypes';
import type { PatientAccess } from '../../access/portal-scope';
import type { WriteCheckSession } from '../../fhir/write-check';
import { PORTAL_REQUEST_TYPE_SYSTEM } from './renewal-request-rules';

/** The Patient elements a patient changes directly. */
export const DIRECT_PROFILE_FIELDS: ReadonlySet<string> = new Set(['telecom', 'address', 'communication', 'contact']);

/** The Patient elements the practice changes after review, and the input value each takes. */
export const REVIEWED_PROFILE_FIELDS: Readonly<Record<string, keyof TaskInput>> = {
  name: 'valueHumanName',
  birthDate: 'valueDate',
  gender: 'valueCode',
};

/** Elements that are the service's, not content (meta is judged by the authorship rules). */
const IGNORED = new Set(['meta', 'text', 'id', 'resourceType']);

/** Whether a Task is a request to change the patient's name, birth date or gender. */
export function isProfileChange(task: Task): boolean {
  return task.code?.coding?.some((c) => c.system === PORTAL_REQUEST_TYPE_SYSTEM && c.code === 'profile-change') ?? false;
}

/** The issues of a patient's update of their own Patient. */
export function patientUpdateIssues(patient: Patient, session: WriteCheckSession): OperationOutcomeIssue[] {
  const stored = session.replaced as Patient | undefined;
  if (!stored) return [issue('A patient record is created by the practice, not through the portal', 'Patient')];
  const issues: OperationOutcomeIssue[] = [];
  if (!session.versionChecked)
    issues.push(
      issue(
        'Changing your details needs If-Match: W/"<versionId>" of the record you read, so a change made meanwhile is not lost',
        'Patient.meta.versionId',
      ),
    );
  const keys = new Set([...Object.keys(patient), ...Object.keys(stored)]);
  for (const key of [...keys].sort()) {
    if (IGNORED.has(key) || DIRECT_PROFILE_FIELDS.has(key)) continue;
    if (deepEquals((patient as unknown as Record<string, unknown>)[key], (stored as unknown as Record<string, unknown>)[key])) continue;
    issues.push(
      REVIEWED_PROFILE_FIELDS[key]
        ? issue(
            `Patient.${key} is changed by the practice after review: send the change as a Task (code ${PORTAL_REQUEST_TYPE_SYSTEM}|profile-change, input ${key})`,
            `Patient.${key}`,
            'business-rule',
          )
        : issue(
            `Patient.${key} cannot be changed from the portal; you may change telecom, address, communication and contact`,
            `Patient.${key}`,
          ),
    );
  }
  return issues;
}

/** The issues of a patient's request to change their name, birth date or gender. */
export function profileChangeRequestIssues(task: Task, patientIds: readonly string[], session: WriteCheckSession): OperationOutcomeIssue[] {
  const keeper = patientIds.length === 1 && keepsDetails(session, patientIds[0]);
  const issues: OperationOutcomeIssue[] = [];
  if (!keeper || task.for?.reference !== `Patient/${patientIds[0]}` || task.focus?.reference !== task.for?.reference) {
    issues.push(
      issue(
        'A change of details is for and about the patient whose details you keep (yourself, or a child whose record you hold in full): Task.for and Task.focus are that Patient',
        'Task.for',
      ),
    );
  }
  if (task.status !== 'requested')
    issues.push(
      issue(
        `A change request is status "requested" (the practice answers it); "${task.status}" is not taken from the portal`,
        'Task.status',
      ),
    );
  if (task.intent !== 'order') issues.push(issue('A change request has intent "order"', 'Task.intent'));
  const inputs = task.input ?? [];
  if (!inputs.length)
    issues.push(issue(`A change request names each change as an input: ${Object.keys(REVIEWED_PROFILE_FIELDS).join(', ')}`, 'Task.input'));
  inputs.forEach((input, i) => {
    const at = `Task.input[${i}]`;
    const field = input.type?.coding?.[0]?.code ?? input.type?.text;
    const valueKey = field ? REVIEWED_PROFILE_FIELDS[field] : undefined;
    if (!valueKey)
      return issues.push(
        issue(
          `${at}.type names ${field ?? 'nothing'}; a change request changes ${Object.keys(REVIEWED_PROFILE_FIELDS).join(', ')}`,
          `${at}.type`,
        ),
      );
    if (input[valueKey] === undefined) return issues.push(issue(`${at}: a ${field} change gives the new value as ${valueKey}`, at));
    if (field === 'gender' && !['male', 'female', 'other', 'unknown'].includes(input.valueCode as string))
      issues.push(issue(`${at}.valueCode is a gender: male, female, other or unknown`, `${at}.valueCode`));
    if (field === 'birthDate' && session.now && (input.valueDate as string) > session.now.toISOString().slice(0, 10))
      issues.push(issue(`${at}.valueDate is in the future`, `${at}.valueDate`));
    return undefined;
  });
  return issues;
}

/** How the practice answers a change request: completed once the Patient holds every change, or rejected with a reason. */
export async function profileChangeAnswerIssues(task: Task, session: WriteCheckSession): Promise<OperationOutcomeIssue[]> {
  const replaced = session.replaced as Task | undefined;
  if (replaced?.status !== 'requested' || !isProfileChange(replaced) || task.status === replaced.status) return [];
  if (task.status === 'rejected' && !task.statusReason?.text && !task.statusReason?.coding?.length) {
    return [issue('Declining a change says why (statusReason), which the patient is shown', 'Task.statusReason')];
  }
  if (task.status !== 'completed') return [];
  const id = /^Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(replaced.for?.reference ?? '')?.[1];
  const patient = id ? await session.readVisible<Patient>('Patient', id) : undefined;
  const missing = (replaced.input ?? []).filter((input) => {
    const field = input.type?.coding?.[0]?.code ?? input.type?.text ?? '';
    const valueKey = REVIEWED_PROFILE_FIELDS[field];
    const now = (patient as unknown as Record<string, unknown> | undefined)?.[field];
    const wanted = valueKey ? input[valueKey] : undefined;
    return field === 'name' ? !(now as unknown[] | undefined)?.some((n) => deepEquals(n, wanted)) : !deepEquals(now, wanted);
  });
  return missing.length
    ? [
        issue(
          `Apply the change to the Patient before completing the request: it does not hold the requested ${missing.map((m) => m.type?.coding?.[0]?.code ?? m.type?.text).join(', ')} yet`,
          'Task.status',
        ),
      ]
    : [];
}

/** Whether the caller keeps this patient's details: their own record, or a child's they hold at full (PatientAccess.child). */
function keepsDetails(session: WriteCheckSession, patientId: string): boolean {
  const access = (session.scope as { access?: ReadonlyMap<string, PatientAccess> }).access?.get(patientId);
  return access?.self === true || (access?.level === 'full' && access.child === true);
}

function issue(text: string, expression: string, code: OperationOutcomeIssue['code'] = 'invalid'): OperationOutcomeIssue {
  return { severity: 'error', code, details: { text }, expression: [expression] };
}
