import { Kysely, sql } from 'kysely';

/** Resources, their history and the search index tables. */
export async function up(db: Kysely<unknown>): Promise<void> {
  const statements = [
    `create table resource (
      resource_type text not null,
      id text not null,
      version integer not null,
      last_updated timestamptz not null,
      deleted boolean not null default false,
      content text not null,
      compartments text[] not null default '{}',
      primary key (resource_type, id)
    )`,
    `create index resource_compartments_idx on resource using gin (compartments)`,
    `create index resource_type_updated_idx on resource (resource_type, last_updated)`,
    `create table resource_history (
      resource_type text not null,
      id text not null,
      version integer not null,
      last_updated timestamptz not null,
      deleted boolean not null default false,
      content text not null,
      primary key (resource_type, id, version)
    )`,
    `create index resource_history_updated_idx on resource_history (resource_type, last_updated)`,
    `create table search_token (
      resource_type text not null, resource_id text not null, code text not null,
      system text, value text, text text
    )`,
    `create index search_token_value_idx on search_token (resource_type, code, value)`,
    `create index search_token_resource_idx on search_token (resource_id)`,
    `create table search_string (
      resource_type text not null, resource_id text not null, code text not null,
      value text not null, exact text not null
    )`,
    `create index search_string_value_idx on search_string (resource_type, code, value text_pattern_ops)`,
    `create index search_string_resource_idx on search_string (resource_id)`,
    `create table search_date (
      resource_type text not null, resource_id text not null, code text not null,
      low timestamptz not null, high timestamptz not null
    )`,
    `create index search_date_value_idx on search_date (resource_type, code, low, high)`,
    `create index search_date_resource_idx on search_date (resource_id)`,
    `create table search_reference (
      resource_type text not null, resource_id text not null, code text not null,
      target_type text, target_id text not null
    )`,
    `create index search_reference_target_idx on search_reference (target_id, code, resource_type)`,
    `create index search_reference_resource_idx on search_reference (resource_id)`,
    `create table search_quantity (
      resource_type text not null, resource_id text not null, code text not null,
      value numeric not null, system text, unit text
    )`,
    `create index search_quantity_value_idx on search_quantity (resource_type, code, value)`,
    `create index search_quantity_resource_idx on search_quantity (resource_id)`,
  ];
  for (const statement of statements) await sql.raw(statement).execute(db);
}

/** Drops what up() created. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table search_quantity, search_reference, search_date, search_string, search_token, resource_history, resource`.execute(db);
}
