/**
 * The embedded default: with no SMTP server configured, each message becomes an RFC 822 `.eml` file in
 * `<dataDir>/outbox/`, so `npm start` works offline and a developer can open the passcode mail in any mail app.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Clock } from '../fhir/clock';
import { assertSendable, type MailMessage, type Mailer } from './mailer';

/** What an OutboxMailer needs. */
export interface OutboxMailerOptions {
  readonly dataDir: string;
  readonly from: string;
  readonly clock: Clock;
}

/** The outbox directory under a data dir. */
export function outboxDir(dataDir: string): string {
  return path.join(dataDir, 'outbox');
}

/** Writes each message as `<outbox>/<UTC time>-<sequence>-<random>.eml`; names sort in sending order. */
export class OutboxMailer implements Mailer {
  // nodemailer builds the MIME text without sending anything: the same encoder the SMTP path uses.
  private readonly composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  private sequence = 0;
  private readonly instance = randomBytes(3).toString('hex');

  constructor(private readonly options: OutboxMailerOptions) {}

  /** Writes the message file; resolves once it is complete on disk. */
  async send(message: MailMessage): Promise<void> {
    assertSendable(message);
    const date = this.options.clock.now();
    const info = await this.composer.sendMail({
      from: this.options.from,
      to: message.to,
      subject: message.subject,
      text: message.text,
      html: message.html,
      attachments: message.attachments?.map((a) => ({ filename: a.filename, contentType: a.contentType, content: Buffer.from(a.content) })),
      date,
    });
    const dir = outboxDir(this.options.dataDir);
    await mkdir(dir, { recursive: true });
    this.sequence += 1;
    const stamp = date.toISOString().replace(/[-:.]/g, '');
    const name = `${stamp}-${String(this.sequence).padStart(6, '0')}-${this.instance}.eml`;
    // Write then rename, so a reader polling the outbox never sees half a message.
    const partial = path.join(dir, `.${name}.partial`);
    await writeFile(partial, info.message as Buffer, { mode: 0o600 });
    await rename(partial, path.join(dir, name));
  }

  /** Nothing to release. */
  async close(): Promise<void> {}
}

/** The `.eml` files in a data dir's outbox, oldest first, as absolute paths. */
export async function listOutbox(dataDir: string): Promise<string[]> {
  const dir = outboxDir(dataDir);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return [];
    }
    throw err;
  }
  return names
    .filter((n) => n.endsWith('.eml') && !n.startsWith('.'))
    .sort()
    .map((n) => path.join(dir, n));
}
