import { Kysely, sql } from 'kysely';

/**
 * `portal_notice`: "your request was answered" and "you have a new message" emails still to go
 * (src/jobs/portal-notice-job.ts). A row is written in the transaction that answers the request or sends the message,
 * so an answer that rolls back leaves none, and one that commits is never forgotten; the job deletes it once sent.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table portal_notice (
    seq bigserial primary key,
    patient_id text not null,
    kind text not null,
    resource_type text not null,
    resource_id text not null,
    noted_at timestamptz not null
  )`.execute(db);
}

/** Drops what up() created. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table portal_notice`.execute(db);
}
