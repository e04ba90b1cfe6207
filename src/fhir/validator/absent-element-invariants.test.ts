import type { Resource } from '@medplum/fhirtypes';
import { toTypedValue } from '@medplum/core';
import { loadFhirDefinitions } from '../definitions';
import { expectSameAsMedplum } from '../../../test/support/medplum-equivalence';
import { holdsForAbsentElements } from './absent-element-invariants';

beforeAll(() => loadFhirDefinitions());

const observation = (extra: Record<string, unknown>): Resource =>
  ({ resourceType: 'Observation', status: 'final', code: { text: 'Weight' }, ...extra }) as unknown as Resource;

test('an invariant of empty() terms holds when the elements it starts from are absent', () => {
  const plain = toTypedValue(observation({ valueQuantity: { value: 70 } }));
  expect(holdsForAbsentElements('contained.contained.empty()', plain)).toBe(true);
  expect(holdsForAbsentElements('contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()', plain)).toBe(true);
  expect(holdsForAbsentElements('dataAbsentReason.empty() or value.empty()', plain)).toBe(true);
});

test('anything it cannot settle by absence is left to FHIRPath', () => {
  const withContained = toTypedValue(observation({ contained: [{ resourceType: 'Patient', id: 'p' }] }));
  expect(holdsForAbsentElements('contained.contained.empty()', withContained)).toBe(false);
  // value[x] is present through one of its typed keys, or only through a primitive extension
  expect(holdsForAbsentElements('value.empty()', toTypedValue(observation({ valueString: 'x' })))).toBe(false);
  expect(holdsForAbsentElements('value.empty()', toTypedValue(observation({ _valueString: { id: 'x' } })))).toBe(false);
  const plain = toTypedValue(observation({}));
  expect(holdsForAbsentElements('value.exists()', plain)).toBe(false); // absent makes exists() false, not true
  expect(holdsForAbsentElements('contained.empty() and value.exists()', plain)).toBe(false);
  expect(holdsForAbsentElements('contained.empty() and value.empty() or note.exists()', plain)).toBe(false); // mixed operators
  expect(holdsForAbsentElements('Observation.contained.empty()', plain)).toBe(false); // the resource itself, not an element
  expect(holdsForAbsentElements('bogus.empty()', plain)).toBe(false); // not an element of the type
  expect(holdsForAbsentElements('contained.where(id = 1).empty()', plain)).toBe(false); // not a plain path
});

test('the validator reports the same broken invariants as medplum with the shortcut', () => {
  const resources = [
    observation({ contained: [{ resourceType: 'Patient', id: 'p', contained: [{ resourceType: 'Patient', id: 'q' }] }] }),
    observation({ contained: [{ resourceType: 'Patient', id: 'p', meta: { versionId: '2' } }] }),
    observation({ contained: [{ resourceType: 'Patient', id: 'p', meta: { security: [{ code: 'R' }] } }] }),
    observation({ dataAbsentReason: { text: 'unknown' }, valueString: 'x' }),
    observation({ dataAbsentReason: { text: 'unknown' }, _valueString: { id: 'v' } }),
    observation({ dataAbsentReason: { text: 'unknown' } }),
    observation({}),
  ];
  const outcomes = resources.map((r) => expectSameAsMedplum(r));
  const texts = outcomes.flatMap((o) => ('thrown' in o ? (o.thrown.issue ?? []) : []).map((i) => i.details?.text ?? ''));
  for (const key of ['dom-2', 'dom-4', 'dom-5', 'obs-6']) expect(texts.some((t) => t.startsWith(`Constraint ${key} not met`))).toBe(true);
});
