import { Kysely, sql } from 'kysely';

/**
 * `release_notice`: documents released to a patient whose "a new document is available" email is still to go
 * (src/jobs/release-notice-job.ts). A row is written in the transaction that releases the document, so a
 * release that rolls back leaves none, and one that commits is never forgotten; the job deletes it once sent.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table release_notice (
    seq bigserial primary key,
    patient_id text not null,
    resource_type text not null,
    resource_id text not null,
    released_at timestamptz not null
  )`.execute(db);
}

/** Drops what up() created. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table release_notice`.execute(db);
}
