/**
 * Staff flows and password reset, end to end over loopback SMTP: enrollment (and re-enrollment over the same
 * account), legal authorization of a personal representative, staff reset tokens, and "forgot password" with
 * the single-use link, the password entered twice and the identity check (emailed code or security question).
 */
import type { Consent, Patient } from '@medplum/fhirtypes';
import { DEMO_PASSWORD, DEMO_PEOPLE } from '../fixtures/demo-family';
import { portalNoticeJob } from '../src/jobs/portal-notice-job';
import { FORGOT_PASSWORD_ANSWER } from '../src/auth/password-reset-service';
import { type AuthTestApp, codeIn, GOOD_PASSWORD, linkIn, outcomeText, parameter, parameters, startAuthTestApp } from './auth-test-app';
import { signInNewStaff } from './support/staff-accounts';
import { appJobDeps } from './support/app-job-deps';

const NEW_PASSWORD = 'purple elephants dance at noon';

describe('staff flows and password reset', () => {
  let app: AuthTestApp;
  let maya: any;
  let noah: Patient;
  beforeAll(async () => {
    app = await startAuthTestApp();
    maya = await app.login(DEMO_PEOPLE.mayaChen.email as string, DEMO_PASSWORD);
    const ada = await app.system.read<Patient>(
      'Patient',
      (await app.login(DEMO_PEOPLE.ada.email as string, DEMO_PASSWORD)).account.patientId,
    );
    noah = (
      await app.system.create<Patient>({
        resourceType: 'Patient',
        name: [{ family: 'Adams', given: ['Noah'] }],
        birthDate: '1941-07-07',
        telecom: [{ system: 'email', value: 'noah.adams@example.com' }],
        managingOrganization: ada.managingOrganization,
      })
    ).resource;
  });
  afterAll(() => app?.close());

  const staffOp = (op: string, patientId: string, values: Record<string, string> = {}, token = maya.access_token) =>
    app.call('POST', `/fhir/Patient/${patientId}/$${op}`, { token, json: parameters(values) });

  it('enrolls a patient by email (30 days); accepting sets the login', async () => {
    const before = app.smtp.received.length;
    const res = await staffOp('enroll', noah.id as string);
    expect(res.status).toBe(201);
    expect([parameter(res.body, 'email'), parameter(res.body, 'expiresAt'), parameter(res.body, 'reenrollment')]).toEqual([
      'noah.adams@example.com',
      '2026-12-22T18:00:00.000Z',
      false,
    ]);
    const mail = await app.mailTo('noah.adams@example.com', before);
    expect(mail.message.subject).toBe('Your invitation to the Westside Family Medicine patient portal');
    const token = new URL(linkIn(mail)).searchParams.get('token') as string;
    expect((await app.call('POST', '/auth/enrollment/accept', { json: { token, password: GOOD_PASSWORD } })).status).toBe(400); // entered once
    const accepted = await app.call('POST', '/auth/enrollment/accept', {
      json: { token, password: GOOD_PASSWORD, passwordConfirmation: GOOD_PASSWORD },
    });
    expect(accepted.status).toBe(201);
    expect(accepted.body.account).toMatchObject({ email: 'noah.adams@example.com', kind: 'patient', patientId: noah.id });
    expect((await app.login('noah.adams@example.com', GOOD_PASSWORD)).account.id).toBe(accepted.body.account.id);
  });

  it('re-enrolls over the same account: new login, old one refused, history and grants kept', async () => {
    const ada = await app.login(DEMO_PEOPLE.ada.email as string, DEMO_PASSWORD);
    const before = app.smtp.received.length;
    const res = await staffOp('enroll', ada.account.patientId, { email: 'ada.new@example.com' });
    expect([res.status, parameter(res.body, 'reenrollment')]).toEqual([201, true]);
    const mail = await app.mailTo('ada.new@example.com', before);
    expect(mail.message.text).toContain('your earlier ID no longer works, and your portal history is still there');
    const token = new URL(linkIn(mail)).searchParams.get('token') as string;
    const accepted = await app.call('POST', '/auth/enrollment/accept', {
      json: { token, password: NEW_PASSWORD, passwordConfirmation: NEW_PASSWORD },
    });
    expect([accepted.status, accepted.body.account.id, accepted.body.account.email]).toEqual([201, ada.account.id, 'ada.new@example.com']);
    // The address the account signed in with until now is told (the portal-notice job), and only it.
    const told = await portalNoticeJob(appJobDeps(app));
    expect(told?.map((n) => [n.to, n.audience, n.kind])).toEqual([[DEMO_PEOPLE.ada.email, 'former-address', 'email-changed']]);
    const notice = await app.mailTo(DEMO_PEOPLE.ada.email as string, before);
    expect(notice.message.subject).toBe('The sign-in email of your Westside Family Medicine patient portal account was changed');
    expect(notice.message.text).toContain('nor sign in to the account');
    expect(notice.message.text).not.toContain('ada.new@example.com');
    expect((await app.call('POST', '/auth/login', { json: { email: DEMO_PEOPLE.ada.email, password: DEMO_PASSWORD } })).status).toBe(401);
    expect((await app.call('POST', '/auth/refresh', { json: { refresh_token: ada.refresh_token } })).status).toBe(401);
    // Ben's grant belongs to the account, so it is still there.
    const benSearch = await app.call('GET', '/fhir/Patient?family=Park', { token: accepted.body.access_token });
    expect(benSearch.body.entry.map((e: any) => e.resource.name[0].given[0]).sort()).toEqual(['Ada', 'Ben', 'Cara']);
  });

  it('refuses enrollment of a child under 13, to an email another account uses, and to non-staff', async () => {
    const ben = (
      await app.system.searchResources<Patient>('Patient', { identifier: `urn:oid:2.16.840.1.113883.3.9999.1|${DEMO_PEOPLE.ben.mrn}` })
    )[0];
    const child = await staffOp('enroll', ben.id as string, { email: 'ben@example.com' });
    expect([child.status, outcomeText(child.body)]).toEqual([403, expect.stringContaining('(COPPA)')]);
    const taken = await staffOp('enroll', noah.id as string, { email: DEMO_PEOPLE.cara.email as string });
    expect(taken.status).toBe(409);
    const cara = await app.login(DEMO_PEOPLE.cara.email as string, DEMO_PASSWORD);
    expect((await staffOp('enroll', cara.account.patientId, {}, cara.access_token)).status).toBe(403);
  });

  it('keeps staff of another organization away from these patients (404, as if absent)', async () => {
    const other = await signInNewStaff(app, {
      email: 'front.desk@elsewhere.example',
      displayName: 'Front Desk',
      organizationId: 'other-organization',
    });
    for (const op of ['enroll', 'legal-authorization', 'reset-token']) {
      const res = await staffOp(
        op,
        noah.id as string,
        op === 'legal-authorization' ? { email: 'x@example.com', name: 'X' } : {},
        other.access_token,
      );
      expect([op, res.status]).toEqual([op, 404]);
    }
  });

  it('records a legal authorization: invitation for a new representative, a grant at once for an account', async () => {
    const before = app.smtp.received.length;
    const res = await staffOp('legal-authorization', noah.id as string, { email: 'ruth.adams@example.com', name: 'Ruth Adams' });
    expect(res.status).toBe(201);
    const mail = await app.mailTo('ruth.adams@example.com', before);
    expect(mail.message.text).toContain('has recorded your authorization as Noah Adams’s personal representative');
    const token = new URL(linkIn(mail)).searchParams.get('token') as string;
    const accepted = await app.call('POST', '/auth/invitations/accept', {
      json: { token, birthDate: '1970-10-10', password: GOOD_PASSWORD },
    });
    expect(accepted.status).toBe(201);
    const consent = await app.system.read<Consent>('Consent', accepted.body.consentId);
    expect([consent.extension?.[1].valueCode, consent.performer?.[0].reference]).toEqual([
      'staff-legal-authorization',
      `Practitioner/${maya.account.practitionerId}`,
    ]);
    expect((await app.call('GET', `/fhir/Patient/${noah.id}`, { token: accepted.body.access_token })).status).toBe(200);
    const direct = await staffOp('legal-authorization', noah.id as string, {
      email: DEMO_PEOPLE.dan.email as string,
      name: 'Dan Reyes',
      level: 'billing',
    });
    expect(direct.status).toBe(201);
    expect(parameter(direct.body, 'consent')).toMatch(/^Consent\//);
    expect(parameter(direct.body, 'invitationId')).toBeUndefined();
  });

  it('issues a staff reset token the patient uses with their email (5 tries, single use)', async () => {
    const res = await staffOp('reset-token', noah.id as string);
    expect(res.status).toBe(201);
    const resetToken = parameter(res.body, 'resetToken');
    expect(resetToken).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}$/);
    const bad = await app.call('POST', '/auth/password/reset', {
      json: { email: 'noah.adams@example.com', resetToken: 'AAAA-AAAA', password: NEW_PASSWORD, passwordConfirmation: NEW_PASSWORD },
    });
    expect([bad.status, outcomeText(bad.body)]).toEqual([401, 'The reset token is not correct. 4 tries left.']);
    const ok = await app.call('POST', '/auth/password/reset', {
      json: {
        email: 'noah.adams@example.com',
        resetToken: resetToken.toLowerCase(),
        password: NEW_PASSWORD,
        passwordConfirmation: NEW_PASSWORD,
      },
    });
    expect(ok.status).toBe(200);
    expect((await app.login('noah.adams@example.com', NEW_PASSWORD)).account.patientId).toBe(noah.id);
    const again = await app.call('POST', '/auth/password/reset', {
      json: { email: 'noah.adams@example.com', resetToken, password: GOOD_PASSWORD, passwordConfirmation: GOOD_PASSWORD },
    });
    expect(again.status).toBe(401);
  });

  it('answers "forgot password" the same whether or not the email has an account; mails only the account', async () => {
    const before = app.smtp.received.length;
    const known = await app.call('POST', '/auth/password/forgot', { json: { email: 'Noah.Adams@example.com' } });
    const unknown = await app.call('POST', '/auth/password/forgot', { json: { email: 'nobody.here@example.com' } });
    expect([known.status, known.body]).toEqual([202, { message: FORGOT_PASSWORD_ANSWER }]);
    expect([unknown.status, unknown.body]).toEqual([known.status, known.body]);
    await app.mailTo('noah.adams@example.com', before);
    await new Promise((r) => setTimeout(r, 200));
    expect(app.smtp.received.slice(before).map((m) => m.envelopeTo)).toEqual([['noah.adams@example.com']]);
  });

  it('mails the reset link even when the client leaves before the answer', async () => {
    const before = app.smtp.received.length;
    // The answer waits for its 250 ms floor; the client gives up well before it.
    const leaving = new AbortController();
    const request = fetch(`${app.url}/auth/password/forgot`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'noah.adams@example.com' }),
      signal: leaving.signal,
    });
    setTimeout(() => leaving.abort(), 50);
    await expect(request).rejects.toThrow();
    const mail = await app.mailTo('noah.adams@example.com', before);
    expect(mail.message.subject).toMatch(/password/i);
  });

  it('takes the same time for "forgot password" with and without an account (a 250 ms floor)', async () => {
    const time = async (email: string) => {
      const started = performance.now();
      const res = await app.call('POST', '/auth/password/forgot', { json: { email } });
      expect(res.status).toBe(202);
      return performance.now() - started;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    // Nine rounds, the order alternating, so a busy machine's slow spell falls on both sides alike.
    for (let i = 0; i < 9; i++) {
      if (i % 2) unknown.push(await time(`nobody.${i}@example.com`));
      known.push(await time('noah.adams@example.com'));
      if (!(i % 2)) unknown.push(await time(`nobody.${i}@example.com`));
    }
    const median = (values: number[]) => values.sort((a, b) => a - b)[4];
    expect(Math.min(...known, ...unknown)).toBeGreaterThanOrEqual(249);
    expect(Math.abs(median(known) - median(unknown))).toBeLessThan(25);
  });

  it('resets by link: password twice, then the emailed code; the link works once and expires in 30 minutes', async () => {
    const before = app.smtp.received.length;
    await app.call('POST', '/auth/password/forgot', { json: { email: 'noah.adams@example.com' } });
    const link = new URL(linkIn(await app.mailTo('noah.adams@example.com', before)));
    const token = link.searchParams.get('token') as string;
    expect((await app.call('GET', `${link.pathname}${link.search}`)).body.expiresAt).toBe('2026-11-22T18:30:00.000Z');
    const mismatch = await app.call('POST', '/auth/password/reset', {
      json: { token, password: GOOD_PASSWORD, passwordConfirmation: `${GOOD_PASSWORD}!` },
    });
    expect([mismatch.status, outcomeText(mismatch.body)]).toEqual([400, 'The two passwords do not match']);
    const weak = await app.call('POST', '/auth/password/reset', {
      json: { token, password: 'password123', passwordConfirmation: 'password123' },
    });
    expect([weak.status, weak.body.issue.length]).toEqual([400, 2]);
    const mailsBefore = app.smtp.received.length;
    const challenge = await app.call('POST', '/auth/password/reset', {
      json: { token, password: GOOD_PASSWORD, passwordConfirmation: GOOD_PASSWORD },
    });
    expect(challenge.body).toEqual({ verificationToken: expect.any(String), method: 'email-code', expiresAt: '2026-11-22T18:10:00.000Z' });
    const code = codeIn(await app.mailTo('noah.adams@example.com', mailsBefore));
    // Not changed yet: the identity check comes first.
    expect((await app.call('POST', '/auth/login', { json: { email: 'noah.adams@example.com', password: GOOD_PASSWORD } })).status).toBe(
      401,
    );
    const wrongCode = code === '000000' ? '111111' : '000000';
    const wrong = await app.call('POST', '/auth/password/verify', {
      json: { verificationToken: challenge.body.verificationToken, code: wrongCode },
    });
    expect([wrong.status, outcomeText(wrong.body)]).toEqual([401, 'The verification code is not correct. 4 tries left.']);
    const verified = await app.call('POST', '/auth/password/verify', {
      json: { verificationToken: challenge.body.verificationToken, code },
    });
    expect([verified.status, verified.body.account.email]).toEqual([200, 'noah.adams@example.com']);
    expect((await app.call('POST', '/auth/login', { json: { email: 'noah.adams@example.com', password: NEW_PASSWORD } })).status).toBe(401);
    expect((await app.login('noah.adams@example.com', GOOD_PASSWORD)).account.patientId).toBe(noah.id);
    const reused = await app.call('POST', '/auth/password/reset', {
      json: { token, password: NEW_PASSWORD, passwordConfirmation: NEW_PASSWORD },
    });
    expect([reused.status, outcomeText(reused.body)]).toEqual([410, 'This reset link has already been used.']);

    const before2 = app.smtp.received.length;
    await app.call('POST', '/auth/password/forgot', { json: { email: 'noah.adams@example.com' } });
    const late = new URL(linkIn(await app.mailTo('noah.adams@example.com', before2))).searchParams.get('token') as string;
    app.clock.advance(30 * 60 * 1000);
    const expired = await app.call('POST', '/auth/password/reset', {
      json: { token: late, password: NEW_PASSWORD, passwordConfirmation: NEW_PASSWORD },
    });
    expect([expired.status, outcomeText(expired.body)]).toEqual([410, 'This reset link has expired.']);
  });

  it('verifies with the security question when the account has one (answer stored hashed)', async () => {
    const session = await app.login('noah.adams@example.com', GOOD_PASSWORD);
    const set = await app.call('POST', '/auth/security-option', {
      token: session.access_token,
      json: { currentPassword: GOOD_PASSWORD, securityQuestion: 'Street you grew up on?', securityAnswer: 'Elm Street' },
    });
    expect(set.status).toBe(204);
    const stored = await app.database.db
      .selectFrom('account')
      .select('security_answer_hash')
      .where('email', '=', 'noah.adams@example.com')
      .executeTakeFirstOrThrow();
    expect(stored.security_answer_hash).toMatch(/^\$scrypt\$/);
    const before = app.smtp.received.length;
    await app.call('POST', '/auth/password/forgot', { json: { email: 'noah.adams@example.com' } });
    const token = new URL(linkIn(await app.mailTo('noah.adams@example.com', before))).searchParams.get('token') as string;
    const challenge = await app.call('POST', '/auth/password/reset', {
      json: { token, password: NEW_PASSWORD, passwordConfirmation: NEW_PASSWORD },
    });
    expect(challenge.body).toMatchObject({ method: 'security-question', securityQuestion: 'Street you grew up on?' });
    const wrong = await app.call('POST', '/auth/password/verify', {
      json: { verificationToken: challenge.body.verificationToken, answer: 'Oak Street' },
    });
    expect(wrong.status).toBe(401);
    const ok = await app.call('POST', '/auth/password/verify', {
      json: { verificationToken: challenge.body.verificationToken, answer: '  elm   STREET ' },
    });
    expect(ok.status).toBe(200);
    expect((await app.login('noah.adams@example.com', NEW_PASSWORD)).account.patientId).toBe(noah.id);
    // Every earlier session ended with the reset.
    expect((await app.call('POST', '/auth/refresh', { json: { refresh_token: session.refresh_token } })).status).toBe(401);
  });
});
