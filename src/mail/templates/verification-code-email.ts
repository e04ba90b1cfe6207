/** A one-time code that proves the person at the keyboard reads this mailbox. */
import { formatInstant, type RenderedEmail, renderEmail } from './email-layout';

/** Parameters of the verification code email. */
export interface VerificationCodeEmailParams {
  readonly organizationName: string;
  readonly code: string;
  readonly expiresAt: Date;
  readonly timeZone: string;
}

/** The one-time verification code (identity check after a password reset, or sign-in verification). */
export function verificationCodeEmail(params: VerificationCodeEmailParams): RenderedEmail {
  return renderEmail({
    organizationName: params.organizationName,
    subject: `Your ${params.organizationName} verification code`,
    paragraphs: ['Enter this code to verify your identity:'],
    code: params.code,
    closing: [
      `It works once and expires ${formatInstant(params.expiresAt, params.timeZone)}. Our staff will never ask you for it.`,
      'If you did not try to sign in or reset your password, someone may know your password: change it.',
    ],
  });
}
