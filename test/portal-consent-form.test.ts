/**
 * Issue 19, "Portal consent form": under AGE_POLICY=westchester every portal account completes the practice's
 * versioned consent form (fhir-profiles/Questionnaire-portal-consent.json) before it uses the portal. Until then every
 * /fhir call but metadata, the form and $accept-portal-consent is 403 `consent-required`; completing it writes a
 * QuestionnaireResponse and an active Consent; a new version asks again; staff are not held to it.
 */
import type { Consent, Patient, Questionnaire, QuestionnaireResponse } from '@medplum/fhirtypes';
import { DEMO_PASSWORD, DEMO_PEOPLE } from '../fixtures/demo-family';
import { ConfigError, loadConfig, portalConsentRequired } from '../src/config';
import { createAuthenticator } from '../src/auth/token-authenticator';
import { publishConsentForm, readConsentFormFile } from '../src/portal/enrollment/portal-consent-form';
import { type AuthTestApp, GOOD_PASSWORD, linkIn, outcomeText, parameter, parameters, startAuthTestApp } from './auth-test-app';

const FORM_URL = 'https://chartkeeper.example/fhir/Questionnaire/portal-consent';

/** A QuestionnaireResponse answering the form. */
function answers(version: string, agree: unknown = true, signature: unknown = 'Ada Park'): QuestionnaireResponse {
  return {
    resourceType: 'QuestionnaireResponse',
    status: 'completed',
    questionnaire: `${FORM_URL}|${version}`,
    item: [
      { linkId: 'agree', answer: [{ valueBoolean: agree as boolean }] },
      { linkId: 'signature', answer: [{ valueString: signature as string }] },
    ],
  };
}

describe('portal consent form (westchester)', () => {
  let app: AuthTestApp;
  let ada: any;
  beforeAll(async () => {
    app = await startAuthTestApp({ agePolicy: 'westchester' });
    ada = await app.login(DEMO_PEOPLE.ada.email as string, DEMO_PASSWORD);
  });
  afterAll(() => app?.close());

  const portalConsents = async (): Promise<Consent[]> =>
    await app.system.searchResources<Consent>('Consent', {
      category: 'https://chartkeeper.example/fhir/CodeSystem/consent-category|portal-consent',
    });

  it('refuses every /fhir call with 403 consent-required and the form’s URL, except metadata and the form', async () => {
    for (const [method, path, json] of [
      ['GET', `/fhir/Patient/${ada.account.patientId}`, undefined],
      ['GET', `/fhir/Condition?patient=${ada.account.patientId}`, undefined],
      ['GET', `/fhir/Patient/${ada.account.patientId}/$family-access`, undefined],
      [
        'POST',
        '/fhir',
        { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: `Patient/${ada.account.patientId}` } }] },
      ],
      ['GET', '/fhir/Questionnaire', undefined],
    ] as const) {
      const res = await app.call(method, path, { token: ada.access_token, json });
      const issue = res.body.issue?.[0];
      expect([path, res.status, issue?.code, issue?.details?.coding?.[0]?.code]).toEqual([path, 403, 'forbidden', 'consent-required']);
      expect(issue.extension).toEqual([
        { url: 'https://chartkeeper.example/fhir/StructureDefinition/consent-form', valueCanonical: `${FORM_URL}|1` },
      ]);
      expect(issue.diagnostics).toBe(`${app.url}/fhir/Questionnaire/portal-consent`);
      expect(outcomeText(res.body)).toContain(`POST ${app.url}/fhir/$accept-portal-consent`);
    }
    expect((await app.call('GET', '/fhir/metadata')).status).toBe(200);
    const form = await app.call('GET', '/fhir/Questionnaire/portal-consent', { token: ada.access_token });
    expect([form.status, form.body.url, form.body.version, form.body.title]).toEqual([200, FORM_URL, '1', 'Patient Portal Consent Form']);
    expect(form.body.item.map((i: any) => i.linkId)).toEqual(readConsentFormFile().item!.map((i) => i.linkId));
  });

  it('shows no record to an account that has not completed the form, whatever the path (the resource layer)', async () => {
    const authenticator = await createAuthenticator(app.config, app.database, app.clock);
    const caller = await authenticator.authenticate(ada.access_token);
    expect(caller.consentRequired).toEqual({ formId: 'portal-consent', url: FORM_URL, version: '1' });
    expect([...caller.scope.patients.keys()]).toEqual([]);
  });

  it('refuses answers that do not complete the form, writing nothing', async () => {
    const before = (await portalConsents()).length;
    const bad: [QuestionnaireResponse | object, number, string][] = [
      [answers('1', false), 400, 'must be answered yes'],
      [answers('1', true, '   '), 400, '"signature" is answered with a valueString that is not empty'],
      [answers('1', true, 'x'.repeat(201)), 400, '"signature" is at most 200 characters'],
      [
        { ...answers('1'), item: [{ linkId: 'agree', answer: [{ valueBoolean: true }] }] },
        400,
        'Answer "Type your full name as your electronic signature." (signature)',
      ],
      [
        { ...answers('1'), item: [...answers('1').item!, { linkId: 'extra', answer: [{ valueString: 'x' }] }] },
        400,
        'The form has no question "extra"',
      ],
      [answers('0'), 409, 'version 1 is current'],
      [{ ...answers('1'), questionnaire: 'https://elsewhere.example/Questionnaire/x' }, 400, `questionnaire must be "${FORM_URL}|1"`],
      [{ resourceType: 'Patient' }, 400, 'The body must be a QuestionnaireResponse'],
    ];
    for (const [body, status, text] of bad) {
      const res = await app.call('POST', '/fhir/$accept-portal-consent', { token: ada.access_token, json: body });
      expect([res.status, outcomeText(res.body)]).toEqual([status, expect.stringContaining(text)]);
    }
    expect((await portalConsents()).length).toBe(before);
    expect((await app.call('GET', `/fhir/Patient/${ada.account.patientId}`, { token: ada.access_token })).status).toBe(403);
  });

  it('completing the form writes a QuestionnaireResponse and an active Consent (signer, date, version); then the record reads', async () => {
    const res = await app.call('POST', '/fhir/$accept-portal-consent', { token: ada.access_token, json: answers('1') });
    expect(res.status).toBe(201);
    expect(parameter(res.body, 'accepted')).toBe('2026-11-22T18:00:00.000Z');
    const consentRef = res.body.parameter.find((p: any) => p.name === 'consent').valueReference.reference;
    const consent = await app.system.read<Consent>('Consent', consentRef.split('/')[1]);
    expect(consent).toMatchObject({
      status: 'active',
      patient: { reference: `Patient/${ada.account.patientId}` },
      dateTime: '2026-11-22T18:00:00.000Z',
      performer: [{ reference: `Patient/${ada.account.patientId}`, display: 'Ada Park' }],
      policy: [{ uri: `${FORM_URL}|1` }],
    });
    const response = await app.system.read<QuestionnaireResponse>(
      'QuestionnaireResponse',
      consent.sourceReference!.reference!.split('/')[1],
    );
    expect(response).toMatchObject({
      status: 'completed',
      questionnaire: `${FORM_URL}|1`,
      author: { reference: `Patient/${ada.account.patientId}` },
      authored: '2026-11-22T18:00:00.000Z',
    });
    expect(response.item!.map((i) => [i.linkId, i.answer![0].valueBoolean ?? i.answer![0].valueString])).toEqual([
      ['agree', true],
      ['signature', 'Ada Park'],
    ]);
    const patient = await app.call('GET', `/fhir/Patient/${ada.account.patientId}`, { token: ada.access_token });
    expect([patient.status, patient.body.id]).toEqual([200, ada.account.patientId]);
    // Her own copy is in her record.
    const own = await app.call('GET', `/fhir/Consent?patient=${ada.account.patientId}&_id=${consent.id}`, { token: ada.access_token });
    expect(own.body.entry.map((e: any) => e.resource.id)).toEqual([consent.id]);
    // Answering again writes nothing new.
    const again = await app.call('POST', '/fhir/$accept-portal-consent', { token: ada.access_token, json: answers('1') });
    expect([again.status, again.body.parameter.find((p: any) => p.name === 'consent').valueReference.reference]).toEqual([200, consentRef]);
  });

  it('does not hold staff to it (and the form is the patient’s to answer)', async () => {
    const maya = await app.login(DEMO_PEOPLE.mayaChen.email as string, DEMO_PASSWORD);
    expect((await app.call('GET', `/fhir/Patient/${ada.account.patientId}`, { token: maya.access_token })).status).toBe(200);
    const answered = await app.call('POST', '/fhir/$accept-portal-consent', { token: maya.access_token, json: answers('1') });
    expect(answered.status).toBe(403);
  });

  it('publishing a new version asks every account again on its next request', async () => {
    const form = await app.system.read<Questionnaire>('Questionnaire', 'portal-consent');
    await app.system.update<Questionnaire>({ ...form, version: '2', date: '2026-11-22' });
    const asked = await app.call('GET', `/fhir/Patient/${ada.account.patientId}`, { token: ada.access_token });
    expect([asked.status, asked.body.issue[0].extension[0].valueCanonical]).toEqual([403, `${FORM_URL}|2`]);
    expect((await app.call('POST', '/fhir/$accept-portal-consent', { token: ada.access_token, json: answers('1') })).status).toBe(409);
    expect((await app.call('POST', '/fhir/$accept-portal-consent', { token: ada.access_token, json: answers('2') })).status).toBe(201);
    expect((await app.call('GET', `/fhir/Patient/${ada.account.patientId}`, { token: ada.access_token })).status).toBe(200);
    // A restart publishes the file's version 1 only if it was never published: version 2 stays current.
    expect(await publishConsentForm(app.system, readConsentFormFile())).toBe(false);
    expect((await app.system.read<Questionnaire>('Questionnaire', 'portal-consent')).version).toBe('2');
    expect(await publishConsentForm(app.system, { ...readConsentFormFile(), version: '3' })).toBe(true);
    expect((await app.call('GET', `/fhir/Patient/${ada.account.patientId}`, { token: ada.access_token })).status).toBe(403);
    expect((await app.call('POST', '/fhir/$accept-portal-consent', { token: ada.access_token, json: answers('3') })).status).toBe(201);
  });

  it('a family member with a legal authorization completes the form for themselves, signing in the patient’s record', async () => {
    const maya = await app.login(DEMO_PEOPLE.mayaChen.email as string, DEMO_PASSWORD);
    const adaPatient = await app.system.read<Patient>('Patient', ada.account.patientId);
    const noah = (
      await app.system.create<Patient>({
        resourceType: 'Patient',
        name: [{ family: 'Adams', given: ['Noah'] }],
        birthDate: '1941-07-07',
        managingOrganization: adaPatient.managingOrganization,
      })
    ).resource;
    const before = app.smtp.received.length;
    const recorded = await app.call('POST', `/fhir/Patient/${noah.id}/$legal-authorization`, {
      token: maya.access_token,
      json: parameters({ email: 'ruth.adams@example.com', name: 'Ruth Adams' }),
    });
    expect(recorded.status).toBe(201);
    const token = new URL(linkIn(await app.mailTo('ruth.adams@example.com', before))).searchParams.get('token') as string;
    const ruth = (await app.call('POST', '/auth/invitations/accept', { json: { token, birthDate: '1970-10-10', password: GOOD_PASSWORD } }))
      .body;
    const refused = await app.call('GET', `/fhir/Patient/${noah.id}`, { token: ruth.access_token });
    expect([refused.status, refused.body.issue[0].details.coding[0].code]).toEqual([403, 'consent-required']);
    // Answered twice at once (a double click): one answer is recorded, and both replies name it.
    const twice = await Promise.all(
      [1, 2].map(() =>
        app.call('POST', '/fhir/$accept-portal-consent', { token: ruth.access_token, json: answers('3', true, 'Ruth Adams') }),
      ),
    );
    expect(twice.map((r) => r.status).sort()).toEqual([200, 201]);
    const done = twice.find((r) => r.status === 201)!;
    expect(twice.map((r) => r.body.parameter.find((p: any) => p.name === 'consent').valueReference.reference)).toEqual(
      Array(2).fill(expect.stringMatching(/^Consent\//)),
    );
    expect(new Set(twice.map((r) => JSON.stringify(r.body.parameter.filter((p: any) => p.name === 'consent'))).values()).size).toBe(1);
    const signed = await app.system.searchResources<Consent>('Consent', {
      patient: `Patient/${noah.id}`,
      category: 'https://chartkeeper.example/fhir/CodeSystem/consent-category|portal-consent',
    });
    expect(signed.length).toBe(1);
    const consent = await app.system.read<Consent>(
      'Consent',
      done.body.parameter.find((p: any) => p.name === 'consent').valueReference.reference.split('/')[1],
    );
    expect(consent.patient?.reference).toBe(`Patient/${noah.id}`);
    expect(consent.performer?.[0]).toMatchObject({ reference: expect.stringMatching(/^RelatedPerson\//), display: 'Ruth Adams' });
    expect((await app.call('GET', `/fhir/Patient/${noah.id}`, { token: ruth.access_token })).status).toBe(200);
  });
});

describe('under westmed (the default)', () => {
  let app: AuthTestApp;
  beforeAll(async () => {
    app = await startAuthTestApp();
  });
  afterAll(() => app?.close());

  it('asks no consent form: the account reads its record at once, and none is published or announced', async () => {
    const ada = await app.login(DEMO_PEOPLE.ada.email as string, DEMO_PASSWORD);
    expect((await app.call('GET', `/fhir/Patient/${ada.account.patientId}`, { token: ada.access_token })).status).toBe(200);
    expect((await app.call('GET', '/fhir/Questionnaire/portal-consent', { token: ada.access_token })).status).toBe(404);
    const metadata = (await app.call('GET', '/fhir/metadata')).body;
    expect(metadata.extension).toEqual([
      { url: 'https://chartkeeper.example/fhir/StructureDefinition/age-policy', valueCode: 'westmed' },
      { url: 'https://chartkeeper.example/fhir/StructureDefinition/portal-consent-required', valueBoolean: false },
    ]);
  });
});

describe('which policy asks for the form', () => {
  it('westchester asks, westmed (the default) does not, and PORTAL_CONSENT_REQUIRED overrides either', () => {
    expect(portalConsentRequired(loadConfig({}))).toBe(false);
    expect(portalConsentRequired(loadConfig({ AGE_POLICY: 'westchester' }))).toBe(true);
    expect(portalConsentRequired(loadConfig({ AGE_POLICY: 'westchester', PORTAL_CONSENT_REQUIRED: 'false' }))).toBe(false);
    expect(portalConsentRequired(loadConfig({ AGE_POLICY: 'westmed', PORTAL_CONSENT_REQUIRED: 'true' }))).toBe(true);
    expect(() => loadConfig({ PORTAL_CONSENT_REQUIRED: 'yes' })).toThrow(ConfigError);
  });
});
