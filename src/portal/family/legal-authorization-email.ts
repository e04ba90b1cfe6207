/**
 * To a personal representative whom staff recorded (legal authorization on file) and who has no portal account
 * yet: a link to create one. Built on the shared email layout, so it carries no health information either.
 */
import { formatInstant, type RenderedEmail, renderEmail } from '../../mail/templates/email-layout';

/** Parameters of the legal authorization email. */
export interface LegalAuthorizationEmailParams {
  readonly organizationName: string;
  readonly patientName: string;
  readonly representativeName: string;
  readonly acceptUrl: string;
  readonly expiresAt: Date;
  readonly timeZone: string;
}

/** The invitation that follows a legal authorization staff recorded (valid 30 days, like every invitation). */
export function legalAuthorizationEmail(params: LegalAuthorizationEmailParams): RenderedEmail {
  return renderEmail({
    organizationName: params.organizationName,
    subject: `Your access to ${params.patientName}’s ${params.organizationName} patient portal account`,
    greeting: `Hello ${params.representativeName},`,
    paragraphs: [
      `${params.organizationName} has recorded your authorization as ${params.patientName}’s personal representative.`,
      'To use the patient portal on their behalf, create your own account with the link below. You will sign in with your own email and password.',
    ],
    action: { label: 'Create your account', url: params.acceptUrl },
    closing: [`The link expires ${formatInstant(params.expiresAt, params.timeZone)}. After that, contact us for a new one.`],
  });
}
