import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../src/db/database';
import { migrateToLatest } from '../src/db/migrator';

/** A second process on the same embedded database, as a user starts one: bin/chartkeeper.js in a process of its own. */
const BIN = path.resolve(__dirname, '..', 'bin', 'chartkeeper.js');

let dataDir: string;
let lockFile: string;

beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ck-lock-'));
  lockFile = path.join(dataDir, 'chartkeeper.lock');
});
afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

function chartkeeperMigrate(): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.DATABASE_URL; // this is about the embedded database, on every run of the suite
  return new Promise((resolve) => {
    execFile(BIN, ['migrate', '--data-dir', dataDir], { env, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** The pid of a process that has just exited. */
function deadPid(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, ['-e', ''], (err) => (err ? reject(new Error(err.message)) : resolve(child.pid!)));
  });
}

test('a second process is refused while the embedded database is open, and gets it once the first closed it', async () => {
  const first = await openDatabase({ dataDir });
  try {
    await migrateToLatest(first.db);
    expect(fs.readFileSync(lockFile, 'utf8')).toBe(`${process.pid}\n`);

    const refused = await chartkeeperMigrate();
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toBe(
      `chartkeeper: the embedded database in ${dataDir} is in use by another Chartkeeper process (pid ${process.pid}). ` +
        'Stop it first, or point DATABASE_URL at a PostgreSQL server to share one database.\n',
    );
    // The same folder opened twice in one process would do the same damage.
    await expect(openDatabase({ dataDir })).rejects.toThrow(`the embedded database in ${dataDir} is already open in this process.`);
  } finally {
    await first.close();
  }
  expect(fs.existsSync(lockFile)).toBe(false);

  const second = await chartkeeperMigrate();
  expect(second).toEqual({ code: 0, stdout: 'database is up to date\n', stderr: '' });
  expect(fs.existsSync(lockFile)).toBe(false);
}, 120_000);

test('a lock left by a process that no longer runs is taken over', async () => {
  fs.writeFileSync(lockFile, `${await deadPid()}\n`);
  const migrated = await chartkeeperMigrate();
  expect(migrated.code).toBe(0);
  expect(migrated.stdout).toMatch(/^applied: /);
  expect(fs.existsSync(lockFile)).toBe(false);

  // A lock holding this very pid was left by an earlier process that had it (pids repeat, in containers at once).
  fs.writeFileSync(lockFile, `${process.pid}\n`);
  const database = await openDatabase({ dataDir });
  try {
    expect(fs.readFileSync(lockFile, 'utf8')).toBe(`${process.pid}\n`);
  } finally {
    await database.close();
  }
  expect(fs.readdirSync(dataDir).sort()).toEqual(['pglite']); // no lock, no leftovers of the takeover
}, 120_000);
