/**
 * A request sent on a kept-alive connection just as the server's keep-alive timeout runs out is answered, not reset
 * (issue 23: 19 and 21 MB C-CDA uploads saw ECONNRESET once in the full suite on a loaded machine). Node decides the
 * timeout in the timers phase, before it reads the sockets; a loaded event loop puts the timeout and the client's
 * request in the same turn. The test makes that turn happen: it sends the request from an I/O callback (as a test's
 * next request is sent after a database read) and then holds the event loop past the timeout.
 */
import fs from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import type { Patient } from '@medplum/fhirtypes';
import { startTestApp, type TestApp } from './support/test-app';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
  // Advertised as 3 s (a client keeps the connection for 1 s of its own clock), closed by Node after 4 s.
  app.server.keepAliveTimeout = 3000;
});
afterAll(() => app?.close());

/** Holds the event loop, as a busy machine or a long synchronous step does. */
function holdEventLoop(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

test('a 4 MB upload sent on a kept-alive connection as its timeout runs out is answered 201', async () => {
  const connections: unknown[] = [];
  const count = (socket: unknown) => connections.push(socket);
  app.server.on('connection', count);
  try {
    const first = await app.request('/fhir/metadata');
    expect(first.status).toBe(200);
    await first.text();
    // The connection back in the client's pool; the request then sent from an I/O callback (as one sent after a read).
    await new Promise((resolve) => setTimeout(resolve, 200));
    await fs.promises.readFile(__filename);
    // Sent now, on the connection the metadata came on; then the event loop is held past the server's 4 s.
    const patient: Patient = { resourceType: 'Patient', name: [{ family: 'Keepalive', given: ['Kim'] }] };
    const body = JSON.stringify(patient) + ' '.repeat(4 * 1024 * 1024);
    const created = app.request('/fhir/Patient', { method: 'POST', body, headers: { 'Content-Type': 'application/fhir+json' } });
    setImmediate(() => holdEventLoop(4_500));
    const res = await created;
    expect(res.status).toBe(201);
    expect(((await res.json()) as Patient).name?.[0]?.family).toBe('Keepalive');
    // One connection: the upload went on the kept-alive one (else this test would not test the race).
    expect(connections).toHaveLength(1);
  } finally {
    app.server.off('connection', count);
  }
}, 30_000);

test('a kept-alive connection on which nothing arrives is still closed by the server after its timeout', async () => {
  const port = (app.server.address() as AddressInfo).port;
  const socket = net.connect(port, '127.0.0.1');
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
  const opened = Date.now();
  socket.write('GET /fhir/metadata HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n');
  await new Promise((resolve) => socket.once('close', resolve));
  expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  expect(answer).toContain('Keep-Alive: timeout=3');
  // Node's 3 s and its extra second, and one more turn of the event loop.
  expect(Date.now() - opened).toBeGreaterThanOrEqual(3_900);
  expect(Date.now() - opened).toBeLessThan(8_000);
}, 30_000);
