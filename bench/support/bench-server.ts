/**
 * A server under test, run in its own process so it has its own event loop (as in production) and
 * the load generator in the parent does not share it. argv: `product <logLevel>` or `reference`.
 * Reads BENCH_DATABASE_URL and BENCH_SIGNING_KEY; tells the parent its URL over IPC, answers 'cpu' with its
 * CPU time so far, and stops on 'stop'. 'idle' and 'busy' stop and start its background work (see below).
 */
import type { Server } from 'node:http';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import express from 'express';
import { Pool } from 'pg';
import { loadConfig } from '../../src/config';
import type { Database } from '../../src/db/database';
import { startServer } from '../../src/main';
import type { RunningJobs } from '../../src/jobs/job-scheduler';
import { serveReferenceSearch } from './portal-search-targets';

/** Pool size of the app's pg pool (src/db/database.ts), so the reference gets no more connections. */
const APP_POOL_SIZE = 20;

interface Running {
  readonly url: string;
  readonly database?: Database;
  readonly jobs?: RunningJobs;
  close(): Promise<void>;
}

async function startProduct(logLevel: string): Promise<Running> {
  const config = loadConfig(
    { ...process.env, LOG_LEVEL: logLevel },
    {
      databaseUrl: process.env.BENCH_DATABASE_URL || undefined,
      // BENCH_DATA_DIR without BENCH_DATABASE_URL: the embedded database in that folder.
      ...(process.env.BENCH_DATA_DIR ? { dataDir: process.env.BENCH_DATA_DIR } : {}),
      signingKey: process.env.BENCH_SIGNING_KEY,
      port: 0,
      host: '127.0.0.1',
      seedDemo: false,
    },
  );
  const running = await startServer(config);
  const port = (running.server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    database: running.database,
    jobs: running.jobs,
    close: async () => void (await running.close()),
  };
}

/**
 * Reference (2): the least an HTTP read can do: one primary-key SELECT, then the stored text as it is; and reference
 * (3) of each portal search.
 */
async function startReference(): Promise<Running> {
  const pool = new Pool({ connectionString: process.env.BENCH_DATABASE_URL, max: APP_POOL_SIZE });
  const app = express();
  const base = `${process.env.BENCH_BASE_URL ?? 'http://127.0.0.1'}/fhir`;
  // Reference (3) of each portal search (portal-search-targets.ts).
  app.get('/reference-search/:key', (req, res, next) => {
    serveReferenceSearch(pool, req.params.key, req.query as Record<string, string>, base).then(
      (body) => void res.type('application/fhir+json; charset=utf-8').send(body),
      next,
    );
  });
  app.get('/fhir/:type/:id', (req, res, next) => {
    pool
      .query<{ content: string }>('select content from resource where resource_type = $1 and id = $2', [req.params.type, req.params.id])
      .then((result) => {
        if (!result.rows.length) return void res.status(404).end();
        res.type('application/fhir+json; charset=utf-8').send(result.rows[0].content);
      }, next);
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await pool.end();
    },
  };
}

/** How long the event loop stalled, and garbage collection's share, between two 'pauses' messages (diagnostics). */
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
const gc = { total: 0, max: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gc.total += entry.duration;
    gc.max = Math.max(gc.max, entry.duration);
  }
}).observe({ entryTypes: ['gc'] });

async function main(): Promise<void> {
  const [mode, logLevel = 'warn'] = process.argv.slice(2);
  const running = mode === 'reference' ? await startReference() : await startProduct(logLevel);
  process.on('message', (message) => {
    // CPU time used so far (main thread and any workers), so the parent can charge it per request.
    if (message === 'cpu') return void process.send?.({ cpu: process.cpuUsage() });
    // Resident memory now, for the benchmarks that watch what a load costs in memory (bench/binary.ts).
    if (message === 'rss') return void process.send?.({ rss: process.memoryUsage().rss });
    if (message === 'pauses') {
      const pauses = { eventLoopP99: loopDelay.percentile(99) / 1e6, eventLoopMax: loopDelay.max / 1e6, gcMs: gc.total, gcMaxMs: gc.max };
      loopDelay.reset();
      gc.total = gc.max = 0;
      return void process.send?.({ pauses });
    }
    // 'idle' and 'busy': another server sharing the database is measured now, so this one's background work
    // (turning access records into AuditEvents) stops, lest it do that server's share; and starts again.
    if (message === 'idle' || message === 'busy') {
      if (!running.jobs) return void process.send?.({ done: true });
      if (message === 'busy') running.jobs.resume();
      return void (message === 'idle' ? running.jobs.pause(['audit-pass']) : Promise.resolve()).then(() => process.send?.({ done: true }));
    }
    if (message === 'stop')
      running.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
  });
  process.send?.({ url: running.url });
}

main().catch((err) => {
  process.stderr.write(`bench-server: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
