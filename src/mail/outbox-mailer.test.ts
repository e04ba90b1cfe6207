import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FixedClock } from '../fhir/clock';
import { createMailer } from './create-mailer';
import { parseMimeMessage } from '../../test/support/mail/mime-message';
import { listOutbox, OutboxMailer } from './outbox-mailer';
import { SmtpMailer } from './smtp-mailer';

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'chartkeeper-outbox-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('OutboxMailer', () => {
  test('writes one RFC 822 .eml per message, named so they sort in sending order', async () => {
    const clock = new FixedClock(new Date('2026-11-21T23:59:59.998Z'));
    const mailer = new OutboxMailer({ dataDir, from: 'Chartkeeper <no-reply@chartkeeper.test>', clock });
    expect(await listOutbox(dataDir)).toEqual([]);
    await mailer.send({ to: 'ada.park@example.com', subject: 'First', text: 'one' });
    await mailer.send({ to: 'ada.park@example.com', subject: 'Second', text: 'two' }); // same millisecond
    clock.advance(2); // across midnight UTC
    await mailer.send({ to: 'cara.park@example.com', subject: 'Third', text: 'three', html: '<p>three</p>' });

    const files = await listOutbox(dataDir);
    expect(files.map((f) => path.basename(f).replace(/-[0-9a-f]{6}\.eml$/, ''))).toEqual([
      '20261121T235959998Z-000001',
      '20261121T235959998Z-000002',
      '20261122T000000000Z-000003',
    ]);
    const messages = await Promise.all(files.map(async (f) => parseMimeMessage(await readFile(f))));
    expect(messages.map((m) => [m.subject, m.to, m.text, m.html])).toEqual([
      ['First', 'ada.park@example.com', 'one', undefined],
      ['Second', 'ada.park@example.com', 'two', undefined],
      ['Third', 'cara.park@example.com', 'three', '<p>three</p>'],
    ]);
    expect(messages[2].headers.get('date')).toBe('Sun, 22 Nov 2026 00:00:00 +0000');
    expect(messages[0].from).toBe('Chartkeeper <no-reply@chartkeeper.test>');
    const raw = await readFile(files[0], 'utf8');
    expect(raw).toMatch(/^[\s\S]*\r\nMIME-Version: 1\.0\r\n/);
    // Only its owner can read a mailbox full of passcodes.
    expect((await stat(files[0])).mode & 0o777).toBe(0o600);
    // No partial files left behind.
    expect((await readdir(path.join(dataDir, 'outbox'))).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  test('two mailers on the same outbox never overwrite each other', async () => {
    const clock = new FixedClock(new Date('2026-11-21T12:00:00Z'));
    const a = new OutboxMailer({ dataDir, from: 'a@chartkeeper.test', clock });
    const b = new OutboxMailer({ dataDir, from: 'b@chartkeeper.test', clock });
    await Promise.all([a.send({ to: 'x@example.com', subject: 'A', text: 'a' }), b.send({ to: 'x@example.com', subject: 'B', text: 'b' })]);
    const subjects = await Promise.all((await listOutbox(dataDir)).map(async (f) => parseMimeMessage(await readFile(f)).subject));
    expect(subjects.sort()).toEqual(['A', 'B']);
  });

  test('refuses a message with two recipients and writes nothing', async () => {
    const mailer = new OutboxMailer({ dataDir, from: 'a@chartkeeper.test', clock: new FixedClock(new Date()) });
    await expect(mailer.send({ to: 'a@example.com,b@example.com', subject: 'x', text: 'y' })).rejects.toThrow('one email address');
    expect(await listOutbox(dataDir)).toEqual([]);
  });
});

describe('createMailer', () => {
  const clock = new FixedClock(new Date('2026-11-21T12:00:00Z'));
  test('SMTP when SMTP_URL is set, the outbox otherwise', async () => {
    const smtp = createMailer({ smtpUrl: 'smtp://127.0.0.1:2525', dataDir, mailFrom: 'x@chartkeeper.test' }, clock);
    expect(smtp).toBeInstanceOf(SmtpMailer);
    await smtp.close();
    const outbox = createMailer({ dataDir, mailFrom: 'x@chartkeeper.test' }, clock);
    expect(outbox).toBeInstanceOf(OutboxMailer);
    await outbox.send({ to: 'ada@example.com', subject: 'Offline', text: 'ok' });
    expect(await listOutbox(dataDir)).toHaveLength(1);
  });
});
