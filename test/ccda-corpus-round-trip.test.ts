/**
 * Every C-CDA document of the shared corpus, end to end, on the database the suite runs on (PGlite, or PostgreSQL
 * with DATABASE_URL): each imports into the database (not only parse and map); then each patient's record is exported
 * as a CCD (all time) and that CCD imported into a fresh database. Per patient, the (section, primary code, negated?,
 * status) assertions of the second import equal the first's (test/support/clinical-assertions.ts); an assertion that
 * a source denied and the export affirms fails with the document and the entry named. A sample of the exports passes
 * the CDA schema and the C-CDA R2.1 Schematron, in one batch call of validate-ccda.
 *
 * Documents run through a small pool: on PostgreSQL several at once (documents about the same person stay in one
 * lane, so the patient match sees them in order); on PGlite, whose one connection serialises writes, one at a time.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { unrestrictedScope } from '../src/access/access-scope';
import { renderCcdForPatient } from '../src/portal/records/ccd-for-patient';
import { importCcda } from '../src/portal/records/ccda-import-service';
import { listCdaFiles } from '../src/cli/import-ccda-command';
import { systemClock } from '../src/fhir/clock';
import { Repository } from '../src/fhir/repository';
import { CCDA_VALIDATOR, ccdaValidatorMissing } from './support/ccda-validator';
import { assertionKey, assertionsOfPatient, type ClinicalAssertion } from './support/clinical-assertions';
import { openTestDatabase, TestDatabase } from './support/test-database';

const CORPUS = path.resolve(__dirname, '../../shared/corpus/ccda');
const present = fs.existsSync(CORPUS);
if (!present) console.warn(`Skipping the C-CDA corpus round trip: ${CORPUS} is absent`);
const describeCorpus = present ? describe : describe.skip;
const LANES = process.env.DATABASE_URL ? 4 : 1;
/** Every how-many-th patient's export goes through the schema and Schematron (each takes a few seconds). */
const VALIDATE_EVERY = 20;

/** Runs `work` over the lanes' items, `lanes` at a time, each lane in order. */
async function runLanes<T>(lanes: T[][], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < lanes.length) {
      const lane = lanes[next++];
      for (const item of lane) await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, lanes.length) }, worker));
}

/** Who a document is about, as cheaply as it can be read (documents about one person share a lane). */
function personKey(xml: string): string {
  const target = xml.slice(xml.indexOf('recordTarget'), xml.indexOf('recordTarget') + 6000);
  return `${/<family[^>]*>([^<]*)</.exec(target)?.[1]?.trim().toLowerCase()}|${/<birthTime value="(\d{8})/.exec(target)?.[1]}`;
}

function vendorOf(file: string): string {
  return path.relative(CORPUS, file).split(path.sep).slice(0, 2).join('/');
}

describeCorpus('C-CDA corpus: import, export, import again', () => {
  const files = present ? listCdaFiles([CORPUS]) : [];
  let first: TestDatabase;
  let second: TestDatabase;
  let repo1: Repository;
  let repo2: Repository;
  /** DB1 patient id per document, for the documents that imported. */
  const patientOf = new Map<string, string>();
  const exported = new Map<string, string>();

  beforeAll(async () => {
    first = await openTestDatabase();
    second = await openTestDatabase();
    const options = { scope: unrestrictedScope('test'), clock: systemClock, fhirBase: 'http://test/fhir' };
    repo1 = new Repository(first.db, options);
    repo2 = new Repository(second.db, options);
  });
  afterAll(async () => {
    await first?.close();
    await second?.close();
  });

  test('every document imports end to end into the database', async () => {
    expect(files.length).toBeGreaterThanOrEqual(600);
    const lanes = new Map<string, { file: string; xml: Buffer }[]>();
    for (const file of files) {
      const xml = fs.readFileSync(file);
      const key = personKey(xml.toString('utf8'));
      lanes.set(key, [...(lanes.get(key) ?? []), { file, xml }]);
    }
    const failures: string[] = [];
    const started = performance.now();
    await runLanes([...lanes.values()], LANES, async ({ file, xml }) => {
      try {
        const summary = await importCcda(repo1, xml);
        patientOf.set(file, summary.patient.reference.split('/')[1]);
      } catch (err) {
        const outcome = (err as { outcome?: { issue?: { details?: { text?: string }; expression?: string[] }[] } }).outcome;
        failures.push(
          `${path.relative(CORPUS, file)}: ${outcome?.issue?.map((i) => `${i.details?.text} at ${i.expression?.join(', ')}`).join('; ') ?? (err as Error).message}`,
        );
      }
    });
    console.log(
      `${files.length - failures.length}/${files.length} corpus documents imported end to end in ${((performance.now() - started) / 1000).toFixed(1)} s (${LANES} lane(s))`,
    );
    expect(failures).toEqual([]);
  }, 1_200_000);

  test('each record exported and imported into a fresh database asserts exactly what it did, negations included', async () => {
    const patients = [...new Set(patientOf.values())];
    expect(patients.length).toBeGreaterThan(100);
    const docsOf = new Map<string, string[]>();
    for (const [file, patient] of patientOf) docsOf.set(patient, [...(docsOf.get(patient) ?? []), file]);
    const differences: string[] = [];
    const flips: string[] = [];
    const identical = new Set<string>();
    const started = performance.now();
    await runLanes(
      patients.map((p) => [p]),
      LANES,
      async (patient) => {
        const { xml } = await renderCcdForPatient(repo1, patient);
        exported.set(patient, xml);
        const summary = await importCcda(repo2, xml);
        const before = await assertionsOfPatient(first.db, patient);
        const after = await assertionsOfPatient(second.db, summary.patient.reference.split('/')[1]);
        const docs = (docsOf.get(patient) ?? []).map((f) => path.relative(CORPUS, f)).join(', ');
        const keys = (list: ClinicalAssertion[]) => new Set(list.map(assertionKey));
        const [was, is] = [keys(before), keys(after)];
        const lost = [...was].filter((k) => !is.has(k));
        const gained = [...is].filter((k) => !was.has(k));
        if (!lost.length && !gained.length) {
          identical.add(patient);
          return;
        }
        differences.push(`${docs}: lost [${lost.join('; ')}] gained [${gained.join('; ')}]`);
        // A denial that comes back affirmed is the failure that matters most: name the entry it came from.
        for (const a of before.filter((x) => x.negated)) {
          const affirmed = after.find((x) => x.section === a.section && x.code === a.code && !x.negated);
          const stillNegated = after.some((x) => x.section === a.section && x.code === a.code && x.negated);
          if (affirmed && !stillNegated)
            flips.push(`${docs}: ${a.section} ${a.code} (entry ${a.entry}) was negated and came back affirmed (entry ${affirmed.entry})`);
          else if (!stillNegated)
            flips.push(`${docs}: ${a.section} ${a.code} (entry ${a.entry}) was negated and is missing from the export`);
        }
      },
    );
    const byVendor = new Map<string, { docs: number; identical: number }>();
    for (const [file, patient] of patientOf) {
      const row = byVendor.get(vendorOf(file)) ?? { docs: 0, identical: 0 };
      byVendor.set(vendorOf(file), row);
      row.docs++;
      if (identical.has(patient)) row.identical++;
    }
    console.log(
      [
        'vendor folder                                          documents  identical after export + import',
        ...[...byVendor].sort().map(([vendor, r]) => `${vendor.slice(0, 54).padEnd(54)} ${String(r.docs).padStart(9)}  ${r.identical}`),
        `${patients.length} patients exported and imported again in ${((performance.now() - started) / 1000).toFixed(1)} s`,
      ].join('\n'),
    );
    expect(flips).toEqual([]);
    expect(differences).toEqual([]);
  }, 1_200_000);

  const validatorMissing = ccdaValidatorMissing();
  (validatorMissing ? test.skip : test)(
    'the exports pass the CDA schema and the C-CDA R2.1 Schematron (a sample, one batch call)',
    () => {
      expect(exported.size).toBeGreaterThan(100);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccda-corpus-exports-'));
      try {
        const sample = [...exported].filter((_, i) => i % VALIDATE_EVERY === 0);
        for (const [patient, xml] of sample) fs.writeFileSync(path.join(dir, `${patient}.xml`), xml);
        const run = spawnSync('bash', ['-c', `ls "${dir}"/*.xml | xargs -P2 -n8 "${CCDA_VALIDATOR}" --quiet`], {
          encoding: 'utf8',
          maxBuffer: 64 * 1024 * 1024,
        });
        const results = run.stdout
          .trim()
          .split('\n')
          .filter((line) => line.includes('\txsd='));
        expect(results).toHaveLength(sample.length);
        expect(results.filter((line) => !line.endsWith('xsd=0\tschematron=0'))).toEqual([]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
    900_000,
  );
});
