/**
 * Planner statistics. PostgreSQL plans every statement from what ANALYZE last saw of a table; after a bulk load
 * into a table analysed while empty, a plan that was cheap on ten rows can discard thousands of rows per row it
 * returns. Autovacuum analyses such tables by itself, but it may be off (as on these machines), and the embedded
 * database never runs it: so the commands that fill tables analyse them when done, and a job (src/jobs) analyses
 * what has changed where autovacuum does not run.
 */
import { type Kysely, sql } from 'kysely';

/** The tables an import of FHIR resources or C-CDA documents fills. */
export const RESOURCE_TABLES: readonly string[] = Object.freeze([
  'resource',
  'resource_history',
  'search_token',
  'search_string',
  'search_date',
  'search_reference',
  'search_quantity',
  'imported_file',
  'binary_content',
  'binary_content_part',
  'audit_log',
]);

/** Autovacuum's own trigger for an analyse: 50 rows plus a tenth of the table changed since the last one. */
const ANALYZE_THRESHOLD = 50;
const ANALYZE_SCALE_FACTOR = 0.1;
/** Or, where rows changed are not counted: grown past 8 pages and a fifth more than when last analysed. */
const GROWTH_PAGES = 8;
const GROWTH_FACTOR = 1.2;

/** Analyses the named tables (those that exist), each in its own short transaction with no statement timeout. */
export async function analyzeTables<DB>(db: Kysely<DB>, tables: readonly string[]): Promise<string[]> {
  const existing = await existingTables(db, tables);
  for (const table of existing) {
    await db.transaction().execute(async (trx) => {
      await sql`set local statement_timeout = 0`.execute(trx);
      await sql`analyze ${sql.table(table)}`.execute(trx);
    });
  }
  return existing;
}

/** The tables of the current schema, in name order. */
export async function schemaTables<DB>(db: Kysely<DB>): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = current_schema() and c.relkind = 'r' order by 1`.execute(db);
  return rows.map((row) => row.name);
}

/**
 * The tables of the current schema that changed enough since their last analyse (or, never analysed, are not tiny),
 * in name order: by autovacuum's rule on the rows changed where the server counts them, or by the table having grown
 * a fifth past the pages it had when last analysed (the embedded database keeps no such counts).
 */
export async function tablesNeedingAnalyze<DB>(db: Kysely<DB>): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      left join pg_stat_user_tables s on s.relid = c.oid
    where n.nspname = current_schema() and c.relkind = 'r'
      and (coalesce(s.n_mod_since_analyze, 0) > ${ANALYZE_THRESHOLD}::float8 + ${ANALYZE_SCALE_FACTOR}::float8 * greatest(c.reltuples, 0)
        or pg_relation_size(c.oid) / current_setting('block_size')::int > ${GROWTH_PAGES}::float8 + ${GROWTH_FACTOR}::float8 * c.relpages)
    order by 1`.execute(db);
  return rows.map((row) => row.name);
}

/**
 * The tables that fill and empty: queues and outboxes whose rows are deleted once handled, and short-lived state.
 * Without VACUUM a deleted row's space is never reused (only VACUUM tells the free space map about it, and inserts
 * go to the end of the table), so where autovacuum does not run such a table grows by every row it ever held: the
 * audit log alone by about 120 bytes for each audited request (24 MB after 200,000 rows churned on the embedded
 * database, 0 after a VACUUM). Vacuumed while nearly empty, each takes milliseconds.
 */
export const CHURNING_TABLES: readonly string[] = Object.freeze([
  'audit_log',
  'billing_notice',
  'export_chunk',
  'export_job',
  'oauth_state',
  'one_time_secret',
  'portal_notice',
  'refresh_token',
  'release_notice',
  'subscription_notification',
  'throttle',
]);

/** Autovacuum's own trigger for a vacuum: 50 dead rows plus a fifth of the table. */
const VACUUM_THRESHOLD = 50;
const VACUUM_SCALE_FACTOR = 0.2;

/**
 * The tables to vacuum where autovacuum does not run, in name order: the churning tables (CHURNING_TABLES) that exist,
 * and any other table past autovacuum's own rule on dead rows where the server counts them (the embedded database
 * counts none: there, only the churning tables).
 */
export async function tablesNeedingVacuum<DB>(db: Kysely<DB>): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      left join pg_stat_user_tables s on s.relid = c.oid
    where n.nspname = current_schema() and c.relkind = 'r'
      and (c.relname = any(${CHURNING_TABLES}::text[])
        or coalesce(s.n_dead_tup, 0) > ${VACUUM_THRESHOLD}::float8 + ${VACUUM_SCALE_FACTOR}::float8 * greatest(c.reltuples, 0))
    order by 1`.execute(db);
  return rows.map((row) => row.name);
}

/** True where autovacuum analyses tables by itself: switched on, and its launcher running (never on the embedded database). */
export async function autovacuumRuns<DB>(db: Kysely<DB>): Promise<boolean> {
  const { rows } = await sql<{ runs: boolean }>`
    select current_setting('autovacuum') = 'on'
      and exists (select 1 from pg_stat_activity where backend_type = 'autovacuum launcher') as runs`.execute(db);
  return rows[0]?.runs === true;
}

async function existingTables<DB>(db: Kysely<DB>, tables: readonly string[]): Promise<string[]> {
  const all = new Set(await schemaTables(db));
  return tables.filter((table) => all.has(table));
}
