/**
 * The bar for "done": CCDs rendered from real-shaped data pass the CDA schema and the official C-CDA R2.1
 * Schematron with zero errors. Renders Synthea bundles (all time, one date with data, a date range), the demo
 * family, the unit-test record and an empty record into a temp folder, then runs validate-ccda once over all of
 * them (two processes in parallel).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Bundle, Encounter, Organization, Patient, Resource } from '@medplum/fhirtypes';
import { resourcesFromBundle } from './bundle-resources';
import { demoFamilyCcdInputs } from '../../../test/support/ccda/ccd-demo-inputs';
import { SPARSE_PATIENT, SPARSE_RESOURCES, TEST_ORG, TEST_PATIENT, TEST_RESOURCES } from '../../../test/support/ccda/ccd-test-record';
import { mutateRecord } from '../../../test/support/ccda/record-mutator';
import { NEGATION_RECORD } from '../../../test/support/ccda/ccd-negation-record';
import { renderCcd, type CcdInput } from './render-ccd';
import { CCDA_VALIDATOR, ccdaValidatorMissing } from '../../../test/support/ccda-validator';

const REPO = path.resolve(__dirname, '../../..');
const SHARED = path.resolve(REPO, '../shared');
const SYNTHEA = path.join(SHARED, 'corpus/fhir/smart-generated-sample-data-r4-synthea');
const VALIDATOR = CCDA_VALIDATOR;
const SYNTHEA_COUNT = 10;
const NOW = new Date('2026-11-21T12:00:00Z');

function toolsPresent(): string | undefined {
  if (!existsSync(SYNTHEA)) return `corpus absent (${SYNTHEA})`;
  return ccdaValidatorMissing();
}

const missing = toolsPresent();
if (missing) console.warn(`Skipping C-CDA schema/Schematron validation: ${missing}`);
const suite = missing ? describe.skip : describe;

/** The day with the most encounters in the middle of the record, and a range around the middle third. */
function periodsWithData(resources: readonly Resource[]): { day: string; start: string; end: string } {
  const days = resources
    .filter((r): r is Encounter => r.resourceType === 'Encounter' && Boolean(r.period?.start))
    .map((e) => (e.period?.start as string).slice(0, 10))
    .sort();
  return { day: days[Math.floor(days.length / 2)], start: days[Math.floor(days.length / 3)], end: days[Math.floor((2 * days.length) / 3)] };
}

interface Case {
  readonly name: string;
  readonly input: CcdInput;
}

function casesFor(name: string, patient: Patient, resources: Resource[], custodian: Organization): Case[] {
  const { day, start, end } = periodsWithData(resources);
  const base = { patient, resources, custodian, documentId: `${name}-doc`, now: NOW };
  return [
    { name: `${name}-all`, input: base },
    { name: `${name}-day-${day}`, input: { ...base, period: { start: day, end: day } } },
    { name: `${name}-range-${start}-${end}`, input: { ...base, period: { start, end } } },
  ];
}

function syntheaCases(): Case[] {
  const files = readdirSync(SYNTHEA)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .slice(0, SYNTHEA_COUNT);
  return files.flatMap((f) => {
    const resources = resourcesFromBundle(JSON.parse(readFileSync(path.join(SYNTHEA, f), 'utf8')) as Bundle);
    const patient = resources.find((r): r is Patient => r.resourceType === 'Patient') as Patient;
    return casesFor(`synthea-${f.split('_')[0]}`, patient, resources, TEST_ORG);
  });
}

function demoFamilyCases(): Case[] {
  return demoFamilyCcdInputs(NOW).flatMap((d) => casesFor(`demo-${d.key}`, d.patient, d.resources, d.custodian));
}

suite('rendered CCDs validate against the CDA schema and the C-CDA R2.1 Schematron', () => {
  let dir: string;
  let cases: Case[];
  let results: Map<string, { xsd: number; schematron: number; errors: string[] }>;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'ccd-validate-'));
    const synthea = syntheaCases();
    // Two Synthea records with fields dropped at random (fixed seeds): damaged data still gives a valid document.
    const damaged = synthea
      .filter((c) => c.name.endsWith('-all'))
      .slice(0, 2)
      .map((c, i) => ({ name: `${c.name}-damaged`, input: { ...c.input, resources: mutateRecord(c.input.resources, 1000 + i, 0.3) } }));
    cases = [
      ...synthea,
      ...damaged,
      ...demoFamilyCases(),
      {
        name: 'unit-test-record',
        input: { patient: TEST_PATIENT, resources: TEST_RESOURCES, custodian: TEST_ORG, documentId: 'unit', now: NOW },
      },
      {
        name: 'sparse-record',
        input: {
          patient: SPARSE_PATIENT,
          resources: SPARSE_RESOURCES,
          custodian: { resourceType: 'Organization', name: 'Bare Org' },
          documentId: 'sparse',
          now: NOW,
        },
      },
      {
        name: 'sparse-record-2024',
        input: {
          patient: SPARSE_PATIENT,
          resources: SPARSE_RESOURCES,
          custodian: TEST_ORG,
          documentId: 'sparse',
          now: NOW,
          period: { start: '2024-01-01', end: '2024-12-31' },
        },
      },
      {
        name: 'negations-and-no-known',
        input: { patient: TEST_PATIENT, resources: NEGATION_RECORD, custodian: TEST_ORG, documentId: 'negations', now: NOW },
      },
      {
        name: 'no-data',
        input: { patient: { resourceType: 'Patient', id: 'nobody' }, resources: [], custodian: TEST_ORG, documentId: 'empty', now: NOW },
      },
    ];
    for (const c of cases) writeFileSync(path.join(dir, `${c.name}.xml`), renderCcd(c.input));
    const run = spawnSync('bash', ['-c', `ls "${dir}"/*.xml | xargs -P2 -n6 "${VALIDATOR}"`], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    results = new Map();
    let current: { xsd: number; schematron: number; errors: string[] } | undefined;
    for (const line of run.stdout.split('\n')) {
      const m = /^(.*\.xml)\txsd=(\d+)\tschematron=(\d+)$/.exec(line);
      if (m) {
        current = { xsd: Number(m[2]), schematron: Number(m[3]), errors: [] };
        results.set(path.basename(m[1], '.xml'), current);
      } else if (line.trim() && current) current.errors.push(line.trim());
    }
  }, 900_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('covers at least 10 Synthea patients at all time, a date with data and a range, plus damaged and empty records', () => {
    expect(cases.filter((c) => c.name.startsWith('synthea-') && !c.name.endsWith('-damaged')).length).toBe(SYNTHEA_COUNT * 3);
    expect(cases.filter((c) => c.name.endsWith('-damaged')).length).toBe(2);
    expect(cases.some((c) => c.name === 'no-data')).toBe(true);
    expect([...results.keys()].sort()).toEqual(cases.map((c) => c.name).sort());
  });

  it('has zero schema and zero Schematron errors in every document', () => {
    const failures = [...results.entries()]
      .filter(([, r]) => r.xsd !== 0 || r.schematron !== 0)
      .map(([name, r]) => `${name}: xsd=${r.xsd} schematron=${r.schematron}\n  ${r.errors.slice(0, 10).join('\n  ')}`);
    expect(failures).toEqual([]);
  });
});
