/**
 * A real SMTP server on 127.0.0.1 (the `smtp-server` package) that keeps what it receives, for tests that run
 * the mail flows end to end: the passcode, invitation link or reset link is read back out of the received mail.
 * Test support only: `smtp-server` is a dev dependency.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { type MimeMessage, parseMimeMessage } from './mime-message';

/** One message as the server received it. */
export interface ReceivedMail {
  readonly envelopeFrom: string;
  readonly envelopeTo: readonly string[];
  readonly raw: string;
  readonly message: MimeMessage;
}

/** A running loopback server. */
export interface LoopbackSmtpServer {
  /** `smtp://[user:pass@]127.0.0.1:<port>`, ready for `SMTP_URL`. */
  readonly url: string;
  readonly port: number;
  /** Everything received so far, in order. */
  readonly received: readonly ReceivedMail[];
  /** Resolves with the first received message (past or future) that matches, or rejects after `timeoutMs`. */
  waitForMail(match?: (mail: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  close(): Promise<void>;
}

/** Starts a server on a random loopback port; with `auth`, it requires those credentials (PLAIN/LOGIN). */
export async function startLoopbackSmtpServer(options: { auth?: { user: string; pass: string } } = {}): Promise<LoopbackSmtpServer> {
  const received: ReceivedMail[] = [];
  const waiters: { match: (mail: ReceivedMail) => boolean; resolve: (mail: ReceivedMail) => void }[] = [];
  const { auth } = options;
  const server = new SMTPServer({
    secure: false,
    // No TLS on loopback: STARTTLS would need a certificate the client trusts.
    disabledCommands: auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    authOptional: !auth,
    allowInsecureAuth: true,
    logger: false,
    size: 10 * 1024 * 1024,
    onAuth(login, _session, callback) {
      if (auth && login.username === auth.user && login.password === auth.pass) {
        callback(null, { user: login.username });
      } else {
        callback(new Error('Invalid username or password'));
      }
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const mail: ReceivedMail = {
          envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          envelopeTo: session.envelope.rcptTo.map((r) => r.address),
          raw,
          message: parseMimeMessage(raw),
        };
        received.push(mail);
        for (const waiter of [...waiters]) {
          if (waiter.match(mail)) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(mail);
          }
        }
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  const credentials = auth ? `${encodeURIComponent(auth.user)}:${encodeURIComponent(auth.pass)}@` : '';
  return {
    url: `smtp://${credentials}127.0.0.1:${port}`,
    port,
    received,
    waitForMail(match = () => true, timeoutMs = 5000) {
      const already = received.find(match);
      if (already) {
        return Promise.resolve(already);
      }
      return new Promise((resolve, reject) => {
        const waiter = {
          match,
          resolve: (mail: ReceivedMail) => {
            clearTimeout(timer);
            resolve(mail);
          },
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`No matching mail within ${timeoutMs} ms (${received.length} received)`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
