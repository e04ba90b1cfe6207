/**
 * Binary content benchmark (issue 15), on the real PostgreSQL (DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres) in a fresh database it creates and drops: upload (raw POST /fhir/Binary)
 * and download (GET /fhir/Binary/{id}) of 1 MB and 10 MB files over HTTP at 8 connections, against the product server
 * run as `npm start` runs it (its Node flags, src/server-node-flags.ts), each next to a reference measured in the
 * same run on the same database: a bare pg insert of the same bytes into a bytea column, and a select of them back,
 * through a pool of the app's size with as many loops as connections. Every upload sends other bytes (the store keeps
 * equal bytes once, which would flatter it). While 8 clients each upload 10 MB files, the server's resident memory is
 * sampled every 50 ms; its peak above the idle server's is printed.
 * Targets: upload and download throughput at least 50% of the reference; memory under 300 MB above idle.
 * The comparison is paired: each round measures the reference and the product back to back (their order alternating
 * from round to round) and takes its own ratio; the ratio reported is the median of the rounds' ratios, with their
 * spread, so that one round in which the machine happened to be quiet for the reference alone decides nothing.
 *
 * What the database server does around a phase is controlled too. An upload phase writes hundreds of MB of WAL; left to
 * itself, the server recycles WAL segments only when a checkpoint ends, so a phase found either segments ready to write
 * into or none, and then created and zero-filled each 16 MB segment first (wal_init_zero), and a checkpoint (set off by
 * max_wal_size or checkpoint_timeout, or by another database on a shared server) fell into one phase or the other.
 * Measured on this machine (bench/results/binary-2026-12-07b.txt): the same reference insert ran at a median 18.5 MB/s
 * in the 8 phases that started with 0-4 segments ready and 36.7 MB/s in the 10 that started with 11 or more (load
 * average 8-20). So every phase starts right after a CHECKPOINT: no checkpoint under way, no dirty buffer left by the
 * phase before, its WAL recycled. Each side writes into its own tables, emptied at the end of every round, and the
 * order alternates from round to round. Each phase's second line says what the WAL and the checkpointer did meanwhile
 * (the whole server's figures, other databases included): WAL written, segments ready at the start, checkpoints begun
 * and completed, buffers the backends had to write out themselves, and how often a backend found the WAL buffers full.
 * A checkpoint that a phase's own WAL sets off stays in that phase, as part of that side's cost. BENCH_CHECKPOINT=0
 * leaves the CHECKPOINTs out, to see the difference. The CHECKPOINTs and pg_ls_waldir need a superuser (or the
 * pg_checkpoint and pg_monitor roles).
 *
 * What the backends' memory remembers is controlled too. Even after a CHECKPOINT, the reference's 1 MB insert ran
 * about twice as fast in some rounds (130-154 MB/s against 59-67, bench/results/binary-2026-12-07-quiet.txt): in
 * rounds 3 and 5, those that came straight after the reference's own download phase. A backend takes the buffers of a
 * statement of megabytes (the Bind message read into a growing buffer, the value's copies) from glibc's malloc, which
 * maps a block above its mmap threshold afresh and unmaps it when freed, so that its pages are faulted in and zeroed
 * again by the next statement; the threshold starts at 128 kB and rises to the size of a mapped block freed (the trim
 * threshold to twice that), after which such blocks are kept and reused. The reference's select returns each file as
 * hex text (2 MB for 1 MB), and after it the same backends insert with a tenth of the page faults and about 40% of
 * the CPU. Measured by bench/binary-reference-state.ts, the reference alone (bench/results/binary-reference-state-
 * 2026-12-07.txt): on new connections 1064-1111 minor faults and 28.5-30.4 ms of PostgreSQL CPU per MB; the same
 * connections after inserts 904-925 and 23.0-26.9; new connections that have each allocated and freed 12 MB once
 * 231-250 and 14.6-14.9; the same connections after a phase of selects 77-84 and 10.4-11.8, at 1.5-1.8 times the rate
 * they inserted at before it. The state lasts as long as the connection: pg-pool closes a connection idle for 10 s, so the
 * reference's connections lived on into the next round's upload only when its download was the phase just before it
 * (rounds 3 and 5, after a round the product began); otherwise the product's two phases came between and the
 * reference started on new backends (rounds 1, 2 and 4). The first 10 MB round was slow although it followed the
 * reference's 1 MB download: the blocks of a 10 MB insert are larger than the thresholds 1 MB files had raised. The
 * product's backends never get there: its downloads are binary COPYs, without the hex text. So every phase now starts
 * on new backends, both sides' (the bench ends every idle connection to its database, and each pool opens new ones),
 * warmed by one operation of the phase's own, once per connection, unmeasured (BENCH_FRESH=0 and BENCH_WARM=0 leave
 * either out). Each phase's third line says where the machine's CPU went (PostgreSQL, this process, the product's
 * server, the rest) and the PostgreSQL server's CPU and minor page faults per MB moved.
 * Run: npm run bench:binary, with BENCH_SECONDS=5 per run, BENCH_ROUNDS=5, BENCH_CONNECTIONS=8, BENCH_SIZES=1,10.
 * The page faults and CPU are read from /proc, so they are printed for a PostgreSQL server on this machine only.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { type ClientBase, Pool } from 'pg';
import { signAccessToken, signingKeyFromString } from '../src/auth/access-token';
import { systemClock } from '../src/fhir/clock';
import { SERVER_NODE_FLAGS } from '../src/server-node-flags';
import { createBenchDatabase } from './support/bench-database';
import { type ChildServer, startChildServer } from './support/child-server';
import { cpuBetween, cpuSnapshot, type CpuUse, formatCpuUse } from './support/cpu-accounts';
import { closeIdleBackends } from './support/idle-backends';
import { checkpoint, formatWalActivity, type WalActivity, walBetween, walSnapshot } from './support/wal-activity';
import { median } from './support/load-stats';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const APP_POOL_SIZE = 20;
const MB = 1024 * 1024;
const SIZES = (process.env.BENCH_SIZES ?? '1,10').split(',').map((mb) => Number(mb) * MB);
const TARGETS = { ratio: 0.5, rssMb: 300 };
const CHECKPOINT_BEFORE_PHASE = process.env.BENCH_CHECKPOINT !== '0';
const WARM_BEFORE_PHASE = process.env.BENCH_WARM !== '0';
const FRESH_BACKENDS = process.env.BENCH_FRESH !== '0';

/** One measured run: how many files went through, and at what rate. */
interface Run {
  readonly files: number;
  readonly mbPerSecond: number;
  readonly errors: number;
  /** The product server's CPU time per MB moved, in ms (product runs only). */
  readonly cpuMsPerMb?: number;
  /** What the server's WAL and checkpointer did during the run (phase()). */
  readonly wal?: WalActivity;
  /** When the run started (UTC, to find it in the server's log). */
  readonly startedAt?: string;
  /** Where the machine's CPU went during the run (phase()). */
  readonly cpu?: CpuUse;
  /** The product server's CPU time during the run, in ms, whichever side ran (phase()). */
  readonly serverMs?: number;
  /** Database connections (backends) the run found open, and how many it had to open (phase()). */
  readonly backends?: { readonly open: number; readonly opened: number };
}

/** Client backends connected to the bench database, and those of them started after `since`. */
async function backendsOf(admin: ClientBase, since: Date): Promise<{ open: number; opened: number }> {
  const { rows } = await admin.query<{ open: number; opened: number }>(
    `select count(*)::int as open, (count(*) filter (where backend_start > $1))::int as opened
     from pg_stat_activity where datname = current_database() and backend_type = 'client backend' and pid <> pg_backend_pid()`,
    [since],
  );
  return rows[0];
}

/**
 * One measured phase. First `warm` (the same operation, once per connection, unmeasured), so that the side measured
 * works on connections that are open and have just done what they are measured doing, whatever the phases before
 * left; then a CHECKPOINT (unless BENCH_CHECKPOINT=0), so that it starts as every other phase does. Records the WAL
 * and checkpoint activity while it ran, where the CPU went, and how many connections it found open or opened.
 * `admin` is a connection of its own, outside the measured pools.
 */
async function phase(
  admin: ClientBase,
  server: ChildServer,
  warm: (() => Promise<unknown>) | undefined,
  measure: () => Promise<Run>,
): Promise<Run> {
  if (FRESH_BACKENDS) await closeIdleBackends(admin);
  if (warm && WARM_BEFORE_PHASE) await warm();
  if (CHECKPOINT_BEFORE_PHASE) await checkpoint(admin);
  const before = await walSnapshot(admin);
  const since = new Date();
  const startedAt = since.toISOString().slice(11, 19);
  const open = (await backendsOf(admin, since)).open;
  const serverBefore = await ask(() => server.cpuMicros());
  const cpuBefore = cpuSnapshot();
  const run = await measure();
  const cpu = cpuBetween(cpuBefore, cpuSnapshot());
  const serverMs = ((await ask(() => server.cpuMicros())) - serverBefore) / 1000;
  const { opened } = await backendsOf(admin, since);
  return { ...run, wal: walBetween(before, await walSnapshot(admin)), startedAt, cpu, serverMs, backends: { open, opened } };
}

/**
 * The server answers one IPC question at a time, in order (child-server.ts pairs each reply with the next message),
 * so the CPU readings and the memory sampling take turns.
 */
let ipc: Promise<unknown> = Promise.resolve();
function ask<T>(question: () => Promise<T>): Promise<T> {
  const asked = ipc.then(question);
  ipc = asked.catch(() => undefined);
  return asked;
}

/** Runs `measure` and charges the server's CPU time to the MB it moved. */
async function withServerCpu(server: ChildServer, size: number, measure: () => Promise<Run>): Promise<Run> {
  const before = await ask(() => server.cpuMicros());
  const run = await measure();
  const cpu = (await ask(() => server.cpuMicros())) - before;
  return { ...run, cpuMsPerMb: run.files ? cpu / 1000 / ((run.files * size) / MB) : undefined };
}

/** How long a measured run lasts, in seconds; 0 for a warm-up: once per connection. */
type Duration = number;

/**
 * `CONNECTIONS` loops, each with a file of its own, doing `op` until the time is up (at least once); every call first
 * writes a counter into the file's first bytes, so no two uploads send the same bytes.
 */
async function loops(size: number, op: (file: Buffer, loop: number, n: number) => Promise<boolean>, seconds: Duration): Promise<Run> {
  const files = Array.from({ length: CONNECTIONS }, () => randomBytes(size));
  let done = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    files.map(async (file, loop) => {
      let n = 0;
      do {
        file.writeUInt32BE(loop, 0);
        // A warm-up's files are told from the measured ones by their counter's top bit.
        file.writeUInt32BE(seconds ? n : 0x80000000 + (warmUps++ % 0x80000000), 4);
        if (await op(file, loop, n).catch(() => false)) done++;
        else errors++;
        n++;
      } while (performance.now() < deadline);
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  return { files: done, mbPerSecond: (done * size) / MB / elapsed, errors };
}

let warmUps = 0;

/** Downloads, round robin over `ids`, counting the bytes as they arrive (no copy of the file is kept); at least once. */
async function downloads(size: number, ids: readonly string[], fetchOne: (id: string) => Promise<number>, seconds: Duration): Promise<Run> {
  let next = 0;
  let done = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      do {
        const bytes = await fetchOne(ids[next++ % ids.length]).catch(() => -1);
        if (bytes === size) done++;
        else errors++;
      } while (performance.now() < deadline);
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  return { files: done, mbPerSecond: (done * size) / MB / elapsed, errors };
}

async function productUpload(server: ChildServer, token: string, size: number, ids: string[], seconds: Duration = SECONDS): Promise<Run> {
  return withServerCpu(server, size, () =>
    loops(
      size,
      async (file) => {
        const res = await fetch(`${server.url}/fhir/Binary`, {
          method: 'POST',
          body: file,
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/octet-stream', Prefer: 'return=minimal' },
        });
        await res.arrayBuffer();
        if (res.status !== 201) return false;
        if (ids.length < 64) ids.push(res.headers.get('location')!.split('/')[5]);
        return true;
      },
      seconds,
    ),
  );
}

async function productDownload(
  server: ChildServer,
  token: string,
  size: number,
  ids: readonly string[],
  seconds: Duration = SECONDS,
): Promise<Run> {
  return withServerCpu(server, size, () =>
    downloads(
      size,
      ids,
      async (id) => {
        const res = await fetch(`${server.url}/fhir/Binary/${id}`, {
          headers: { Authorization: `Bearer ${token}`, Accept: 'application/octet-stream' },
        });
        let bytes = 0;
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.length;
        return res.status === 200 ? bytes : -1;
      },
      seconds,
    ),
  );
}

async function referenceUpload(pool: Pool, size: number, ids: string[], seconds: Duration = SECONDS): Promise<Run> {
  return loops(
    size,
    async (file) => {
      const { rows } = await pool.query<{ id: string }>('insert into bench_bytes (data) values ($1) returning id', [file]);
      if (ids.length < 64) ids.push(rows[0].id);
      return true;
    },
    seconds,
  );
}

async function referenceDownload(pool: Pool, size: number, ids: readonly string[], seconds: Duration = SECONDS): Promise<Run> {
  return downloads(
    size,
    ids,
    async (id) => {
      const { rows } = await pool.query<{ data: Buffer }>('select data from bench_bytes where id = $1', [id]);
      return rows[0].data.length;
    },
    seconds,
  );
}

/** Samples `server`'s RSS every 50 ms while `work` runs; the peak. */
async function peakRss(server: ChildServer, work: Promise<unknown>): Promise<number> {
  let peak = 0;
  let running = true;
  const sampling = (async () => {
    while (running) {
      peak = Math.max(peak, await ask(() => server.rss()));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  await work.finally(() => (running = false));
  await sampling;
  return peak;
}

/** Runs the reference's and the product's measurement one after the other, in the order asked; [reference, product]. */
async function paired(productFirst: boolean, reference: () => Promise<Run>, product: () => Promise<Run>): Promise<[Run, Run]> {
  if (productFirst) {
    const p = await product();
    return [await reference(), p];
  }
  const r = await reference();
  return [r, await product()];
}

/**
 * Empties both sides' tables of the round's files, so every round starts from the same tables (and a run of many
 * rounds does not fill the disk): the reference's table, and the product's stored content with its Binaries.
 */
async function clearRound(pool: Pool): Promise<void> {
  await pool.query('truncate bench_bytes');
  await pool.query('truncate binary_content_part, binary_content');
  for (const table of [
    'resource',
    'resource_history',
    'search_token',
    'search_string',
    'search_date',
    'search_reference',
    'search_quantity',
  ])
    await pool.query(`delete from ${table} where resource_type = 'Binary'`);
}

/** Each side's stored bytes (table, TOAST and indexes), to see that both keep about a file's size per file. */
async function storedMb(admin: ClientBase): Promise<{ reference: number; product: number }> {
  const { rows } = await admin.query<{ reference: string; product: string }>(
    `select pg_total_relation_size('bench_bytes') as reference,
       pg_total_relation_size('binary_content_part') + pg_total_relation_size('binary_content') as product`,
  );
  return { reference: Number(rows[0].reference) / MB, product: Number(rows[0].product) / MB };
}

const mbLine = (label: string, run: Run): string =>
  `  ${label.padEnd(44)} ${run.mbPerSecond.toFixed(1).padStart(7)} MB/s  (${run.files} files${run.errors ? `, ${run.errors} errors` : ''})` +
  (run.cpuMsPerMb === undefined ? '' : `   server CPU ${run.cpuMsPerMb.toFixed(1)} ms/MB`) +
  (run.wal ? `\n      ${run.startedAt} ${formatWalActivity(run.wal)}` : '') +
  (run.cpu ? `\n      ${formatCpuUse(run.cpu, run.serverMs)}; PostgreSQL ${postgresPerMb(run)}` : '') +
  (run.backends ? `; connections open at the start ${run.backends.open}, opened during ${run.backends.opened}` : '');

/** The PostgreSQL server's CPU time and minor page faults per MB moved in a run. */
function postgresPerMb(run: Run): string {
  const mb = (run.mbPerSecond * (run.cpu?.wallMs ?? 0)) / 1000;
  if (!run.cpu || !mb) return '-';
  return `${(run.cpu.postgres / mb).toFixed(1)} ms/MB, ${(run.cpu.postgresFaults / mb).toFixed(0)} page faults/MB`;
}

async function main(): Promise<void> {
  const bench = await createBenchDatabase();
  const signingKey = randomBytes(32).toString('hex');
  const pool = new Pool({ connectionString: bench.url, max: APP_POOL_SIZE });
  // The database is dropped at the end, with force: an idle client told so is no failure of the run.
  pool.on('error', () => undefined);
  // The CHECKPOINTs and the WAL readings go through a connection of their own, outside the measured pool.
  const admin = new Pool({ connectionString: bench.url, max: 1 });
  admin.on('error', () => undefined);
  const adminClient = await admin.connect();
  let started: ChildServer | undefined;
  try {
    const server = (started = await startChildServer(
      ['product', 'warn'],
      { BENCH_DATABASE_URL: bench.url, BENCH_SIGNING_KEY: signingKey },
      SERVER_NODE_FLAGS,
    ));
    await pool.query('create table bench_bytes (id bigserial primary key, data bytea not null)');
    await Promise.all(Array.from({ length: APP_POOL_SIZE }, () => pool.query('select 1')));
    // The operator's staff token, as `chartkeeper token --staff` prints it.
    const token = await signAccessToken({ sub: 'Practitioner/bench-staff', kind: 'staff' }, signingKeyFromString(signingKey), {
      clock: systemClock,
      ttlSeconds: 3600,
    });
    console.log(
      `Binary content: ${CONNECTIONS} connections, ${SECONDS} s per run, ${ROUNDS} paired round(s), median of the rounds' ratios; node flags [${SERVER_NODE_FLAGS.join(' ')}]`,
    );
    const { rows: settings } = await adminClient.query<{ name: string; value: string }>(
      `select name, current_setting(name) as value from pg_settings
       where name in ('max_wal_size', 'checkpoint_timeout', 'checkpoint_completion_target', 'shared_buffers', 'wal_init_zero', 'wal_recycle')
       order by name`,
    );
    console.log(
      `${FRESH_BACKENDS ? 'new backends' : 'backends kept (BENCH_FRESH=0)'}, ${WARM_BEFORE_PHASE ? 'warmed by one operation per connection' : 'not warmed (BENCH_WARM=0)'}, ` +
        `${CHECKPOINT_BEFORE_PHASE ? 'a CHECKPOINT before every phase' : 'no CHECKPOINT between phases (BENCH_CHECKPOINT=0)'}; server: ` +
        settings.map((s) => `${s.name} ${s.value}`).join(', '),
    );
    console.log(
      `machine: ${os.cpus().length} CPUs, load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} at the start`,
    );
    // The idle server: started, migrated, definitions loaded, nothing asked of it yet.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const idle = await ask(() => server.rss());
    // Warm both paths (JIT, connections) on small files.
    const warm: string[] = [];
    await productUpload(server, token, 64 * 1024, warm);
    await productDownload(server, token, 64 * 1024, warm);
    const ratios: { name: string; round: number[] }[] = [];
    let peak = 0;
    for (const size of SIZES) {
      const label = `${size / MB} MB`;
      console.log(`\n${label} files, round by round (MB/s; ratio = product / reference of the same round)`);
      const rounds: { up: number; down: number }[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const refIds: string[] = [];
        const ids: string[] = [];
        // The reference and the product back to back, the one first in odd rounds the other in even ones: a change in
        // the machine's load falls on both sides of a round alike, and each round's ratio is its own.
        const productFirst = round % 2 === 1;
        const upload = async (): Promise<Run> => {
          const run = productUpload(server, token, size, ids);
          if (size === 10 * MB) peak = Math.max(peak, await peakRss(server, run));
          return run;
        };
        // Each phase first does its operation once per connection, unmeasured (phase()): the files of those go into
        // the tables as the measured ones do, and are not downloaded.
        const [refUp, up] = await paired(
          productFirst,
          () =>
            phase(
              adminClient,
              server,
              () => referenceUpload(pool, size, [], 0),
              () => referenceUpload(pool, size, refIds),
            ),
          () => phase(adminClient, server, () => productUpload(server, token, size, [], 0), upload),
        );
        const [refDown, down] = await paired(
          productFirst,
          () =>
            phase(
              adminClient,
              server,
              () => referenceDownload(pool, size, refIds, 0),
              () => referenceDownload(pool, size, refIds),
            ),
          () =>
            phase(
              adminClient,
              server,
              () => productDownload(server, token, size, ids, 0),
              () => productDownload(server, token, size, ids),
            ),
        );
        rounds.push({ up: up.mbPerSecond / refUp.mbPerSecond, down: down.mbPerSecond / refDown.mbPerSecond });
        console.log(`  round ${round + 1} (${productFirst ? 'product first' : 'reference first'}, load ${os.loadavg()[0].toFixed(1)})`);
        console.log(mbLine('reference: pg insert into bytea', refUp));
        console.log(mbLine('upload: POST /fhir/Binary (raw body)', up) + `   ratio ${rounds[round].up.toFixed(2)}`);
        console.log(mbLine('reference: pg select of the bytea', refDown));
        console.log(mbLine('download: GET /fhir/Binary/{id}', down) + `   ratio ${rounds[round].down.toFixed(2)}`);
        const stored = await storedMb(adminClient);
        console.log(
          `  stored: reference ${stored.reference.toFixed(0)} MB for ${refUp.files} files, product ${stored.product.toFixed(0)} MB for ${up.files} files`,
        );
        await clearRound(pool);
      }
      ratios.push({ name: `${label} upload / reference`, round: rounds.map((r) => r.up) });
      ratios.push({ name: `${label} download / reference`, round: rounds.map((r) => r.down) });
    }
    console.log('\nratios (target: at least 0.50)');
    for (const { name, round } of ratios) {
      const value = median(round);
      const spread = `rounds ${Math.min(...round).toFixed(2)}-${Math.max(...round).toFixed(2)}`;
      console.log(
        `  ${name.padEnd(36)} ${value.toFixed(2)}  (median of ${round.length}; ${spread})  ${value >= TARGETS.ratio ? 'ok' : 'BELOW TARGET'}`,
      );
    }
    if (!peak) return;
    const above = (peak - idle) / MB;
    console.log(
      `\nserver memory: idle ${(idle / MB).toFixed(0)} MB, peak while ${CONNECTIONS} clients upload 10 MB files ${(peak / MB).toFixed(0)} MB: ` +
        `${above.toFixed(0)} MB above idle (target under ${TARGETS.rssMb}) ${above < TARGETS.rssMb ? 'ok' : 'ABOVE TARGET'}`,
    );
  } finally {
    await started?.stop();
    adminClient.release();
    await admin.end();
    await pool.end();
    await bench.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
