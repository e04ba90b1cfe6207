/**
 * Issue 19, "Access levels that follow the active policy", under AGE_POLICY=westchester (portal consent form on): the
 * levels offered are the policy's (full, appointments + bill pay); Ada, guardian of Cara (15), sees Cara's appointments
 * and invoices and not her Conditions; $family-access lists the levels each grant may have today; revoking by a
 * replaced Consent id is a 409 naming the active one; a family member changing a level is told only the patient may;
 * the family-member registration reply names who received the passcode.
 */
import type { Appointment, Condition, Invoice, Patient } from '@medplum/fhirtypes';
import { DEMO_PASSWORD, DEMO_PEOPLE, demoBirthDate } from '../fixtures/demo-family';
import { type AuthTestApp, outcomeText, parameter, parameters, startAuthTestApp, TEST_NOW } from './auth-test-app';

const FORM = 'https://chartkeeper.example/fhir/Questionnaire/portal-consent|1';

/** Completes the portal consent form for the account of `token`. */
async function completeConsentForm(app: AuthTestApp, token: string, signature: string): Promise<void> {
  const res = await app.call('POST', '/fhir/$accept-portal-consent', {
    token,
    json: {
      resourceType: 'QuestionnaireResponse',
      status: 'completed',
      questionnaire: FORM,
      item: [
        { linkId: 'agree', answer: [{ valueBoolean: true }] },
        { linkId: 'signature', answer: [{ valueString: signature }] },
      ],
    },
  });
  if (res.status !== 201) throw new Error(`consent form: ${res.status} ${JSON.stringify(res.body)}`);
}

describe('access levels under westchester', () => {
  let app: AuthTestApp;
  let ada: any;
  let cara: any;
  let dan: any;
  let maya: any;
  const rows: Record<string, string> = {};
  beforeAll(async () => {
    app = await startAuthTestApp({ agePolicy: 'westchester', portalConsent: true });
    ada = await app.login(DEMO_PEOPLE.ada.email as string, DEMO_PASSWORD);
    cara = await app.login(DEMO_PEOPLE.cara.email as string, DEMO_PASSWORD);
    dan = await app.login(DEMO_PEOPLE.dan.email as string, DEMO_PASSWORD);
    maya = await app.login(DEMO_PEOPLE.mayaChen.email as string, DEMO_PASSWORD);
    await completeConsentForm(app, ada.access_token, 'Ada Park');
    await completeConsentForm(app, cara.access_token, 'Cara Park');
    await completeConsentForm(app, dan.access_token, 'Dan Reyes');
    const caraRef = { reference: `Patient/${cara.account.patientId}` };
    rows.appointment = (
      await app.system.create<Appointment>({
        resourceType: 'Appointment',
        status: 'booked',
        start: '2026-12-01T17:00:00Z',
        end: '2026-12-01T17:30:00Z',
        reasonCode: [{ text: 'A private matter' }],
        participant: [{ actor: caraRef, status: 'accepted' }],
      })
    ).resource.id!;
    rows.invoice = (
      await app.system.create<Invoice>({
        resourceType: 'Invoice',
        status: 'issued',
        subject: caraRef,
        totalGross: { value: 40, currency: 'USD' },
      })
    ).resource.id!;
    rows.condition = (
      await app.system.create<Condition>({ resourceType: 'Condition', subject: caraRef, code: { text: 'Private condition' } })
    ).resource.id!;
  });
  afterAll(() => app?.close());

  const grantsOf = async (token: string, patientId: string) =>
    ((await app.call('GET', `/fhir/Patient/${patientId}/$family-access`, { token })).body.parameter ?? []).map((g: any) => ({
      name: parameter({ parameter: g.part }, 'name'),
      level: parameter({ parameter: g.part }, 'level'),
      effectiveLevel: parameter({ parameter: g.part }, 'effectiveLevel'),
      allowedLevels: g.part.filter((p: any) => p.name === 'allowedLevel').map((p: any) => p.valueCode),
      consent: parameter({ parameter: g.part }, 'consent'),
      active: parameter({ parameter: g.part }, 'active'),
    }));

  it('Ada (guardian of Cara, 15) sees Cara’s appointments and invoices, and not her Conditions', async () => {
    const appointment = await app.call('GET', `/fhir/Appointment/${rows.appointment}`, { token: ada.access_token });
    expect([appointment.status, appointment.body.start, appointment.body.reasonCode]).toEqual([200, '2026-12-01T17:00:00Z', undefined]);
    const appointments = await app.call('GET', `/fhir/Appointment?patient=${cara.account.patientId}`, { token: ada.access_token });
    expect(appointments.body.entry.map((e: any) => e.resource.id)).toContain(rows.appointment);
    expect((await app.call('GET', `/fhir/Invoice/${rows.invoice}`, { token: ada.access_token })).status).toBe(200);
    expect((await app.call('GET', `/fhir/Condition/${rows.condition}`, { token: ada.access_token })).status).toBe(404);
    expect(
      (await app.call('GET', `/fhir/Condition?patient=${cara.account.patientId}`, { token: ada.access_token })).body.entry ?? [],
    ).toEqual([]);
  });

  it('$family-access lists, for each grant, the levels the policy allows today', async () => {
    // Cara (15) may give her mother appointments and bill pay, no more; so may the practice under the guardian's standing.
    const expected = [
      {
        name: 'Ada Park',
        level: 'billing+appointments',
        effectiveLevel: 'billing+appointments',
        allowedLevels: ['billing+appointments'],
        consent: expect.any(String),
        active: true,
      },
    ];
    expect(await grantsOf(cara.access_token, cara.account.patientId)).toEqual(expected);
    expect(await grantsOf(maya.access_token, cara.account.patientId)).toEqual(expected);
    // Ben (9): the guardian's full access, or appointments and bill pay.
    const ben = (await app.system.searchResources<Patient>('Patient', { family: 'Park', given: 'Ben' }))[0];
    expect((await grantsOf(maya.access_token, ben.id!)).map((g: any) => g.allowedLevels)).toEqual([['full', 'billing+appointments']]);
    // Ada, an adult, may give Dan either level the policy offers.
    expect((await grantsOf(ada.access_token, ada.account.patientId)).map((g: any) => [g.name, g.allowedLevels])).toEqual([
      ['Dan Reyes', ['full', 'billing+appointments']],
    ]);
  });

  it('offers only the policy’s levels to an invitation or a change', async () => {
    const billing = await app.call('POST', `/fhir/Patient/${ada.account.patientId}/$invite-family`, {
      token: ada.access_token,
      json: parameters({ email: 'eve.park@example.com', name: 'Eve Park', level: 'billing', relationship: 'SIB' }),
    });
    expect([billing.status, outcomeText(billing.body)]).toEqual([
      400,
      "level must be full or billing+appointments (the levels this practice's policy offers)",
    ]);
    const before = app.smtp.received.length;
    const invited = await app.call('POST', `/fhir/Patient/${ada.account.patientId}/$invite-family`, {
      token: ada.access_token,
      json: parameters({ email: 'eve.park@example.com', name: 'Eve Park', level: 'billing+appointments', relationship: 'SIB' }),
    });
    expect(invited.status).toBe(201);
    expect((await app.mailTo('eve.park@example.com', before)).message.text).toContain('access to appointments and bill pay');
    const [danGrant] = await grantsOf(ada.access_token, ada.account.patientId);
    const refused = await app.call('POST', `/fhir/${danGrant.consent}/$change-access-level`, {
      token: ada.access_token,
      json: parameters({ level: 'billing' }),
    });
    expect(refused.status).toBe(400);
  });

  it('a family member below full who changes a level is told only the patient may (403)', async () => {
    const [adaGrant] = await grantsOf(cara.access_token, cara.account.patientId);
    const res = await app.call('POST', `/fhir/${adaGrant.consent}/$change-access-level`, {
      token: ada.access_token,
      json: parameters({ level: 'full' }),
    });
    expect([res.status, outcomeText(res.body)]).toEqual([
      403,
      expect.stringContaining('Only the patient (or the practice) may change access levels'),
    ]);
  });

  it('revoking by the id of a Consent a level change replaced is a 409 naming the active one; revoking that ends access', async () => {
    const [danGrant] = await grantsOf(ada.access_token, ada.account.patientId);
    const changed = await app.call('POST', `/fhir/${danGrant.consent}/$change-access-level`, {
      token: ada.access_token,
      json: parameters({ level: 'billing+appointments' }),
    });
    expect(changed.status).toBe(200);
    expect(`Consent/${changed.body.id}`).not.toBe(danGrant.consent);
    const stale = await app.call('POST', `/fhir/${danGrant.consent}/$revoke-access`, { token: ada.access_token });
    expect([stale.status, outcomeText(stale.body)]).toEqual([409, expect.stringContaining(`was replaced by Consent/${changed.body.id}`)]);
    expect((await app.call('GET', `/fhir/Patient/${ada.account.patientId}`, { token: dan.access_token })).status).toBe(200);
    const revoked = await app.call('POST', `/fhir/Consent/${changed.body.id}/$revoke-access`, { token: ada.access_token });
    expect([revoked.status, revoked.body.status]).toEqual([200, 'inactive']);
    expect((await app.call('GET', `/fhir/Patient/${ada.account.patientId}`, { token: dan.access_token })).status).toBe(404);
    // Both are history now: revoking either again changes nothing and says so plainly.
    expect((await app.call('POST', `/fhir/${danGrant.consent}/$revoke-access`, { token: ada.access_token })).status).toBe(200);
  });

  it('the family-member registration reply names who received the passcode: the patient, or the guardian of a child', async () => {
    const requester = {
      firstName: 'Grace',
      lastName: 'Kim',
      email: 'grace.kim@example.com',
      birthDate: '1958-06-01',
      relationship: 'GRPRN',
    };
    const caraPerson = DEMO_PEOPLE.cara;
    const toPatient = await app.call('POST', '/auth/register', {
      json: {
        role: 'family-member',
        requester,
        patient: { lastName: caraPerson.family, birthDate: demoBirthDate(caraPerson, TEST_NOW), mrn: caraPerson.mrn },
      },
    });
    expect([toPatient.status, toPatient.body.message]).toEqual([
      202,
      expect.stringMatching(/^We sent a temporary passcode to the patient \(not to you\)/),
    ]);
    const benPerson = DEMO_PEOPLE.ben;
    const toGuardian = await app.call('POST', '/auth/register', {
      json: {
        role: 'family-member',
        requester: { ...requester, email: 'grace.kim2@example.com' },
        patient: { lastName: benPerson.family, birthDate: demoBirthDate(benPerson, TEST_NOW), mrn: benPerson.mrn },
      },
    });
    expect([toGuardian.status, toGuardian.body.message]).toEqual([
      202,
      expect.stringMatching(/^We sent a temporary passcode to the patient’s parent or guardian/),
    ]);
  });
});
