/**
 * Issue 19, "Links and the startup banner": emailed links open the portal frontend (PORTAL_URL), on the documented
 * routes, with the token as a query parameter; /fhir/metadata says which age policy is active and whether the portal
 * consent form is asked.
 */
import type { Patient } from '@medplum/fhirtypes';
import { DEMO_PASSWORD, DEMO_PEOPLE, demoBirthDate } from '../fixtures/demo-family';
import { ConfigError, loadConfig } from '../src/config';
import { type AuthTestApp, GOOD_PASSWORD, linkIn, parameters, startAuthTestApp, TEST_NOW } from './auth-test-app';

const PORTAL = 'https://portal.example/app';

describe('links in emails open the portal (PORTAL_URL)', () => {
  let app: AuthTestApp;
  let ada: any;
  beforeAll(async () => {
    app = await startAuthTestApp({ agePolicy: 'westchester', portalConsent: true, portalUrl: PORTAL });
    ada = await app.login(DEMO_PEOPLE.ada.email as string, DEMO_PASSWORD);
    const done = await app.call('POST', '/fhir/$accept-portal-consent', {
      token: ada.access_token,
      json: {
        resourceType: 'QuestionnaireResponse',
        status: 'completed',
        questionnaire: 'https://chartkeeper.example/fhir/Questionnaire/portal-consent|1',
        item: [
          { linkId: 'agree', answer: [{ valueBoolean: true }] },
          { linkId: 'signature', answer: [{ valueString: 'Ada Park' }] },
        ],
      },
    });
    expect(done.status).toBe(201);
  });
  afterAll(() => app?.close());

  it('an invitation link is the portal’s /auth/invitations/accept?token=, and the token it carries is accepted by the API', async () => {
    const before = app.smtp.received.length;
    const invited = await app.call('POST', `/fhir/Patient/${ada.account.patientId}/$invite-family`, {
      token: ada.access_token,
      json: parameters({ email: 'eve.park@example.com', name: 'Eve Park', level: 'full', relationship: 'SIB' }),
    });
    expect(invited.status).toBe(201);
    const link = new URL(linkIn(await app.mailTo('eve.park@example.com', before)));
    expect(`${link.origin}${link.pathname}`).toBe(`${PORTAL}/auth/invitations/accept`);
    const token = link.searchParams.get('token') as string;
    const accepted = await app.call('POST', '/auth/invitations/accept', {
      json: { token, birthDate: '1988-05-05', password: GOOD_PASSWORD },
    });
    expect(accepted.status).toBe(201);
  });

  it('reset, enrollment and passcode links go to the portal’s routes too', async () => {
    let before = app.smtp.received.length;
    await app.call('POST', '/auth/password/forgot', { json: { email: DEMO_PEOPLE.cara.email } });
    const reset = new URL(linkIn(await app.mailTo(DEMO_PEOPLE.cara.email as string, before)));
    expect([`${reset.origin}${reset.pathname}`, reset.searchParams.get('token')]).toEqual([
      `${PORTAL}/auth/password/reset`,
      expect.any(String),
    ]);

    const maya = await app.login(DEMO_PEOPLE.mayaChen.email as string, DEMO_PASSWORD);
    const noah = (
      await app.system.create<Patient>({
        resourceType: 'Patient',
        name: [{ family: 'Adams', given: ['Noah'] }],
        birthDate: '1941-07-07',
        telecom: [{ system: 'email', value: 'noah.adams@example.com' }],
        managingOrganization: (await app.system.read<any>('Patient', ada.account.patientId)).managingOrganization,
      })
    ).resource;
    before = app.smtp.received.length;
    expect((await app.call('POST', `/fhir/Patient/${noah.id}/$enroll`, { token: maya.access_token, json: parameters({}) })).status).toBe(
      201,
    );
    const enroll = new URL(linkIn(await app.mailTo('noah.adams@example.com', before)));
    expect(`${enroll.origin}${enroll.pathname}`).toBe(`${PORTAL}/auth/enrollment/accept`);

    before = app.smtp.received.length;
    const cara = DEMO_PEOPLE.cara;
    const asked = await app.call('POST', '/auth/register', {
      json: {
        role: 'family-member',
        requester: { firstName: 'Grace', lastName: 'Kim', email: 'grace.kim@example.com', birthDate: '1958-06-01', relationship: 'GRPRN' },
        patient: { lastName: cara.family, birthDate: demoBirthDate(cara, TEST_NOW), mrn: cara.mrn },
      },
    });
    expect(asked.status).toBe(202);
    const passcodeMail = await app.mailTo(cara.email as string, before);
    const settings = new URL(linkIn(passcodeMail));
    expect([`${settings.origin}${settings.pathname}`, settings.searchParams.get('patient')]).toEqual([
      `${PORTAL}/family-access`,
      expect.any(String),
    ]);
    expect(passcodeMail.message.text).not.toContain('/fhir/');
  });

  it('/fhir/metadata says which age policy is active and that the consent form is asked', async () => {
    const metadata = (await app.call('GET', '/fhir/metadata')).body;
    expect(metadata.extension).toEqual([
      { url: 'https://chartkeeper.example/fhir/StructureDefinition/age-policy', valueCode: 'westchester' },
      { url: 'https://chartkeeper.example/fhir/StructureDefinition/portal-consent-required', valueBoolean: true },
    ]);
    expect(metadata.implementation.description).toContain(
      'Age policy: westchester (family access levels offered: full, billing+appointments). Under 12:',
    );
    expect(metadata.rest[0].operation.map((o: any) => o.name)).toContain('accept-portal-consent');
  });
});

describe('PORTAL_URL', () => {
  it('defaults to none (links use BASE_URL) and must be an http(s) URL', () => {
    expect(loadConfig({}).portalUrl).toBeUndefined();
    expect(loadConfig({ PORTAL_URL: 'https://portal.example/app/' }).portalUrl).toBe('https://portal.example/app');
    expect(() => loadConfig({ PORTAL_URL: 'portal.example' })).toThrow(ConfigError);
    expect(() => loadConfig({ PORTAL_URL: 'javascript:alert(1)' })).toThrow(ConfigError);
  });
});
