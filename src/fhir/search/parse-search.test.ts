import type { Observation, Patient } from '@medplum/fhirtypes';
import { openTestDatabase, TestDatabase } from '../../../test/support/test-database';
import { unrestrictedScope } from '../../access/access-scope';
import { FixedClock } from '../clock';
import { loadFhirDefinitions } from '../definitions';
import { Repository } from '../repository';
import { parseSearch } from './parse-search';

beforeAll(() => loadFhirDefinitions());

test('values of parameters without comparison prefixes keep their first letters', () => {
  expect(parseSearch('Observation', { _id: 'eb1f2c3d', code: ['ne55', 'plain'], patient: 'ge7' }).filters).toEqual([
    { code: '_id', operator: 'eq', value: 'eb1f2c3d' },
    { code: 'code', operator: 'eq', value: 'ne55' },
    { code: 'code', operator: 'eq', value: 'plain' },
    { code: 'patient', operator: 'eq', value: 'ge7' },
  ]);
  expect(parseSearch('Patient', '_id=sa1,eb2&identifier=lt9').filters).toEqual([
    { code: '_id', operator: 'eq', value: 'sa1,eb2' },
    { code: 'identifier', operator: 'eq', value: 'lt9' },
  ]);
});

test('date, quantity and _lastUpdated values keep their prefixes; modifiers and other parameters are as medplum parses them', () => {
  const request = parseSearch('Observation', {
    date: 'ge2020-01-01',
    'value-quantity': 'gt5',
    _lastUpdated: 'lt2026-01-01',
    'code:not': 'eb1',
    _count: '7',
  });
  expect(request.filters).toEqual([
    { code: 'date', operator: 'ge', value: '2020-01-01' },
    { code: 'value-quantity', operator: 'gt', value: '5' },
    { code: '_lastUpdated', operator: 'lt', value: '2026-01-01' },
    { code: 'code', operator: 'not', value: 'eb1' },
  ]);
  expect(request.count).toBe(7);
});

describe('searching for ids that start like a prefix', () => {
  let database: TestDatabase;
  let repo: Repository;
  beforeAll(async () => {
    database = await openTestDatabase();
    repo = new Repository(database.db, {
      scope: unrestrictedScope(),
      clock: new FixedClock(new Date('2026-11-22T12:00:00Z')),
      fhirBase: 'http://test/fhir',
    });
  });
  afterAll(() => database.close());

  test('_id=eb1… and patient=eb1… find them', async () => {
    await repo.update<Patient>({ resourceType: 'Patient', id: 'eb1f0000-aaaa-4bbb-8ccc-000000000001', name: [{ family: 'Prefix' }] });
    await repo.update<Observation>({
      resourceType: 'Observation',
      id: 'ne5f0000-aaaa-4bbb-8ccc-000000000002',
      status: 'final',
      code: { text: 'Weight' },
      subject: { reference: 'Patient/eb1f0000-aaaa-4bbb-8ccc-000000000001' },
    });
    expect((await repo.searchResources('Patient', { _id: 'eb1f0000-aaaa-4bbb-8ccc-000000000001' })).map((r) => r.id)).toEqual([
      'eb1f0000-aaaa-4bbb-8ccc-000000000001',
    ]);
    expect((await repo.searchResources('Observation', { patient: 'eb1f0000-aaaa-4bbb-8ccc-000000000001' })).map((r) => r.id)).toEqual([
      'ne5f0000-aaaa-4bbb-8ccc-000000000002',
    ]);
    expect(await repo.conditionalMatch('Observation', '_id=ne5f0000-aaaa-4bbb-8ccc-000000000002')).toMatchObject({
      id: 'ne5f0000-aaaa-4bbb-8ccc-000000000002',
    });
  });
});

test('composite and special parameters, which the server does not search on, are a 400 naming the parameter', () => {
  const refusal = (type: string, query: string) => {
    try {
      parseSearch(type, query);
    } catch (err) {
      return [(err as { status: number }).status, (err as { outcome: { issue: unknown[] } }).outcome.issue];
    }
    return undefined;
  };
  expect(refusal('Observation', 'code-value-quantity=8867-4$gt60')).toEqual([
    400,
    [
      {
        severity: 'error',
        code: 'not-supported',
        details: { text: 'Search parameter "code-value-quantity" (composite) is not supported' },
        expression: ['code-value-quantity'],
      },
    ],
  ]);
  expect(refusal('Observation', 'component-code-value-quantity:missing=true')).toEqual([
    400,
    [
      {
        severity: 'error',
        code: 'not-supported',
        details: { text: 'Search parameter "component-code-value-quantity" (composite) is not supported' },
        expression: ['component-code-value-quantity'],
      },
    ],
  ]);
  expect(refusal('Location', 'near=47.6|-122.3|10|km')).toEqual([
    400,
    [
      {
        severity: 'error',
        code: 'not-supported',
        details: { text: 'Search parameter "near" (special) is not supported' },
        expression: ['near'],
      },
    ],
  ]);
});

test('a NUL character in a parameter name or value is a 400 before any statement runs', () => {
  expect(() => parseSearch('Patient', { name: '\u0000' })).toThrow('Text may not contain a NUL character (\\u0000)');
  expect(() => parseSearch('Observation', 'code=%00')).toThrow('Text may not contain a NUL character (\\u0000)');
  expect(() => parseSearch('Patient', { 'na\u0000me': 'x' })).toThrow('Text may not contain a NUL character (\\u0000)');
});
