/**
 * The release check of a portal caller's search (src/access/release-visibility.ts) costs a few index lookups per row
 * of the caller's page, whatever the size of the tables: the plan of Ada's labs does the same work with 500
 * DiagnosticReports and documents awaiting review in the practice as with 3,000, on both databases. A plan that hashed
 * every unreleased report (or every document's context) once per statement did more with every report added. And the
 * check still hides what it hid: Ada's results of an unreleased report and of a report in an unreleased document.
 */
import type { Resource } from '@medplum/fhirtypes';
import { portalScope } from '../src/access/portal-scope';
import { analyzeTables } from '../src/db/table-statistics';
import { FixedClock } from '../src/fhir/clock';
import { Repository } from '../src/fhir/repository';
import { insertNew, prepareWrite } from '../src/fhir/resource-writer';
import { parseSearch } from '../src/fhir/search/parse-search';
import { firstPageStatement } from '../src/fhir/search/search-executor';
import { loadSearchCorpus, type SearchCorpus } from './support/search-corpus';
import { rowsRead } from './support/plan-rows';
import { openTestDatabase, type TestDatabase } from './support/test-database';

const LAB = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] };
const HBA1C = { coding: [{ system: 'http://loinc.org', code: '4548-4' }] };
const now = new Date('2026-03-01T12:00:00Z');

let database: TestDatabase;
let corpus: SearchCorpus;
beforeAll(async () => {
  database = await openTestDatabase();
  corpus = await loadSearchCorpus(database.db, { patients: 3, prefix: 'rc' });
}, 300_000);
afterAll(() => database?.close());

async function write(resources: Resource[]): Promise<void> {
  const writes = resources.map((r) => prepareWrite(r as Resource & { id: string }, 1, now));
  await database.db.transaction().execute((trx) => insertNew(trx, writes));
  await analyzeTables(database.db, ['resource', 'search_token', 'search_reference', 'search_date']);
}

/** `n` results of `patientId` awaiting review: each of an unreleased report, or of a report in an unreleased document. */
function awaitingReview(patientId: string, tag: string, n: number): Resource[] {
  const subject = { reference: `Patient/${patientId}` };
  const out: Resource[] = [];
  for (let i = 0; i < n; i++) {
    const result = `${tag}-obs-${i}`;
    const inDocument = i % 2 === 1;
    out.push(
      {
        resourceType: 'Observation',
        id: result,
        status: 'final',
        subject,
        category: [LAB],
        code: HBA1C,
        effectiveDateTime: now.toISOString(),
      },
      {
        resourceType: 'DiagnosticReport',
        id: `${tag}-report-${i}`,
        status: inDocument ? 'final' : 'preliminary',
        subject,
        code: HBA1C,
        result: [{ reference: `Observation/${result}` }],
      },
    );
    if (inDocument)
      out.push({
        resourceType: 'DocumentReference',
        id: `${tag}-draft-${i}`,
        status: 'current',
        docStatus: 'preliminary',
        subject,
        content: [{ attachment: { contentType: 'text/plain', url: `http://example.org/${tag}/${i}` } }],
        context: { related: [{ reference: `DiagnosticReport/${tag}-report-${i}` }] },
      });
  }
  return out;
}

/** The rows the statement of Ada's first page of labs read (EXPLAIN ANALYZE, test/support/plan-rows.ts). */
async function rowsOfAdasLabs(ada: string): Promise<number> {
  const scope = portalScope([{ patientId: ada, level: 'full', self: true }], 'Ada');
  const statement = firstPageStatement(
    scope,
    parseSearch('Observation', { patient: `Patient/${ada}`, category: 'laboratory', _sort: '-date', _count: '50' }),
  );
  return rowsRead(database.db, statement);
}

async function adasLabs(ada: string): Promise<string[]> {
  const repo = new Repository(database.db, {
    scope: portalScope([{ patientId: ada, level: 'full', self: true }], 'Ada'),
    clock: new FixedClock(now),
    fhirBase: 'http://localhost/fhir',
  });
  const bundle = await repo.search(parseSearch('Observation', { patient: `Patient/${ada}`, category: 'laboratory', _count: '1000' }));
  return (bundle.entry ?? []).map((e) => e.resource!.id!).sort();
}

test("the release check of Ada's labs does the same work with 3,000 reports awaiting review in the practice as with 500", async () => {
  const [ada, other] = corpus.patientIds;
  await write([...awaitingReview(ada, 'rc-ada', 4), ...awaitingReview(other, 'rc-few', 500)]);
  const labs = await adasLabs(ada);
  // Her released labs (80 of the corpus's 120 Observations), none of the four awaiting review.
  expect(labs).toHaveLength(80);
  expect(labs.filter((id) => id.startsWith('rc-ada-'))).toEqual([]);
  const few = await rowsOfAdasLabs(ada);

  await write(awaitingReview(other, 'rc-many', 2500));
  expect(await adasLabs(ada)).toEqual(labs);
  const many = await rowsOfAdasLabs(ada);
  // The same lookups per row, whatever the number of reports of other patients.
  expect(many).toBe(few);
}, 300_000);
