/**
 * Issue 17: the emails portal requests and messages give (src/jobs/portal-notice-job.ts), end to end with the demo
 * logins (Ada, Dan, Cara, Dr. Chen) and mail received by a real SMTP server on loopback: an answered appointment or
 * renewal request, and a message from the practice, tell the patient and full-access family, naming nothing clinical.
 */
import type { Appointment, MedicationRequest, Patient, PractitionerRole, Task } from '@medplum/fhirtypes';
import { DEMO_PASSWORD, DEMO_PEOPLE } from '../fixtures/demo-family';
import type { JobDeps } from '../src/jobs/job-deps';
import { portalNoticeJob } from '../src/jobs/portal-notice-job';
import { APPOINTMENT_REASON_SYSTEM } from '../src/portal/requests/appointment-request-rules';
import { PORTAL_REQUEST_TYPE_SYSTEM } from '../src/portal/requests/renewal-request-rules';
import { type AuthTestApp, startAuthTestApp } from './auth-test-app';
import { appJobDeps } from './support/app-job-deps';

const ADA = DEMO_PEOPLE.ada.email as string;
const DAN = DEMO_PEOPLE.dan.email as string;
const CARA = DEMO_PEOPLE.cara.email as string;

let app: AuthTestApp;
let deps: JobDeps;
let tokens: Record<'ada' | 'dan' | 'cara' | 'staff', string>;
let patients: Record<'ada' | 'cara', string>;
let role: PractitionerRole;
beforeAll(async () => {
  app = await startAuthTestApp();
  deps = appJobDeps(app);
  const login = async (email: string) => (await app.login(email, DEMO_PASSWORD)).access_token as string;
  tokens = {
    ada: await login(ADA),
    dan: await login(DAN),
    cara: await login(CARA),
    staff: await login(DEMO_PEOPLE.mayaChen.email as string),
  };
  const all = await app.system.searchResources<Patient>('Patient', { _count: '100' });
  const idOf = (given: string) => all.find((p) => p.name?.[0]?.given?.[0] === given)!.id!;
  patients = { ada: idOf('Ada'), cara: idOf('Cara') };
  [role] = await app.system.searchResources<PractitionerRole>('PractitionerRole', { _count: '1' });
});
afterAll(() => app?.close());

/** The job's notices as [to, audience, kind], sorted. */
const run = async () => ((await portalNoticeJob(deps)) ?? []).map((n) => [n.to, n.audience, n.kind]).sort();

function request(patient: 'ada' | 'cara'): Appointment {
  return {
    resourceType: 'Appointment',
    status: 'proposed',
    participant: [
      { actor: { reference: `Patient/${patients[patient]}` }, status: 'needs-action' },
      { actor: { reference: `PractitionerRole/${role.id}` }, status: 'needs-action' },
    ],
    requestedPeriod: [{ start: '2026-12-01T17:00:00Z', end: '2026-12-01T20:00:00Z' }],
    reasonCode: [{ coding: [{ system: APPOINTMENT_REASON_SYSTEM, code: 'follow-up' }], text: 'Blood pressure check' }],
  };
}

describe('issue 17 request answers and messages by email', () => {
  test('request -> book -> email to Ada and Dan saying only that it was answered', async () => {
    await run();
    const asked = await app.call('POST', '/fhir/Appointment', { token: tokens.ada, json: request('ada') });
    expect(asked.status).toBe(201);
    // Asking tells nobody; only the practice's answer does.
    expect(await run()).toEqual([]);
    const received = app.smtp.received.length;
    const booked = await app.call('PUT', `/fhir/Appointment/${asked.body.id}`, {
      token: tokens.staff,
      json: { ...asked.body, status: 'booked', start: '2026-12-01T17:30:00Z', end: '2026-12-01T18:00:00Z' },
    });
    expect(booked.status).toBe(200);
    expect(await run()).toEqual([
      [ADA, 'patient', 'request-answered'],
      [DAN, 'family-member', 'request-answered'],
    ]);
    const mail = await app.mailTo(ADA, received);
    expect(mail.message.subject).toBe('Your request was answered in your Westside Family Medicine patient portal');
    expect(mail.message.text).toContain('The practice has answered your request.');
    expect(mail.message.text).not.toMatch(/Blood pressure|Chen|2026-12-01|follow-up/);
    const danMail = await app.mailTo(DAN, received);
    expect(danMail.message.text).toContain("a request in Ada's record");
    expect(await run()).toEqual([]);
  });

  test('request -> decline -> email; a cancellation by the patient herself tells nobody', async () => {
    const first = (await app.call('POST', '/fhir/Appointment', { token: tokens.ada, json: request('ada') })).body as Appointment;
    const declined = await app.call('PUT', `/fhir/Appointment/${first.id}`, {
      token: tokens.staff,
      json: { ...first, status: 'cancelled', cancelationReason: { text: 'Please call to book' } },
    });
    expect(declined.status).toBe(200);
    expect(await run()).toEqual([
      [ADA, 'patient', 'request-answered'],
      [DAN, 'family-member', 'request-answered'],
    ]);
    const second = (await app.call('POST', '/fhir/Appointment', { token: tokens.ada, json: request('ada') })).body as Appointment;
    expect(
      (await app.call('PUT', `/fhir/Appointment/${second.id}`, { token: tokens.ada, json: { ...second, status: 'cancelled' } })).status,
    ).toBe(200);
    expect(await run()).toEqual([]);
  });

  test('renewal -> accept -> new MedicationRequest -> email', async () => {
    const [active] = await app.system.searchResources<MedicationRequest>('MedicationRequest', {
      patient: `Patient/${patients.ada}`,
      status: 'active',
    });
    const asked = await app.call('POST', '/fhir/Task', {
      token: tokens.ada,
      json: {
        resourceType: 'Task',
        status: 'requested',
        intent: 'order',
        for: { reference: `Patient/${patients.ada}` },
        focus: { reference: `MedicationRequest/${active.id}` },
        code: { coding: [{ system: PORTAL_REQUEST_TYPE_SYSTEM, code: 'renewal-request' }] },
      },
    });
    expect(asked.status).toBe(201);
    const renewed = await app.call('POST', '/fhir/MedicationRequest', {
      token: tokens.staff,
      json: {
        ...active,
        id: undefined,
        meta: undefined,
        basedOn: [{ reference: `MedicationRequest/${active.id}` }],
        priorPrescription: { reference: `MedicationRequest/${active.id}` },
      },
    });
    expect(renewed.status).toBe(201);
    const task = asked.body as Task;
    const done = await app.call('PUT', `/fhir/Task/${task.id}`, {
      token: tokens.staff,
      json: {
        ...task,
        status: 'completed',
        output: [{ type: { text: 'renewed prescription' }, valueReference: { reference: `MedicationRequest/${renewed.body.id}` } }],
      },
    });
    expect(done.status).toBe(200);
    expect(await run()).toEqual([
      [ADA, 'patient', 'request-answered'],
      [DAN, 'family-member', 'request-answered'],
    ]);
  });

  test('a message from the practice emails the patient and full-access family, not a billing-only parent', async () => {
    const toAda = await app.call('POST', '/fhir/Communication', {
      token: tokens.staff,
      json: {
        resourceType: 'Communication',
        status: 'completed',
        subject: { reference: `Patient/${patients.ada}` },
        recipient: [{ reference: `Patient/${patients.ada}` }],
        payload: [{ contentString: 'Your cholesterol is fine.' }],
      },
    });
    expect(toAda.status).toBe(201);
    const received = app.smtp.received.length;
    expect(await run()).toEqual([
      [ADA, 'patient', 'new-message'],
      [DAN, 'family-member', 'new-message'],
    ]);
    const mail = await app.mailTo(ADA, received);
    expect(mail.message.subject).toBe('You have a new message in your Westside Family Medicine patient portal');
    expect(mail.message.text).not.toContain('cholesterol');
    const toCara = await app.call('POST', '/fhir/Communication', {
      token: tokens.staff,
      json: {
        resourceType: 'Communication',
        status: 'completed',
        subject: { reference: `Patient/${patients.cara}` },
        recipient: [{ reference: `Patient/${patients.cara}` }],
        payload: [{ contentString: 'Your sports form is ready.' }],
      },
    });
    expect(toCara.status).toBe(201);
    // Ada holds Cara's billing only (Westmed, 15): Cara alone is told.
    expect(await run()).toEqual([[CARA, 'patient', 'new-message']]);
    // A draft tells nobody until it is sent.
    const draft = await app.call('POST', '/fhir/Communication', {
      token: tokens.staff,
      json: {
        resourceType: 'Communication',
        status: 'preparation',
        subject: { reference: `Patient/${patients.ada}` },
        recipient: [{ reference: `Patient/${patients.ada}` }],
        payload: [{ contentString: 'Draft' }],
      },
    });
    expect(await run()).toEqual([]);
    expect(
      (await app.call('PUT', `/fhir/Communication/${draft.body.id}`, { token: tokens.staff, json: { ...draft.body, status: 'completed' } }))
        .status,
    ).toBe(200);
    expect(await run()).toEqual([
      [ADA, 'patient', 'new-message'],
      [DAN, 'family-member', 'new-message'],
    ]);
  });

  test('a change of the email on Ada’s record tells the old address, naming neither the new one nor anything clinical', async () => {
    await run();
    const ada = (await app.call('GET', `/fhir/Patient/${patients.ada}`, { token: tokens.ada })).body as Patient;
    const phoneOnly = ada.telecom!.map((t) => (t.system === 'phone' ? { ...t, value: '(206) 555-0101' } : t));
    const same = await app.call('PUT', `/fhir/Patient/${ada.id}`, {
      token: tokens.ada,
      json: { ...ada, telecom: phoneOnly },
      headers: { 'If-Match': `W/"${ada.meta!.versionId}"` },
    });
    expect(same.status).toBe(200);
    // The email stayed (the same address in other letters is the same address): nobody is told.
    const upper = (same.body as Patient).telecom!.map((t) => (t.system === 'email' ? { ...t, value: ADA.toUpperCase() } : t));
    const cased = await app.call('PUT', `/fhir/Patient/${ada.id}`, {
      token: tokens.ada,
      json: { ...same.body, telecom: upper },
      headers: { 'If-Match': `W/"${same.body.meta.versionId}"` },
    });
    expect(cased.status).toBe(200);
    expect(await run()).toEqual([]);

    const received = app.smtp.received.length;
    const moved = (cased.body as Patient).telecom!.map((t) => (t.system === 'email' ? { ...t, value: 'ada.moved@example.com' } : t));
    const changed = await app.call('PUT', `/fhir/Patient/${ada.id}`, {
      token: tokens.ada,
      json: { ...cased.body, telecom: moved },
      headers: { 'If-Match': `W/"${cased.body.meta.versionId}"` },
    });
    expect(changed.status).toBe(200);
    expect(await run()).toEqual([[ADA, 'former-address', 'email-changed']]);
    const mail = await app.mailTo(ADA, received);
    expect(mail.message.subject).toBe('The email address on your Westside Family Medicine record was changed');
    expect(mail.message.text).toContain("the email address on Ada's record at Westside Family Medicine was changed from this address");
    expect(mail.message.text).not.toMatch(/ada\.moved|cholesterol|Chen/);
    expect(app.smtp.received.slice(received).flatMap((m) => m.envelopeTo)).toEqual([ADA]);
    expect(await run()).toEqual([]);

    // A change that is refused tells nobody; the practice's change does, as the patient's does.
    const back = (changed.body as Patient).telecom!.map((t) => (t.system === 'email' ? { ...t, value: ADA } : t));
    const refused = await app.call('PUT', `/fhir/Patient/${ada.id}`, {
      token: tokens.ada,
      json: { ...changed.body, telecom: back, gender: 'other' },
      headers: { 'If-Match': `W/"${changed.body.meta.versionId}"` },
    });
    expect(refused.status).toBe(400);
    expect(await run()).toEqual([]);
    expect(
      (await app.call('PUT', `/fhir/Patient/${ada.id}`, { token: tokens.staff, json: { ...changed.body, telecom: back } })).status,
    ).toBe(200);
    expect(await run()).toEqual([['ada.moved@example.com', 'former-address', 'email-changed']]);
  });
  test('a patient cannot make the notice mail an address of their choosing, nor crowd their old address out of it', async () => {
    await run();
    const put = async (patient: Patient, telecom: Patient['telecom']) => {
      const res = await app.call('PUT', `/fhir/Patient/${patient.id}`, {
        token: tokens.ada,
        json: { ...patient, telecom },
        headers: { 'If-Match': `W/"${patient.meta!.versionId}"` },
      });
      expect([res.status, res.body.issue]).toEqual([200, undefined]);
      return res.body as Patient;
    };
    let ada = (await app.call('GET', `/fhir/Patient/${patients.ada}`, { token: tokens.ada })).body as Patient;
    expect(ada.telecom!.some((t) => t.value === ADA)).toBe(true);
    const phones = ada.telecom!.filter((t) => t.system !== 'email');
    // Put an address on the record and take it off again: the address was never the patient's old one.
    ada = await put(ada, [...ada.telecom!, { system: 'email', value: 'stranger@example.net' }]);
    ada = await put(
      ada,
      ada.telecom!.filter((t) => t.value !== 'stranger@example.net'),
    );
    expect(await run()).toEqual([]);
    // Five new addresses ahead of the old one, then all dropped at once: the old address is still told, and only it.
    const filler = [1, 2, 3, 4, 5].map((n) => ({ system: 'email' as const, value: `filler${n}@example.net` }));
    ada = await put(ada, [...filler, ...ada.telecom!]);
    await put(ada, [...phones, { system: 'email', value: 'ada.new@example.com' }]);
    expect(await run()).toEqual([[ADA, 'former-address', 'email-changed']]);
  });
});
