import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { openDatabase } from '../src/db/database';
import {
  type ChartkeeperProcess,
  type ProcessStorage,
  runChartkeeper,
  spawnChartkeeper,
  startServe,
  staffToken,
} from './support/chartkeeper-process';

/**
 * `chartkeeper backup` / `restore` of the embedded database: the demo family, a changed resource, sessions and a mail
 * in the outbox are backed up, restored into a new folder, and found there as they were; a server on the restored
 * folder signs the same people in and accepts the tokens the old one issued.
 */

jest.setTimeout(300_000);

const DEMO = { email: 'ada.park@example.com', password: 'chartkeeper-demo' };

/** An embedded-database folder of its own (DATABASE_URL left out: backup is for the embedded database). */
function embeddedStorage(prefix: string): ProcessStorage {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  return {
    dataDir,
    env(extra = {}) {
      const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, ...extra };
      delete env.NODE_OPTIONS;
      delete env.DATABASE_URL;
      return env;
    },
    open: () => openDatabase({ dataDir }),
    backends: () => Promise.resolve(0),
    drop() {
      fs.rmSync(dataDir, { recursive: true, force: true });
      return Promise.resolve();
    },
  };
}

/** What must survive: live resources by type, every history version (with a digest of its content), accounts, sessions. */
async function snapshot(storage: ProcessStorage): Promise<Record<string, unknown>> {
  const database = await storage.open();
  try {
    const db = database.db;
    const { rows: resources } =
      await sql`select resource_type, count(*)::int as n from resource where not deleted group by 1 order by 1`.execute(db);
    const { rows: history } = await sql<{ resource_type: string; id: string; version: number; content: string }>`
      select resource_type, id, version, content from resource_history order by 1, 2, 3`.execute(db);
    const { rows: accounts } = await sql`select id, email, password_hash, kind, patient_id from account order by email`.execute(db);
    const { rows: sessions } = await sql`select id, account_id, token_hash, revoked_at from refresh_token order by id`.execute(db);
    const digest = createHash('sha256');
    for (const row of history) digest.update(`${row.resource_type}/${row.id}/${row.version}:${row.content}\n`);
    return { resources, historyVersions: history.length, historyDigest: digest.digest('hex'), accounts, sessions };
  } finally {
    await database.close();
  }
}

/** The files of a data folder's keys/ and outbox/, by relative path, as SHA-256 digests. */
function dataFiles(dataDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const folder of ['keys', 'outbox']) {
    const root = path.join(dataDir, folder);
    if (!fs.existsSync(root)) continue;
    for (const name of fs.readdirSync(root))
      out[`${folder}/${name}`] = createHash('sha256')
        .update(fs.readFileSync(path.join(root, name)))
        .digest('hex');
  }
  return out;
}

async function stop(server: ChartkeeperProcess): Promise<void> {
  server.child.kill('SIGTERM');
  expect((await server.exited).code).toBe(0);
}

const post = (port: number, route: string, body: unknown, token?: string) =>
  fetch(`http://127.0.0.1:${port}${route}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });

// The commands read the embedded database only; the PostgreSQL run of the suite has nothing more to show here.
const embedded = process.env.DATABASE_URL ? test.skip : test;
if (process.env.DATABASE_URL)
  console.log('backup-restore: the embedded-database round trip runs in the PGlite run of the suite (DATABASE_URL is set)');

let source: ProcessStorage;
let target: ProcessStorage;
let backupFile: string;

beforeAll(() => {
  source = embeddedStorage('backup-source');
  target = embeddedStorage('backup-target');
  backupFile = path.join(os.tmpdir(), `chartkeeper-backup-${process.pid}.zip`);
});
afterAll(async () => {
  await source.drop();
  await target.drop();
  fs.rmSync(backupFile, { force: true });
});

embedded('a backup of the demo family restores into a new folder with the same records, history, accounts, key and outbox', async () => {
  // The source: demo family, one resource changed (a second version), a session, a mail in the outbox.
  const server = await startServe(source, { SEED_DEMO: 'true' });
  const login = await post(server.port, '/auth/login', DEMO);
  expect(login.status).toBe(200);
  const { refresh_token: refreshToken } = (await login.json()) as { refresh_token: string };
  const staff = await staffToken(source);
  const patients = (await (
    await fetch(`http://127.0.0.1:${server.port}/fhir/Patient?name=park&_count=1`, { headers: { Authorization: `Bearer ${staff}` } })
  ).json()) as { entry: { resource: { id: string; telecom?: unknown[] } }[] };
  const patient = patients.entry[0].resource;
  const put = await fetch(`http://127.0.0.1:${server.port}/fhir/Patient/${patient.id}`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${staff}`, 'Content-Type': 'application/fhir+json' },
    body: JSON.stringify({ ...patient, telecom: [...(patient.telecom ?? []), { system: 'phone', value: '555-0100', use: 'mobile' }] }),
  });
  expect(put.status).toBe(200);
  expect((await post(server.port, '/auth/password/forgot', { email: DEMO.email })).status).toBe(202);
  await stop(server);
  const before = await snapshot(source);
  const filesBefore = dataFiles(source.dataDir);
  expect(Object.keys(filesBefore)).toContain('keys/access-token.key');
  expect(Object.keys(filesBefore).filter((f) => f.startsWith('outbox/') && f.endsWith('.eml')).length).toBeGreaterThanOrEqual(1);
  expect((before.resources as unknown[]).length).toBeGreaterThan(5);

  const backup = await runChartkeeper(source, ['backup', backupFile]);
  expect(backup.stderr).toBe('');
  expect(backup.code).toBe(0);
  expect(backup.stdout).toMatch(/^backed up .* to .*: \d+ resources, \d+ migrations, [\d.]+ MB\n$/);
  expect(fs.statSync(backupFile).mode & 0o777).toBe(0o600);

  const restore = await runChartkeeper(target, ['restore', backupFile]);
  expect(restore.stderr).toBe('');
  expect(restore.code).toBe(0);
  expect(await snapshot(target)).toEqual(before);
  expect(dataFiles(target.dataDir)).toEqual(filesBefore);

  // A server on the restored folder: the same logins, the old session's refresh token, the old key's tokens.
  const restored = await startServe(target);
  try {
    expect((await post(restored.port, '/auth/login', DEMO)).status).toBe(200);
    expect((await post(restored.port, '/auth/login', { ...DEMO, password: 'not-the-password-at-all' })).status).toBe(401);
    expect((await post(restored.port, '/auth/refresh', { refresh_token: refreshToken })).status).toBe(200);
    const read = await fetch(`http://127.0.0.1:${restored.port}/fhir/Patient/${patient.id}/_history`, {
      headers: { Authorization: `Bearer ${staff}` },
    });
    expect(read.status).toBe(200);
    expect(((await read.json()) as { total: number }).total).toBe(2);
  } finally {
    await stop(restored);
  }
});

embedded('restore refuses a folder that already holds a database, and a file that is not a backup', async () => {
  const again = await runChartkeeper(target, ['restore', backupFile]);
  expect(again.code).toBe(1);
  expect(again.stderr).toBe(`${target.dataDir} already holds pglite and keys: restore into an empty data folder (--data-dir)\n`);
  const empty = embeddedStorage('backup-garbage');
  try {
    const garbage = path.join(empty.dataDir, 'not-a-backup.zip');
    fs.writeFileSync(garbage, 'hello');
    const run = await runChartkeeper(empty, ['restore', garbage]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^.*not-a-backup\.zip: not a Chartkeeper backup \(not a readable zip: .*\)\n$/);
    expect(fs.existsSync(path.join(empty.dataDir, 'pglite'))).toBe(false);
  } finally {
    await empty.drop();
  }
});

test('backup and restore point PostgreSQL users to pg_dump and pg_restore', async () => {
  const env = { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres' };
  const storage = embeddedStorage('backup-pg');
  try {
    const run = spawnChartkeeper({ ...storage, env: (extra = {}) => ({ ...storage.env(), ...env, ...extra }) }, [
      'backup',
      path.join(storage.dataDir, 'x.zip'),
    ]);
    expect((await run.exited).code).toBe(2);
    expect(run.stderr()).toBe('chartkeeper backup is for the embedded database; with DATABASE_URL use pg_dump (see docs/OPERATIONS.md)\n');
  } finally {
    await storage.drop();
  }
});
