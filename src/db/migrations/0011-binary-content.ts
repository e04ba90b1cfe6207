import { Kysely, sql } from 'kysely';

/** Bytes per stored part; must equal CONTENT_PART_BYTES in src/fhir/binary/database-binary-store.ts. */
const PART_BYTES = 1024 * 1024;
/** Must equal BINARY_CONTENT_EXTENSION in src/fhir/binary/binary-content.ts. */
const EXTENSION = 'https://chartkeeper.example/fhir/StructureDefinition/binary-content';

/**
 * `binary_content` and `binary_content_part`: a Binary's bytes, apart from its JSON (src/fhir/binary/). Content is
 * keyed by its SHA-256, so the same bytes are stored once whatever refers to them, and kept in parts of 1 MiB so that
 * a file is written and read a part at a time (a range read touches only its parts) and no statement carries more.
 *
 * Existing Binary versions (current and history) held their bytes as base64 in `data`: those bytes move to the new
 * tables and the JSON keeps what the service writes now, `_data` carrying the content extension (size, sha256).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table binary_content (
    sha256 text primary key,
    size bigint not null,
    content_type text not null,
    created_at timestamptz not null default now()
  )`.execute(db);
  await sql`create table binary_content_part (
    sha256 text not null references binary_content (sha256),
    part integer not null,
    data bytea not null,
    primary key (sha256, part)
  )`.execute(db);

  // Every stored Binary version whose JSON holds its bytes, decoded once.
  await sql`create temporary table binary_inline as
    select resource_type, id, version, bytes, encode(sha256(bytes), 'hex') as sha256, content_type
    from (select resource_type, id, version, decode(content::jsonb ->> 'data', 'base64') as bytes,
            coalesce(content::jsonb ->> 'contentType', 'application/octet-stream') as content_type
          from resource_history where resource_type = 'Binary' and not deleted and content::jsonb ? 'data') v`.execute(db);
  await sql`insert into binary_content (sha256, size, content_type)
    select distinct on (sha256) sha256, length(bytes), content_type from binary_inline order by sha256, version
    on conflict do nothing`.execute(db);
  await sql`insert into binary_content_part (sha256, part, data)
    select c.sha256, p.part, substring(c.bytes from p.part * ${sql.lit(PART_BYTES)} + 1 for ${sql.lit(PART_BYTES)})
    from (select distinct on (sha256) sha256, bytes from binary_inline order by sha256) c
    cross join lateral generate_series(0, (length(c.bytes) - 1) / ${sql.lit(PART_BYTES)}) as p(part)
    where length(c.bytes) > 0
    on conflict do nothing`.execute(db);
  const described = sql`(content::jsonb - 'data' || jsonb_build_object('_data', jsonb_build_object('extension', jsonb_build_array(
    jsonb_build_object('url', ${sql.lit(EXTENSION)}, 'extension', jsonb_build_array(
      jsonb_build_object('url', 'size', 'valueInteger', length(i.bytes)),
      jsonb_build_object('url', 'sha256', 'valueString', i.sha256)))))))::text`;
  await sql`update resource_history h set content = ${described}
    from binary_inline i where h.resource_type = i.resource_type and h.id = i.id and h.version = i.version`.execute(db);
  await sql`update resource r set content = ${described}
    from binary_inline i where r.resource_type = i.resource_type and r.id = i.id and r.version = i.version and not r.deleted`.execute(db);
  await sql`drop table binary_inline`.execute(db);
}

/** Drops what up() created (the bytes of Binaries written since are lost: restore a backup instead). */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table binary_content_part`.execute(db);
  await sql`drop table binary_content`.execute(db);
}
