/** To an account holder who asked to reset their password (or whom staff sent a reset). */
import { formatInstant, type RenderedEmail, renderEmail } from './email-layout';

/** Parameters of the password reset email. */
export interface PasswordResetEmailParams {
  readonly organizationName: string;
  readonly resetUrl: string;
  readonly expiresAt: Date;
  readonly timeZone: string;
}

/** The single-use, short-lived reset link. Sent only when the address has an account; the page answers the same either way. */
export function passwordResetEmail(params: PasswordResetEmailParams): RenderedEmail {
  return renderEmail({
    organizationName: params.organizationName,
    subject: `Reset your ${params.organizationName} patient portal password`,
    paragraphs: [
      'We received a request to reset the password of your patient portal account. Use the link below to choose a new password.',
    ],
    action: { label: 'Reset password', url: params.resetUrl },
    closing: [
      `The link works once and expires ${formatInstant(params.expiresAt, params.timeZone)}. ` +
        'After setting the password you will verify your identity with the security option you chose.',
      'If you did not ask for this, you can ignore this email: your password stays as it is.',
    ],
  });
}
