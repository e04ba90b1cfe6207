/**
 * What decides the speed of bench:binary's reference insert (a bare pg insert of 1 MB files into a bytea column, 8
 * connections), measured with nothing else of the bench around it: the reference alone, in phases of BENCH_SECONDS
 * (5) that each start after a TRUNCATE of its table and a CHECKPOINT, as bench:binary's do, on connections that are
 *   - new: a pool of its own, opened for the phase (every backend starts with the phase);
 *   - warm: the pool of the phase before, right after it inserted;
 *   - after a select: the pool right after a phase of selects of the files back (what the reference's download
 *     phase does before the next round's upload, when the rounds' order puts them together);
 *   - after one 12 MB allocation: new connections that have each run one statement that allocates and frees 12 MB;
 *   - after 11 s idle: the pool left alone for 11 s, past pg-pool's idle timeout (10 s), which closes its connections.
 * Each phase prints its rate, the PostgreSQL server's CPU and minor page faults per MB, how many backends it opened, and
 * where the machine's CPU went. Run: npx tsx bench/binary-reference-state.ts (BENCH_ROUNDS=3 rounds of the four; BENCH_SIZE_MB=1).
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { type ClientBase, Pool } from 'pg';
import { createBenchDatabase } from './support/bench-database';
import { cpuBetween, cpuSnapshot, formatCpuUse } from './support/cpu-accounts';
import { checkpoint, formatWalActivity, walBetween, walSnapshot } from './support/wal-activity';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 8;
const MB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_SIZE_MB ?? 1) * MB;

/** `CONNECTIONS` loops doing `op` until the time is up; how many calls completed. */
async function loops(op: (loop: number, n: number) => Promise<unknown>): Promise<number> {
  let done = 0;
  const deadline = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, loop) => {
      for (let n = 0; performance.now() < deadline; n++) {
        await op(loop, n);
        done++;
      }
    }),
  );
  return done;
}

async function opened(admin: ClientBase, since: Date): Promise<number> {
  const { rows } = await admin.query<{ n: number }>(
    `select count(*)::int as n from pg_stat_activity
     where datname = current_database() and backend_type = 'client backend' and backend_start > $1`,
    [since],
  );
  return rows[0].n;
}

async function main(): Promise<void> {
  const bench = await createBenchDatabase();
  const admin = new Pool({ connectionString: bench.url, max: 1 });
  admin.on('error', () => undefined);
  const adminClient = await admin.connect();
  const pools: Pool[] = [];
  const newPool = (): Pool => {
    const pool = new Pool({ connectionString: bench.url, max: 20 });
    pool.on('error', () => undefined);
    pools.push(pool);
    return pool;
  };
  try {
    await adminClient.query('create table bench_bytes (id bigserial primary key, data bytea not null)');
    const files = Array.from({ length: CONNECTIONS }, () => randomBytes(SIZE));
    console.log(
      `reference insert of ${SIZE / MB} MB files alone, ${CONNECTIONS} connections, ${SECONDS} s phases; ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)}`,
    );
    const upload = async (label: string, pool: Pool): Promise<void> => {
      await adminClient.query('truncate bench_bytes');
      await checkpoint(adminClient);
      const wal = await walSnapshot(adminClient);
      const since = new Date();
      const cpu = cpuSnapshot();
      const started = performance.now();
      const done = await loops((loop, n) => {
        files[loop].writeUInt32BE(n, 0);
        return pool.query('insert into bench_bytes (data) values ($1)', [files[loop]]);
      });
      const seconds = (performance.now() - started) / 1000;
      const use = cpuBetween(cpu, cpuSnapshot());
      const mb = (done * SIZE) / MB;
      console.log(
        `  ${label.padEnd(26)} ${(mb / seconds).toFixed(1).padStart(6)} MB/s (${done} files), PostgreSQL ${use ? (use.postgres / mb).toFixed(1) : '-'} ms/MB, ` +
          `${use ? (use.postgresFaults / mb).toFixed(0) : '-'} page faults/MB, ` +
          `backends opened ${await opened(adminClient, since)}, load ${os.loadavg()[0].toFixed(1)}\n` +
          `      ${use ? formatCpuUse(use) : ''}\n      ${formatWalActivity(walBetween(wal, await walSnapshot(adminClient)))}`,
      );
    };
    const select = async (pool: Pool): Promise<void> => {
      const { rows } = await pool.query<{ id: string }>('select id from bench_bytes order by id limit 64');
      let next = 0;
      await loops(() => pool.query('select data from bench_bytes where id = $1', [rows[next++ % rows.length].id]));
    };
    for (let round = 1; round <= ROUNDS; round++) {
      console.log(`round ${round}`);
      const pool = newPool();
      await upload('new connections', pool);
      await upload('warm (after inserts)', pool);
      // New connections, each of which has allocated and freed 12 MB once (an 8 MB text, a 4 MB bytea).
      const big = newPool();
      await Promise.all(files.map(() => big.query(`select length(decode(repeat('00', 4 * 1024 * 1024), 'hex'))`)));
      await upload('after one 12 MB allocation', big);
      await select(pool);
      await upload('after a select phase', pool);
      await new Promise((resolve) => setTimeout(resolve, 11_000));
      await upload('after 11 s idle', pool);
    }
  } finally {
    for (const pool of pools) await pool.end();
    adminClient.release();
    await admin.end();
    await bench.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
