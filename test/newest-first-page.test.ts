/**
 * A search of one patient's record in the default order (newest first, ties by id) reads its page from the reference
 * index in that order and stops: the first page of Ada's inbox does the same work with 2,000 messages as with 100, for
 * Ada (access rules on) and for staff, on both databases. Before, every message of hers was fetched and sorted for a
 * page of 10. The pages hold what they held, in the same order, and a bare id that names a resource under two target
 * types still gives it once.
 */
import type { Communication, Resource } from '@medplum/fhirtypes';
import { portalScope, staffScope } from '../src/access/portal-scope';
import { type AccessScope, unrestrictedScope } from '../src/access/access-scope';
import { analyzeTables } from '../src/db/table-statistics';
import { FixedClock } from '../src/fhir/clock';
import { Repository } from '../src/fhir/repository';
import { insertNew, prepareDelete, prepareWrite, replaceCurrent } from '../src/fhir/resource-writer';
import { parseSearch } from '../src/fhir/search/parse-search';
import { firstPageStatement } from '../src/fhir/search/search-executor';
import { loadSearchCorpus, type SearchCorpus } from './support/search-corpus';
import { rowsRead as rowsReadBy } from './support/plan-rows';
import { openTestDatabase, type TestDatabase } from './support/test-database';

const T0 = Date.parse('2026-03-01T12:00:00Z');

let database: TestDatabase;
let corpus: SearchCorpus;
let ada: string;
beforeAll(async () => {
  database = await openTestDatabase();
  corpus = await loadSearchCorpus(database.db, { patients: 2, prefix: 'nf' });
  ada = corpus.patientIds[0];
}, 300_000);
afterAll(() => database?.close());

/** Messages `from` to `to` (exclusive) about `patient`, one a minute, every seventh at the same minute as the one before. */
function messages(patient: string, from: number, to: number): { resource: Communication & { id: string }; at: Date }[] {
  const out = [];
  for (let i = from; i < to; i++) {
    const minute = i % 7 === 6 ? i - 1 : i;
    out.push({
      resource: {
        resourceType: 'Communication',
        id: `nf-msg-${patient}-${String(i).padStart(5, '0')}`,
        status: 'completed',
        subject: { reference: `Patient/${patient}` },
        payload: [{ contentString: `message ${i}` }],
      } as Communication & { id: string },
      at: new Date(T0 + minute * 60_000),
    });
  }
  return out;
}

async function write(list: { resource: Resource & { id: string }; at: Date }[]): Promise<void> {
  await database.db.transaction().execute((trx) =>
    insertNew(
      trx,
      list.map((m) => prepareWrite(m.resource, 1, m.at)),
    ),
  );
  await analyzeTables(database.db, ['resource', 'search_reference']);
}

const adaScope = (): AccessScope => portalScope([{ patientId: ada, level: 'full', self: true }], 'Ada');
const staff = (): AccessScope => staffScope(corpus.organizationId, 'staff account s-1');

async function page(scope: AccessScope, query: Record<string, string>): Promise<string[]> {
  const repo = new Repository(database.db, { scope, clock: new FixedClock(new Date(T0)), fhirBase: 'http://localhost/fhir' });
  const bundle = await repo.search(parseSearch('Communication', query));
  return (bundle.entry ?? []).map((e) => e.resource!.id!);
}

/** The rows the first page's statement read (EXPLAIN ANALYZE, test/support/plan-rows.ts). */
async function rowsRead(scope: AccessScope, query: Record<string, string>): Promise<number> {
  const statement = firstPageStatement(scope, parseSearch('Communication', query));
  return rowsReadBy(database.db, statement);
}

/** Ada's messages newest first, ties by id: the order FHIR searches here have always given. */
function newestFirst(list: { resource: { id: string }; at: Date }[]): string[] {
  return [...list]
    .sort((a, b) => b.at.getTime() - a.at.getTime() || (a.resource.id < b.resource.id ? -1 : a.resource.id > b.resource.id ? 1 : 0))
    .map((m) => m.resource.id);
}

test("the first page of Ada's inbox reads the same rows with 2,000 messages as with 100, for Ada and for staff", async () => {
  const few = messages(ada, 0, 100);
  await write(few);
  const inbox = { subject: `Patient/${ada}`, _count: '10' };
  const bare = { subject: ada, _count: '10' };
  const before = {
    ada: await rowsRead(adaScope(), inbox),
    staff: await rowsRead(staff(), inbox),
    bare: await rowsRead(staff(), bare),
  };
  expect(await page(adaScope(), inbox)).toEqual(newestFirst(few).slice(0, 10));

  const many = messages(ada, 100, 2000);
  await write(many);
  const all = [...few, ...many];
  expect(await page(adaScope(), inbox)).toEqual(newestFirst(all).slice(0, 10));
  expect(await page(staff(), { ...inbox, _offset: '20' })).toEqual(newestFirst(all).slice(20, 30));
  expect(await page(staff(), { subject: ada, _count: '1000' })).toEqual(newestFirst(all).slice(0, 1000));
  const after = {
    ada: await rowsRead(adaScope(), inbox),
    staff: await rowsRead(staff(), inbox),
    bare: await rowsRead(staff(), bare),
  };
  // No more work than with 100 messages (the planner may read those 100 whole, a small table), and a few rows per
  // entry of the page of 10: sorting the record read every one of the 2,000.
  for (const key of ['ada', 'staff', 'bare'] as const) {
    expect([key, after[key] <= Math.max(before[key], 100)]).toEqual([key, true]);
  }
}, 300_000);

test('a message updated later comes first, and one deleted is passed over', async () => {
  const other = corpus.patientIds[1];
  const list = messages(other, 0, 30);
  await write(list);
  const [first, second] = [list[3].resource, list[4].resource];
  await database.db.transaction().execute(async (trx) => {
    await replaceCurrent(trx, [prepareWrite({ ...first, status: 'entered-in-error' }, 2, new Date(T0 + 3_600_000))]);
  });
  await database.db
    .transaction()
    .execute((trx) =>
      replaceCurrent(trx, [prepareDelete('Communication', second.id, 2, new Date(T0 + 3_600_000), { compartments: [other], owners: [] })]),
    );
  const expected = [first.id, ...newestFirst(list).filter((id) => id !== first.id && id !== second.id)].slice(0, 10);
  expect(await page(staff(), { subject: `Patient/${other}`, _count: '10' })).toEqual(expected);
}, 300_000);

test('a bare id naming a resource under two target types gives it once', async () => {
  const id = 'nf-shared-id';
  const both: Communication & { id: string } = {
    resourceType: 'Communication',
    id: 'nf-two-types',
    status: 'completed',
    recipient: [{ reference: `Patient/${id}` }, { reference: `Practitioner/${id}` }],
  };
  const one: Communication & { id: string } = { ...both, id: 'nf-one-type', recipient: [{ reference: `Practitioner/${id}` }] };
  await write([
    { resource: both, at: new Date(T0) },
    { resource: one, at: new Date(T0 - 60_000) },
  ]);
  const repo = new Repository(database.db, {
    scope: unrestrictedScope(),
    clock: new FixedClock(new Date(T0)),
    fhirBase: 'http://x/fhir',
  });
  const bundle = await repo.search(parseSearch('Communication', { recipient: id }));
  expect((bundle.entry ?? []).map((e) => e.resource!.id)).toEqual(['nf-two-types', 'nf-one-type']);
}, 300_000);
