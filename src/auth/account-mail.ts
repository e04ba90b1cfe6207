/**
 * Sending the account flows' mail. A flow that must reach someone (a passcode, an invitation) sends inside its
 * transaction, so a mail server that refuses leaves nothing stored; the client gets a 503 to retry.
 */
import { FhirError } from '../fhir/outcomes';
import type { MailAttachment } from '../mail/mailer';
import type { RenderedEmail } from '../mail/templates/email-layout';
import type { AccountContext } from './account-context';

/** Sends one rendered email (and any files) to one address; a delivery failure becomes a 503 the client may retry. */
export async function sendAccountMail(
  context: AccountContext,
  to: string,
  email: RenderedEmail,
  attachments?: readonly MailAttachment[],
): Promise<void> {
  try {
    await context.mailer.send({ to, subject: email.subject, text: email.text, html: email.html, ...(attachments ? { attachments } : {}) });
  } catch (err) {
    context.logger?.error({ err: { message: (err as Error)?.message } }, 'account mail not sent');
    throw new FhirError(503, {
      resourceType: 'OperationOutcome',
      issue: [
        {
          severity: 'error',
          code: 'transient',
          details: { text: 'We could not send the email just now. Nothing was changed; please try again later.' },
        },
      ],
    });
  }
}
