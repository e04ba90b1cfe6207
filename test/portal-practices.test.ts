/**
 * Issue 19, "One account, several practices" (AGE_POLICY=westchester, the portal consent form on): staff of a second
 * practice issue a security token for their patient; Ada, signed in, redeems it with her own email and reads both
 * records; staff of each practice see only their own; each record's C-CDA and messages stay its practice's;
 * un-enrolling from one practice ends that link only.
 */
import type { Communication, Observation, Organization, Patient } from '@medplum/fhirtypes';
import { DEMO_PASSWORD, DEMO_PEOPLE } from '../fixtures/demo-family';
import { MESSAGE_SUBJECT_SYSTEM } from '../src/portal/messaging/message-rules';
import { type AuthTestApp, outcomeText, parameter, parameters, startAuthTestApp } from './auth-test-app';
import { signInNewStaff } from './support/staff-accounts';

const FORM = 'https://chartkeeper.example/fhir/Questionnaire/portal-consent|1';

describe('one account across practices', () => {
  let app: AuthTestApp;
  let ada: any;
  let maya: any;
  let harborStaff: any;
  let westside: Patient;
  let harbor: Patient;
  let harborOrg: Organization;
  let harborObservation: string;
  let westsideObservation: string;
  beforeAll(async () => {
    app = await startAuthTestApp({ agePolicy: 'westchester', portalConsent: true });
    ada = await app.login(DEMO_PEOPLE.ada.email as string, DEMO_PASSWORD);
    maya = await app.login(DEMO_PEOPLE.mayaChen.email as string, DEMO_PASSWORD);
    const consent = await app.call('POST', '/fhir/$accept-portal-consent', {
      token: ada.access_token,
      json: {
        resourceType: 'QuestionnaireResponse',
        status: 'completed',
        questionnaire: FORM,
        item: [
          { linkId: 'agree', answer: [{ valueBoolean: true }] },
          { linkId: 'signature', answer: [{ valueString: 'Ada Park' }] },
        ],
      },
    });
    expect(consent.status).toBe(201);
    westside = await app.system.read<Patient>('Patient', ada.account.patientId);
    harborOrg = (await app.system.create<Organization>({ resourceType: 'Organization', name: 'Harbor Pediatrics and Family Care' }))
      .resource;
    harbor = (
      await app.system.create<Patient>({
        resourceType: 'Patient',
        name: westside.name,
        birthDate: westside.birthDate,
        gender: westside.gender,
        telecom: [{ system: 'email', value: DEMO_PEOPLE.ada.email }],
        managingOrganization: { reference: `Organization/${harborOrg.id}`, display: harborOrg.name },
      })
    ).resource;
    harborObservation = (
      await app.system.create<Observation>({
        resourceType: 'Observation',
        status: 'final',
        code: { text: 'Harbor ferritin' },
        subject: { reference: `Patient/${harbor.id}` },
        valueQuantity: { value: 31, unit: 'ng/mL' },
      })
    ).resource.id!;
    westsideObservation = (
      await app.system.create<Observation>({
        resourceType: 'Observation',
        status: 'final',
        code: { text: 'Westside ferritin' },
        subject: { reference: `Patient/${westside.id}` },
        valueQuantity: { value: 29, unit: 'ng/mL' },
      })
    ).resource.id!;
    harborStaff = await signInNewStaff(app, {
      email: 'front.desk@harbor.example',
      displayName: 'Harbor Front Desk',
      organizationId: harborOrg.id as string,
    });
  });
  afterAll(() => app?.close());

  const staffOp = (op: string, patientId: string, token: string, values: Record<string, string> = {}) =>
    app.call('POST', `/fhir/Patient/${patientId}/$${op}`, { token, json: parameters(values) });

  it('keeps "two people cannot share one login email" for an enrollment at the second practice', async () => {
    const res = await staffOp('enroll', harbor.id!, harborStaff.access_token);
    expect([res.status, outcomeText(res.body)]).toEqual([
      409,
      expect.stringContaining('This email address already belongs to a portal account'),
    ]);
  });

  it('staff issue a security token (single use, 30 days, shown once); Ada redeems it with her own email and reads both records', async () => {
    // Only the practice's own staff issue one for their patient.
    expect((await staffOp('practice-token', harbor.id!, maya.access_token)).status).toBe(404);
    const issued = await staffOp('practice-token', harbor.id!, harborStaff.access_token);
    expect(issued.status).toBe(201);
    const token = parameter(issued.body, 'securityToken');
    expect([token, parameter(issued.body, 'expiresAt')]).toEqual([
      expect.stringMatching(/^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$/),
      '2026-12-22T18:00:00.000Z',
    ]);
    const secrets = await app.database.db
      .selectFrom('one_time_secret')
      .select('secret_hash')
      .where('purpose', '=', 'practice-token')
      .execute();
    expect(secrets.map((s) => s.secret_hash)).not.toContain(token.replace(/-/g, ''));

    const enroll = (json: unknown, bearer = ada.access_token) => app.call('POST', '/auth/practices/enroll', { token: bearer, json });
    expect(
      (await app.call('POST', '/auth/practices/enroll', { json: { securityToken: token, email: DEMO_PEOPLE.ada.email } })).status,
    ).toBe(401);
    const wrongEmail = await enroll({ securityToken: token, email: 'someone.else@example.com' });
    expect([wrongEmail.status, outcomeText(wrongEmail.body)]).toEqual([401, 'The email or security token is not correct.']);
    expect((await enroll({ securityToken: 'AAAA-AAAA-AAAA', email: DEMO_PEOPLE.ada.email })).status).toBe(401);
    const enrolled = await enroll({ securityToken: token.toLowerCase(), email: DEMO_PEOPLE.ada.email });
    expect([enrolled.status, enrolled.body.patientId]).toEqual([201, harbor.id]);
    expect((await enroll({ securityToken: token, email: DEMO_PEOPLE.ada.email })).status).toBe(410);

    const me = await app.call('GET', '/auth/me', { token: ada.access_token });
    expect(me.body.records).toEqual([
      {
        patientId: westside.id,
        name: 'Ada Park',
        organization: { reference: westside.managingOrganization!.reference, display: 'Westside Family Medicine' },
      },
      {
        patientId: harbor.id,
        name: 'Ada Park',
        organization: { reference: `Organization/${harborOrg.id}`, display: 'Harbor Pediatrics and Family Care' },
      },
    ]);
    for (const [patient, observation] of [
      [westside, westsideObservation],
      [harbor, harborObservation],
    ] as const) {
      expect((await app.call('GET', `/fhir/Patient/${patient.id}`, { token: ada.access_token })).status).toBe(200);
      expect((await app.call('GET', `/fhir/Observation/${observation}`, { token: ada.access_token })).status).toBe(200);
    }
  });

  it('keeps each record its practice’s: staff see only their own, a C-CDA covers one record, a message goes to that record’s practice', async () => {
    expect((await app.call('GET', `/fhir/Patient/${harbor.id}`, { token: maya.access_token })).status).toBe(404);
    expect((await app.call('GET', `/fhir/Observation/${harborObservation}`, { token: maya.access_token })).status).toBe(404);
    expect((await app.call('GET', `/fhir/Patient/${westside.id}`, { token: harborStaff.access_token })).status).toBe(404);
    expect((await app.call('GET', `/fhir/Observation/${westsideObservation}`, { token: harborStaff.access_token })).status).toBe(404);

    const ccd = await fetch(`${app.url}/fhir/Patient/${harbor.id}/$ccda?_format=xml`, {
      headers: { Authorization: `Bearer ${ada.access_token}` },
    });
    const xml = await ccd.text();
    expect(ccd.status).toBe(200);
    expect([xml.includes('Harbor ferritin'), xml.includes('Westside ferritin'), xml.includes('Westside Family Medicine')]).toEqual([
      true,
      false,
      false,
    ]);

    const message = (recipient: string): Communication => ({
      resourceType: 'Communication',
      status: 'in-progress',
      subject: { reference: `Patient/${harbor.id}` },
      topic: { coding: [{ system: MESSAGE_SUBJECT_SYSTEM, code: 'billing' }] },
      recipient: [{ reference: recipient }],
      payload: [{ contentString: 'A question about my bill' }],
    });
    const toHarbor = await app.call('POST', '/fhir/Communication', {
      token: ada.access_token,
      json: message(`Organization/${harborOrg.id}`),
    });
    expect(toHarbor.status).toBe(201);
    const toWestside = await app.call('POST', '/fhir/Communication', {
      token: ada.access_token,
      json: message(westside.managingOrganization!.reference!),
    });
    expect(toWestside.status).toBe(400);
    expect((await app.call('GET', `/fhir/Communication/${toHarbor.body.id}`, { token: harborStaff.access_token })).status).toBe(200);
    expect((await app.call('GET', `/fhir/Communication/${toHarbor.body.id}`, { token: maya.access_token })).status).toBe(404);
  });

  it('un-enrolling from one practice ends that link only; re-enrolling brings it back', async () => {
    const res = await staffOp('unenroll', harbor.id!, harborStaff.access_token);
    expect([res.status, parameter(res.body, 'accountId')]).toEqual([200, ada.account.id]);
    expect((await app.call('GET', `/fhir/Patient/${harbor.id}`, { token: ada.access_token })).status).toBe(404);
    expect((await app.call('GET', `/fhir/Patient/${westside.id}`, { token: ada.access_token })).status).toBe(200);
    expect((await app.call('GET', '/auth/me', { token: ada.access_token })).body.records.map((r: any) => r.patientId)).toEqual([
      westside.id,
    ]);
    // The Westside practice un-enrolls her too: her account keeps no record, and her login still works.
    expect((await staffOp('unenroll', westside.id!, maya.access_token)).status).toBe(200);
    expect((await app.call('GET', `/fhir/Patient/${westside.id}`, { token: ada.access_token })).status).toBe(404);
    expect((await staffOp('unenroll', westside.id!, maya.access_token)).status).toBe(409);
    // A new token from Harbor brings that record back, with its history.
    const token = parameter((await staffOp('practice-token', harbor.id!, harborStaff.access_token)).body, 'securityToken');
    expect(
      (
        await app.call('POST', '/auth/practices/enroll', {
          token: ada.access_token,
          json: { securityToken: token, email: DEMO_PEOPLE.ada.email },
        })
      ).status,
    ).toBe(201);
    expect((await app.call('GET', `/fhir/Observation/${harborObservation}`, { token: ada.access_token })).status).toBe(200);
  });
});
