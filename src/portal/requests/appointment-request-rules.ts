/**
 * The rules of an appointment request (the seed's "Request appointments"): what a patient, or a family member whose
 * level allows appointments, may post as an `Appointment`, how they may cancel it, and how the practice answers it.
 *
 * - A request is `status: proposed`, with the patient and one provider who takes part in the portal (a Practitioner,
 *   or their PractitionerRole at the patient's practice, or both, so that the practice finds the request by either;
 *   optionally the office, a Location of that role) as its participants, one to three `requestedPeriod`s in the future, and a reason: a code of the appointment request
 *   reasons, or text. Its texts are at most 1,000 characters and hold no payment card number. The time itself
 *   (`start`, `end`, `slot`) is the practice's to set.
 * - From the portal, an open request may only be cancelled (`status: cancelled`, nothing else changed).
 * - The practice answers an open request by booking it (`booked`, with `start` and `end`) or declining it
 *   (`cancelled`, with a `cancelationReason`).
 */
import type { Appointment, OperationOutcomeIssue, Patient } from '@medplum/fhirtypes';
import { deepEquals } from '@medplum/core';
import type { WriteCheckSession } from '../../fhir/write-check';
import { findCardNumber } from '../messaging/message-rules';
import { notTakingPartText, resolveProvider } from './provider-participation';

/** The code system of appointment request reasons (fhir-profiles/CodeSystem-appointment-request-reason.json). */
export const APPOINTMENT_REASON_SYSTEM = 'https://chartkeeper.example/fhir/CodeSystem/appointment-request-reason';

/** The reasons a patient picks from, as the CodeSystem lists them. */
export const APPOINTMENT_REASONS: readonly string[] = [
  'new-problem',
  'follow-up',
  'annual-physical',
  'well-child',
  'vaccination',
  'test-results',
  'medication-review',
  'forms',
  'other',
];

/** Longest text a request carries (reason, description, comment, instructions), as for a message body. */
export const MAX_REQUEST_TEXT = 1000;

/** Most periods a patient may offer. */
export const MAX_REQUESTED_PERIODS = 3;

/** The issues of a portal caller's appointment request (a create, or a change of an open request). */
export async function appointmentRequestIssues(
  appointment: Appointment,
  patientIds: readonly string[],
  session: WriteCheckSession,
): Promise<OperationOutcomeIssue[]> {
  const replaced = session.replaced as Appointment | undefined;
  if (replaced) return cancellationIssues(appointment, replaced);
  const issues: OperationOutcomeIssue[] = [];
  if (appointment.status !== 'proposed') {
    issues.push(
      issue(
        `An appointment request is status "proposed" (the practice books it); "${appointment.status}" is not taken from the portal`,
        'Appointment.status',
      ),
    );
  }
  for (const field of ['start', 'end', 'slot', 'minutesDuration', 'cancelationReason'] as const) {
    if (appointment[field] !== undefined)
      issues.push(
        issue(
          `Appointment.${field} is set by the practice when it answers the request: leave it out and give requestedPeriod instead`,
          `Appointment.${field}`,
        ),
      );
  }
  issues.push(...periodIssues(appointment, session.now ?? new Date()));
  issues.push(...reasonIssues(appointment));
  issues.push(...textIssues(appointment));
  issues.push(...(await participantIssues(appointment, patientIds, session)));
  return issues;
}

/** From the portal an open request may be cancelled, and nothing else changed. */
function cancellationIssues(appointment: Appointment, replaced: Appointment): OperationOutcomeIssue[] {
  const { status, cancelationReason, meta: _m, ...rest } = appointment;
  const { status: _s, cancelationReason: _c, meta: _rm, ...before } = replaced;
  const issues: OperationOutcomeIssue[] = [];
  if (status !== 'cancelled' && status !== 'proposed') {
    issues.push(
      issue(
        `From the portal an appointment request can only be cancelled (status "cancelled"), not made "${status}": the practice books it`,
        'Appointment.status',
      ),
    );
  }
  if (!deepEquals(rest, before)) {
    issues.push(
      issue('An appointment request cannot be changed once sent: cancel it (status "cancelled") and send a new one', 'Appointment'),
    );
  }
  if (cancelationReason)
    issues.push(...textIssues({ resourceType: 'Appointment', status: 'cancelled', participant: [], cancelationReason }));
  return issues;
}

function periodIssues(appointment: Appointment, now: Date): OperationOutcomeIssue[] {
  const periods = appointment.requestedPeriod ?? [];
  if (!periods.length || periods.length > MAX_REQUESTED_PERIODS) {
    return [
      issue(
        `An appointment request offers 1 to ${MAX_REQUESTED_PERIODS} times that suit the patient (requestedPeriod); it gives ${periods.length}`,
        'Appointment.requestedPeriod',
      ),
    ];
  }
  const issues: OperationOutcomeIssue[] = [];
  periods.forEach((period, i) => {
    const at = `Appointment.requestedPeriod[${i}]`;
    const start = period.start ? Date.parse(period.start) : NaN;
    const end = period.end ? Date.parse(period.end) : undefined;
    if (Number.isNaN(start)) issues.push(issue(`${at} needs a start`, `${at}.start`));
    else if (start <= now.getTime())
      issues.push(issue(`${at} starts in the past (${period.start}): offer a time in the future`, `${at}.start`));
    if (end !== undefined && !Number.isNaN(start) && end <= start) issues.push(issue(`${at} ends before it starts`, `${at}.end`));
  });
  return issues;
}

function reasonIssues(appointment: Appointment): OperationOutcomeIssue[] {
  const reasons = appointment.reasonCode ?? [];
  const issues: OperationOutcomeIssue[] = [];
  const listed = APPOINTMENT_REASONS.join(', ');
  reasons.forEach((reason, i) => {
    for (const coding of reason.coding ?? []) {
      if (coding.system !== APPOINTMENT_REASON_SYSTEM || !APPOINTMENT_REASONS.includes(coding.code ?? '')) {
        issues.push(
          issue(
            `Appointment.reasonCode[${i}] names ${coding.system ?? 'no system'}|${coding.code ?? ''}; a request's reason is a code of ${APPOINTMENT_REASON_SYSTEM} (${listed}) or text`,
            `Appointment.reasonCode[${i}]`,
          ),
        );
      }
    }
  });
  if (!reasons.some((r) => r.coding?.length || r.text?.trim())) {
    issues.push(
      issue(
        `An appointment request says why (reasonCode): a code of ${APPOINTMENT_REASON_SYSTEM} (${listed}), or text`,
        'Appointment.reasonCode',
      ),
    );
  }
  return issues;
}

/** Texts a person wrote: at most 1,000 characters each, and no payment card number. */
function textIssues(appointment: Appointment): OperationOutcomeIssue[] {
  const texts: [string, string | undefined][] = [
    ['Appointment.description', appointment.description],
    ['Appointment.comment', appointment.comment],
    ['Appointment.patientInstruction', appointment.patientInstruction],
    ['Appointment.cancelationReason.text', appointment.cancelationReason?.text],
    ...(appointment.reasonCode ?? []).map((r, i): [string, string | undefined] => [`Appointment.reasonCode[${i}].text`, r.text]),
  ];
  const issues: OperationOutcomeIssue[] = [];
  for (const [at, text] of texts) {
    if (!text) continue;
    if (text.length > MAX_REQUEST_TEXT)
      issues.push(issue(`${at} is ${text.length} characters; at most ${MAX_REQUEST_TEXT}`, at, 'too-long'));
    if (findCardNumber(text)) {
      issues.push(
        issue(
          `${at} looks like it holds a payment card number. Do not send card details through the portal: call the billing office, or pay through the billing page`,
          at,
          'business-rule',
        ),
      );
    }
  }
  return issues;
}

/** The patient, one provider who takes part (and at most one of their offices); nobody else. */
async function participantIssues(
  appointment: Appointment,
  patientIds: readonly string[],
  session: WriteCheckSession,
): Promise<OperationOutcomeIssue[]> {
  const participants = appointment.participant ?? [];
  const issues: OperationOutcomeIssue[] = [];
  const patients = participants.filter((p) => p.actor?.reference?.startsWith('Patient/'));
  const providers = participants.filter((p) => /^(Practitioner|PractitionerRole)\//.test(p.actor?.reference ?? ''));
  const offices = participants.filter((p) => p.actor?.reference?.startsWith('Location/'));
  participants.forEach((p, i) => {
    if (!patients.includes(p) && !providers.includes(p) && !offices.includes(p)) {
      issues.push(
        issue(
          `Appointment.participant[${i}] (${p.actor?.reference ?? 'no actor'}) is not the patient, a provider or an office`,
          `Appointment.participant[${i}]`,
        ),
      );
    }
  });
  if (patients.length !== 1 || patientIds.length !== 1) {
    issues.push(issue('An appointment request names exactly one patient as a participant', 'Appointment.participant'));
  }
  const roles = providers.filter((p) => p.actor?.reference?.startsWith('PractitionerRole/'));
  const practitioners = providers.filter((p) => p.actor?.reference?.startsWith('Practitioner/'));
  if (!(providers.length === 1 || (roles.length === 1 && practitioners.length === 1))) {
    issues.push(
      issue(
        'An appointment request names exactly one provider (a Practitioner, their PractitionerRole at an office, or both) as a participant',
        'Appointment.participant',
      ),
    );
  }
  if (offices.length > 1) issues.push(issue('An appointment request names at most one office (Location)', 'Appointment.participant'));
  if (issues.length) return issues;
  // Named both ways, the role is the provider (it says where); the Practitioner must be the role's own.
  const named = roles[0] ?? providers[0];
  const at = `Appointment.participant[${participants.indexOf(named)}]`;
  const provider = await resolveProvider(named.actor, (type, id) => session.readVisible(type, id));
  if (!provider) return [issue(`${at} names ${named.actor?.reference}, which does not exist`, at, 'not-found')];
  if (!provider.takesPart) return [issue(notTakingPartText(at, provider.reference), at, 'business-rule')];
  if (roles.length && practitioners.length && provider.role?.practitioner?.reference !== practitioners[0].actor?.reference) {
    const practitionerAt = `Appointment.participant[${participants.indexOf(practitioners[0])}]`;
    issues.push(
      issue(
        `${practitionerAt} (${practitioners[0].actor?.reference}) is not the practitioner of ${provider.reference}: a request names one provider`,
        practitionerAt,
      ),
    );
  }
  const patient = await session.readVisible<Patient>('Patient', patientIds[0]);
  const practice = patient?.managingOrganization?.reference;
  if (provider.role && practice && provider.role.organization?.reference !== practice) {
    issues.push(
      issue(
        `${at} (${provider.reference}) is a role at another practice: choose the provider at the patient's practice`,
        at,
        'business-rule',
      ),
    );
  }
  if (offices.length) {
    const office = offices[0].actor?.reference;
    const officeAt = `Appointment.participant[${participants.indexOf(offices[0])}]`;
    if (!provider.role)
      issues.push(
        issue(`${officeAt}: to choose an office, name the provider's role there (PractitionerRole) rather than the Practitioner`, officeAt),
      );
    else if (!(provider.role.location ?? []).some((l) => l.reference === office)) {
      issues.push(issue(`${officeAt} (${office}) is not an office of ${provider.reference}`, officeAt, 'business-rule'));
    }
  }
  return issues;
}

/**
 * How an open request (stored `proposed`) may be answered, by anyone: booked with its time, or declined with a
 * reason. Appointments that were never requests (staff booking directly) are not held to it.
 */
export function appointmentAnswerIssues(appointment: Appointment, replaced: Appointment | undefined): OperationOutcomeIssue[] {
  if (replaced?.status !== 'proposed' || appointment.status === 'proposed') return [];
  if (appointment.status === 'booked') {
    const start = appointment.start ? Date.parse(appointment.start) : NaN;
    const end = appointment.end ? Date.parse(appointment.end) : NaN;
    if (Number.isNaN(start) || Number.isNaN(end)) {
      return [
        issue(
          'Booking a request sets its time: start and end (within one of the requested periods, or another time agreed with the patient)',
          'Appointment.start',
        ),
      ];
    }
    if (end <= start) return [issue('Appointment.end is not after Appointment.start', 'Appointment.end')];
    return [];
  }
  if (appointment.status === 'cancelled' && !appointment.cancelationReason?.text && !appointment.cancelationReason?.coding?.length) {
    return [
      issue('Declining or cancelling a request says why (cancelationReason), which the patient is shown', 'Appointment.cancelationReason'),
    ];
  }
  return [];
}

function issue(text: string, expression: string, code: OperationOutcomeIssue['code'] = 'invalid'): OperationOutcomeIssue {
  return { severity: 'error', code, details: { text }, expression: [expression] };
}
