/**
 * Several instances on one PostgreSQL behind HAProxy, started by ops/cluster.sh as an operator would: a session
 * started on one instance works on the other; sign-in and registration throttles count across them; each job's work
 * and the audit pass happen once; and when an instance is killed (SIGKILL) under load, the proxy moves the traffic,
 * only requests it had in flight fail, and every transaction is there whole or not at all.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Bundle } from '@medplum/fhirtypes';
import { Client } from 'pg';
import { DEMO_PASSWORD, DEMO_PEOPLE } from '../fixtures/demo-family';
import { createScratchDatabase, type ScratchDatabase } from './support/scratch-database';
import { type LoopbackSmtpServer, startLoopbackSmtpServer } from './support/mail/loopback-smtp-server';

jest.setTimeout(240_000);

const ROOT = path.resolve(__dirname, '..');
const SCRIPT = path.join(ROOT, 'ops', 'cluster.sh');
const ADA = DEMO_PEOPLE.ada.email as string;
const DAN = DEMO_PEOPLE.dan.email as string;
const MAYA = DEMO_PEOPLE.mayaChen.email as string;
const METRICS_TOKEN = 'cluster-test-metrics-token';
const run = promisify(execFile);

const haproxyReady = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v haproxy || [ "$(id -u)" = 0 ]']);
    return true;
  } catch {
    return false;
  }
})();
const skipReason = !process.env.DATABASE_URL
  ? 'needs PostgreSQL: set DATABASE_URL (the instances share one database)'
  : !haproxyReady
    ? 'needs haproxy (apt-get install haproxy), or root so ops/cluster.sh can install it'
    : undefined;
if (skipReason) console.log(`cluster test skipped: ${skipReason}`);
const describeCluster = skipReason ? describe.skip : describe;

/** True while something listens on the loopback port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Two consecutive free ports and one more for the proxy. */
async function freePorts(): Promise<{ proxy: number; first: number }> {
  const isFree = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = net.createServer().once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    if ((await isFree(base)) && (await isFree(base + 1)) && (await isFree(base + 2))) return { proxy: base, first: base + 1 };
  }
}

/**
 * POST on a connection of its own (no keep-alive): a client's pooled connection that the proxy closes after an error
 * answer would fail the client's next request before it reaches the proxy, which is the client's race, not a lost request.
 */
function postOnNewConnection(url: string, token: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/fhir+json', Connection: 'close' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

interface Answer {
  status: number;
  body: any;
}

describeCluster('two instances behind HAProxy on one PostgreSQL', () => {
  let scratch: ScratchDatabase;
  let smtp: LoopbackSmtpServer;
  let clusterDir: string;
  let env: NodeJS.ProcessEnv;
  let proxy: string;
  let instances: string[];
  let sql: Client;

  const call = async (base: string, method: string, route: string, options: { json?: unknown; token?: string } = {}): Promise<Answer> => {
    const res = await fetch(`${base}${route}`, {
      method,
      headers: {
        ...(options.json !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...(options.token ? { Authorization: `Bearer ${options.token}` } : {}),
      },
      body: options.json !== undefined ? JSON.stringify(options.json) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
  };
  const login = async (base: string, email: string) => {
    const answer = await call(base, 'POST', '/auth/login', { json: { email, password: DEMO_PASSWORD } });
    expect(answer.status).toBe(200);
    return answer.body as { access_token: string; refresh_token: string };
  };

  beforeAll(async () => {
    scratch = await createScratchDatabase(process.env.DATABASE_URL!, 'ck_test_cluster');
    smtp = await startLoopbackSmtpServer();
    clusterDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ck-cluster-'));
    const ports = await freePorts();
    env = {
      ...process.env,
      DATABASE_URL: scratch.url,
      CLUSTER_DIR: clusterDir,
      PROXY_PORT: String(ports.proxy),
      INSTANCE_PORT: String(ports.first),
    };
    delete env.NODE_OPTIONS; // jest's flags are not for the instances
    await run(process.execPath, [path.join(ROOT, 'bin', 'chartkeeper.js'), 'seed'], { env });
    await run(SCRIPT, ['start', '2'], {
      env: {
        ...env,
        SMTP_URL: smtp.url,
        METRICS_TOKEN,
        LOG_LEVEL: 'warn',
        SHUTDOWN_GRACE_SECONDS: '5',
        // Every job ticks every 2 seconds on both instances, so each tick is contested.
        JOB_SCHEDULES: ['release-notice', 'expire-secrets', 'purge-refresh-tokens', 'access-change-notice']
          .map((job) => `${job}=*/2 * * * * *`)
          .join(';'),
      },
    });
    proxy = `http://127.0.0.1:${ports.proxy}`;
    instances = [0, 1].map((i) => `http://127.0.0.1:${ports.first + i}`);
    sql = new Client({ connectionString: scratch.url });
    await sql.connect();
  });

  afterAll(async () => {
    if (env) await run(SCRIPT, ['stop'], { env }).catch((err) => console.log(`cluster stop: ${err}`));
    await sql?.end();
    await smtp?.close();
    await scratch?.drop();
    if (clusterDir) fs.rmSync(clusterDir, { recursive: true, force: true });
  });

  test('a session started on one instance is the same session on the other: refresh, reuse and logout agree', async () => {
    const [one, two] = instances;
    const first = await login(one, ADA);
    expect((await call(two, 'GET', '/auth/me', { token: first.access_token })).body.email).toBe(ADA);
    const second = await call(two, 'POST', '/auth/refresh', { json: { refresh_token: first.refresh_token } });
    expect(second.status).toBe(200);
    const third = await call(one, 'POST', '/auth/refresh', { json: { refresh_token: second.body.refresh_token } });
    expect(third.status).toBe(200);
    expect((await call(two, 'POST', '/auth/logout', { json: { refresh_token: third.body.refresh_token } })).status).toBe(204);
    expect((await call(one, 'POST', '/auth/refresh', { json: { refresh_token: third.body.refresh_token } })).status).toBe(401);
    // A refresh token used twice ends its session wherever the second use lands.
    const other = await login(two, DAN);
    expect((await call(one, 'POST', '/auth/refresh', { json: { refresh_token: other.refresh_token } })).status).toBe(200);
    expect((await call(two, 'POST', '/auth/refresh', { json: { refresh_token: other.refresh_token } })).status).toBe(401);
  });

  test('sign-in failures and registrations are counted across instances', async () => {
    const [one, two] = instances;
    const wrong = { email: DEMO_PEOPLE.cara.email, password: 'not-the-password-of-cara' };
    // Three failures are free, wherever they land; the fourth, at once, must wait.
    for (const base of [one, two, one]) expect((await call(base, 'POST', '/auth/login', { json: wrong })).status).toBe(401);
    const throttled = await call(two, 'POST', '/auth/login', { json: wrong });
    expect(throttled.status).toBe(429);
    const register = {
      role: 'patient',
      lastName: 'nobody',
      birthDate: '1990-01-01',
      email: 'cluster.register@example.com',
      password: 'a-long-enough-password-1',
    };
    const answers: number[] = [];
    for (const base of [one, two, one, two]) answers.push((await call(base, 'POST', '/auth/register', { json: register })).status);
    expect(answers.slice(0, 3).every((status) => status !== 429)).toBe(true);
    expect(answers[3]).toBe(429);
  });

  test('a release is announced once, and the audit pass turns each access into one AuditEvent entry, across instances', async () => {
    const [one, two] = instances;
    const staff = (await login(one, MAYA)).access_token;
    const adaId = (await call(one, 'GET', `/fhir/Patient?name=ada&_count=1`, { token: staff })).body.entry[0].resource.id as string;
    const before = smtp.received.length;
    const draft = await call(one, 'POST', '/fhir/DocumentReference', {
      token: staff,
      json: {
        resourceType: 'DocumentReference',
        status: 'current',
        docStatus: 'preliminary',
        subject: { reference: `Patient/${adaId}` },
        content: [{ attachment: { contentType: 'text/plain', data: 'SGVsbG8=' } }],
      },
    });
    expect(draft.status).toBe(201);
    expect(
      (await call(two, 'PUT', `/fhir/DocumentReference/${draft.body.id}`, { token: staff, json: { ...draft.body, docStatus: 'final' } }))
        .status,
    ).toBe(200);
    await smtp.waitForMail((m) => m.envelopeTo.includes(DAN) && /new document/.test(m.message.subject), 30_000);
    // Three more ticks on each instance: nothing is announced again.
    await new Promise((resolve) => setTimeout(resolve, 6_500));
    const notices = smtp.received
      .slice(before)
      .filter((m) => /new document/.test(m.message.subject))
      .flatMap((m) => m.envelopeTo)
      .sort();
    expect(notices).toEqual([ADA, DAN].sort());

    // Staff read twelve resources of Ada's record, alternating instances: twelve read accesses, each recorded once.
    const observations: string[] = [];
    for (let i = 0; i < 12; i++) {
      const created = await call(i % 2 ? one : two, 'POST', '/fhir/Observation', {
        token: staff,
        json: {
          resourceType: 'Observation',
          status: 'final',
          code: { text: `audit probe ${i}` },
          subject: { reference: `Patient/${adaId}` },
        },
      });
      expect(created.status).toBe(201);
      observations.push(`Observation/${created.body.id}`);
    }
    for (const [i, ref] of observations.entries())
      expect((await call(instances[i % 2], 'GET', `/fhir/${ref}`, { token: staff })).status).toBe(200);
    const deadline = Date.now() + 30_000;
    while ((await sql.query('select count(*)::int as n from audit_log')).rows[0].n > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 250));
    const { rows } = await sql.query<{ content: string }>(
      `select content from resource where resource_type = 'AuditEvent' and content like any($1)`,
      [observations.map((ref) => `%${ref}"%`)],
    );
    const read = rows
      .map((r) => JSON.parse(r.content))
      .filter((event) => event.action === 'R')
      .flatMap((event) => event.entity.map((e: { what: { reference: string } }) => e.what.reference))
      .filter((ref: string) => observations.includes(ref))
      .sort();
    expect(read).toEqual([...observations].sort());
  });

  test('every job ticked on both instances without failing, and the once-a-day notice claimed its day once', async () => {
    const ticks = await Promise.all(
      instances.map(async (base) => {
        const res = await fetch(`${base}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } });
        expect(res.status).toBe(200);
        return res.text();
      }),
    );
    for (const job of ['release-notice', 'expire-secrets', 'purge-refresh-tokens', 'access-change-notice', 'audit-pass']) {
      const count = (text: string, outcome: string) =>
        Number(new RegExp(`^chartkeeper_job_runs_total\\{job="${job}",outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
      for (const text of ticks) expect(count(text, 'ran') + count(text, 'skipped')).toBeGreaterThan(0);
      expect(ticks.map((text) => count(text, 'failed'))).toEqual([0, 0]);
    }
    const { rows } = await sql.query(`select run_key from job_run where job = 'access-change-notice'`);
    expect(rows).toHaveLength(1);
  });

  test('an instance killed with SIGKILL under load: traffic moves, only its requests in flight fail, nothing is half-written', async () => {
    const staff = (await login(proxy, MAYA)).access_token;
    const adaId = (await call(proxy, 'GET', `/fhir/Patient?name=ada&_count=1`, { token: staff })).body.entry[0].resource.id as string;
    const victim = Number(fs.readFileSync(path.join(clusterDir, 'instance-2.pid'), 'utf8'));
    const victimPort = Number(new URL(instances[1]).port);
    const CLIENTS = 6;
    const results: { n: number; started: number; status: number }[] = [];
    let killedAt = Infinity;
    const errors: string[] = [];
    let next = 0;
    const stopAt = Date.now() + 12_000;
    // Each write is a transaction of two Observations that share an identifier: both or neither may exist.
    const pair = (n: number): Bundle => ({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [1, 2].map((k) => ({
        request: { method: 'POST', url: 'Observation' },
        resource: {
          resourceType: 'Observation',
          status: 'final',
          code: { text: `pair ${n}.${k}` },
          subject: { reference: `Patient/${adaId}` },
          identifier: [{ system: 'urn:test:kill', value: `pair-${n}` }],
        },
      })),
    });
    const client = async () => {
      while (Date.now() < stopAt) {
        const n = next++;
        const started = Date.now();
        const status = await postOnNewConnection(`${proxy}/fhir`, staff, JSON.stringify(pair(n))).catch((err) => {
          errors.push(String(err?.code ?? err));
          return 0;
        });
        results.push({ n, started, status });
      }
    };
    // The signal is sent at once, but a large process on a busy machine takes a moment to go, and until its sockets are
    // closed it still takes connections: the instance is gone when its port refuses them.
    let goneAt = Infinity;
    const killer = (async () => {
      await new Promise((r) => setTimeout(r, 4_000));
      killedAt = Date.now();
      process.kill(victim, 'SIGKILL');
      while (await accepts(victimPort)) await new Promise((r) => setTimeout(r, 5));
      goneAt = Date.now();
    })();
    await Promise.all([...Array.from({ length: CLIENTS }, client), killer]);

    const failed = results.filter((r) => r.status !== 200);
    const after = results.filter((r) => r.started > goneAt);
    // Before the assertions, so that a failing run shows what happened.
    console.log(
      `cluster kill: ${results.length} transactions, ${failed.length} failed (in flight at the kill; statuses ${failed.map((r) => r.status).join(',')}, began ${failed.map((r) => r.started - killedAt).join(',')} ms after the signal, the port closed ${goneAt - killedAt} ms after it${errors.length ? `; ${errors.join(', ')}` : ''}), ${after.length} after it, ${after.filter((r) => r.status === 200).length} of them answered 200`,
    );
    expect(results.filter((r) => r.started < killedAt && r.status === 200).length).toBeGreaterThan(0);
    expect(after.length).toBeGreaterThan(0);
    // Only requests the instance had taken may fail: at most one per client, all begun before its port closed.
    expect(failed.length).toBeLessThanOrEqual(CLIENTS);
    expect(failed.filter((r) => r.started > goneAt)).toEqual([]);
    expect(after.every((r) => r.status === 200)).toBe(true);
    // The proxy answers those 502 (the instance was gone before it answered).
    expect(failed.filter((r) => r.status !== 502)).toEqual([]);

    // Nothing half-written: each pair is whole or absent (a committed one whole), with its history and search index.
    const { rows } = await sql.query<{ value: string; resources: number; versions: number; indexed: number }>(`
      select t.value, count(distinct r.id)::int as resources, count(distinct h.id)::int as versions, count(distinct t.resource_id)::int as indexed
      from search_token t
      join resource r on r.resource_type = t.resource_type and r.id = t.resource_id and not r.deleted
      left join resource_history h on h.resource_type = r.resource_type and h.id = r.id and h.version = r.version
      where t.resource_type = 'Observation' and t.code = 'identifier' and t.system = 'urn:test:kill'
      group by t.value`);
    const stored = new Map(rows.map((row) => [row.value, row]));
    for (const row of rows) expect([row.value, row.resources, row.versions, row.indexed]).toEqual([row.value, 2, 2, 2]);
    for (const r of results.filter((r) => r.status === 200)) expect(stored.has(`pair-${r.n}`)).toBe(true);
    expect(stored.size).toBeGreaterThanOrEqual(results.filter((r) => r.status === 200).length);
    expect(stored.size).toBeLessThanOrEqual(results.length);
    const { stdout } = await run(SCRIPT, ['status'], { env });
    expect(stdout).toMatch(/instance-2 +stopped/);
    expect(stdout).toMatch(/instance-1 +pid \d+ +port \d+ +readyz 200/);
  });
});
