/**
 * The queue of "a statement is available" emails, filled in the transaction that issues an Invoice (as release notices
 * are for documents), so an issue that rolls back announces nothing. The billing-notice job sends them.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables';

/**
 * Whether a write issues a statement: an Invoice that is `issued` now and was not before (created issued, or moved
 * from draft). An Invoice reopened from `balanced` (a refund) is the same statement, not news to announce.
 */
export function issuesStatement(before: Resource | undefined, after: Resource): boolean {
  if (after.resourceType !== 'Invoice' || after.status !== 'issued') return false;
  return before === undefined || (before.resourceType === 'Invoice' && before.status === 'draft');
}

/** Queues the "a statement is available" email to each patient the issued Invoice is about (its owners). */
export async function noteStatementIssued(
  db: Kysely<Tables>,
  write: { resource: Resource & { id: string }; owners: readonly string[] },
  now: Date,
): Promise<void> {
  const patients = write.owners.filter((owner) => !owner.includes('/'));
  if (!patients.length) return;
  await db
    .insertInto('billing_notice')
    .values(
      patients.map((patientId) => ({
        kind: 'statement' as const,
        patient_id: patientId,
        invoice_id: write.resource.id,
        payment_id: null,
        payer_account_id: null,
        card_last4: null,
        noted_at: now,
      })),
    )
    .execute();
}
