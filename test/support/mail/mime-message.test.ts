import nodemailer from 'nodemailer';
import { decodeEncodedWords, parseMimeMessage } from './mime-message';

async function compose(options: Record<string, unknown>): Promise<string> {
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  const info = await transport.sendMail({ from: 'Chartkeeper <no-reply@chartkeeper.test>', to: 'ada@example.com', ...options });
  return (info.message as Buffer).toString('utf8');
}

describe('parseMimeMessage reads what nodemailer writes', () => {
  test('text and html alternative, non-ASCII subject and body, long lines', async () => {
    const longLine = `Passcode: K7M2-QX9P ${'word '.repeat(40)}end`;
    const raw = await compose({
      subject: 'Café Zoë’s portal: access request',
      text: `Héllo Zoë,\n${longLine}\n`,
      html: '<p>Héllo <b>Zoë</b></p>',
    });
    expect(raw).toContain('\r\n');
    const message = parseMimeMessage(raw);
    expect(message.subject).toBe('Café Zoë’s portal: access request');
    expect(message.from).toBe('Chartkeeper <no-reply@chartkeeper.test>');
    expect(message.to).toBe('ada@example.com');
    expect(message.text?.replace(/\r\n/g, '\n')).toBe(`Héllo Zoë,\n${longLine}\n`);
    expect(message.html).toBe('<p>Héllo <b>Zoë</b></p>');
  });

  test('base64 transfer encoding and text-only messages', async () => {
    const raw = await compose({ subject: 'Plain', text: 'Code 123456 ✓', textEncoding: 'base64' });
    expect(raw).toMatch(/Content-Transfer-Encoding: base64/i);
    const message = parseMimeMessage(Buffer.from(raw));
    expect(message.text).toBe('Code 123456 ✓');
    expect(message.html).toBeUndefined();
  });

  test('encoded words: Q and B, adjacent words joined', () => {
    expect(decodeEncodedWords('=?UTF-8?Q?Caf=C3=A9_Zo=C3=AB?=')).toBe('Café Zoë');
    expect(decodeEncodedWords('=?UTF-8?B?Q2Fmw6k=?= =?UTF-8?B?IFpvw6s=?=')).toBe('Café Zoë');
    expect(decodeEncodedWords('plain')).toBe('plain');
  });
});
