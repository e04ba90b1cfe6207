import { Database, openDatabase } from '../../src/db/database';
import { migrateToLatest } from '../../src/db/migrator';
import { createScratchDatabase } from './scratch-database';
import { loadFhirDefinitions } from '../../src/fhir/definitions';

/** A migrated database of its own for one test file, dropped again by close(). */
export interface TestDatabase extends Database {
  readonly url?: string;
}

/**
 * With DATABASE_URL set, creates a fresh database on that server (so test files never share
 * state) and drops it on close; otherwise an in-memory PGlite.
 */
export async function openTestDatabase(options: { statementTimeoutMs?: number } = {}): Promise<TestDatabase> {
  loadFhirDefinitions();
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    const database = await openDatabase({ dataDir: '' }, { inMemory: true });
    await migrateToLatest(database.db);
    return database;
  }
  const scratch = await createScratchDatabase(serverUrl, 'ck_test');
  const database = await openDatabase({ databaseUrl: scratch.url, dataDir: '', statementTimeoutMs: options.statementTimeoutMs });
  await migrateToLatest(database.db);
  return {
    ...database,
    url: scratch.url,
    close: async () => {
      await database.close();
      await scratch.drop();
    },
  };
}
