import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { patientCollection, writeImportFiles } from './support/import-files';
import { processStorage, type ProcessStorage, runChartkeeper } from './support/chartkeeper-process';

/*
 * `chartkeeper import` run again (after a crash, or by mistake) imports nothing twice: each file's SHA-256 is recorded
 * in the transaction that imports it, and a file whose content is recorded is skipped.
 */

let files: string;
let more: string;
let storage: ProcessStorage;

beforeAll(async () => {
  files = writeImportFiles();
  more = fs.mkdtempSync(`${files}-more-`);
  storage = await processStorage('ck-rerun');
});
afterAll(async () => {
  await storage.drop();
  fs.rmSync(files, { recursive: true, force: true });
  fs.rmSync(more, { recursive: true, force: true });
});

async function stored(): Promise<{ families: string[]; glucose: number[]; counts: Record<string, number>; ledger: number }> {
  const database = await storage.open();
  try {
    const { rows } = await sql<{ family: string }>`
      select content::json->'name'->0->>'family' as family from resource where resource_type = 'Patient' order by 1`.execute(database.db);
    const { rows: counts } = await sql<{ resource_type: string; n: number }>`
      select resource_type, count(*)::int as n from resource group by resource_type`.execute(database.db);
    const { rows: glucose } = await sql<{ value: number }>`
      select (content::json->'valueQuantity'->>'value')::int as value from resource where resource_type = 'Observation' order by 1`.execute(
      database.db,
    );
    const { rows: ledger } = await sql<{ n: number }>`select count(*)::int as n from imported_file`.execute(database.db);
    return {
      families: rows.map((r) => r.family),
      glucose: glucose.map((g) => g.value),
      counts: Object.fromEntries(counts.map((c) => [c.resource_type, c.n])),
      ledger: ledger[0].n,
    };
  } finally {
    await database.close();
  }
}

test('issue 24 item 10: importing the same files again creates nothing; the same bytes under another name are skipped; a changed file of a known name is refused unless --reimport-changed', async () => {
  const first = await runChartkeeper(storage, ['import', files, '--workers=0']);
  expect(first.code).toBe(1); // c.json is invalid
  expect(first.stdout).toMatch(/^Imported 6 resources from 3 of 4 files in /m);
  expect(await stored()).toEqual({
    families: ['Alpha', 'Beta', 'Delta'],
    glucose: [90, 110, 150],
    counts: { Patient: 3, Observation: 3 },
    ledger: 3,
  });

  // Beside the same four files: a.json's bytes under another name, and b.json with a changed glucose value.
  fs.copyFileSync(path.join(files, 'a.json'), path.join(more, 'renamed.json'));
  fs.writeFileSync(path.join(more, 'b.json'), JSON.stringify(patientCollection('Beta', 111)));
  const again = await runChartkeeper(storage, ['import', files, more, '--workers=0']);
  expect(again.code).toBe(1);
  expect(again.stdout).toMatch(/^Imported 0 resources from 0 of 6 files in /m);
  expect(again.stdout).toContain('4 file(s) skipped: imported before (the same SHA-256)');
  expect(again.stdout).toContain('2 file(s) failed:');
  expect(again.stdout).toContain(`${path.join(files, 'c.json')}: `);
  expect(again.stdout).toMatch(
    new RegExp(
      `^  ${escaped(path.join(more, 'b.json'))}: a file of this name was imported before with other content \\(${escaped(path.join(files, 'b.json'))}, [0-9T:.-]+Z, 2 resources\\); ` +
        'importing this one too would add a second copy of whatever both hold. Pass --reimport-changed to import it anyway$',
      'm',
    ),
  );
  // Without a terminal, a line per file says what became of it.
  expect(again.stderr).toMatch(
    new RegExp(`^${escaped(path.join(files, 'a.json'))}: imported before on [0-9T:.-]+Z \\(same SHA-256\\)$`, 'm'),
  );
  expect(again.stderr).toMatch(
    new RegExp(`^${escaped(path.join(more, 'renamed.json'))}: imported before as ${escaped(path.join(files, 'a.json'))} on `, 'm'),
  );
  expect(await stored()).toEqual({
    families: ['Alpha', 'Beta', 'Delta'],
    glucose: [90, 110, 150],
    counts: { Patient: 3, Observation: 3 },
    ledger: 3,
  });

  // The operator decides the changed file holds new data.
  const reimported = await runChartkeeper(storage, ['import', path.join(more, 'b.json'), '--reimport-changed', '--workers=0']);
  expect(reimported.code).toBe(0);
  expect(reimported.stdout).toMatch(/^Imported 2 resources from 1 of 1 files in /m);
  expect(await stored()).toEqual({
    families: ['Alpha', 'Beta', 'Beta', 'Delta'],
    glucose: [90, 110, 111, 150],
    counts: { Patient: 4, Observation: 4 },
    ledger: 4,
  });
}, 240_000);

function escaped(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
