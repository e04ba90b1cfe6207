import fs from 'node:fs';
import path from 'node:path';
import type { Observation, Patient } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import { unrestrictedScope } from '../access/access-scope';
import { openTestDatabase, TestDatabase } from '../../test/support/test-database';
import { writeImportFiles } from '../../test/support/import-files';
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
    const families = resources.filter((r) => r.resource_type === 'Patient').map((r) => (JSON.parse(r.content) as Patient).name![0].family).sort();
    expect(families).toEqual(['Alpha', 'Beta', 'Delta']);
    for (const row of resources.filter((r) => r.resource_type === 'Observation')) {
      const observation = JSON.parse(row.content) as Observation;
      const patientId = observation.subject!.reference!.split('/')[1];
      expect(row.compartments).toEqual([patientId]);
      const { rows: tokens } = await sql<{ code: string; system: string | null; value: string | null; text: string | null }>`
        select code, system, value, text from search_token where resource_id = ${observation.id!} order by code, system, value, text`.execute(database.db);
      const expected = indexValues(observation).token.map((t) => ({ ...t }));
      const order = (a: { code: string; system: string | null; value: string | null }, b: typeof a) =>
        `${a.code}|${a.system}|${a.value}`.localeCompare(`${b.code}|${b.system}|${b.value}`);
      expect([...tokens].sort(order)).toEqual(expected.sort(order));
      const { rows: refs } = await sql<{ target_id: string }>`select target_id from search_reference where resource_id = ${observation.id!} and code = 'subject'`.execute(database.db);
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
