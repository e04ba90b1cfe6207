/**
 * When the mail server refuses, a flow that must reach someone (passcode, invitation, enrollment) answers 503
 * and stores nothing: the secret and the email go together or not at all.
 */
import { createServer } from 'node:net';
import { DEMO_PEOPLE, demoBirthDate } from '../fixtures/demo-family';
import { accountContext } from '../src/auth/account-context';
import { createAccountServices } from '../src/portal/account-services';
import { SmtpMailer } from '../src/mail/smtp-mailer';
import { type AuthTestApp, startAuthTestApp, TEST_NOW } from './auth-test-app';

describe('mail failures', () => {
  let app: AuthTestApp;
  let deadPort: number;
  beforeAll(async () => {
    app = await startAuthTestApp();
    // A port nothing listens on: take one, then free it.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
    deadPort = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });
  afterAll(() => app?.close());

  it('answers 503 and keeps no passcode, invitation or enrollment when the email cannot be sent', async () => {
    const mailer = new SmtpMailer({
      smtpUrl: `smtp://127.0.0.1:${deadPort}`,
      from: 'Chartkeeper <no-reply@chartkeeper.local>',
      clock: app.clock,
    });
    const services = createAccountServices(accountContext({ ...app.services.context, mailer }));
    const cara = DEMO_PEOPLE.cara;
    const request = services.familyAccess.requestAsNewFamilyMember(
      {
        role: 'family-member',
        requester: { firstName: 'Grace', lastName: 'Kim', email: 'grace.kim@example.com', birthDate: '1958-06-01' },
        patient: { lastName: cara.family, birthDate: demoBirthDate(cara, TEST_NOW), mrn: cara.mrn },
      },
      '127.0.0.1',
    );
    await expect(request).rejects.toMatchObject({ status: 503 });
    const ada = await app.services.context.db
      .selectFrom('account')
      .selectAll()
      .where('email', '=', DEMO_PEOPLE.ada.email as string)
      .executeTakeFirstOrThrow();
    await expect(services.invitations.inviteFamily(ada, { email: 'eve@example.com', name: 'Eve', level: 'full' })).rejects.toMatchObject({
      status: 503,
    });
    const patient = await app.system.read('Patient', ada.patient_id as string);
    await expect(services.enrollment.enroll(patient as never, { email: 'ada.other@example.com' })).rejects.toMatchObject({ status: 503 });
    expect(await app.database.db.selectFrom('one_time_secret').select('id').execute()).toEqual([]);
    await mailer.close();
  });
});
