import { Kysely, sql } from 'kysely';

/**
 * The record-owners GIN index (resource.owners) without its pending list. By default a GIN index takes new entries into
 * an unsorted pending list, which every search through the index reads whole, and which only VACUUM (or autovacuum's
 * analyse) merges into the index; an insert that finds the list past gin_pending_list_limit (4 MB) merges it itself.
 * Where autovacuum is off (these machines, a server set up for bulk loads) and on the embedded database, nothing else
 * does: measured on 200,000 rows, `owners @> array[X]` took 0.55 ms with an empty list and 3.8 ms after 40,000
 * single-row inserts (99 pending pages, a quarter of the limit), and it keeps growing to the limit, where one unlucky
 * write pays for the merge. A patient's $everything and C-CDA documents ask through this index. Without the list the
 * same query stayed at 0.36-0.47 ms, and single-row inserts were no slower (slowest 11 ms against 24).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter index resource_owners_idx set (fastupdate = off)`.execute(db);
  // Entries already in the list stay there until merged.
  await sql`select gin_clean_pending_list('resource_owners_idx'::regclass)`.execute(db);
}

/** Puts the pending list back (PostgreSQL's default). */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter index resource_owners_idx reset (fastupdate)`.execute(db);
}
