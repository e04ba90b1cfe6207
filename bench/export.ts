/**
 * Bulk Data `$export` benchmark (issue 21), on the real PostgreSQL (DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres) in a fresh database it creates and drops. The Synthea corpus
 * (../shared/corpus/fhir) is imported first (not measured), then each round measures, one after the other:
 * - product: a system `$export` by the operator through the server run as `npm start` runs it (its Node flags, its own
 *   job scheduler): kick-off, status polled every 50 ms until the manifest, then every ndjson file downloaded to disk;
 *   resources/s from the kick-off until the last file is on disk. The time until the job first reports progress (the
 *   queue's pick-up, at most the job's one-second tick) is printed apart, as is the server's event-loop delay.
 * - reference: PostgreSQL's `COPY (select content from resource) TO STDOUT` through psql into a file.
 * Target: the product's rate at least 50% of the reference's.
 * Run: npm run bench:export, with BENCH_ROUNDS=3 (the median is reported), BENCH_COPIES=1 (import the corpus this many
 * times, as other patients, for a larger export).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Pool } from 'pg';
import { unrestrictedScope } from '../src/access/access-scope';
import { signAccessToken, signingKeyFromString } from '../src/auth/access-token';
import { openDatabase } from '../src/db/database';
import { migrateToLatest } from '../src/db/migrator';
import { systemClock } from '../src/fhir/clock';
import { loadFhirDefinitions } from '../src/fhir/definitions';
import { importFhirFiles, listJsonFiles } from '../src/fhir/fhir-file-import';
import { Repository } from '../src/fhir/repository';
import { SERVER_NODE_FLAGS } from '../src/server-node-flags';
import { createBenchDatabase } from './support/bench-database';
import { type ChildServer, startChildServer } from './support/child-server';

const CORPUS = path.resolve(__dirname, '../../shared/corpus/fhir');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const COPIES = Number(process.env.BENCH_COPIES ?? 1);
const TARGET_RATIO = 0.5;

/** One measured export. */
interface Run {
  readonly resources: number;
  readonly seconds: number;
  readonly bytes: number;
  /** Product only: kick-off until the job first reported progress, and the server's event-loop delay meanwhile. */
  readonly pickupSeconds?: number;
  readonly eventLoopP99?: number;
  readonly eventLoopMax?: number;
}

const rate = (run: Run) => run.resources / run.seconds;

/** The corpus, `copies` times: each copy's files differ by trailing spaces and name, so each is imported anew. */
function corpusFiles(copies: number): { files: string[]; dir?: string } {
  const files = listJsonFiles([CORPUS]);
  if (copies <= 1) return { files };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ck-export-corpus-'));
  const out: string[] = [];
  for (let copy = 0; copy < copies; copy++) {
    for (const file of files) {
      const target = path.join(dir, `copy${copy}-${path.basename(file)}`);
      fs.writeFileSync(target, fs.readFileSync(file, 'utf8') + ' '.repeat(copy));
      out.push(target);
    }
  }
  return { files: out, dir };
}

async function importCorpus(url: string): Promise<void> {
  const database = await openDatabase({ databaseUrl: url, dataDir: '' });
  try {
    await migrateToLatest(database.db);
    loadFhirDefinitions();
    const repo = new Repository(database.db, { scope: unrestrictedScope('bench'), clock: systemClock, fhirBase: 'http://127.0.0.1/fhir' });
    const { files, dir } = corpusFiles(COPIES);
    const summary = await importFhirFiles(repo, files, { workers: 1 });
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    if (summary.failures.length) throw new Error(`import failed: ${JSON.stringify(summary.failures.slice(0, 3))}`);
    console.log(`imported ${summary.resources} resources from ${summary.files} files in ${summary.seconds.toFixed(1)} s`);
  } finally {
    await database.close();
  }
}

async function productRun(server: ChildServer, token: string, outDir: string): Promise<Run> {
  const headers = { Authorization: `Bearer ${token}` };
  await server.pauses();
  const started = performance.now();
  const kickoff = await fetch(`${server.url}/fhir/$export`, { headers: { ...headers, Prefer: 'respond-async' } });
  if (kickoff.status !== 202) throw new Error(`kick-off: ${kickoff.status} ${await kickoff.text()}`);
  const status = kickoff.headers.get('content-location') as string;
  let pickup: number | undefined;
  let manifest: { output: { type: string; url: string; count: number }[] } | undefined;
  while (!manifest) {
    const res = await fetch(status, { headers });
    if (res.status === 200) manifest = (await res.json()) as typeof manifest;
    else if (res.status !== 202) throw new Error(`status: ${res.status} ${await res.text()}`);
    else {
      await res.arrayBuffer();
      if (pickup === undefined && res.headers.get('x-progress') !== 'queued') pickup = (performance.now() - started) / 1000;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  let bytes = 0;
  for (const file of manifest.output) {
    const res = await fetch(file.url, { headers: { ...headers, Accept: 'application/fhir+ndjson' } });
    if (res.status !== 200 || !res.body) throw new Error(`file ${file.type}: ${res.status}`);
    const target = path.join(outDir, `${file.type}.ndjson`);
    await pipeline(Readable.fromWeb(res.body), fs.createWriteStream(target));
    bytes += fs.statSync(target).size;
  }
  const seconds = (performance.now() - started) / 1000;
  const pauses = await server.pauses();
  await (await fetch(status, { method: 'DELETE', headers })).arrayBuffer();
  const resources = manifest.output.reduce((sum, file) => sum + file.count, 0);
  return {
    resources,
    seconds,
    bytes,
    pickupSeconds: pickup ?? seconds,
    eventLoopP99: pauses.eventLoopP99,
    eventLoopMax: pauses.eventLoopMax,
  };
}

async function referenceRun(url: string, resources: number, outDir: string): Promise<Run> {
  const target = path.join(outDir, 'copy.txt');
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const out = fs.createWriteStream(target);
    const psql = spawn('psql', [url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', 'COPY (select content from resource) TO STDOUT'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    psql.stdout.pipe(out);
    psql.once('error', reject);
    psql.once('exit', (code) => (code === 0 ? out.once('close', () => resolve()) : reject(new Error(`psql exited with ${code}`))));
  });
  const seconds = (performance.now() - started) / 1000;
  return { resources, seconds, bytes: fs.statSync(target).size };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const line = (label: string, run: Run): string =>
  `  ${label.padEnd(12)} ${rate(run).toFixed(0).padStart(8)} resources/s  ${run.resources} resources, ${(run.bytes / 1024 / 1024).toFixed(1)} MB in ${run.seconds.toFixed(2)} s` +
  (run.pickupSeconds === undefined
    ? ''
    : `  (picked up after ${run.pickupSeconds.toFixed(2)} s; server event loop p99 ${run.eventLoopP99!.toFixed(1)} ms, max ${run.eventLoopMax!.toFixed(1)} ms)`);

async function main(): Promise<void> {
  if (!fs.existsSync(CORPUS)) throw new Error(`the Synthea corpus ${CORPUS} is absent`);
  const bench = await createBenchDatabase();
  const signingKey = randomBytes(32).toString('hex');
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ck-export-bench-'));
  let server: ChildServer | undefined;
  try {
    await importCorpus(bench.url);
    const pool = new Pool({ connectionString: bench.url, max: 1 });
    await pool.query('vacuum analyze');
    const { rows } = await pool.query<{ n: number }>('select count(*)::int as n from resource');
    await pool.end();
    server = await startChildServer(
      ['product', 'warn'],
      { BENCH_DATABASE_URL: bench.url, BENCH_SIGNING_KEY: signingKey },
      SERVER_NODE_FLAGS,
    );
    // The operator's staff token, as `chartkeeper token --staff` prints it: a system export of everything.
    const token = await signAccessToken({ sub: 'staff:cli', kind: 'staff' }, signingKeyFromString(signingKey), {
      clock: systemClock,
      ttlSeconds: 3600,
    });
    console.log(
      `Bulk $export of the Synthea corpus (x${COPIES}): ${ROUNDS} round(s), median; machine: ${os.cpus().length} CPUs, load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    const product: Run[] = [];
    const reference: Run[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which goes first, so neither always runs on a warmer cache.
      const order = round % 2 ? ['reference', 'product'] : ['product', 'reference'];
      for (const which of order) {
        if (which === 'product') {
          const run = await productRun(server, token, outDir);
          product.push(run);
          console.log(line(`product ${round + 1}`, run));
        } else {
          const run = await referenceRun(bench.url, rows[0].n, outDir);
          reference.push(run);
          console.log(line(`COPY ${round + 1}`, run));
        }
      }
    }
    const productRate = median(product.map(rate));
    const referenceRate = median(reference.map(rate));
    const ratio = productRate / referenceRate;
    console.log(`median: $export ${productRate.toFixed(0)} resources/s, COPY ${referenceRate.toFixed(0)} resources/s`);
    console.log(`ratio ${ratio.toFixed(2)} (target >= ${TARGET_RATIO}): ${ratio >= TARGET_RATIO ? 'met' : 'NOT met'}`);
  } finally {
    await server?.stop();
    fs.rmSync(outDir, { recursive: true, force: true });
    await bench.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
