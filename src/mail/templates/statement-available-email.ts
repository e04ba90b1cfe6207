/** "A statement is available": tells the patient or a family member with billing access that a statement was issued. */
import { type RenderedEmail, renderEmail } from './email-layout';

/** Parameters of the statement notice. No amount and no visit: the email says only that there is a statement. */
export interface StatementAvailableEmailParams {
  readonly organizationName: string;
  readonly patientFirstName?: string;
  readonly statementsUrl: string;
  /** Who reads it: the patient (default), or a family member who holds the patient's billing or full record. */
  readonly audience?: 'patient' | 'family-member';
}

/** The "a statement is available" notice. */
export function statementAvailableEmail(params: StatementAvailableEmailParams): RenderedEmail {
  const subject = `A statement is available in your ${params.organizationName} patient portal`;
  const action = { label: 'View statements', url: params.statementsUrl };
  if (params.audience === 'family-member') {
    const whose = params.patientFirstName ? `${params.patientFirstName}'s` : 'a family member’s';
    return renderEmail({
      organizationName: params.organizationName,
      subject,
      paragraphs: [`A new statement for ${whose} account is available. Sign in to the patient portal to view it or pay your bill online.`],
      action,
    });
  }
  return renderEmail({
    organizationName: params.organizationName,
    subject,
    greeting: params.patientFirstName ? `Hello ${params.patientFirstName},` : undefined,
    paragraphs: ['A new statement for your account is available. Sign in to the patient portal to view it or pay your bill online.'],
    action,
  });
}
