import { type Kysely, type Migration, sql } from 'kysely';
import { type Database, openDatabase } from '../src/db/database';
import { MIGRATIONS } from '../src/db/migrations';
import { MigrationError, migrateToLatest } from '../src/db/migrator';
import { createScratchDatabase } from './support/scratch-database';
import { processStorage, runChartkeeper } from './support/chartkeeper-process';

/**
 * Every released schema upgrades to the current one: from an empty database, and from each earlier schema (every
 * prefix of the migration list), the result is the same schema. A failing migration changes nothing and the service
 * refuses to start, naming it.
 */

jest.setTimeout(240_000);

const NAMES = Object.keys(MIGRATIONS);
const prefix = (n: number): Record<string, Migration> => Object.fromEntries(NAMES.slice(0, n).map((name) => [name, MIGRATIONS[name]]));

/** A fresh, empty database (in memory, or a scratch database on DATABASE_URL's server), dropped by close(). */
async function emptyDatabase(): Promise<Database> {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) return openDatabase({ dataDir: '' }, { inMemory: true });
  const scratch = await createScratchDatabase(serverUrl, 'ck_test_migrations');
  const database = await openDatabase({ databaseUrl: scratch.url, dataDir: '' });
  return { ...database, close: () => database.close().finally(() => scratch.drop()) };
}

/** The schema as text: every column, index, constraint and trigger of the public schema, and the migrations recorded. */
async function schemaOf(db: Kysely<any>): Promise<string[]> {
  const { rows: columns } = await sql<{ d: string }>`
    select table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '') as d
    from information_schema.columns where table_schema = 'public'`.execute(db);
  const { rows: indexes } = await sql<{ d: string }>`select indexdef as d from pg_indexes where schemaname = 'public'`.execute(db);
  const { rows: constraints } = await sql<{ d: string }>`
    select c.conrelid::regclass::text || ' ' || c.conname || ' ' || pg_get_constraintdef(c.oid) as d
    from pg_constraint c join pg_namespace n on n.oid = c.connamespace where n.nspname = 'public'`.execute(db);
  const { rows: triggers } = await sql<{ d: string }>`
    select tgrelid::regclass::text || ' ' || tgname as d from pg_trigger where not tgisinternal`.execute(db);
  const { rows: applied } = await sql<{ d: string }>`select 'migration ' || name as d from kysely_migration`
    .execute(db)
    .catch(() => ({ rows: [] as { d: string }[] }));
  return [...columns, ...indexes, ...constraints, ...triggers, ...applied].map((r) => r.d).sort();
}

let latest: string[];

beforeAll(async () => {
  const database = await emptyDatabase();
  try {
    expect(await migrateToLatest(database.db)).toEqual(NAMES);
    latest = await schemaOf(database.db);
  } finally {
    await database.close();
  }
});

test('the migrations are numbered in order and the current schema records each of them', () => {
  expect([...NAMES].sort()).toEqual(NAMES);
  for (const name of NAMES) expect(latest).toContain(`migration ${name}`);
  expect(latest.some((d) => d.startsWith('resource.content '))).toBe(true);
});

test.each(NAMES.map((_, i) => i + 1).filter((n) => n < NAMES.length))(
  'a database at the schema of migration %i upgrades to the same schema as a new one',
  async (n) => {
    const database = await emptyDatabase();
    try {
      expect(await migrateToLatest(database.db, prefix(n))).toEqual(NAMES.slice(0, n));
      const before = await schemaOf(database.db);
      expect(before).not.toEqual(latest);
      expect(await migrateToLatest(database.db)).toEqual(NAMES.slice(n));
      expect(await schemaOf(database.db)).toEqual(latest);
      expect(await migrateToLatest(database.db)).toEqual([]);
    } finally {
      await database.close();
    }
  },
);

test('an upgrade analyses the tables: what was written since their last analyse is planned from what is there', async () => {
  const database = await emptyDatabase();
  try {
    await migrateToLatest(database.db, prefix(NAMES.length - 1));
    // Rows written after the migrations analysed the empty tables, as a bulk load with autovacuum off leaves them.
    await sql`insert into throttle (key, failures, last_failure_at) select 'k' || i, 1, now() from generate_series(1, 300) i`.execute(
      database.db,
    );
    const planned = async (): Promise<number> => {
      const { rows } = await sql<{ n: number }>`select reltuples::int as n from pg_class where relname = 'throttle'`.execute(database.db);
      return rows[0].n;
    };
    expect(await planned()).toBeLessThanOrEqual(0);
    expect(await migrateToLatest(database.db)).toEqual(NAMES.slice(-1));
    expect(await planned()).toBe(300);
  } finally {
    await database.close();
  }
});

test('a migration that fails applies none of the pending ones: the schema is as it was', async () => {
  const database = await emptyDatabase();
  try {
    await migrateToLatest(database.db, prefix(NAMES.length - 3));
    const before = await schemaOf(database.db);
    const failing: Record<string, Migration> = {
      ...MIGRATIONS,
      '9999-broken': { up: (db) => sql`alter table no_such_table add column x int`.execute(db).then(() => undefined) },
    };
    const attempt = migrateToLatest(database.db, failing);
    await expect(attempt).rejects.toThrow(MigrationError);
    await expect(attempt).rejects.toThrow(
      'database migration 9999-broken failed: relation "no_such_table" does not exist. No migration was applied (the schema is as it was)',
    );
    expect(await schemaOf(database.db)).toEqual(before);
  } finally {
    await database.close();
  }
});

test('the service refuses to start when a migration fails, naming it, and leaves the schema as it was', async () => {
  const storage = await processStorage('migrate-fail');
  try {
    // The start applies several migrations at once, the one in the way among them (not the last, whatever follows it).
    const last = '0010-imported-file';
    const database = await storage.open();
    let before: string[];
    try {
      await migrateToLatest(database.db, prefix(NAMES.indexOf(last) - 2));
      // Something in the way of the last migration's table, as a hand-made table of the same name would be.
      await sql`create table imported_file (stray int)`.execute(database.db);
      before = await schemaOf(database.db);
    } finally {
      await database.close();
    }
    expect(NAMES).toContain(last);
    const run = await runChartkeeper(storage, ['serve'], { PORT: '0', HOST: '127.0.0.1', SEED_DEMO: 'false' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `chartkeeper: database migration ${last} failed: relation "imported_file" already exists. No migration was applied (the schema is as it was)`,
    );
    expect(run.stderr).not.toContain('running at');
    const reopened = await storage.open();
    try {
      expect(await schemaOf(reopened.db)).toEqual(before);
    } finally {
      await reopened.close();
    }
  } finally {
    await storage.drop();
  }
});

test('0026 stamps the reference rows written before it with their resource’s last_updated', async () => {
  const database = await emptyDatabase();
  try {
    await migrateToLatest(database.db, prefix(NAMES.indexOf('0026-reference-last-updated')));
    await sql`insert into resource (resource_type, id, version, last_updated, deleted, content, compartments, owners)
      values ('Communication', 'm-1', 1, '2026-03-01T12:00:00Z', false, '{}', '{p-1}', '{}')`.execute(database.db);
    await sql`insert into search_reference (resource_type, resource_id, code, target_type, target_id)
      values ('Communication', 'm-1', 'subject', 'Patient', 'p-1'), ('Communication', 'gone', 'subject', 'Patient', 'p-1')`.execute(
      database.db,
    );
    await migrateToLatest(database.db);
    const { rows } = await sql<{ resource_id: string; last_updated: Date | null }>`
      select resource_id, last_updated from search_reference order by resource_id`.execute(database.db);
    expect(rows.map((r) => [r.resource_id, r.last_updated && new Date(r.last_updated).toISOString()])).toEqual([
      ['gone', null],
      ['m-1', '2026-03-01T12:00:00.000Z'],
    ]);
  } finally {
    await database.close();
  }
});
