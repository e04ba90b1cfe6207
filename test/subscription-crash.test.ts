/**
 * Issue 21, Subscriptions: "never lost". The server is killed (SIGKILL) after a write has committed and before the
 * delivery job has sent its notification (the job is scheduled for New Year's night, so it does not run); a server
 * started again on the same storage sends the handshake and the notification. Runs the real server in a process of
 * its own, on the embedded database or (with DATABASE_URL) a fresh PostgreSQL database.
 */
import type { DocumentReference, Patient, Subscription } from '@medplum/fhirtypes';
import { processStorage, startServe, staffToken } from './support/chartkeeper-process';
import { waitFor } from './support/patient-writers';
import { notificationEvent, notificationType, startRestHookReceiver } from './support/rest-hook-receiver';

test('killing the service between the write and the delivery still delivers after restart', async () => {
  const storage = await processStorage('ck-subscription-crash');
  const receiver = await startRestHookReceiver();
  let server = await startServe(storage, { JOB_SCHEDULES: 'subscription-delivery=0 0 1 1 *' });
  try {
    const token = await staffToken(storage);
    const post = async <T>(path: string, json: unknown): Promise<T> => {
      const res = await fetch(`http://127.0.0.1:${server.port}/fhir/${path}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/fhir+json' },
        body: JSON.stringify(json),
      });
      expect(res.status).toBe(201);
      return (await res.json()) as T;
    };
    await post<Subscription>('Subscription', {
      resourceType: 'Subscription',
      status: 'requested',
      reason: 'sync',
      criteria: 'DocumentReference',
      channel: { type: 'rest-hook', endpoint: receiver.url },
    });
    const patient = await post<Patient>('Patient', { resourceType: 'Patient', name: [{ family: 'Crash', given: ['Carl'] }] });
    const document = await post<DocumentReference>('DocumentReference', {
      resourceType: 'DocumentReference',
      status: 'current',
      subject: { reference: `Patient/${patient.id}` },
      content: [{ attachment: { contentType: 'text/plain', data: Buffer.from('note').toString('base64') } }],
    });
    server.child.kill('SIGKILL');
    expect(await server.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(receiver.received).toEqual([]);

    server = await startServe(storage);
    await waitFor(() => receiver.taken('event-notification').length > 0, 'the notification after the restart');
    expect(receiver.received.map(notificationType)).toEqual(['handshake', 'event-notification']);
    const event = notificationEvent(receiver.received[1]);
    expect([event.focus?.endsWith(`/fhir/DocumentReference/${document.id}`), event.number]).toEqual([true, '1']);
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  } finally {
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
    await server.exited;
    await receiver.close();
    await storage.drop();
  }
  // Two starts of the real server, each migrating and loading the definitions: minutes on a busy machine.
}, 240_000);
