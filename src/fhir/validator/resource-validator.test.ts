import fs from 'node:fs';
import path from 'node:path';
import type { Attachment, Communication, ElementDefinition, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { buildDemoFamily } from '../../../fixtures/demo-family';
import { loadFhirDefinitions, localProfileFor } from '../definitions';
import { expectSameAsMedplum } from '../../../test/support/medplum-equivalence';
import { validateResource } from './resource-validator';

const SYNTHEA = path.resolve(__dirname, '../../../../shared/corpus/fhir/smart-generated-sample-data-r4-synthea');

beforeAll(() => loadFhirDefinitions());

function syntheaResources(): Resource[] {
  return fs
    .readdirSync(SYNTHEA)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .flatMap((f) =>
      (JSON.parse(fs.readFileSync(path.join(SYNTHEA, f), 'utf8')).entry ?? []).map((e: { resource: Resource }) => e.resource),
    );
}

test('the same outcome as medplum on every resource of the demo family', () => {
  const resources = (buildDemoFamily(new Date('2026-11-22T12:00:00Z')).entry ?? []).map((e) => e.resource as Resource);
  expect(resources.length).toBeGreaterThan(500);
  for (const resource of resources) expectSameAsMedplum(resource);
});

test('an Observation with several problems gets medplum’s issues, in medplum’s order', () => {
  const observation = {
    resourceType: 'Observation',
    status: 'final ',
    code: { text: 'Weight' },
    valueQuantity: { value: 70, unit: 'kg' },
    valueString: 'seventy',
    dataAbsentReason: { text: 'unknown' },
    subject: { reference: 'Medication/m1' },
    component: [{ valueString: 'x' }],
    bogus: true,
  } as unknown as Resource;
  expect(expectSameAsMedplum(observation)).toStrictEqual({
    thrown: {
      resourceType: 'OperationOutcome',
      issue: [
        {
          severity: 'error',
          code: 'invariant',
          details: { text: 'Constraint obs-6 not met: dataAbsentReason SHALL only be present if Observation.value[x] is not present' },
          expression: ['Observation'],
          diagnostics: JSON.stringify({ fhirpath: 'dataAbsentReason.empty() or value.empty()' }),
        },
        { severity: 'error', code: 'structure', details: { text: 'Invalid code format' }, expression: ['Observation.status'] },
        {
          severity: 'warning',
          code: 'structure',
          details: {
            text: 'Invalid reference: got "Medication", expected "http://hl7.org/fhir/StructureDefinition/Patient", "http://hl7.org/fhir/StructureDefinition/Group", "http://hl7.org/fhir/StructureDefinition/Device", "http://hl7.org/fhir/StructureDefinition/Location"',
          },
          expression: ['Observation.subject'],
        },
        {
          severity: 'error',
          code: 'structure',
          details: { text: 'Missing required property' },
          expression: ['Observation.component[0].code'],
        },
        {
          severity: 'warning',
          code: 'structure',
          details: { text: 'Conflicting choice of type properties: "valueString", "valueQuantity"' },
          expression: ['valueString'],
        },
        {
          severity: 'error',
          code: 'structure',
          details: { text: 'Invalid additional property "bogus"' },
          expression: ['Observation.bogus'],
        },
      ],
    },
  });
});

test('keys read as medplum reads them: undefined values, a primitive extension alone, choice keys in any order', () => {
  // The validator finds each element's value by walking the object's own keys (see crawler.ts, firstCandidates):
  // these are the cases where that walk and medplum's look-up of every candidate key could part.
  const resources = [
    { resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueString: undefined, valueQuantity: { value: 1 } },
    { resourceType: 'Observation', status: undefined, _status: { id: 's' }, code: { text: 'x' } },
    {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'x' },
      _valueString: { extension: [{ url: 'urn:x', valueBoolean: true }] },
    },
    { resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueQuantity: { value: 'one' }, valueBoolean: true },
    { resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueBoolean: true, valueQuantity: { value: 'one' } },
    { resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueString: null, note: [{ text: undefined }] },
    { resourceType: 'Observation', status: 'final', code: 'not an object', subject: [{ reference: 'Patient/p' }] },
    { resourceType: 'Observation', status: 'final', code: { coding: 'x', text: 7 }, category: [['nested']] },
    {
      resourceType: 'Patient',
      name: [{ given: ['Ada', undefined], _given: [null, { id: 'g' }] }],
      birthDate: undefined,
      _birthDate: undefined,
    },
  ] as unknown as Resource[];
  for (const resource of resources) expectSameAsMedplum(resource);
});

const describeCorpus = fs.existsSync(SYNTHEA) ? describe : describe.skip;
if (!fs.existsSync(SYNTHEA))
  console.warn(`resource-validator.test: ../shared/corpus is absent (${SYNTHEA}); the corpus comparison is skipped`);

describeCorpus('on the corpus', () => {
  test('the same outcome as medplum on every resource of the Synthea bundles', () => {
    const resources = syntheaResources();
    expect(resources.length).toBeGreaterThan(10_000);
    for (const resource of resources) expectSameAsMedplum(resource);
  });

  test('the same outcome as medplum for a sample of them against a profile of another type', () => {
    // The portal-message profile's elements read from, say, a Claim: keys the value's type lacks.
    const profile = localProfileFor('Communication');
    const sample = syntheaResources().filter((_, i) => i % 25 === 0);
    for (const resource of sample) expectSameAsMedplum(resource, { profile });
  });
});

describe('against a profile', () => {
  const message = (body: string, attachments: Attachment[] = []): Communication => ({
    resourceType: 'Communication',
    status: 'completed',
    subject: { reference: 'Patient/ada' },
    payload: [{ contentString: body }, ...attachments.map((contentAttachment) => ({ contentAttachment }))],
  });
  const pdfs = (n: number): Attachment[] =>
    Array.from({ length: n }, (_, i) => ({ contentType: 'application/pdf', url: `Binary/${i}`, size: 1000 }));

  /** Valid and invalid portal messages: each rule of the profile broken, and base-definition errors. */
  const messages: Communication[] = [
    message('Hello'),
    message('x'.repeat(1000), pdfs(10)),
    message('x'.repeat(1001)),
    message('Results attached', pdfs(11)),
    message('See this', [{ contentType: 'text/html', url: 'Binary/h' }]),
    message('Scan', [{ contentType: 'image/png', url: 'Binary/s', size: 10485761 }]),
    message('Two bodies', [{ contentType: 'image/jpeg' }, { contentType: 'image/gif', size: 20000000 }]),
    { ...message('No status'), status: undefined } as unknown as Communication,
    { ...message(''), payload: [{}] },
    { ...message('Both'), payload: [{ contentString: 'a', contentAttachment: { url: 'Binary/1' } }] },
    {
      ...message('Ext'),
      payload: [{ contentString: 'a', _contentString: { extension: [{ url: 'http://example.org/x', valueString: 'y' }] } }],
    } as unknown as Communication,
    { ...message('Mismatch'), payload: [{ contentString: 'a', _contentReference: { id: 'x' } }] } as unknown as Communication,
    { ...message('Unknown'), bogus: 1, subject: 'Patient/ada' } as unknown as Communication,
    { ...message('Array'), subject: [{ reference: 'Patient/ada' }], payload: { contentString: 'x' } } as unknown as Communication,
    { ...message('Wrong target'), subject: { reference: 'Medication/m' }, sender: { reference: 'Device/d' } },
    { ...message('Null'), payload: [null, { contentString: 'x' }] } as unknown as Communication,
    { ...message('Contained'), contained: [{ resourceType: 'Patient', id: 'p', bogus: 1 } as Resource], subject: { reference: '#p' } },
    {
      ...message('Categorised'),
      identifier: [{ system: 'urn:mrn', value: '1' }],
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/communication-category', code: 'notification' }] }],
    },
    {
      ...message('Other category'),
      identifier: [
        { system: 'urn:other', value: '1' },
        { system: 'urn:mrn', value: '2' },
        { system: 'urn:mrn', value: '3' },
      ],
      category: [{ text: 'x' }],
    },
    { ...message('Two categories'), category: [{ text: 'a' }, { text: 'b' }] },
    {
      ...message('Extension slice'),
      extension: [
        { url: 'urn:priority', valueCode: 'high' },
        { url: 'urn:priority', valueCode: 'low' },
      ],
    },
    { ...message('Reference less'), subject: { display: 'Ada' }, status: 'preparation' },
  ];

  test('the portal-message profile: the same outcome as medplum on valid and invalid messages', () => {
    const profile = localProfileFor('Communication');
    expect(profile).toBeDefined();
    const outcomes = messages.map((m) => expectSameAsMedplum(m, { profile }));
    // Not all accepted, nor all refused: the profile bites and passes.
    expect(outcomes.filter((o) => 'returned' in o).length).toBeGreaterThan(3);
    expect(outcomes.filter((o) => 'thrown' in o).length).toBeGreaterThan(10);
    for (const m of messages) expectSameAsMedplum(m);
  });

  test('a profile with fixed and pattern values, slices, a dotted path and broken invariants: the same outcome as medplum', () => {
    const profile = testProfile(localProfileFor('Communication') as StructureDefinition);
    const outcomes = messages.map((m) => expectSameAsMedplum(m, { profile }));
    const texts = outcomes.flatMap((o) => ('thrown' in o ? (o.thrown.issue ?? []) : []).map((i) => i.details?.text ?? ''));
    // Each feature is exercised, not merely tolerated.
    expect(texts).toContain('Value did not match expected pattern');
    expect(texts.some((t) => t.startsWith("Incorrect number of values provided for slice 'mrn'"))).toBe(true);
    expect(texts.some((t) => t.startsWith("Incorrect number of values provided for slice 'priority'"))).toBe(true);
    expect(texts).toContain('Error evaluating invariant expression');
    expect(texts).toContain('Constraint ck-t-1 not met: Fails on a list');
    expect(texts).toContain('Missing required property');
    expect(texts).toContain('Invalid number of values: expected 0..1, but found 2');
    // The parsed profile is cached; a second round gives the same outcomes.
    expect(messages.map((m) => expectSameAsMedplum(m, { profile }))).toStrictEqual(outcomes);
  });
});

/**
 * The portal-message snapshot plus what it lacks: status fixed to `completed`, at most one category
 * with a pattern, identifiers sliced by system (at most one `urn:mrn`), extensions sliced by url (at
 * most one `urn:priority`), `subject.reference` required (a dotted element key) and two invariants that
 * fail to evaluate (one calls a function on a list of two or more identifiers, one does not parse).
 */
function testProfile(base: StructureDefinition): StructureDefinition {
  const elements: ElementDefinition[] = [];
  for (const element of base.snapshot?.element ?? []) {
    if (element.path === 'Communication') {
      elements.push({
        ...element,
        constraint: [
          ...(element.constraint ?? []),
          {
            key: 'ck-t-1',
            severity: 'error',
            human: 'Fails on a list',
            expression: 'identifier.count() < 2 or identifier.value.substring(1).exists()',
          },
          { key: 'ck-t-2', severity: 'error', human: 'Does not parse', expression: "status = ('" },
        ],
      });
    } else if (element.path === 'Communication.extension') {
      elements.push({ ...element, slicing: { discriminator: [{ type: 'value', path: 'url' }], rules: 'open' } });
      elements.push({
        id: 'Communication.extension:priority',
        path: 'Communication.extension',
        sliceName: 'priority',
        min: 0,
        max: '1',
        type: [{ code: 'Extension' }],
      });
      elements.push({
        id: 'Communication.extension:priority.url',
        path: 'Communication.extension.url',
        min: 1,
        max: '1',
        type: [{ code: 'uri' }],
        fixedUri: 'urn:priority',
      });
    } else if (element.path === 'Communication.identifier') {
      elements.push({ ...element, slicing: { discriminator: [{ type: 'value', path: 'system' }], rules: 'open' } });
      elements.push({
        id: 'Communication.identifier:mrn',
        path: 'Communication.identifier',
        sliceName: 'mrn',
        min: 0,
        max: '1',
        type: [{ code: 'Identifier' }],
      });
      elements.push({
        id: 'Communication.identifier:mrn.system',
        path: 'Communication.identifier.system',
        min: 1,
        max: '1',
        type: [{ code: 'uri' }],
        fixedUri: 'urn:mrn',
      });
    } else if (element.path === 'Communication.status') {
      elements.push({ ...element, fixedCode: 'completed' });
    } else if (element.path === 'Communication.category') {
      const pattern = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/communication-category', code: 'notification' }] };
      elements.push({ ...element, max: '1', patternCodeableConcept: pattern });
    } else if (element.path === 'Communication.subject') {
      elements.push(element);
      elements.push({
        id: 'Communication.subject.reference',
        path: 'Communication.subject.reference',
        min: 1,
        max: '1',
        type: [{ code: 'string' }],
      });
    } else {
      elements.push(element);
    }
  }
  return { ...base, url: 'https://chartkeeper.example/fhir/StructureDefinition/validator-test', snapshot: { element: elements } };
}

test('issue 24 item 14: a key naming an inherited property is an additional property (medplum finds it "in" the schema)', () => {
  for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
    const resource = JSON.parse(
      `{"resourceType":"Patient","name":[{"family":"Park","${key}":"x"}],"_birthDate":{"${key}":1},"birthDate":"1990-01-01"}`,
    );
    let issues: unknown;
    try {
      validateResource(resource);
    } catch (err) {
      issues = (err as { outcome?: { issue: { details: { text: string }; expression: string[] }[] } }).outcome?.issue.map((i) => [
        i.details.text,
        i.expression,
      ]);
    }
    expect(issues).toEqual([
      [`Invalid additional property "${key}"`, [`Patient.name[0].${key}`]],
      [`Invalid additional property "${key}"`, [`Patient.birthDate.${key}`]],
    ]);
  }
});
