/**
 * Issue 21, Bulk Data Access 2.0 `$export`: the kick-off (system, Patient, Group), the status (202 with X-Progress and
 * Retry-After, then the manifest), the ndjson files read back and compared with the database by type, `_since`,
 * the requester's access (staff see their organisation's patients, a patient is refused), cancel, expiry, and a worker
 * that dies mid-export. The export job is run by the test with the test's clock.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Observation, Organization, Patient, Resource } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import { DEMO_PASSWORD, DEMO_PEOPLE } from '../fixtures/demo-family';
import { signAccessToken, signingKeyFromString } from '../src/auth/access-token';
import { nextType, resumePosition, writeBatch } from '../src/fhir/bulk-export/export-batch';
import { exportFileChunks, exportFileText } from '../src/fhir/bulk-export/export-file';
import { EXPORT_LIMITS } from '../src/fhir/bulk-export/export-kickoff';
import { claimExport, EXPORT_LEASE_SECONDS, renewLease } from '../src/fhir/bulk-export/export-queue';
import { importFhirFiles, listJsonFiles } from '../src/fhir/fhir-file-import';
import { bulkExportJob } from '../src/jobs/bulk-export-job';
import { expireExportsJob } from '../src/jobs/expire-exports-job';
import type { JobDeps } from '../src/jobs/job-deps';
import { type AuthTestApp, outcomeText, startAuthTestApp } from './auth-test-app';
import { appJobDeps } from './support/app-job-deps';

const CORPUS = path.resolve(__dirname, '..', '../shared/corpus/fhir');
const corpusPresent = fs.existsSync(CORPUS);
if (!corpusPresent) console.warn(`Skipping the Synthea export test: the corpus ${CORPUS} is absent`);

const TTL_SECONDS = 3600;

/** What an export gave: its manifest and the resources of each file, parsed line by line. */
interface ExportResult {
  readonly manifest: {
    transactionTime: string;
    request: string;
    requiresAccessToken: boolean;
    output: { type: string; url: string; count: number }[];
  };
  readonly byType: Map<string, Resource[]>;
}

function jobDeps(app: AuthTestApp): JobDeps {
  return appJobDeps(app, { exportFileTtlSeconds: TTL_SECONDS });
}

async function operatorToken(app: AuthTestApp): Promise<string> {
  return signAccessToken({ sub: 'staff:cli', kind: 'staff' }, signingKeyFromString(app.config.signingKey as string), { clock: app.clock });
}

/** Kicks an export off; answers its status path (the Content-Location, under the app's URL). */
async function kickOff(app: AuthTestApp, token: string, kickoffPath: string): Promise<string> {
  const res = await app.call('GET', kickoffPath, { token });
  expect([res.status, outcomeText(res.body)]).toEqual([
    202,
    'The export is queued; poll ' + res.headers.get('content-location') + ' for its status',
  ]);
  const location = res.headers.get('content-location') as string;
  expect(location.startsWith(`${app.url}/fhir/bulk-export/`)).toBe(true);
  return location.slice(app.url.length);
}

/** Reads a completed export's manifest and files. */
async function readExport(app: AuthTestApp, token: string, statusPath: string): Promise<ExportResult> {
  const status = await app.call('GET', statusPath, { token });
  expect(status.status).toBe(200);
  expect(status.headers.get('expires')).toBeTruthy();
  const byType = new Map<string, Resource[]>();
  for (const file of status.body.output) {
    const res = await fetch(file.url, { headers: { Authorization: `Bearer ${token}`, Accept: 'application/fhir+ndjson' } });
    expect([res.status, res.headers.get('content-type')]).toEqual([200, 'application/fhir+ndjson']);
    const text = await res.text();
    expect(Number(res.headers.get('content-length'))).toBe(Buffer.byteLength(text));
    expect(text.endsWith('\n')).toBe(true);
    const resources = text
      .slice(0, -1)
      .split('\n')
      .map((line) => JSON.parse(line) as Resource);
    expect(resources.every((r) => r.resourceType === file.type)).toBe(true);
    expect(resources.length).toBe(file.count);
    byType.set(file.type, resources);
  }
  return { manifest: status.body, byType };
}

/** Kicks off, runs the queue, reads the result. */
async function exportOf(app: AuthTestApp, token: string, kickoffPath: string): Promise<ExportResult> {
  const statusPath = await kickOff(app, token, kickoffPath);
  await bulkExportJob(jobDeps(app), { sliceMs: 600_000 });
  return readExport(app, token, statusPath);
}

const countsOf = (result: ExportResult) =>
  Object.fromEntries(
    [...result.byType].map(([type, resources]) => [type, resources.length]).sort(([a], [b]) => String(a).localeCompare(String(b))),
  );

/** Current resources by type as of `at` (the export's transactionTime), as the database holds them. */
async function databaseCounts(app: AuthTestApp, at: string): Promise<Record<string, number>> {
  const { rows } = await sql<{ resource_type: string; n: number }>`
    select resource_type, count(*)::int as n from resource where not deleted and last_updated <= ${at}::timestamptz
    group by resource_type order by resource_type`.execute(app.database.db);
  return Object.fromEntries(rows.sort((a, b) => a.resource_type.localeCompare(b.resource_type)).map((row) => [row.resource_type, row.n]));
}

describe('Bulk Data $export', () => {
  let app: AuthTestApp;
  let operator: string;
  let maya: string;
  let westside: string;
  let ada: string;
  let ben: string;
  let outsider: string;

  beforeAll(async () => {
    app = await startAuthTestApp();
    operator = await operatorToken(app);
    maya = (await app.login(DEMO_PEOPLE.mayaChen.email as string, DEMO_PASSWORD)).access_token;
    const patients = await app.system.searchResources<Patient>('Patient', { _count: '100' });
    const idOf = (given: string) => patients.find((p) => p.name?.[0]?.given?.[0] === given)!.id!;
    [ada, ben] = [idOf('Ada'), idOf('Ben')];
    westside = (patients.find((p) => p.id === ada)!.managingOrganization!.reference as string).split('/')[1];
    // A patient of another practice, with a record of their own: Maya's exports never hold it.
    const other = await app.system.create<Organization>({ resourceType: 'Organization', name: 'Harbor Cardiology' });
    outsider = (
      await app.system.create<Patient>({
        resourceType: 'Patient',
        name: [{ family: 'Other', given: ['Olga'] }],
        managingOrganization: { reference: `Organization/${other.resource.id}` },
      })
    ).resource.id!;
    await app.system.create<Observation>({
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'Weight' },
      subject: { reference: `Patient/${outsider}` },
      valueString: '70 kg',
    });
    app.clock.advance(1000);
  });
  afterAll(() => app?.close());

  it('a system export by the operator holds every resource as stored, with the counts of the database by type', async () => {
    const statusPath = await kickOff(app, operator, '/fhir/$export?_outputFormat=application%2Ffhir%2Bndjson');
    // Written after the kick-off: not in the export, which holds the database as it was at transactionTime.
    app.clock.advance(1000);
    const queued = await app.call('GET', statusPath, { token: operator });
    expect([queued.status, queued.headers.get('x-progress'), queued.headers.get('retry-after')]).toEqual([202, 'queued', '2']);
    await app.system.create<Observation>({
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'Later' },
      subject: { reference: `Patient/${ada}` },
      valueString: 'after the kick-off',
    });
    await bulkExportJob(jobDeps(app), { sliceMs: 600_000 });
    const result = await readExport(app, operator, statusPath);
    expect(result.manifest.requiresAccessToken).toBe(true);
    expect(result.manifest.request).toBe(`${app.url}/fhir/$export?_outputFormat=application%2Ffhir%2Bndjson`);
    expect(countsOf(result)).toEqual(await databaseCounts(app, result.manifest.transactionTime));
    expect(result.byType.get('Observation')!.some((o) => (o as Observation).valueString === 'after the kick-off')).toBe(false);
    // Each line is the stored resource itself.
    const [patient] = result.byType.get('Patient')!.filter((p) => p.id === ada);
    expect(patient).toEqual(await app.system.read<Patient>('Patient', ada));
  });

  it('a file is the stored JSON of its resources byte for byte, however its download is sliced', async () => {
    const statusPath = await kickOff(app, operator, '/fhir/$export?_type=Observation,Patient');
    await bulkExportJob(jobDeps(app), { sliceMs: 600_000 });
    const id = statusPath.split('/').pop() as string;
    const manifest = (await app.call('GET', statusPath, { token: operator })).body as ExportResult['manifest'];
    for (const type of ['Observation', 'Patient']) {
      const { rows } = await sql<{ text: string }>`
        select string_agg(content || E'\n', '' order by id) as text from resource where resource_type = ${type} and not deleted`.execute(
        app.database.db,
      );
      const stored = Buffer.from(rows[0].text, 'utf8');
      const chunks = await exportFileChunks(app.database.db, id, type);
      // One line per statement, a few lines, and the default slice; on PostgreSQL by COPY, on PGlite by a joined text.
      for (const sliceBytes of [1, 5000, undefined]) {
        const pieces: Buffer[] = [];
        for await (const piece of exportFileText(app.database.db, app.database.kind, id, type, chunks, sliceBytes))
          pieces.push(Buffer.from(piece));
        expect([type, sliceBytes, Buffer.concat(pieces).equals(stored)]).toEqual([type, sliceBytes, true]);
      }
      const file = manifest.output.find((f) => f.type === type)!;
      const res = await fetch(file.url, { headers: { Authorization: `Bearer ${operator}` } });
      const body = Buffer.from(await res.arrayBuffer());
      expect([res.status, Number(res.headers.get('content-length')), body.equals(stored)]).toEqual([200, stored.length, true]);
    }
  });

  it("staff export their organisation's patients only; a Group (a practice's panel) narrows it to its members", async () => {
    const all = await exportOf(app, maya, '/fhir/Patient/$export');
    const { rows } = await sql<{ id: string }>`
      select resource_id as id from search_reference where resource_type = 'Patient' and code = 'organization'
        and target_id = ${westside} order by 1`.execute(app.database.db);
    expect(
      all.byType
        .get('Patient')!
        .map((p) => p.id)
        .sort(),
    ).toEqual(rows.map((row) => row.id));
    const exported = [...all.byType.values()].flat();
    expect(exported.some((r) => JSON.stringify(r).includes(outsider))).toBe(false);
    // Patient-level: records only, no shared reference data.
    expect(all.byType.has('Practitioner')).toBe(false);

    const panel = await app.call('POST', '/fhir/Group', {
      token: maya,
      json: {
        resourceType: 'Group',
        type: 'person',
        actual: true,
        name: "Dr. Chen's panel",
        member: [{ entity: { reference: `Patient/${ada}` } }, { entity: { reference: `Patient/${ben}` } }],
      },
    });
    expect([panel.status, outcomeText(panel.body)]).toEqual([201, '']);
    app.clock.advance(1000);
    const group = await exportOf(app, maya, `/fhir/Group/${panel.body.id}/$export?_type=Patient,Observation,Condition`);
    expect([...group.byType.keys()].sort()).toEqual(['Condition', 'Observation', 'Patient'].filter((t) => group.byType.has(t)).sort());
    expect(
      group.byType
        .get('Patient')!
        .map((p) => p.id)
        .sort(),
    ).toEqual([ada, ben].sort());
    const subjects = new Set(group.byType.get('Observation')!.map((o) => (o as Observation).subject?.reference));
    expect([...subjects].every((s) => s === `Patient/${ada}` || s === `Patient/${ben}`)).toBe(true);
    const { rows: expected } = await sql<{ n: number }>`
      select count(*)::int as n from resource where resource_type = 'Observation' and not deleted and owners && ${[ada, ben]}::text[]`.execute(
      app.database.db,
    );
    expect(group.byType.get('Observation')!.length).toBe(expected[0].n);

    // Each patient whose record went out has it in their activity history: an $export by Maya; the outsider has none.
    const exportsBy = async (patient: string) => {
      const events = await app.call('GET', `/fhir/AuditEvent?patient=Patient/${patient}&_count=1000`, { token: operator });
      return (events.body.entry ?? [])
        .map((e: any) => e.resource)
        .filter((ev: any) => ev.entity?.some((en: any) => en.detail?.some((d: any) => d.valueString === '$export')))
        .map((ev: any) => ev.agent?.[0]?.name);
    };
    expect(await exportsBy(ada)).toContain(DEMO_PEOPLE.mayaChen.displayName);
    expect(await exportsBy(outsider)).not.toContain(DEMO_PEOPLE.mayaChen.displayName);
  });

  it('_since returns only what changed after it', async () => {
    app.clock.advance(1000);
    const since = app.clock.now().toISOString();
    app.clock.advance(1000);
    const created = await app.system.create<Observation>({
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'Mood' },
      subject: { reference: `Patient/${ada}` },
      valueString: 'good',
    });
    const patient = await app.system.read<Patient>('Patient', ben);
    await app.system.update<Patient>({ ...patient, telecom: [{ system: 'phone', value: '555-0199' }] });
    app.clock.advance(1000);
    const result = await exportOf(app, maya, `/fhir/$export?_since=${encodeURIComponent(since)}&_type=Patient,Observation,Encounter`);
    expect(countsOf(result)).toEqual({ Observation: 1, Patient: 1 });
    expect(result.byType.get('Observation')![0].id).toBe(created.resource.id);
    expect(result.byType.get('Patient')![0]).toMatchObject({ id: ben, telecom: [{ system: 'phone', value: '555-0199' }] });
  });

  it("a resource moved into the organisation's records after the kick-off goes out as of then only if it was visible then", async () => {
    // Another practice's Observation, moved into Ada's record while Maya's export waits in the queue: the export holds
    // the version of the kick-off, which was in the outsider's record, so it is not Maya's to read.
    const elsewhere = await app.system.create<Observation>({
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'Blood pressure' },
      subject: { reference: `Patient/${outsider}` },
      valueString: '140/90 (Harbor)',
    });
    app.clock.advance(1000);
    const statusPath = await kickOff(app, maya, '/fhir/$export?_type=Observation');
    app.clock.advance(1000);
    await app.system.update<Observation>({ ...elsewhere.resource, subject: { reference: `Patient/${ada}` } });
    await bulkExportJob(jobDeps(app), { sliceMs: 600_000 });
    const result = await readExport(app, maya, statusPath);
    const exported = result.byType.get('Observation')!;
    expect(exported.filter((o) => o.id === elsewhere.resource.id)).toEqual([]);
    expect(exported.some((o) => JSON.stringify(o).includes(outsider))).toBe(false);
  });

  it('refuses a patient, and unknown or unsupported parameters, each with an OperationOutcome', async () => {
    const adaToken = (await app.login(DEMO_PEOPLE.ada.email as string, DEMO_PASSWORD)).access_token;
    for (const kickoff of ['/fhir/$export', '/fhir/Patient/$export']) {
      const res = await app.call('GET', kickoff, { token: adaToken });
      expect([res.status, res.body.resourceType]).toEqual([403, 'OperationOutcome']);
      expect(outcomeText(res.body)).toMatch(/portal account cannot export/);
    }
    const cases: [string, number, RegExp][] = [
      ['/fhir/$export?_outputFormat=text/csv', 400, /_outputFormat must be application\/fhir\+ndjson/],
      ['/fhir/$export?_type=Spaceship', 400, /unsupported resource type "Spaceship"/],
      ['/fhir/$export?_since=yesterday', 400, /_since must be a FHIR instant/],
      ['/fhir/$export?_typeFilter=Observation%3Fstatus%3Dfinal', 400, /does not support _typeFilter/],
      ['/fhir/$export?color=blue', 400, /Unknown parameter "color"/],
      ['/fhir/Group/no-such-group/$export', 404, /Group\/no-such-group/],
    ];
    for (const [kickoff, status, text] of cases) {
      const res = await app.call('GET', kickoff, { token: maya });
      expect([kickoff, res.status]).toEqual([kickoff, status]);
      expect(outcomeText(res.body)).toMatch(text);
    }
    for (const format of ['ndjson', 'application/ndjson', 'application/fhir+ndjson']) {
      const res = await app.call('GET', `/fhir/$export?_type=Organization&_outputFormat=${format}`, { token: maya });
      expect([format, res.status]).toEqual([format, 202]);
    }
    await bulkExportJob(jobDeps(app), { sliceMs: 600_000 });
  });

  it('a POST kick-off judges every Parameters entry: each _type counts, a patient or a second _since is a 400', async () => {
    const post = (parameter: object[]) =>
      app.call('POST', '/fhir/$export', { token: maya, json: { resourceType: 'Parameters', parameter } });
    const cases: [object[], RegExp][] = [
      [[{ name: 'patient', valueReference: { reference: `Patient/${ada}` } }], /does not support patient/],
      [
        [
          { name: '_type', valueString: 'Patient' },
          { name: 'patient', valueReference: { reference: `Patient/${ada}` } },
        ],
        /does not support patient/,
      ],
      [
        [
          { name: '_since', valueInstant: '2026-01-01T00:00:00Z' },
          { name: '_since', valueInstant: '2020-01-01T00:00:00Z' },
        ],
        /takes one _since/,
      ],
      [
        [
          { name: '_type', valueString: 'Patient' },
          { name: '_type', valueString: 'Spaceship' },
        ],
        /unsupported resource type "Spaceship"/,
      ],
    ];
    for (const [parameter, text] of cases) {
      const res = await post(parameter);
      expect([res.status, res.body.resourceType]).toEqual([400, 'OperationOutcome']);
      expect(outcomeText(res.body)).toMatch(text);
    }
    const res = await post([
      { name: '_type', valueString: 'Patient' },
      { name: '_type', valueString: 'Organization' },
    ]);
    expect(res.status).toBe(202);
    const statusPath = (res.headers.get('content-location') as string).slice(app.url.length);
    await bulkExportJob(jobDeps(app), { sliceMs: 600_000 });
    const result = await readExport(app, maya, statusPath);
    expect([...result.byType.keys()].sort()).toEqual(['Organization', 'Patient']);
  });

  it('a GET kick-off with _type repeated exports every type named, as the comma-separated form does', async () => {
    const result = await exportOf(app, maya, '/fhir/$export?_type=Patient&_type=Organization');
    expect([...result.byType.keys()].sort()).toEqual(['Organization', 'Patient']);
    expect(result.manifest.request).toBe(`${app.url}/fhir/$export?_type=Patient%2COrganization`);
  });

  it("only the requester reads an export's status and files; a portal token gets nothing", async () => {
    const statusPath = await kickOff(app, maya, '/fhir/$export?_type=Patient');
    await bulkExportJob(jobDeps(app), { sliceMs: 600_000 });
    const done = await app.call('GET', statusPath, { token: maya });
    const adaToken = (await app.login(DEMO_PEOPLE.ada.email as string, DEMO_PASSWORD)).access_token;
    for (const token of [operator, adaToken]) {
      expect((await app.call('GET', statusPath, { token })).status).toBe(404);
      expect((await app.call('GET', done.body.output[0].url.slice(app.url.length), { token })).status).toBe(404);
    }
    expect((await app.call('GET', done.body.output[0].url.slice(app.url.length))).status).toBe(401);
    expect((await app.call('GET', `${statusPath}/Spaceship.ndjson`, { token: maya })).status).toBe(404);
  });

  it('DELETE cancels an export: its status is gone and no worker runs it', async () => {
    const statusPath = await kickOff(app, maya, '/fhir/$export');
    const cancelled = await app.call('DELETE', statusPath, { token: maya });
    expect([cancelled.status, outcomeText(cancelled.body)]).toEqual([202, 'The export was cancelled and its files deleted']);
    expect((await app.call('GET', statusPath, { token: maya })).status).toBe(404);
    expect(await bulkExportJob(jobDeps(app), { sliceMs: 600_000 })).toEqual([]);
    expect((await app.call('DELETE', statusPath, { token: maya })).status).toBe(404);
  });

  it('files expire after EXPORT_FILE_TTL_SECONDS and the cleanup job deletes them', async () => {
    const statusPath = await kickOff(app, maya, '/fhir/$export?_type=Patient');
    await bulkExportJob(jobDeps(app), { sliceMs: 600_000 });
    const done = await app.call('GET', statusPath, { token: maya });
    expect(done.status).toBe(200);
    const id = statusPath.split('/').pop() as string;
    app.clock.advance((TTL_SECONDS - 1) * 1000);
    // An hour on, Maya signs in again: her new token reads what her first one asked for.
    maya = (await app.login(DEMO_PEOPLE.mayaChen.email as string, DEMO_PASSWORD)).access_token;
    expect((await app.call('GET', done.body.output[0].url.slice(app.url.length), { token: maya })).status).toBe(200);
    app.clock.advance(1000);
    expect((await app.call('GET', statusPath, { token: maya })).status).toBe(404);
    expect((await app.call('GET', done.body.output[0].url.slice(app.url.length), { token: maya })).status).toBe(404);
    expect(await expireExportsJob(jobDeps(app))).toBeGreaterThanOrEqual(1);
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from export_chunk where job_id = ${id}`.execute(app.database.db);
    expect(rows[0].n).toBe(0);
  });

  it('an export whose worker died mid-way is taken over once its lease runs out and completes, nothing twice', async () => {
    operator = await operatorToken(app);
    const reference = await exportOf(app, operator, '/fhir/$export?_type=Observation');
    const statusPath = await kickOff(app, operator, '/fhir/$export?_type=Observation');
    // A worker claims the export, commits two small batches, and dies holding the lease.
    const job = (await claimExport(app.database.db, app.clock.now()))!;
    let position = await resumePosition(app.database.db, job);
    for (let i = 0; i < 2; i++) {
      const at = position!;
      const written = await app.database.db.transaction().execute(async (trx) => {
        await renewLease(trx, job, app.clock.now());
        return writeBatch(trx, job, at, { rows: 3, bytes: 1 << 20 });
      });
      position = written ? { type: at.type, chunkNo: at.chunkNo + 1, afterId: written.lastId } : nextType(job, at.type);
    }
    const running = await app.call('GET', statusPath, { token: operator });
    expect([running.status, running.headers.get('x-progress')]).toEqual([202, '6 resources written; type 1 of 1 (Observation)']);
    // While the lease holds, no other worker touches it.
    expect(await bulkExportJob(jobDeps(app), { sliceMs: 600_000 })).toEqual([]);
    app.clock.advance(EXPORT_LEASE_SECONDS * 1000);
    const reports = await bulkExportJob(jobDeps(app), { sliceMs: 600_000 });
    expect(reports?.map((r) => [r.id, r.outcome])).toEqual([[job.id, 'completed']]);
    // The dead worker, should it wake, no longer holds the job.
    await expect(app.database.db.transaction().execute((trx) => renewLease(trx, job, app.clock.now()))).rejects.toThrow(/no longer held/);
    const result = await readExport(app, operator, statusPath);
    const ids = result.byType.get('Observation')!.map((o) => o.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual(
      reference.byType
        .get('Observation')!
        .map((o) => o.id)
        .sort(),
    );
  });
});

describe('Bulk Data $export: exports a requester keeps', () => {
  let app: AuthTestApp;

  beforeAll(async () => {
    app = await startAuthTestApp();
  });
  afterAll(() => app?.close());

  it(`past ${EXPORT_LIMITS.keptPerRequester} kept exports a kick-off is 429 until one is deleted or expires`, async () => {
    const maya = (await app.login(DEMO_PEOPLE.mayaChen.email as string, DEMO_PASSWORD)).access_token;
    const kept: string[] = [];
    let firstExpires = '';
    for (let i = 0; i < EXPORT_LIMITS.keptPerRequester; i++) {
      kept.push(await kickOff(app, maya, '/fhir/$export?_type=Organization'));
      await bulkExportJob(jobDeps(app), { sliceMs: 600_000 });
      if (i === 0) firstExpires = new Date(app.clock.now().getTime() + TTL_SECONDS * 1000).toISOString();
      app.clock.advance(1000);
    }
    const refused = await app.call('GET', '/fhir/$export?_type=Organization', { token: maya });
    expect([refused.status, outcomeText(refused.body)]).toEqual([
      429,
      `You keep ${EXPORT_LIMITS.keptPerRequester} exports; delete one you have read (DELETE its status URL), or wait until ${firstExpires}, when the oldest expires`,
    ]);
    // Every kept export still reads: none was dropped to make room.
    for (const statusPath of kept) expect((await app.call('GET', statusPath, { token: maya })).status).toBe(200);
    // Another requester is not held by Maya's.
    const other = await kickOff(app, await operatorToken(app), '/fhir/$export?_type=Organization');
    expect((await app.call('DELETE', other, { token: await operatorToken(app) })).status).toBe(202);

    expect((await app.call('DELETE', kept[5], { token: maya })).status).toBe(202);
    kept.splice(5, 1, await kickOff(app, maya, '/fhir/$export?_type=Organization'));
    await bulkExportJob(jobDeps(app), { sliceMs: 600_000 });
    expect((await app.call('GET', '/fhir/$export?_type=Organization', { token: maya })).status).toBe(429);
    // Once the oldest has expired, there is room again.
    app.clock.set(new Date(new Date(firstExpires).getTime() + 1));
    const later = (await app.login(DEMO_PEOPLE.mayaChen.email as string, DEMO_PASSWORD)).access_token;
    expect((await app.call('GET', '/fhir/$export?_type=Organization', { token: later })).status).toBe(202);
  });
});

(corpusPresent ? describe : describe.skip)('Bulk Data $export of the Synthea corpus', () => {
  let app: AuthTestApp;

  beforeAll(async () => {
    app = await startAuthTestApp();
    const summary = await importFhirFiles(app.system, listJsonFiles([CORPUS]), { workers: 0 });
    expect(summary.failures).toEqual([]);
    app.clock.advance(1000);
  }, 600_000);
  afterAll(() => app?.close());

  it('exports every resource, each once, with the counts of the database by type', async () => {
    const result = await exportOf(app, await operatorToken(app), '/fhir/$export');
    expect(countsOf(result)).toEqual(await databaseCounts(app, result.manifest.transactionTime));
    for (const [type, resources] of result.byType)
      expect([type, new Set(resources.map((r) => r.id)).size]).toEqual([type, resources.length]);
    expect(result.byType.get('Patient')!.length).toBeGreaterThanOrEqual(listJsonFiles([CORPUS]).length);
  }, 600_000);
});
