import { Kysely, sql } from 'kysely';

/**
 * The SMART grants of one account, found by its id: a person's list of the apps they let in, and revoking one
 * (src/auth/smart/smart-app-grants.ts), read the grants of their account only, not every grant of the server.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index oauth_state_grant_account_idx on oauth_state ((payload->>'accountId')) where model = 'Grant'`.execute(db);
}

/** Drops what up() created. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index oauth_state_grant_account_idx`.execute(db);
}
