/**
 * Issue 24's proof for items 4-8: `chartkeeper serve` (its own process, the embedded database unless DATABASE_URL is
 * set) takes 30 s of hostile requests from three clients at once (huge searches, a 15 MB portal draft, C-CDA bombs, lone surrogates, out-of-range numbers, bad encodings) while another client reads /healthz
 * every 100 ms. No /healthz answer may take longer than 1 s, and the server's RSS stays under 1 GB (it idles near
 * 600 MB: the embedded database is reopened after initdb, whose memory PGlite would otherwise keep, and the
 * validation and C-CDA parse workers start on demand and stop when idle) and grows by less than 512 MB.
 *
 * On a busy 2-CPU machine the whole machine can stall; a control process (a bare HTTP server) is read alongside
 * /healthz, and a round in which the control itself took over 500 ms says nothing about the server and is not
 * counted. The test fails if the server is slow while the control is not, if RSS reaches 1 GB or grows by 512 MB, if any hostile
 * request gets a 5xx or another status than expected, or if under half of the rounds could be counted.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { gzipSync } from 'node:zlib';
import { DEMO_PASSWORD, DEMO_PEOPLE } from '../fixtures/demo-family';
import { type ChartkeeperProcess, processStorage, type ProcessStorage, startServe, staffToken } from './support/chartkeeper-process';

const DURATION_MS = 30_000;
const PROBE_EVERY_MS = 100;
const HEALTHZ_LIMIT_MS = 1_000;
const CONTROL_STALL_MS = 500;
/** Before these fixes the server grew to 2.5 GB; each request's memory is bounded now (body limits, budgets). */
const RSS_GROWTH_LIMIT = 512 * 1024 ** 2;
const RSS_LIMIT = 1024 ** 3;

jest.setTimeout(240_000);

let storage: ProcessStorage;
let server: ChartkeeperProcess & { port: number };
let control: ChildProcess;
let controlPort: number;
beforeAll(async () => {
  storage = await processStorage('hostile-load');
  server = await startServe(storage, { SEED_DEMO: 'true', LOG_LEVEL: 'warn' });
  control = spawn(
    process.execPath,
    ['-e', "const s=require('http').createServer((q,r)=>r.end('ok')).listen(0,'127.0.0.1',()=>console.log(s.address().port))"],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  controlPort = await new Promise<number>((resolve) => control.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
});
afterAll(async () => {
  control?.kill();
  if (server && server.child.exitCode === null) {
    server.child.kill('SIGTERM');
    await server.exited;
  }
  await storage?.drop();
});

/** One request on a connection of its own: status and elapsed ms. */
function call(
  port: number,
  method: string,
  path: string,
  options: { token?: string; body?: Buffer | string; headers?: Record<string, string> } = {},
): Promise<{ status: number; ms: number; body: string }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? undefined : Buffer.isBuffer(options.body) ? options.body : Buffer.from(options.body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method,
        agent: false,
        headers: {
          ...(options.token ? { Authorization: `Bearer ${options.token}` } : {}),
          ...(body ? { 'Content-Length': body.length } : {}),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on('data', (c: Buffer) => {
          if (kept < 1024 * 1024) chunks.push(c);
          kept += c.length;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, body: Buffer.concat(chunks).toString() }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The server's resident set size in bytes (Linux /proc). */
function rssOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

test('issue 24 proof (items 4-8): 30 s of hostile requests; /healthz always within 1 s, RSS under 1 GB', async () => {
  const port = server.port;
  const staff = await staffToken(storage);
  const login = await call(port, 'POST', '/auth/login', {
    body: JSON.stringify({ email: DEMO_PEOPLE.ada.email, password: DEMO_PASSWORD }),
    headers: { 'Content-Type': 'application/json' },
  });
  expect(login.status).toBe(200);
  const ada = (JSON.parse(login.body) as { access_token: string }).access_token;
  const patients = await call(port, 'GET', '/fhir/Patient?name=Ada', { token: ada });
  const adaId = /"id":"([^"]+)"/.exec(patients.body)![1];

  // The hostile requests, built once; each with the statuses it may get.
  const json = { 'Content-Type': 'application/fhir+json' };
  const xml = { 'Content-Type': 'application/xml' };
  const ccdaHead = '<ClinicalDocument xmlns="urn:hl7-org:v3">';
  const draft = Buffer.from(
    JSON.stringify({
      resourceType: 'Communication',
      status: 'preparation',
      subject: { reference: `Patient/${adaId}` },
      payload: Array.from({ length: 700_000 }, () => ({ contentString: 'x' })),
    }),
  );
  const parts = Buffer.from(
    JSON.stringify({
      resourceType: 'Communication',
      status: 'preparation',
      subject: { reference: `Patient/${adaId}` },
      payload: Array.from({ length: 1_001 }, () => ({ contentString: 'x' })),
    }),
  );
  const attributes = Buffer.from(
    `${ccdaHead}<a ${Array.from({ length: 1_000_000 }, (_, i) => `a${i}="1"`).join(' ')}/></ClinicalDocument>`,
  );
  const unclosed = Buffer.from(`${ccdaHead}<a ${'x="1" '.repeat(2_000_000)}`);
  const tiny = Buffer.from(`${ccdaHead}${'<a/>'.repeat(4_900_000)}</ClinicalDocument>`);
  const bomb = gzipSync(Buffer.alloc(40 * 1024 * 1024, 32));
  const codes = Array.from({ length: 400 }, (_, i) => `code=c${i}`).join('&');
  const thirty = Array.from({ length: 30 }, (_, i) => `code=c${i}`).join('&');
  const hostile: { name: string; expect: number[]; run: () => Promise<{ status: number; body: string }> }[] = [
    { name: 'item 4: 400 repeated parameters', expect: [400], run: () => call(port, 'GET', `/fhir/Observation?${codes}`, { token: ada }) },
    { name: 'item 4: 30 parameters', expect: [200], run: () => call(port, 'GET', `/fhir/Observation?${thirty}`, { token: ada }) },
    {
      name: 'item 5: 15 MB portal draft',
      expect: [400],
      run: () => call(port, 'POST', '/fhir/Communication', { token: ada, body: draft, headers: json }),
    },
    {
      name: 'item 5: 1,001 message parts',
      expect: [400],
      run: () => call(port, 'POST', '/fhir/Communication', { token: ada, body: parts, headers: json }),
    },
    {
      name: 'item 6: a million attributes',
      expect: [400],
      run: () => call(port, 'POST', '/fhir/$import-ccda', { token: staff, body: attributes, headers: xml }),
    },
    {
      name: 'item 6: unclosed attribute list',
      expect: [400],
      run: () => call(port, 'POST', '/fhir/$import-ccda', { token: staff, body: unclosed, headers: xml }),
    },
    {
      name: 'item 6: 20 MB of tiny elements',
      expect: [400],
      run: () => call(port, 'POST', '/fhir/$import-ccda', { token: staff, body: tiny, headers: xml }),
    },
    {
      name: 'item 7: lone surrogate in a Binary',
      expect: [400],
      run: () =>
        call(port, 'POST', '/fhir/Binary', {
          token: ada,
          body: `{"resourceType":"Binary","contentType":"text/plain\\ud800","data":"aGk=","securityContext":{"reference":"Patient/${adaId}"}}`,
          headers: json,
        }),
    },
    {
      name: 'item 8: huge _offset',
      expect: [400],
      run: () => call(port, 'GET', '/fhir/Observation?_offset=99999999999999999999', { token: ada }),
    },
    {
      name: 'item 8: huge version id',
      expect: [400],
      run: () => call(port, 'GET', `/fhir/Patient/${adaId}/_history/99999999999999999999`, { token: ada }),
    },
    {
      name: 'item 8: gzip that is not',
      expect: [400],
      run: () =>
        call(port, 'POST', '/fhir/Patient', {
          token: staff,
          body: '{"resourceType":"Patient"}',
          headers: { ...json, 'Content-Encoding': 'gzip' },
        }),
    },
    {
      name: 'item 8: gzip bomb',
      expect: [413],
      run: () => call(port, 'POST', '/fhir/Patient', { token: staff, body: bomb, headers: { ...json, 'Content-Encoding': 'gzip' } }),
    },
  ];

  const idleRss = rssOf(server.child.pid!);
  const deadline = Date.now() + DURATION_MS;
  const unexpected: string[] = [];
  const counts = new Map<string, number>();
  const attacker = async (offset: number) => {
    for (let k = offset; Date.now() < deadline; k++) {
      const attack = hostile[k % hostile.length];
      const { status, body } = await attack.run();
      counts.set(attack.name, (counts.get(attack.name) ?? 0) + 1);
      if (!attack.expect.includes(status)) unexpected.push(`${attack.name}: ${status} ${body.slice(0, 300)}`);
    }
  };
  const rounds: { healthz: number; control: number }[] = [];
  let maxRss = 0;
  const prober = async () => {
    while (Date.now() < deadline) {
      const next = performance.now() + PROBE_EVERY_MS;
      const [healthz, controlProbe] = await Promise.all([call(port, 'GET', '/healthz'), call(controlPort, 'GET', '/')]);
      expect(healthz.status).toBe(200);
      rounds.push({ healthz: healthz.ms, control: controlProbe.ms });
      maxRss = Math.max(maxRss, rssOf(server.child.pid!));
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())));
    }
  };
  await Promise.all([attacker(0), attacker(4), attacker(8), prober()]);

  const counted = rounds.filter((r) => r.control <= CONTROL_STALL_MS);
  const slow = counted
    .filter((r) => r.healthz > HEALTHZ_LIMIT_MS)
    .map((r) => `${Math.round(r.healthz)} ms (control ${Math.round(r.control)} ms)`);
  const sorted = counted.map((r) => r.healthz).sort((a, b) => a - b);
  const report = {
    rounds: rounds.length,
    counted: counted.length,
    healthzMedianMs: Math.round(sorted[Math.floor(sorted.length / 2)] ?? -1),
    healthzMaxMs: Math.round(sorted[sorted.length - 1] ?? -1),
    idleRssMb: Math.round(idleRss / 1024 ** 2),
    maxRssMb: Math.round(maxRss / 1024 ** 2),
    requests: Object.fromEntries(counts),
  };
  process.stderr.write(`hostile load: ${JSON.stringify(report)}\n`);
  expect(unexpected).toEqual([]);
  expect(slow).toEqual([]);
  expect(counted.length).toBeGreaterThanOrEqual(rounds.length / 2);
  expect(rounds.length).toBeGreaterThan(DURATION_MS / PROBE_EVERY_MS / 4);
  expect(maxRss).toBeLessThan(RSS_LIMIT);
  expect(maxRss - idleRss).toBeLessThan(RSS_GROWTH_LIMIT);
  // Every kind of hostile request was sent at least once.
  expect(counts.size).toBe(hostile.length);
  expect(server.child.exitCode).toBeNull();
});
