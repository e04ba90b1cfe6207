import fs from 'node:fs';
import path from 'node:path';
import type { Observation, Patient } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import { unrestrictedScope } from '../access/access-scope';
import { openTestDatabase, TestDatabase } from '../../test/support/test-database';
import { patientCollection, writeImportFiles } from '../../test/support/import-files';
import { FixedClock } from './clock';
import { importFhirFiles, listJsonFiles } from './fhir-file-import';
import { Repository } from './repository';
import { indexValues } from './search/index-values';

let dir: string;
const clock = new FixedClock(new Date('2026-03-01T12:00:00Z'));

beforeAll(() => {
  dir = writeImportFiles();
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function importWith(workers: number): Promise<{ database: TestDatabase; summary: Awaited<ReturnType<typeof importFhirFiles>> }> {
  const database = await openTestDatabase();
  const repo = new Repository(database.db, { scope: unrestrictedScope(), clock, fhirBase: 'http://test/fhir' });
  const summary = await importFhirFiles(repo, listJsonFiles([dir]), { workers, concurrency: 2 });
  return { database, summary };
}

async function storedRows(database: TestDatabase) {
  const { rows: resources } = await sql<{ resource_type: string; content: string; compartments: string[] }>`
    select resource_type, content, compartments from resource order by resource_type, content`.execute(database.db);
  const { rows: history } = await sql<{ n: string }>`select count(*)::text as n from resource_history`.execute(database.db);
  return { resources, history: Number(history[0].n) };
}

test.each([0, 2])('with %i workers: each file whole or not at all, same rows and index as indexing in-process', async (workers) => {
  const { database, summary } = await importWith(workers);
  try {
    expect(summary.files).toBe(4);
    expect(summary.resources).toBe(6);
    expect(summary.created).toEqual({ Patient: 3, Observation: 3 });
    expect(summary.failures).toHaveLength(1);
    expect(summary.failures[0].file).toBe(path.join(dir, 'c.json'));
    expect(summary.failures[0].error).toContain('Bundle.entry[1].resource.Observation.status');

    const { resources, history } = await storedRows(database);
    expect(history).toBe(6);
    const families = resources
      .filter((r) => r.resource_type === 'Patient')
      .map((r) => (JSON.parse(r.content) as Patient).name![0].family)
      .sort();
    expect(families).toEqual(['Alpha', 'Beta', 'Delta']);
    for (const row of resources.filter((r) => r.resource_type === 'Observation')) {
      const observation = JSON.parse(row.content) as Observation;
      const patientId = observation.subject!.reference!.split('/')[1];
      expect(row.compartments).toEqual([patientId]);
      const { rows: tokens } = await sql<{ code: string; system: string | null; value: string | null; text: string | null }>`
        select code, system, value, text from search_token where resource_id = ${observation.id!} order by code, system, value, text`.execute(
        database.db,
      );
      const expected = indexValues(observation).token.map((t) => ({ ...t }));
      const order = (a: { code: string; system: string | null; value: string | null }, b: typeof a) =>
        `${a.code}|${a.system}|${a.value}`.localeCompare(`${b.code}|${b.system}|${b.value}`);
      expect([...tokens].sort(order)).toEqual(expected.sort(order));
      const { rows: refs } = await sql<{
        target_id: string;
      }>`select target_id from search_reference where resource_id = ${observation.id!} and code = 'subject'`.execute(database.db);
      expect(refs).toEqual([{ target_id: patientId }]);
    }
  } finally {
    await database.close();
  }
});

test('a file nested too deeply or holding a NUL character fails alone, with the reason, and writes nothing', async () => {
  const badDir = fs.mkdtempSync(path.join(dir, 'bad-'));
  const database = await openTestDatabase();
  try {
    const deep = path.join(badDir, 'deep.json');
    fs.writeFileSync(deep, `{"resourceType":"Patient","extension":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    const nul = path.join(badDir, 'nul.json');
    fs.writeFileSync(nul, JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Nu\u0000l' }] }));
    const good = path.join(badDir, 'good.json');
    fs.writeFileSync(good, JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Good' }] }));
    const repo = new Repository(database.db, { scope: unrestrictedScope(), clock, fhirBase: 'http://test/fhir' });
    const summary = await importFhirFiles(repo, listJsonFiles([badDir]), { workers: 0 });
    expect(summary.created).toEqual({ Patient: 1 });
    expect(summary.failures).toEqual([
      { file: deep, error: 'The JSON is nested too deeply (more than 100 levels)' },
      { file: nul, error: 'Text may not contain a NUL character (\\u0000) at Patient.name[0].family' },
    ]);
  } finally {
    await database.close();
  }
});

describe('the ledger of imported files (issue 24 item 10)', () => {
  const patient = (family: string, identifier?: string): Patient => ({
    resourceType: 'Patient',
    name: [{ family }],
    ...(identifier ? { identifier: [{ system: 'urn:test', value: identifier }] } : {}),
  });

  async function families(database: TestDatabase): Promise<string[]> {
    const { rows } = await sql<{ family: string }>`
      select content::json->'name'->0->>'family' as family from resource where resource_type = 'Patient' and not deleted order by 1`.execute(
      database.db,
    );
    return rows.map((r) => r.family);
  }

  test('the same bytes twice in one run, under two names and in flight at once: imported once, the other skipped', async () => {
    const twinDir = fs.mkdtempSync(path.join(dir, 'twins-'));
    const database = await openTestDatabase();
    try {
      const bytes = JSON.stringify(patientCollection('Twin', 100));
      fs.writeFileSync(path.join(twinDir, 'one.json'), bytes);
      fs.writeFileSync(path.join(twinDir, 'two.json'), bytes);
      const repo = new Repository(database.db, { scope: unrestrictedScope(), clock, fhirBase: 'http://test/fhir' });
      const summary = await importFhirFiles(repo, listJsonFiles([twinDir]), { workers: 0, concurrency: 2 });
      expect(summary.created).toEqual({ Patient: 1, Observation: 1 });
      expect(summary.failures).toEqual([]);
      expect(summary.skipped).toHaveLength(1);
      const [imported] = [path.join(twinDir, 'one.json'), path.join(twinDir, 'two.json')].filter((f) => f !== summary.skipped[0].file);
      expect(summary.skipped[0].reason).toBe(`imported before as ${imported} on 2026-03-01T12:00:00.000Z (same SHA-256)`);
      expect(await families(database)).toEqual(['Twin']);
    } finally {
      await database.close();
    }
  });

  test('a batch file is recorded entry by entry: a run that failed one entry is finished by the next, creating nothing twice', async () => {
    const batchDir = fs.mkdtempSync(path.join(dir, 'batch-'));
    const database = await openTestDatabase();
    try {
      const repo = new Repository(database.db, { scope: unrestrictedScope(), clock, fhirBase: 'http://test/fhir' });
      // Two patients share an identifier, so the batch's conditional create cannot tell which one it means (412).
      await repo.create(patient('Dup', 'dup'));
      const { resource: second } = await repo.create(patient('Dup', 'dup'));
      const batch = path.join(batchDir, 'batch.json');
      fs.writeFileSync(
        batch,
        JSON.stringify({
          resourceType: 'Bundle',
          type: 'batch',
          entry: [
            { resource: patient('Epsilon'), request: { method: 'POST', url: 'Patient' } },
            { resource: patient('Zeta', 'dup'), request: { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=urn:test|dup' } },
            { resource: patient('Eta'), request: { method: 'POST', url: 'Patient' } },
          ],
        }),
      );
      const first = await importFhirFiles(repo, [batch], { workers: 0 });
      expect(first.created).toEqual({ Patient: 2 });
      expect(first.failures).toEqual([
        { file: batch, error: '1 batch entries failed (entry[1]: The condition "identifier=urn:test|dup" matches more than one Patient)' },
      ]);
      expect(await families(database)).toEqual(['Dup', 'Dup', 'Epsilon', 'Eta']);

      await repo.delete('Patient', second.id!);
      const resumed = await importFhirFiles(repo, [batch], { workers: 0 });
      // Entries 0 and 2 are in the ledger; entry 1 now finds its one match and creates nothing.
      expect(resumed.created).toEqual({});
      expect(resumed.failures).toEqual([]);
      expect(resumed.skipped).toEqual([]);
      expect(await families(database)).toEqual(['Dup', 'Epsilon', 'Eta']);
      const { rows } = await sql<{ entry: number; resources: number }>`select entry, resources from imported_file order by entry`.execute(
        database.db,
      );
      expect(rows).toEqual([
        { entry: 0, resources: 1 },
        { entry: 1, resources: 0 },
        { entry: 2, resources: 1 },
      ]);

      const third = await importFhirFiles(repo, [batch], { workers: 0 });
      expect(third.created).toEqual({});
      expect(third.skipped).toEqual([{ file: batch, reason: 'imported before on 2026-03-01T12:00:00.000Z (same SHA-256)' }]);
      expect(await families(database)).toEqual(['Dup', 'Epsilon', 'Eta']);
    } finally {
      await database.close();
    }
  });
});
