import { Kysely, sql } from 'kysely';

/**
 * `imported_file`: the ledger of `chartkeeper import` (src/fhir/imported-file-ledger.ts). A file's row is written in
 * the transaction that imports it, keyed by the SHA-256 of its bytes, so after a crash every file is either imported
 * and recorded or neither, and a second run skips exactly the recorded ones. A batch Bundle's entries commit one by
 * one, so each gets a row of its own (`entry` = its index); a file imported whole has `entry` -1.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table imported_file (
    sha256 text not null,
    entry integer not null,
    file_name text not null,
    path text not null,
    resources integer not null,
    imported_at timestamptz not null,
    primary key (sha256, entry)
  )`.execute(db);
  // A changed file under a name imported before is found by its name (see findImportsNamed).
  await sql`create index imported_file_name on imported_file (file_name)`.execute(db);
}

/** Drops what up() created. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table imported_file`.execute(db);
}
