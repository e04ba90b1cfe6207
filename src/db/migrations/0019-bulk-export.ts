import { Kysely, sql } from 'kysely';

/**
 * Bulk Data `$export` (src/fhir/bulk-export): `export_job` is both the request a client polls and the durable queue the
 * `bulk-export` job works through (claimed under a lease, so one instance at a time writes a job, and a job left by an
 * instance that died is taken over once its lease runs out); `export_chunk` holds the ndjson the job wrote, a batch of
 * lines per row, in id order per type. A chunk is the job's progress too: the next batch starts after the last id of
 * the last chunk, so a restart goes on where the last committed batch ended. Chunks are stored uncompressed (storage
 * external): they are written once and read once or twice, and compressing megabytes of JSON costs more than it saves.
 * Deleting a job (a cancel, or the files' expiry) deletes its chunks. `agent` is whom the audit records of the export
 * name (each batch records an access to the record of every patient whose resources it wrote).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table export_job (
    id text primary key,
    requester text not null,
    agent jsonb,
    unrestricted boolean not null,
    organization_id text,
    allowed_types text[],
    level text not null,
    group_id text,
    patient_ids text[],
    types text[] not null,
    since timestamptz,
    transaction_time timestamptz not null,
    request_url text not null,
    status text not null,
    error text,
    attempts integer not null default 0,
    next_attempt_at timestamptz not null,
    lease_until timestamptz,
    lease_token text,
    finished_at timestamptz,
    expires_at timestamptz
  )`.execute(db);
  await sql`create index export_job_queue_idx on export_job (next_attempt_at) where status in ('queued', 'running')`.execute(db);
  await sql`create index export_job_requester_idx on export_job (requester) where status in ('queued', 'running')`.execute(db);
  await sql`create index export_job_expires_idx on export_job (expires_at)`.execute(db);
  await sql`create table export_chunk (
    job_id text not null references export_job (id) on delete cascade,
    resource_type text not null,
    chunk_no integer not null,
    last_id text not null,
    lines integer not null,
    content text not null,
    primary key (job_id, resource_type, chunk_no)
  )`.execute(db);
  await sql`alter table export_chunk alter column content set storage external`.execute(db);
}

/** Drops what up() created. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table export_chunk`.execute(db);
  await sql`drop table export_job`.execute(db);
}
