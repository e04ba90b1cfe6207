/**
 * The records an account holds as the patient: its own (`account.patient_id`) and one per further practice it enrolled
 * at with a security token (`account_record`, links not ended). Un-enrolling from the practice of its own record ends
 * that link too: an ended `account_record` row for it stands for the un-enrollment until the patient re-enrolls.
 */
import type { Kysely } from 'kysely';
import type { Tables } from '../../db/tables';

/** Patient ids of the records `account` holds as the patient, its own first. */
export async function recordsHeldAsPatient(
  db: Kysely<Tables>,
  account: { readonly id: string; readonly patient_id: string | null },
): Promise<string[]> {
  const links = await db
    .selectFrom('account_record')
    .select(['patient_id', 'ended_at'])
    .where('account_id', '=', account.id)
    .orderBy('linked_at')
    .execute();
  return heldRecords(account.patient_id, links);
}

/** The records held, from the account's own record and its account_record rows (ended ones left out, the own one too). */
export function heldRecords(ownPatientId: string | null, links: readonly { patient_id: string; ended_at: unknown }[]): string[] {
  const ended = new Set(links.filter((l) => l.ended_at !== null).map((l) => l.patient_id));
  const own = ownPatientId && !ended.has(ownPatientId) ? [ownPatientId] : [];
  return [...new Set([...own, ...links.filter((l) => l.ended_at === null).map((l) => l.patient_id)])];
}
