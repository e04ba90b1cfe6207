import type { Observation, Organization, Patient } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import { openTestDatabase, TestDatabase } from '../../test/support/test-database';
import { systemClock } from '../fhir/clock';
import { Repository } from '../fhir/repository';
import { unrestrictedScope } from './access-scope';
import { staffScope } from './portal-scope';
import { visibilityCondition } from './visibility';

let database: TestDatabase;
let ours: Organization;
let observations: Observation[];
let patients: Patient[];

beforeAll(async () => {
  database = await openTestDatabase();
  const system = new Repository(database.db, { scope: unrestrictedScope(), clock: systemClock, fhirBase: 'http://test/fhir' });
  ours = (await system.create<Organization>({ resourceType: 'Organization', name: 'Main Street Practice' })).resource;
  const other = (await system.create<Organization>({ resourceType: 'Organization', name: 'Harbor Clinic' })).resource;
  patients = [];
  observations = [];
  // Many patients of our organisation, a few of the other: a walk through the organisation's patients would show.
  for (let n = 0; n < 40; n++) {
    const managing = n % 10 === 9 ? other : ours;
    const patient = (
      await system.create<Patient>({
        resourceType: 'Patient',
        name: [{ family: `Park${n}` }],
        managingOrganization: { reference: `Organization/${managing.id}` },
      })
    ).resource;
    patients.push(patient);
    observations.push(
      (
        await system.create<Observation>({
          resourceType: 'Observation',
          status: 'final',
          code: { text: 'pulse' },
          subject: { reference: `Patient/${patient.id}` },
        })
      ).resource,
    );
  }
  await sql`analyze`.execute(database.db);
});
afterAll(() => database.close());

/** Whether a staff account of our organisation may read this resource, and the plan of that read. */
async function staffReads(type: 'Patient' | 'Observation', id: string): Promise<{ visible: boolean; plan: string }> {
  const condition = visibilityCondition(staffScope(ours.id, 'staff account s-1'), type)!;
  const query = sql<{ id: string }>`select r.id from resource r where r.resource_type = ${type} and r.id = ${id} and ${condition}`;
  return database.db.transaction().execute(async (trx) => {
    // As on a big table: no sequential scan of search_reference, so the plan shows which index answers.
    await sql`set local enable_seqscan = off`.execute(trx);
    await sql`set local enable_bitmapscan = off`.execute(trx);
    const { rows } = await query.execute(trx);
    const { rows: plan } = await sql<{ 'QUERY PLAN': string }>`explain ${query}`.execute(trx);
    return { visible: rows.length === 1, plan: plan.map((line) => line['QUERY PLAN']).join('\n') };
  });
}

describe("a staff account's organisation check", () => {
  test.each(['Observation', 'Patient'] as const)(
    '%s: a read sees its organisation’s patients only, probing the one patient rather than walking the organisation',
    async (type) => {
      const rows = type === 'Patient' ? patients : observations;
      for (const n of [0, 1, 9, 19]) {
        const { visible, plan } = await staffReads(type, rows[n].id!);
        expect([n, visible]).toEqual([n, n % 10 !== 9]);
        expect(plan).toContain('search_reference_patient_organization_idx');
        expect(plan).not.toContain('search_reference_target_updated_idx');
        expect(plan).toMatch(
          type === 'Patient' ? /Index Cond: \(resource_id = (r\.id|'[^']+'::text)\)/ : /Index Cond: \(resource_id = ANY \(r\.owners\)\)/,
        );
      }
    },
  );
});
