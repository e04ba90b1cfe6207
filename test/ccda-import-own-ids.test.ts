/**
 * A CCD Chartkeeper rendered names the patient and each entry by our own ids (root DEFAULT_ID_ROOT, "Type/id").
 * Imported again by staff who may see that patient, it is that patient's record: no copy of the patient, no copy of
 * what it holds, even when the patient has no identifier, phone, email or postal code to match by. Staff of another
 * organisation importing the same document never reach that patient: it is matched like any other document.
 */
import type { Organization, Parameters, Patient } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import { DEMO_PASSWORD, DEMO_PEOPLE } from '../fixtures/demo-family';
import { OWN_ID_SYSTEM } from '../src/portal/records/own-resource-id';
import { type AuthTestApp, startAuthTestApp } from './auth-test-app';
import { signInNewStaff } from './support/staff-accounts';

let app: AuthTestApp;
let maya: string;
let harborStaff: string;
let ada: Patient;

beforeAll(async () => {
  app = await startAuthTestApp();
  maya = (await app.login(DEMO_PEOPLE.mayaChen.email as string, DEMO_PASSWORD)).access_token;
  const [found] = await app.system.searchResources<Patient>('Patient', { name: 'Ada' });
  // Nothing left to match Ada by but her name and birth date (the defect's case): no MRN, phone, email or address (and
  // so no US Core claim, which requires an identifier).
  const { identifier: _i, telecom: _t, address: _a, meta: _m, ...bare } = found;
  ada = (await app.system.update<Patient>(bare)).resource;
  const harbor = (await app.system.create<Organization>({ resourceType: 'Organization', name: 'Harbor Family Care' })).resource;
  harborStaff = (
    await signInNewStaff(app, { email: 'desk@harbor.example', displayName: 'Harbor Desk', organizationId: harbor.id as string })
  ).access_token;
}, 120_000);
afterAll(() => app?.close());

async function renderCcd(patientId: string, token: string): Promise<string> {
  const res = await fetch(`${app.url}/fhir/Patient/${patientId}/$ccda`, { headers: { Authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return res.text();
}

async function importCcd(xml: string, token: string): Promise<{ status: number; body: Parameters }> {
  const res = await fetch(`${app.url}/fhir/$import-ccda`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/xml' },
    body: xml,
  });
  return { status: res.status, body: (await res.json()) as Parameters };
}

function param(result: Parameters, name: string) {
  return result.parameter?.find((p) => p.name === name);
}

function tally(result: Parameters, name: string): Record<string, number> {
  return Object.fromEntries((param(result, name)?.part ?? []).map((p) => [p.name, p.valueInteger!]));
}

/** Live resources by type, the received document's own kinds left out (each import keeps the document it received). */
async function countsByType(): Promise<Record<string, number>> {
  const { rows } = await sql<{ type: string; n: string }>`select resource_type as type, count(*) as n from resource
    where deleted = false and resource_type not in ('Binary', 'Composition', 'DocumentReference', 'Provenance', 'AuditEvent')
    group by resource_type order by resource_type`.execute(app.database.db);
  return Object.fromEntries(rows.map((r) => [r.type, Number(r.n)]));
}

test('our own CCD of a patient with nothing but a name and birth date imports back into that record, twice', async () => {
  const xml = await renderCcd(ada.id as string, maya);
  expect(xml).toContain(`extension="Patient/${ada.id}"`);
  expect(xml).not.toContain('<telecom value=');
  const before = await countsByType();
  expect(before.Patient).toBeGreaterThan(0);
  expect(Object.values(before).reduce((a, b) => a + b, 0)).toBeGreaterThan(30);

  const first = await importCcd(xml, maya);
  expect(first.status).toBe(201);
  expect(param(first.body, 'patientMatch')?.valueCode).toBe('identifier');
  expect(param(first.body, 'patient')?.valueReference?.reference).toBe(`Patient/${ada.id}`);
  // Only the received document is new (its DocumentReference, Binary and Composition); nothing clinical is copied.
  expect(tally(first.body, 'created')).toEqual({ Binary: 1, Composition: 1, DocumentReference: 1 });
  expect(tally(first.body, 'updated')).toEqual({});
  expect(await countsByType()).toEqual(before);
  const stored = await app.system.read<Patient>('Patient', ada.id as string);
  expect(stored.meta?.versionId).toBe(ada.meta?.versionId);

  const second = await importCcd(xml, maya);
  expect(second.status).toBe(200);
  expect(param(second.body, 'alreadyImported')?.valueBoolean).toBe(true);
  expect(param(second.body, 'patient')?.valueReference?.reference).toBe(`Patient/${ada.id}`);
  expect(tally(second.body, 'created')).toEqual({});
  expect(tally(second.body, 'updated')).toEqual({});
  expect(await countsByType()).toEqual(before);
}, 120_000);

test('our id alone does not merge: a document naming our patient but another birth date is not matched to her', async () => {
  const xml = (await renderCcd(ada.id as string, maya)).replace(/<birthTime value="\d{8}"\/>/, '<birthTime value="19010101"/>');
  expect(xml).toContain('<birthTime value="19010101"/>');
  const result = await importCcd(xml, maya);
  expect(result.status).toBe(201);
  expect(param(result.body, 'patientMatch')?.valueCode).toBe('created');
  expect(param(result.body, 'patient')?.valueReference?.reference).not.toBe(`Patient/${ada.id}`);
}, 120_000);

test("another organisation's staff importing a document that names our patient never reach her record", async () => {
  const xml = await renderCcd(ada.id as string, maya);
  // Harbor's staff may not see Ada: neither by her id nor by her name and birth date.
  const denied = await fetch(`${app.url}/fhir/Patient/${ada.id}`, { headers: { Authorization: `Bearer ${harborStaff}` } });
  expect(denied.status).toBe(404);
  const adaRecord = await app.system.searchResources('Observation', { patient: `Patient/${ada.id}` });

  const result = await importCcd(xml, harborStaff);
  expect(result.status).toBe(201);
  // The ordinary rule applies (the patient is Harbor's to add); Ada is not named in the answer, nor attached to.
  expect(param(result.body, 'patientMatch')?.valueCode).toBe('created');
  const created = param(result.body, 'patient')?.valueReference?.reference as string;
  expect(created).not.toBe(`Patient/${ada.id}`);
  const harborPatient = await app.system.read<Patient>('Patient', created.split('/')[1]);
  expect(harborPatient.managingOrganization?.reference).not.toBe(ada.managingOrganization?.reference);
  expect(await app.system.searchResources('Observation', { patient: `Patient/${ada.id}` })).toHaveLength(adaRecord.length);
  expect((await app.system.searchResources('Observation', { patient: created })).length).toBeGreaterThan(0);

  // Imported by Harbor again, the document finds Harbor's patient (by the id it now carries), not a third copy.
  expect(harborPatient.identifier).toContainEqual(expect.objectContaining({ system: OWN_ID_SYSTEM, value: `Patient/${ada.id}` }));
  const before = await countsByType();
  const again = await importCcd(xml, harborStaff);
  expect(again.status).toBe(200);
  expect(param(again.body, 'patient')?.valueReference?.reference).toBe(created);
  expect(tally(again.body, 'created')).toEqual({});
  expect(await countsByType()).toEqual(before);
}, 120_000);
