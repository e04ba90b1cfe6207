/**
 * What the service counts for Prometheus: requests by route and status, their durations, the database pool,
 * scheduled jobs, mail that could not be sent, AuditEvents still to be written, and the process's own figures
 * (memory, CPU, event-loop lag) from prom-client's defaults. One registry per server, so tests do not share series.
 */
import { sql } from 'kysely';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Database } from '../db/database';
import type { Mailer } from '../mail/mailer';

/** How a scheduled job's tick ended: it did the work, another instance held the lock, or it threw. */
export type JobOutcome = 'ran' | 'skipped' | 'failed';

/** The service's metrics and the registry /metrics renders. */
export interface ServiceMetrics {
  readonly registry: Registry;
  /** Counts one answered request (called when the response has been sent). */
  observeRequest(method: string, route: string, status: number, seconds: number): void;
  /** Counts one scheduled job tick. */
  observeJob(job: string, outcome: JobOutcome, seconds: number): void;
  /** Counts one message the mailer did not accept. */
  countMailFailure(): void;
}

// Portal reads take milliseconds; C-CDA renders and imports take seconds.
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Creates the registry with every series, reading pool and audit figures from `database` at each scrape. */
export function createServiceMetrics(database: Pick<Database, 'db' | 'poolStats'>): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'chartkeeper_' });
  const requests = new Counter({
    name: 'chartkeeper_http_requests_total',
    help: 'HTTP requests answered, by method, route and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const durations = new Histogram({
    name: 'chartkeeper_http_request_duration_seconds',
    help: 'Time from a request arriving to its response being sent, by method, route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const jobRuns = new Counter({
    name: 'chartkeeper_job_runs_total',
    help: 'Scheduled job ticks by job and outcome (ran, skipped: another instance held the lock, failed)',
    labelNames: ['job', 'outcome'],
    registers: [registry],
  });
  const jobDurations = new Histogram({
    name: 'chartkeeper_job_duration_seconds',
    help: 'Duration of scheduled job ticks',
    labelNames: ['job'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const mailFailures = new Counter({
    name: 'chartkeeper_mail_failures_total',
    help: 'Messages the mailer (SMTP or outbox) did not accept',
    registers: [registry],
  });
  new Gauge({
    name: 'chartkeeper_db_pool_connections',
    help: 'Database pool connections by state (in_use, idle, waiting: callers queued for a connection)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const stats = database.poolStats?.();
      if (!stats) return;
      this.set({ state: 'in_use' }, stats.total - stats.idle);
      this.set({ state: 'idle' }, stats.idle);
      this.set({ state: 'waiting' }, stats.waiting);
    },
  });
  new Gauge({
    name: 'chartkeeper_audit_backlog',
    help: 'Access records committed but not yet turned into AuditEvents (-1 when the database did not answer)',
    registers: [registry],
    async collect() {
      const count = await sql<{ n: number }>`select count(*)::int as n from audit_log`.execute(database.db).then(
        (r) => r.rows[0]?.n ?? 0,
        () => -1,
      );
      this.set(count);
    },
  });
  return {
    registry,
    observeRequest(method, route, status, seconds) {
      const labels = { method, route, status: String(status) };
      requests.inc(labels);
      durations.observe(labels, seconds);
    },
    observeJob(job, outcome, seconds) {
      jobRuns.inc({ job, outcome });
      if (outcome !== 'skipped') jobDurations.observe({ job }, seconds);
    },
    countMailFailure() {
      mailFailures.inc();
    },
  };
}

/** The mailer, counting each message it does not accept (the error still reaches the caller). */
export function countingMailFailures(mailer: Mailer, metrics: Pick<ServiceMetrics, 'countMailFailure'>): Mailer {
  return {
    send: (message) =>
      mailer.send(message).catch((err: unknown) => {
        metrics.countMailFailure();
        throw err;
      }),
    close: () => mailer.close(),
  };
}
