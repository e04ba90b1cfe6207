/**
 * "Your request was answered" and "you have a new message": what the portal tells the patient, or a family member
 * with full access, by email. Nothing clinical: no provider, time, medication or message text, only that there is
 * something to read in the portal.
 */
import { type RenderedEmail, renderEmail } from './email-layout';

/** Parameters of a portal notice. */
export interface PortalNoticeEmailParams {
  readonly kind: 'request-answered' | 'new-message';
  readonly organizationName: string;
  readonly patientFirstName?: string;
  /** Where the portal shows it (the requests or the messages). */
  readonly url: string;
  readonly audience?: 'patient' | 'family-member';
}

/** The notice email. */
export function portalNoticeEmail(params: PortalNoticeEmailParams): RenderedEmail {
  const family = params.audience === 'family-member';
  const whose = family ? (params.patientFirstName ? `${params.patientFirstName}'s` : 'a family member’s') : 'your';
  if (params.kind === 'request-answered') {
    return renderEmail({
      organizationName: params.organizationName,
      subject: `Your request was answered in your ${params.organizationName} patient portal`,
      greeting: !family && params.patientFirstName ? `Hello ${params.patientFirstName},` : undefined,
      paragraphs: [
        `The practice has answered ${family ? `a request in ${whose} record` : 'your request'}. Sign in to the patient portal to see the answer.`,
      ],
      action: { label: 'View requests', url: params.url },
    });
  }
  return renderEmail({
    organizationName: params.organizationName,
    subject: `You have a new message in your ${params.organizationName} patient portal`,
    greeting: !family && params.patientFirstName ? `Hello ${params.patientFirstName},` : undefined,
    paragraphs: [
      `There is a new message ${family ? `in ${whose} record` : 'for you'} from the practice. Sign in to the patient portal to read it.`,
    ],
    action: { label: 'Read messages', url: params.url },
  });
}
