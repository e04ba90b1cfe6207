import { Kysely, sql } from 'kysely';

/** Portal and staff accounts, refresh tokens, one-time secrets and failure throttles. */
export async function up(db: Kysely<unknown>): Promise<void> {
  const statements = [
    `create table account (
      id text primary key,
      email text not null unique,
      password_hash text,
      kind text not null check (kind in ('patient', 'family', 'staff')),
      patient_id text,
      practitioner_id text,
      organization_id text,
      display_name text not null,
      security_question text,
      security_answer_hash text,
      disabled_at timestamptz,
      created_at timestamptz not null,
      updated_at timestamptz not null
    )`,
    `create index account_patient_idx on account (patient_id)`,
    `create table refresh_token (
      id text primary key,
      account_id text not null references account (id) on delete cascade,
      family_id text not null,
      token_hash text not null unique,
      expires_at timestamptz not null,
      created_at timestamptz not null,
      used_at timestamptz,
      revoked_at timestamptz
    )`,
    `create index refresh_token_family_idx on refresh_token (family_id)`,
    `create index refresh_token_account_idx on refresh_token (account_id)`,
    `create table one_time_secret (
      id text primary key,
      purpose text not null,
      secret_hash text not null unique,
      account_id text references account (id) on delete cascade,
      patient_id text,
      email text,
      payload text not null default '{}',
      expires_at timestamptz not null,
      used_at timestamptz,
      failed_attempts integer not null default 0,
      created_at timestamptz not null
    )`,
    `create index one_time_secret_purpose_idx on one_time_secret (purpose, patient_id)`,
    `create index one_time_secret_expiry_idx on one_time_secret (expires_at)`,
    `create table throttle (
      key text primary key,
      failures integer not null,
      last_failure_at timestamptz not null
    )`,
  ];
  for (const statement of statements) await sql.raw(statement).execute(db);
}

/** Drops what up() created. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table throttle, one_time_secret, refresh_token, account`.execute(db);
}
