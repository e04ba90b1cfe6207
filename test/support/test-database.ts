import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Database, openDatabase } from '../../src/db/database';
import { migrateToLatest } from '../../src/db/migrator';
import { projectRoot } from '../../src/project-root';
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
    const database = await openDatabase({ dataDir: '' }, { inMemory: true, inMemoryFrom: await migratedImage() });
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

/**
 * The data directory of a new, migrated embedded database, as an image PGlite starts from. Running initdb and the
 * migrations takes seconds and leaves initdb's memory behind in the process; starting from the image takes a second.
 * The image is made once per migration set (keyed by the PGlite version and the migrations' source) and kept in the
 * system's temporary directory, shared by every test worker; migrateToLatest still runs on it and finds nothing to do.
 */
async function migratedImage(): Promise<Blob> {
  const file = path.join(os.tmpdir(), `chartkeeper-test-db-${migrationsKey()}.tar`);
  if (!fs.existsSync(file)) {
    const database = await openDatabase({ dataDir: '' }, { inMemory: true });
    try {
      await migrateToLatest(database.db);
      const image = await database.dumpDataDir!();
      const partial = `${file}.${process.pid}.partial`;
      fs.writeFileSync(partial, Buffer.from(await image.arrayBuffer()));
      fs.renameSync(partial, file);
    } finally {
      await database.close();
    }
  }
  return new Blob([fs.readFileSync(file)]);
}

let key: string | undefined;

function migrationsKey(): string {
  if (key) return key;
  const hash = createHash('sha256');
  const pglite = path.join(projectRoot(), 'node_modules', '@electric-sql', 'pglite', 'package.json');
  hash.update(fs.readFileSync(pglite));
  const dir = path.join(projectRoot(), 'src', 'db', 'migrations');
  for (const name of fs.readdirSync(dir).sort()) hash.update(name).update(fs.readFileSync(path.join(dir, name)));
  key = hash.digest('hex').slice(0, 16);
  return key;
}
