import net from 'node:net';
import type { OperationOutcome, Patient } from '@medplum/fhirtypes';
import { Client } from 'pg';
import { startTestApp, TestApp } from './support/test-app';

/*
 * "If PostgreSQL restarts, in-flight requests get 503 and the service recovers by itself." The shared
 * PostgreSQL server must not be restarted (other test files use it at the same time), so a TCP proxy
 * sits between the app's pool and the server: cutting it drops every connection the app holds and
 * refuses new ones, which is what clients see while a server restarts. A second scenario has the
 * server terminate the app's backends itself (SQLSTATE 57P01, what a fast shutdown sends).
 */

const serverUrl = process.env.DATABASE_URL;
if (!serverUrl) console.warn('database-faults: skipped, these tests need a PostgreSQL server (set DATABASE_URL); PGlite runs in-process');
const describeWithServer = serverUrl ? describe : describe.skip;

/** A TCP proxy to PostgreSQL that can drop all its connections and refuse new ones. */
class CuttableProxy {
  private server = net.createServer((client) => this.forward(client));
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async listen(): Promise<void> {
    this.server = net.createServer((client) => this.forward(client));
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** Drops every proxied connection and stops accepting: new connections are refused until restore(). */
  async cut(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await closed;
  }

  /** Accepts connections again on the same port. */
  restore(): Promise<void> {
    return this.listen();
  }

  get openConnections(): number {
    return this.sockets.size;
  }

  private forward(client: net.Socket): void {
    const upstream = net.connect(this.target.port, this.target.host);
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.sockets.add(a);
      a.on('error', () => b.destroy());
      a.on('close', () => {
        this.sockets.delete(a);
        b.destroy();
      });
      a.pipe(b);
    }
  }
}

describeWithServer('PostgreSQL going away under load', () => {
  let proxy: CuttableProxy;
  let app: TestApp;
  let admin: Client;
  let databaseName: string;
  let ada: Patient;

  beforeAll(async () => {
    const server = new URL(serverUrl as string);
    proxy = new CuttableProxy({ host: server.hostname, port: Number(server.port || 5432) });
    await proxy.listen();
    const viaProxy = new URL(serverUrl as string);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    // startTestApp creates (and later drops) its database on the server DATABASE_URL names: the proxy.
    process.env.DATABASE_URL = viaProxy.toString();
    try {
      app = await startTestApp();
    } finally {
      process.env.DATABASE_URL = serverUrl;
    }
    databaseName = new URL(app.database.url as string).pathname.slice(1);
    // The test's own connection goes straight to the server, so cutting the proxy does not touch it.
    const direct = new URL(serverUrl as string);
    direct.pathname = `/${databaseName}`;
    admin = new Client({ connectionString: direct.toString() });
    await admin.connect();
    const created = await app.request('/fhir/Patient', {
      method: 'POST',
      json: { resourceType: 'Patient', name: [{ family: 'Park', given: ['Ada'] }] },
    });
    expect(created.status).toBe(201);
    ada = (await created.json()) as Patient;
  });

  afterAll(async () => {
    await admin?.end();
    await app?.close();
    await proxy?.cut();
  });

  /** Holds an exclusive lock on the resource table so requests that touch it wait in the server. */
  async function blockResourceTable(): Promise<() => Promise<void>> {
    await admin.query('begin');
    await admin.query('lock table resource in access exclusive mode');
    return async () => {
      await admin.query('rollback');
    };
  }

  /** Waits until `count` of the app's queries are waiting for a lock on the server. */
  async function waitForBlockedQueries(count: number): Promise<void> {
    let blocked = 0;
    for (let i = 0; i < 200 && blocked < count; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      // The admin connection is inside the locking transaction, where statistics views are a snapshot.
      await admin.query('select pg_stat_clear_snapshot()');
      const { rows } = await admin.query(
        `select count(*)::int as n from pg_stat_activity where datname = $1 and wait_event_type = 'Lock' and pid <> pg_backend_pid()`,
        [databaseName],
      );
      blocked = rows[0].n;
    }
    expect(blocked).toBeGreaterThanOrEqual(count);
  }

  /** Terminates every backend of the app's database but the test's own; returns how many. */
  async function terminateAppBackends(): Promise<number> {
    await admin.query('select pg_stat_clear_snapshot()');
    const { rows } = await admin.query(
      'select count(*)::int as n from (select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()) t',
      [databaseName],
    );
    return rows[0].n;
  }

  async function expect503(res: Response): Promise<void> {
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(res.headers.get('content-type')).toContain('application/fhir+json');
    const outcome = (await res.json()) as OperationOutcome;
    expect(outcome.issue).toEqual([
      { severity: 'error', code: 'transient', details: { text: 'The database is temporarily unavailable; please retry' } },
    ]);
  }

  /** Polls a read until it is served again (at most ~3 s), every answer before that a proper 503. */
  async function expectRecovered(): Promise<void> {
    for (let attempt = 0; attempt < 30; attempt++) {
      const res = await app.request(`/fhir/Patient/${ada.id}`);
      if (res.status === 200) return;
      await expect503(res);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('the service did not serve again within 3 s of the database coming back');
  }

  async function expectServing(): Promise<void> {
    expect((await app.request(`/fhir/Patient/${ada.id}`)).status).toBe(200);
    const created = await app.request('/fhir/Patient', {
      method: 'POST',
      json: { resourceType: 'Patient', name: [{ family: 'Park', given: ['Ben'] }] },
    });
    expect(created.status).toBe(201);
    const search = await app.request('/fhir/Patient?family=Park&_count=50');
    expect(search.status).toBe(200);
    const ready = await app.request('/readyz', { token: null });
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', database: true, migrated: true });
  }

  test('the connection drops: in-flight and new requests get 503, /readyz says 503, then it recovers by itself', async () => {
    await expectServing();
    const release = await blockResourceTable();
    const inFlight = [
      ...Array.from({ length: 6 }, () => app.request(`/fhir/Patient/${ada.id}`)),
      app.request('/fhir/Patient?family=Park'),
      app.request('/fhir/Patient', { method: 'POST', json: { resourceType: 'Patient', name: [{ family: 'Lost' }] } }),
    ];
    try {
      await waitForBlockedQueries(inFlight.length);
      await proxy.cut();
      for (const res of await Promise.all(inFlight)) await expect503(res);

      // While the server is unreachable: new requests fail fast with 503, and so does readiness.
      await expect503(await app.request(`/fhir/Patient/${ada.id}`));
      const notReady = await app.request('/readyz', { token: null });
      expect(notReady.status).toBe(503);
      expect(await notReady.json()).toEqual({ status: 'not ready', database: false, migrated: false });
      expect((await app.request('/healthz', { token: null })).status).toBe(200);
    } finally {
      await release();
    }

    await proxy.restore();
    await expectServing();
    // The write that was cut off before it committed is not there.
    const lost = (await (await app.request('/fhir/Patient?family=Lost&_summary=count')).json()) as { total: number };
    expect(lost.total).toBe(0);
  });

  test('the server terminates the connections (as on shutdown): 503, then it recovers by itself', async () => {
    const release = await blockResourceTable();
    const inFlight = Array.from({ length: 4 }, () => app.request(`/fhir/Patient/${ada.id}`));
    try {
      await waitForBlockedQueries(inFlight.length);
      // The blocked backends counted may include the audit log's background pass, so a read may reach the server only
      // after the first round of terminations: as in a shutdown, the server goes on terminating until all are answered.
      const answered = Promise.all(inFlight);
      let settled = false;
      void answered.then(() => (settled = true));
      let terminated = 0;
      while (!settled) {
        terminated += await terminateAppBackends();
        await Promise.race([answered, new Promise((resolve) => setTimeout(resolve, 100))]);
      }
      expect(terminated).toBeGreaterThan(0);
      for (const res of await answered) await expect503(res);
    } finally {
      await release();
    }
    // Idle pooled connections were terminated too; the pool must notice and reconnect on its own. A request that
    // takes such a connection before its termination has reached the app is one more casualty of the shutdown (503,
    // retry after 1 s), so the first requests may still get 503; within a few it serves again, with no restart.
    await expectRecovered();
    await expectServing();
    expect(proxy.openConnections).toBeGreaterThan(0);
  });
});
