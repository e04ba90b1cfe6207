import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { Database, openDatabase } from '../../src/db/database';
import { migrateToLatest } from '../../src/db/migrator';
import { loadFhirDefinitions } from '../../src/fhir/definitions';

/** A migrated database of its own for one test file, dropped again by close(). */
export interface TestDatabase extends Database {
  readonly url?: string;
}

/**
 * With DATABASE_URL set, creates a fresh database on that server (so test files never share
 * state) and drops it on close; otherwise an in-memory PGlite.
 */
export async function openTestDatabase(): Promise<TestDatabase> {
  loadFhirDefinitions();
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    const database = await openDatabase({ dataDir: '' }, { inMemory: true });
    await migrateToLatest(database.db);
    return database;
  }
  const name = `ck_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await admin(serverUrl, `create database ${name}`);
  const url = withDatabase(serverUrl, name);
  const database = await openDatabase({ databaseUrl: url, dataDir: '' });
  await migrateToLatest(database.db);
  return {
    ...database,
    url,
    close: async () => {
      await database.close();
      await admin(serverUrl, `drop database if exists ${name} with (force)`);
    },
  };
}

async function admin(serverUrl: string, statement: string): Promise<void> {
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

function withDatabase(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
