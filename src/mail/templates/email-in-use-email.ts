/** To an address that already signs in to an account, when someone registers or asks for access with it. */
import { type RenderedEmail, renderEmail } from './email-layout';

/** Parameters of the "this address already has an account" email. */
export interface EmailInUseEmailParams {
  readonly organizationName: string;
  /** What was asked with the address: a patient's own account, or access as a family member. */
  readonly asked: 'patient-account' | 'family-access';
  readonly signInUrl: string;
}

/**
 * Registration answers alike whether or not an address has an account (so it cannot be used to find out which
 * addresses do); the address that has one learns here why nothing was created, and what to do instead.
 */
export function emailInUseEmail(params: EmailInUseEmailParams): RenderedEmail {
  const instead =
    params.asked === 'patient-account'
      ? 'If it was you, sign in with this address (or use "Forgot password"). Each person needs their own email address; to use one address for two people, add the other as a family member from inside your account.'
      : 'If it was you, sign in with this address and ask for family access from inside your account.';
  return renderEmail({
    organizationName: params.organizationName,
    subject: `Your ${params.organizationName} patient portal account`,
    paragraphs: [
      `Someone asked to ${params.asked === 'patient-account' ? 'create a new patient portal account' : 'get family access to a patient portal account'} with this email address, which already belongs to a portal account. Nothing was created.`,
      instead,
    ],
    action: { label: 'Sign in', url: params.signInUrl },
    closing: ['If it was not you, you can ignore this email: your account is unchanged.'],
  });
}
