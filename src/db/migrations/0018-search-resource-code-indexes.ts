import { Kysely, sql } from 'kysely';

const TABLES = ['search_token', 'search_string', 'search_date', 'search_reference', 'search_quantity'];

/**
 * The index rows of one resource under one parameter: (resource_id, resource_type, code) in place of (resource_id).
 * A search's sort keys and the filters it checks row by row (src/fhir/search/match-source.ts) look up exactly that.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const table of TABLES) {
    await sql`create index ${sql.id(`${table}_resource_code_idx`)} on ${sql.table(table)} (resource_id, resource_type, code)`.execute(db);
    await sql`drop index ${sql.id(`${table}_resource_idx`)}`.execute(db);
  }
}

/** Puts back what up() replaced. */
export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of TABLES) {
    await sql`create index ${sql.id(`${table}_resource_idx`)} on ${sql.table(table)} (resource_id)`.execute(db);
    await sql`drop index ${sql.id(`${table}_resource_code_idx`)}`.execute(db);
  }
}
