/** To a family member the patient invited. */
import type { GrantLevel } from '../../access/access-level';
import { formatInstant, type RenderedEmail, renderEmail } from './email-layout';

/** Parameters of the family invitation email. */
export interface FamilyInvitationEmailParams {
  readonly organizationName: string;
  /** The patient who invites (the account owner). */
  readonly inviterName: string;
  readonly inviteeName?: string;
  readonly level: GrantLevel;
  readonly acceptUrl: string;
  readonly expiresAt: Date;
  readonly timeZone: string;
}

const LEVEL_WORDS: Record<GrantLevel, string> = {
  full: 'full access: their health records, and messages with their providers on their behalf',
  billing: 'billing-only access: statements and payments, no health records',
  'billing+appointments': 'access to appointments and bill pay: appointment times, statements and payments, no health records',
};

/** The invitation to family access, valid until `expiresAt` (30 days by default). */
export function familyInvitationEmail(params: FamilyInvitationEmailParams): RenderedEmail {
  return renderEmail({
    organizationName: params.organizationName,
    subject: `${params.inviterName} invited you to their ${params.organizationName} patient portal account`,
    greeting: params.inviteeName ? `Hello ${params.inviteeName},` : undefined,
    paragraphs: [
      `${params.inviterName} has invited you to their ${params.organizationName} patient portal account with ${LEVEL_WORDS[params.level]}.`,
      'To accept, sign in or create your own account with the link below. You will use your own email and password.',
    ],
    action: { label: 'Accept the invitation', url: params.acceptUrl },
    closing: [
      `The invitation expires ${formatInstant(params.expiresAt, params.timeZone)}. If you were not expecting it, you can ignore this email.`,
    ],
  });
}
