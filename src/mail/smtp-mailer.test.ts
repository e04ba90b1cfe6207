import { createServer } from 'node:net';
import { FixedClock } from '../fhir/clock';
import { startLoopbackSmtpServer } from '../../test/support/mail/loopback-smtp-server';
import { MailMessageError } from './mailer';
import { SmtpMailer } from './smtp-mailer';

const clock = new FixedClock(new Date('2026-11-21T23:30:00Z'));
const from = 'Chartkeeper <no-reply@chartkeeper.test>';

describe('SmtpMailer against a real SMTP server on 127.0.0.1', () => {
  test('delivers text and html; the server reads back sender, recipient, subject, date and bodies', async () => {
    const server = await startLoopbackSmtpServer();
    const mailer = new SmtpMailer({ smtpUrl: server.url, from, clock });
    try {
      await mailer.send({
        to: 'Ada Park <ada.park@example.com>',
        subject: 'Your verification code',
        text: 'Your code is 482913.\n',
        html: '<p>Your code is <b>482913</b>.</p>',
      });
      const mail = await server.waitForMail();
      expect(server.received).toHaveLength(1);
      expect(mail.envelopeFrom).toBe('no-reply@chartkeeper.test');
      expect(mail.envelopeTo).toEqual(['ada.park@example.com']);
      expect(mail.message.subject).toBe('Your verification code');
      expect(mail.message.to).toBe('Ada Park <ada.park@example.com>');
      expect(mail.message.headers.get('date')).toBe('Sat, 21 Nov 2026 23:30:00 +0000');
      expect(mail.message.text?.replace(/\r\n/g, '\n')).toBe('Your code is 482913.\n');
      expect(mail.message.html).toBe('<p>Your code is <b>482913</b>.</p>');
      expect(/(\d{6})/.exec(mail.message.text ?? '')?.[1]).toBe('482913');
    } finally {
      await mailer.close();
      await server.close();
    }
  });

  test('authenticates with the credentials in SMTP_URL; wrong credentials reject the send', async () => {
    const server = await startLoopbackSmtpServer({ auth: { user: 'relay', pass: 's3cret/pass' } });
    const good = new SmtpMailer({ smtpUrl: server.url, from, clock });
    const bad = new SmtpMailer({ smtpUrl: `smtp://relay:wrong@127.0.0.1:${server.port}`, from, clock });
    try {
      expect(server.url).toBe(`smtp://relay:s3cret%2Fpass@127.0.0.1:${server.port}`);
      await good.send({ to: 'cara.park@example.com', subject: 'One', text: 'x' });
      await expect(bad.send({ to: 'cara.park@example.com', subject: 'Two', text: 'y' })).rejects.toThrow(/Invalid username or password/);
      expect(server.received.map((m) => m.message.subject)).toEqual(['One']);
    } finally {
      await good.close();
      await bad.close();
      await server.close();
    }
  });

  test('rejects when no server listens, and refuses a bad message before connecting', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const mailer = new SmtpMailer({ smtpUrl: `smtp://127.0.0.1:${port}`, from, clock });
    await expect(mailer.send({ to: 'ada@example.com', subject: 'x', text: 'y' })).rejects.toThrow(/ECONNREFUSED/);
    await expect(mailer.send({ to: 'ada@example.com, eve@example.com', subject: 'x', text: 'y' })).rejects.toThrow(MailMessageError);
    await mailer.close();
  });

  test('refuses a URL that is not smtp:// or smtps://', () => {
    expect(() => new SmtpMailer({ smtpUrl: 'http://127.0.0.1:25', from, clock })).toThrow('SMTP_URL must start with smtp:// or smtps://');
  });

  test('waitForMail times out with a clear message', async () => {
    const server = await startLoopbackSmtpServer();
    try {
      await expect(server.waitForMail(() => true, 50)).rejects.toThrow('No matching mail within 50 ms (0 received)');
    } finally {
      await server.close();
    }
  });
});
