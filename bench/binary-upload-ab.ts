/**
 * Upload of 1 MB files (raw POST /fhir/Binary, 8 connections) by this checkout's server against another checkout's
 * (BENCH_BEFORE, e.g. the main branch's worktree), in one run on one database: phases of BENCH_SECONDS (5) taking
 * turns (before, after, after, before, ...), each after the product's tables are emptied, on new backends
 * (support/idle-backends.ts) that first upload once per connection, unmeasured, then after a CHECKPOINT. Per phase: the rate, the server's CPU per MB (its
 * own process), PostgreSQL's CPU per MB (every postgres process on this machine) and the machine's CPU; at the end the
 * medians of each side. The CPU per MB holds when the machine is busy; the rates only when it is quiet.
 * Run: BENCH_BEFORE=/work/main npx tsx bench/binary-upload-ab.ts (BENCH_ROUNDS=4 pairs, BENCH_SIZE_MB=1).
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { Pool } from 'pg';
import { signAccessToken, signingKeyFromString } from '../src/auth/access-token';
import { systemClock } from '../src/fhir/clock';
import { SERVER_NODE_FLAGS } from '../src/server-node-flags';
import { createBenchDatabase } from './support/bench-database';
import { type ChildServer, startChildServer } from './support/child-server';
import { cpuBetween, cpuSnapshot, formatCpuUse } from './support/cpu-accounts';
import { closeIdleBackends } from './support/idle-backends';
import { checkpoint } from './support/wal-activity';
import { median } from './support/load-stats';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const CONNECTIONS = 8;
const MB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_SIZE_MB ?? 1) * MB;
const BEFORE = process.env.BENCH_BEFORE;

interface Phase {
  readonly mbPerSecond: number;
  readonly serverMsPerMb: number;
  readonly postgresMsPerMb: number;
}

let counter = 0;

/** CONNECTIONS loops uploading files of SIZE for `seconds` (at least once each); files uploaded, errors. */
async function uploads(server: ChildServer, token: string, seconds: number): Promise<{ files: number; errors: number }> {
  let files = 0;
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, loop) => {
      const file = randomBytes(SIZE);
      do {
        file.writeUInt32BE(loop, 0);
        file.writeUInt32BE(counter++, 4);
        const res = await fetch(`${server.url}/fhir/Binary`, {
          method: 'POST',
          body: file,
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/octet-stream', Prefer: 'return=minimal' },
        }).catch(() => undefined);
        await res?.arrayBuffer();
        if (res?.status === 201) files++;
        else errors++;
      } while (performance.now() < deadline);
    }),
  );
  return { files, errors };
}

async function main(): Promise<void> {
  if (!BEFORE) throw new Error('BENCH_BEFORE: the checkout whose server is "before"');
  const bench = await createBenchDatabase();
  const signingKey = randomBytes(32).toString('hex');
  const admin = new Pool({ connectionString: bench.url, max: 1 });
  admin.on('error', () => undefined);
  const adminClient = await admin.connect();
  const servers: ChildServer[] = [];
  try {
    const env = { BENCH_DATABASE_URL: bench.url, BENCH_SIGNING_KEY: signingKey };
    // This checkout's server migrates the database first; the other finds it migrated (both must share the schema).
    const after = await startChildServer(['product', 'warn'], env, SERVER_NODE_FLAGS);
    servers.push(after);
    const before = await startChildServer(['product', 'warn'], env, SERVER_NODE_FLAGS, BEFORE);
    servers.push(before);
    const token = await signAccessToken({ sub: 'Practitioner/bench-staff', kind: 'staff' }, signingKeyFromString(signingKey), {
      clock: systemClock,
      ttlSeconds: 3600,
    });
    console.log(
      `upload of ${SIZE / MB} MB files, ${CONNECTIONS} connections, ${SECONDS} s phases: before = ${BEFORE}, after = this checkout; ` +
        `${os.cpus().length} CPUs, load ${os
          .loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}`,
    );
    const results: Record<'before' | 'after', Phase[]> = { before: [], after: [] };
    const measure = async (name: 'before' | 'after', server: ChildServer): Promise<void> => {
      await adminClient.query('truncate binary_content_part, binary_content');
      await adminClient.query(`delete from resource where resource_type = 'Binary'`);
      await adminClient.query(`delete from resource_history where resource_type = 'Binary'`);
      await closeIdleBackends(adminClient);
      await uploads(server, token, 0);
      await checkpoint(adminClient);
      const cpu = cpuSnapshot();
      const serverBefore = await server.cpuMicros();
      const started = performance.now();
      const { files, errors } = await uploads(server, token, SECONDS);
      const seconds = (performance.now() - started) / 1000;
      const serverMs = ((await server.cpuMicros()) - serverBefore) / 1000;
      const use = cpuBetween(cpu, cpuSnapshot());
      const mb = (files * SIZE) / MB;
      const phase = { mbPerSecond: mb / seconds, serverMsPerMb: serverMs / mb, postgresMsPerMb: use ? use.postgres / mb : NaN };
      results[name].push(phase);
      console.log(
        `  ${name.padEnd(6)} ${phase.mbPerSecond.toFixed(1).padStart(6)} MB/s (${files} files${errors ? `, ${errors} errors` : ''}), ` +
          `server ${phase.serverMsPerMb.toFixed(2)} ms/MB, PostgreSQL ${phase.postgresMsPerMb.toFixed(2)} ms/MB, load ${os.loadavg()[0].toFixed(1)}` +
          (use ? `\n         ${formatCpuUse(use, serverMs)}` : ''),
      );
    };
    for (let round = 0; round < ROUNDS; round++) {
      if (round % 2 === 0) {
        await measure('before', before);
        await measure('after', after);
      } else {
        await measure('after', after);
        await measure('before', before);
      }
    }
    console.log('medians');
    for (const name of ['before', 'after'] as const) {
      const of = (key: keyof Phase) => median(results[name].map((p) => p[key]));
      console.log(
        `  ${name.padEnd(6)} ${of('mbPerSecond').toFixed(1).padStart(6)} MB/s, server ${of('serverMsPerMb').toFixed(2)} ms/MB, PostgreSQL ${of('postgresMsPerMb').toFixed(2)} ms/MB`,
      );
    }
  } finally {
    for (const server of servers) await server.stop();
    adminClient.release();
    await admin.end();
    await bench.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
