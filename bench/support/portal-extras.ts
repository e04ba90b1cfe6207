/**
 * What a portal searches that the Synthea bundles lack, added to each imported patient's record so every one of the
 * seven portal searches (bench/support/portal-search-targets.ts) has something to find: messages, released documents,
 * activity history (AuditEvents), a Provenance for each Condition, and prescriptions of shared Medications. Written
 * straight through the resource writer (as a bulk load does), with ids derived from the patient's, so a copy of the
 * database under new ids (bench/search-growth.ts) keeps every reference whole. The practice and the medications
 * have fixed ids, shared by every copy.
 */
import type { Patient, Resource } from '@medplum/fhirtypes';
import { type Kysely, sql } from 'kysely';
import { buildAuditEvent } from '../../src/access/audit-event';
import type { Tables } from '../../src/db/tables';
import { insertNew, prepareWrite } from '../../src/fhir/resource-writer';

/** The organisation managing every bench patient (its staff account is the bench's staff caller). */
export const BENCH_PRACTICE_ID = 'bench-practice';

const MEDICATIONS = 6;

/** A patient of the imported corpus, as the searches need it. */
export interface BenchPatient {
  readonly id: string;
  readonly family: string;
  readonly birthDate: string;
}

/** The imported patients and the one who plays Ada (an adult with a long record and HbA1c results). */
export interface BenchPatients {
  readonly patients: BenchPatient[];
  readonly ada: BenchPatient;
}

function day(p: number, i: number): string {
  return new Date(Date.UTC(2016, 0, 1) + ((i * 7919 + p * 104729) % (10 * 365 * 24 * 60)) * 60_000).toISOString();
}

/** The portal's own records for one patient (`conditions`: the ids of their Conditions). */
function extrasOf(patientId: string, p: number, conditions: readonly string[]): Resource[] {
  const subject = { reference: `Patient/${patientId}` };
  const out: Resource[] = [];
  for (let i = 0; i < 15; i++) {
    out.push({
      resourceType: 'Communication',
      id: `${patientId}-msg-${i}`,
      status: 'completed',
      subject,
      sent: day(p, 1000 + i),
      payload: [{ contentString: `Message ${i} about the results` }],
    });
  }
  for (let i = 0; i < 8; i++) {
    out.push({
      resourceType: 'DocumentReference',
      id: `${patientId}-doc-${i}`,
      status: 'current',
      docStatus: 'final',
      subject,
      date: day(p, 2000 + i),
      type: { coding: [{ system: 'http://loinc.org', code: '34133-9' }] },
      content: [{ attachment: { contentType: 'text/plain', url: `http://example.org/${patientId}/${i}` } }],
    });
  }
  for (let i = 0; i < 15; i++) {
    const event = buildAuditEvent({
      patientId,
      agent: { who: { reference: 'Practitioner/bench' }, requestor: true },
      interaction: 'read',
      resources: [`Patient/${patientId}`],
      recorded: new Date(day(p, 3000 + i)),
    });
    out.push({ ...event, id: `${patientId}-audit-${i}` });
  }
  conditions.forEach((condition, i) => {
    out.push({
      resourceType: 'Provenance',
      id: `${patientId}-prov-${i}`,
      target: [{ reference: `Condition/${condition}` }],
      recorded: day(p, 4000 + i),
      agent: [{ who: { reference: `Organization/${BENCH_PRACTICE_ID}` } }],
    });
  });
  for (let i = 0; i < 6; i++) {
    out.push({
      resourceType: 'MedicationRequest',
      id: `${patientId}-rx-${i}`,
      status: 'active',
      intent: 'order',
      subject,
      authoredOn: day(p, 5000 + i),
      medicationReference: { reference: `Medication/bench-med-${i % MEDICATIONS}` },
    });
  }
  return out;
}

/**
 * Adds the practice, the medications and every imported patient's portal records, makes the practice every patient's
 * managing organisation (its staff see them all), and picks Ada.
 */
export async function addPortalRecords(db: Kysely<Tables>): Promise<BenchPatients> {
  const now = new Date();
  const { rows: patients } = await sql<{ id: string; content: string }>`
    select id, content from resource where resource_type = 'Patient' and not deleted order by id`.execute(db);
  const { rows: conditions } = await sql<{ patient: string; id: string }>`
    select target_id as patient, resource_id as id from search_reference
    where resource_type = 'Condition' and code = 'patient' and target_type = 'Patient' order by resource_id`.execute(db);
  const shared: Resource[] = [{ resourceType: 'Organization', id: BENCH_PRACTICE_ID, name: 'Bench Family Practice' }];
  for (let m = 0; m < MEDICATIONS; m++) {
    shared.push({
      resourceType: 'Medication',
      id: `bench-med-${m}`,
      code: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: String(310965 + m) }] },
    });
  }
  const records = patients.flatMap((row, p) =>
    extrasOf(
      row.id,
      p,
      conditions.filter((c) => c.patient === row.id).map((c) => c.id),
    ),
  );
  const managed = patients.map((row) => {
    const patient = JSON.parse(row.content) as Patient & { id: string };
    return prepareWrite({ ...patient, managingOrganization: { reference: `Organization/${BENCH_PRACTICE_ID}` } }, 2, now);
  });
  await db.transaction().execute(async (trx) => {
    await insertNew(
      trx,
      [...shared, ...records].map((r) => prepareWrite(r as Resource & { id: string }, 1, now)),
    );
    // The patients as staff registered them: managed by the practice (a new version, with its index rows).
    const ids = managed.map((w) => w.resource.id);
    for (const table of ['search_token', 'search_string', 'search_date', 'search_reference', 'search_quantity'] as const) {
      await sql`delete from ${sql.table(table)} where resource_type = 'Patient' and resource_id = any(${ids}::text[])`.execute(trx);
    }
    await sql`delete from resource where resource_type = 'Patient' and id = any(${ids}::text[])`.execute(trx);
    await insertNew(trx, managed);
  });
  const described = patients.map((row) => {
    const patient = JSON.parse(row.content) as { id: string; name?: { family?: string }[]; birthDate?: string };
    return { id: row.id, family: patient.name?.[0]?.family ?? '', birthDate: patient.birthDate ?? '' };
  });
  return { patients: described, ada: await pickAda(db, described) };
}

/** The adult alive patient with HbA1c results and the most Observations: a long record, every search finds something. */
async function pickAda(db: Kysely<Tables>, patients: BenchPatient[]): Promise<BenchPatient> {
  const { rows } = await sql<{ id: string }>`
    select p.id from resource p
    where p.resource_type = 'Patient' and p.id = any(${patients.map((x) => x.id)}::text[])
      and (p.content::jsonb ->> 'birthDate') between '1940' and '2000' and (p.content::jsonb -> 'deceasedDateTime') is null
      and exists (select 1 from search_reference d join search_token t on t.resource_id = d.resource_id and t.resource_type = 'Observation'
        and t.code = 'code' and t.value = '4548-4'
        where d.target_id = p.id and d.code = 'patient' and d.resource_type = 'Observation')
    order by (select count(*) from search_reference d where d.target_id = p.id and d.code = 'patient' and d.resource_type = 'Observation') desc, p.id
    limit 1`.execute(db);
  const ada = patients.find((p) => p.id === rows[0]?.id);
  if (!ada) throw new Error('bench: no adult patient with HbA1c results in the corpus');
  return ada;
}
