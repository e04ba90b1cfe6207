/** To a patient whom staff enrolled: the link to set up (or re-establish) their own portal login. */
import { formatInstant, type RenderedEmail, renderEmail } from './email-layout';

/** Parameters of the enrollment invitation email. */
export interface EnrollmentInvitationEmailParams {
  readonly organizationName: string;
  readonly patientFirstName?: string;
  readonly enrollUrl: string;
  readonly expiresAt: Date;
  readonly timeZone: string;
  /** Re-enrollment: new credentials over the same record and history. */
  readonly reenrollment?: boolean;
}

/** The staff-issued enrollment invitation (valid 30 days by default, as in the Westchester FAQ). */
export function enrollmentInvitationEmail(params: EnrollmentInvitationEmailParams): RenderedEmail {
  return renderEmail({
    organizationName: params.organizationName,
    subject: `Your invitation to the ${params.organizationName} patient portal`,
    greeting: params.patientFirstName ? `Hello ${params.patientFirstName},` : undefined,
    paragraphs: [
      params.reenrollment
        ? `You have been re-enrolled in the ${params.organizationName} patient portal. Choose a new email login and password; your earlier ID no longer works, and your portal history is still there.`
        : `You are invited to the ${params.organizationName} patient portal. Follow the link to choose your password and finish enrolling.`,
    ],
    action: { label: 'Enroll now', url: params.enrollUrl },
    closing: [
      `This invitation expires ${formatInstant(params.expiresAt, params.timeZone)}. After that, contact us for a new one. ` +
        'Check your junk mail folder for our emails.',
    ],
  });
}
