/**
 * A search of one patient's record starts from the reference index (src/fhir/search/match-source.ts): it orders the
 * record's matching rows by their keys, then checks the caller's access row by row until the page is full; the same
 * search with the reference given twice (`patient=X,X`, the same set) takes the general form, one flat statement over
 * the resource table. Both must serve exactly the same entries in the same order, with the same total and links, for
 * every caller, whether the reference is typed (`Patient/X`) or bare (`X`); and paging through `next` links must serve
 * exactly the entries of one large page.
 */
import type { Bundle } from '@medplum/fhirtypes';
import { portalScope, staffScope } from '../src/access/portal-scope';
import type { AccessScope } from '../src/access/access-scope';
import { FixedClock } from '../src/fhir/clock';
import { Repository } from '../src/fhir/repository';
import { parseSearch } from '../src/fhir/search/parse-search';
import { loadSearchCorpus, type SearchCorpus } from './support/search-corpus';
import { openTestDatabase, type TestDatabase } from './support/test-database';
import { PORTAL_SEARCHES } from './support/portal-searches';

let database: TestDatabase;
let corpus: SearchCorpus;
beforeAll(async () => {
  database = await openTestDatabase();
  corpus = await loadSearchCorpus(database.db, { patients: 12 });
}, 300_000);
afterAll(() => database?.close());

const REFERENCE_PARAMS = new Set(['patient', 'subject']);

function served(bundle: Bundle): { matches: string[]; includes: string[]; total?: number; links: string[] } {
  const entries = bundle.entry ?? [];
  return {
    matches: entries.filter((e) => e.search?.mode === 'match').map((e) => `${e.fullUrl} ${JSON.stringify(e.resource)}`),
    // Included resources come in no particular order.
    includes: entries
      .filter((e) => e.search?.mode === 'include')
      .map((e) => `${e.fullUrl} ${JSON.stringify(e.resource)}`)
      .sort(),
    total: bundle.total,
    // The links name the query as given, which differs between the two forms: only which links there are counts.
    links: (bundle.link ?? []).map((l) => l.relation).sort(),
  };
}

test('every portal search serves the same entries in the same order through either plan, as staff, with full access and billing-only', async () => {
  const [ada, child] = corpus.patientIds;
  const callers: Record<string, AccessScope> = {
    staff: staffScope(corpus.organizationId, 'staff'),
    'full (Ada)': portalScope([{ patientId: ada, level: 'full', self: true }], 'Ada'),
    'billing-only (a parent of a teen)': portalScope([{ patientId: child, level: 'billing', self: false }], 'parent'),
  };
  let compared = 0;
  let nonEmpty = 0;
  for (const [caller, scope] of Object.entries(callers)) {
    const repo = new Repository(database.db, {
      scope,
      clock: new FixedClock(new Date('2026-03-01T20:00:00Z')),
      fhirBase: 'http://localhost/fhir',
    });
    for (const patientId of [ada, child]) {
      for (const search of PORTAL_SEARCHES(patientId)) {
        const twice = Object.fromEntries(Object.entries(search.query).map(([k, v]) => [k, REFERENCE_PARAMS.has(k) ? `${v},${v}` : v]));
        const bare = Object.fromEntries(
          Object.entries(search.query).map(([k, v]) => [k, REFERENCE_PARAMS.has(k) ? v.replace(/^Patient\//, '') : v]),
        );
        for (const page of [{}, { _count: '7', _offset: '7' }, { _count: '5', _total: 'accurate' }, { _count: '3', _total: 'none' }]) {
          const general = served(await repo.search(parseSearch(search.type, { ...twice, ...page })));
          for (const [form, query] of [
            ['typed', search.query],
            ['bare', bare],
          ] as const) {
            const driven = served(await repo.search(parseSearch(search.type, { ...query, ...page })));
            expect({ caller, search: search.name, patientId, page, form, ...driven }).toEqual({
              caller,
              search: search.name,
              patientId,
              page,
              form,
              ...general,
            });
            compared++;
            if (driven.matches.length) nonEmpty++;
          }
        }
      }
    }
  }
  expect(compared).toBe(3 * 2 * 8 * 4 * 2);
  // Staff and Ada see matches in most of them; the billing-only caller in none of the clinical ones.
  expect(nonEmpty).toBeGreaterThan(160);
}, 300_000);

test('paging through next links serves exactly the entries of one large page, and the total only when known or asked', async () => {
  const [ada] = corpus.patientIds;
  const callers: Record<string, AccessScope> = {
    staff: staffScope(corpus.organizationId, 'staff'),
    'full (Ada)': portalScope([{ patientId: ada, level: 'full', self: true }], 'Ada'),
  };
  for (const [caller, scope] of Object.entries(callers)) {
    const repo = new Repository(database.db, {
      scope,
      clock: new FixedClock(new Date('2026-03-01T20:00:00Z')),
      fhirBase: 'http://localhost/fhir',
    });
    for (const search of PORTAL_SEARCHES(ada).filter((s) => s.type !== 'Patient')) {
      const { _count: _ignored, ...query } = search.query;
      const whole = await repo.search(parseSearch(search.type, { ...query, _count: '1000' }));
      const all = (whole.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.fullUrl);
      // One page holds everything: its total is known without counting.
      expect({ caller, search: search.name, total: whole.total }).toEqual({ caller, search: search.name, total: all.length });
      const paged: string[] = [];
      let next: Record<string, string> | undefined = { ...query, _count: '7' };
      while (next) {
        const links = { url: `http://localhost/fhir/${search.type}`, params: new URLSearchParams(next) };
        const page: Bundle = await repo.search(parseSearch(search.type, next), links);
        paged.push(...(page.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.fullUrl as string));
        const link = page.link?.find((l) => l.relation === 'next')?.url;
        // A page with more after it has no total unless asked; the last page's total is known.
        expect({ caller, search: search.name, total: page.total }).toEqual({
          caller,
          search: search.name,
          total: link ? undefined : all.length,
        });
        next = link ? Object.fromEntries(new URL(link).searchParams) : undefined;
      }
      expect({ caller, search: search.name, paged }).toEqual({ caller, search: search.name, paged: all });
      const counted = await repo.search(parseSearch(search.type, { ...query, _count: '2', _total: 'accurate' }));
      expect({ caller, search: search.name, total: counted.total }).toEqual({ caller, search: search.name, total: all.length });
    }
  }
}, 300_000);
