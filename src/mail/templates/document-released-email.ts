/** Tells the patient (or a family member with full access) a provider released a document, without saying what it is. */
import { type RenderedEmail, renderEmail } from './email-layout';

/** Parameters of the document released notice. There is deliberately no title or type: those are clinical. */
export interface DocumentReleasedEmailParams {
  readonly organizationName: string;
  readonly patientFirstName?: string;
  readonly documentsUrl: string;
  /** Who reads it: the patient (default), or a family member with full access to the patient's record. */
  readonly audience?: 'patient' | 'family-member';
}

/** The "a new document is available" notice. */
export function documentReleasedEmail(params: DocumentReleasedEmailParams): RenderedEmail {
  if (params.audience === 'family-member') {
    const whose = params.patientFirstName ? `${params.patientFirstName}'s` : 'a family member’s';
    return renderEmail({
      organizationName: params.organizationName,
      subject: `A new document is available in your ${params.organizationName} patient portal`,
      paragraphs: [`A provider has made a new document available in ${whose} record. Sign in to the patient portal to read it.`],
      action: { label: 'View documents', url: params.documentsUrl },
    });
  }
  return renderEmail({
    organizationName: params.organizationName,
    subject: `A new document is available in your ${params.organizationName} patient portal`,
    greeting: params.patientFirstName ? `Hello ${params.patientFirstName},` : undefined,
    paragraphs: ['Your provider has made a new document available to you. Sign in to the patient portal to read it.'],
    action: { label: 'View documents', url: params.documentsUrl },
  });
}
