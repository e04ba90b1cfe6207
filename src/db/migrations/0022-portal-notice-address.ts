import { Kysely, sql } from 'kysely';

/**
 * `portal_notice.address`: where a notice goes when it is not the record's readers of today. A security notice that
 * an email address was replaced (kind `email-changed`) goes to the address replaced, which the record and the account
 * no longer hold by the time the portal-notice job sends it, so the write that replaces it keeps it here.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table portal_notice add column address text`.execute(db);
}

/** Drops what up() added. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table portal_notice drop column address`.execute(db);
}
