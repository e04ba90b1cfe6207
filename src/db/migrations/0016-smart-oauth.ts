import { Kysely, sql } from 'kysely';

/**
 * The SMART on FHIR authorization server's state (src/auth/smart/): everything oidc-provider keeps (sessions,
 * interactions, grants, authorization codes, access and refresh tokens, replay markers), one row per model and id,
 * so every instance sees the same; the registered apps; and the server's own keys (the id_token signing key and the
 * cookie keys), made once by whichever instance starts first.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table oauth_state (
    model text not null,
    id text not null,
    payload jsonb not null,
    grant_id text,
    uid text,
    user_code text,
    expires_at timestamptz,
    consumed_at timestamptz,
    primary key (model, id)
  )`.execute(db);
  // Revoking a grant revokes every code and token it issued; interactions are found by their uid.
  await sql`create index oauth_state_grant_idx on oauth_state (grant_id) where grant_id is not null`.execute(db);
  await sql`create index oauth_state_uid_idx on oauth_state (uid) where uid is not null`.execute(db);
  await sql`create index oauth_state_expires_idx on oauth_state (expires_at)`.execute(db);
  await sql`create table oauth_client (
    client_id text primary key,
    name text not null,
    metadata jsonb not null,
    organization_id text,
    created_at timestamptz not null
  )`.execute(db);
  await sql`create table oauth_key (
    name text primary key,
    value jsonb not null,
    created_at timestamptz not null
  )`.execute(db);
}

/** Drops what up() created. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table oauth_key`.execute(db);
  await sql`drop table oauth_client`.execute(db);
  await sql`drop table oauth_state`.execute(db);
}
