/**
 * How the cost of reads and the portal's searches grows with the database (issue 22), on the real PostgreSQL
 * (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres) in a fresh database it creates and drops:
 *   1. the Synthea corpus (../shared/corpus/fhir) imported as `chartkeeper import` does, each patient's portal records
 *      added (bench/support/portal-extras.ts), ANALYZE: the first size (about 12,000 resources, 29 patients);
 *   2. read-by-id and searches 1, 2, 5 and 6 (bench/support/portal-search-targets.ts) as a staff account of the practice,
 *      over HTTP at BENCH_CONNECTIONS connections, against the product server as `npm start` runs it;
 *   3. the database grown by copies of that first size under new ids (every UUID in ids, references, contents and
 *      index rows given the copy's suffix; each copy's patients born a day later per copy, so a name and birth date
 *      lookup stays as selective as in the original), written straight into the tables with multi-row
 *      INSERT ... SELECT statements (the product's import would take hours on this machine; the time each step took is
 *      printed), then ANALYZE, as the import does, and 2. again, at each size of BENCH_GROWTH_SIZES;
 *   4. `EXPLAIN (ANALYZE, BUFFERS)` of each search's statement at the largest size, as the product runs it, into
 *      BENCH_EXPLAIN_FILE (default bench/results/search-growth-explain.txt);
 *   5. BENCH_PGLITE=1 (default): the same first size imported into the embedded PGlite, and the same targets served
 *      from it, next to PostgreSQL's first-size figures.
 * Settings: BENCH_GROWTH_SIZES=100000,1000000 (resources), BENCH_SECONDS=5 per run, BENCH_ROUNDS=2 (best kept),
 * BENCH_WARMUP_SECONDS=2, BENCH_CONNECTIONS=50, BENCH_PGLITE=0 to skip PGlite; BENCH_GROWTH_REUSE=<database url> to measure a
 * database grown by an earlier run again, next to a fresh first size, round by round (see remeasure).
 * Run: npm run bench:search-growth
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { unrestrictedScope } from '../src/access/access-scope';
import { staffScope } from '../src/access/portal-scope';
import { openDatabase } from '../src/db/database';
import { migrateToLatest } from '../src/db/migrator';
import type { Tables } from '../src/db/tables';
import { systemClock } from '../src/fhir/clock';
import { loadFhirDefinitions } from '../src/fhir/definitions';
import { DEFAULT_IMPORT_CONCURRENCY, importFhirFiles, listJsonFiles } from '../src/fhir/fhir-file-import';
import { Repository } from '../src/fhir/repository';
import { parseSearch } from '../src/fhir/search/parse-search';
import { firstPageStatement } from '../src/fhir/search/search-executor';
import { defaultPreparationWorkers } from '../src/fhir/write-preparation-pool';
import { SERVER_NODE_FLAGS } from '../src/server-node-flags';
import { accountTokens, runImportProcess } from './support/bench-accounts';
import { createBenchDatabase } from './support/bench-database';
import { startChildServer } from './support/child-server';
import { runHttpLoad } from './support/http-load';
import { formatResult, type LoadResult } from './support/load-stats';
import { addPortalRecords, BENCH_PRACTICE_ID, type BenchPatient } from './support/portal-extras';
import { PORTAL_BENCH_SEARCHES } from './support/portal-search-targets';

const CORPUS = path.resolve(__dirname, '..', '../shared/corpus/fhir');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SIZES = (process.env.BENCH_GROWTH_SIZES ?? '100000,1000000').split(',').map(Number);
const EXPLAIN_FILE = process.env.BENCH_EXPLAIN_FILE ?? path.join(__dirname, 'results', 'search-growth-explain.txt');
const WITH_PGLITE = process.env.BENCH_PGLITE !== '0';
/** The searches whose growth is measured (issue 22): labs, inbox, one lab over time, the staff lookup. */
const GROWTH_SEARCHES = PORTAL_BENCH_SEARCHES.filter((s) => ['1', '2', '5', '6'].includes(s.key));
/** Patients and Observations the load cycles through at each size, drawn from the whole database. */
const SAMPLE_PATIENTS = 200;
const SAMPLE_OBSERVATIONS = 2000;
/** Copies of the first size written per statement. */
const COPIES_PER_STATEMENT = 4;
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
/** regexp_replace's replacement: the whole match (a UUID), then the copy's suffix (`-g<copy>`, appended in SQL). */
const SUFFIX = '\\&-g';
const BIRTH_DATE = '"birthDate":"([0-9]{4}-[0-9]{2}-[0-9]{2})"';
const INDEX_TABLES = ['search_token', 'search_string', 'search_date', 'search_reference', 'search_quantity'] as const;

/** What one size measured. */
interface SizeResult {
  readonly label: string;
  readonly resources: number;
  readonly patients: number;
  readonly indexRows: number;
  readonly load: string;
  readonly results: Map<string, LoadResult>;
}

const out = (line: string): boolean => process.stdout.write(`${line}\n`);
const loadAverage = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

/** Counts of what the database holds now. */
async function sizeOf(db: Kysely<Tables>): Promise<{ resources: number; patients: number; indexRows: number }> {
  const { rows } = await sql<{ resources: string; patients: string; index_rows: string }>`select
      (select count(*) from resource)::text as resources,
      (select count(*) from resource where resource_type = 'Patient')::text as patients,
      ((select count(*) from search_token) + (select count(*) from search_string) + (select count(*) from search_date)
        + (select count(*) from search_reference) + (select count(*) from search_quantity))::text as index_rows`.execute(db);
  return { resources: Number(rows[0].resources), patients: Number(rows[0].patients), indexRows: Number(rows[0].index_rows) };
}

/** Patients and Observation ids drawn evenly from the whole database (every copy as likely as the original). */
async function sample(db: Kysely<Tables>): Promise<{ patients: BenchPatient[]; observationIds: string[] }> {
  const { rows: patients } = await sql<{ id: string; content: string }>`
    select id, content from resource where resource_type = 'Patient' and not deleted order by md5(id) limit ${SAMPLE_PATIENTS}`.execute(db);
  const { rows: observations } = await sql<{ id: string }>`
    select id from resource where resource_type = 'Observation' order by md5(id) limit ${SAMPLE_OBSERVATIONS}`.execute(db);
  return {
    patients: patients.map((row) => {
      const patient = JSON.parse(row.content) as { name?: { family?: string }[]; birthDate?: string };
      return { id: row.id, family: patient.name?.[0]?.family ?? '', birthDate: patient.birthDate ?? '' };
    }),
    observationIds: observations.map((r) => r.id),
  };
}

/** Read-by-id and the growth searches as the staff account, against a product server on this database; best of the rounds. */
async function measureSampled(
  env: Record<string, string>,
  token: string,
  { patients, observationIds }: { patients: BenchPatient[]; observationIds: string[] },
  rounds = ROUNDS,
): Promise<Map<string, LoadResult>> {
  const auth = { authorization: `Bearer ${token}` };
  const targets: [string, string[]][] = [
    ['read-by-id', observationIds.map((id) => `/fhir/Observation/${id}`)],
    ...GROWTH_SEARCHES.map((s): [string, string[]] => [`${s.key} ${s.name}`, patients.map((p) => s.path(p))]),
  ];
  const server = await startChildServer(['product', 'warn'], env, SERVER_NODE_FLAGS);
  const best = new Map<string, LoadResult>();
  try {
    for (let round = 0; round < rounds; round++) {
      for (const [label, paths] of targets) {
        const load = { url: server.url, paths, headers: auth, connections: CONNECTIONS, label };
        if (WARMUP_SECONDS > 0) await runHttpLoad({ ...load, seconds: WARMUP_SECONDS });
        const result = await runHttpLoad({ ...load, seconds: SECONDS });
        if (result.errors || result.non2xx) out(`  ${formatResult(result)}`);
        const previous = best.get(label);
        if (!previous || result.rate > previous.rate) best.set(label, result);
      }
    }
  } finally {
    await server.stop();
  }
  return best;
}

/** Keeps the first size's rows (every row whose id holds a UUID: not the practice's, not the shared medications) as the copies' source. */
async function keepFirstSize(db: Kysely<Tables>): Promise<void> {
  await sql`create unlogged table g0_resource as select * from resource where id ~ ${UUID}`.execute(db);
  for (const table of INDEX_TABLES) {
    await sql`create unlogged table ${sql.id(`g0_${table}`)} as select * from ${sql.table(table)} where resource_id ~ ${UUID}`.execute(db);
  }
}

/**
 * Copies `from` to `to` (inclusive) of the first size under new ids: every UUID gets the copy's suffix wherever it
 * stands (ids, references, identifiers, index rows), and each copy's patients are born `copy` days later.
 */
async function addCopies(db: Kysely<Tables>, from: number, to: number): Promise<void> {
  const suffixed = (column: string) => sql`regexp_replace(${sql.raw(column)}, ${UUID}, ${SUFFIX}::text || k, 'g')`;
  const array = (column: string) =>
    sql`array(select regexp_replace(x, ${UUID}, ${SUFFIX}::text || k, 'g') from unnest(${sql.raw(column)}) x)`;
  const copies = sql`generate_series(${from}::int, ${to}::int) k`;
  await sql`with copied as (
      insert into resource (resource_type, id, version, last_updated, deleted, content, compartments, owners)
      select g.resource_type, ${suffixed('g.id')}, g.version, g.last_updated, g.deleted,
        case when g.resource_type = 'Patient' and g.content ~ ${BIRTH_DATE}
          then regexp_replace(${suffixed('g.content')}, ${BIRTH_DATE},
            '"birthDate":"' || to_char(substring(g.content from ${BIRTH_DATE})::date + k, 'YYYY-MM-DD') || '"')
          else ${suffixed('g.content')} end,
        ${array('g.compartments')}, ${array('g.owners')}
      from g0_resource g cross join ${copies}
      returning *)
    insert into resource_history (resource_type, id, version, last_updated, deleted, content, compartments, owners)
    select resource_type, id, version, last_updated, deleted, content, compartments, owners from copied`.execute(db);
  await sql`insert into search_token (resource_type, resource_id, code, system, value, text)
    select resource_type, ${suffixed('resource_id')}, code, system, ${suffixed('value')}, text from g0_search_token cross join ${copies}`.execute(
    db,
  );
  await sql`insert into search_string (resource_type, resource_id, code, value, exact)
    select resource_type, ${suffixed('resource_id')}, code, value, exact from g0_search_string cross join ${copies}`.execute(db);
  await sql`insert into search_date (resource_type, resource_id, code, low, high)
    select resource_type, ${suffixed('resource_id')}, code,
      case when resource_type = 'Patient' and code = 'birthdate' then low + k * interval '1 day' else low end,
      case when resource_type = 'Patient' and code = 'birthdate' then high + k * interval '1 day' else high end
    from g0_search_date cross join ${copies}`.execute(db);
  await sql`insert into search_reference (resource_type, resource_id, code, target_type, target_id, last_updated)
    select resource_type, ${suffixed('resource_id')}, code, target_type, ${suffixed('target_id')}, last_updated from g0_search_reference cross join ${copies}`.execute(
    db,
  );
  await sql`insert into search_quantity (resource_type, resource_id, code, value, system, unit)
    select resource_type, ${suffixed('resource_id')}, code, value, system, unit from g0_search_quantity cross join ${copies}`.execute(db);
}

/** EXPLAIN (ANALYZE, BUFFERS) of each growth search's first page as the staff account runs it, for one sampled patient. */
async function explainSearches(db: Kysely<Tables>, patient: BenchPatient): Promise<string> {
  const scope = staffScope(BENCH_PRACTICE_ID, 'bench staff');
  const sections: string[] = [];
  for (const search of GROWTH_SEARCHES) {
    const url = new URL(search.path(patient), 'http://x');
    const type = url.pathname.split('/').pop()!;
    const request = parseSearch(type, url.search);
    const compiled = firstPageStatement(scope, request).compile(db);
    // Twice: the first run reads what the second finds in memory, as a busy server would.
    await sql.raw(`explain (analyze, buffers) ${inline(compiled.sql, compiled.parameters)}`).execute(db);
    const { rows } = await sql
      .raw<{ 'QUERY PLAN': string }>(`explain (analyze, buffers) ${inline(compiled.sql, compiled.parameters)}`)
      .execute(db);
    sections.push(`-- ${search.key} ${search.name}: ${search.path(patient)}\n${rows.map((r) => r['QUERY PLAN']).join('\n')}`);
  }
  return sections.join('\n\n');
}

/** The statement with its parameters written in as literals (EXPLAIN ANALYZE of a statement text). */
function inline(text: string, parameters: readonly unknown[]): string {
  const literal = (value: unknown): string => {
    if (Array.isArray(value)) return `array[${value.map(literal).join(',')}]::text[]`;
    if (typeof value === 'number') return String(value);
    return `'${String(value).replace(/'/g, "''")}'`;
  };
  return text.replace(/\$(\d+)/g, (_m, n: string) => literal(parameters[Number(n) - 1]));
}

function growthTable(sizes: SizeResult[]): void {
  const labels = [...sizes[0].results.keys()];
  const first = sizes[0];
  out('');
  out('Growth: best of rounds, staff account; p50 and p99 in ms, and their ratio to the first size (target at 1M: <= 1.3)');
  out(`  ${'target'.padEnd(40)} ${sizes.map((s) => s.label.padStart(34)).join('')}`);
  for (const label of labels) {
    const cells = sizes.map((s) => {
      const r = s.results.get(label);
      const base = first.results.get(label);
      if (!r || !base) return ''.padStart(34);
      return `${Math.round(r.rate).toString().padStart(6)}/s ${r.p50.toFixed(1).padStart(6)} ${r.p99.toFixed(1).padStart(6)} (${(r.p50 / base.p50).toFixed(2)} ${(r.p99 / base.p99).toFixed(2)})`.padStart(
        34,
      );
    });
    out(`  ${label.padEnd(40)} ${cells.join('')}`);
  }
  for (const s of sizes) {
    out(
      `  ${s.label}: ${s.resources.toLocaleString('en-US')} resources, ${s.patients.toLocaleString('en-US')} patients, ${s.indexRows.toLocaleString('en-US')} index rows; load average ${s.load}`,
    );
  }
}

/** The first size in the embedded database: the same import, records and staff account, in a scratch data folder. */
async function pgliteFirstSize(signingKey: string): Promise<SizeResult> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ck-growth-pglite-'));
  try {
    const started = performance.now();
    const database = await openDatabase({ dataDir });
    let ada: BenchPatient;
    try {
      await migrateToLatest(database.db);
      loadFhirDefinitions();
      const repo = new Repository(database.db, {
        scope: unrestrictedScope('bench'),
        clock: systemClock,
        fhirBase: 'http://127.0.0.1/fhir',
      });
      const summary = await importFhirFiles(repo, listJsonFiles([CORPUS]), { concurrency: DEFAULT_IMPORT_CONCURRENCY });
      if (summary.failures.length) throw new Error(`PGlite import failed: ${summary.failures.map((f) => f.error).join('; ')}`);
      ada = (await addPortalRecords(database.db)).ada;
      await sql`analyze`.execute(database.db);
    } finally {
      await database.close();
    }
    out(`PGlite: first size imported in ${((performance.now() - started) / 1000).toFixed(1)} s (on the main thread)`);
    const tokens = await accountTokens({ dataDir }, signingKey, ada);
    // The server holds the data folder while it runs: the sample and the counts are taken through it before and after.
    const counted = await openDatabase({ dataDir });
    let size: Awaited<ReturnType<typeof sizeOf>>;
    let sampled: Awaited<ReturnType<typeof sample>>;
    try {
      size = await sizeOf(counted.db);
      sampled = await sample(counted.db);
    } finally {
      await counted.close();
    }
    const results = await measureSampled(
      { BENCH_DATABASE_URL: '', BENCH_DATA_DIR: dataDir, BENCH_SIGNING_KEY: signingKey },
      tokens.staff,
      sampled,
    );
    return { label: 'PGlite first size', ...size, load: loadAverage(), results };
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * BENCH_GROWTH_REUSE=<url>: a database grown by an earlier run (kept, e.g. renamed before that run dropped it) measured
 * again next to a fresh first size, the two alternating round by round so both meet the same load on the machine.
 */
async function remeasure(grownUrl: string): Promise<void> {
  const bench = await createBenchDatabase();
  const signingKey = randomBytes(32).toString('hex');
  const tag = `+${Date.now().toString(36)}`;
  try {
    const imported = await runImportProcess(bench.url, CORPUS, defaultPreparationWorkers(), DEFAULT_IMPORT_CONCURRENCY);
    if (imported.failures.length) throw new Error(`import failed: ${imported.failures.join('; ')}`);
    const small = await openDatabase({ databaseUrl: bench.url, dataDir: '' });
    const grown = await openDatabase({ databaseUrl: grownUrl, dataDir: '' });
    try {
      loadFhirDefinitions();
      await addPortalRecords(small.db);
      await sql`analyze`.execute(small.db);
      const targets = [
        { label: 'PostgreSQL first size', db: small.db, url: bench.url },
        { label: 'PostgreSQL grown', db: grown.db, url: grownUrl },
      ];
      const best = targets.map(() => new Map<string, LoadResult>());
      for (let round = 0; round < ROUNDS; round++) {
        for (const [i, target] of targets.entries()) {
          const token = (await accountTokens({ databaseUrl: target.url, dataDir: '' }, signingKey, undefined, `${tag}-${round}`)).staff;
          const env = { BENCH_DATABASE_URL: target.url, BENCH_SIGNING_KEY: signingKey };
          for (const [label, result] of await measureSampled(env, token, await sample(target.db), 1)) {
            const previous = best[i].get(label);
            if (!previous || result.rate > previous.rate) best[i].set(label, result);
          }
        }
      }
      const sizes: SizeResult[] = [];
      for (const [i, target] of targets.entries()) {
        const size = await sizeOf(target.db);
        sizes.push({ label: target.label, ...size, load: loadAverage(), results: best[i] });
      }
      growthTable(sizes);
    } finally {
      await small.close();
      await grown.close();
    }
  } finally {
    await bench.drop();
  }
}

async function main(): Promise<void> {
  if (process.env.BENCH_GROWTH_REUSE) return remeasure(process.env.BENCH_GROWTH_REUSE);
  if (!fs.existsSync(CORPUS)) {
    process.stderr.write(`bench/search-growth: corpus not found at ${CORPUS}\n`);
    process.exit(2);
  }
  out(
    `Search growth benchmark, ${CONNECTIONS} connections, ${SECONDS} s per run after ${WARMUP_SECONDS} s warm-up, best of ${ROUNDS} rounds`,
  );
  out(`machine: ${os.availableParallelism()} CPUs, load average ${loadAverage()} at start`);
  const bench = await createBenchDatabase();
  const signingKey = randomBytes(32).toString('hex');
  const env = { BENCH_DATABASE_URL: bench.url, BENCH_SIGNING_KEY: signingKey };
  const sizes: SizeResult[] = [];
  try {
    const imported = await runImportProcess(bench.url, CORPUS, defaultPreparationWorkers(), DEFAULT_IMPORT_CONCURRENCY);
    if (imported.failures.length) throw new Error(`import failed: ${imported.failures.join('; ')}`);
    out(
      `import: ${imported.resources.toLocaleString('en-US')} resources in ${imported.seconds.toFixed(1)} s (${Math.round(imported.resources / imported.seconds)}/s through the product's import)`,
    );
    const database = await openDatabase({ databaseUrl: bench.url, dataDir: '' });
    try {
      const db = database.db;
      loadFhirDefinitions();
      await addPortalRecords(db);
      await sql`analyze`.execute(db);
      // Access tokens last 15 minutes, and growing the database takes longer: each measurement signs in anew.
      let signIns = 0;
      const staffToken = async (): Promise<string> =>
        (await accountTokens({ databaseUrl: bench.url, dataDir: '' }, signingKey, undefined, `+${++signIns}`)).staff;
      const first = await sizeOf(db);
      out(`first size: ${first.resources.toLocaleString('en-US')} resources, ${first.patients} patients; measuring`);
      sizes.push({
        label: 'PostgreSQL first size',
        ...first,
        load: loadAverage(),
        results: await measureSampled(env, await staffToken(), await sample(db)),
      });
      await keepFirstSize(db);
      let copies = 0;
      for (const target of SIZES) {
        const before = await sizeOf(db);
        // Each copy is of the first size as it stood when measured (with the AuditEvents its staff reads left).
        const copySize = Number((await sql<{ n: string }>`select count(*)::text as n from g0_resource`.execute(db)).rows[0].n);
        const wanted = Math.max(copies, Math.ceil((target - before.resources) / copySize) + copies);
        const started = performance.now();
        for (let from = copies + 1; from <= wanted; from += COPIES_PER_STATEMENT) {
          await addCopies(db, from, Math.min(wanted, from + COPIES_PER_STATEMENT - 1));
        }
        const loaded = (performance.now() - started) / 1000;
        const analyzeStarted = performance.now();
        await sql`analyze`.execute(db);
        const analysed = (performance.now() - analyzeStarted) / 1000;
        const size = await sizeOf(db);
        out(
          `grown to ${size.resources.toLocaleString('en-US')} resources (${wanted - copies} copies): written in ${loaded.toFixed(0)} s (${Math.round((size.resources - before.resources) / loaded).toLocaleString('en-US')} resources/s with their history and index rows), ANALYZE ${analysed.toFixed(0)} s; load average ${loadAverage()}`,
        );
        copies = wanted;
        sizes.push({
          label: `PostgreSQL ${Math.round(size.resources / 1000).toLocaleString('en-US')}k`,
          ...size,
          load: loadAverage(),
          results: await measureSampled(env, await staffToken(), await sample(db)),
        });
      }
      const { patients } = await sample(db);
      const explained = await explainSearches(db, patients[0]);
      fs.mkdirSync(path.dirname(EXPLAIN_FILE), { recursive: true });
      fs.writeFileSync(
        EXPLAIN_FILE,
        `EXPLAIN (ANALYZE, BUFFERS) of the growth searches as the staff account, at ${sizes[sizes.length - 1].resources.toLocaleString('en-US')} resources (${new Date().toISOString()})\n\n${explained}\n`,
      );
      out(`EXPLAIN (ANALYZE, BUFFERS) at the largest size: ${EXPLAIN_FILE}`);
    } finally {
      await database.close();
    }
    if (WITH_PGLITE) sizes.splice(1, 0, await pgliteFirstSize(signingKey));
    growthTable(sizes);
  } finally {
    await bench.drop();
  }
}

main().catch((err) => {
  process.stderr.write(`bench/search-growth: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
