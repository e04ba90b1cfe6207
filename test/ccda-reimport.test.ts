import fs from 'node:fs';
import path from 'node:path';
import type { Identifier, Practitioner } from '@medplum/fhirtypes';
import { unrestrictedScope } from '../src/access/access-scope';
import { importCcda } from '../src/portal/records/ccda-import-service';
import { systemClock } from '../src/fhir/clock';
import { Repository } from '../src/fhir/repository';
import { listCdaFiles } from '../src/cli/import-ccda-command';
import { CODE_SYSTEMS } from '../src/ccda/code-systems';
import { parseCcda } from '../src/ccda/parse';
import { openTestDatabase, TestDatabase } from './support/test-database';

const CORPUS = path.resolve(__dirname, '../../shared/corpus/ccda');
const haveCorpus = fs.existsSync(CORPUS);
if (!haveCorpus) console.warn(`skipping the C-CDA re-import test: ${CORPUS} is absent`);

let database: TestDatabase;
beforeAll(async () => {
  database = await openTestDatabase();
});
afterAll(() => database.close());

(haveCorpus ? test : test.skip)(
  'real vendor documents imported twice: the second pass creates and changes nothing',
  async () => {
    // Every 25th document of the sorted corpus: all vendor folders are represented, the run stays short.
    const files = listCdaFiles([CORPUS]).filter((_, i) => i % 25 === 0);
    expect(files.length).toBeGreaterThanOrEqual(25);
    const repo = new Repository(database.db, { scope: unrestrictedScope('test'), clock: systemClock, fhirBase: 'http://test/fhir' });
    const firstCreated: number[] = [];
    for (const file of files) {
      const summary = await importCcda(repo, fs.readFileSync(file));
      firstCreated.push(Object.values(summary.created).reduce((a, b) => a + b, 0));
    }
    expect(firstCreated.every((n) => n > 0)).toBe(true);
    const again: [string, Record<string, number>, Record<string, number>][] = [];
    for (const file of files) {
      const summary = await importCcda(repo, fs.readFileSync(file));
      expect(summary.document.alreadyImported).toBe(true);
      again.push([path.basename(file), summary.created, summary.updated]);
    }
    expect(again.filter(([, created, updated]) => Object.keys(created).length || Object.keys(updated).length)).toEqual([]);
  },
  300_000,
);

(haveCorpus ? test : test.skip)('no mapped resource is identified by a bare well-known namespace (an NPI root without its value)', () => {
  // Vendors write <id root="2.16.840.1.113883.4.6"/> for a practitioner without an NPI. Taken as an identifier, it made
  // different people "the same" across documents; once two existed, every re-import found several and created one more.
  const bare = new Set(CODE_SYSTEMS.map((s) => `urn:oid:${s.oid}`));
  const offenders: string[] = [];
  for (const file of listCdaFiles([CORPUS])) {
    let entries;
    try {
      entries = parseCcda(fs.readFileSync(file)).bundle.entry;
    } catch {
      continue;
    }
    for (const { resource } of entries) {
      const ids = (resource as { identifier?: Identifier | Identifier[] }).identifier;
      for (const id of Array.isArray(ids) ? ids : ids ? [ids] : []) {
        if (id.system === 'urn:ietf:rfc:3986' && bare.has(id.value ?? ''))
          offenders.push(`${path.basename(file)}: ${resource.resourceType} ${id.value}`);
      }
    }
  }
  expect(offenders).toEqual([]);
});

(haveCorpus ? test : test.skip)(
  'placeholder ids identify nobody: two doctors whose NPI is written "UNK" stay two Practitioners',
  async () => {
    // Greenway writes <id root="2.16.840.1.113883.4.6" extension="UNK"/> for every practitioner without an NPI; others
    // write 99999999 or a number that fails the NPI check digit. Taken as an NPI, it merged different doctors.
    const file = path.join(CORPUS, 'chb-sample_ccdas/Greenway Samples/26840_ClinicalVisitSummary_CCDA.xml');
    const repo = new Repository(database.db, { scope: unrestrictedScope('test'), clock: systemClock, fhirBase: 'http://test/fhir' });
    await importCcda(repo, fs.readFileSync(file));
    // Before, the second doctor's conditional update (Practitioner?identifier=us-npi|UNK) found the first one and
    // overwrote him: only one of the two names was left.
    for (const family of ['Ingram', 'Seven']) {
      const found = await repo.searchResources<Practitioner>('Practitioner', { name: family });
      expect(found.map((p) => p.name?.[0]?.family)).toContain(`${family}, M.D.`);
    }
    const placeholders = await repo.searchResources<Practitioner>('Practitioner', { identifier: 'http://hl7.org/fhir/sid/us-npi|UNK' });
    expect(placeholders).toEqual([]);
  },
);
