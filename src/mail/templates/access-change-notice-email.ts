/** Sent a week ahead of a 12th/13th or 18th birthday that changes what family members see. */
import type { AccessLevel } from '../../access/access-level';
import { formatCalendarDate, type RenderedEmail, renderEmail } from './email-layout';

/** Parameters of the access change notice. */
export interface AccessChangeNoticeEmailParams {
  readonly organizationName: string;
  /** The patient, or a family member with access to the patient's account. */
  readonly audience: 'patient' | 'family-member';
  readonly patientFirstName: string;
  /** The birthday on which the change happens (YYYY-MM-DD, organization's calendar). */
  readonly changeDate: string;
  /** What a guardian's access becomes that day (`none` at 18). */
  readonly newGuardianLevel: AccessLevel;
  /** Family access settings page. */
  readonly familyAccessUrl: string;
}

const NEW_ACCESS: Record<AccessLevel, string> = {
  none: 'family members will no longer have access, unless the patient invites them again from their own account',
  billing: 'family members will see billing only, unless the patient grants them full access',
  'billing+appointments': 'family members will see appointments and billing only',
  full: 'family members keep full access',
};

/** The week-ahead notice that family access will change on a birthday. */
export function accessChangeNoticeEmail(params: AccessChangeNoticeEmailParams): RenderedEmail {
  const when = formatCalendarDate(params.changeDate);
  const whose = params.audience === 'patient' ? 'your' : `${params.patientFirstName}’s`;
  return renderEmail({
    organizationName: params.organizationName,
    subject: `Family access to ${whose} portal account changes on ${when}`,
    greeting: params.audience === 'patient' ? `Hello ${params.patientFirstName},` : undefined,
    paragraphs: [
      `On ${when}, because of the age rules of the ${params.organizationName} patient portal, ` + `${NEW_ACCESS[params.newGuardianLevel]}.`,
      params.audience === 'patient'
        ? 'You can review who has access to your account and at what level in Family access settings.'
        : `${params.patientFirstName} can review who has access in Family access settings.`,
    ],
    action: { label: 'Family access settings', url: params.familyAccessUrl },
  });
}
