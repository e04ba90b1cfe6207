/** To a patient who registered for the portal: the link that finishes creating the account. */
import { formatInstant, type RenderedEmail, renderEmail } from './email-layout';

/** Parameters of the registration link email. */
export interface RegistrationLinkEmailParams {
  readonly organizationName: string;
  readonly confirmUrl: string;
  readonly expiresAt: Date;
  readonly timeZone: string;
}

/**
 * The single-use link that creates the account registered with this address. Registration answers the same whether
 * or not an address has an account; following this link is how the address proves it is the registrant's.
 */
export function registrationLinkEmail(params: RegistrationLinkEmailParams): RenderedEmail {
  return renderEmail({
    organizationName: params.organizationName,
    subject: `Finish creating your ${params.organizationName} patient portal account`,
    paragraphs: ['We received a request to create a patient portal account with this email address. Use the link below to finish.'],
    action: { label: 'Create my account', url: params.confirmUrl },
    closing: [
      `The link works once and expires ${formatInstant(params.expiresAt, params.timeZone)}.`,
      'If you did not ask for this, you can ignore this email: no account is created.',
    ],
  });
}
