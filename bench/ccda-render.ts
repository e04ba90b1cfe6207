/**
 * C-CDA render benchmark: our renderCcd against @medplum/ccda's convertFhirToCcda + convertCcdaToXml on the same
 * Synthea patients (data already in memory, XML string out), plus a synthetic 1,000-resource patient.
 *
 *   npx tsx bench/ccda-render.ts [--runs N]
 *
 * Prints per-run medians, output MB/s and the ratio. Targets (issue 3): our median at least 2x faster than
 * Medplum's, and the 1,000-resource patient under 100 ms.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { convertCcdaToXml, convertFhirToCcda } from '@medplum/ccda';
import type { Bundle, BundleEntry, Composition, Organization, Patient, Resource } from '@medplum/fhirtypes';
import { resourcesFromBundle } from '../src/ccda/render/bundle-resources';
import { renderCcd, type CcdInput } from '../src/ccda/render/render-ccd';
import { syntheticPatient } from './ccda-synthetic-patient';

const SYNTHEA = path.resolve(__dirname, '../../shared/corpus/fhir/smart-generated-sample-data-r4-synthea');
const RUNS = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 30;
const NOW = new Date('2026-11-21T12:00:00Z');
const CUSTODIAN: Organization = {
  resourceType: 'Organization',
  id: 'bench-clinic',
  name: 'Bench Clinic',
  telecom: [{ system: 'phone', value: '555-555-1000', use: 'work' }],
  address: [{ line: ['1 Main St'], city: 'Boston', state: 'MA', postalCode: '02110', country: 'US' }],
};

/** The sections Medplum's own $ccda-export (patient summary) would put each resource in. */
function medplumSection(r: Resource): string | undefined {
  const cats = JSON.stringify((r as { category?: unknown }).category ?? '');
  switch (r.resourceType) {
    case 'AllergyIntolerance':
      return '48765-2';
    case 'MedicationRequest':
      return '10160-0';
    case 'Condition':
      return '11450-4';
    case 'Immunization':
      return '11369-6';
    case 'Procedure':
      return '47519-4';
    case 'DiagnosticReport':
      return '30954-2';
    case 'Encounter':
      return '46240-8';
    case 'CarePlan':
      return '18776-5';
    case 'Goal':
      return '61146-7';
    case 'Observation':
      if (cats.includes('vital-signs')) return '8716-3';
      if (cats.includes('social-history') || cats.includes('survey')) return '29762-2';
      return '30954-2';
    default:
      return undefined;
  }
}

/** A document Bundle (Composition + resources) in the shape convertFhirToCcda expects. */
function medplumBundle(patient: Patient, resources: readonly Resource[]): Bundle {
  const sections = new Map<string, string[]>();
  const reported = new Set<string>();
  for (const r of resources)
    if (r.resourceType === 'DiagnosticReport') for (const ref of r.result ?? []) if (ref.reference) reported.add(ref.reference);
  for (const r of resources) {
    const code = medplumSection(r);
    if (!code || reported.has(`${r.resourceType}/${r.id}`)) continue;
    if (!sections.has(code)) sections.set(code, []);
    sections.get(code)?.push(`${r.resourceType}/${r.id}`);
  }
  const composition: Composition = {
    resourceType: 'Composition',
    id: 'bench-composition',
    status: 'final',
    type: { coding: [{ system: 'http://loinc.org', code: '34133-9' }] },
    subject: { reference: `Patient/${patient.id}` },
    date: NOW.toISOString(),
    author: [{ reference: `Organization/${CUSTODIAN.id}` }],
    custodian: { reference: `Organization/${CUSTODIAN.id}` },
    title: 'Continuity of Care Document',
    section: [...sections.entries()].map(([code, refs]) => ({
      code: { coding: [{ system: 'http://loinc.org', code }] },
      title: code,
      entry: refs.map((reference) => ({ reference })),
    })),
  };
  const entry: BundleEntry[] = [composition, CUSTODIAN, ...resources].map((resource) => ({ resource }));
  return { resourceType: 'Bundle', type: 'document', entry };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function timeOnce(fn: () => string): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/**
 * Times several renderers on the same input in alternating blocks (A x5, B x5, B x5, A x5, ...): load from
 * anything else on the machine falls on all of them alike, while each block mostly pays for its own garbage
 * collection rather than the other renderer's. Returns each one's median and output size.
 */
function timeInterleaved(fns: ReadonlyArray<() => string>): Timing[] {
  const BLOCK = 5;
  const bytes = fns.map((fn) => {
    let b = 0;
    for (let i = 0; i < 5; i++) b = Buffer.byteLength(fn()); // warm-up
    return b;
  });
  const times: number[][] = fns.map(() => []);
  for (let block = 0; block * BLOCK < RUNS; block++) {
    const order = block % 2 === 0 ? fns.map((_, k) => k) : fns.map((_, k) => fns.length - 1 - k);
    for (const k of order) for (let i = 0; i < BLOCK && times[k].length < RUNS; i++) times[k].push(timeOnce(fns[k]));
  }
  return fns.map((_, k) => ({ ms: median(times[k]), min: Math.min(...times[k]), bytes: bytes[k] }));
}

function timeRuns(fn: () => string): Timing {
  return timeInterleaved([fn])[0];
}

/** One renderer on one patient: median and fastest run, and the output size. */
interface Timing {
  ms: number;
  min: number;
  bytes: number;
}

interface Row {
  name: string;
  resources: number;
  ours: Timing;
  medplum?: Timing;
  medplumError?: string;
}

function main(): void {
  if (!existsSync(SYNTHEA)) {
    console.error(`Synthea corpus not found at ${SYNTHEA}; nothing to benchmark.`);
    process.exitCode = 1;
    return;
  }
  const files = readdirSync(SYNTHEA)
    .filter((f) => f.endsWith('.json'))
    .sort();
  const loaded = files.map((f) => {
    const resources = resourcesFromBundle(JSON.parse(readFileSync(path.join(SYNTHEA, f), 'utf8')) as Bundle);
    const patient = resources.find((r): r is Patient => r.resourceType === 'Patient') as Patient;
    const input: CcdInput = { patient, resources, custodian: CUSTODIAN, documentId: `bench-${patient.id}`, now: NOW };
    return { f, resources, input, bundle: medplumBundle(patient, resources) };
  });
  // One untimed pass over every patient with both renderers, so neither is timed while its code is still cold.
  for (const { input, bundle } of loaded) {
    renderCcd(input);
    try {
      convertCcdaToXml(convertFhirToCcda(bundle));
    } catch {
      // reported below
    }
  }
  const rows: Row[] = [];
  for (const { f, resources, input, bundle } of loaded) {
    const ours = (): string => renderCcd(input);
    const medplum = (): string => convertCcdaToXml(convertFhirToCcda(bundle));
    const row: Row = { name: f.split('_').slice(0, 2).join(' '), resources: resources.length, ours: { ms: 0, min: 0, bytes: 0 } };
    try {
      medplum();
      [row.ours, row.medplum] = timeInterleaved([ours, medplum]);
    } catch (err) {
      row.medplumError = (err as Error).message;
      row.ours = timeRuns(ours);
    }
    rows.push(row);
    const mp = row.medplum
      ? `${row.medplum.ms.toFixed(2).padStart(8)} ms ${(row.medplum.bytes / 1024).toFixed(0).padStart(5)} KB`
      : `failed: ${row.medplumError}`;
    console.log(
      `${row.name.padEnd(24)} ${String(row.resources).padStart(5)} res | ours ${row.ours.ms.toFixed(2).padStart(7)} ms ${(row.ours.bytes / 1024).toFixed(0).padStart(5)} KB | medplum ${mp}`,
    );
  }

  const both = rows.filter((r) => r.medplum);
  const oursMedian = median(rows.map((r) => r.ours.ms));
  const medplumMedian = median(both.map((r) => (r.medplum as { ms: number }).ms));
  const oursMBs = rows.reduce((s, r) => s + r.ours.bytes, 0) / 1e6 / (rows.reduce((s, r) => s + r.ours.ms, 0) / 1000);
  const mpMBs =
    both.reduce((s, r) => s + (r.medplum as { bytes: number }).bytes, 0) /
    1e6 /
    (both.reduce((s, r) => s + (r.medplum as { ms: number }).ms, 0) / 1000);
  const ratios = both.map((r) => (r.medplum as Timing).ms / r.ours.ms);
  const oursBest = median(rows.map((r) => r.ours.min));
  const medplumBest = median(both.map((r) => (r.medplum as Timing).min));

  const synthetic = syntheticPatient(1000);
  const big = timeRuns(() =>
    renderCcd({
      patient: synthetic.patient,
      resources: synthetic.resources,
      custodian: CUSTODIAN,
      documentId: 'bench-synthetic',
      now: NOW,
    }),
  );

  console.log('');
  console.log(
    `Synthea patients: ${rows.length} (Medplum converted ${both.length}), ${RUNS} timed runs each (alternating blocks of 5) after 5 warm-ups; medians of per-patient medians`,
  );
  console.log(`ours:    median ${oursMedian.toFixed(2)} ms, ${oursMBs.toFixed(1)} MB/s of XML`);
  console.log(`medplum: median ${medplumMedian.toFixed(2)} ms, ${mpMBs.toFixed(1)} MB/s of XML`);
  console.log(
    `ratio medplum/ours: ${(medplumMedian / oursMedian).toFixed(1)}x on the medians (per patient: min ${Math.min(...ratios).toFixed(1)}x, median ${median(ratios).toFixed(1)}x)  target >= 2x`,
  );
  console.log(
    `fastest runs (less sensitive to other load on the machine): ours median ${oursBest.toFixed(2)} ms, medplum median ${medplumBest.toFixed(2)} ms, ratio ${(medplumBest / oursBest).toFixed(1)}x`,
  );
  console.log(
    `synthetic ${synthetic.resources.length}-resource patient: ${big.ms.toFixed(2)} ms, ${(big.bytes / 1024).toFixed(0)} KB  target < 100 ms`,
  );
}

main();
