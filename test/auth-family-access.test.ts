/**
 * Family access from inside accounts: the patient invites by email (the link read from the received mail),
 * lists, changes and removes grants; a teen lifts a parent's billing-only access to full; a signed-in patient
 * asks for access to another record with a passcode. Grants are Consents visible through the FHIR API.
 */
import type { Patient } from '@medplum/fhirtypes';
import { DEMO_PASSWORD, DEMO_PEOPLE } from '../fixtures/demo-family';
import { type AuthTestApp, GOOD_PASSWORD, linkIn, outcomeText, parameter, parameters, passcodeIn, startAuthTestApp } from './auth-test-app';

describe('family access from accounts', () => {
  let app: AuthTestApp;
  let ada: any;
  let cara: any;
  beforeAll(async () => {
    app = await startAuthTestApp();
    ada = await app.login(DEMO_PEOPLE.ada.email as string, DEMO_PASSWORD);
    cara = await app.login(DEMO_PEOPLE.cara.email as string, DEMO_PASSWORD);
  });
  afterAll(() => app?.close());

  const invite = (token: string, patientId: string, values: Record<string, string>) =>
    app.call('POST', `/fhir/Patient/${patientId}/$invite-family`, { token, json: parameters(values) });
  const grantsOf = async (token: string, patientId: string) =>
    ((await app.call('GET', `/fhir/Patient/${patientId}/$family-access`, { token })).body.parameter ?? []).map((g: any) => ({
      name: parameter({ parameter: g.part }, 'name'),
      level: parameter({ parameter: g.part }, 'level'),
      effectiveLevel: parameter({ parameter: g.part }, 'effectiveLevel'),
      grantedBy: parameter({ parameter: g.part }, 'grantedBy'),
      active: parameter({ parameter: g.part }, 'active'),
      consent: parameter({ parameter: g.part }, 'consent'),
    }));

  it('lists the demo grants of Ada’s and Cara’s records with what each gives today', async () => {
    expect(await grantsOf(ada.access_token, ada.account.patientId)).toEqual([
      {
        name: 'Dan Reyes',
        level: 'full',
        effectiveLevel: 'full',
        grantedBy: 'patient',
        active: true,
        consent: expect.stringMatching(/^Consent\//),
      },
    ]);
    const byAuthority = (a: any, b: any) => a.grantedBy.localeCompare(b.grantedBy);
    expect((await grantsOf(cara.access_token, cara.account.patientId)).sort(byAuthority)).toEqual([
      {
        name: 'Ada Park',
        level: 'billing',
        effectiveLevel: 'billing',
        grantedBy: 'guardian',
        active: true,
        consent: expect.stringMatching(/^Consent\//),
      },
    ]);
    // Someone else's settings are not found.
    expect((await app.call('GET', `/fhir/Patient/${ada.account.patientId}/$family-access`, { token: cara.access_token })).status).toBe(404);
  });

  it('invites by email (30 days), and accepting creates the invitee’s account at the chosen level', async () => {
    const before = app.smtp.received.length;
    const res = await invite(ada.access_token, ada.account.patientId, {
      email: 'Eve.Park@example.com',
      name: 'Eve Park',
      level: 'billing',
      relationship: 'SIB',
    });
    expect(res.status).toBe(201);
    expect(parameter(res.body, 'expiresAt')).toBe('2026-12-22T18:00:00.000Z');
    const mail = await app.mailTo('eve.park@example.com', before);
    expect(mail.message.subject).toBe('Ada Park invited you to their Westside Family Medicine patient portal account');
    expect(mail.message.text).toContain('billing-only access: statements and payments, no health records');
    const link = new URL(linkIn(mail));
    expect(link.pathname).toBe('/auth/invitations/accept');
    const token = link.searchParams.get('token') as string;
    const described = await app.call('GET', `${link.pathname}${link.search}`);
    expect(described.body).toEqual({
      kind: 'family',
      email: 'eve.park@example.com',
      inviteeName: 'Eve Park',
      patientName: 'Ada Park',
      level: 'billing',
      expiresAt: '2026-12-22T18:00:00.000Z',
      accountExists: false,
    });
    const young = await app.call('POST', '/auth/invitations/accept', { json: { token, birthDate: '2015-05-05', password: GOOD_PASSWORD } });
    expect(young.status).toBe(403);
    const accepted = await app.call('POST', '/auth/invitations/accept', {
      json: { token, birthDate: '1988-05-05', password: GOOD_PASSWORD },
    });
    expect(accepted.status).toBe(201);
    expect(accepted.body.account).toMatchObject({ email: 'eve.park@example.com', kind: 'family', displayName: 'Eve Park' });
    // Billing only: the minimal Patient, no clinical resources.
    const eve = accepted.body.access_token;
    const patient = await app.call('GET', `/fhir/Patient/${ada.account.patientId}`, { token: eve });
    expect([patient.status, patient.body.telecom, patient.body.birthDate]).toEqual([200, undefined, expect.any(String)]);
    expect((await app.call('GET', `/fhir/Condition?patient=${ada.account.patientId}`, { token: eve })).body.entry ?? []).toEqual([]);
    const reuse = await app.call('POST', '/auth/invitations/accept', { json: { token, birthDate: '1988-05-05', password: GOOD_PASSWORD } });
    expect([reuse.status, outcomeText(reuse.body)]).toEqual([410, 'This invitation has already been used.']);
  });

  it('changes a level and removes access; the Consent shows it and access follows at once', async () => {
    const eve = await app.login('eve.park@example.com', GOOD_PASSWORD);
    const grants = await grantsOf(ada.access_token, ada.account.patientId);
    const eveGrant = grants.find((g: any) => g.name === 'Eve Park');
    const changed = await app.call('POST', `/fhir/${eveGrant.consent}/$change-access-level`, {
      token: ada.access_token,
      json: parameters({ level: 'full' }),
    });
    expect(changed.status).toBe(200);
    expect(
      (await app.call('GET', `/fhir/Condition?patient=${ada.account.patientId}`, { token: eve.access_token })).body.entry.length,
    ).toBeGreaterThan(0);
    const dan = grants.find((g: any) => g.name === 'Dan Reyes');
    // Eve cannot remove Dan's access; Ada can.
    expect((await app.call('POST', `/fhir/${dan.consent}/$revoke-access`, { token: eve.access_token })).status).toBe(404);
    const revoked = await app.call('POST', `/fhir/${dan.consent}/$revoke-access`, { token: ada.access_token });
    expect([revoked.status, revoked.body.status]).toEqual([200, 'inactive']);
    const danSession = await app.login(DEMO_PEOPLE.dan.email as string, DEMO_PASSWORD);
    expect((await app.call('GET', `/fhir/Patient/${ada.account.patientId}`, { token: danSession.access_token })).status).toBe(404);
    const after = await grantsOf(ada.access_token, ada.account.patientId);
    expect(after.map((g: any) => [g.name, g.level, g.active])).toEqual([
      ['Eve Park', 'full', true],
      ['Dan Reyes', 'full', false],
    ]);
    // The grants are FHIR Consents the patient can search.
    const consents = await app.call('GET', `/fhir/Consent?patient=Patient/${ada.account.patientId}&status=active`, {
      token: ada.access_token,
    });
    expect(consents.body.entry.length).toBe(1);
  });

  it('lets Cara (15) lift her mother’s billing-only access to full by her own grant', async () => {
    const [mother] = await grantsOf(cara.access_token, cara.account.patientId);
    const observations = `/fhir/Observation?patient=${cara.account.patientId}`;
    expect((await app.call('GET', observations, { token: ada.access_token })).body.entry ?? []).toEqual([]);
    const res = await app.call('POST', `/fhir/${mother.consent}/$change-access-level`, {
      token: cara.access_token,
      json: parameters({ level: 'full' }),
    });
    expect(res.status).toBe(200);
    // Her own grant stands beside the guardian's (which still ends at 18); the better one counts.
    const byAuthority = (a: any, b: any) => a.grantedBy.localeCompare(b.grantedBy);
    expect((await grantsOf(cara.access_token, cara.account.patientId)).sort(byAuthority)).toEqual([
      { name: 'Ada Park', level: 'billing', effectiveLevel: 'billing', grantedBy: 'guardian', active: true, consent: mother.consent },
      { name: 'Ada Park', level: 'full', effectiveLevel: 'full', grantedBy: 'patient', active: true, consent: expect.any(String) },
    ]);
    expect((await app.call('GET', observations, { token: ada.access_token })).body.entry.length).toBeGreaterThan(0);
  });

  it('item 9: Cara (15) may not revoke her mother’s guardian access (403, nothing changes); revoking her own grant falls back to it', async () => {
    const byAuthority = (a: any, b: any) => a.grantedBy.localeCompare(b.grantedBy);
    const [guardian, own] = (await grantsOf(cara.access_token, cara.account.patientId)).sort(byAuthority);
    expect([guardian.grantedBy, own.grantedBy, own.active]).toEqual(['guardian', 'patient', true]);
    const consents = async () =>
      await app.database.db
        .selectFrom('resource_history')
        .select(['id', 'version'])
        .where('resource_type', '=', 'Consent')
        .orderBy('id')
        .orderBy('version')
        .execute();
    const before = await consents();
    const invoices = `/fhir/Invoice?patient=${cara.account.patientId}`;
    const observations = `/fhir/Observation?patient=${cara.account.patientId}`;
    const refused = await app.call('POST', `/fhir/${guardian.consent}/$revoke-access`, { token: cara.access_token });
    expect([refused.status, outcomeText(refused.body)]).toEqual([
      403,
      expect.stringMatching(/^This is the access a parent or guardian has under the practice’s age policy; it is not yours to remove/),
    ]);
    expect(await consents()).toEqual(before);
    expect((await app.call('GET', invoices, { token: ada.access_token })).body.entry.length).toBeGreaterThan(0);
    const inPlace = await app.call('POST', `/fhir/${guardian.consent}/$change-access-level`, {
      token: cara.access_token,
      json: parameters({ level: 'billing' }),
    });
    expect(inPlace.status).toBe(200); // a change by the teen is her own grant beside the guardian's, never a change of it
    const [guardianAfter] = (await grantsOf(cara.access_token, cara.account.patientId)).sort(byAuthority);
    expect(guardianAfter).toEqual(guardian);
    const guardianId = guardian.consent.split('/')[1];
    expect((await consents()).filter((c) => c.id === guardianId)).toEqual(before.filter((c) => c.id === guardianId));
    // Her own grant (now billing) is hers to revoke: Ada keeps the guardian's billing access, and only that.
    const [, mine] = (await grantsOf(cara.access_token, cara.account.patientId)).sort(byAuthority);
    const revoked = await app.call('POST', `/fhir/${mine.consent}/$revoke-access`, { token: cara.access_token });
    expect([revoked.status, revoked.body.status]).toEqual([200, 'inactive']);
    expect((await app.call('GET', invoices, { token: ada.access_token })).body.entry.length).toBeGreaterThan(0);
    expect((await app.call('GET', observations, { token: ada.access_token })).body.entry ?? []).toEqual([]);
    const stillGuardian = (await grantsOf(cara.access_token, cara.account.patientId)).filter((g: any) => g.active);
    expect(stillGuardian).toEqual([guardian]);
  });

  it('links an invitation to the invited email’s existing account with its password', async () => {
    const before = app.smtp.received.length;
    const res = await invite(cara.access_token, cara.account.patientId, {
      email: DEMO_PEOPLE.dan.email as string,
      name: 'Dan Reyes',
      level: 'full',
    });
    expect(res.status).toBe(201);
    const token = new URL(linkIn(await app.mailTo(DEMO_PEOPLE.dan.email as string, before))).searchParams.get('token') as string;
    expect((await app.call('GET', `/auth/invitations/accept?token=${token}`)).body.accountExists).toBe(true);
    const wrong = await app.call('POST', '/auth/invitations/accept', { json: { token, password: 'not dan’s password at all' } });
    expect([wrong.status, outcomeText(wrong.body)]).toEqual([401, 'The password is not correct for the account of the invited email.']);
    const linked = await app.call('POST', '/auth/invitations/accept', { json: { token, password: DEMO_PASSWORD } });
    expect([linked.status, linked.body.account.email]).toEqual([200, DEMO_PEOPLE.dan.email]);
    // Cara (15) invited him herself: her own grant, full.
    expect(
      (await app.call('GET', `/fhir/Observation?patient=${cara.account.patientId}`, { token: linked.body.access_token })).body.entry.length,
    ).toBeGreaterThan(0);
  });

  it('refuses invitations that are not the patient’s to make, to oneself, or to a child under 13', async () => {
    const danSession = await app.login(DEMO_PEOPLE.dan.email as string, DEMO_PASSWORD);
    expect(
      (await invite(danSession.access_token, ada.account.patientId, { email: 'x@example.com', name: 'X', level: 'full' })).status,
    ).toBe(404);
    const eve = await app.login('eve.park@example.com', GOOD_PASSWORD);
    const notPatient = await invite(eve.access_token, ada.account.patientId, { email: 'x@example.com', name: 'X', level: 'full' });
    expect([notPatient.status, outcomeText(notPatient.body)]).toEqual([403, 'Only the patient can invite family members to their account']);
    expect(
      (await invite(ada.access_token, ada.account.patientId, { email: DEMO_PEOPLE.ada.email as string, name: 'Me', level: 'full' })).status,
    ).toBe(400);
    expect((await invite(ada.access_token, ada.account.patientId, { email: 'x@example.com', name: 'X', level: 'everything' })).status).toBe(
      400,
    );
    await app.system.create<Patient>({
      resourceType: 'Patient',
      name: [{ family: 'Lee', given: ['Mia'] }],
      birthDate: '2018-03-03',
      telecom: [{ system: 'email', value: 'mia.lee@example.com' }],
    });
    const child = await invite(ada.access_token, ada.account.patientId, { email: 'mia.lee@example.com', name: 'Mia Lee', level: 'full' });
    expect([child.status, outcomeText(child.body)]).toEqual([403, expect.stringContaining('(COPPA)')]);
    expect((await invite('', ada.account.patientId, { email: 'x@example.com', name: 'X', level: 'full' })).status).toBe(401);
  });

  it('lets an invitation expire after 30 days', async () => {
    const before = app.smtp.received.length;
    await invite(ada.access_token, ada.account.patientId, { email: 'late@example.com', name: 'Late Comer', level: 'full' });
    const token = new URL(linkIn(await app.mailTo('late@example.com', before))).searchParams.get('token') as string;
    app.clock.advance(30 * 24 * 60 * 60 * 1000);
    const res = await app.call('POST', '/auth/invitations/accept', { json: { token, birthDate: '1970-01-01', password: GOOD_PASSWORD } });
    expect([res.status, outcomeText(res.body)]).toEqual([410, 'This invitation has expired.']);
    app.clock.advance(-30 * 24 * 60 * 60 * 1000);
  });

  it('lets a signed-in patient ask for access to another record; the passcode goes to that patient', async () => {
    ada = await app.login(DEMO_PEOPLE.ada.email as string, DEMO_PASSWORD);
    const { resource: gran } = await app.system.create<Patient>({
      resourceType: 'Patient',
      name: [{ family: 'Park', given: ['Soon'] }],
      birthDate: '1950-02-02',
      telecom: [{ system: 'email', value: 'soon.park@example.com' }],
      address: [{ postalCode: '98107' }],
    });
    const before = app.smtp.received.length;
    const asked = await app.call('POST', '/fhir/Patient/$request-access', {
      token: ada.access_token,
      json: parameters({ lastName: 'Park', birthDate: '1950-02-02', postalCode: '98107', relationship: 'CHILD' }),
    });
    expect(asked.status).toBe(202);
    const mail = await app.mailTo('soon.park@example.com', before);
    expect(mail.message.subject).toBe('Chartkeeper: Ada Park asked for access to your portal account');
    const requestId = parameter(asked.body, 'requestId');
    // Only the asking account can redeem it.
    const cara2 = await app.login(DEMO_PEOPLE.cara.email as string, DEMO_PASSWORD);
    expect(
      (
        await app.call('POST', '/fhir/$redeem-passcode', {
          token: cara2.access_token,
          json: parameters({ requestId, passcode: passcodeIn(mail) }),
        })
      ).status,
    ).toBe(404);
    // A wrong code is refused (403, tries left), not a 401 that would sign Ada's app out; her session goes on.
    const wrong = await app.call('POST', '/fhir/$redeem-passcode', {
      token: ada.access_token,
      json: parameters({ requestId, passcode: 'ZZZZ-ZZZZ' }),
    });
    expect([wrong.status, outcomeText(wrong.body)]).toEqual([403, expect.stringContaining('tries left')]);
    const redeemed = await app.call('POST', '/fhir/$redeem-passcode', {
      token: ada.access_token,
      json: parameters({ requestId, passcode: passcodeIn(mail) }),
    });
    expect([redeemed.status, parameter(redeemed.body, 'patient')]).toEqual([201, `Patient/${gran.id}`]);
    expect((await app.call('GET', `/fhir/Patient/${gran.id}`, { token: ada.access_token })).status).toBe(200);
    const self = await app.call('POST', '/fhir/Patient/$request-access', {
      token: ada.access_token,
      json: parameters({
        lastName: 'Park',
        birthDate: DEMO_PEOPLE.ada.age ? ((await app.system.read<Patient>('Patient', ada.account.patientId)).birthDate as string) : '',
        mrn: DEMO_PEOPLE.ada.mrn as string,
      }),
    });
    expect(self.status).toBe(400);
  });
});
