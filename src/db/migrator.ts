import { Kysely, type Migration, Migrator, sql } from 'kysely';
import { MIGRATIONS } from './migrations';
import { analyzeTables, schemaTables } from './table-statistics';

/** Thrown when a migration fails; the schema is then as it was before (see migrateToLatest). */
export class MigrationError extends Error {
  constructor(
    readonly migrationName: string | undefined,
    override readonly cause: unknown,
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      migrationName
        ? `database migration ${migrationName} failed: ${reason}. No migration was applied (the schema is as it was); fix the cause and start again`
        : `database migrations could not run: ${reason}`,
    );
  }
}

/**
 * Applies every pending migration, all in one transaction: PostgreSQL's DDL is transactional, so when one fails none of
 * them is applied and the schema stays as it was (MigrationError names the one that failed). Kysely holds a lock
 * meanwhile, so instances starting together migrate once. The tables are analysed afterwards (src/db/table-statistics.ts).
 */
export async function migrateToLatest<DB>(db: Kysely<DB>, migrations: Record<string, Migration> = MIGRATIONS): Promise<string[]> {
  const migrator = new Migrator({ db, provider: { getMigrations: () => Promise.resolve(withoutStatementTimeout(migrations)) } });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw new MigrationError(results?.find((r) => r.status === 'Error')?.migrationName, error);
  const applied = (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  // A migration that fills or rewrites a table (a backfill, content moved to another table) leaves its statistics
  // behind; the tables are analysed so that the first queries after an upgrade are planned from what is there.
  if (applied.length) await analyzeTables(db, await schemaTables(db));
  return applied;
}

/**
 * The migrations, each lifting statement_timeout (STATEMENT_TIMEOUT_MS) for its own transaction: a migration over a
 * large database may take longer than any request may, and must not be stopped half way.
 */
function withoutStatementTimeout(migrations: Record<string, Migration>): Record<string, Migration> {
  return Object.fromEntries(
    Object.entries(migrations).map(([name, migration]) => [
      name,
      {
        ...migration,
        up: async (db: Kysely<unknown>) => {
          await sql`set local statement_timeout = 0`.execute(db);
          await migration.up(db);
        },
      },
    ]),
  );
}

/** True when every known migration has been applied (used by /readyz). */
export async function isMigrated<DB>(db: Kysely<DB>): Promise<boolean> {
  const migrator = new Migrator({ db, provider: { getMigrations: () => Promise.resolve(MIGRATIONS) } });
  const migrations = await migrator.getMigrations();
  return migrations.every((m) => m.executedAt !== undefined);
}
