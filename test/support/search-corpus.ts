/**
 * A generated corpus for the search tests and the bench: patients with the records a portal searches every day
 * (labs and vitals over years, messages, documents, activity, conditions with their provenance, prescriptions of
 * shared medications), written straight through the resource writer in large transactions, as a bulk load does.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { Kysely } from 'kysely';
import { buildAuditEvent } from '../../src/access/audit-event';
import type { Tables } from '../../src/db/tables';
import { insertNew, type PreparedWrite, prepareWrite } from '../../src/fhir/resource-writer';

/** What was generated: the organisation, the patients (the first is Ada) and the resources of each patient. */
export interface SearchCorpus {
  readonly organizationId: string;
  readonly patientIds: readonly string[];
  readonly resources: number;
}

const LOINC = ['4548-4', '2345-7', '2093-3', '718-7', '8480-6', '8462-4', '29463-7', '39156-5'];
const LAB = 'http://terminology.hl7.org/CodeSystem/observation-category';

/** Writes `patients` patients' records (ids prefixed by `prefix`); the first patient's name is Ada Park. */
export async function loadSearchCorpus(
  db: Kysely<Tables>,
  options: { patients: number; prefix?: string; perPatient?: number },
): Promise<SearchCorpus> {
  const prefix = options.prefix ?? 'sc';
  const scale = options.perPatient ?? 1;
  const now = new Date('2026-03-01T12:00:00Z');
  const organizationId = `${prefix}-org`;
  const shared: Resource[] = [{ resourceType: 'Organization', id: organizationId, name: 'Westside Clinic' }];
  for (let m = 0; m < 6; m++) {
    shared.push({
      resourceType: 'Medication',
      id: `${prefix}-med-${m}`,
      code: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: String(310965 + m) }] },
    });
  }
  let resources = await write(db, shared, now);
  const patientIds: string[] = [];
  for (let p = 0; p < options.patients; p++) {
    const id = `${prefix}-p${p}`;
    patientIds.push(id);
    resources += await write(db, recordOf(prefix, id, p, organizationId, scale), now);
  }
  return { organizationId, patientIds, resources };
}

function day(p: number, i: number): string {
  // Spread over about eight years, distinct per resource, so a sort has no ties to hide a difference of order.
  return new Date(Date.UTC(2018, 0, 1) + ((i * 7919 + p * 104729) % (8 * 365 * 24 * 60)) * 60_000).toISOString();
}

function recordOf(prefix: string, id: string, p: number, organizationId: string, scale: number): Resource[] {
  const subject = { reference: `Patient/${id}` };
  const out: Resource[] = [
    {
      resourceType: 'Patient',
      id,
      name: [{ family: p % 10 === 0 ? 'Park' : `Lee${p}`, given: [p === 0 ? 'Ada' : `Given${p}`] }],
      birthDate: `19${50 + (p % 50)}-0${1 + (p % 9)}-1${p % 10}`,
      managingOrganization: { reference: `Organization/${organizationId}` },
    },
  ];
  for (let i = 0; i < 120 * scale; i++) {
    const lab = i % 3 !== 0;
    out.push({
      resourceType: 'Observation',
      id: `${id}-obs-${i}`,
      status: 'final',
      subject,
      category: [{ coding: [{ system: LAB, code: lab ? 'laboratory' : 'vital-signs' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: LOINC[i % LOINC.length] }] },
      effectiveDateTime: day(p, i),
      valueQuantity: { value: (i % 97) + 0.5, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
    });
  }
  for (let i = 0; i < 15 * scale; i++) {
    out.push({
      resourceType: 'Communication',
      id: `${id}-msg-${i}`,
      status: 'completed',
      subject,
      sent: day(p, 1000 + i),
      payload: [{ contentString: `Message ${i}` }],
    });
  }
  for (let i = 0; i < 8 * scale; i++) {
    out.push({
      resourceType: 'DocumentReference',
      id: `${id}-doc-${i}`,
      status: 'current',
      docStatus: 'final',
      subject,
      date: day(p, 2000 + i),
      type: { coding: [{ system: 'http://loinc.org', code: '34133-9' }] },
      content: [{ attachment: { contentType: 'text/plain', url: `http://example.org/${id}/${i}` } }],
    });
  }
  for (let i = 0; i < 15 * scale; i++) {
    const event = buildAuditEvent({
      patientId: id,
      agent: { who: { reference: 'Practitioner/bench' }, requestor: true },
      interaction: 'read',
      resources: [`Observation/${id}-obs-${i}`],
      recorded: new Date(day(p, 3000 + i)),
    });
    out.push({ ...event, id: `${id}-audit-${i}` });
  }
  for (let i = 0; i < 10 * scale; i++) {
    out.push({
      resourceType: 'Condition',
      id: `${id}-cond-${i}`,
      subject,
      recordedDate: day(p, 4000 + i),
      code: { coding: [{ system: 'http://snomed.info/sct', code: String(44054006 + i) }] },
    });
    out.push({
      resourceType: 'Provenance',
      id: `${id}-prov-${i}`,
      target: [{ reference: `Condition/${id}-cond-${i}` }],
      recorded: day(p, 4000 + i),
      agent: [{ who: { reference: `Organization/${organizationId}` } }],
    });
  }
  for (let i = 0; i < 6 * scale; i++) {
    out.push({
      resourceType: 'MedicationRequest',
      id: `${id}-rx-${i}`,
      status: 'active',
      intent: 'order',
      subject,
      authoredOn: day(p, 5000 + i),
      medicationReference: { reference: `Medication/${prefix}-med-${i % 6}` },
    });
  }
  return out;
}

async function write(db: Kysely<Tables>, resources: Resource[], now: Date): Promise<number> {
  const writes: PreparedWrite[] = resources.map((r) => prepareWrite(r as Resource & { id: string }, 1, now));
  await db.transaction().execute((trx) => insertNew(trx, writes));
  return writes.length;
}
