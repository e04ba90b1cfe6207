import { Kysely, sql } from 'kysely';

/**
 * Bulk Data `$export` files are read from the resource history as they are downloaded instead of being copied into the
 * database first (src/fhir/bulk-export): an `export_chunk` row now names the versions its lines are (`ids` and
 * `versions`, in id order) and their size in bytes, and holds no copy of the lines. Writing every line once more, then
 * reading it back for the download, was two of the three passes an export made over its data. Exports queued or kept
 * from before hold no such list: they are dropped (their status URL answers 404 and the client kicks off again).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`delete from export_job`.execute(db);
  await sql`alter table export_chunk drop column content`.execute(db);
  await sql`alter table export_chunk add column bytes bigint not null default 0`.execute(db);
  await sql`alter table export_chunk add column ids text[] not null default '{}'`.execute(db);
  await sql`alter table export_chunk add column versions integer[] not null default '{}'`.execute(db);
}

/** Undoes up() (the exports of before it are not brought back). */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`delete from export_job`.execute(db);
  await sql`alter table export_chunk drop column versions, drop column ids, drop column bytes`.execute(db);
  await sql`alter table export_chunk add column content text not null default ''`.execute(db);
}
