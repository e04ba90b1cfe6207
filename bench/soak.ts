/**
 * Soak: a portal day's mix of requests at a fixed arrival rate, for minutes on end, through HAProxy to several
 * instances on one PostgreSQL (started with ops/cluster.sh in a scratch database holding the demo family), printing
 * per minute: throughput, error rate, 5xx, p50/p99 of each operation, each instance's RSS and the PostgreSQL
 * connections; then the targets (zero 5xx; each operation's p99 at the end within 1.3x of its p99 at the start, over
 * windows of whole minutes holding at least SOAK_MIN_SAMPLES of its requests each, else "too few samples"; RSS growth
 * under 10% after the first minute; no connection growth). Requests are sent when they are due whether or not earlier
 * ones have been answered (open loop), so a slow server shows as latency, not as a lower rate.
 *
 * Run: npm run soak, with settings from the environment: SOAK_MINUTES=10, SOAK_RATE=10 (requests/s), SOAK_INSTANCES=2
 * (2 or 3), SOAK_PATIENTS=40 (the practice's patients besides the demo family), SOAK_MIN_SAMPLES=300 (requests of an
 * operation each p99 window must hold; see bench/soak-p99-windows.ts), DATABASE_URL (the PostgreSQL server; default
 * postgres://postgres@127.0.0.1:5432/postgres), SOAK_OUT=FILE to write the figures (and every request's latency) as
 * JSON too, with what was probed alongside (bench/support/soak-probes.ts; `npx tsx bench/soak-tail.ts FILE` lines slow
 * requests up with it), SOAK_NODE_FLAGS for the instances' node (`--cpu-prof --cpu-prof-dir=DIR` to see, with
 * bench/long-tasks.ts, what held their event loops; `--trace-gc` to see why each collection ran), SOAK_LOG_DIR=DIR to
 * keep the instances' logs (they are removed with the cluster otherwise). The mix is in bench/soak-workload.ts.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { formatWindow, MIN_WINDOW_SAMPLES, p99Windows } from './soak-p99-windows';
import { createBenchDatabase } from './support/bench-database';
import { startSoakProbes } from './support/soak-probes';
import {
  detailDrift,
  figuresOf,
  formatDetailDrift,
  formatMinute,
  type MinuteFigures,
  type ServerSample,
  type SoakSample,
  verdicts,
} from './soak-report';
import {
  arrivalOrder,
  arrivals,
  clinicPatientBundle,
  evenRotation,
  IMPORT_PERCENT,
  portalDay,
  signInAll,
  type SoakOperation,
} from './soak-workload';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 10);
const RATE = Number(process.env.SOAK_RATE ?? 10);
const INSTANCES = Number(process.env.SOAK_INSTANCES ?? 2);
const MIN_SAMPLES = Number(process.env.SOAK_MIN_SAMPLES ?? MIN_WINDOW_SAMPLES);
/** The practice's patients besides the demo family, whom staff write to and whose documents come back in. */
const CLINIC_PATIENTS = Number(process.env.SOAK_PATIENTS ?? 40);
/** Requests allowed in flight at once; an arrival beyond it counts as an error (the server has fallen behind). */
const MAX_IN_FLIGHT = 1000;
const ROOT = path.resolve(__dirname, '..');
const SCRIPT = path.join(ROOT, 'ops', 'cluster.sh');
const run = promisify(execFile);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Consecutive free ports for the instances. */
async function freeRange(count: number): Promise<number> {
  for (;;) {
    const base = 30_000 + Math.floor(Math.random() * 20_000);
    const free = await Promise.all(
      Array.from(
        { length: count },
        (_, i) =>
          new Promise<boolean>((resolve) => {
            const server = net.createServer().once('error', () => resolve(false));
            server.listen(base + i, '127.0.0.1', () => server.close(() => resolve(true)));
          }),
      ),
    );
    if (free.every(Boolean)) return base;
  }
}

/**
 * Which operations the run will judge on p99, in which windows, and for the others the rate that would give them
 * enough requests: arrivals are fixed in advance, so this is known before the first request.
 */
function printP99Plan(order: readonly SoakOperation[]): void {
  const counts = new Map<string, number[]>();
  for (const { op, minute } of arrivals(order, RATE, MINUTES)) {
    const mine = counts.get(op.name) ?? Array.from({ length: MINUTES }, () => 0);
    mine[minute - 1]++;
    counts.set(op.name, mine);
  }
  console.log(`p99 windows (at least ${MIN_SAMPLES} requests of the operation in each; minute 1 is the warm-up):`);
  for (const [name, perMinute] of [...counts].sort((a, b) => a[0].localeCompare(b[0]))) {
    const pair = p99Windows(perMinute, MIN_SAMPLES);
    if (!pair) {
      console.log('  none: a run of fewer than 3 minutes has no p99 verdict');
      return;
    }
    const windows = `${formatWindow({ ...pair.start, count: pair.startCount })} against ${formatWindow({ ...pair.end, count: pair.endCount })}`;
    const fewest = Math.min(pair.startCount, pair.endCount);
    console.log(
      `  ${name.padEnd(22)} ${windows}${pair.enough ? '' : `: too few samples (SOAK_RATE=${Math.ceil((RATE * MIN_SAMPLES) / Math.max(1, fewest))} or a longer run would judge it)`}`,
    );
  }
}

/** The instances' warnings and errors (LOG_LEVEL=warn), counted by message and cause: what the 5xx were. */
function printWarnings(clusterDir: string): void {
  const counts = new Map<string, number>();
  for (const name of fs.readdirSync(clusterDir).filter((f) => /^instance-\d+\.log$/.test(f))) {
    for (const line of fs.readFileSync(path.join(clusterDir, name), 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const entry = JSON.parse(line) as { level: number; msg: string; err?: { message?: string } };
        if (entry.level < 40) continue;
        const key = `${entry.level >= 50 ? 'error' : 'warn'}  ${entry.msg}${entry.err?.message ? `: ${entry.err.message}` : ''}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      } catch {
        // not a log line (the banner)
      }
    }
  }
  console.log(counts.size ? 'instances logged:' : 'instances logged no warnings or errors');
  for (const [key, n] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, 10)) console.log(`  ${String(n).padStart(5)} x ${key}`);
}

async function main(): Promise<void> {
  if (![2, 3].includes(INSTANCES)) throw new Error('SOAK_INSTANCES must be 2 or 3');
  if (!Number.isInteger(MIN_SAMPLES) || MIN_SAMPLES < 1) throw new Error('SOAK_MIN_SAMPLES must be a whole number above 0');
  const database = await createBenchDatabase();
  const clusterDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ck-soak-'));
  const metricsToken = randomBytes(16).toString('hex');
  const proxyPort = await freePort();
  const firstPort = await freeRange(INSTANCES);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: database.url,
    CLUSTER_DIR: clusterDir,
    PROXY_PORT: String(proxyPort),
    INSTANCE_PORT: String(firstPort),
    METRICS_TOKEN: metricsToken,
    LOG_LEVEL: 'warn',
  };
  delete env.NODE_OPTIONS;
  const pg = new Client({ connectionString: database.url });
  try {
    await run(process.execPath, [path.join(ROOT, 'bin', 'chartkeeper.js'), 'seed'], { env });
    await run(SCRIPT, ['start', String(INSTANCES)], { env: { ...env, INSTANCE_NODE_FLAGS: process.env.SOAK_NODE_FLAGS ?? '' } });
    await pg.connect();
    const proxy = `http://127.0.0.1:${proxyPort}`;
    const instances = Array.from({ length: INSTANCES }, (_, i) => `http://127.0.0.1:${firstPort + i}`);
    const users = await signInAll(proxy);
    const auth = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } });
    const family = (await (await fetch(`${proxy}/fhir/Patient?name=park&_count=10`, auth(users.staff.accessToken))).json()) as {
      entry: { resource: { id: string; name: { given: string[] }[] } }[];
    };
    const idOf = (given: string) => family.entry.find((e) => e.resource.name[0].given[0] === given)!.resource.id;
    const patients = { ada: idOf('Ada'), ben: idOf('Ben'), cara: idOf('Cara') };
    const practitioner = (
      (await (await fetch(`${proxy}/fhir/Practitioner?family=Chen`, auth(users.staff.accessToken))).json()) as {
        entry: { resource: { id: string } }[];
      }
    ).entry[0].resource.id;
    const adaRecord = (await (await fetch(`${proxy}/fhir/Patient/${patients.ada}`, auth(users.staff.accessToken))).json()) as {
      managingOrganization: { reference: string };
    };
    const organization = adaRecord.managingOrganization.reference.split('/')[1];
    const clinic: string[] = [];
    for (let i = 0; i < CLINIC_PATIENTS; i++) {
      const res = await fetch(`${proxy}/fhir`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${users.staff.accessToken}`, 'Content-Type': 'application/fhir+json' },
        body: JSON.stringify(clinicPatientBundle(i, organization)),
      });
      const body = (await res.json()) as { entry?: { response: { location: string } }[] };
      if (res.status !== 200)
        throw new Error(`soak: creating the practice's patients answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
      clinic.push(body.entry![0].response.location.split('/')[1]);
    }
    const documents: string[] = [];
    for (const id of clinic.slice(0, evenRotation(5, (RATE * 60 * IMPORT_PERCENT) / 100))) {
      const res = await fetch(`${proxy}/fhir/Patient/${id}/$ccda`, auth(users.staff.accessToken));
      if (res.status !== 200) throw new Error(`soak: $ccda answered ${res.status}`);
      documents.push(await res.text());
    }
    const order = arrivalOrder(portalDay({ proxy, patients, practitioner, clinic, documents }, users));
    printP99Plan(order);

    // One retry (a keep-alive socket the instance had just closed); an instance that still does not answer is
    // reported, and its figures for the minute are missing, rather than ending the run.
    const scrape = async (base: string): Promise<string | undefined> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await (await fetch(`${base}/metrics`, { headers: { Authorization: `Bearer ${metricsToken}` } })).text();
        } catch (err) {
          if (attempt === 2) {
            console.log(`  ${base}/metrics did not answer: ${String((err as Error).cause ?? err)}`);
            return undefined;
          }
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      }
    };
    const sampleServers = async (minute: number): Promise<ServerSample> => {
      const figures = await Promise.all(
        instances.map(async (base) => {
          const text = await scrape(base);
          if (text === undefined) return { rss: NaN, heap: NaN };
          const read = (series: string) => Number(new RegExp(`^${series} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
          return { rss: read('chartkeeper_process_resident_memory_bytes'), heap: read('chartkeeper_nodejs_heap_size_used_bytes') };
        }),
      );
      const { rows } = await pg.query<{ n: number }>(
        'select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
      );
      return { minute, rss: figures.map((f) => f.rss), heapUsed: figures.map((f) => f.heap), connections: rows[0].n };
    };

    const load = os.loadavg();
    console.log(
      `soak: ${MINUTES} min at ${RATE} req/s through HAProxy to ${INSTANCES} instances on PostgreSQL; ${os.cpus().length} CPUs, load average ${load.map((l) => l.toFixed(2)).join(' ')} at the start`,
    );
    const samples: SoakSample[] = [];
    const inFlight = new Map<number, number>();
    const started = Date.now();
    const watch = startSoakProbes(pg, INSTANCES, (i) => scrape(instances[i]), started);
    const minutes: MinuteFigures[] = [];
    const minuteDone: Promise<void>[] = [];
    let dropped = 0;
    let total = 0;

    /** Sends the `n`th request of `op`, counted in `minute`. */
    const fire = (op: SoakOperation, n: number, minute: number): void => {
      const at = Date.now();
      if (total >= MAX_IN_FLIGHT) {
        dropped++;
        samples.push({ op: op.name, detail: op.detail?.(n), minute, ms: 0, status: 0, at: at - started });
        return;
      }
      total++;
      inFlight.set(minute, (inFlight.get(minute) ?? 0) + 1);
      // Not awaited: requests overlap on purpose; a failure is recorded as status 0 and closeMinute waits on inFlight.
      void op
        .run(n)
        .catch(() => 0)
        .then((status) => {
          samples.push({ op: op.name, detail: op.detail?.(n), minute, ms: Date.now() - at, status, at: at - started });
          total--;
          inFlight.set(minute, inFlight.get(minute)! - 1);
        });
    };
    const closeMinute = async (minute: number): Promise<void> => {
      const server = await sampleServers(minute);
      while ((inFlight.get(minute) ?? 0) > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      const figures = figuresOf(
        minute,
        samples.filter((s) => s.minute === minute),
        server,
      );
      minutes[minute - 1] = figures;
      console.log(formatMinute(figures));
    };

    // Arrivals at fixed times, caught up after a late timer rather than skipped. An arrival counts in the minute it was
    // due in (not the one a late timer sent it in), so every minute holds the same arrivals, and each operation's
    // rotation (its own count n) the same patients and documents.
    let nextMinute = 1;
    for (const arrival of arrivals(order, RATE, MINUTES)) {
      const due = started + arrival.dueMs;
      const now = Date.now();
      if (due > now) await new Promise((resolve) => setTimeout(resolve, due - now));
      if (arrival.minute > nextMinute) minuteDone.push(closeMinute(nextMinute++));
      fire(arrival.op, arrival.n, arrival.minute);
    }
    while (nextMinute <= MINUTES) minuteDone.push(closeMinute(nextMinute++));
    await Promise.all(minuteDone);
    await watch.stop();

    const finalLoad = os.loadavg();
    console.log(
      `\nsoak: ${samples.length} requests, ${dropped} not sent (more than ${MAX_IN_FLIGHT} in flight); load average ${finalLoad.map((l) => l.toFixed(2)).join(' ')} at the end`,
    );
    const results = verdicts(minutes.filter(Boolean), samples, MIN_SAMPLES);
    const mark = { met: 'met    ', missed: 'MISSED ', 'too few samples': 'too few' };
    for (const v of results) console.log(`${mark[v.outcome]} ${v.target.padEnd(52)} ${v.measured}`);
    const drift = detailDrift(samples, MINUTES);
    if (drift.length) {
      console.log('\nby kind of request (not targets): the first sixth of the run after minute 1 against the last sixth');
      for (const line of formatDetailDrift(drift)) console.log(line);
    }
    if (process.env.SOAK_OUT)
      fs.writeFileSync(
        process.env.SOAK_OUT,
        JSON.stringify({
          minutes,
          verdicts: results,
          rate: RATE,
          instances: INSTANCES,
          minSamples: MIN_SAMPLES,
          loadStart: load,
          loadEnd: finalLoad,
          samples,
          probes: watch.probes,
        }),
      );
  } finally {
    await run(SCRIPT, ['stop'], { env }).catch((err) => console.error(`soak: stopping the cluster: ${err}`));
    printWarnings(clusterDir);
    keepLogs(clusterDir, process.env.SOAK_LOG_DIR);
    await pg.end().catch(() => undefined);
    await database.drop();
    fs.rmSync(clusterDir, { recursive: true, force: true });
  }
}

/** Copies the instances' logs to `dir`, if given, before the cluster's folder is removed. */
function keepLogs(clusterDir: string, dir: string | undefined): void {
  if (!dir) return;
  fs.mkdirSync(dir, { recursive: true });
  for (const name of fs.readdirSync(clusterDir).filter((n) => /^instance-\d+\.log$/.test(n)))
    fs.copyFileSync(path.join(clusterDir, name), path.join(dir, name));
  console.log(`instance logs kept in ${dir}`);
}

main().catch((err) => {
  console.error(`soak: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
