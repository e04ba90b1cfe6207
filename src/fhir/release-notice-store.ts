/** The queue of "a new document is available" emails, filled in the transaction that releases a document. */
import type { Resource } from '@medplum/fhirtypes';
import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables';

/** Queues the "a new document is available" email to each patient the released document is about. */
export async function noteRelease(
  db: Kysely<Tables>,
  write: { resource: Resource & { id: string }; compartments: readonly string[] },
  now: Date,
): Promise<void> {
  if (!write.compartments.length) return;
  await db
    .insertInto('release_notice')
    .values(
      write.compartments.map((patientId) => ({
        patient_id: patientId,
        resource_type: write.resource.resourceType,
        resource_id: write.resource.id,
        released_at: now,
      })),
    )
    .execute();
}
