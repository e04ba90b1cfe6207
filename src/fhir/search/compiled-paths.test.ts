import fs from 'node:fs';
import path from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import { buildDemoFamily } from '../../../fixtures/demo-family';
import { parseCcda } from '../../ccda/parse';
import { loadFhirDefinitions, searchParametersOf, SUPPORTED_TYPES } from '../definitions';
import { compileExpression } from './compiled-paths';
import { indexValues, indexValuesByFhirPath } from './index-values';

const SYNTHEA = path.resolve(__dirname, '../../../../shared/corpus/fhir/smart-generated-sample-data-r4-synthea');
const CCDA = path.resolve(__dirname, '../../../../shared/corpus/ccda');

beforeAll(() => loadFhirDefinitions());

/** The index rows of each resource, compiled walks against FHIRPath; returns how many resources were compared. */
function expectSameRows(resources: Resource[]): number {
  for (const resource of resources) {
    const compiled = indexValues(resource);
    const reference = indexValuesByFhirPath(resource);
    if (JSON.stringify(compiled) !== JSON.stringify(reference)) {
      // The whole pair, so a failure names the resource and the rows that differ.
      expect({ resource, rows: compiled }).toEqual({ resource, rows: reference });
    }
  }
  return resources.length;
}

test('all but a handful of the R4 search parameter expressions compile to plain walks', () => {
  const fallbacks: string[] = [];
  let total = 0;
  for (const type of SUPPORTED_TYPES) {
    for (const [code, param] of Object.entries(searchParametersOf(type))) {
      if (!param.expression) continue;
      total++;
      if (!compileExpression(type, param.expression)) fallbacks.push(`${type}.${code}`);
    }
  }
  expect(total).toBeGreaterThan(900);
  // Patient.deceased is `exists() and != false`: a real FHIRPath expression, evaluated as such.
  expect(fallbacks).toEqual(['Patient.deceased']);
});

test('the demo family indexes the same with compiled walks as with FHIRPath', () => {
  const resources = (buildDemoFamily(new Date('2026-11-22T12:00:00Z')).entry ?? []).map((e) => e.resource as Resource);
  expect(expectSameRows(resources)).toBeGreaterThan(100);
});

test('the edge cases: choice types, `as`, resolve() is, where(x = text), primitive extensions, absolute references', () => {
  const resources: Resource[] = [
    {
      resourceType: 'Observation',
      id: 'o1',
      status: 'final',
      code: { text: 'Mood' },
      valueCodeableConcept: { text: 'Happy', coding: [{ system: 's', code: 'c' }] },
      effectivePeriod: { start: '2024-01-01', end: '2024-01-03' },
    },
    {
      resourceType: 'Observation',
      id: 'o2',
      status: 'final',
      code: { text: 'Weight' },
      valueQuantity: { value: 70.5, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' },
      subject: { reference: 'http://other.example/fhir/Patient/p9' },
    },
    {
      resourceType: 'Observation',
      id: 'o3',
      status: 'final',
      code: { text: 'x' },
      subject: { type: 'Patient', identifier: { system: 'urn:mrn', value: '7' } },
      performer: [{ reference: 'Patient/p1' }, { reference: '#contained' }],
    },
    {
      resourceType: 'Patient',
      id: 'p1',
      telecom: [
        { system: 'email', value: 'ada@example.org' },
        { system: 'phone', value: '555' },
      ],
      deceasedBoolean: false,
      _birthDate: { extension: [{ url: 'http://example.org/x', valueString: 'y' }] },
      birthDate: '1984-05-02',
    } as Resource,
    {
      resourceType: 'Condition',
      id: 'c1',
      subject: { reference: 'Patient/p1' },
      onsetAge: { value: 40, unit: 'a', system: 'http://unitsofmeasure.org', code: 'a' },
      abatementString: 'in spring',
    },
    {
      resourceType: 'Condition',
      id: 'c2',
      subject: { reference: 'Patient/p1' },
      onsetPeriod: { start: '2020-01' },
      extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/condition-assertedDate', valueDateTime: '2020-02-01' }],
    },
    { resourceType: 'Patient', id: 'p2', name: [{ family: '', given: ['Ben', ''] }], identifier: [{}, { system: 'urn:x', value: '1' }] },
  ];
  expectSameRows(resources);
  // And the rows are the expected ones, not merely the same on both sides.
  expect(indexValues(resources[3]).token.filter((t) => t.code === 'email')).toEqual([
    { code: 'email', system: 'email', value: 'ada@example.org', text: null },
  ]);
  expect(indexValues(resources[1]).reference.filter((r) => r.code === 'patient')).toEqual([]);
  expect(
    indexValues(resources[2])
      .reference.filter((r) => r.code === 'performer')
      .map((r) => r.target_id),
  ).toEqual(['p1', '#contained']);
  expect(indexValues(resources[0]).date.find((d) => d.code === 'date')).toMatchObject({
    low: expect.stringContaining('2024-01-01'),
    high: expect.stringContaining('2024-01-03'),
  });
});

const describeCorpus = fs.existsSync(SYNTHEA) && fs.existsSync(CCDA) ? describe : describe.skip;
if (!fs.existsSync(SYNTHEA))
  console.warn(`compiled-paths.test: ../shared/corpus is absent (${SYNTHEA}); the corpus comparisons are skipped`);

describeCorpus('on the corpus', () => {
  test('every resource of the Synthea bundles indexes the same with compiled walks as with FHIRPath', () => {
    const resources = fs
      .readdirSync(SYNTHEA)
      .filter((f) => f.endsWith('.json'))
      .flatMap((f) =>
        (JSON.parse(fs.readFileSync(path.join(SYNTHEA, f), 'utf8')).entry ?? []).map((e: { resource: Resource }) => e.resource),
      );
    expect(expectSameRows(resources)).toBeGreaterThan(10_000);
  });

  test('every resource mapped from a sample of each vendor folder of C-CDA documents indexes the same', () => {
    const resources: Resource[] = [];
    for (const folder of fs.readdirSync(CCDA, { withFileTypes: true }).filter((d) => d.isDirectory())) {
      const files = listXml(path.join(CCDA, folder.name)).slice(0, 8);
      for (const file of files) {
        try {
          resources.push(...parseCcda(fs.readFileSync(file)).bundle.entry.map((e) => e.resource));
        } catch {
          // A document that does not parse is the import tests' business; it has nothing to index here.
        }
      }
    }
    expect(expectSameRows(resources)).toBeGreaterThan(1_000);
  });
});

function listXml(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) =>
      entry.isDirectory() ? listXml(path.join(dir, entry.name)) : /\.xml$/i.test(entry.name) ? [path.join(dir, entry.name)] : [],
    )
    .sort();
}
