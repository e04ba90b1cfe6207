/**
 * The seven portal searches serve exactly what they served before they were made faster (issue 22): the entries of
 * every page, in order, their includes, total and links, for staff, a caller with full access (Ada) and a billing-only
 * caller (a parent of a teen), as recorded in test/support/search-pages-recorded.json by the searches as they were
 * at the recording (one record per database: their text collations order ties apart). Each page is kept as a digest
 * of its entries' full URLs and JSON, beside the number of entries, so the record stays small.
 * RECORD_SEARCH_PAGES=1 records anew: only ever with searches known to be right.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Bundle } from '@medplum/fhirtypes';
import { portalScope, staffScope } from '../src/access/portal-scope';
import type { AccessScope } from '../src/access/access-scope';
import { FixedClock } from '../src/fhir/clock';
import { Repository } from '../src/fhir/repository';
import { parseSearch } from '../src/fhir/search/parse-search';
import { loadSearchCorpus, type SearchCorpus } from './support/search-corpus';
import { openTestDatabase, type TestDatabase } from './support/test-database';
import { PORTAL_SEARCHES } from './support/portal-searches';

const RECORD = path.join(__dirname, 'support', 'search-pages-recorded.json');
const DATABASE = process.env.DATABASE_URL ? 'postgres' : 'pglite';

let database: TestDatabase;
let corpus: SearchCorpus;
beforeAll(async () => {
  database = await openTestDatabase();
  corpus = await loadSearchCorpus(database.db, { patients: 12 });
}, 300_000);
afterAll(() => database?.close());

const digest = (lines: string[]): string => createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 24);

/** What one page served, in a form to compare (and record). */
function servedPage(bundle: Bundle): Record<string, unknown> {
  const entries = bundle.entry ?? [];
  const line = (e: NonNullable<Bundle['entry']>[number]): string => `${e.fullUrl} ${JSON.stringify(e.resource)}`;
  const matches = entries.filter((e) => e.search?.mode === 'match').map(line);
  // Included resources come in no particular order.
  const includes = entries
    .filter((e) => e.search?.mode === 'include')
    .map(line)
    .sort();
  return {
    matches: matches.length,
    matchDigest: digest(matches),
    includes: includes.length,
    includeDigest: digest(includes),
    total: bundle.total ?? null,
    links: (bundle.link ?? []).map((l) => `${l.relation} ${l.url}`),
  };
}

test('every portal search serves the recorded entries, in order, as staff, with full access and billing-only', async () => {
  const [ada, child] = corpus.patientIds;
  const callers: Record<string, AccessScope> = {
    staff: staffScope(corpus.organizationId, 'staff'),
    'full (Ada)': portalScope([{ patientId: ada, level: 'full', self: true }], 'Ada'),
    'billing-only (a parent of a teen)': portalScope([{ patientId: child, level: 'billing', self: false }], 'parent'),
  };
  const pages: Record<string, string>[] = [
    {},
    { _count: '7', _offset: '7' },
    { _count: '5', _total: 'accurate' },
    { _count: '0', _total: 'accurate' },
  ];
  const served: Record<string, Record<string, unknown>> = {};
  for (const [caller, scope] of Object.entries(callers)) {
    const repo = new Repository(database.db, {
      scope,
      clock: new FixedClock(new Date('2026-03-01T20:00:00Z')),
      fhirBase: 'http://localhost/fhir',
    });
    for (const [p, patientId] of [ada, child].entries()) {
      for (const search of PORTAL_SEARCHES(patientId)) {
        for (const page of pages) {
          const query = { ...search.query, ...page };
          const links = { url: `http://localhost/fhir/${search.type}`, params: new URLSearchParams(query) };
          served[`${caller} | ${search.name} | patient ${p} | ${new URLSearchParams(page).toString()}`] = servedPage(
            await repo.search(parseSearch(search.type, query), links),
          );
        }
      }
    }
  }
  const record = fs.existsSync(RECORD) ? (JSON.parse(fs.readFileSync(RECORD, 'utf8')) as Record<string, typeof served>) : {};
  if (process.env.RECORD_SEARCH_PAGES === '1') {
    fs.writeFileSync(RECORD, `${JSON.stringify({ ...record, [DATABASE]: served }, null, 1)}\n`);
    return;
  }
  expect(Object.keys(served)).toHaveLength(3 * 2 * 8 * 4);
  // Staff and Ada see entries in most searches of Ada's record; the billing-only caller in none of the clinical ones.
  expect(Object.values(served).filter((page) => (page.matches as number) > 0).length).toBeGreaterThan(60);
  expect(Object.values(served).filter((page) => (page.includes as number) > 0).length).toBeGreaterThan(10);
  expect(served).toEqual(record[DATABASE]);
}, 300_000);
