/**
 * A search of one patient's record starts from the reference index (src/fhir/search/match-source.ts); the same search
 * with the reference given twice (`patient=X,X`, the same set) takes the general form over the resource table. Both
 * must serve exactly the same entries in the same order, with the same total, for every caller.
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

function served(bundle: Bundle): { matches: string[]; includes: string[]; total?: number } {
  const entries = bundle.entry ?? [];
  return {
    matches: entries.filter((e) => e.search?.mode === 'match').map((e) => `${e.fullUrl} ${JSON.stringify(e.resource)}`),
    // Included resources come in no particular order.
    includes: entries
      .filter((e) => e.search?.mode === 'include')
      .map((e) => `${e.fullUrl} ${JSON.stringify(e.resource)}`)
      .sort(),
    total: bundle.total,
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
        for (const page of [{}, { _count: '7', _offset: '7' }]) {
          const driven = served(await repo.search(parseSearch(search.type, { ...search.query, ...page })));
          const general = served(await repo.search(parseSearch(search.type, { ...twice, ...page })));
          expect({ caller, search: search.name, patientId, page, ...driven }).toEqual({
            caller,
            search: search.name,
            patientId,
            page,
            ...general,
          });
          compared++;
          if (driven.matches.length) nonEmpty++;
        }
      }
    }
  }
  expect(compared).toBe(3 * 2 * 8 * 2);
  // Staff and Ada see matches in most of them; the billing-only caller in none of the clinical ones.
  expect(nonEmpty).toBeGreaterThan(40);
}, 300_000);
