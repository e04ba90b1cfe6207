/**
 * Issue 17 from the practice's side, on the demo family at Westmed's T0: where a patient's message lands (the staff of
 * the recipient's practice), the organisation-wide list of open appointment requests, the forms due by owner, and the
 * bills of a provider who does not take part in the portal, which stay payable.
 */
import type {
  Appointment,
  ChargeItem,
  Communication,
  Invoice,
  Practitioner,
  PractitionerRole,
  Questionnaire,
  Task,
} from '@medplum/fhirtypes';
import { systemClock } from '../src/fhir/clock';
import { allOperations } from '../src/operations';
import { DemoPaymentProcessor } from '../src/portal/billing/demo-payment-processor';
import { payOperation } from '../src/portal/billing/pay-operation';
import { MESSAGE_SUBJECT_SYSTEM } from '../src/portal/messaging/message-rules';
import { PORTAL_PARTICIPATION_URL } from '../src/portal/requests/provider-participation';
import { PORTAL_REQUEST_TYPE_SYSTEM } from '../src/portal/requests/renewal-request-rules';
import { AccessFamily, type CallerKey, matches, startAccessFamily, T0 } from './support/access-family';

let f: AccessFamily;
let maya: Practitioner;
let mayaMain: PractitionerRole;
beforeAll(async () => {
  const processor = new DemoPaymentProcessor('whsec_practice_side', 'http://practice-side.test', systemClock);
  f = await startAccessFamily('westmed', {
    operations: [...allOperations(), payOperation({ processor, baseUrl: 'http://practice-side.test' })],
  });
  [maya] = await f.system.searchResources<Practitioner>('Practitioner', { family: 'Chen' });
  const roles = await f.system.searchResources<PractitionerRole>('PractitionerRole', { practitioner: `Practitioner/${maya.id}` });
  mayaMain = roles.find((r) => r.location?.[0]?.display === 'Main Street Office')!;
});
afterAll(() => f?.close());
beforeEach(() => f.clock.set(T0));

async function call(method: string, path: string, caller: CallerKey, json?: unknown): Promise<{ status: number; body: any }> {
  const res = await f.app.request(path, { method, token: await f.token(caller), json });
  const text = res.headers.get('content-type')?.includes('json') ? await res.text() : (await res.arrayBuffer(), '');
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
const ids = (bundle: any): string[] => matches(bundle).map((r) => r.id as string);
const ada = () => ({ reference: `Patient/${f.patientIds.ada}` });

describe('issue 17 messages from patients land with the practice', () => {
  test('Ada’s message to Dr. Chen, and Dan’s for her, are in Dr. Chen’s and the practice’s inbox, not another practice’s', async () => {
    const message = (sender?: string): Communication => ({
      resourceType: 'Communication',
      status: 'completed',
      subject: ada(),
      ...(sender ? { sender: { reference: sender } } : {}),
      topic: { coding: [{ system: MESSAGE_SUBJECT_SYSTEM, code: 'medical-question' }] },
      recipient: [{ reference: `Practitioner/${maya.id}` }],
      payload: [{ contentString: 'Is it fine to take ibuprofen?' }],
    });
    const fromAda = await call('POST', '/fhir/Communication', 'ada', message(`Patient/${f.patientIds.ada}`));
    const fromDan = await call('POST', '/fhir/Communication', 'dan', message(`RelatedPerson/${f.relatedPersons.danForAda}`));
    expect([fromAda.status, fromDan.status]).toEqual([201, 201]);
    const sent = [fromAda.body.id, fromDan.body.id];

    const doctors = await call('GET', `/fhir/Communication?recipient=Practitioner/${maya.id}&status=completed&_count=100`, 'staff');
    expect(ids(doctors.body)).toEqual(expect.arrayContaining(sent));
    const practice = await call('GET', '/fhir/Communication?status=completed&_count=1000', 'staff');
    expect(ids(practice.body)).toEqual(expect.arrayContaining(sent));
    const elsewhere = await call('GET', `/fhir/Communication?recipient=Practitioner/${maya.id}&_count=100`, 'otherStaff');
    expect(ids(elsewhere.body).filter((id) => sent.includes(id))).toEqual([]);
    expect((await call('GET', `/fhir/Communication/${fromAda.body.id}`, 'otherStaff')).status).toBe(404);
  });
});

describe('issue 17 the practice’s lists', () => {
  test('open appointment requests: by the provider (named by role, Practitioner or both) and organisation-wide for the practice’s staff only', async () => {
    const request = (...providers: string[]) => ({
      resourceType: 'Appointment',
      status: 'proposed',
      participant: [
        { actor: ada(), status: 'needs-action' },
        ...providers.map((reference) => ({ actor: { reference }, status: 'needs-action' })),
      ],
      requestedPeriod: [{ start: '2026-03-09T17:00:00Z', end: '2026-03-09T20:00:00Z' }],
      reasonCode: [{ text: 'Knee pain' }],
    });
    const byRole = await call('POST', '/fhir/Appointment', 'ada', request(`PractitionerRole/${mayaMain.id}`));
    const byBoth = await call('POST', '/fhir/Appointment', 'ada', request(`PractitionerRole/${mayaMain.id}`, `Practitioner/${maya.id}`));
    expect([byRole.status, byBoth.status]).toEqual([201, 201]);
    const open = (actor: string) => call('GET', `/fhir/Appointment?status=proposed&actor=${actor}&_count=1000`, 'staff');
    expect(ids((await open(`PractitionerRole/${mayaMain.id}`)).body)).toEqual(expect.arrayContaining([byRole.body.id, byBoth.body.id]));
    // Named with the Practitioner too, the request is found by the doctor herself, whichever office.
    const doctors = ids((await open(`Practitioner/${maya.id}`)).body);
    expect([doctors.includes(byBoth.body.id), doctors.includes(byRole.body.id)]).toEqual([true, false]);
    // Both ways, it is still one provider: the role's own practitioner, and no second one.
    const [omar] = await f.system.searchResources<Practitioner>('Practitioner', { family: 'Haddad' });
    const mismatch = await call('POST', '/fhir/Appointment', 'ada', request(`PractitionerRole/${mayaMain.id}`, `Practitioner/${omar.id}`));
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.issue.map((i: any) => i.details.text)).toEqual([
      `Appointment.participant[2] (Practitioner/${omar.id}) is not the practitioner of PractitionerRole/${mayaMain.id}: a request names one provider`,
    ]);
    const two = await call('POST', '/fhir/Appointment', 'ada', request(`Practitioner/${maya.id}`, `Practitioner/${omar.id}`));
    expect(two.body.issue.map((i: any) => i.details.text)).toEqual([
      'An appointment request names exactly one provider (a Practitioner, their PractitionerRole at an office, or both) as a participant',
    ]);

    const all = await call('GET', '/fhir/Appointment?status=proposed&_count=1000', 'staff');
    expect(ids(all.body)).toEqual(expect.arrayContaining([byRole.body.id, byBoth.body.id]));
    expect((matches(all.body) as Appointment[]).every((a) => a.status === 'proposed')).toBe(true);
    const elsewhere = ids((await call('GET', '/fhir/Appointment?status=proposed&_count=1000', 'otherStaff')).body);
    expect(elsewhere.filter((id) => id === byRole.body.id || id === byBoth.body.id)).toEqual([]);
  });

  test('forms due: by the patient, and by the owner who is to fill them in', async () => {
    const { resource: questionnaire } = await f.system.create<Questionnaire>({
      resourceType: 'Questionnaire',
      status: 'active',
      item: [{ linkId: 'q', text: 'Anything new?', type: 'string' }],
    });
    const assigned = await call('POST', '/fhir/Task', 'staff', {
      resourceType: 'Task',
      status: 'requested',
      intent: 'order',
      code: { coding: [{ system: PORTAL_REQUEST_TYPE_SYSTEM, code: 'form-assignment' }] },
      focus: { reference: `Questionnaire/${questionnaire.id}` },
      for: ada(),
      owner: ada(),
      restriction: { period: { end: '2026-03-20' } },
    });
    expect(assigned.status).toBe(201);
    for (const caller of ['ada', 'dan', 'staff'] as const) {
      const byOwner = await call('GET', `/fhir/Task?owner=Patient/${f.patientIds.ada}&status=requested`, caller);
      expect([caller, ids(byOwner.body)]).toEqual([caller, [assigned.body.id]]);
      const byPatient = await call('GET', `/fhir/Task?patient=Patient/${f.patientIds.ada}`, caller);
      expect((matches(byPatient.body) as Task[]).find((t) => t.id === assigned.body.id)?.restriction?.period?.end).toBe('2026-03-20');
    }
    expect(ids((await call('GET', `/fhir/Task?owner=Patient/${f.patientIds.ada}`, 'cara')).body)).toEqual([]);
  });
});

describe('issue 17 a provider out of the portal', () => {
  test('is not offered for requests, yet the bills of their visits stay payable', async () => {
    const [invoice] = await f.system.searchResources<Invoice>('Invoice', { patient: `Patient/${f.patientIds.ada}`, status: 'issued' });
    const charge = await f.system.read<ChargeItem>('ChargeItem', invoice.lineItem![0].chargeItemReference!.reference!.split('/')[1]);
    const doctorId = charge.performer![0].actor.reference!.split('/')[1];
    const doctor = await f.system.read<Practitioner>('Practitioner', doctorId);
    await f.system.update<Practitioner>({ ...doctor, active: false, extension: [{ url: PORTAL_PARTICIPATION_URL, valueBoolean: false }] });
    try {
      const options = await call('GET', `/fhir/Patient/${f.patientIds.ada}/$portal-options`, 'ada');
      const offered = (options.body.parameter ?? [])
        .filter((p: any) => p.name === 'provider')
        .map((p: any) => p.part.find((x: any) => x.name === 'practitioner').valueReference.reference);
      expect(offered).not.toContain(`Practitioner/${doctorId}`);
      expect((await call('GET', `/fhir/Invoice/${invoice.id}/$statement`, 'ada')).status).toBe(200);
      expect((await call('GET', `/fhir/Patient/${f.patientIds.ada}/$balance`, 'dan')).status).toBe(200);
      const pay = await call('POST', `/fhir/Invoice/${invoice.id}/$pay`, 'ada', {
        resourceType: 'Parameters',
        parameter: [{ name: 'amount', valueDecimal: 1 }],
      });
      expect(pay.status).toBe(201);
    } finally {
      const now = await f.system.read<Practitioner>('Practitioner', doctorId);
      await f.system.update<Practitioner>({ ...doctor, meta: now.meta });
    }
  });
});
