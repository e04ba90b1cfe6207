import { Kysely, sql } from 'kysely';

/**
 * Refresh tokens by expiry. Every sign-in and every refresh adds a row, kept (used or revoked) until it expires, so
 * the table holds every session of the token lifetime: at the soak's two refreshes and sign-ins a second, 170,000 rows
 * a day. The daily purge (`expires_at < now`) read all of them to find the expired ones; with the index it reads only
 * those it deletes.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index refresh_token_expires_idx on refresh_token (expires_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index refresh_token_expires_idx`.execute(db);
}
