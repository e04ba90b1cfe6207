/**
 * Registration end to end: the patient matching their record, and a family member who is not a patient asking
 * with a passcode that goes to the patient (read back out of the mail a real SMTP server received).
 */
import type { Patient } from '@medplum/fhirtypes';
import { DEMO_PEOPLE, demoBirthDate } from '../fixtures/demo-family';
import {
  type AuthTestApp,
  GOOD_PASSWORD,
  linkIn,
  outcomeText,
  passcodeIn,
  registerThroughLink,
  startAuthTestApp,
  TEST_NOW,
} from './auth-test-app';

const LENA = {
  family: 'Ortiz',
  given: 'Lena',
  birthDate: '1990-04-12',
  email: 'lena.ortiz@example.com',
  postalCode: '98103',
  mrn: 'WFM-200001',
};

describe('registration', () => {
  let app: AuthTestApp;
  let lenaId: string;
  const counts = async () => ({
    accounts: Number(
      (
        await app.database.db
          .selectFrom('account')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    ),
    secrets: Number(
      (
        await app.database.db
          .selectFrom('one_time_secret')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    ),
  });

  beforeAll(async () => {
    app = await startAuthTestApp();
    const { resource } = await app.system.create<Patient>({
      resourceType: 'Patient',
      name: [{ family: LENA.family, given: [LENA.given] }],
      birthDate: LENA.birthDate,
      telecom: [
        { system: 'email', value: LENA.email },
        { system: 'phone', value: '(206) 555-0177' },
      ],
      address: [{ postalCode: LENA.postalCode }],
      identifier: [
        {
          type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] },
          system: 'urn:test:mrn',
          value: LENA.mrn,
        },
      ],
    });
    lenaId = resource.id as string;
  });
  afterAll(() => app?.close());

  describe('as the patient', () => {
    const base = { role: 'patient', lastName: 'ortiz', birthDate: LENA.birthDate, email: 'lena.new@example.com', password: GOOD_PASSWORD };

    it('refuses bad fields with 400 naming the field, and writes nothing', async () => {
      const before = await counts();
      const cases: [object, string][] = [
        [{ ...base, lastName: undefined }, 'lastName'],
        [{ ...base, birthDate: '1990-02-30' }, 'birthDate'],
        [{ ...base, email: 'not-an-email' }, 'email'],
        [{ ...base, pasword: 'x' }, 'pasword'],
        [{ ...base, password: 'short' }, 'password'],
        [{ ...base, password: GOOD_PASSWORD, passwordConfirmation: 'something else entirely' }, 'passwordConfirmation'],
        [{ ...base, email: undefined }, 'email'],
        [{ ...base, birthDate: '2030-01-01' }, 'birthDate'],
      ];
      for (const [json, field] of cases) {
        const res = await app.call('POST', '/auth/register', { json });
        expect([res.status, res.body.resourceType, res.body.issue[0].expression?.[0]]).toEqual([400, 'OperationOutcome', field]);
      }
      expect((await app.call('POST', '/auth/register', { json: { ...base, role: 'someone' } })).status).toBe(400);
      expect(await counts()).toEqual(before);
    });

    it('refuses details that match no record with 404, without saying which was wrong', async () => {
      const res = await app.call('POST', '/auth/register', { json: { ...base, postalCode: '00000' } });
      expect(res.status).toBe(404);
      expect(outcomeText(res.body)).toMatch(/^We could not find a patient record matching these details/);
    });

    it('refuses a child under 13 with the COPPA message', async () => {
      const ben = DEMO_PEOPLE.ben;
      const res = await app.call('POST', '/auth/register', {
        json: { ...base, lastName: ben.family, birthDate: demoBirthDate(ben, TEST_NOW), mrn: ben.mrn, email: 'ben.park@example.com' },
      });
      expect(res.status).toBe(403);
      expect(outcomeText(res.body)).toContain(
        'Children’s Online Privacy Protection Act (COPPA), patients under the age of 13 cannot create their own portal accounts',
      );
    });

    it('item 18: answers alike for an email that already signs in and a new one; the address in use gets a message instead (202)', async () => {
      const before = { ...(await counts()), mails: app.smtp.received.length };
      const known = await app.call('POST', '/auth/register', {
        json: { ...base, email: 'ADA.PARK@example.com', postalCode: LENA.postalCode },
      });
      const unknown = await app.call('POST', '/auth/register', {
        json: { ...base, email: 'lena.other@example.com', postalCode: LENA.postalCode },
      });
      expect([known.status, known.body]).toEqual([202, { message: expect.stringMatching(/^We sent an email to the address you gave/) }]);
      expect([unknown.status, unknown.body]).toEqual([known.status, known.body]);
      const inUse = await app.mailTo('ada.park@example.com', before.mails);
      expect(inUse.message.subject).toBe('Your Chartkeeper patient portal account');
      expect(inUse.message.text).toContain('which already belongs to a portal account. Nothing was created.');
      expect(inUse.message.text).not.toMatch(/token=/);
      const link = await app.mailTo('lena.other@example.com', before.mails);
      expect(link.message.subject).toBe('Finish creating your Chartkeeper patient portal account');
      // Nothing else: no account yet, one registration link (for the new address only), and just these two mails.
      expect(await counts()).toEqual({ accounts: before.accounts, secrets: before.secrets + 1 });
      expect(
        app.smtp.received
          .slice(before.mails)
          .flatMap((m) => m.envelopeTo)
          .sort(),
      ).toEqual(['ada.park@example.com', 'lena.other@example.com']);
      // The details that match no record answer alike too (404), whatever the address.
      const noMatch = (email: string) => app.call('POST', '/auth/register', { json: { ...base, email, postalCode: '00000' } });
      const [a, b] = [await noMatch('ADA.PARK@example.com'), await noMatch('nobody.here@example.com')];
      expect([a.status, outcomeText(a.body)]).toEqual([b.status, outcomeText(b.body)]);
      expect(a.status).toBe(404);
    });

    it('matches on last name + birth date + postal code; the mailed link signs the patient in, and the token reads their record', async () => {
      const { asked, confirmed } = await registerThroughLink(app, {
        ...base,
        postalCode: LENA.postalCode,
        securityQuestion: 'First pet?',
        securityAnswer: 'Rover',
      });
      expect(asked.status).toBe(202);
      expect(confirmed!.status).toBe(201);
      expect(confirmed!.body.account).toEqual({
        id: expect.any(String),
        email: 'lena.new@example.com',
        kind: 'patient',
        displayName: 'Lena Ortiz',
        patientId: lenaId,
        securityOption: 'security-question',
      });
      const read = await app.call('GET', `/fhir/Patient/${lenaId}`, { token: confirmed!.body.access_token });
      expect([read.status, read.body.id]).toEqual([200, lenaId]);
      const other = await app.call('GET', `/fhir/Patient?family=Park`, { token: confirmed!.body.access_token });
      expect(other.body.entry ?? []).toEqual([]);
    });

    it('a registration link works once; the other link of the same patient then finds the patient registered (409)', async () => {
      const patient = (
        await app.system.create<Patient>({
          resourceType: 'Patient',
          name: [{ family: 'Quill', given: ['Rosa'] }],
          birthDate: '1975-03-03',
          address: [{ postalCode: '98107' }],
        })
      ).resource;
      const json = { ...base, lastName: 'Quill', birthDate: '1975-03-03', postalCode: '98107' };
      const before = app.smtp.received.length;
      for (const email of ['rosa.one@example.com', 'rosa.two@example.com'])
        expect((await app.call('POST', '/auth/register', { json: { ...json, email } })).status).toBe(202);
      const tokenFor = async (email: string) => new URL(linkIn(await app.mailTo(email, before))).searchParams.get('token');
      const [one, two] = [await tokenFor('rosa.one@example.com'), await tokenFor('rosa.two@example.com')];
      const first = await app.call('POST', '/auth/register/confirm', { json: { token: one } });
      expect([first.status, first.body.account.patientId]).toEqual([201, patient.id]);
      const again = await app.call('POST', '/auth/register/confirm', { json: { token: one } });
      expect([again.status, outcomeText(again.body)]).toEqual([410, 'This registration link has already been used.']);
      const second = await app.call('POST', '/auth/register/confirm', { json: { token: two } });
      expect([second.status, outcomeText(second.body)]).toEqual([409, expect.stringMatching(/^This patient already has a portal account/)]);
      const unknown = await app.call('POST', '/auth/register/confirm', { json: { token: 'x'.repeat(43) } });
      expect(unknown.status).toBe(404);
    });

    it('refuses a second registration for the same patient (409) and matches by phone or MRN', async () => {
      for (const detail of [{ phone: '206-555-0177' }, { mrn: LENA.mrn.toLowerCase() }]) {
        const res = await app.call('POST', '/auth/register', { json: { ...base, email: 'lena.third@example.com', ...detail } });
        expect([res.status, outcomeText(res.body)]).toEqual([409, expect.stringMatching(/^This patient already has a portal account/)]);
      }
    });
  });

  it('asks for the MRN when twins share last name, birth date and postal code (409), and matches with it', async () => {
    for (const [given, mrn] of [
      ['Ana', 'T-1'],
      ['Eva', 'T-2'],
    ]) {
      await app.system.create<Patient>({
        resourceType: 'Patient',
        name: [{ family: 'Twin', given: [given] }],
        birthDate: '2000-05-05',
        address: [{ postalCode: '98105' }],
        identifier: [
          {
            type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] },
            system: 'urn:test:mrn',
            value: mrn,
          },
        ],
      });
    }
    const json = {
      role: 'patient',
      lastName: 'Twin',
      birthDate: '2000-05-05',
      postalCode: '98105',
      email: 'eva.twin@example.com',
      password: GOOD_PASSWORD,
    };
    const both = await app.call('POST', '/auth/register', { json });
    expect([both.status, outcomeText(both.body)]).toEqual([
      409,
      expect.stringMatching(/^More than one patient record matches these details/),
    ]);
    const { confirmed: eva } = await registerThroughLink(app, { ...json, postalCode: undefined, mrn: 'T-2' });
    expect([eva?.status, eva?.body.account.displayName]).toEqual([201, 'Eva Twin']);
  });

  describe('as a family member who is not a patient', () => {
    const grace = { firstName: 'Grace', lastName: 'Kim', email: 'grace.kim@example.com', birthDate: '1958-06-01', relationship: 'GRPRN' };
    const cara = DEMO_PEOPLE.cara;
    const caraIdentity = { lastName: cara.family, birthDate: demoBirthDate(cara, TEST_NOW), mrn: cara.mrn };

    it('sends the passcode to the patient (never to the requester); a wrong passcode counts, the right one creates the account', async () => {
      const mailsBefore = app.smtp.received.length;
      const asked = await app.call('POST', '/auth/register', { json: { role: 'family-member', requester: grace, patient: caraIdentity } });
      expect(asked.status).toBe(202);
      expect(asked.body).toEqual({
        requestId: expect.any(String),
        expiresAt: '2026-11-23T18:00:00.000Z',
        message: expect.stringContaining('(not to you)'),
      });
      const mail = await app.mailTo(cara.email as string, mailsBefore);
      expect(mail.message.subject).toBe('Westside Family Medicine: Grace Kim asked for access to your portal account');
      expect(app.smtp.received.slice(mailsBefore).flatMap((m) => m.envelopeTo)).toEqual([cara.email]);
      const passcode = passcodeIn(mail);

      const wrong = await app.call('POST', '/auth/passcode/redeem', {
        json: { requestId: asked.body.requestId, passcode: 'AAAA-AAAA', password: GOOD_PASSWORD },
      });
      expect([wrong.status, outcomeText(wrong.body)]).toEqual([401, 'The passcode is not correct. 4 tries left.']);

      const redeemed = await app.call('POST', '/auth/passcode/redeem', {
        json: { requestId: asked.body.requestId, passcode: passcode.toLowerCase().replace('-', ' '), password: GOOD_PASSWORD },
      });
      expect(redeemed.status).toBe(201);
      expect(redeemed.body.account).toMatchObject({ email: grace.email, kind: 'family', displayName: 'Grace Kim' });
      // Cara (15) received it at her own login: her consent, a teen's own grant, so full access.
      const consent = await app.system.read('Consent', redeemed.body.consentId);
      expect((consent as any).extension).toEqual([
        { url: 'https://chartkeeper.dev/fhir/StructureDefinition/access-level', valueCode: 'full' },
        { url: 'https://chartkeeper.dev/fhir/StructureDefinition/granted-by', valueCode: 'patient' },
      ]);
      const read = await app.call('GET', `/fhir/Patient/${redeemed.body.patientId}`, { token: redeemed.body.access_token });
      expect([read.status, read.body.name[0].given[0]]).toEqual([200, 'Cara']);

      const again = await app.call('POST', '/auth/passcode/redeem', {
        json: { requestId: asked.body.requestId, passcode, password: GOOD_PASSWORD },
      });
      expect([again.status, outcomeText(again.body)]).toEqual([410, 'This passcode has already been used.']);
    });

    it('sends a child’s passcode to the email on the record (the parent’s): the grant is the guardian’s', async () => {
      const ben = DEMO_PEOPLE.ben;
      const mailsBefore = app.smtp.received.length;
      const tom = { firstName: 'Tom', lastName: 'Park', email: 'tom.park@example.com', birthDate: '1980-01-20', relationship: 'FTH' };
      const asked = await app.call('POST', '/auth/register', {
        json: {
          role: 'family-member',
          requester: tom,
          patient: { lastName: 'Park', birthDate: demoBirthDate(ben, TEST_NOW), mrn: ben.mrn },
        },
      });
      expect(asked.status).toBe(202);
      const mail = await app.mailTo(DEMO_PEOPLE.ada.email as string, mailsBefore);
      const redeemed = await app.call('POST', '/auth/passcode/redeem', {
        json: { requestId: asked.body.requestId, passcode: passcodeIn(mail), password: GOOD_PASSWORD },
      });
      expect(redeemed.status).toBe(201);
      const consent = (await app.system.read('Consent', redeemed.body.consentId)) as any;
      expect(consent.extension[1].valueCode).toBe('guardian');
      expect(consent.performer[0].reference).toMatch(/^RelatedPerson\//); // Ada, mother of Ben
    });

    it('locks a request after 5 wrong passcodes, and a passcode expires after 24 hours', async () => {
      const ask = async (email: string) =>
        (
          await app.call('POST', '/auth/register', {
            json: { role: 'family-member', requester: { ...grace, email }, patient: caraIdentity },
          })
        ).body.requestId;
      const locked = await ask('sam1@example.com');
      for (let i = 4; i >= 0; i--) {
        const res = await app.call('POST', '/auth/passcode/redeem', {
          json: { requestId: locked, passcode: 'BBBB-BBBB', password: GOOD_PASSWORD },
        });
        expect(res.status).toBe(401);
      }
      const after = await app.call('POST', '/auth/passcode/redeem', {
        json: { requestId: locked, passcode: 'BBBB-BBBB', password: GOOD_PASSWORD },
      });
      expect([after.status, outcomeText(after.body)]).toEqual([410, 'This passcode is locked after 5 wrong tries.']);

      const mailsBefore = app.smtp.received.length;
      const expiring = await ask('sam2@example.com');
      const passcode = passcodeIn(await app.mailTo(cara.email as string, mailsBefore));
      app.clock.advance(24 * 60 * 60 * 1000);
      const late = await app.call('POST', '/auth/passcode/redeem', { json: { requestId: expiring, passcode, password: GOOD_PASSWORD } });
      expect([late.status, outcomeText(late.body)]).toEqual([410, 'This passcode has expired.']);
      expect(
        await app.services.context.db
          .selectFrom('account')
          .select('id')
          .where('email', 'in', ['sam1@example.com', 'sam2@example.com'])
          .execute(),
      ).toEqual([]);
    });

    it('never sends an adult’s passcode to a contact’s email: only the adult can consent (409, no mail)', async () => {
      await app.system.create<Patient>({
        resourceType: 'Patient',
        name: [{ family: 'Moss', given: ['Gus'] }],
        birthDate: '1950-02-02',
        address: [{ postalCode: '98122' }],
        contact: [{ name: { family: 'Moss', given: ['Mallory'] }, telecom: [{ system: 'email', value: 'mallory.moss@example.com' }] }],
      });
      const mailsBefore = app.smtp.received.length;
      const asked = await app.call('POST', '/auth/register', {
        json: {
          role: 'family-member',
          requester: { ...grace, email: 'mal.other@example.com' },
          patient: { lastName: 'Moss', birthDate: '1950-02-02', postalCode: '98122' },
          level: 'full',
        },
      });
      expect([asked.status, outcomeText(asked.body)]).toEqual([409, expect.stringContaining('no email address on file')]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(app.smtp.received.slice(mailsBefore).flatMap((m) => m.envelopeTo)).not.toContain('mallory.moss@example.com');
    });

    it('refuses when the email on file is the requester’s own (409), and a requester under 13 (403)', async () => {
      await app.system.create<Patient>({
        resourceType: 'Patient',
        name: [{ family: 'Ortiz', given: ['Max'] }],
        birthDate: '1962-09-30',
        telecom: [{ system: 'email', value: 'max.ortiz@example.com' }],
      });
      const max = { lastName: 'Ortiz', birthDate: '1962-09-30', email: 'max.ortiz@example.com' };
      const own = await app.call('POST', '/auth/register', {
        json: { role: 'family-member', requester: { ...grace, email: 'max.ortiz@example.com' }, patient: max },
      });
      expect([own.status, outcomeText(own.body)]).toEqual([
        409,
        expect.stringContaining('the passcode must go to the patient, not to you'),
      ]);
      const young = await app.call('POST', '/auth/register', {
        json: { role: 'family-member', requester: { ...grace, email: 'kid@example.com', birthDate: '2016-01-01' }, patient: caraIdentity },
      });
      expect([young.status, young.body.issue[0].expression]).toEqual([403, ['requester.birthDate']]);
    });

    it('item 18: answers alike for a requester whose email has an account; that address gets a message, the patient no passcode (202)', async () => {
      const identity = { lastName: 'Park', birthDate: demoBirthDate(DEMO_PEOPLE.ada, TEST_NOW), mrn: DEMO_PEOPLE.ada.mrn };
      const before = { ...(await counts()), mails: app.smtp.received.length };
      const known = await app.call('POST', '/auth/register', {
        json: { role: 'family-member', requester: { ...grace, email: 'dan.reyes@example.com' }, patient: identity },
      });
      const unknown = await app.call('POST', '/auth/register', {
        json: { role: 'family-member', requester: { ...grace, email: 'grace.other@example.com' }, patient: identity },
      });
      const shape = (res: { status: number; body: any }) => [
        res.status,
        Object.keys(res.body).sort(),
        res.body.expiresAt,
        res.body.message,
      ];
      expect(shape(known)).toEqual(shape(unknown));
      expect(known.status).toBe(202);
      const inUse = await app.mailTo('dan.reyes@example.com', before.mails);
      expect(inUse.message.text).toContain('sign in with this address and ask for family access from inside your account');
      await app.mailTo(DEMO_PEOPLE.ada.email as string, before.mails);
      // Ada got one passcode (the new address's request); the known address's request is one nobody can redeem.
      expect(
        app.smtp.received
          .slice(before.mails)
          .flatMap((m) => m.envelopeTo)
          .sort(),
      ).toEqual(['ada.park@example.com', 'dan.reyes@example.com']);
      const wrong = await app.call('POST', '/auth/passcode/redeem', {
        json: { requestId: known.body.requestId, passcode: 'AAAA-AAAA', password: GOOD_PASSWORD },
      });
      expect([wrong.status, outcomeText(wrong.body)]).toEqual([401, 'The passcode is not correct. 4 tries left.']);
      expect(await counts()).toEqual({ accounts: before.accounts, secrets: before.secrets + 2 });
    });
  });
});
