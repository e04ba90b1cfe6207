import type { Condition, Resource } from '@medplum/fhirtypes';

const SNOMED = 'http://snomed.info/sct';
const CLINICAL = 'http://terminology.hl7.org/CodeSystem/condition-clinical';
const VERIFY = 'http://terminology.hl7.org/CodeSystem/condition-ver-status';
const A_CLINICAL = 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical';
const A_VERIFY = 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification';
const patient = { reference: 'Patient/p1' };

const condition = (id: string, code: Condition['code'], verification: string, clinical?: string): Condition => ({
  resourceType: 'Condition',
  id,
  subject: patient,
  code,
  verificationStatus: { coding: [{ system: VERIFY, code: verification }] },
  ...(clinical ? { clinicalStatus: { coding: [{ system: CLINICAL, code: clinical }] } } : {}),
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'problem-list-item' }] }],
});

/** A record of denials, "no known" statements, an entry in error and entries that name nothing (export tests). */
export const NEGATION_RECORD: Resource[] = [
  condition(
    'diabetes-denied',
    { coding: [{ system: SNOMED, code: '44054006', display: 'Diabetes mellitus type 2' }], text: 'Diabetes mellitus type 2' },
    'refuted',
    'inactive',
  ),
  condition('asthma-error', { coding: [{ system: SNOMED, code: '195967001', display: 'Asthma' }] }, 'entered-in-error'),
  condition(
    'none',
    { coding: [{ system: SNOMED, code: '160245001', display: 'No current problems or disability' }] },
    'confirmed',
    'active',
  ),
  condition('blank', { text: 'Unknown problem' }, 'confirmed', 'active'),
  {
    resourceType: 'AllergyIntolerance',
    id: 'clinda-denied',
    patient,
    category: ['medication'],
    type: 'allergy',
    clinicalStatus: { coding: [{ system: A_CLINICAL, code: 'inactive' }] },
    verificationStatus: { coding: [{ system: A_VERIFY, code: 'refuted' }] },
    code: {
      coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '81982', display: 'Clindamycin' }],
      text: 'Clindamycin',
    },
  },
  {
    resourceType: 'MedicationStatement',
    id: 'no-meds',
    subject: patient,
    status: 'active',
    medicationCodeableConcept: {
      coding: [
        {
          system: 'http://hl7.org/fhir/uv/ips/CodeSystem/absent-unknown-uv-ips',
          code: 'no-known-medications',
          display: 'No known medications',
        },
      ],
      text: 'No known medications',
    },
  },
  {
    resourceType: 'MedicationStatement',
    id: 'aspirin-not-taken',
    subject: patient,
    status: 'not-taken',
    effectiveDateTime: '2026-01-02',
    medicationCodeableConcept: {
      coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '243670', display: 'aspirin 81 MG Oral Tablet' }],
    },
  },
  {
    resourceType: 'MedicationStatement',
    id: 'unknown-med',
    subject: patient,
    status: 'active',
    medicationCodeableConcept: { text: 'Unknown medication' },
  },
  {
    resourceType: 'Immunization',
    id: 'no-vaccines',
    patient,
    status: 'not-done',
    occurrenceString: 'unknown',
    vaccineCode: {
      coding: [
        {
          system: 'http://hl7.org/fhir/uv/ips/CodeSystem/absent-unknown-uv-ips',
          code: 'no-known-immunizations',
          display: 'No known immunizations',
        },
      ],
      text: 'No known immunizations',
    },
  },
  {
    resourceType: 'Immunization',
    id: 'unknown-vaccine',
    patient,
    status: 'completed',
    occurrenceDateTime: '2025-10-01',
    vaccineCode: { text: 'Unknown vaccine' },
  },
];
