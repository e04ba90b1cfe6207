/** Picks the mailer from configuration: SMTP when `SMTP_URL` is set, otherwise the data dir's outbox. */
import type { Clock } from '../fhir/clock';
import type { Mailer } from './mailer';
import { OutboxMailer } from './outbox-mailer';
import { SmtpMailer } from './smtp-mailer';

/** The configuration fields mail reads (a subset of `Config`). */
export interface MailerConfig {
  readonly smtpUrl?: string;
  readonly dataDir: string;
  readonly mailFrom: string;
}

/** Builds the mailer the configuration asks for. */
export function createMailer(config: MailerConfig, clock: Clock): Mailer {
  if (config.smtpUrl) {
    return new SmtpMailer({ smtpUrl: config.smtpUrl, from: config.mailFrom, clock });
  }
  return new OutboxMailer({ dataDir: config.dataDir, from: config.mailFrom, clock });
}
