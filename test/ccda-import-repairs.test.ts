/**
 * One value the store cannot take never fails a document: it is reduced (a date to its month) or left out, the rest
 * is imported, and the warning names the entry and the value. Practitioners are joined by an identifier only when
 * it is a real one and their names agree.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Observation, Practitioner } from '@medplum/fhirtypes';
import { unrestrictedScope } from '../src/access/access-scope';
import { importCcda } from '../src/portal/records/ccda-import-service';
import { systemClock } from '../src/fhir/clock';
import { Repository } from '../src/fhir/repository';
import { openTestDatabase, TestDatabase } from './support/test-database';

const CORPUS = path.resolve(__dirname, '../../shared/corpus/ccda');
const H_AND_P = path.join(CORPUS, 'hl7-c-cda-examples/Documents/History and Physical/History_and_Physical.xml');
const GOLDEN = path.resolve(__dirname, '../fixtures/ccda-golden');

let database: TestDatabase;
let repo: Repository;
beforeAll(async () => {
  database = await openTestDatabase();
  repo = new Repository(database.db, { scope: unrestrictedScope('test'), clock: systemClock, fhirBase: 'http://test/fhir' });
});
afterAll(() => database.close());

/** A golden document with its ids and the author's name changed, so each test adds its own patient and doctor. */
function variant(key: string, edit: (xml: string) => string): string {
  const xml = fs.readFileSync(path.join(GOLDEN, 'negated-problem-and-allergy.xml'), 'utf8').replace(/golden-negated-1/g, `repair-${key}`);
  return edit(xml.replace('<family>Lovelace</family>', `<family>Lovelace-${key}</family>`).replace('MRN-1001', `MRN-${key}`));
}

(fs.existsSync(H_AND_P) ? test : test.skip)(
  'the HL7 History and Physical (an observation ending 2010-04-31) imports, that date kept as its month',
  async () => {
    const summary = await importCcda(repo, fs.readFileSync(H_AND_P));
    expect(summary.created.Patient).toBe(1);
    expect(summary.warnings.filter((w) => w.includes('2010043'))).toEqual([
      expect.stringMatching(/^\d+-\d+: entry [^:]+: Timestamp "20100431\d*" has an impossible day; kept as 2010-04$/),
    ]);
    const observations = await repo.searchResources<Observation>('Observation', { patient: summary.patient.reference });
    expect(observations.filter((o) => o.effectivePeriod?.end === '2010-04')).toHaveLength(1);
  },
);

test('a value the store refuses is left out, and the rest of the document imports', async () => {
  // A code with two spaces inside is no FHIR code; the parser passes it on, the store refuses it.
  const xml = variant('code', (x) => x.replace('code="44054006"', 'code="44054006  X"'));
  const summary = await importCcda(repo, xml);
  expect(summary.created).toMatchObject({ Patient: 1, Condition: 1, AllergyIntolerance: 1 });
  expect(summary.warnings).toContainEqual(
    'Condition problem-dm: Condition.code.coding[0].code "44054006  X" could not be stored (Invalid code format); left out',
  );
});

test('an identifier joins two practitioners only when their family names agree', async () => {
  const npi = (x: string) => x.replace(/<family>Seven<\/family>/, '<family>Eight</family>');
  await importCcda(
    repo,
    variant('npi-a', (x) => x),
  );
  await importCcda(repo, variant('npi-b', npi));
  await importCcda(
    repo,
    variant('npi-c', (x) => x),
  );
  const same = await repo.searchResources<Practitioner>('Practitioner', { identifier: 'http://hl7.org/fhir/sid/us-npi|1234567893' });
  // Seven (twice, one resource) and Eight share an NPI in these documents; they are still two people.
  expect(same.map((p) => p.name?.[0]?.family).sort()).toEqual(['Eight', 'Seven']);
});

test('zeros and nines are no practitioner id: two doctors "identified" by 0 stay two', async () => {
  const zero = (family: string) => (x: string) =>
    x
      .replace('<id root="2.16.840.1.113883.4.6" extension="1234567893"/>', '<id root="2.16.840.1.113883.19.5.99999.9" extension="0"/>')
      .replace('<family>Seven</family>', `<family>${family}</family>`);
  await importCcda(repo, variant('zero-a', zero('Zero-A')));
  await importCcda(repo, variant('zero-b', zero('Zero-B')));
  const found = await repo.searchResources<Practitioner>('Practitioner', { family: 'Zero' });
  expect(found.map((p) => [p.name?.[0]?.family, p.identifier?.some((i) => i.value === '0') ?? false]).sort()).toEqual([
    ['Zero-A', false],
    ['Zero-B', false],
  ]);
});
