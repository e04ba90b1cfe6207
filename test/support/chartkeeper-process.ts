import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { signAccessToken } from '../../src/auth/access-token';
import { signingKeyFor } from '../../src/auth/token-authenticator';
import { type Database, openDatabase } from '../../src/db/database';
import { createScratchDatabase } from './scratch-database';
import { systemClock } from '../../src/fhir/clock';

/**
 * `chartkeeper` run as a user runs it (bin/chartkeeper.js, in a process of its own), on storage of the test's own: an
 * embedded database in a temporary folder, or with DATABASE_URL a fresh database on that server.
 */

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'chartkeeper.js');

/** A data folder, and with DATABASE_URL a fresh database on that server; both removed by drop(). */
export interface ProcessStorage {
  readonly dataDir: string;
  readonly databaseUrl?: string;
  /** The environment of a chartkeeper process on this storage (NODE_OPTIONS of jest left out). */
  env(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** Opens the database from this process (the embedded one only while no chartkeeper process holds it). */
  open(): Promise<Database>;
  /** Connections open to the scratch database (always 0 on the embedded one). */
  backends(): Promise<number>;
  drop(): Promise<void>;
}

/** Creates the storage; `prefix` names the temporary folder and scratch database. */
export async function processStorage(prefix: string): Promise<ProcessStorage> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  const serverUrl = process.env.DATABASE_URL;
  const scratch = serverUrl ? await createScratchDatabase(serverUrl, `ck_test_${prefix.replace(/\W/g, '_')}`) : undefined;
  const databaseUrl = scratch?.url;
  return {
    dataDir,
    databaseUrl,
    env(extra = {}) {
      const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, ...extra };
      delete env.NODE_OPTIONS; // jest's VM-module flags are not for the child
      if (databaseUrl) env.DATABASE_URL = databaseUrl;
      else delete env.DATABASE_URL;
      return env;
    },
    open: () => openDatabase({ databaseUrl, dataDir }),
    async backends() {
      if (!scratch || !serverUrl) return 0;
      const client = new Client({ connectionString: serverUrl });
      await client.connect();
      try {
        return (await client.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where datname = $1', [scratch.name]))
          .rows[0].n;
      } finally {
        await client.end();
      }
    },
    async drop() {
      await scratch?.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A chartkeeper process started by spawnChartkeeper. */
export interface ChartkeeperProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** Resolves when it has exited: its exit code, or the signal that ended it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
}

/** Starts `chartkeeper ARGS` on this storage. */
export function spawnChartkeeper(storage: ProcessStorage, args: string[], env: NodeJS.ProcessEnv = {}): ChartkeeperProcess {
  const child = spawn(process.execPath, [BIN, ...args], { env: storage.env(env), stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end();
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

/** Runs `chartkeeper ARGS` to the end. */
export async function runChartkeeper(
  storage: ProcessStorage,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = spawnChartkeeper(storage, args, env);
  const { code } = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** Resolves once the process's stderr matches `pattern` (with the match), or rejects if it exits first. */
export function waitForStderr(run: ChartkeeperProcess, pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = pattern.exec(run.stderr());
      if (match) {
        run.child.stderr.off('data', check);
        resolve(match);
      }
    };
    run.child.stderr.on('data', check);
    // `exited` never rejects; this only fails the wait if the process ends before its output matched.
    void run.exited.then(() => reject(new Error(`chartkeeper exited before its output matched ${pattern}: ${run.stderr()}`)));
    check();
  });
}

/** `chartkeeper serve` on port 0; resolves with the process and the port it listens on. */
export async function startServe(storage: ProcessStorage, env: NodeJS.ProcessEnv = {}): Promise<ChartkeeperProcess & { port: number }> {
  const run = spawnChartkeeper(storage, ['serve'], { PORT: '0', HOST: '127.0.0.1', SEED_DEMO: 'false', LOG_LEVEL: 'info', ...env });
  const match = await waitForStderr(run, /running at http:\/\/localhost:(\d+)/);
  return { ...run, port: Number(match[1]) };
}

/** A staff bearer token signed with the key of the server on this storage. */
export async function staffToken(storage: ProcessStorage): Promise<string> {
  const key = await signingKeyFor({ dataDir: storage.dataDir });
  return signAccessToken({ sub: 'Practitioner/test-staff', kind: 'staff' }, key, { clock: systemClock, ttlSeconds: 600 });
}
