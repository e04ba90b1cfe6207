/**
 * Round trip: every coded entry's primary code survives FHIR -> CCD (renderCcd) -> FHIR (parseCcda, the import
 * library), checked per section. "Primary" is the code the renderer writes as @code: the first coding whose system
 * has an OID, in the section's order of preference.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Bundle, CodeableConcept, Patient, Resource } from '@medplum/fhirtypes';
import { parseCcda } from '../parse';
import { resourcesFromBundle } from './bundle-resources';
import { codableCodings } from './cda-datatype-writers';
import { demoFamilyCcdInputs } from '../../../test/support/ccda/ccd-demo-inputs';
import { SPARSE_PATIENT, SPARSE_RESOURCES, TEST_ORG, TEST_PATIENT, TEST_RESOURCES } from '../../../test/support/ccda/ccd-test-record';
import { renderCcd, type CcdInput } from './render-ccd';
import { selectForPeriod } from '../period/select-for-period';
import { categoryCodes, isEnteredInError } from './fhir-read';

const NOW = new Date('2026-11-21T12:00:00Z');
const SNOMED = 'http://snomed.info/sct';
const LOINC = 'http://loinc.org';
const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
const SYNTHEA = path.resolve(__dirname, '../../..', '../shared/corpus/fhir/smart-generated-sample-data-r4-synthea');

/** Per section: which source resources carry a coded entry, their concept, and the renderer's preference order. */
interface SectionCheck {
  readonly section: string;
  readonly concepts: (r: Resource, all: Map<string, Resource>) => CodeableConcept[];
  readonly prefer: readonly string[];
}

const CHECKS: readonly SectionCheck[] = [
  {
    section: 'Allergies',
    concepts: (r) =>
      r.resourceType === 'AllergyIntolerance' && r.code && !r.code.coding?.some((c) => c.code === '716186003') ? [r.code] : [],
    prefer: [RXNORM, SNOMED],
  },
  {
    section: 'Medications',
    concepts: (r, all) => {
      if (r.resourceType !== 'MedicationRequest' && r.resourceType !== 'MedicationStatement') return [];
      const ref = r.medicationReference?.reference;
      const concept = r.medicationCodeableConcept ?? (ref ? (all.get(ref) as { code?: CodeableConcept } | undefined)?.code : undefined);
      return concept ? [concept] : [];
    },
    prefer: [RXNORM, 'http://hl7.org/fhir/sid/ndc'],
  },
  {
    section: 'Problems and health concerns',
    concepts: (r) => (r.resourceType === 'Condition' && r.code ? [r.code] : []),
    prefer: [SNOMED, 'http://hl7.org/fhir/sid/icd-10-cm'],
  },
  {
    section: 'Results and vital signs',
    concepts: (r) => {
      if (
        r.resourceType !== 'Observation' ||
        categoryCodes(r.category).includes('social-history') ||
        r.code.coding?.some((c) => c.code === '72166-2')
      )
        return [];
      return r.component?.length && r.valueQuantity === undefined && r.valueCodeableConcept === undefined && r.valueString === undefined
        ? r.component.map((c) => c.code)
        : [r.code];
    },
    prefer: [LOINC],
  },
  {
    section: 'Procedures',
    concepts: (r) => (r.resourceType === 'Procedure' ? [r.code ?? {}] : []),
    prefer: [SNOMED, 'http://www.ama-assn.org/go/cpt', LOINC],
  },
  {
    section: 'Immunizations',
    concepts: (r) => (r.resourceType === 'Immunization' ? [r.vaccineCode] : []),
    prefer: ['http://hl7.org/fhir/sid/cvx'],
  },
  {
    section: 'Encounters',
    concepts: (r) => (r.resourceType === 'Encounter' && r.type?.[0] ? [r.type[0]] : []),
    prefer: ['http://www.ama-assn.org/go/cpt', SNOMED],
  },
  { section: 'Goals', concepts: (r) => (r.resourceType === 'Goal' ? [r.description] : []), prefer: [LOINC, SNOMED] },
  {
    section: 'Smoking status',
    concepts: (r) =>
      r.resourceType === 'Observation' && r.code.coding?.some((c) => c.code === '72166-2') && r.valueCodeableConcept
        ? [r.valueCodeableConcept]
        : [],
    prefer: [SNOMED],
  },
];

/** Every system|code anywhere in the parsed resources. */
function parsedCodes(resources: readonly Resource[]): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.system === 'string' && typeof o.code === 'string') out.add(`${o.system}|${o.code}`);
      Object.values(o).forEach(walk);
    }
  };
  walk(resources);
  return out;
}

function roundTripMisses(input: CcdInput): Record<string, string[]> {
  const parsed = parseCcda(renderCcd(input)).bundle.entry.map((e) => e.resource);
  const codes = parsedCodes(parsed);
  const all = new Map(input.resources.map((r) => [`${r.resourceType}/${r.id}`, r]));
  const misses: Record<string, string[]> = {};
  const selected = selectForPeriod(input.resources, input.period ?? {}).filter((r) => !isEnteredInError(r));
  for (const check of CHECKS) {
    for (const r of selected) {
      for (const concept of check.concepts(r, all)) {
        const primary = codableCodings(concept, check.prefer)[0];
        if (!primary) continue;
        const key = `${primary.system}|${primary.code}`;
        if (!codes.has(key)) (misses[check.section] ??= []).push(`${r.resourceType}/${r.id} ${key}`);
      }
    }
  }
  return misses;
}

function syntheaInputs(count: number): CcdInput[] {
  if (!existsSync(SYNTHEA)) return [];
  return readdirSync(SYNTHEA)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .slice(0, count)
    .map((f) => {
      const resources = resourcesFromBundle(JSON.parse(readFileSync(path.join(SYNTHEA, f), 'utf8')) as Bundle);
      const patient = resources.find((r): r is Patient => r.resourceType === 'Patient') as Patient;
      return { patient, resources, custodian: TEST_ORG, documentId: f, now: NOW };
    });
}

describe('FHIR -> CCD -> FHIR keeps every primary code', () => {
  it('for the unit-test record', () => {
    expect(roundTripMisses({ patient: TEST_PATIENT, resources: TEST_RESOURCES, custodian: TEST_ORG, documentId: 'rt', now: NOW })).toEqual(
      {},
    );
  });

  it('for a record full of gaps (text-only codes, missing dates, contained medications)', () => {
    expect(
      roundTripMisses({ patient: SPARSE_PATIENT, resources: SPARSE_RESOURCES, custodian: TEST_ORG, documentId: 'sparse', now: NOW }),
    ).toEqual({});
  });

  it('for the demo family (when the fixture is present)', () => {
    for (const d of demoFamilyCcdInputs(NOW)) {
      expect([
        d.key,
        roundTripMisses({ patient: d.patient, resources: d.resources, custodian: d.custodian, documentId: d.key, now: NOW }),
      ]).toEqual([d.key, {}]);
    }
  });

  const synthea = syntheaInputs(5);
  if (synthea.length === 0) console.warn(`Skipping the Synthea round trip: corpus absent (${SYNTHEA})`);
  (synthea.length ? it : it.skip)('for Synthea patients (corpus)', () => {
    for (const input of synthea) expect([input.documentId, roundTripMisses(input)]).toEqual([input.documentId, {}]);
  });
});
