import type { CodeableConcept, Organization, Patient, Practitioner, Resource } from '@medplum/fhirtypes';

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
      extension: [
        {
          url: 'ombCategory',
          valueCoding: { system: 'urn:oid:2.16.840.1.113883.6.238', code: '2186-5', display: 'Not Hispanic or Latino' },
        },
      ],
    },
    { url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex', valueCode: 'F' },
  ],
  name: [{ use: 'official', family: "O'Brien & Sons", given: ['Mary', 'Ann'] }],
  gender: 'female',
  birthDate: '1984-03-14',
  address: [{ use: 'home', line: ['12 Elm St', 'Apt 3'], city: 'Seattle', state: 'WA', postalCode: '98107', country: 'US' }],
  telecom: [
    { system: 'phone', value: '(206) 555-0142', use: 'home' },
    { system: 'email', value: 'mary@example.com' },
  ],
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
    code: {
      coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '7980', display: 'Penicillin G' }],
      text: 'Penicillin',
    },
    onsetDateTime: '2001-06',
    recordedDate: '2001-06-15',
    recorder: { reference: 'Organization/clinic' },
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
    medicationCodeableConcept: {
      coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '314076', display: 'lisinopril 10 MG Oral Tablet' }],
    },
    authoredOn: '2019-05-01',
    requester: { reference: 'Practitioner/dr-lee' },
    dosageInstruction: [
      {
        text: 'One tablet daily',
        timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } },
        doseAndRate: [{ doseQuantity: { value: 1, unit: 'tablet' } }],
      },
    ],
  },
  {
    resourceType: 'Observation',
    id: 'a1c',
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
    code: { coding: [{ system: LOINC, code: '4548-4', display: 'Hemoglobin A1c/Hemoglobin.total in Blood' }] },
    effectiveDateTime: '2024-03-15T08:30:00-07:00',
    valueQuantity: { value: 5.9, unit: '%', system: 'http://unitsofmeasure.org', code: '%' },
    referenceRange: [
      {
        low: { value: 4, unit: '%', system: 'http://unitsofmeasure.org', code: '%' },
        high: { value: 5.6, unit: '%', system: 'http://unitsofmeasure.org', code: '%' },
      },
    ],
    interpretation: [
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'H', display: 'High' }] },
    ],
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
      {
        code: { coding: [{ system: LOINC, code: '8480-6', display: 'Systolic blood pressure' }] },
        valueQuantity: { value: 124, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
      },
      {
        code: { coding: [{ system: LOINC, code: '8462-4', display: 'Diastolic blood pressure' }] },
        valueQuantity: { value: 78, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
      },
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

/** A patient whose record has every kind of gap real data has: missing dates, text-only codes, odd values. */
export const SPARSE_PATIENT: Patient = {
  resourceType: 'Patient',
  id: 'sparse',
  name: [{ text: 'Pat Sparse' }],
  deceasedDateTime: '2025-02-03T04:05:06-05:00',
  extension: [
    {
      url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race',
      extension: [{ url: 'ombCategory', valueCoding: { system: 'http://terminology.hl7.org/CodeSystem/v3-NullFlavor', code: 'ASKU' } }],
    },
    { url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex', valueCode: 'UNK' },
  ],
  communication: [{ language: { text: 'Klingon' } }],
};

const sp = { reference: 'Patient/sparse' };
const cat = (code: string): CodeableConcept[] => [
  { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code }] },
];

/** The sparse patient's record. */
export const SPARSE_RESOURCES: Resource[] = [
  {
    resourceType: 'AllergyIntolerance',
    id: 'a1',
    patient: sp,
    code: { text: 'Cat dander' },
    clinicalStatus: { coding: [{ code: 'inactive' }] },
  },
  {
    resourceType: 'AllergyIntolerance',
    id: 'a2',
    patient: sp,
    type: 'intolerance',
    category: ['food'],
    code: { coding: [{ system: 'http://example.org/local', code: 'x' }] },
  },
  { resourceType: 'Condition', id: 'c1', subject: sp, code: { text: 'Feeling tired' }, clinicalStatus: { coding: [{ code: 'resolved' }] } },
  { resourceType: 'Condition', id: 'c2', subject: sp, category: [{ coding: [{ code: 'health-concern' }] }] },
  {
    resourceType: 'MedicationRequest',
    id: 'm1',
    status: 'stopped',
    intent: 'order',
    subject: sp,
    contained: [
      {
        resourceType: 'Medication',
        id: 'med',
        code: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '197361', display: 'amlodipine 5 MG' }] },
      },
    ],
    medicationReference: { reference: '#med' },
    dosageInstruction: [
      {
        timing: { repeat: { frequency: 3, period: 1, periodUnit: 'd' } },
        doseAndRate: [{ doseQuantity: { value: 0.00000125, unit: 'puffs' } }],
        route: { text: 'by mouth' },
      },
    ],
  },
  { resourceType: 'MedicationStatement', id: 'm2', status: 'active', subject: sp, medicationCodeableConcept: { text: 'Fish oil' } },
  { resourceType: 'Observation', id: 'o1', status: 'preliminary', code: { text: 'Mood' }, valueString: 'ok <fine> & "well"' },
  {
    resourceType: 'Observation',
    id: 'o2',
    status: 'final',
    category: cat('laboratory'),
    code: { coding: [{ system: 'http://loinc.org', code: '5778-6' }] },
    valueCodeableConcept: { text: 'Yellow' },
    effectiveDateTime: '2024',
  },
  {
    resourceType: 'Observation',
    id: 'o3',
    status: 'final',
    category: cat('laboratory'),
    code: { text: 'Range' },
    valueRange: { low: { value: 1 }, high: { value: 3, unit: 'mg' } },
    effectivePeriod: { start: '2024-01-01', end: '2024-01-02' },
  },
  {
    resourceType: 'Observation',
    id: 'o4',
    status: 'final',
    code: { text: 'Bool' },
    valueBoolean: false,
    issued: '2024-02-02T10:00:00.123Z',
  },
  { resourceType: 'Observation', id: 'o5', status: 'final', code: { text: 'Int' }, valueInteger: 7 },
  { resourceType: 'Observation', id: 'o6', status: 'final', code: { text: 'Absent' }, dataAbsentReason: { text: 'Patient refused' } },
  {
    resourceType: 'Observation',
    id: 'o7',
    status: 'final',
    category: cat('vital-signs'),
    code: { text: 'Pulse' },
    valueQuantity: { value: 72, unit: 'beats/minute' },
    effectiveDateTime: '2024-03-01T10:00:00+05:30',
  },
  {
    resourceType: 'Observation',
    id: 'o8',
    status: 'final',
    category: cat('social-history'),
    code: { coding: [{ system: 'http://snomed.info/sct', code: '14679004', display: 'Occupation' }] },
    valueString: 'Pilot',
    effectivePeriod: { start: '2010', end: '2020' },
  },
  {
    resourceType: 'Observation',
    id: 'o9',
    status: 'final',
    category: [{ coding: [{ code: 'functional-status' }] }],
    code: { coding: [{ system: 'http://snomed.info/sct', code: '284545001', display: 'Ability to dress' }] },
    valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '371150009', display: 'Independent' }] },
  },
  {
    resourceType: 'Observation',
    id: 'o10',
    status: 'final',
    category: [{ coding: [{ code: 'cognitive-status' }] }],
    code: { text: 'MoCA' },
    valueQuantity: { value: 26, unit: '{score}', system: 'http://unitsofmeasure.org', code: '{score}' },
  },
  {
    resourceType: 'Observation',
    id: 'o11',
    status: 'final',
    category: cat('social-history'),
    code: { coding: [{ system: 'http://loinc.org', code: '72166-2' }] },
  },
  {
    resourceType: 'DiagnosticReport',
    id: 'd1',
    status: 'final',
    code: { text: 'Panel' },
    result: [{ reference: 'Observation/missing' }, { reference: 'Observation/o5' }],
  },
  {
    resourceType: 'Immunization',
    id: 'i1',
    status: 'not-done',
    vaccineCode: { text: 'Flu shot' },
    patient: sp,
    occurrenceString: 'last fall',
  },
  { resourceType: 'Encounter', id: 'e1', status: 'finished', class: { code: 'VR' } },
  {
    resourceType: 'Encounter',
    id: 'e2',
    status: 'finished',
    class: {},
    participant: [{ individual: { reference: 'Practitioner/nowhere' } }],
  },
  { resourceType: 'Procedure', id: 'p1', status: 'in-progress', subject: sp },
  {
    resourceType: 'CarePlan',
    id: 'cp1',
    status: 'active',
    intent: 'plan',
    subject: sp,
    activity: [
      {
        detail: {
          status: 'scheduled',
          code: { coding: [{ system: 'http://snomed.info/sct', code: '229065009', display: 'Exercise therapy' }] },
        },
      },
    ],
  },
  { resourceType: 'CarePlan', id: 'cp2', status: 'draft', intent: 'plan', subject: sp, title: 'Eat better' },
  {
    resourceType: 'ServiceRequest',
    id: 's1',
    status: 'active',
    intent: 'order',
    subject: sp,
    code: { coding: [{ system: 'http://loinc.org', code: '24323-8', display: 'CMP' }] },
    occurrenceDateTime: '2027-01-01',
  },
  {
    resourceType: 'ServiceRequest',
    id: 's2',
    status: 'active',
    intent: 'order',
    subject: sp,
    code: { coding: [{ system: 'http://snomed.info/sct', code: '3457005', display: 'Patient referral' }] },
    reasonCode: [{ text: 'Knee pain' }],
    performer: [{ display: 'Dr. Ortho' }],
    authoredOn: '2024-05-01',
  },
  { resourceType: 'Goal', id: 'g1', lifecycleStatus: 'completed', subject: sp, description: { text: 'Walk daily' } },
  {
    resourceType: 'Device',
    id: 'dev',
    status: 'active',
    patient: sp,
    udiCarrier: [{ deviceIdentifier: '09504000059118', carrierHRF: '(01)09504000059118(17)141120(10)7654321D(21)10987654d321' }],
    type: { coding: [{ system: 'http://snomed.info/sct', code: '14106009', display: 'Cardiac pacemaker' }] },
    manufacturer: 'Acme & Co',
  },
  {
    resourceType: 'Coverage',
    id: 'cov',
    status: 'active',
    beneficiary: sp,
    payor: [{ display: 'Unknown Plan' }],
    type: { coding: [{ system: 'urn:oid:2.16.840.1.113883.3.221.5', code: '81', display: 'Self-pay' }] },
  },
  {
    resourceType: 'DocumentReference',
    id: 'doc',
    status: 'current',
    category: [{ coding: [{ code: 'clinical-note' }] }],
    type: { coding: [{ system: 'http://loinc.org', code: '11506-3', display: 'Progress note' }] },
    date: '2024-03-01T09:00:00Z',
    content: [{ attachment: { contentType: 'text/plain', data: Buffer.from('Seen today. All <good>.').toString('base64') } }],
  },
];
