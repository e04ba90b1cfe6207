/**
 * The import half of bench/fhir.ts, in a process of its own: forked with the Node flags `chartkeeper import` runs
 * with (src/server-node-flags.ts), so the import is measured as the CLI runs it. Imports every file of
 * BENCH_IMPORT_CORPUS into BENCH_DATABASE_URL through importFhirFiles (the CLI's code) and sends back what it took.
 */
import { unrestrictedScope } from '../../src/access/access-scope';
import { openDatabase } from '../../src/db/database';
import { migrateToLatest } from '../../src/db/migrator';
import { systemClock } from '../../src/fhir/clock';
import { loadFhirDefinitions } from '../../src/fhir/definitions';
import { importFhirFiles, listJsonFiles } from '../../src/fhir/fhir-file-import';
import { Repository } from '../../src/fhir/repository';
import { WritePreparationPool } from '../../src/fhir/write-preparation-pool';

/** What the parent gets back. */
export interface BenchImportResult {
  readonly files: number;
  readonly resources: number;
  readonly seconds: number;
  /** Starting the worker threads (each loads the FHIR definitions), before the clock. */
  readonly poolSeconds: number;
  /** CPU of this process (main thread and workers) during the import, in µs. */
  readonly cpuMicros: number;
  readonly failures: string[];
}

async function run(): Promise<BenchImportResult> {
  const workers = Number(process.env.BENCH_IMPORT_WORKERS);
  const concurrency = Number(process.env.BENCH_IMPORT_CONCURRENCY);
  const database = await openDatabase({ databaseUrl: process.env.BENCH_DATABASE_URL, dataDir: '' });
  try {
    await migrateToLatest(database.db);
    loadFhirDefinitions();
    const repo = new Repository(database.db, { scope: unrestrictedScope('bench'), clock: systemClock, fhirBase: 'http://127.0.0.1/fhir' });
    const files = listJsonFiles([process.env.BENCH_IMPORT_CORPUS!]);
    // The pool starts (each worker loads the FHIR definitions) before the clock, as in a running
    // service; its start time is reported apart, and counted in the cold rate.
    const startedPool = performance.now();
    const preparation = workers > 0 ? WritePreparationPool.start(workers) : undefined;
    await preparation?.ready;
    const poolSeconds = (performance.now() - startedPool) / 1000;
    const cpu = process.cpuUsage();
    const summary = await importFhirFiles(repo, files, { preparation, concurrency }).finally(() => preparation?.close());
    const used = process.cpuUsage(cpu);
    return {
      files: summary.files,
      resources: summary.resources,
      seconds: summary.seconds,
      poolSeconds,
      cpuMicros: used.user + used.system,
      failures: summary.failures.map((f) => `${f.file}: ${f.error}`),
    };
  } finally {
    await database.close();
  }
}

run().then(
  (result) => process.send!(result, () => process.exit(0)),
  (err) => {
    process.stderr.write(`bench import: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
