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
import { NEWEST_FIRST_SLACK } from '../src/fhir/search/match-source';
import { sql } from 'kysely';
import type { Tables } from '../src/db/tables';
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

/** Rows of `table` the first page's statement read as `scope`, planned with index scans switched off (bitmap scans and sorts only). */
async function rowsReadSorting(scope: AccessScope, query: Record<string, string>, table: string): Promise<number> {
  const statement = firstPageStatement(scope, parseSearch('Communication', query));
  return database.db.transaction().execute(async (trx) => {
    await sql`set local enable_indexscan = off`.execute(trx);
    return rowsReadBy<Tables>(trx, statement, table);
  });
}

test('a plan that sorts the whole record still fetches and checks only the rows a page can need', async () => {
  // The planner may sort a record rather than walk the index in order (statistics that expect 5 of 1,100 messages did
  // so in a soak). Forced to, it still reads the index rows only; the resources behind them are fetched for the page
  // and its slack, not for every message of the record.
  const heavy = corpus.patientIds[1];
  const list = messages(heavy, 1000, 2500);
  await write(list);
  const scope = portalScope([{ patientId: heavy, level: 'full', self: true }], 'heavy');
  const inbox = { subject: `Patient/${heavy}`, _count: '10' };
  const resources = await rowsReadSorting(scope, inbox, 'resource');
  expect(resources).toBeLessThanOrEqual(10 + 1 + NEWEST_FIRST_SLACK);
  expect(await rowsReadSorting(staff(), { ...inbox, _offset: '40' }, 'resource')).toBeLessThanOrEqual(40 + 10 + 1 + NEWEST_FIRST_SLACK);
  expect(await page(scope, inbox)).toEqual(newestFirst(list).slice(0, 10));
}, 300_000);

test('a run of hidden rows longer than the slack: the page is read again from the whole record, and is exact', async () => {
  const heavy = corpus.patientIds[1];
  const scope = portalScope([{ patientId: heavy, level: 'full', self: true }], 'heavy');
  const inbox = { subject: `Patient/${heavy}`, _count: '10' };
  const before = await page(staff(), { subject: `Patient/${heavy}`, _count: '1000' });
  // The newest NEWEST_FIRST_SLACK + 20 messages entered in error: the portal does not show them; staff still see them.
  const hidden = before.slice(0, NEWEST_FIRST_SLACK + 20);
  const at = new Date(T0 + 30 * 86_400_000);
  const rows = await database.db.selectFrom('resource').select(['id', 'content', 'version']).where('id', 'in', hidden).execute();
  await database.db.transaction().execute((trx) =>
    replaceCurrent(
      trx,
      rows.map((row) => {
        const content = (typeof row.content === 'string' ? JSON.parse(row.content) : row.content) as Communication & { id: string };
        return prepareWrite({ ...content, status: 'entered-in-error' }, Number(row.version) + 1, at);
      }),
    ),
  );
  const shown = before.filter((id) => !hidden.includes(id));
  expect(await page(scope, inbox)).toEqual(shown.slice(0, 10));
  expect(await page(scope, { ...inbox, _offset: '10' })).toEqual(shown.slice(10, 20));
  // Staff see them, newest first (updated last, in id order among the same time).
  expect((await page(staff(), inbox)).sort()).toEqual([...hidden].sort().slice(0, 10));
}, 300_000);
