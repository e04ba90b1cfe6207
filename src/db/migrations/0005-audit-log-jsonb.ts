import { Kysely, sql } from 'kysely';

/**
 * `audit_log.entry` becomes jsonb: each request's insert parses its own small records, so the once-a-second pass
 * that merges thousands of them into AuditEvents (src/access/audit-log.ts) no longer parses them all at once, in the
 * middle of the reads it competes with.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table audit_log alter column entry type jsonb using entry::jsonb`.execute(db);
}

/** Back to text. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table audit_log alter column entry type text using entry::text`.execute(db);
}
