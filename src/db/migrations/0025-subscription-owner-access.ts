import { Kysely, sql } from 'kysely';

/**
 * A Subscription keeps the access of whoever wrote it (src/fhir/subscriptions): `owner` names them (their scope's
 * description) and `owner_access` is what they may see, as an export keeps it (access/kept-access.ts: everything, or
 * their organisation's records narrowed to the types of their SMART scopes and, per type, to what its query scopes let
 * through). Notifications are matched, and delivered, with that access, so a token narrowed by its scopes never hears
 * of more than its own searches find. A Subscription written before this migration holds neither (null): it keeps
 * notifying with its organisation's full access, as it did (the write check of then let only a writer reading the
 * watched type across the organisation subscribe), until it is written again.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table subscription add column owner text`.execute(db);
  await sql`alter table subscription add column owner_access jsonb`.execute(db);
}

/** Drops what up() added. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table subscription drop column owner_access, drop column owner`.execute(db);
}
