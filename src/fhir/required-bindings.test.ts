import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { buildDemoFamily } from '../../fixtures/demo-family';
import { loadFhirDefinitions } from './definitions';
import { FhirError } from './outcomes';
import { requiredBindingIssues } from './required-bindings';
import { assertValidResource } from './validation';

beforeAll(() => loadFhirDefinitions());

const GENDER_VS = 'http://hl7.org/fhir/ValueSet/administrative-gender';

function issue(code: string, valueSet: string, allowed: string, expression: string, system?: string): OperationOutcomeIssue {
  const from = system ? ` of ${system}` : '';
  return {
    severity: 'error',
    code: 'code-invalid',
    details: { text: `Code "${code}"${from} is not in the required value set ${valueSet}${allowed}` },
    expression: [expression],
  };
}

/** The 400 OperationOutcome issues assertValidResource throws for a resource. */
function validationIssues(resource: unknown): OperationOutcomeIssue[] {
  try {
    assertValidResource(resource);
  } catch (err) {
    expect(err).toBeInstanceOf(FhirError);
    expect((err as FhirError).status).toBe(400);
    return (err as FhirError).outcome.issue ?? [];
  }
  return [];
}

test('Patient.gender "bogus" gets a 400 naming the element and the allowed codes', () => {
  expect(validationIssues({ resourceType: 'Patient', gender: 'bogus' })).toEqual([
    issue('bogus', GENDER_VS, '; allowed: male, female, other, unknown', 'Patient.gender'),
  ]);
  expect(validationIssues({ resourceType: 'Patient', gender: 'female' })).toEqual([]);
});

test('Observation.status outside observation-status', () => {
  const observation = { resourceType: 'Observation', status: 'done', code: { text: 'Weight' } };
  expect(validationIssues(observation)).toEqual([
    issue(
      'done',
      'http://hl7.org/fhir/ValueSet/observation-status',
      '; allowed: registered, preliminary, final, amended, corrected, cancelled, entered-in-error, unknown',
      'Observation.status',
    ),
  ]);
});

test('codes inside datatypes, backbone elements, choice types, extensions and contained resources are checked', () => {
  const patient = {
    resourceType: 'Patient',
    identifier: [
      { use: 'usual', value: 'A1' },
      { use: 'favourite', value: 'A2' },
    ],
    telecom: [
      { system: 'pager', value: '1' },
      { system: 'carrier-pigeon', value: '2' },
    ],
    contact: [{ gender: 'male' }, { gender: 'M' }],
    extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace', valueAddress: { use: 'holiday', city: 'Oslo' } }],
    contained: [{ resourceType: 'Practitioner', id: 'p1', gender: 'F' }],
    generalPractitioner: [{ reference: '#p1' }],
  };
  expect(requiredBindingIssues(patient as Resource).map((i) => i.expression?.[0])).toEqual([
    'Patient.contained[0].gender',
    'Patient.extension[0].valueAddress.use',
    'Patient.identifier[1].use',
    'Patient.telecom[1].system',
    'Patient.contact[1].gender',
  ]);
  const observation = { resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueQuantity: { value: 1, comparator: '<<' } };
  expect(requiredBindingIssues(observation as Resource)).toEqual([
    issue('<<', 'http://hl7.org/fhir/ValueSet/quantity-comparator', '; allowed: <, <=, >=, >', 'Observation.valueQuantity.comparator'),
  ]);
});

test('a CodeableConcept is judged only on codings from the bound code system', () => {
  const system = 'http://terminology.hl7.org/CodeSystem/condition-clinical';
  const condition = {
    resourceType: 'Condition',
    subject: { reference: 'Patient/1' },
    clinicalStatus: {
      coding: [
        { system: 'http://snomed.info/sct', code: '55561003' }, // another system: not ours to reject
        { code: 'whatever' }, // no system: cannot be judged
        { system, code: 'active' },
        { system, code: 'cured' },
      ],
    },
  };
  expect(validationIssues(condition)).toEqual([
    issue(
      'cured',
      'http://hl7.org/fhir/ValueSet/condition-clinical',
      '; allowed: active, recurrence, relapse, inactive, remission, resolved',
      'Condition.clinicalStatus.coding[3].code',
      system,
    ),
  ]);
});

test('a long ValueSet is summarised by its size instead of listed', () => {
  const questionnaire = { resourceType: 'Questionnaire', status: 'active', subjectType: ['Patient', 'Spaceship'] };
  expect(requiredBindingIssues(questionnaire as Resource)).toEqual([
    issue('Spaceship', 'http://hl7.org/fhir/ValueSet/resource-types', ' (148 codes)', 'Questionnaire.subjectType[1]'),
  ]);
});

test('bindings we cannot expand (MIME types, SNOMED CT) are skipped, not rejected', () => {
  const document = {
    resourceType: 'DocumentReference',
    status: 'current',
    type: { coding: [{ system: 'http://loinc.org', code: '00000-0' }] },
    content: [{ attachment: { contentType: 'application/x-made-up', url: 'Binary/1' } }],
  };
  expect(validationIssues(document)).toEqual([]);
});

test('every issue of a resource is reported together with the structural ones', () => {
  const issues = validationIssues({ resourceType: 'Patient', gender: 'bogus', active: 'yes' });
  expect(issues.map((i) => [i.code, i.expression?.[0]])).toEqual([
    ['structure', 'Patient.active'],
    ['code-invalid', 'Patient.gender'],
  ]);
});

test('the demo family has no binding violations', () => {
  const family = buildDemoFamily(new Date('2026-11-21T12:00:00Z'));
  const resources = (family.entry ?? []).map((e) => e.resource as Resource);
  expect(resources.length).toBeGreaterThan(400);
  expect(resources.flatMap(requiredBindingIssues)).toEqual([]);
  for (const resource of resources) expect(validationIssues(resource)).toEqual([]);
});

const synthea = path.resolve(__dirname, '../..', '../shared/corpus/fhir/smart-generated-sample-data-r4-synthea');
const haveCorpus = fs.existsSync(synthea);
if (!haveCorpus) console.warn(`Skipping the Synthea binding check: ${synthea} is absent`);

(haveCorpus ? test : test.skip)('every resource of the 29 Synthea bundles passes validation with the binding check on', () => {
  const files = fs.readdirSync(synthea).filter((f) => f.endsWith('.json'));
  expect(files).toHaveLength(29);
  const resources = files.flatMap((f) => {
    const bundle = JSON.parse(fs.readFileSync(path.join(synthea, f), 'utf8')) as Bundle;
    return (bundle.entry ?? []).map((e) => e.resource as Resource);
  });
  expect(resources).toHaveLength(10131);
  expect(resources.flatMap(requiredBindingIssues)).toEqual([]);
  const failures = resources.filter((r) => validationIssues(r).length > 0);
  expect(failures.map((r) => `${r.resourceType}/${r.id}`)).toEqual([]);
});
