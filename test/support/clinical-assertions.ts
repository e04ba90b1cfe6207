import { sql, type Kysely } from 'kysely';
import type { CodeableConcept, Resource } from '@medplum/fhirtypes';

/**
 * What a patient's record asserts, as a set of (section, primary code, negated?, status) facts: the part of a record a
 * C-CDA must carry through export and import unchanged. Status is what C-CDA can say (a problem or allergy is current
 * or not; a medication current or past; an immunization given or not), so a FHIR status the document cannot
 * distinguish (inactive vs resolved) is not a difference. Entered-in-error is not an assertion.
 */
export interface ClinicalAssertion {
  readonly section: 'problems' | 'health-concerns' | 'allergies' | 'medications' | 'immunizations';
  readonly code: string;
  readonly negated: boolean;
  readonly status: string;
  /** The resource's first identifier value, to name the entry in a failure. */
  readonly entry: string;
}

const NO_KNOWN = new Set([
  '716186003',
  '409137002',
  '429625007',
  '428607008',
  '160245001',
  'no-known-medications',
  'no-known-immunizations',
]);
const PREFER: Record<ClinicalAssertion['section'], string[]> = {
  problems: ['http://snomed.info/sct', 'http://hl7.org/fhir/sid/icd-10-cm'],
  'health-concerns': ['http://snomed.info/sct', 'http://hl7.org/fhir/sid/icd-10-cm'],
  allergies: ['http://www.nlm.nih.gov/research/umls/rxnorm', 'http://snomed.info/sct'],
  medications: ['http://www.nlm.nih.gov/research/umls/rxnorm', 'http://hl7.org/fhir/sid/ndc'],
  immunizations: ['http://hl7.org/fhir/sid/cvx'],
};

/** The primary code: the first coding in the section's preferred systems, else the first coding, else none. */
function primaryCode(cc: CodeableConcept | undefined, section: ClinicalAssertion['section']): string {
  const codings = (cc?.coding ?? []).filter((c) => c.code);
  for (const system of PREFER[section]) {
    const hit = codings.find((c) => c.system === system);
    if (hit) return `${system}|${hit.code}`;
  }
  return codings[0] ? `${codings[0].system ?? ''}|${codings[0].code}` : '(no code)';
}

const noKnown = (cc: CodeableConcept | undefined): boolean => (cc?.coding ?? []).some((c) => NO_KNOWN.has(c.code ?? ''));
const code0 = (cc: CodeableConcept | undefined): string | undefined => cc?.coding?.[0]?.code;
const firstId = (r: Resource): string => (r as { identifier?: { value?: string }[] }).identifier?.[0]?.value ?? `${r.resourceType}/${r.id}`;

/** The assertion a resource makes, or undefined when it makes none this comparison covers. */
export function assertionOf(r: Resource): ClinicalAssertion | undefined {
  switch (r.resourceType) {
    case 'Condition': {
      const c = r;
      if (code0(c.verificationStatus) === 'entered-in-error') return undefined;
      const section = c.category?.some((cat) => cat.coding?.some((x) => x.code === 'health-concern')) ? 'health-concerns' : 'problems';
      const clinical = code0(c.clinicalStatus);
      const active = clinical === 'active' || clinical === 'recurrence' || clinical === 'relapse';
      return {
        section,
        code: primaryCode(c.code, section),
        negated: code0(c.verificationStatus) === 'refuted' || noKnown(c.code),
        status: active ? 'current' : 'not current',
        entry: firstId(r),
      };
    }
    case 'AllergyIntolerance': {
      const a = r;
      if (code0(a.verificationStatus) === 'entered-in-error') return undefined;
      const clinical = code0(a.clinicalStatus);
      return {
        section: 'allergies',
        code: primaryCode(a.code, 'allergies'),
        negated: code0(a.verificationStatus) === 'refuted' || noKnown(a.code),
        status: clinical === undefined || clinical === 'active' ? 'current' : 'not current',
        entry: firstId(r),
      };
    }
    case 'MedicationStatement':
    case 'MedicationRequest': {
      const m = r;
      if (m.status === 'entered-in-error') return undefined;
      const negated =
        (m.resourceType === 'MedicationRequest' ? m.doNotPerform === true : m.status === 'not-taken') ||
        noKnown(m.medicationCodeableConcept);
      const current = ['active', 'on-hold', 'draft', 'intended'].includes(m.status);
      return {
        section: 'medications',
        code: primaryCode(m.medicationCodeableConcept, 'medications'),
        negated,
        status: current ? 'current' : 'past',
        entry: firstId(r),
      };
    }
    case 'Immunization': {
      const i = r;
      if (i.status === 'entered-in-error') return undefined;
      const negated = i.status === 'not-done' || noKnown(i.vaccineCode);
      return {
        section: 'immunizations',
        code: primaryCode(i.vaccineCode, 'immunizations'),
        negated,
        status: negated ? 'not given' : 'given',
        entry: firstId(r),
      };
    }
    default:
      return undefined;
  }
}

/** The key two records must share: everything but the entry's name. */
export function assertionKey(a: ClinicalAssertion): string {
  return `${a.section} ${a.code} ${a.negated ? 'negated' : 'affirmed'} ${a.status}`;
}

const TYPES = ['Condition', 'AllergyIntolerance', 'MedicationStatement', 'MedicationRequest', 'Immunization'];

/** Every assertion in one patient's record, read straight from the resource table (one query). */
export async function assertionsOfPatient(db: Kysely<any>, patientId: string): Promise<ClinicalAssertion[]> {
  const { rows } = await sql<{ content: string }>`select content from resource
    where deleted = false and resource_type = any(${TYPES}::text[]) and ${patientId} = any(owners)`.execute(db);
  return rows.map((row) => assertionOf(JSON.parse(row.content) as Resource)).filter((a): a is ClinicalAssertion => a !== undefined);
}
