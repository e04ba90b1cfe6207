/**
 * Outbound mail, behind one small interface so the flows that send passcodes, invitations and reset links
 * do not care whether mail leaves over SMTP or lands in the local outbox.
 */

/**
 * One message to one person. Never put clinical data in the subject or text: only a link or a code. The one
 * exception is an attachment the patient asked to send (Patient/$transmit: their record to a provider).
 */
export interface MailMessage {
  /** A single address (`a@b.example` or `Name <a@b.example>`); lists are refused on purpose. */
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html?: string;
  readonly attachments?: readonly MailAttachment[];
}

/** A file sent with a message. */
export interface MailAttachment {
  readonly filename: string;
  readonly contentType: string;
  readonly content: Uint8Array;
}

/** Sends mail. Resolves when the message has been accepted (by the SMTP server or the outbox). */
export interface Mailer {
  send(message: MailMessage): Promise<void>;
  /** Releases connections; the mailer must not be used afterwards. */
  close(): Promise<void>;
}

/** Thrown for a message that must not be sent as given. */
export class MailMessageError extends Error {}

const ADDRESS = /^[^\s@<>",;:()[\]\\]+@[^\s@<>",;:()[\]\\]+\.[^\s@<>",;:()[\]\\]+$/;
const NAMED_ADDRESS = /^([^<>",;\r\n]*)<([^<>]+)>$/;

/**
 * Checks a message before it goes anywhere. A passcode meant for the patient must reach the patient only, so
 * the recipient is exactly one address: no lists, no header injection through CR/LF.
 */
export function assertSendable(message: MailMessage): void {
  if (/[\r\n]/.test(message.to) || /[\r\n]/.test(message.subject)) {
    throw new MailMessageError('Mail recipient and subject must be a single line');
  }
  const named = NAMED_ADDRESS.exec(message.to.trim());
  const address = named ? named[2].trim() : message.to.trim();
  if (!ADDRESS.test(address)) {
    throw new MailMessageError(`Mail recipient must be one email address, got ${JSON.stringify(message.to)}`);
  }
  if (message.subject.trim() === '') {
    throw new MailMessageError('Mail subject is empty');
  }
}
