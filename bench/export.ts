/**
 * Bulk Data `$export` benchmark (issue 21), on the real PostgreSQL (DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres) in a fresh database it creates and drops. The Synthea corpus
 * (../shared/corpus/fhir) is imported first (not measured), then each round measures, one after the other:
 * - product: a system `$export` by the operator through the server run as `npm start` runs it (its Node flags, its own
 *   job scheduler): kick-off, status polled every 50 ms until the manifest, then the ndjson files downloaded to disk;
 *   resources/s from the kick-off until the last file is on disk. The time until the job first reports progress (the
 *   queue's pick-up, at most the job's one-second tick) is printed apart, as is the server's event-loop delay.
 * - reference: PostgreSQL's `COPY (select content from resource) TO STDOUT` through psql into a file.
 * Target: the product's rate at least 50% of the reference's. Both write the same rows: the run checks that each export
 * holds every resource the table held at its transactionTime and that its files are their stored JSON byte for byte
 * (the contents' sizes plus a newline each), and counts the lines COPY wrote; COPY's text format writes each backslash
 * twice, so its file is a little larger. A first round warms both up and is not counted; each round's pair runs back
 * to back and its ratio is printed with the load average.
 * Run: npm run bench:export, with BENCH_ROUNDS=5 (counted rounds; the medians are reported), BENCH_COPIES=1 (import the
 * corpus this many times, as other patients, for a larger export), BENCH_DOWNLOADS=4 (files fetched at once).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
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
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const COPIES = Number(process.env.BENCH_COPIES ?? 1);
const TARGET_RATIO = 0.5;
/** Files downloaded at once. */
const DOWNLOADS = Number(process.env.BENCH_DOWNLOADS ?? 4);

/** One measured export. */
interface Run {
  readonly resources: number;
  readonly seconds: number;
  readonly bytes: number;
  /** Product only: kick-off until the job first reported progress, and the server's event-loop delay meanwhile. */
  readonly pickupSeconds?: number;
  /** Product only: kick-off until the manifest (the rest is the download). */
  readonly manifestSeconds?: number;
  readonly eventLoopP99?: number;
  readonly eventLoopMax?: number;
  /** Product only: the rows and bytes (JSON and a newline each) the table held at the export's transactionTime. */
  readonly stored?: { readonly rows: number; readonly bytes: number };
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

async function productRun(server: ChildServer, databaseUrl: string, token: string, outDir: string): Promise<Run> {
  const headers = { Authorization: `Bearer ${token}` };
  await server.pauses();
  const started = performance.now();
  const kickoff = await fetch(`${server.url}/fhir/$export`, { headers: { ...headers, Prefer: 'respond-async' } });
  if (kickoff.status !== 202) throw new Error(`kick-off: ${kickoff.status} ${await kickoff.text()}`);
  // The server's BASE_URL is its default (port 8080); the bench reaches it at its own port, with the URLs' paths.
  const local = (url: string) => `${server.url}${new URL(url).pathname}`;
  const status = local(kickoff.headers.get('content-location') as string);
  let pickup: number | undefined;
  let manifest: { transactionTime: string; output: { type: string; url: string; count: number }[] } | undefined;
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
  const manifestSeconds = (performance.now() - started) / 1000;
  // The files are fetched DOWNLOADS at a time, as bulk clients do, each piped to its file by node:http (psql, the
  // reference's client, is C: fetch's web streams would charge the product for a heavier client than the server's).
  let bytes = 0;
  const queue = [...manifest.output];
  const agent = new http.Agent({ keepAlive: true, maxSockets: DOWNLOADS });
  await Promise.all(
    Array.from({ length: DOWNLOADS }, async () => {
      for (let file = queue.shift(); file; file = queue.shift()) {
        const target = path.join(outDir, `${file.type}.ndjson`);
        const size = await download(local(file.url), { ...headers, Accept: 'application/fhir+ndjson' }, agent, target);
        bytes += size;
      }
    }),
  );
  agent.destroy();
  const seconds = (performance.now() - started) / 1000;
  const pauses = await server.pauses();
  await (await fetch(status, { method: 'DELETE', headers })).arrayBuffer();
  const resources = manifest.output.reduce((sum, file) => sum + file.count, 0);
  return {
    resources,
    seconds,
    bytes,
    stored: await storedSize(databaseUrl, manifest.transactionTime),
    pickupSeconds: pickup ?? manifestSeconds,
    manifestSeconds,
    eventLoopP99: pauses.eventLoopP99,
    eventLoopMax: pauses.eventLoopMax,
  };
}

/**
 * The rows of the resource table as of `at` and the bytes their contents make with a newline each: what an export with
 * that transactionTime holds, byte for byte (nothing is changed or deleted during the bench; AuditEvents are added).
 */
async function storedSize(url: string, at: string): Promise<{ rows: number; bytes: number }> {
  const pool = new Pool({ connectionString: url, max: 1 });
  try {
    const { rows } = await pool.query<{ rows: number; bytes: string }>(
      'select count(*)::int as rows, sum(octet_length(content) + 1)::bigint as bytes from resource where not deleted and last_updated <= $1',
      [at],
    );
    return { rows: rows[0].rows, bytes: Number(rows[0].bytes) };
  } finally {
    await pool.end();
  }
}

/** GETs `url` into the file `target`; answers its size. */
async function download(url: string, headers: Record<string, string>, agent: http.Agent, target: string): Promise<number> {
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => http.get(url, { headers, agent }, resolve).on('error', reject));
  if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode}`);
  await pipeline(res, fs.createWriteStream(target));
  return fs.statSync(target).size;
}

async function referenceRun(url: string, outDir: string): Promise<Run> {
  const target = path.join(outDir, 'copy.txt');
  const started = performance.now();
  const psql = spawn('psql', [url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', 'COPY (select content from resource) TO STDOUT'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // The file is complete when both the copy has ended and psql has exited, in whichever order they come.
  const [[code]] = (await Promise.all([once(psql, 'exit'), pipeline(psql.stdout, fs.createWriteStream(target))])) as [
    [number | null],
    void,
  ];
  if (code !== 0) throw new Error(`psql exited with ${code}`);
  const seconds = (performance.now() - started) / 1000;
  // The rows COPY wrote: one line each (its text format escapes a newline inside a value).
  const file = fs.readFileSync(target);
  let resources = 0;
  for (let at = file.indexOf(0x0a); at !== -1; at = file.indexOf(0x0a, at + 1)) resources++;
  return { resources, seconds, bytes: file.length };
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
    : `  (picked up after ${run.pickupSeconds.toFixed(2)} s, manifest after ${run.manifestSeconds!.toFixed(2)} s; server event loop p99 ${run.eventLoopP99!.toFixed(1)} ms, max ${run.eventLoopMax!.toFixed(1)} ms)`);

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
    // Round 0 warms both up (the server's code paths and the database's cache) and is printed, not counted.
    for (let round = 0; round <= ROUNDS; round++) {
      const label = round ? String(round) : 'warm-up';
      // Alternate which goes first, so neither always runs on a warmer cache.
      const order = round % 2 ? ['reference', 'product'] : ['product', 'reference'];
      for (const which of order) {
        // The 1-minute load average as the run ends, beside each figure: the machine is shared.
        if (which === 'product') {
          const run = await productRun(server, bench.url, token, outDir);
          if (round) product.push(run);
          console.log(`${line(`product ${label}`, run)}  load ${os.loadavg()[0].toFixed(1)}`);
        } else {
          const run = await referenceRun(bench.url, outDir);
          if (round) reference.push(run);
          console.log(`${line(`COPY ${label}`, run)}  load ${os.loadavg()[0].toFixed(1)}`);
        }
      }
    }
    // The comparison is fair only if both wrote the same rows, and the export the stored JSON as it is: each export
    // holds exactly the table as of its transactionTime, and COPY the table as it found it (the AuditEvents each
    // export leaves make the table grow by a few rows a round). COPY's text format writes a backslash twice.
    const exact = product.every((run) => run.resources === run.stored?.rows && run.bytes === run.stored?.bytes);
    console.log(
      `same rows: $export ${exact ? 'the stored JSON of every resource, byte for byte' : 'NOT the stored JSON'} (` +
        product.map((run) => `${run.resources} of ${run.stored?.rows} rows, ${run.bytes} of ${run.stored?.bytes} bytes`).join('; ') +
        `); COPY ${reference.map((run) => `${run.resources} rows, ${run.bytes} bytes`).join('; ')}`,
    );
    const productRate = median(product.map(rate));
    const referenceRate = median(reference.map(rate));
    const ratio = productRate / referenceRate;
    console.log(`median: $export ${productRate.toFixed(0)} resources/s, COPY ${referenceRate.toFixed(0)} resources/s`);
    // Each round's pair ran back to back, so its ratio sees the same load; their spread shows the noise.
    const paired = product.map((run, i) => rate(run) / rate(reference[i]));
    console.log(`paired ratios by round: ${paired.map((r) => r.toFixed(2)).join(' ')} (median ${median(paired).toFixed(2)})`);
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
