import { expandValueSet } from './value-set-expansion';

test('a ValueSet that includes a whole code system expands to its codes; the |version suffix is ignored', () => {
  const gender = expandValueSet('http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1');
  expect(gender?.url).toBe('http://hl7.org/fhir/ValueSet/administrative-gender');
  expect([...(gender?.codes ?? [])]).toEqual(['male', 'female', 'other', 'unknown']);
  expect([...(gender?.bySystem.keys() ?? [])]).toEqual(['http://hl7.org/fhir/administrative-gender']);
});

test('nested concepts of a hierarchical code system are included', () => {
  // observation-status: "amended" has the child concept "corrected".
  const status = expandValueSet('http://hl7.org/fhir/ValueSet/observation-status');
  expect([...(status?.codes ?? [])].sort()).toEqual(
    ['amended', 'cancelled', 'corrected', 'entered-in-error', 'final', 'preliminary', 'registered', 'unknown'].sort(),
  );
});

test('a ValueSet listing explicit concepts expands to just those', () => {
  // supplydelivery-type lists two concepts of its code system.
  const type = expandValueSet('http://hl7.org/fhir/ValueSet/supplydelivery-type');
  expect([...(type?.bySystem.get('http://terminology.hl7.org/CodeSystem/supply-item-type') ?? [])]).toEqual(['medication', 'device']);
});

test('HL7 v3 ValueSets come from the v3 terminology file', () => {
  const confidentiality = expandValueSet('http://terminology.hl7.org/ValueSet/v3-ConfidentialityClassification|2014-03-26');
  expect([...(confidentiality?.codes ?? [])].sort()).toEqual(['L', 'M', 'N', 'R', 'U', 'V']);
});

test('ValueSets we cannot expand offline are undefined, never empty', () => {
  expect(expandValueSet('http://hl7.org/fhir/ValueSet/mimetypes')).toBeUndefined(); // urn:ietf:bcp:13
  expect(expandValueSet('http://hl7.org/fhir/ValueSet/condition-code')).toBeUndefined(); // SNOMED CT
  expect(expandValueSet('http://hl7.org/fhir/ValueSet/ucum-units')).toBeUndefined(); // UCUM
  expect(expandValueSet('http://example.org/ValueSet/nothing')).toBeUndefined();
});
