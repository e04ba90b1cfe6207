/** A rest-hook receiver on loopback for the Subscription tests: records what arrives, answers as the test says. */
import { createServer, type IncomingHttpHeaders } from 'node:http';

/** One notification received. */
export interface ReceivedNotification {
  readonly headers: IncomingHttpHeaders;
  readonly body: any;
  /** What the receiver answered. */
  readonly answered: number;
}

/** A running receiver. */
export interface RestHookReceiver {
  readonly url: string;
  readonly received: ReceivedNotification[];
  /** The next `count` requests are answered `status` (then 200 again). */
  failNext(count: number, status?: number): void;
  /** The notifications of a type (handshake, heartbeat, event-notification) that were taken (2xx). */
  taken(type?: string): ReceivedNotification[];
  close(): Promise<void>;
}

/** The `type` of a notification Bundle (its status Parameters). */
export function notificationType(notification: ReceivedNotification): string | undefined {
  return notification.body?.entry?.[0]?.resource?.parameter?.find((p: any) => p.name === 'type')?.valueCode;
}

/** The focus reference and event number of an event notification. */
export function notificationEvent(notification: ReceivedNotification): { focus?: string; number?: string } {
  const event = notification.body?.entry?.[0]?.resource?.parameter?.find((p: any) => p.name === 'notification-event');
  const part = (name: string) => event?.part?.find((p: any) => p.name === name);
  return { focus: part('focus')?.valueReference?.reference, number: part('event-number')?.valueString };
}

/** Starts a receiver on 127.0.0.1 at a random port. */
export async function startRestHookReceiver(): Promise<RestHookReceiver> {
  const received: ReceivedNotification[] = [];
  let failures: { count: number; status: number } = { count: 0, status: 500 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const answered = failures.count > 0 ? failures.status : 200;
      if (failures.count > 0) failures = { ...failures, count: failures.count - 1 };
      received.push({ headers: req.headers, body: text ? JSON.parse(text) : undefined, answered });
      res.writeHead(answered).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    failNext(count, status = 500) {
      failures = { count, status };
    },
    taken(type) {
      return received.filter((n) => n.answered < 300 && (type === undefined || notificationType(n) === type));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
