/**
 * A string search's default match is "starts with" (FHIR string search), after the same normalization as the stored
 * values (lower case, no diacritics). It is written as a range of the string index (src/fhir/search/search-filters.ts
 * stringCondition), so that a statement prepared once for every value still reads only the strings of the prefix:
 * this test holds it to what a plain "starts with" over every name gives, for prefixes whose end is unusual (the last
 * letter of an alphabet, LIKE's own wildcards, characters beyond the Basic Multilingual Plane, the code points around
 * the surrogates, U+10FFFF) and for several alternatives at once.
 */
import type { Patient } from '@medplum/fhirtypes';
import { unrestrictedScope } from '../src/access/access-scope';
import { FixedClock } from '../src/fhir/clock';
import { Repository } from '../src/fhir/repository';
import { normalizeString } from '../src/fhir/search/normalize';
import { parseSearch } from '../src/fhir/search/parse-search';
import { prefixEnd } from '../src/fhir/search/search-filters';
import { openTestDatabase, type TestDatabase } from './support/test-database';

const FAMILIES = [
  'Park',
  'Parker',
  'Parl',
  'Paro',
  'Par%k',
  'Par_k',
  'Pa\\rk',
  'Zoë',
  'Zoe',
  'Zz',
  'Zza',
  '{brace',
  'Ωmega',
  'Ωmegb',
  '😀Smile',
  '😁Grin',
  '\u{D7FF}before',
  '\u{E000}after',
  '\u{FFFF}max',
  '\u{10FFFF}last',
  '\u{10FFFF}\u{10FFFF}twice',
  'Lee',
];

let database: TestDatabase;
let repo: Repository;
beforeAll(async () => {
  database = await openTestDatabase();
  repo = new Repository(database.db, {
    scope: unrestrictedScope(),
    clock: new FixedClock(new Date('2026-03-01T20:00:00Z')),
    fhirBase: 'http://localhost/fhir',
  });
  await repo.createMany(FAMILIES.map((family, i) => ({ resourceType: 'Patient', id: `p${i}`, name: [{ family, given: ['Test'] }] })));
}, 120_000);
afterAll(() => database?.close());

async function familiesFound(query: Record<string, string>): Promise<string[]> {
  const bundle = await repo.search(parseSearch('Patient', { ...query, _count: '100' }));
  return (bundle.entry ?? []).map((e) => (e.resource as Patient).name![0].family!).sort();
}

test('a prefix finds exactly the names that start with it, whatever character it ends in', async () => {
  const prefixes = [
    'par',
    'Par%',
    'par_',
    'pa\\',
    'pa',
    'zo',
    'ZOË',
    'z',
    'zz',
    'Ω',
    'Ωmeg',
    '😀',
    '😁',
    '\u{D7FF}',
    '\u{FFFF}',
    '\u{10FFFF}',
    '\u{10FFFF}\u{10FFFF}',
    'p',
  ];
  for (const prefix of prefixes) {
    const expected = FAMILIES.filter((f) => normalizeString(f).startsWith(normalizeString(prefix))).sort();
    expect([prefix, await familiesFound({ family: prefix })]).toEqual([prefix, expected]);
  }
  // The given name is the same for all: an empty-ended range is not a reason to miss anyone.
  expect(await familiesFound({ given: 'te' })).toEqual([...FAMILIES].sort());
  // Several alternatives, one of them without an end: each is matched as itself.
  const either = FAMILIES.filter((f) => ['parl', '\u{10FFFF}'].some((p) => normalizeString(f).startsWith(p))).sort();
  expect(await familiesFound({ family: 'parl,\u{10FFFF}' })).toEqual(either);
  expect(await familiesFound({ family: 'zz,lee' })).toEqual(['Lee', 'Zz', 'Zza']);
});

test(':contains and :exact are unchanged', async () => {
  expect(await familiesFound({ 'family:contains': 'ar' })).toEqual(['Par%k', 'Par_k', 'Park', 'Parker', 'Parl', 'Paro']);
  expect(await familiesFound({ 'family:contains': '%' })).toEqual(['Par%k']);
  expect(await familiesFound({ 'family:exact': 'Zoë' })).toEqual(['Zoë']);
  expect(await familiesFound({ 'family:exact': 'zoë' })).toEqual([]);
});

test("a prefix's end is the least string above every string that starts with it", () => {
  expect(prefixEnd('park')).toBe('parl');
  expect(prefixEnd('z')).toBe('{');
  expect(prefixEnd('\u{D7FF}')).toBe('\u{E000}');
  expect(prefixEnd('\u{FFFF}')).toBe('\u{10000}');
  expect(prefixEnd('a\u{10FFFF}')).toBe('b');
  expect(prefixEnd('😀')).toBe('😁');
  expect(prefixEnd('')).toBeUndefined();
  expect(prefixEnd('\u{10FFFF}\u{10FFFF}')).toBeUndefined();
});
