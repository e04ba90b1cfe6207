/**
 * The two emails of Patient/$transmit: the record itself to the provider the patient named (the one email that
 * carries health information, as an attachment the patient asked to send), and a notice to whoever sent it.
 */
import { formatInstant, type RenderedEmail, renderEmail } from './email-layout';

/** What both emails say about the sending. */
export interface RecordTransmitEmailParams {
  readonly organizationName: string;
  /** "all dates", "November 3, 2026", "January 1, 2025 to June 30, 2026". */
  readonly period: string;
  readonly sentAt: Date;
  readonly timeZone: string;
}

/**
 * To the provider: what the attachment is, and who sent it on whose request; the patient is not named outside the
 * document (mail subjects and bodies travel and are stored in the clear more often than attachments are opened).
 */
export function recordForProviderEmail(
  params: RecordTransmitEmailParams & { readonly fileName: string; readonly format: 'xdm' | 'ccda' },
): RenderedEmail {
  const what =
    params.format === 'xdm'
      ? `${params.fileName}, an IHE XDM package (zip) holding a C-CDA R2.1 Continuity of Care Document and its XDS metadata`
      : `${params.fileName}, a C-CDA R2.1 Continuity of Care Document (XML)`;
  return renderEmail({
    organizationName: params.organizationName,
    subject: `Health record sent at a patient's request by ${params.organizationName}`,
    paragraphs: [
      `A patient of ${params.organizationName} asked us to send you their health record (${params.period}). It is attached: ${what}.`,
      `It was sent on ${formatInstant(params.sentAt, params.timeZone)}. Your EHR can import the document; any web browser shows its contents.`,
    ],
    footer:
      `This message was sent by ${params.organizationName} at a patient's request. The attachment holds protected health information: ` +
      'if you are not the intended recipient, delete it and tell the sender. Please do not reply to this email.',
  });
}

/**
 * To the account that sent it: where the record went, so a transmission nobody asked for is noticed. `whose` names
 * the patient (first name) when the sender is someone else (a family member, staff); absent, it was their own.
 */
export function recordSentNoticeEmail(
  params: RecordTransmitEmailParams & { readonly recipient: string; readonly activityUrl: string; readonly whose?: string },
): RenderedEmail {
  const record = params.whose ? `${params.whose}'s health record` : 'Your health record';
  return renderEmail({
    organizationName: params.organizationName,
    subject: `${record} was sent to ${params.recipient}`,
    paragraphs: [
      `${record} (${params.period}) was sent by email to ${params.recipient} on ${formatInstant(params.sentAt, params.timeZone)}.`,
      'If you did not ask for this, contact the practice right away. Every sending is listed in the activity history.',
    ],
    action: { label: 'View activity history', url: params.activityUrl },
  });
}
