/** The seven everyday portal searches of issue 22 (the seventh in two forms), for one patient. */
export interface PortalSearch {
  readonly name: string;
  readonly type: string;
  readonly query: Record<string, string>;
}

/** The searches, about patient `patientId` (whose record the corpus gives birth date 1950-01-10 and family name Park). */
export function PORTAL_SEARCHES(patientId: string): PortalSearch[] {
  const patient = `Patient/${patientId}`;
  return [
    { name: '1 labs', type: 'Observation', query: { patient, category: 'laboratory', _sort: '-date', _count: '50' } },
    { name: '2 inbox', type: 'Communication', query: { subject: patient, _sort: '-sent', _count: '20' } },
    { name: '3 documents', type: 'DocumentReference', query: { patient, _sort: '-date' } },
    { name: '4 activity', type: 'AuditEvent', query: { patient, _sort: '-date', _count: '50' } },
    { name: '5 one lab over time', type: 'Observation', query: { patient, code: 'http://loinc.org|4548-4', _sort: '-date' } },
    { name: '6 staff lookup', type: 'Patient', query: { name: 'park', birthdate: '1950-01-10' } },
    { name: '7a conditions+provenance', type: 'Condition', query: { patient, _revinclude: 'Provenance:target' } },
    { name: '7b prescriptions+medication', type: 'MedicationRequest', query: { patient, _include: 'MedicationRequest:medication' } },
  ];
}
