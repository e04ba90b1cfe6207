/** Mail over SMTP with nodemailer, used when `SMTP_URL` is set. */
import nodemailer from 'nodemailer';
import type { Clock } from '../fhir/clock';
import { assertSendable, type MailMessage, type Mailer } from './mailer';

/** What an SmtpMailer needs: the server URL (smtp:// or smtps://, credentials in the URL) and the sender. */
export interface SmtpMailerOptions {
  readonly smtpUrl: string;
  readonly from: string;
  readonly clock: Clock;
}

/** Sends each message through one SMTP transport; failures reject `send` so the caller can report them. */
export class SmtpMailer implements Mailer {
  private readonly transport: ReturnType<typeof nodemailer.createTransport>;

  constructor(private readonly options: SmtpMailerOptions) {
    const url = new URL(options.smtpUrl);
    if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
      throw new RangeError(`SMTP_URL must start with smtp:// or smtps://, got ${url.protocol}//`);
    }
    // Short timeouts: a request that sends a passcode should fail fast, not hang on a dead relay.
    this.transport = nodemailer.createTransport({
      url: options.smtpUrl,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
    });
  }

  /** Sends the message; rejects when the server refuses it or cannot be reached. */
  async send(message: MailMessage): Promise<void> {
    assertSendable(message);
    await this.transport.sendMail({
      from: this.options.from,
      to: message.to,
      subject: message.subject,
      text: message.text,
      html: message.html,
      attachments: message.attachments?.map((a) => ({ filename: a.filename, contentType: a.contentType, content: Buffer.from(a.content) })),
      date: this.options.clock.now(),
    });
  }

  /** Closes the transport's connections. */
  close(): Promise<void> {
    this.transport.close();
    return Promise.resolve();
  }
}
