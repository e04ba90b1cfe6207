import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, sql } from 'kysely';
import type { AccessScope } from '../../access/access-scope';
import { unrestrictedScope } from '../../access/access-scope';
import { portalScope, staffScope } from '../../access/portal-scope';
import type { TimedCondition } from '../../access/caller';
import type { Tables } from '../../db/tables';
import { loadFhirDefinitions } from '../definitions';
import { parseSearch } from './parse-search';
import { pageStatementShape } from './search-executor';
import { bindShape, ShapeCache, Slot } from './statement-cache';

beforeAll(() => loadFhirDefinitions());

/** Compiles statements as PostgreSQL would be sent them, without a connection. */
const db = new Kysely<Tables>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (k) => new PostgresIntrospector(k),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

/** Searches in pairs and more of one shape each: different patients, names, dates, offsets, references typed or not. */
const QUERIES: readonly [string, string][] = [
  ['Observation', 'patient=Patient/p1&category=laboratory&_sort=-date&_count=50'],
  ['Observation', 'patient=Patient/p2&category=laboratory&_sort=-date&_count=50&_offset=50'],
  ['Observation', 'patient=p3&category=laboratory&_sort=-date&_count=50'],
  ['Observation', 'patient=p4&category=vital-signs&_sort=-date&_count=50'],
  ['Observation', 'patient=Patient/p5&code=http://loinc.org|4548-4&_sort=-date'],
  ['Observation', 'patient=Patient/p6&code=http://loinc.org|4548-4,|x&_sort=-date'],
  ['Observation', 'patient=Patient/p1,Patient/p2&_sort=-date'],
  ['Observation', 'patient=Patient/p1&date=ge2020-01-01&date=lt2021'],
  ['Observation', 'patient=Patient/p2&date=ge2019-05&date=lt2022-02-03T10:00:00Z'],
  ['Observation', 'patient=Patient/p2&date=le2019-05&date=lt2022-02-03T10:00:00Z'],
  ['Observation', 'patient=Patient/p3&date=2019-02-03T04:05:06Z'],
  ['Observation', 'subject=Patient/p1&patient=Patient/p2'],
  ['Observation', 'subject=Group/g1&patient=Patient/p2'],
  ['Observation', 'patient=https://elsewhere.example/Patient/p1'],
  ['Observation', '_lastUpdated=gt2020-01-01&patient=Patient/p1'],
  ['Observation', 'value-quantity=5.4|http://unitsofmeasure.org|mmol/L&patient=p9'],
  ['Observation', 'patient.name=park&_sort=date'],
  ['Communication', 'subject=Patient/p1&_count=10'],
  ['Communication', 'subject=Patient/p2&_count=10&_offset=10'],
  ['Communication', 'subject=p1&_count=10'],
  ['Communication', 'subject=p3&_count=10'],
  ['Communication', 'subject=Patient/p1&_sort=-sent&_count=20'],
  ['Communication', 'subject=Patient/p7&_sort=-sent&_count=20&_offset=20'],
  ['Communication', 'subject=Patient/p7&_sort=-sent&_count=21'],
  ['DocumentReference', 'patient=Patient/p1&_sort=-date'],
  ['DocumentReference', 'patient=Patient/p8&_sort=date'],
  ['AuditEvent', 'patient=Patient/p1&_sort=-date&_count=50'],
  ['Patient', 'name=park&birthdate=1950-01-10'],
  ['Patient', 'name=ada&birthdate=1987-03'],
  ['Patient', 'name=Zoë%_\\&birthdate=1987'],
  ['Patient', 'name:exact=Park&birthdate=1950-01-10'],
  ['Patient', 'name:contains=ar&birthdate=ne1950-01-10'],
  ['Patient', 'name=park,lee&birthdate=1950-01-10'],
  ['Patient', 'name=kim,lee&birthdate=1951-01-10'],
  ['Patient', 'birthdate=1950-01-10&name=park'],
  ['Patient', 'name=park&_sort=name'],
  ['Patient', 'family=park&given=ada&_count=5'],
  ['Patient', '_id=a1,a2'],
  ['Condition', 'patient=Patient/p1&_revinclude=Provenance:target'],
  ['Condition', 'patient=Patient/p2&_revinclude=Provenance:target'],
  ['MedicationRequest', 'patient=Patient/p1&_include=MedicationRequest:medication'],
  ['MedicationRequest', 'patient=Patient/p3&_include=MedicationRequest:medication&_offset=20'],
  ['MedicationRequest', 'patient=Patient/p3&_include=MedicationRequest:medication:Medication'],
  ['Encounter', 'patient=Patient/p3&_include=Encounter:participant'],
];

/** A caller's condition as caller-scope.ts builds one: its key names everything in it but the time. */
function timed(key: string, account: string): TimedCondition {
  return {
    key,
    now: new Date('2026-03-01T20:00:00Z'),
    at: (now) => sql`exists (select 1 from account a where a.id = ${account} and ${now}::timestamptz > a.created_at)`,
  };
}

const CALLERS: Record<string, { scope: AccessScope; options: Parameters<typeof pageStatementShape>[3] }> = {
  operator: { scope: unrestrictedScope('operator'), options: {} },
  staff: {
    scope: staffScope('org-1', 'staff'),
    options: {
      record: { agent: { who: { reference: 'Practitioner/pr1' }, requestor: true }, interaction: 'search-type', recorded: new Date(1e12) },
      confirmation: { condition: sql`true`, timed: timed('staff caller 1', 'acct-1'), confirmed: () => undefined },
    },
  },
  Ada: {
    scope: portalScope([{ patientId: 'p1', level: 'full', self: true }], 'Ada'),
    options: { confirmation: { condition: sql`true`, timed: timed('portal caller 2', 'acct-2'), confirmed: () => undefined } },
  },
  'billing-only': { scope: portalScope([{ patientId: 'p2', level: 'billing', self: false }], 'parent'), options: {} },
};

test("a statement kept for one search is, with another search's values bound, that other search's own statement", () => {
  let shared = 0;
  for (const [caller, { scope, options }] of Object.entries(CALLERS)) {
    const shapes = QUERIES.map(([type, query]) => ({
      type,
      query,
      shape: pageStatementShape(db, scope, parseSearch(type, query), options),
    }));
    for (const later of shapes) {
      expect({ caller, query: later.query, key: later.shape.key }).toEqual({ caller, query: later.query, key: expect.any(String) });
      const own = bindShape(later.shape.compiled, later.shape.values);
      for (const first of shapes) {
        if (first === later || first.shape.key !== later.shape.key) continue;
        shared++;
        const kept = bindShape(first.shape.compiled, later.shape.values);
        expect({ caller, first: first.query, later: later.query, sql: kept.sql, parameters: kept.parameters }).toEqual({
          caller,
          first: first.query,
          later: later.query,
          sql: own.sql,
          parameters: own.parameters,
        });
      }
    }
  }
  // Most of the searches above share their shape with another (the test compares something).
  expect(shared).toBeGreaterThan(60);
});

test('the values bound are those of the search itself: the patient, the name and dates, the offset and the times', () => {
  const { scope, options } = CALLERS.staff;
  const shape = pageStatementShape(db, scope, parseSearch('Patient', 'name=Zoë&birthdate=1950-01&_offset=40'), options);
  expect(Object.fromEntries(shape.values)).toEqual({
    offset: 40,
    now: new Date('2026-03-01T20:00:00Z'),
    recorded: new Date(1e12).toISOString(),
    // The name's prefix as the range of the strings that start with it.
    'f0.0': 'zoe',
    'f0.1': 'zof',
    'f1.0': '1950-01-01T00:00:00.000Z',
    'f1.1': '1950-01-31T23:59:59.999Z',
  });
  const record = pageStatementShape(db, scope, parseSearch('Observation', 'patient=Patient/p9&category=laboratory'), options);
  expect(record.values.get('driver')).toBe('p9');
  // No slot is left unbound, and every value is bound somewhere.
  const bound = bindShape(record.compiled, record.values);
  expect(bound.parameters.some((p) => p instanceof Slot)).toBe(false);
  expect(bound.parameters).toEqual(expect.arrayContaining(['p9', 'laboratory', 0]));
});

test('different callers, filters, sort keys, page sizes and includes never share a key', () => {
  const keys = new Map<string, string>();
  const distinct: [AccessScope, string, string][] = [
    [CALLERS.staff.scope, 'Observation', 'patient=Patient/p1&category=laboratory'],
    [staffScope('org-1', 'another staff account'), 'Observation', 'patient=Patient/p1&category=laboratory'],
    [CALLERS.staff.scope, 'Observation', 'patient=Patient/p1&category=vital-signs'],
    [CALLERS.staff.scope, 'Observation', 'patient=p1&category=laboratory'],
    [CALLERS.staff.scope, 'Observation', 'patient=Patient/p1&category=laboratory&_count=21'],
    [CALLERS.staff.scope, 'Observation', 'patient=Patient/p1&category=laboratory&_sort=date'],
    [CALLERS.staff.scope, 'Observation', 'subject=Patient/p1&category=laboratory'],
    [CALLERS.staff.scope, 'Patient', 'name=park'],
    [CALLERS.staff.scope, 'Patient', 'name:exact=park'],
    [CALLERS.staff.scope, 'Patient', 'name=park,lee'],
    [CALLERS.staff.scope, 'Patient', 'family=park'],
    [CALLERS.staff.scope, 'Patient', 'birthdate=1950'],
    [CALLERS.staff.scope, 'Patient', 'birthdate=ge1950'],
  ];
  for (const [scope, type, query] of distinct) {
    const { key } = pageStatementShape(db, scope, parseSearch(type, query), CALLERS.staff.options);
    expect({ query, sameAs: keys.get(key!) }).toEqual({ query, sameAs: undefined });
    keys.set(key!, query);
  }
  // A caller whose condition has no key of its own, or no condition of that form, is not kept at all.
  const untimed = { confirmation: { condition: sql<boolean>`true`, confirmed: () => undefined } };
  expect(pageStatementShape(db, CALLERS.staff.scope, parseSearch('Patient', 'name=park'), untimed).key).toBeUndefined();
});

test('a shape is kept from its second search on, and the least recently used goes first', () => {
  const cache = new ShapeCache<string>(2);
  cache.offer('a', 'A');
  expect(cache.get('a')).toBeUndefined();
  cache.offer('a', 'A');
  cache.offer('b', 'B');
  cache.offer('b', 'B');
  expect([cache.get('a'), cache.get('b'), cache.size]).toEqual(['A', 'B', 2]);
  cache.offer('c', 'C');
  cache.offer('c', 'C');
  // 'a' was used before 'b': it went first.
  expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([undefined, 'B', 'C']);
});
