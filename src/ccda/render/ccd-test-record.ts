import type { Organization, Patient, Practitioner, Resource } from '@medplum/fhirtypes';

/** A small, fully specified patient record used by the renderer's unit tests. */
export const TEST_ORG: Organization = {
  resourceType: 'Organization',
  id: 'clinic',
  name: 'Lakeside Clinic',
  telecom: [{ system: 'phone', value: '(206) 555-0100', use: 'work' }],
  address: [{ line: ['100 Lake St'], city: 'Seattle', state: 'WA', postalCode: '98101', country: 'US' }],
};

export const TEST_DOCTOR: Practitioner = {
  resourceType: 'Practitioner',
  id: 'dr-lee',
  identifier: [{ system: 'http://hl7.org/fhir/sid/us-npi', value: '1234567893' }],
  name: [{ family: 'Lee', given: ['Grace'], prefix: ['Dr.'] }],
};

export const TEST_PATIENT: Patient = {
  resourceType: 'Patient',
  id: 'p1',
  extension: [
    {
      url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race',
      extension: [
        { url: 'ombCategory', valueCoding: { system: 'urn:oid:2.16.840.1.113883.6.238', code: '2106-3', display: 'White' } },
        { url: 'ombCategory', valueCoding: { system: 'urn:oid:2.16.840.1.113883.6.238', code: '2028-9', display: 'Asian' } },
        { url: 'text', valueString: 'White, Asian' },
      ],
    },
    {
      url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity',
      extension: [{ url: 'ombCategory', valueCoding: { system: 'urn:oid:2.16.840.1.113883.6.238', code: '2186-5', display: 'Not Hispanic or Latino' } }],
    },
    { url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex', valueCode: 'F' },
  ],
  name: [{ use: 'official', family: "O'Brien & Sons", given: ['Mary', 'Ann'] }],
  gender: 'female',
  birthDate: '1984-03-14',
  address: [{ use: 'home', line: ['12 Elm St', 'Apt 3'], city: 'Seattle', state: 'WA', postalCode: '98107', country: 'US' }],
  telecom: [{ system: 'phone', value: '(206) 555-0142', use: 'home' }, { system: 'email', value: 'mary@example.com' }],
  communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'en-US' }] }, preferred: true }],
  generalPractitioner: [{ reference: 'Practitioner/dr-lee' }],
};

const SNOMED = 'http://snomed.info/sct';
const LOINC = 'http://loinc.org';

/** The patient's record: one or more of everything, some inside and some outside March 2024. */
export const TEST_RESOURCES: Resource[] = [
  TEST_DOCTOR,
  {
    resourceType: 'AllergyIntolerance',
    id: 'pcn',
    patient: { reference: 'Patient/p1' },
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
    type: 'allergy',
    category: ['medication'],
    criticality: 'high',
    code: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '7980', display: 'Penicillin G' }], text: 'Penicillin' },
    onsetDateTime: '2001-06',
    recordedDate: '2001-06-15',
    reaction: [{ manifestation: [{ coding: [{ system: SNOMED, code: '247472004', display: 'Hives' }] }], severity: 'moderate' }],
  },
  {
    resourceType: 'Condition',
    id: 'htn',
    subject: { reference: 'Patient/p1' },
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'problem-list-item' }] }],
    code: {
      coding: [
        { system: SNOMED, code: '38341003', display: 'Hypertension' },
        { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'I10', display: 'Essential hypertension' },
      ],
    },
    onsetDateTime: '2019-05-01',
  },
  {
    resourceType: 'Condition',
    id: 'strep',
    subject: { reference: 'Patient/p1' },
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'resolved' }] },
    code: { coding: [{ system: SNOMED, code: '43878008', display: 'Streptococcal sore throat' }] },
    onsetDateTime: '2023-11-02',
    abatementDateTime: '2023-11-16',
  },
  {
    resourceType: 'Condition',
    id: 'worry',
    subject: { reference: 'Patient/p1' },
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    category: [{ coding: [{ system: 'http://hl7.org/fhir/us/core/CodeSystem/condition-category', code: 'health-concern' }] }],
    code: { coding: [{ system: SNOMED, code: '161891005', display: 'Backache' }] },
    onsetDateTime: '2024-03-01',
  },
  {
    resourceType: 'MedicationRequest',
    id: 'lisinopril',
    status: 'active',
    intent: 'order',
    subject: { reference: 'Patient/p1' },
    medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '314076', display: 'lisinopril 10 MG Oral Tablet' }] },
    authoredOn: '2019-05-01',
    dosageInstruction: [{ text: 'One tablet daily', timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } }, doseAndRate: [{ doseQuantity: { value: 1, unit: 'tablet' } }] }],
  },
  {
    resourceType: 'Observation',
    id: 'a1c',
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
    code: { coding: [{ system: LOINC, code: '4548-4', display: 'Hemoglobin A1c/Hemoglobin.total in Blood' }] },
    effectiveDateTime: '2024-03-15T08:30:00-07:00',
    valueQuantity: { value: 5.9, unit: '%', system: 'http://unitsofmeasure.org', code: '%' },
    referenceRange: [{ low: { value: 4, unit: '%', system: 'http://unitsofmeasure.org', code: '%' }, high: { value: 5.6, unit: '%', system: 'http://unitsofmeasure.org', code: '%' } }],
    interpretation: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'H', display: 'High' }] }],
  },
  {
    resourceType: 'DiagnosticReport',
    id: 'panel',
    status: 'final',
    code: { coding: [{ system: LOINC, code: '4548-4', display: 'Hemoglobin A1c panel' }] },
    effectiveDateTime: '2024-03-15T08:30:00-07:00',
    result: [{ reference: 'Observation/a1c' }],
  },
  {
    resourceType: 'Observation',
    id: 'bp',
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
    code: { coding: [{ system: LOINC, code: '85354-9', display: 'Blood pressure panel' }] },
    effectiveDateTime: '2024-03-15T08:20:00-07:00',
    component: [
      { code: { coding: [{ system: LOINC, code: '8480-6', display: 'Systolic blood pressure' }] }, valueQuantity: { value: 124, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } },
      { code: { coding: [{ system: LOINC, code: '8462-4', display: 'Diastolic blood pressure' }] }, valueQuantity: { value: 78, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } },
    ],
  },
  {
    resourceType: 'Observation',
    id: 'smoking',
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'social-history' }] }],
    code: { coding: [{ system: LOINC, code: '72166-2', display: 'Tobacco smoking status' }] },
    effectiveDateTime: '2024-03-15',
    valueCodeableConcept: { coding: [{ system: SNOMED, code: '266919005', display: 'Never smoker' }] },
  },
  {
    resourceType: 'Immunization',
    id: 'flu',
    status: 'completed',
    vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '158', display: 'influenza, injectable, quadrivalent' }] },
    patient: { reference: 'Patient/p1' },
    occurrenceDateTime: '2023-10-02',
    lotNumber: 'LOT-42',
  },
  {
    resourceType: 'Encounter',
    id: 'visit',
    status: 'finished',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
    type: [{ coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: '99214', display: 'Office visit' }] }],
    subject: { reference: 'Patient/p1' },
    participant: [{ individual: { reference: 'Practitioner/dr-lee' } }],
    period: { start: '2024-03-15T08:15:00-07:00', end: '2024-03-15T08:45:00-07:00' },
    reasonReference: [{ reference: 'Condition/htn' }],
  },
  {
    resourceType: 'Procedure',
    id: 'ecg',
    status: 'completed',
    subject: { reference: 'Patient/p1' },
    code: { coding: [{ system: SNOMED, code: '29303009', display: 'Electrocardiographic procedure' }] },
    performedDateTime: '2024-03-15T08:40:00-07:00',
  },
  {
    resourceType: 'Goal',
    id: 'bp-goal',
    lifecycleStatus: 'active',
    subject: { reference: 'Patient/p1' },
    description: { text: 'Blood pressure below 130/80' },
    startDate: '2024-03-15',
  },
  {
    resourceType: 'Coverage',
    id: 'cov',
    status: 'active',
    beneficiary: { reference: 'Patient/p1' },
    payor: [{ reference: 'Organization/clinic', display: 'Lakeside Clinic' }],
    relationship: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/subscriber-relationship', code: 'self' }] },
    subscriberId: 'M-100',
    period: { start: '2024-01-01' },
  },
];
