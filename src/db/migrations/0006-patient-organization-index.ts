import { Kysely, sql } from 'kysely';

/**
 * The organisation managing each patient, as a small partial index of `search_reference` (one entry per Patient
 * with a managingOrganization). A staff account sees the patients its organisation manages, so every read and
 * search row it makes asks "is this patient managed by organisation O?" (src/access/visibility.ts): with this index
 * that is one index-only probe per patient, whatever the organisation's size, instead of a walk through every
 * patient the organisation manages.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index search_reference_patient_organization_idx on search_reference (resource_id, target_id)
    where resource_type = 'Patient' and code = 'organization' and target_type = 'Organization'`.execute(db);
}

/** Drops the index. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index search_reference_patient_organization_idx`.execute(db);
}
