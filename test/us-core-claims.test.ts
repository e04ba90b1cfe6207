/**
 * Issue 20, "what this service writes claims US Core only where it meets it": the demo family as seeded and the C-CDA
 * import's output claim the US Core 6.1.0 profiles that fit them, and each claim passes its profile, checked here with
 * @medplum/core's own validator (the service validates with its port of it). The corpus part parses every tenth
 * document of the shared C-CDA corpus on the import's own parse worker (which claims), no database.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Resource, StructureDefinition } from '@medplum/fhirtypes';
import { OperationOutcomeError, validateResource } from '@medplum/core';
import { unrestrictedScope } from '../src/access/access-scope';
import { seedDemoFamily } from '../src/demo/seed-demo';
import { systemClock } from '../src/fhir/clock';
import { Repository } from '../src/fhir/repository';
import { usCoreCandidatesFor } from '../src/fhir/us-core-claims';
import { usCoreClaimsOf } from '../src/fhir/us-core-profiles';
import { importCcda } from '../src/portal/records/ccda-import-service';
import { parseCcdaOffThread } from '../src/portal/records/parse-ccda-off-thread';
import { openTestDatabase, type TestDatabase } from './support/test-database';

/** The errors @medplum/core's validator finds against a profile ([] when the resource meets it). */
function medplumErrors(resource: Resource, profile: StructureDefinition): string[] {
  try {
    return validateResource(resource, { profile })
      .filter((i) => i.severity === 'error' || i.severity === 'fatal')
      .map((i) => `${i.expression?.[0]}: ${i.details?.text}`);
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) throw err;
    return (err.outcome.issue ?? []).map((i) => `${i.expression?.[0]}: ${i.details?.text}`);
  }
}

/** Per resource, the claims that fail their profile (each as "Type/id profile: problem"). */
function failedClaims(resources: readonly Resource[]): string[] {
  return resources.flatMap((r) =>
    usCoreClaimsOf(r).flatMap(({ url, profile }) =>
      medplumErrors(r, profile).map((problem) => `${r.resourceType}/${r.id ?? '?'} ${url.split('/').pop()}: ${problem}`),
    ),
  );
}

/** Per type: resources, and those claiming a US Core profile. */
function claimCounts(resources: readonly Resource[]): Record<string, { all: number; claiming: number }> {
  const out: Record<string, { all: number; claiming: number }> = {};
  for (const r of resources) {
    if (!usCoreCandidatesFor(r).length) continue;
    const count = (out[r.resourceType] ??= { all: 0, claiming: 0 });
    count.all++;
    if (usCoreClaimsOf(r).length) count.claiming++;
  }
  return out;
}

describe('US Core claims of what the service writes', () => {
  let database: TestDatabase;
  let system: Repository;
  beforeAll(async () => {
    database = await openTestDatabase();
    system = new Repository(database.db, { scope: unrestrictedScope(), clock: systemClock, fhirBase: 'http://test/fhir' });
  });
  afterAll(() => database?.close());

  /** Every live resource stored. */
  async function stored(): Promise<Resource[]> {
    const rows = await database.db.selectFrom('resource').select('content').where('deleted', '=', false).execute();
    return rows.map((row) => JSON.parse(row.content) as Resource);
  }

  it('the demo family as seeded: every resource of a type US Core profiles claims the profile it meets, and passes it', async () => {
    await seedDemoFamily(system);
    const resources = await stored();
    expect(failedClaims(resources)).toEqual([]);
    const counts = claimCounts(resources);
    const unclaimed = Object.entries(counts)
      .filter(([, c]) => c.claiming < c.all)
      .map(([type, c]) => `${type}: ${c.all - c.claiming} of ${c.all}`);
    // US Core's pd-1 (`telecom or endpoint`) is a FHIRPath error on a PractitionerRole with two telecoms (a boolean of a
    // collection), so the validator fails the demo's offices: they claim nothing rather than a profile they fail.
    expect(unclaimed).toEqual(['PractitionerRole: 3 of 3']);
    // The family's clinical record, in US Core's words.
    for (const type of ['Patient', 'Condition', 'Observation', 'Immunization', 'MedicationRequest', 'Encounter', 'AllergyIntolerance'])
      expect(counts[type]?.claiming).toBeGreaterThan(0);
    const bp = resources.find((r) => r.resourceType === 'Observation' && r.code?.coding?.some((c) => c.code === '85354-9'));
    expect(bp?.meta?.profile).toEqual(['http://hl7.org/fhir/us/core/StructureDefinition/us-core-blood-pressure']);
  });

  it('a C-CDA import stores its resources claiming the profiles they meet, each passing it', async () => {
    const golden = path.resolve(__dirname, '..', 'fixtures', 'ccda-golden');
    const before = new Set((await stored()).map((r) => `${r.resourceType}/${r.id}`));
    for (const file of fs.readdirSync(golden).filter((f) => f.endsWith('.xml'))) {
      await importCcda(system, fs.readFileSync(path.join(golden, file)));
    }
    const imported = (await stored()).filter((r) => !before.has(`${r.resourceType}/${r.id}`));
    expect(failedClaims(imported)).toEqual([]);
    const counts = claimCounts(imported);
    expect(counts.Patient.claiming).toBeGreaterThan(0);
    expect(Object.values(counts).reduce((n, c) => n + c.claiming, 0)).toBeGreaterThan(20);
  });
});

const CORPUS = path.resolve(__dirname, '..', '../shared/corpus/ccda');
const present = fs.existsSync(CORPUS);
if (!present) console.warn(`Skipping the C-CDA corpus US Core claims test: ${CORPUS} is absent`);
const describeCorpus = present ? describe : describe.skip;

/** Every XML file under a folder. */
function xmlFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return xmlFiles(full);
    return e.name.toLowerCase().endsWith('.xml') ? [full] : [];
  });
}

describeCorpus('US Core claims of the C-CDA corpus import', () => {
  it('every document’s output claims only profiles it passes, and most of it claims one', async () => {
    // Every tenth document of the sorted list: each of the corpus's four collections, at a tenth of the time.
    const files = xmlFiles(CORPUS)
      .sort()
      .filter((_, i) => i % 10 === 0);
    const resources: Resource[] = [];
    let parsed = 0;
    for (const file of files) {
      try {
        const result = await parseCcdaOffThread(fs.readFileSync(file));
        resources.push(...result.bundle.entry.map((e) => e.resource));
        parsed++;
      } catch {
        // Documents the import refuses (not C-CDA, malformed) are another test's (ccda-corpus-import.test.ts).
      }
    }
    expect(parsed).toBeGreaterThan(files.length * 0.9);
    expect(failedClaims(resources)).toEqual([]);
    const counts = claimCounts(resources);
    const rate = (type: string) => (counts[type] ? counts[type].claiming / counts[type].all : 0);
    console.log(
      `US Core claims over ${parsed} documents: ${Object.entries(counts)
        .map(([type, c]) => `${type} ${c.claiming}/${c.all}`)
        .join(', ')}`,
    );
    for (const type of ['Patient', 'Condition', 'AllergyIntolerance', 'Immunization', 'Observation', 'Procedure', 'Encounter'])
      expect(`${type} ${rate(type) > 0.9}`).toBe(`${type} true`);
  });
});
