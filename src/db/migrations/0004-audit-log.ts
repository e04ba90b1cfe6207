import { Kysely, sql } from 'kysely';

/**
 * `audit_log`: the durable outbox of access records (src/access/audit-log.ts). A request's accesses are committed
 * here, one small row each, before it is answered; they become AuditEvent resources in the background, merged per
 * agent, patient, interaction and second.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table audit_log (
    seq bigserial primary key,
    entry text not null
  )`.execute(db);
}

/** Drops what up() created. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table audit_log`.execute(db);
}
