/**
 * "The old contact email gets a notice when the email on file changes": a security notice to the address replaced,
 * so that someone who changed it without the owner knowing is found out at the address the owner still reads. Two
 * writes replace an address: a change of the patient's contact details (`Patient.telecom`, by the patient, a parent of
 * a child, or the practice), and a re-enrollment that gives the patient's account another sign-in email. Each queues a
 * portal_notice row (kind `email-changed`, the old address kept in `address`) in its own transaction, so a change that
 * rolls back tells nobody; the portal-notice job sends it (src/jobs/portal-notice-job.ts).
 */
import type { Kysely } from 'kysely';
import type { Patient, Resource } from '@medplum/fhirtypes';
import { isValidEmail, normalizeEmail } from '../../auth/account-store';
import type { Tables } from '../../db/tables';

/** The kind of the portal_notice rows this file queues. */
export const EMAIL_CHANGED = 'email-changed';

/** Most addresses one change notifies: a Patient's telecom list may be long, and a write is not a mailing list. */
const MAX_NOTICES_PER_CHANGE = 5;

/** The emails of a Patient's contact details that `next` no longer holds (valid addresses only, lower case). */
export function replacedEmails(next: Resource, replaced: Resource | undefined): string[] {
  if (next.resourceType !== 'Patient' || replaced?.resourceType !== 'Patient') return [];
  const kept = new Set(emailsOf(next));
  return emailsOf(replaced)
    .filter((email) => !kept.has(email))
    .slice(0, MAX_NOTICES_PER_CHANGE);
}

function emailsOf(patient: Patient): string[] {
  const out = new Set<string>();
  for (const telecom of patient.telecom ?? []) {
    if (telecom.system === 'email' && typeof telecom.value === 'string' && isValidEmail(telecom.value))
      out.add(normalizeEmail(telecom.value));
  }
  return [...out];
}

/** Queues the notices of a change of a Patient's emails, in the write's transaction. */
export async function queueRecordEmailChanged(
  db: Kysely<Tables>,
  patientId: string,
  addresses: readonly string[],
  now: Date,
): Promise<void> {
  if (!addresses.length) return;
  await db
    .insertInto('portal_notice')
    .values(
      addresses.map((address) => ({
        patient_id: patientId,
        kind: EMAIL_CHANGED,
        resource_type: 'Patient',
        resource_id: patientId,
        address,
        noted_at: now,
      })),
    )
    .execute();
}

/** Queues the notice of a patient account's new sign-in email to the one it replaces, in the change's transaction. */
export async function queueLoginEmailChanged(
  db: Kysely<Tables>,
  change: {
    readonly accountId: string;
    readonly patientId: string;
    readonly oldEmail: string;
    readonly newEmail: string;
    readonly now: Date;
  },
): Promise<void> {
  if (normalizeEmail(change.oldEmail) === normalizeEmail(change.newEmail)) return;
  await db
    .insertInto('portal_notice')
    .values({
      patient_id: change.patientId,
      kind: EMAIL_CHANGED,
      resource_type: 'account',
      resource_id: change.accountId,
      address: normalizeEmail(change.oldEmail),
      noted_at: change.now,
    })
    .execute();
}
