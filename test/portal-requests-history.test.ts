/**
 * Issue 17, what the previous portal request tests leave out: a parent keeping the personal information of a child
 * who has no account of their own (Ada for Ben, 9), and every request and its answer in the patient's activity
 * history (AuditEvent), the patient's own requests included, on the demo family at Westmed's T0.
 */
import type {
  Appointment,
  AuditEvent,
  MedicationRequest,
  OperationOutcome,
  Patient,
  PractitionerRole,
  Questionnaire,
  Task,
} from '@medplum/fhirtypes';
import { APPOINTMENT_REASON_SYSTEM } from '../src/portal/requests/appointment-request-rules';
import { PORTAL_REQUEST_TYPE_SYSTEM } from '../src/portal/requests/renewal-request-rules';
import { grantAccess, revokeGrant } from '../src/fhir/proxy-grant-store';
import { formCompletionJob } from '../src/jobs/form-completion-job';
import { AccessFamily, type CallerKey, matches, startAccessFamily, T0 } from './support/access-family';

let f: AccessFamily;
let mayaMain: PractitionerRole;
beforeAll(async () => {
  f = await startAccessFamily('westmed');
  const [maya] = await f.system.searchResources('Practitioner', { family: 'Chen' });
  const roles = await f.system.searchResources<PractitionerRole>('PractitionerRole', { practitioner: `Practitioner/${maya.id}` });
  mayaMain = roles.find((r) => r.location?.[0]?.display === 'Main Street Office')!;
});
afterAll(() => f?.close());
beforeEach(() => f.clock.set(T0));

async function call(
  method: string,
  path: string,
  caller: CallerKey,
  json?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const res = await f.app.request(path, { method, token: await f.token(caller), json, headers });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const texts = (outcome: OperationOutcome): string[] => outcome.issue.map((i) => `${i.expression?.[0]}: ${i.details?.text}`);
const ref = (key: 'ada' | 'ben' | 'cara') => ({ reference: `Patient/${f.patientIds[key]}` });
const read = (key: 'ada' | 'ben' | 'cara') => f.system.read<Patient>('Patient', f.patientIds[key]);
const put = (caller: CallerKey, body: Patient, ifMatch = `W/"${body.meta!.versionId}"`) =>
  call('PUT', `/fhir/Patient/${body.id}`, caller, body, { 'If-Match': ifMatch });

function profileChange(key: 'ada' | 'ben' | 'cara', input: Task['input']): Task {
  return {
    resourceType: 'Task',
    status: 'requested',
    intent: 'order',
    for: ref(key),
    focus: ref(key),
    code: { coding: [{ system: PORTAL_REQUEST_TYPE_SYSTEM, code: 'profile-change' }] },
    input,
  };
}

/** The patient's activity history recorded at `at` (one second), as [agent, action, interaction, entities] rows. */
async function historyAt(key: 'ada' | 'ben', at: string): Promise<string[]> {
  const bundle = (await call('GET', `/fhir/AuditEvent?patient=Patient/${f.patientIds[key]}&_count=1000`, 'staff')).body;
  return (matches(bundle) as AuditEvent[])
    .filter((e) => e.recorded === at)
    .map((e) =>
      [
        e.agent?.[0]?.who?.reference ?? e.agent?.[0]?.who?.display,
        e.action,
        e.subtype?.[0]?.code,
        e.entity!.map((x) => x.what?.reference ?? x.what?.type).join(' '),
      ].join(' | '),
    )
    .sort();
}

describe('issue 17 a parent keeps the personal information of a child under 13', () => {
  test('Ada changes Ben’s phone directly and asks for his name to be corrected; staff apply it; both are in Ben’s history', async () => {
    f.clock.set('2026-03-01T20:01:00Z');
    const ben = await read('ben');
    const phone = { system: 'phone' as const, value: '(206) 555-0142', use: 'home' as const };
    const changed = await put('ada', { ...ben, telecom: [phone] });
    expect(changed.status).toBe(200);
    expect((await read('ben')).telecom).toEqual([phone]);
    // The same rules as the patient's own: the birth date is the practice's, If-Match is needed.
    const current = await read('ben');
    const refused = await put('ada', { ...current, birthDate: '2016-11-24' });
    expect(texts(refused.body)).toEqual([
      expect.stringMatching(/^Patient\.birthDate: Patient\.birthDate is changed by the practice after review/),
    ]);
    const unmatched = await call('PUT', `/fhir/Patient/${ben.id}`, 'ada', { ...current, telecom: [] });
    expect(texts(unmatched.body)).toEqual([expect.stringMatching(/^Patient\.meta\.versionId: Changing your details needs If-Match/)]);

    f.clock.set('2026-03-01T20:02:00Z');
    const name = { use: 'official' as const, family: 'Park', given: ['Benjamin'] };
    const asked = await call(
      'POST',
      '/fhir/Task',
      'ada',
      profileChange('ben', [{ type: { coding: [{ code: 'name' }] }, valueHumanName: name }]),
    );
    expect(asked.status).toBe(201);
    expect((await read('ben')).name).toEqual(current.name);
    f.clock.set('2026-03-01T20:03:00Z');
    const reviewed = await read('ben');
    expect((await call('PUT', `/fhir/Patient/${ben.id}`, 'staff', { ...reviewed, name: [name, ...(reviewed.name ?? [])] })).status).toBe(
      200,
    );
    expect((await call('PUT', `/fhir/Task/${asked.body.id}`, 'staff', { ...asked.body, status: 'completed' })).status).toBe(200);

    const ada = `RelatedPerson/${f.relatedPersons.adaForBen}`;
    const benRef = `Patient/${f.patientIds.ben}`;
    expect(await historyAt('ben', '2026-03-01T20:01:00.000Z')).toEqual([`${ada} | U | update | ${benRef}`]);
    expect(await historyAt('ben', '2026-03-01T20:02:00.000Z')).toEqual([`${ada} | C | create | ${benRef} Task/${asked.body.id}`]);
    const staff = (await historyAt('ben', '2026-03-01T20:03:00.000Z')).filter((row) => row.includes(' | U | '));
    expect(staff).toEqual([expect.stringMatching(new RegExp(`^Practitioner/.* \\| U \\| update \\| ${benRef}( Task/${asked.body.id})?$`))]);
    await f.system.update<Patient>({ ...(await read('ben')), name: ben.name, telecom: ben.telecom });
  });

  test('not a teen’s: Ada holds Cara’s billing, and even full access Cara gives her does not make Cara’s details hers', async () => {
    const cara = await read('cara');
    expect((await put('ada', { ...cara, telecom: [] })).status).toBe(403);
    expect(
      (await call('POST', '/fhir/Task', 'ada', profileChange('cara', [{ type: { text: 'gender' }, valueCode: 'female' }]))).status,
    ).toBe(403);
    const { consent } = await grantAccess(f.system, {
      patientId: f.patientIds.cara,
      accountId: f.accountIds.ada,
      grantee: { name: 'Ada Park', relationship: 'MTH' },
      level: 'full',
      grantedBy: 'patient',
      performer: `Patient/${f.patientIds.cara}`,
    });
    try {
      // Full access now (she reads Cara's Conditions), but Cara keeps her own details.
      expect((await call('GET', `/fhir/Condition/${f.rows.cara.Condition}`, 'ada')).status).toBe(200);
      expect((await put('ada', { ...cara, telecom: [] })).status).toBe(403);
      const task = await call('POST', '/fhir/Task', 'ada', profileChange('cara', [{ type: { text: 'gender' }, valueCode: 'female' }]));
      expect(texts(task.body)).toEqual([
        expect.stringMatching(/^Task\.for: A change of details is for and about the patient whose details you keep/),
      ]);
    } finally {
      await revokeGrant(f.system, consent.id!);
    }
    // Nor an adult's: Dan holds Ada's record in full.
    expect((await put('dan', { ...(await read('ada')), telecom: [] })).status).toBe(403);
  });

  test('once Ben turns 13 his details are his own (Ada keeps billing)', async () => {
    f.clock.set('2029-11-23T08:00:00Z');
    const ben = await read('ben');
    expect((await put('ada', { ...ben, telecom: [] })).status).toBe(403);
    expect((await call('POST', '/fhir/Task', 'ada', profileChange('ben', [{ type: { text: 'gender' }, valueCode: 'male' }]))).status).toBe(
      403,
    );
    // The last second before his 13th birthday, still hers to keep.
    f.clock.set('2029-11-23T07:59:59Z');
    expect((await put('ada', { ...ben, telecom: ben.telecom ?? [] })).status).toBe(200);
  });
});

describe('issue 17 requests and answers in the patient’s activity history', () => {
  const ADA = () => `Patient/${f.patientIds.ada}`;

  test('Ada’s own appointment request, its booking by the practice, and her cancellation of another are in her history', async () => {
    f.clock.set('2026-03-01T21:00:00Z');
    const request: Appointment = {
      resourceType: 'Appointment',
      status: 'proposed',
      participant: [
        { actor: ref('ada'), status: 'needs-action' },
        { actor: { reference: `PractitionerRole/${mayaMain.id}` }, status: 'needs-action' },
      ],
      requestedPeriod: [{ start: '2026-03-05T17:00:00Z', end: '2026-03-05T20:00:00Z' }],
      reasonCode: [{ coding: [{ system: APPOINTMENT_REASON_SYSTEM, code: 'follow-up' }] }],
    };
    const asked = await call('POST', '/fhir/Appointment', 'ada', request);
    expect(asked.status).toBe(201);
    // Her reads of her own record stay out of it.
    expect((await call('GET', `/fhir/Appointment/${asked.body.id}`, 'ada')).status).toBe(200);
    expect(await historyAt('ada', '2026-03-01T21:00:00.000Z')).toEqual([`${ADA()} | C | create | ${ADA()} Appointment/${asked.body.id}`]);

    f.clock.set('2026-03-01T21:01:00Z');
    const booked = { ...asked.body, status: 'booked', start: '2026-03-05T17:30:00Z', end: '2026-03-05T18:00:00Z' };
    expect((await call('PUT', `/fhir/Appointment/${asked.body.id}`, 'staff', booked)).status).toBe(200);
    expect((await historyAt('ada', '2026-03-01T21:01:00.000Z')).filter((row) => row.includes(' | U | '))).toEqual([
      expect.stringMatching(new RegExp(`^Practitioner/.* \\| U \\| update \\| ${ADA()} Appointment/${asked.body.id}$`)),
    ]);

    f.clock.set('2026-03-01T21:02:00Z');
    const other = await call('POST', '/fhir/Appointment', 'ada', request);
    f.clock.set('2026-03-01T21:03:00Z');
    expect((await call('PUT', `/fhir/Appointment/${other.body.id}`, 'ada', { ...other.body, status: 'cancelled' })).status).toBe(200);
    expect(await historyAt('ada', '2026-03-01T21:03:00.000Z')).toEqual([`${ADA()} | U | update | ${ADA()} Appointment/${other.body.id}`]);
  });

  test('her renewal request and its outcome, and a change of her own details', async () => {
    f.clock.set('2026-03-01T21:10:00Z');
    const [active] = (await f.system.searchResources<MedicationRequest>('MedicationRequest', { patient: ADA(), status: 'active' })).filter(
      (m) => /atorvastatin/i.test(JSON.stringify(m.medicationCodeableConcept)),
    );
    const renewal = await call('POST', '/fhir/Task', 'ada', {
      resourceType: 'Task',
      status: 'requested',
      intent: 'order',
      for: ref('ada'),
      focus: { reference: `MedicationRequest/${active.id}` },
      code: { coding: [{ system: PORTAL_REQUEST_TYPE_SYSTEM, code: 'renewal-request' }] },
    });
    expect(renewal.status).toBe(201);
    expect(await historyAt('ada', '2026-03-01T21:10:00.000Z')).toEqual([`${ADA()} | C | create | ${ADA()} Task/${renewal.body.id}`]);
    f.clock.set('2026-03-01T21:11:00Z');
    const rejected = { ...renewal.body, status: 'rejected', statusReason: { text: 'Please book a visit first' } };
    expect((await call('PUT', `/fhir/Task/${renewal.body.id}`, 'staff', rejected)).status).toBe(200);
    expect((await historyAt('ada', '2026-03-01T21:11:00.000Z')).filter((row) => row.includes(' | U | '))).toEqual([
      expect.stringMatching(new RegExp(`^Practitioner/.* \\| U \\| update \\| ${ADA()} Task/${renewal.body.id}$`)),
    ]);

    f.clock.set('2026-03-01T21:12:00Z');
    const ada = await read('ada');
    expect(
      (await put('ada', { ...ada, address: [{ line: ['12 Pine St'], city: 'Seattle', state: 'WA', postalCode: '98101' }] })).status,
    ).toBe(200);
    expect(await historyAt('ada', '2026-03-01T21:12:00.000Z')).toEqual([`${ADA()} | U | update | ${ADA()}`]);
    // A refused change records nothing.
    f.clock.set('2026-03-01T21:13:00Z');
    expect((await put('ada', { ...(await read('ada')), gender: 'other' })).status).toBe(400);
    expect(await historyAt('ada', '2026-03-01T21:13:00.000Z')).toEqual([]);
    await f.system.update<Patient>({ ...(await read('ada')), address: ada.address });
  });

  test('her answers to a form, and the form’s Task the service completes with them', async () => {
    f.clock.set('2026-03-01T21:20:00Z');
    const form = (
      await f.system.create<Questionnaire>({
        resourceType: 'Questionnaire',
        status: 'active',
        title: 'Travel',
        item: [{ linkId: 'where', text: 'Where to?', type: 'string', required: true }],
      })
    ).resource;
    const assigned = await call('POST', '/fhir/Task', 'staff', {
      resourceType: 'Task',
      status: 'requested',
      intent: 'order',
      code: { coding: [{ system: PORTAL_REQUEST_TYPE_SYSTEM, code: 'form-assignment' }] },
      focus: { reference: `Questionnaire/${form.id}` },
      for: ref('ada'),
    });
    expect(assigned.status).toBe(201);
    f.clock.set('2026-03-01T21:21:00Z');
    const answered = await call('POST', '/fhir/QuestionnaireResponse', 'ada', {
      resourceType: 'QuestionnaireResponse',
      status: 'completed',
      questionnaire: `Questionnaire/${form.id}`,
      subject: ref('ada'),
      item: [{ linkId: 'where', answer: [{ valueString: 'Lisbon' }] }],
    });
    expect(answered.status).toBe(201);
    expect(await historyAt('ada', '2026-03-01T21:21:00.000Z')).toEqual([
      `${ADA()} | C | create | ${ADA()} QuestionnaireResponse/${answered.body.id}`,
    ]);
    f.clock.set('2026-03-01T21:22:00Z');
    const completed = await formCompletionJob({ db: f.app.database.db, clock: f.clock, baseUrl: f.app.url });
    expect(completed).toEqual([{ taskId: assigned.body.id, responseId: answered.body.id }]);
    expect(await historyAt('ada', '2026-03-01T21:22:00.000Z')).toEqual([
      `Chartkeeper (form completion) | U | update | ${ADA()} Task/${assigned.body.id}`,
    ]);
  });
});
