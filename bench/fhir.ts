/**
 * FHIR resource layer benchmark, on the real PostgreSQL (DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres) in a fresh database it creates and drops:
 *   1. import of every ../shared/corpus/fhir bundle (resources/s), through the same code as `chartkeeper import`, in a
 *      process launched with the same Node flags (bench/support/bench-import.ts);
 *   2. over HTTP at 50 connections: read-by-id of real Observation ids with the operator's staff token (what
 *      `chartkeeper token --staff` prints), a system token and a signed-in staff account's token (session, account
 *      and organisation checked per request), and a patient-compartment search (Observation?patient=...);
 * each next to references measured in the same run on the same table: (1) a bare pg primary-key SELECT loop at
 * the same concurrency and (2) a minimal Express endpoint that does that one SELECT and sends the stored JSON.
 * A staff token's reads are audited (each read's access record is committed before it is answered, as the
 * product does; see src/access/audit-log.ts); a system token's are not, which shows what auditing costs. Request
 * logging is measured apart (LOG_LEVEL=info vs warn). The product's servers run with the Node flags `npm start`
 * gives them (src/server-node-flags.ts).
 * Run: npx tsx bench/fhir.ts, with settings from the environment:
 *   BENCH_SECONDS=10 per load run, BENCH_ROUNDS=2, BENCH_SETTLE_SECONDS=5 per run of the settling round (0: none),
 *   BENCH_CONNECTIONS=50, BENCH_IMPORT_WORKERS=<the product's default: cpus - 1, 1 to 4>,
 *   BENCH_IMPORT_CONCURRENCY=<the product's default, 3>; BENCH_ONLY=import to stop after the import;
 *   BENCH_TARGETS=pg,reference,read,readSystem,readAccount,readLogged,search,searches (and readVariant,
 *     readAccountVariant, control) to run only some of the load targets; control is a second reference server, whose
 *     ratios against (2) show how much two identical servers differ in one run (the noise floor of every ratio);
 *     searches: the seven portal searches of issue 22 (bench/support/portal-search-targets.ts), each as a staff
 *     account and as Ada (a patient, the portal's access rules on) next to its own reference (3), a minimal Express
 *     endpoint running the search's indexed SQL and concatenating the stored JSON into a Bundle; search1 ... search7b
 *     run one of them (targets search1staff, search1staffRef, search1Ada, search1AdaRef, ...);
 *   BENCH_VARIANT_ENV='NAME=value ...' and/or BENCH_VARIANT_FLAGS='--node-flag ...' to measure a second product
 *     server with another setting in the same rounds (targets readVariant and readAccountVariant, and per search
 *     search1staffVariant, search1AdaVariant, ...); BENCH_VARIANT_TREE=/path/to/checkout runs that server from another
 *     checkout of the same schema (say, main before a change), to compare before and after in one run;
 *   BENCH_PAUSES=1 to print, per load run, PostgreSQL's CPU and transactions per request and the server's
 *     event-loop stalls and GC pauses; BENCH_KEEP_DATABASE=1 to leave the database behind for a look at it.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { signAccessToken, signingKeyFromString } from '../src/auth/access-token';
import { openDatabase } from '../src/db/database';
import { systemClock } from '../src/fhir/clock';
import { loadFhirDefinitions } from '../src/fhir/definitions';
import { DEFAULT_IMPORT_CONCURRENCY } from '../src/fhir/fhir-file-import';
import { SERVER_NODE_FLAGS } from '../src/server-node-flags';
import { defaultPreparationWorkers } from '../src/fhir/write-preparation-pool';
import { createBenchDatabase } from './support/bench-database';
import { accountTokens, runImportProcess } from './support/bench-accounts';
import { addPortalRecords, type BenchPatients } from './support/portal-extras';
import { PORTAL_BENCH_SEARCHES } from './support/portal-search-targets';
import { ChildServer, startChildServer } from './support/child-server';
import { runHttpLoad } from './support/http-load';
import { formatResult, LoadResult } from './support/load-stats';
import { runPgLoop } from './support/pg-loop';

const CORPUS = path.resolve(__dirname, '..', '../shared/corpus/fhir');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
/** Length of each target's run in the settling round (see main); 0 skips that round. */
const SETTLE_SECONDS = Number(process.env.BENCH_SETTLE_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
/** Sign the accounts in again after this long (BENCH_SIGN_IN_EVERY_SECONDS): access tokens last 15 minutes. */
const ACCOUNT_TOKEN_REFRESH_MS = Number(process.env.BENCH_SIGN_IN_EVERY_SECONDS ?? 600) * 1000;
const WORKERS = Number(process.env.BENCH_IMPORT_WORKERS ?? defaultPreparationWorkers());
const IMPORT_CONCURRENCY = Number(process.env.BENCH_IMPORT_CONCURRENCY ?? DEFAULT_IMPORT_CONCURRENCY);
const APP_POOL_SIZE = 20;
/** BENCH_PAUSES=1: after each load run, print the server's event-loop stalls and GC pauses (diagnostics). */
const SHOW_PAUSES = process.env.BENCH_PAUSES === '1';
const TARGETS = { readRatio: 0.7, p99Ratio: 1.5, importRate: 3000 };
/** Issue 22: each portal search's rate at least 0.6 of its reference (3), its p99 at most 1.5x. */
const SEARCH_TARGETS = { rateRatio: 0.6, p99Ratio: 1.5 };

interface Dataset {
  readonly observationIds: string[];
  readonly patientIds: string[];
  readonly indexRows: number;
  /** The imported patients with their portal records added (portal-extras.ts), and Ada among them. */
  readonly bench: BenchPatients;
}

async function importCorpus(url: string): Promise<{ rate: number; line: string; dataset: Dataset }> {
  const summary = await runImportProcess(url, CORPUS, WORKERS, IMPORT_CONCURRENCY);
  if (summary.failures.length) throw new Error(`import failed: ${summary.failures.join('; ')}`);
  const rate = summary.resources / summary.seconds;
  const database = await openDatabase({ databaseUrl: url, dataDir: '' });
  try {
    const { rows: counts } = await sql<{ n: string }>`
      select ((select count(*) from search_token) + (select count(*) from search_string) + (select count(*) from search_date)
        + (select count(*) from search_reference) + (select count(*) from search_quantity))::text as n`.execute(database.db);
    const observations = await sql<{
      id: string;
    }>`select id from resource where resource_type = 'Observation' order by md5(id) limit 2000`.execute(database.db);
    const patients = await sql<{ id: string }>`select id from resource where resource_type = 'Patient' order by id`.execute(database.db);
    loadFhirDefinitions();
    const bench = await addPortalRecords(database.db);
    await sql`analyze`.execute(database.db);
    const line = [
      `import ${summary.files} files, ${summary.resources.toLocaleString('en-US')} resources, ${Number(counts[0].n).toLocaleString('en-US')} index rows`,
      `  ${WORKERS} worker thread(s), ${IMPORT_CONCURRENCY} files at once; node flags [${SERVER_NODE_FLAGS.join(' ')}] as chartkeeper import; worker start ${summary.poolSeconds.toFixed(2)} s (not timed)`,
      `  ${summary.seconds.toFixed(2)} s: ${Math.round(rate).toLocaleString('en-US')} resources/s (${Math.round(summary.resources / (summary.seconds + summary.poolSeconds)).toLocaleString('en-US')}/s counting the worker start)`,
      `  CPU of the importing process (main + workers): ${(summary.cpuMicros / summary.resources).toFixed(0)} µs per resource`,
    ].join('\n');
    return {
      rate,
      line,
      dataset: {
        observationIds: observations.rows.map((r) => r.id),
        patientIds: patients.rows.map((r) => r.id),
        indexRows: Number(counts[0].n),
        bench,
      },
    };
  } finally {
    await database.close();
  }
}

/** The benchmark's database, for the statistics BENCH_PAUSES prints (set once it exists). */
let statsUrl = '';

/** Transactions committed or rolled back in the bench database so far (statistics, for BENCH_PAUSES). */
async function transactions(): Promise<number> {
  const { Client } = await import('pg');
  const client = new Client({ connectionString: statsUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      'select (xact_commit + xact_rollback)::text as n from pg_stat_database where datname = current_database()',
    );
    return Number(rows[0].n);
  } finally {
    await client.end();
  }
}

/** CPU time (µs) of every process named postgres on this machine (Linux /proc; 0 elsewhere), for BENCH_PAUSES. */
function postgresCpuMicros(): number {
  if (!fs.existsSync('/proc/self/stat')) return 0;
  const ticks = 100; // USER_HZ on Linux
  let total = 0;
  for (const pid of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      if (!stat.slice(stat.indexOf('(') + 1, close).startsWith('postgres')) continue;
      const fields = stat.slice(close + 2).split(' ');
      // utime, stime, and the ended children's cutime, cstime (fields 14-17 of stat): a backend whose connection
      // closed lives on in the postmaster's cutime.
      total += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    } catch {
      // the process ended meanwhile
    }
  }
  return (total * 1e6) / ticks;
}

/** What the variant server differs by (BENCH_VARIANT_ENV, BENCH_VARIANT_FLAGS), or 'variant' if nothing. */
function variantName(): string {
  const flags = process.env.BENCH_VARIANT_FLAGS;
  const tree = process.env.BENCH_VARIANT_TREE;
  return (
    [tree ? `tree ${tree}` : undefined, process.env.BENCH_VARIANT_ENV, flags !== undefined ? `node flags [${flags}]` : undefined]
      .filter(Boolean)
      .join(', ') || 'variant'
  );
}

/** The extra environment of the variant server (BENCH_VARIANT_ENV, 'NAME=value' pairs separated by spaces). */
function variantEnv(): Record<string, string> {
  const pairs = (process.env.BENCH_VARIANT_ENV ?? '').split(/\s+/).filter(Boolean);
  return Object.fromEntries(pairs.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
}

/** Warms the target up (JIT, pools, caches), then measures it. */
async function measureHttp(
  server: ChildServer,
  label: string,
  seconds: number,
  paths: string[],
  headers?: Record<string, string>,
): Promise<LoadResult> {
  await server.background('busy');
  try {
    return await measureBusy(server, label, seconds, paths, headers);
  } finally {
    await server.background('idle');
  }
}

async function measureBusy(
  server: ChildServer,
  label: string,
  seconds: number,
  paths: string[],
  headers?: Record<string, string>,
): Promise<LoadResult> {
  const load = { url: server.url, paths, headers, connections: CONNECTIONS };
  if (WARMUP_SECONDS > 0) await runHttpLoad({ ...load, label, seconds: WARMUP_SECONDS });
  const before = await server.cpuMicros();
  if (SHOW_PAUSES) await server.pauses();
  const postgresBefore = SHOW_PAUSES ? postgresCpuMicros() : 0;
  const xactsBefore = SHOW_PAUSES ? await transactions() : 0;
  const result = await runHttpLoad({ ...load, label, seconds });
  if (SHOW_PAUSES) {
    const p = await server.pauses();
    const postgres = (postgresCpuMicros() - postgresBefore) / Math.max(result.requests, 1);
    await new Promise((resolve) => setTimeout(resolve, 600)); // PostgreSQL reports transaction counts every 500 ms at most
    const xacts = ((await transactions()) - xactsBefore) / Math.max(result.requests, 1);
    process.stderr.write(
      `${label}: ${Math.round(result.rate)}/s p99 ${result.p99} ms; PostgreSQL ${postgres.toFixed(0)} µs CPU/req, ${xacts.toFixed(2)} transactions/req; event loop p99 ${p.eventLoopP99.toFixed(1)} ms, max ${p.eventLoopMax.toFixed(1)} ms; GC ${p.gcMs.toFixed(0)} ms (max ${p.gcMaxMs.toFixed(1)})\n`,
    );
  }
  // CPU per request is steadier than the rate when other work shares the machine.
  return { ...result, cpuPerRequest: ((await server.cpuMicros()) - before) / Math.max(result.requests, 1) };
}

/** The middle value (the mean of the two middle ones for an even count). */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function ratioLine(name: string, value: number, target: string, ok: boolean): string {
  return `  ${name.padEnd(44)} ${value.toFixed(2).padStart(6)}   target ${target.padEnd(8)} ${ok ? 'met' : 'NOT met'}`;
}

/**
 * The seven searches against their own reference (3), per caller: best rate and p99 of each, their ratios, and the
 * same ratios paired round by round (median), with the targets of issue 22.
 */
function printSearchTable(
  out: (line: string) => void,
  best: Map<string, LoadResult>,
  rounds: Map<string, LoadResult>[],
  labels: Record<string, string>,
  callers: string[],
): void {
  const lines: string[] = [];
  for (const search of PORTAL_BENCH_SEARCHES) {
    // The product, then the variant server (BENCH_VARIANT_*) where it ran, each against the same reference.
    for (const [caller, kind] of callers.flatMap((c) => [
      [c, ''],
      [c, 'Variant'],
    ])) {
      const key = `search${search.key}${caller}`;
      const product = best.get(labels[`${key}${kind}`]);
      const reference = best.get(labels[`${key}Ref`]);
      if (!product || !reference) continue;
      const rate = product.rate / reference.rate;
      const p99 = product.p99 / reference.p99;
      const paired = rounds.flatMap((results) => {
        const a = results.get(labels[`${key}${kind}`]);
        const b = results.get(labels[`${key}Ref`]);
        return a && b ? [{ rate: a.rate / b.rate, p99: a.p99 / b.p99 }] : [];
      });
      const ok = rate >= SEARCH_TARGETS.rateRatio && p99 <= SEARCH_TARGETS.p99Ratio;
      const as = kind ? `${caller} (variant)` : caller;
      lines.push(
        `  ${`${search.key} ${search.name}`.padEnd(42)} ${as.padEnd(5)} ${Math.round(product.rate).toString().padStart(6)}/s ${Math.round(reference.rate).toString().padStart(6)}/s ${rate.toFixed(2).padStart(5)}  ${product.p99.toFixed(1).padStart(6)} ${reference.p99.toFixed(1).padStart(6)} ${p99.toFixed(2).padStart(5)}  ${median(
          paired.map((r) => r.rate),
        )
          .toFixed(2)
          .padStart(5)} ${median(paired.map((r) => r.p99))
          .toFixed(2)
          .padStart(5)}  ${ok ? 'met' : 'NOT met'}`,
      );
    }
  }
  if (!lines.length) return;
  out('');
  out(
    `Portal searches against their reference (3): targets rate >= ${SEARCH_TARGETS.rateRatio} of (3), p99 <= ${SEARCH_TARGETS.p99Ratio}x`,
  );
  if (lines.some((line) => line.includes("'"))) out(`  (staff', Ada': the variant server, ${variantName()})`);
  out(
    `  ${'search'.padEnd(42)} ${'as'.padEnd(5)} ${'rate'.padStart(8)} ${'(3)'.padStart(8)} ${'ratio'.padStart(5)}  ${'p99'.padStart(6)} ${'(3)'.padStart(6)} ${'ratio'.padStart(5)}  paired: rate   p99`,
  );
  for (const line of lines) out(line);
}

async function main(): Promise<void> {
  if (!fs.existsSync(CORPUS)) {
    process.stderr.write(`bench/fhir: corpus not found at ${CORPUS}\n`);
    process.exit(2);
  }
  const bench = await createBenchDatabase();
  const out = (line: string): boolean => process.stdout.write(`${line}\n`);
  try {
    out(
      `FHIR benchmark on ${new URL(bench.url).host} (fresh database), ${CONNECTIONS} connections, ${SECONDS} s per run after ${WARMUP_SECONDS} s warm-up, after a settling round of ${SETTLE_SECONDS} s per target (not counted)`,
    );
    // Absolute rates mean little on a busy machine; the ratios against the references run alongside matter.
    out(
      `machine: ${os.availableParallelism()} CPUs, load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} at start`,
    );
    const imported = await importCorpus(bench.url);
    out(imported.line);
    if (process.env.BENCH_ONLY === 'import') return;
    const { observationIds, patientIds } = imported.dataset;
    const readPaths = observationIds.map((id) => `/fhir/Observation/${id}`);
    const searchPaths = patientIds.map((id) => `/fhir/Observation?patient=${id}`);

    const signingKey = randomBytes(32).toString('hex');
    const token = await signAccessToken({ sub: 'Practitioner/bench-staff', kind: 'staff' }, signingKeyFromString(signingKey), {
      clock: systemClock,
      ttlSeconds: 3600,
    });
    const auth = { authorization: `Bearer ${token}` };
    const env = { BENCH_DATABASE_URL: bench.url, BENCH_SIGNING_KEY: signingKey };
    statsUrl = bench.url;

    const system = await signAccessToken({ sub: 'bench-system', kind: 'system' }, signingKeyFromString(signingKey), {
      clock: systemClock,
      ttlSeconds: 3600,
    });
    const systemAuth = { authorization: `Bearer ${system}` };
    const { bench: benchPatients } = imported.dataset;
    const tokens = await accountTokens({ databaseUrl: bench.url, dataDir: '' }, signingKey, benchPatients.ada);
    const accountAuth = { authorization: `Bearer ${tokens.staff}` };
    const adaAuth = { authorization: `Bearer ${tokens.ada}` };
    // Account tokens last 15 minutes and a full run takes longer: sign in again (new accounts, as a tag tells them
    // apart) before any run that could outlive them, so no run is measured on 401s.
    let signedInAt = Date.now();
    let signIns = 0;
    const freshAccountTokens = async (): Promise<void> => {
      if (Date.now() - signedInAt < ACCOUNT_TOKEN_REFRESH_MS) return;
      const renewed = await accountTokens({ databaseUrl: bench.url, dataDir: '' }, signingKey, benchPatients.ada, `-${++signIns}`);
      accountAuth.authorization = `Bearer ${renewed.staff}`;
      adaAuth.authorization = `Bearer ${renewed.ada}`;
      signedInAt = Date.now();
    };

    // Every target runs once per round, rounds alternate the targets, and each keeps its best round:
    // other work on the machine then hits all of them alike instead of whichever ran during it.
    const best = new Map<string, LoadResult>();
    // And every round's result, to compare each target with the reference of its own round (paired ratios).
    const rounds: Map<string, LoadResult>[] = [];
    // A run with failed answers measured something else (errors are cheap): it is reported, never compared.
    const failedRuns: LoadResult[] = [];
    const keep = (result: LoadResult, round: number): LoadResult => {
      if (result.errors || result.non2xx) {
        failedRuns.push(result);
        return result;
      }
      const previous = best.get(result.label);
      if (!previous || result.rate > previous.rate) best.set(result.label, result);
      (rounds[round] ??= new Map()).set(result.label, result);
      return result;
    };
    // Each server starts when a chosen target first needs it, so a run starts only the servers it measures.
    const starts = {
      reference: () => startChildServer(['reference'], env),
      // The same reference in a second process: how far two identical servers' ratios stray from 1.00 in this run.
      control: () => startChildServer(['reference'], env),
      // The product runs as `npm start` and the Docker image launch it (src/server-node-flags.ts).
      product: () => startChildServer(['product', 'warn'], env, SERVER_NODE_FLAGS),
      logged: () => startChildServer(['product', 'info'], env, SERVER_NODE_FLAGS),
      // BENCH_VARIANT_ENV='NAME=value ...' (and BENCH_VARIANT_FLAGS='--node-flag ...', instead of the product's): a
      // second product server with that environment, measured in the same rounds as the first (targets readVariant,
      // readAccountVariant), for comparing a setting on equal terms. Without either, it is the product as it is.
      variant: () =>
        startChildServer(
          ['product', 'warn'],
          { ...env, ...variantEnv() },
          process.env.BENCH_VARIANT_FLAGS?.split(/\s+/).filter(Boolean) ?? SERVER_NODE_FLAGS,
          process.env.BENCH_VARIANT_TREE || undefined,
        ),
    };
    const started = new Map<keyof typeof starts, Promise<ChildServer>>();
    const server = (name: keyof typeof starts): Promise<ChildServer> => {
      let running = started.get(name);
      // Servers sharing the database do their background work only while measured (see measureHttp).
      if (!running) {
        running = starts[name]().then(async (child) => {
          await child.background('idle');
          return child;
        });
        started.set(name, running);
      }
      return running;
    };
    const labels: Record<string, string> = {
      pg: '(1) pg primary-key SELECT loop',
      reference: '(2) minimal Express SELECT + send',
      control: "(2') the same, a second process (control)",
      read: 'read-by-id, operator staff token (audited)',
      readSystem: 'read-by-id, system token (not audited)',
      readAccount: 'read-by-id, staff account (audited)',
      readLogged: 'read-by-id, staff, request log on (info)',
      search: 'search Observation?patient=, staff',
      readVariant: `read-by-id, operator staff token, ${variantName()}`,
      readAccountVariant: `read-by-id, staff account, ${variantName()}`,
    };
    const targets: Record<string, (seconds: number) => Promise<LoadResult>> = {
      pg: (seconds) =>
        runPgLoop({
          url: bench.url,
          ids: observationIds,
          type: 'Observation',
          concurrency: CONNECTIONS,
          poolSize: APP_POOL_SIZE,
          seconds,
          label: labels.pg,
        }),
      reference: async (seconds) => measureHttp(await server('reference'), labels.reference, seconds, readPaths),
      control: async (seconds) => measureHttp(await server('control'), labels.control, seconds, readPaths),
      read: async (seconds) => measureHttp(await server('product'), labels.read, seconds, readPaths, auth),
      readSystem: async (seconds) => measureHttp(await server('product'), labels.readSystem, seconds, readPaths, systemAuth),
      readAccount: async (seconds) => measureHttp(await server('product'), labels.readAccount, seconds, readPaths, accountAuth),
      readLogged: async (seconds) => measureHttp(await server('logged'), labels.readLogged, seconds, readPaths, auth),
      search: async (seconds) => measureHttp(await server('product'), labels.search, seconds, searchPaths, auth),
      readVariant: async (seconds) => measureHttp(await server('variant'), labels.readVariant, seconds, readPaths, auth),
      readAccountVariant: async (seconds) =>
        measureHttp(await server('variant'), labels.readAccountVariant, seconds, readPaths, accountAuth),
    };
    // The seven portal searches (issue 22), as the staff account (every patient in turn) and as Ada (her own record),
    // each next to its own reference (3) on the same patients.
    const callers = [
      { name: 'staff', auth: accountAuth, patients: benchPatients.patients },
      { name: 'Ada', auth: adaAuth, patients: [benchPatients.ada] },
    ];
    for (const search of PORTAL_BENCH_SEARCHES) {
      for (const caller of callers) {
        const key = `search${search.key}${caller.name}`;
        labels[key] = `${search.key} ${search.name}, ${caller.name}`;
        labels[`${key}Ref`] = `${search.key} (3) for ${caller.name}`;
        const paths = caller.patients.map((p) => search.path(p));
        const referencePaths = caller.patients.map((p) => search.referencePath(p));
        targets[key] = async (seconds) => measureHttp(await server('product'), labels[key], seconds, paths, caller.auth);
        labels[`${key}Variant`] = `${search.key} ${search.name}, ${caller.name}, ${variantName()}`;
        targets[`${key}Variant`] = async (seconds) =>
          measureHttp(await server('variant'), labels[`${key}Variant`], seconds, paths, caller.auth);
        targets[`${key}Ref`] = async (seconds) => measureHttp(await server('reference'), labels[`${key}Ref`], seconds, referencePaths);
      }
    }
    // By default every target but the variants (when no variant is set) and the control (BENCH_TARGETS=...,control).
    // A name may also be a group: `searches` (all seven), `searchesAda` or `searchesstaff` (all seven, one caller),
    // `search1` ... `search7b` (one search, both callers); with a variant set, a group has its variant targets too.
    const kinds = variantName() !== 'variant' ? '(Ref|Variant)?' : '(Ref)?';
    const chosen = (
      process.env.BENCH_TARGETS?.split(',') ??
      Object.keys(targets).filter((name) => name !== 'control' && (variantName() !== 'variant' || !name.endsWith('Variant')))
    ).flatMap((name) => {
      const group =
        name === 'searches' || name === 'searchesAda' || name === 'searchesstaff'
          ? new RegExp(`^search\\d[ab]?${name === 'searches' ? '(staff|Ada)' : name.slice('searches'.length)}${kinds}$`)
          : /^search\d[ab]?$/.test(name)
            ? new RegExp(`^${name}(staff|Ada)${kinds}$`)
            : undefined;
      return group ? Object.keys(targets).filter((t) => group.test(t)) : [name];
    });
    const unknown = chosen.filter((name) => !(name in targets));
    if (unknown.length) throw new Error(`BENCH_TARGETS: unknown ${unknown.join(', ')} (known: ${Object.keys(targets).join(', ')})`);
    try {
      // A settling round first, not counted: every target runs once before any is measured. Audited reads leave
      // writes behind (access records, AuditEvents) that slow every later run on this database, the reference's
      // too (alone, the reference holds steady round after round; after audited runs it loses 15-40%). Without
      // this round the reference's first run alone would be measured on a database nothing has written to.
      if (SETTLE_SECONDS > 0) {
        if (SHOW_PAUSES) process.stderr.write('settling round (not counted):\n');
        for (const name of chosen) {
          await freshAccountTokens();
          await targets[name](SETTLE_SECONDS);
        }
        if (SHOW_PAUSES) process.stderr.write('measured rounds:\n');
      }
      for (let round = 1; round <= ROUNDS; round++) {
        for (const name of chosen) {
          await freshAccountTokens();
          keep(await targets[name](SECONDS), round);
        }
      }
    } finally {
      await Promise.all([...started.values()].map(async (child) => (await child).stop()));
    }
    if (failedRuns.length) {
      out('');
      out(`Left out of every ratio: ${failedRuns.length} run(s) with failed answers:`);
      for (const result of failedRuns) out(formatResult(result));
      process.exitCode = 1;
    }
    out('');
    out(`Best of ${ROUNDS} round(s):`);
    for (const result of best.values()) out(formatResult(result));
    out('');
    out(
      `load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} at end`,
    );
    out('Ratios (same run, same table):');
    const reference = best.get(labels.reference);
    const pg = best.get(labels.pg);
    const reads: [string, string][] = [
      ['control', "control (2') against (2)"],
      ['read', 'read-by-id'],
      ['readSystem', 'read-by-id, system token'],
      ['readAccount', 'read-by-id, staff account'],
      ['readLogged', 'read-by-id, request log on'],
      ['readVariant', 'read-by-id, variant'],
      ['readAccountVariant', 'read-by-id, staff account, variant'],
    ];
    if (reference) {
      for (const [key, name] of reads) {
        const result = best.get(labels[key]);
        if (!result) continue;
        const rate = result.rate / reference.rate;
        const p99 = result.p99 / reference.p99;
        out(ratioLine(`${name}: rate / (2) rate`, rate, `>= ${TARGETS.readRatio}`, rate >= TARGETS.readRatio));
        out(ratioLine(`${name}: p99 / (2) p99`, p99, `<= ${TARGETS.p99Ratio}`, p99 <= TARGETS.p99Ratio));
      }
      if (pg) out(`  ${'(2) rate / (1) rate'.padEnd(44)} ${(reference.rate / pg.rate).toFixed(2).padStart(6)}`);
      for (const [key, name] of reads) {
        const result = best.get(labels[key]);
        if (result)
          out(
            `  ${`server CPU/request: ${name} / (2)`.padEnd(44)} ${(result.cpuPerRequest! / reference.cpuPerRequest!).toFixed(2).padStart(6)}`,
          );
      }
      // The same ratios taken round by round (each target against the reference of its own round), median over
      // the rounds: less at the mercy of one lucky or unlucky run than best against best.
      for (const [key, name] of reads) {
        const paired = rounds.flatMap((results) => {
          const result = results.get(labels[key]);
          const own = results.get(labels.reference);
          return result && own ? [{ rate: result.rate / own.rate, p99: result.p99 / own.p99 }] : [];
        });
        if (!paired.length) continue;
        const list = (values: number[]): string => values.map((v) => v.toFixed(2)).join(' ');
        out(
          `  ${`${name}: paired per round, median`.padEnd(44)} rate ${median(paired.map((r) => r.rate)).toFixed(2)} (${list(paired.map((r) => r.rate))}), p99 ${median(paired.map((r) => r.p99)).toFixed(2)} (${list(paired.map((r) => r.p99))})`,
        );
      }
      const search = best.get(labels.search);
      if (search) out(`  ${'search rate / (2) rate'.padEnd(44)} ${(search.rate / reference.rate).toFixed(2).padStart(6)}`);
    }
    printSearchTable(
      out,
      best,
      rounds,
      labels,
      callers.map((c) => c.name),
    );
    out(
      `  ${'import resources/s'.padEnd(44)} ${Math.round(imported.rate).toString().padStart(6)}   target >= ${TARGETS.importRate} ${imported.rate >= TARGETS.importRate ? 'met' : 'NOT met'}`,
    );
  } finally {
    if (process.env.BENCH_KEEP_DATABASE === '1') out(`database kept (BENCH_KEEP_DATABASE=1): ${bench.url}`);
    else await bench.drop();
  }
}

main().catch((err) => {
  process.stderr.write(`bench/fhir: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
