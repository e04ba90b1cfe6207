import { Kysely, sql } from 'kysely';

/**
 * Rest-hook Subscriptions (src/fhir/subscriptions): `subscription` is the delivery state of each stored
 * `Subscription` resource (its criteria as parsed, owner, status, failures, lease), kept in step with the resource in
 * the transaction that writes it; `subscription_notification` is the transactional outbox: one row per matching write,
 * inserted in the write's own transaction, so a write that rolls back leaves none and one that commits is never lost.
 * The delivery job deletes a row once the receiver has taken it. Also an index for system-level history.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table subscription (
    id text primary key,
    resource_type text not null,
    criteria text not null,
    owner_organization text,
    endpoint text not null,
    payload text,
    headers jsonb not null default '[]',
    heartbeat_seconds integer,
    status text not null,
    handshake_pending boolean not null default true,
    failures integer not null default 0,
    error text,
    next_attempt_at timestamptz not null,
    lease_until timestamptz,
    last_sent_at timestamptz,
    events_delivered bigint not null default 0
  )`.execute(db);
  await sql`create index subscription_resource_type_idx on subscription (resource_type) where status <> 'off'`.execute(db);
  await sql`create table subscription_notification (
    seq bigserial primary key,
    subscription_id text not null references subscription (id) on delete cascade,
    resource_type text not null,
    resource_id text not null,
    version integer not null,
    queued_at timestamptz not null
  )`.execute(db);
  await sql`create index subscription_notification_order_idx on subscription_notification (subscription_id, seq)`.execute(db);
  // GET /fhir/_history walks every type's versions newest first (src/fhir/history-feed.ts).
  await sql`create index resource_history_last_updated_idx on resource_history (last_updated)`.execute(db);
}

/** Drops what up() created. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index resource_history_last_updated_idx`.execute(db);
  await sql`drop table subscription_notification`.execute(db);
  await sql`drop table subscription`.execute(db);
}
