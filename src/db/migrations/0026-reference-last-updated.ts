import { Kysely, sql } from 'kysely';

/**
 * The referring resource's last_updated on each search_reference row, and an index that gives one record's rows of a
 * type newest first: (target_id, code, resource_type, last_updated desc, resource_id). A search of one patient's record
 * in the default order (newest first, `_sort=-_lastUpdated`) then reads its page from the index in order and stops,
 * where it fetched and sorted every row of the record of that type: the inbox of a patient with 2,000 messages read
 * 2,000 resource rows for a page of 10. The new index leads with the old one's columns, which it replaces.
 *
 * Rows are written with their resource's last_updated (resource-writer.ts), and rewritten with every version, as all
 * index rows are. A row of no resource keeps a null, sorts last, and matches nothing.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table search_reference add column last_updated timestamptz`.execute(db);
  await sql`update search_reference d set last_updated = r.last_updated
    from resource r where r.resource_type = d.resource_type and r.id = d.resource_id`.execute(db);
  await sql`create index search_reference_target_updated_idx
    on search_reference (target_id, code, resource_type, last_updated desc nulls last, resource_id)`.execute(db);
  await sql`drop index search_reference_target_idx`.execute(db);
}

/** Puts back what up() replaced. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`create index search_reference_target_idx on search_reference (target_id, code, resource_type)`.execute(db);
  await sql`drop index search_reference_target_updated_idx`.execute(db);
  await sql`alter table search_reference drop column last_updated`.execute(db);
}
