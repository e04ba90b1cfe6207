import type { Patient, Resource } from '@medplum/fhirtypes';

const LOINC = 'http://loinc.org';
const SNOMED = 'http://snomed.info/sct';
const UCUM = 'http://unitsofmeasure.org';

/** A deterministic patient with `count` clinical resources of every kind the CCD renders (for the bench). */
export function syntheticPatient(count: number): { patient: Patient; resources: Resource[] } {
  const patient: Patient = {
    resourceType: 'Patient',
    id: 'synthetic',
    name: [{ use: 'official', family: 'Bench', given: ['Sam'] }],
    gender: 'female',
    birthDate: '1970-01-01',
    address: [{ line: ['1 Test Way'], city: 'Springfield', state: 'IL', postalCode: '62701', country: 'US' }],
    telecom: [{ system: 'phone', value: '555-0100', use: 'home' }],
  };
  const resources: Resource[] = [patient];
  const subject = { reference: 'Patient/synthetic' };
  const day = (i: number): string => new Date(Date.UTC(2000, 0, 1) + i * 86_400_000 * 7).toISOString().replace('.000Z', '+00:00');
  let i = 0;
  while (resources.length - 1 < count) {
    const when = day(i);
    switch (i % 10) {
      case 0:
      case 1:
      case 2: {
        const labs = [0, 1, 2].map((k) => ({
          resourceType: 'Observation' as const,
          id: `lab-${i}-${k}`,
          status: 'final' as const,
          category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
          code: { coding: [{ system: LOINC, code: ['2339-0', '2947-0', '6298-4'][k], display: ['Glucose', 'Sodium', 'Potassium'][k] }] },
          subject,
          effectiveDateTime: when,
          valueQuantity: { value: 90 + k + (i % 7), unit: 'mg/dL', system: UCUM, code: 'mg/dL' },
        }));
        resources.push(...labs, {
          resourceType: 'DiagnosticReport',
          id: `report-${i}`,
          status: 'final',
          code: { coding: [{ system: LOINC, code: '51990-0', display: 'Basic metabolic panel' }] },
          subject,
          effectiveDateTime: when,
          result: labs.map((l) => ({ reference: `Observation/${l.id}` })),
        });
        break;
      }
      case 3:
        resources.push({
          resourceType: 'Observation',
          id: `bp-${i}`,
          status: 'final',
          category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
          code: { coding: [{ system: LOINC, code: '85354-9', display: 'Blood pressure panel' }] },
          subject,
          effectiveDateTime: when,
          component: [
            {
              code: { coding: [{ system: LOINC, code: '8480-6' }] },
              valueQuantity: { value: 120 + (i % 20), unit: 'mmHg', system: UCUM, code: 'mm[Hg]' },
            },
            {
              code: { coding: [{ system: LOINC, code: '8462-4' }] },
              valueQuantity: { value: 80 - (i % 10), unit: 'mmHg', system: UCUM, code: 'mm[Hg]' },
            },
          ],
        });
        break;
      case 4:
        resources.push({
          resourceType: 'Encounter',
          id: `enc-${i}`,
          status: 'finished',
          class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
          type: [{ coding: [{ system: SNOMED, code: '185349003', display: 'Encounter for check up' }] }],
          subject,
          period: { start: when, end: when },
        });
        break;
      case 5:
        resources.push({
          resourceType: 'Condition',
          id: `cond-${i}`,
          subject,
          clinicalStatus: {
            coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: i % 20 === 5 ? 'active' : 'resolved' }],
          },
          code: { coding: [{ system: SNOMED, code: '444814009', display: 'Viral sinusitis' }] },
          onsetDateTime: when,
        });
        break;
      case 6:
        resources.push({
          resourceType: 'MedicationRequest',
          id: `med-${i}`,
          status: 'completed',
          intent: 'order',
          subject,
          medicationCodeableConcept: {
            coding: [
              { system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '313782', display: 'Acetaminophen 325 MG Oral Tablet' },
            ],
          },
          authoredOn: when,
        });
        break;
      case 7:
        resources.push({
          resourceType: 'Immunization',
          id: `imm-${i}`,
          status: 'completed',
          vaccineCode: {
            coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '140', display: 'Influenza, seasonal, injectable, preservative free' }],
          },
          patient: subject,
          occurrenceDateTime: when,
        });
        break;
      case 8:
        resources.push({
          resourceType: 'Procedure',
          id: `proc-${i}`,
          status: 'completed',
          subject,
          code: { coding: [{ system: SNOMED, code: '430193006', display: 'Medication reconciliation' }] },
          performedDateTime: when,
        });
        break;
      default:
        resources.push({
          resourceType: 'AllergyIntolerance',
          id: `allergy-${i}`,
          patient: subject,
          code: { coding: [{ system: SNOMED, code: '300916003', display: 'Latex allergy' }] },
          recordedDate: when,
        });
    }
    i++;
  }
  return { patient, resources: resources.slice(1, count + 1) };
}
