import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { openDatabase } from '../src/db/database';
import { createScratchDatabase, type ScratchDatabase } from './support/scratch-database';
import { writeImportFiles } from './support/import-files';

/** `chartkeeper import` run as a user runs it: bin/chartkeeper.js through its shebang, in a process of its own. */
const BIN = path.resolve(__dirname, '..', 'bin', 'chartkeeper.js');

let files: string;
let dataDir: string;
let scratch: ScratchDatabase | undefined;

beforeAll(async () => {
  files = writeImportFiles();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ck-cli-data-'));
  // On the PostgreSQL run, a fresh database of this file's own; else the embedded database in a temporary folder.
  if (process.env.DATABASE_URL) scratch = await createScratchDatabase(process.env.DATABASE_URL, 'ck_test');
});
afterAll(async () => {
  await scratch?.drop();
  fs.rmSync(files, { recursive: true, force: true });
  fs.rmSync(dataDir, { recursive: true, force: true });
});

function chartkeeper(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  if (scratch) env.DATABASE_URL = scratch.url;
  return new Promise((resolve) => {
    execFile(BIN, [...args, '--data-dir', dataDir], { env, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function storedFamilies(): Promise<string[]> {
  const database = await openDatabase({ databaseUrl: scratch?.url, dataDir });
  try {
    const { rows } = await sql<{ family: string }>`
      select content::json->'name'->0->>'family' as family from resource where resource_type = 'Patient' order by 1`.execute(database.db);
    return rows.map((r) => r.family);
  } finally {
    await database.close();
  }
}

/** The row count the planner's statistics hold for a table (what the last ANALYZE counted). */
async function plannedRows(table: string): Promise<number> {
  const database = await openDatabase({ databaseUrl: scratch?.url, dataDir });
  try {
    const { rows } = await sql<{ n: number }>`select reltuples::int as n from pg_class where relname = ${table} and relkind = 'r'`.execute(
      database.db,
    );
    return rows[0].n;
  } finally {
    await database.close();
  }
}

test('chartkeeper import: a summary of counts and failures, each file whole or not at all, exit status 1 when one failed', async () => {
  const { code, stdout } = await chartkeeper(['import', files, '--workers=1']);
  expect(code).toBe(1);
  expect(stdout).toMatch(/^Imported 6 resources from 3 of 4 files in [\d.]+ s \(\d+ resources\/s\)$/m);
  expect(stdout).toMatch(/^ {2}Patient +3$/m);
  expect(stdout).toMatch(/^ {2}Observation +3$/m);
  expect(stdout).toContain('1 file(s) failed:');
  expect(stdout).toContain(`${path.join(files, 'c.json')}: `);
  expect(stdout).toContain('Bundle.entry[1].resource.Observation.status');
  // Gamma's valid Patient went down with its file's invalid Observation.
  expect(await storedFamilies()).toEqual(['Alpha', 'Beta', 'Delta']);
  // The import analysed what it filled: searches right after it are planned from 6 resources, not an empty table.
  expect(await plannedRows('resource')).toBe(6);
  expect(await plannedRows('imported_file')).toBe(3);
}, 120_000);

test('chartkeeper import-ccda analyses what it filled too', async () => {
  const document = path.resolve(__dirname, '../../shared/corpus/ccda/hl7-cda-ccda-2.1/examples/C-CDA_R2-1_CCD.xml');
  const { code, stdout } = await chartkeeper(['import-ccda', document]);
  expect({ code, stdout }).toEqual({ code: 0, stdout: expect.any(String) as string });
  const database = await openDatabase({ databaseUrl: scratch?.url, dataDir });
  let stored: number;
  try {
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from resource`.execute(database.db);
    stored = rows[0].n;
  } finally {
    await database.close();
  }
  // More than the first import's 6 resources, and the planner knows them all.
  expect(stored).toBeGreaterThan(6);
  expect(await plannedRows('resource')).toBe(stored);
}, 120_000);

test('chartkeeper import: usage without files, and a clear message for a malformed flag (exit status 2)', async () => {
  const bare = await chartkeeper(['import']);
  expect(bare.code).toBe(2);
  expect(bare.stderr).toContain('usage: chartkeeper import FILE|DIR...');
  const malformed = await chartkeeper(['import', files, '--workers=two']);
  expect(malformed.code).toBe(2);
  expect(malformed.stderr).toContain('--workers= and --concurrency= take a whole number');
}, 60_000);
