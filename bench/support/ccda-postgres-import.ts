import { unrestrictedScope } from '../../src/access/access-scope';
import { importCcda } from '../../src/portal/records/ccda-import-service';
import { openDatabase } from '../../src/db/database';
import { migrateToLatest } from '../../src/db/migrator';
import { systemClock } from '../../src/fhir/clock';
import { loadFhirDefinitions } from '../../src/fhir/definitions';
import { Repository } from '../../src/fhir/repository';
import { createBenchDatabase } from './bench-database';

/**
 * End to end: every document through the real import (parse, match, one transaction each) into a fresh
 * PostgreSQL database, then the same documents again (which must create nothing new). Prints one summary line each.
 */
export async function importCorpusIntoPostgres(docs: readonly { text: string }[]): Promise<void> {
  const bench = await createBenchDatabase();
  const database = await openDatabase({ databaseUrl: bench.url, dataDir: '' });
  try {
    await migrateToLatest(database.db);
    loadFhirDefinitions();
    const repo = new Repository(database.db, { scope: unrestrictedScope('bench'), clock: systemClock, fhirBase: 'http://bench/fhir' });
    for (const pass of ['first import', 'same documents again']) {
      let created = 0;
      let failed = 0;
      const started = performance.now();
      for (const doc of docs) {
        try {
          const summary = await importCcda(repo, doc.text);
          created += Object.values(summary.created).reduce((a, b) => a + b, 0);
        } catch {
          failed++;
        }
      }
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `PostgreSQL end to end, ${pass}: ${docs.length - failed}/${docs.length} documents in ${seconds.toFixed(1)} s ` +
          `(${(docs.length / seconds).toFixed(1)} documents/s), ${created} resources created, ${failed} failed`,
      );
    }
  } finally {
    await database.close();
    await bench.drop();
  }
}
