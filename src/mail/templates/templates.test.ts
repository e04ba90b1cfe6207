import { accessChangeNoticeEmail } from './access-change-notice-email';
import { documentReleasedEmail } from './document-released-email';
import { emailChangedEmail } from './email-changed-email';
import { assertWebUrl, escapeHtml, formatCalendarDate, formatInstant, renderEmail } from './email-layout';
import { enrollmentInvitationEmail } from './enrollment-invitation-email';
import { familyAccessPasscodeEmail } from './family-access-passcode-email';
import { familyInvitationEmail } from './family-invitation-email';
import { passwordResetEmail } from './password-reset-email';
import { verificationCodeEmail } from './verification-code-email';

const org = 'Chartkeeper Health';
const zone = 'America/New_York';
const FOOTER = `--\nThis message was sent by ${org}. It contains no health information. Please do not reply to this email.\n`;

describe('layout helpers', () => {
  test('formatInstant in the organization zone, with zone name', () => {
    expect(formatInstant(new Date('2026-11-22T16:30:00Z'), zone)).toBe('Nov 22, 2026, 11:30 AM EST');
    expect(formatInstant(new Date('2026-07-01T16:30:00Z'), zone)).toBe('Jul 1, 2026, 12:30 PM EDT');
    expect(formatInstant(new Date('2026-07-01T16:30:00Z'), 'UTC')).toBe('Jul 1, 2026, 4:30 PM UTC');
  });

  test('formatCalendarDate', () => {
    expect(formatCalendarDate('2026-12-01')).toBe('December 1, 2026');
    expect(formatCalendarDate('2028-02-29')).toBe('February 29, 2028');
    expect(() => formatCalendarDate('2026-12')).toThrow(RangeError);
  });

  test('escapeHtml and assertWebUrl', () => {
    expect(escapeHtml(`<a href="x">Tom & Jerry's</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;');
    expect(assertWebUrl('https://portal.example/x?y=1')).toBe('https://portal.example/x?y=1');
    expect(() => assertWebUrl('javascript:alert(1)')).toThrow('http(s)');
    expect(() => assertWebUrl('/relative')).toThrow('Invalid URL');
  });

  test('renderEmail escapes every parameter in the HTML and keeps the text verbatim', () => {
    const email = renderEmail({
      organizationName: 'A & B <Clinic>',
      subject: 'S',
      paragraphs: ['<script>alert(1)</script>'],
      action: { label: 'Go "now"', url: 'https://x.example/?a=1&b=2' },
    });
    expect(email.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(email.html).not.toContain('<script>');
    expect(email.html).toContain('<a href="https://x.example/?a=1&amp;b=2"');
    expect(email.html).toContain('<h1 style="font-size:18px;margin:0 0 16px">A &amp; B &lt;Clinic&gt;</h1>');
    expect(email.text).toBe(
      '<script>alert(1)</script>\n\nGo "now": https://x.example/?a=1&b=2\n\n--\n' +
        'This message was sent by A & B <Clinic>. It contains no health information. Please do not reply to this email.\n',
    );
    expect(() => renderEmail({ organizationName: 'x', subject: 'a\nb', paragraphs: [] })).toThrow('one line');
  });
});

describe('templates', () => {
  const expiresAt = new Date('2026-11-23T04:30:00Z');

  test('family access passcode (to the patient)', () => {
    const email = familyAccessPasscodeEmail({
      organizationName: org,
      requesterName: 'Dan Reyes',
      passcode: 'K7M2-QX9P',
      expiresAt,
      timeZone: zone,
      familyAccessUrl: 'https://portal.example/family-access',
    });
    expect(email.subject).toBe('Chartkeeper Health: Dan Reyes asked for access to your portal account');
    expect(email.text).toBe(
      'Dan Reyes has asked for family access to your Chartkeeper Health patient portal account.\n\n' +
        'If you agree, give them this temporary passcode. By giving it to them you consent to their access. ' +
        'If you do not know this person or do not agree, do not share it: nobody gets access without it.\n\n' +
        '    K7M2-QX9P\n\n' +
        'The passcode works once and expires Nov 22, 2026, 11:30 PM EST.\n\n' +
        'You can see, change or remove family access at any time: https://portal.example/family-access\n\n' +
        FOOTER,
    );
    expect(email.html).toContain('letter-spacing:4px;font-family:monospace">K7M2-QX9P</p>');
  });

  test('family invitation, both levels', () => {
    const full = familyInvitationEmail({
      organizationName: org,
      inviterName: 'Ada Park',
      inviteeName: 'Dan',
      level: 'full',
      acceptUrl: 'https://portal.example/invite/abc',
      expiresAt,
      timeZone: zone,
    });
    expect(full.subject).toBe('Ada Park invited you to their Chartkeeper Health patient portal account');
    expect(full.text).toBe(
      'Hello Dan,\n\n' +
        'Ada Park has invited you to their Chartkeeper Health patient portal account with full access: their health records, ' +
        'and messages with their providers on their behalf.\n\n' +
        'To accept, sign in or create your own account with the link below. You will use your own email and password.\n\n' +
        'Accept the invitation: https://portal.example/invite/abc\n\n' +
        'The invitation expires Nov 22, 2026, 11:30 PM EST. If you were not expecting it, you can ignore this email.\n\n' +
        FOOTER,
    );
    const billing = familyInvitationEmail({
      organizationName: org,
      inviterName: 'Ada Park',
      level: 'billing',
      acceptUrl: 'https://portal.example/invite/abc',
      expiresAt,
      timeZone: zone,
    });
    expect(billing.text.startsWith('Ada Park has invited you')).toBe(true);
    expect(billing.text).toContain('with billing-only access: statements and payments, no health records.');
  });

  test('enrollment invitation and re-enrollment', () => {
    const first = enrollmentInvitationEmail({
      organizationName: org,
      patientFirstName: 'Ada',
      enrollUrl: 'https://portal.example/enroll/t',
      expiresAt,
      timeZone: zone,
    });
    expect(first.subject).toBe('Your invitation to the Chartkeeper Health patient portal');
    expect(first.text).toContain('Hello Ada,\n\nYou are invited to the Chartkeeper Health patient portal.');
    expect(first.text).toContain('Enroll now: https://portal.example/enroll/t\n\nThis invitation expires Nov 22, 2026, 11:30 PM EST.');
    const again = enrollmentInvitationEmail({
      organizationName: org,
      enrollUrl: 'https://portal.example/enroll/t',
      expiresAt,
      timeZone: zone,
      reenrollment: true,
    });
    expect(again.text).toContain('your earlier ID no longer works, and your portal history is still there.');
    expect(again.text.startsWith('You have been re-enrolled')).toBe(true);
  });

  test('password reset', () => {
    const email = passwordResetEmail({ organizationName: org, resetUrl: 'https://portal.example/reset/t', expiresAt, timeZone: zone });
    expect(email.subject).toBe('Reset your Chartkeeper Health patient portal password');
    expect(email.text).toContain(
      'Reset password: https://portal.example/reset/t\n\nThe link works once and expires Nov 22, 2026, 11:30 PM EST.',
    );
    expect(email.text).toContain('If you did not ask for this, you can ignore this email: your password stays as it is.');
  });

  test('verification code', () => {
    const email = verificationCodeEmail({ organizationName: org, code: '048213', expiresAt, timeZone: zone });
    expect(email.subject).toBe('Your Chartkeeper Health verification code');
    expect(
      email.text.startsWith(
        'Enter this code to verify your identity:\n\n    048213\n\nIt works once and expires Nov 22, 2026, 11:30 PM EST.',
      ),
    ).toBe(true);
  });

  test('access change notice to the patient and to a family member', () => {
    const toPatient = accessChangeNoticeEmail({
      organizationName: org,
      audience: 'patient',
      patientFirstName: 'Cara',
      changeDate: '2029-08-19',
      newGuardianLevel: 'none',
      familyAccessUrl: 'https://portal.example/family-access',
    });
    expect(toPatient.subject).toBe('Family access to your portal account changes on August 19, 2029');
    expect(toPatient.text).toBe(
      'Hello Cara,\n\n' +
        'On August 19, 2029, because of the age rules of the Chartkeeper Health patient portal, family members will no longer have access, ' +
        'unless the patient invites them again from their own account.\n\n' +
        'You can review who has access to your account and at what level in Family access settings.\n\n' +
        'Family access settings: https://portal.example/family-access\n\n' +
        FOOTER,
    );
    const toFamily = accessChangeNoticeEmail({
      organizationName: org,
      audience: 'family-member',
      patientFirstName: 'Ben',
      changeDate: '2030-03-02',
      newGuardianLevel: 'billing',
      familyAccessUrl: 'https://portal.example/family-access',
    });
    expect(toFamily.subject).toBe('Family access to Ben’s portal account changes on March 2, 2030');
    expect(toFamily.text).toContain('family members will see billing only, unless the patient grants them full access.');
    expect(toFamily.text).toContain('Ben can review who has access in Family access settings.');
  });

  test('document released notice names no document', () => {
    const email = documentReleasedEmail({
      organizationName: org,
      patientFirstName: 'Ada',
      documentsUrl: 'https://portal.example/documents',
    });
    expect(email.subject).toBe('A new document is available in your Chartkeeper Health patient portal');
    expect(email.text).toBe(
      'Hello Ada,\n\nYour provider has made a new document available to you. Sign in to the patient portal to read it.\n\n' +
        'View documents: https://portal.example/documents\n\n' +
        FOOTER,
    );
  });

  test('document released notice to a family member names whose record, not the document', () => {
    const email = documentReleasedEmail({
      organizationName: org,
      patientFirstName: 'Ben',
      documentsUrl: 'https://portal.example/documents',
      audience: 'family-member',
    });
    expect(email.text).toBe(
      "A provider has made a new document available in Ben's record. Sign in to the patient portal to read it.\n\n" +
        'View documents: https://portal.example/documents\n\n' +
        FOOTER,
    );
  });

  test('email changed: to the old address, naming neither the new one nor anything clinical', () => {
    const changedAt = new Date('2026-11-23T04:30:00Z');
    const record = emailChangedEmail({ changed: 'record', organizationName: org, patientFirstName: 'Ada', changedAt, timeZone: zone });
    expect(record.subject).toBe('The email address on your Chartkeeper Health record was changed');
    expect(record.text).toBe(
      "On Nov 22, 2026, 11:30 PM EST, the email address on Ada's record at Chartkeeper Health was changed from this address to another one. " +
        "This address will no longer get the portal's emails.\n\n" +
        'If you made this change, there is nothing to do. If you did not, call the practice right away: someone else may be using the account.\n\n' +
        FOOTER,
    );
    const login = emailChangedEmail({ changed: 'login', organizationName: org, changedAt, timeZone: zone });
    expect(login.subject).toBe('The sign-in email of your Chartkeeper Health patient portal account was changed');
    expect(login.text).toContain(
      'the email address that signs in to a patient’s Chartkeeper Health patient portal account was changed from this address to another one. ' +
        "This address will no longer get the portal's emails nor sign in to the account.",
    );
  });
});
