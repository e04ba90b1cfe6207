import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, Patient } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import { listJsonFiles } from '../src/fhir/fhir-file-import';
import {
  processStorage,
  type ProcessStorage,
  runChartkeeper,
  spawnChartkeeper,
  startServe,
  staffToken,
} from './support/chartkeeper-process';
import { keepAliveWriter, waitFor, WRITER_SYSTEM } from './support/patient-writers';

/*
 * Crashes that lose nothing (issue 23): kill -9 of an import half way through a corpus, and of the server on the
 * embedded database while it writes. Each runs the real command in a process of its own.
 */

const CORPUS = path.resolve(__dirname, '..', '../shared/corpus/fhir');
const corpusPresent = fs.existsSync(CORPUS);
if (!corpusPresent) console.warn(`Skipping the import crash test: the Synthea corpus ${CORPUS} is absent`);
const SYNTHEA_ID = 'https://github.com/synthetichealth/synthea';

/** One corpus file: its name, its Patient's Synthea id, and how many resources of each type it holds. */
interface CorpusFile {
  readonly name: string;
  readonly patient: string;
  readonly counts: Record<string, number>;
}

function readCorpus(): CorpusFile[] {
  return listJsonFiles([CORPUS]).map((file) => {
    const bundle = JSON.parse(fs.readFileSync(file, 'utf8')) as Bundle;
    const counts: Record<string, number> = {};
    for (const entry of bundle.entry ?? []) counts[entry.resource!.resourceType] = (counts[entry.resource!.resourceType] ?? 0) + 1;
    const patient = bundle.entry!.map((e) => e.resource).find((r): r is Patient => r?.resourceType === 'Patient')!;
    return { name: path.basename(file), patient: patient.identifier!.find((i) => i.system === SYNTHEA_ID)!.value!, counts };
  });
}

function summed(files: CorpusFile[]): Record<string, number> {
  const total: Record<string, number> = {};
  for (const file of files) for (const [type, n] of Object.entries(file.counts)) total[type] = (total[type] ?? 0) + n;
  return total;
}

const resourcesIn = (files: CorpusFile[]) => Object.values(summed(files)).reduce((a, b) => a + b, 0);

/** What the database holds: resources by type, Synthea patient ids, ledger files, versions, index rows without a resource. */
async function holdings(storage: ProcessStorage) {
  const database = await storage.open();
  try {
    const { rows: counts } = await sql<{ resource_type: string; n: number }>`
      select resource_type, count(*)::int as n from resource group by resource_type`.execute(database.db);
    const { rows: patients } = await sql<{ id: string }>`
      select i->>'value' as id from resource r, json_array_elements(r.content::json->'identifier') i
      where r.resource_type = 'Patient' and i->>'system' = ${SYNTHEA_ID} order by 1`.execute(database.db);
    const { rows: ledger } = await sql<{ file_name: string }>`select file_name from imported_file order by 1`.execute(database.db);
    const { rows: versions } = await sql<{ n: number }>`select count(*)::int as n from resource_history`.execute(database.db);
    const { rows: orphans } = await sql<{ n: number }>`
      select ((select count(*) from search_token t where not exists (select 1 from resource r where r.resource_type = t.resource_type and r.id = t.resource_id))
        + (select count(*) from search_reference t where not exists (select 1 from resource r where r.resource_type = t.resource_type and r.id = t.resource_id)))::int as n`.execute(
      database.db,
    );
    return {
      counts: Object.fromEntries(counts.map((c) => [c.resource_type, c.n])),
      patients: patients.map((p) => p.id),
      ledger: ledger.map((l) => l.file_name),
      versions: versions[0].n,
      orphanIndexRows: orphans[0].n,
    };
  } finally {
    await database.close();
  }
}

(corpusPresent ? test : test.skip)(
  'issue 23: kill -9 of chartkeeper import half way through the Synthea corpus leaves each bundle whole or absent, and the next run completes the set with nothing twice',
  async () => {
    const corpus = readCorpus();
    const storage = await processStorage('ck-crash-import');
    try {
      const run = spawnChartkeeper(storage, ['import', CORPUS]);
      // Without a terminal the import writes a line per file: kill it once 8 files are in, with others in flight.
      await waitFor(() => (run.stderr().match(/: \d+ resources$/gm) ?? []).length >= 8, '8 files to be imported', 300_000);
      run.child.kill('SIGKILL');
      expect(await run.exited).toEqual({ code: null, signal: 'SIGKILL' });

      const afterKill = await holdings(storage);
      const whole = corpus.filter((file) => afterKill.patients.includes(file.patient));
      expect(whole.length).toBeGreaterThanOrEqual(8);
      expect(whole.length).toBeLessThan(corpus.length);
      // Every resource in the database belongs to a file whose Patient is there, and all of that file is there.
      expect(afterKill.counts).toEqual(summed(whole));
      expect(afterKill.patients).toEqual(whole.map((f) => f.patient).sort());
      expect(afterKill.ledger).toEqual(whole.map((f) => f.name).sort());
      expect(afterKill.versions).toBe(resourcesIn(whole));
      expect(afterKill.orphanIndexRows).toBe(0);

      const rest = corpus.filter((file) => !whole.includes(file));
      const rerun = await runChartkeeper(storage, ['import', CORPUS]);
      expect(rerun.code).toBe(0);
      expect(rerun.stdout).toMatch(
        new RegExp(`^Imported ${resourcesIn(rest)} resources from ${rest.length} of ${corpus.length} files in `, 'm'),
      );
      expect(rerun.stdout).toContain(`${whole.length} file(s) skipped: imported before (the same SHA-256)`);

      // The same as one clean import of the corpus: every resource once.
      const completed = await holdings(storage);
      expect(completed.counts).toEqual(summed(corpus));
      expect(resourcesIn(corpus)).toBe(10_131);
      expect(completed.patients).toEqual(corpus.map((f) => f.patient).sort());
      expect(completed.ledger).toEqual(corpus.map((f) => f.name).sort());
      expect(completed.versions).toBe(resourcesIn(corpus));
      expect(completed.orphanIndexRows).toBe(0);
    } finally {
      await storage.drop();
    }
  },
  900_000,
);

(process.env.DATABASE_URL ? test.skip : test)(
  'issue 23: kill -9 of the server on the embedded database while it writes: it starts again on the same folder, taking over the stale lock, and every write answered 201 is there',
  async () => {
    const storage = await processStorage('ck-crash-serve');
    let server = await startServe(storage);
    try {
      const token = await staffToken(storage);
      const writers = Array.from({ length: 6 }, (_, i) => keepAliveWriter(server.port, token, `w${i}`));
      await waitFor(() => writers.every((w) => w.outcomes.filter((o) => o.status === 201).length >= 5), 'the writes to run', 120_000);
      const killed = server.child.pid!;
      server.child.kill('SIGKILL');
      expect(await server.exited).toEqual({ code: null, signal: 'SIGKILL' });
      const outcomes = (await Promise.all(writers.map((w) => w.done))).flat();
      expect(outcomes.filter((o) => o.status !== undefined && o.status !== 201)).toEqual([]);
      const answered = outcomes.filter((o) => o.status === 201).map((o) => o.key);
      // The dead server's lock is still in the folder.
      expect(fs.readFileSync(path.join(storage.dataDir, 'chartkeeper.lock'), 'utf8').trim()).toBe(String(killed));

      server = await startServe(storage);
      const ready = await fetch(`http://127.0.0.1:${server.port}/readyz`);
      expect(ready.status).toBe(200);
      const search = await fetch(
        `http://127.0.0.1:${server.port}/fhir/Patient?identifier=${encodeURIComponent(`${WRITER_SYSTEM}|${answered[0]}`)}`,
        {
          headers: { Authorization: `Bearer ${token}` },
        },
      );
      expect(search.status).toBe(200);
      expect(((await search.json()) as Bundle).total).toBe(1);
      server.child.kill('SIGTERM');
      expect(await server.exited).toEqual({ code: 0, signal: null });

      const database = await storage.open();
      try {
        const { rows } = await sql<{ key: string }>`
          select content::json->'identifier'->0->>'value' as key from resource where resource_type = 'Patient' order by 1`.execute(
          database.db,
        );
        const stored = rows.map((r) => r.key);
        // Every answered write is there, once; a write cut off unanswered may be there too, but nothing else is.
        expect(answered.filter((key) => !stored.includes(key))).toEqual([]);
        expect(new Set(stored).size).toBe(stored.length);
        expect(stored.filter((key) => !outcomes.some((o) => o.key === key))).toEqual([]);
      } finally {
        await database.close();
      }
    } finally {
      if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
      await server.exited;
      await storage.drop();
    }
  },
  300_000,
);
