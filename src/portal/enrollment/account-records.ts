/**
 * The records an account holds as the patient: its own (`account.patient_id`) and one per further practice it enrolled
 * at with a security token (`account_record`, links not ended).
 */
import type { Kysely } from 'kysely';
import type { Tables } from '../../db/tables';

/** Patient ids of the records `account` holds as the patient, its own first. */
export async function recordsHeldAsPatient(db: Kysely<Tables>, account: { readonly id: string; readonly patient_id: string | null }): Promise<string[]> {
  const linked = await db
    .selectFrom('account_record')
    .select('patient_id')
    .where('account_id', '=', account.id)
    .where('ended_at', 'is', null)
    .orderBy('linked_at')
    .execute();
  return [...new Set([...(account.patient_id ? [account.patient_id] : []), ...linked.map((r) => r.patient_id)])];
}
