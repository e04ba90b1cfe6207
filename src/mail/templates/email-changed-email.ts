/**
 * A security notice to the address that was on file, when it is replaced: the email on the patient's record (their
 * contact details), or the one their portal account signs in with (a re-enrollment that gives the account a new
 * login). It goes to the old address because that is where the owner still reads mail if someone else made the
 * change. It names neither the new address nor anything clinical.
 */
import { type RenderedEmail, formatInstant, renderEmail } from './email-layout';

/** Parameters of the "your email address was changed" notice. */
export interface EmailChangedEmailParams {
  /** `record`: an email of the patient's contact details; `login`: the email the portal account signs in with. */
  readonly changed: 'record' | 'login';
  readonly organizationName: string;
  readonly patientFirstName?: string;
  readonly changedAt: Date;
  readonly timeZone: string;
}

/** The notice email. */
export function emailChangedEmail(params: EmailChangedEmailParams): RenderedEmail {
  const when = formatInstant(params.changedAt, params.timeZone);
  const whose = params.patientFirstName ? `${params.patientFirstName}'s` : 'a patient’s';
  const what =
    params.changed === 'login'
      ? `the email address that signs in to ${whose} ${params.organizationName} patient portal account`
      : `the email address on ${whose} record at ${params.organizationName}`;
  return renderEmail({
    organizationName: params.organizationName,
    subject:
      params.changed === 'login'
        ? `The sign-in email of your ${params.organizationName} patient portal account was changed`
        : `The email address on your ${params.organizationName} record was changed`,
    paragraphs: [
      `On ${when}, ${what} was changed from this address to another one. This address will no longer get the portal's emails${params.changed === 'login' ? ' nor sign in to the account' : ''}.`,
      'If you made this change, there is nothing to do. If you did not, call the practice right away: someone else may be using the account.',
    ],
  });
}
