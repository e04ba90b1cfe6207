/**
 * Read-by-id across checkouts: the product of two or more git worktrees (say, a commit before a change and main),
 * measured in the same run, round by round, so every tree meets the same load on the machine. For telling whether a
 * range of commits changed the server's CPU per read, and which commit did (bisect with one worktree per commit).
 *
 * Each tree imports the ../shared/corpus FHIR bundles into a database of its own with its own code and migrations
 * (its bench/fhir.ts with BENCH_ONLY=import), then runs its own bench/support/bench-server.ts, so nothing of one
 * tree's schema or code reaches another's. Every tree is read through the same load generator (this tree's
 * bench/support/http-load.ts) with an operator staff token (audited reads, as bench/fhir.ts's `read` target), at
 * BENCH_CONNECTIONS connections.
 *
 * Per run it prints each tree's rate and p99, and its server's CPU per request two ways: during the measured
 * seconds (what bench/fhir.ts prints), and until that server's next run starts (the same, plus the background work
 * the run left behind, such as turning its access records into AuditEvents). The trees take turns in a rotating
 * order. At the end: per tree the median of its runs, and per round each tree's CPU per request against the first
 * tree's (median over the rounds).
 *
 * Run: npx tsx bench/fhir-across-trees.ts /work/wt-old /work/main, with settings from the environment:
 *   BENCH_SECONDS=10 per run, BENCH_WARMUP_SECONDS=2, BENCH_ROUNDS=5, BENCH_CONNECTIONS=50;
 *   BENCH_TREE_DATABASES=url1,url2 to reuse databases a previous run kept (one per tree, in order) instead of
 *   importing; BENCH_KEEP_DATABASE=1 to keep the databases (their URLs are printed) for such a rerun;
 *   BENCH_PROFILE_DIR=dir to write a V8 CPU profile of each server.
 * Needs the PostgreSQL of DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) and each tree's
 * node_modules.
 */
import { spawn, fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { signAccessToken, signingKeyFromString } from '../src/auth/access-token';
import { systemClock } from '../src/fhir/clock';
import { SERVER_NODE_FLAGS } from '../src/server-node-flags';
import { SERVER_URL } from './support/bench-database';
import { runHttpLoad } from './support/http-load';
import type { LoadResult } from './support/load-stats';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);

interface Tree {
  readonly dir: string;
  readonly label: string;
  databaseUrl: string;
  imported: boolean;
  server?: TreeServer;
  paths: string[];
  /** CPU (µs) of its server when its last measured run ended, and that run's request count. */
  last?: { cpu: number; requests: number; round: number };
  readonly runs: { round: number; result: LoadResult; windowCpu: number; trailingCpu?: number }[];
}

interface TreeServer {
  readonly url: string;
  cpuMicros(): Promise<number>;
  stop(): Promise<void>;
}

/** Runs a command in `cwd`, returning its stdout; rejects on a non-zero exit. */
function run(command: string, args: string[], cwd: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${command} ${args.join(' ')} in ${cwd} exited with ${code}`)),
    );
  });
}

/** A tree's label: its short commit and subject, and '+' when its files differ from that commit. */
async function treeLabel(dir: string): Promise<string> {
  const commit = (await run('git', ['log', '-1', '--format=%h %s'], dir, {})).trim();
  const changed = (await run('git', ['status', '--porcelain', '--untracked-files=no'], dir, {})).trim() ? '+' : '';
  const line = `${commit.slice(0, 7)}${changed} ${commit.slice(8)}`;
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
}

/** Imports the corpus with the tree's own code into a database it keeps; returns its URL. */
async function importWithTree(tree: Tree): Promise<string> {
  // The import is not profiled (BENCH_PROFILE_DIR is for the servers).
  const out = await run('npx', ['tsx', 'bench/fhir.ts'], tree.dir, {
    BENCH_ONLY: 'import',
    BENCH_KEEP_DATABASE: '1',
    BENCH_PROFILE_DIR: '',
  });
  const url = /database kept \(BENCH_KEEP_DATABASE=1\): (\S+)/.exec(out)?.[1];
  if (!url) throw new Error(`no database URL in the import's output of ${tree.dir}:\n${out}`);
  const summary = out.split('\n').find((line) => line.includes('resources/s'));
  process.stdout.write(`  ${tree.label}: ${summary?.trim() ?? 'imported'}\n`);
  return url;
}

async function observationIds(url: string): Promise<string[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>(
      "select id from resource where resource_type = 'Observation' order by md5(id) limit 2000",
    );
    return rows.map((r) => r.id);
  } finally {
    await client.end();
  }
}

/** Starts the tree's own bench server (product, LOG_LEVEL=warn) on its database with the product's Node flags. */
function startTreeServer(tree: Tree, signingKey: string): Promise<TreeServer> {
  // One folder per tree: V8 names each thread's profile itself (the main thread's has thread id 0 in its name).
  const profile = process.env.BENCH_PROFILE_DIR
    ? ['--cpu-prof', `--cpu-prof-dir=${path.join(process.env.BENCH_PROFILE_DIR, path.basename(tree.dir))}`]
    : [];
  const child: ChildProcess = fork(path.join(tree.dir, 'bench/support/bench-server.ts'), ['product', 'warn'], {
    cwd: tree.dir,
    env: { ...process.env, BENCH_DATABASE_URL: tree.databaseUrl, BENCH_SIGNING_KEY: signingKey },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    execArgv: [...process.execArgv, ...SERVER_NODE_FLAGS, ...profile],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bench server of ${tree.dir} exited with ${code}`)));
    child.once('message', (message) => {
      child.removeAllListeners('exit');
      const ask = (question: string): Promise<{ cpu: NodeJS.CpuUsage }> =>
        new Promise((done) => {
          child.once('message', (reply) => done(reply as { cpu: NodeJS.CpuUsage }));
          child.send(question);
        });
      resolve({
        url: (message as { url: string }).url,
        cpuMicros: async () => {
          const { cpu } = await ask('cpu');
          return cpu.user + cpu.system;
        },
        stop: () =>
          new Promise<void>((done) => {
            child.once('exit', () => done());
            child.send('stop');
          }),
      });
    });
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function loadAverage(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
}

async function dropDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const client = new Client({ connectionString: SERVER_URL });
  await client.connect();
  try {
    await client.query(`drop database if exists "${name.replace(/"/g, '""')}" with (force)`);
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const dirs = process.argv.slice(2).map((dir) => path.resolve(dir));
  if (dirs.length < 2) throw new Error('usage: npx tsx bench/fhir-across-trees.ts <tree> <tree> [<tree>...]');
  const given = process.env.BENCH_TREE_DATABASES?.split(',').filter(Boolean);
  if (given && given.length !== dirs.length) throw new Error('BENCH_TREE_DATABASES: one URL per tree, in order');
  const trees: Tree[] = [];
  for (const [i, dir] of dirs.entries()) {
    trees.push({ dir, label: await treeLabel(dir), databaseUrl: given?.[i] ?? '', imported: !given, paths: [], runs: [] });
  }
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(
    `read-by-id across trees, ${CONNECTIONS} connections, ${SECONDS} s per run after ${WARMUP_SECONDS} s warm-up, ${ROUNDS} rounds; ${os.availableParallelism()} CPUs, load average ${loadAverage()} at start`,
  );
  const signingKey = randomBytes(32).toString('hex');
  const token = await signAccessToken({ sub: 'Practitioner/bench-staff', kind: 'staff' }, signingKeyFromString(signingKey), {
    clock: systemClock,
    ttlSeconds: 24 * 3600,
  });
  const headers = { authorization: `Bearer ${token}` };
  try {
    if (!given) out('importing the corpus with each tree:');
    for (const tree of trees) {
      if (!tree.databaseUrl) tree.databaseUrl = await importWithTree(tree);
      tree.paths = (await observationIds(tree.databaseUrl)).map((id) => `/fhir/Observation/${id}`);
      tree.server = await startTreeServer(tree, signingKey);
    }
    for (let round = 1; round <= ROUNDS; round++) {
      // Rotate who goes first, so no tree always follows the same one.
      const order = trees.map((_, i) => trees[(i + round - 1) % trees.length]);
      for (const tree of order) {
        const server = tree.server!;
        const before = await server.cpuMicros();
        if (tree.last) {
          const previous = tree.runs.find((r) => r.round === tree.last!.round)!;
          previous.trailingCpu = (before - tree.last.cpu) / Math.max(tree.last.requests, 1);
        }
        const load = { url: server.url, paths: tree.paths, headers, connections: CONNECTIONS };
        if (WARMUP_SECONDS > 0) await runHttpLoad({ ...load, label: tree.label, seconds: WARMUP_SECONDS });
        const start = await server.cpuMicros();
        const result = await runHttpLoad({ ...load, label: tree.label, seconds: SECONDS });
        const end = await server.cpuMicros();
        const windowCpu = (end - start) / Math.max(result.requests, 1);
        tree.runs.push({ round, result, windowCpu });
        tree.last = { cpu: end, requests: result.requests, round };
        const failed = result.errors || result.non2xx ? `  (${result.errors} errors, ${result.non2xx} non-2xx)` : '';
        out(
          `round ${round}  ${tree.label.padEnd(60)} ${Math.round(result.rate).toString().padStart(6)}/s  p99 ${result.p99.toFixed(1).padStart(6)} ms  CPU ${Math.round(windowCpu).toString().padStart(5)} µs/req  load ${loadAverage()}${failed}`,
        );
      }
    }
    // The last run's trailing share: what its server did in the seconds after it.
    await new Promise((resolve) => setTimeout(resolve, (SECONDS + WARMUP_SECONDS) * 1000));
    for (const tree of trees) {
      const last = tree.last!;
      tree.runs.find((r) => r.round === last.round)!.trailingCpu =
        ((await tree.server!.cpuMicros()) - last.cpu) / Math.max(last.requests, 1);
    }
    out('');
    out(`medians over ${ROUNDS} rounds (load average ${loadAverage()} at end):`);
    out(`  ${'tree'.padEnd(60)} ${'rate'.padStart(7)}  ${'p99'.padStart(7)}  CPU/req: run  +after  vs first tree (paired per round)`);
    const first = trees[0];
    for (const tree of trees) {
      const rate = median(tree.runs.map((r) => r.result.rate));
      const p99 = median(tree.runs.map((r) => r.result.p99));
      const windowCpu = median(tree.runs.map((r) => r.windowCpu));
      const totalCpu = median(tree.runs.map((r) => r.windowCpu + (r.trailingCpu ?? 0)));
      const paired = tree.runs.map((r) => r.windowCpu / first.runs.find((f) => f.round === r.round)!.windowCpu);
      const pairedTotal = tree.runs.map(
        (r) =>
          (r.windowCpu + (r.trailingCpu ?? 0)) /
          (first.runs.find((f) => f.round === r.round)!.windowCpu + (first.runs.find((f) => f.round === r.round)!.trailingCpu ?? 0)),
      );
      out(
        `  ${tree.label.padEnd(60)} ${Math.round(rate).toString().padStart(6)}/s ${p99.toFixed(1).padStart(6)}ms  ${Math.round(windowCpu).toString().padStart(5)} ${Math.round(totalCpu).toString().padStart(6)}   run ${median(paired).toFixed(2)} (${paired.map((v) => v.toFixed(2)).join(' ')}), with after ${median(pairedTotal).toFixed(2)}`,
      );
    }
  } finally {
    await Promise.all(trees.flatMap((tree) => (tree.server ? [tree.server.stop()] : [])));
    for (const tree of trees) {
      if (!tree.databaseUrl) continue;
      if (process.env.BENCH_KEEP_DATABASE === '1' || !tree.imported) out(`database kept: ${tree.databaseUrl} (${tree.label})`);
      else await dropDatabase(tree.databaseUrl);
    }
  }
}

main().catch((err) => {
  process.stderr.write(`bench/fhir-across-trees: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
