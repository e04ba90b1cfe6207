/**
 * The cron schedule of the jobs. Every instance schedules every job; the advisory lock inside each job makes
 * one of them do the work. Failures are logged and the next tick tries again.
 */
import cron, { type Logger as CronLogger, type ScheduledTask } from 'node-cron';
import { accessChangeNoticeJob } from './access-change-notice-job';
import { analyzeStatisticsJob } from './analyze-statistics-job';
import { auditPassJob } from './audit-pass-job';
import { billingNoticeJob } from './billing-notice-job';
import { bulkExportJob } from './bulk-export-job';
import { expireExportsJob } from './expire-exports-job';
import { expireSecretsJob } from './expire-secrets-job';
import type { JobDeps } from './job-deps';
import { purgeOauthStateJob } from './purge-oauth-state-job';
import { purgeRefreshTokensJob } from './purge-refresh-tokens-job';
import { formCompletionJob } from './form-completion-job';
import { portalNoticeJob } from './portal-notice-job';
import { releaseNoticeJob } from './release-notice-job';
import { subscriptionDeliveryJob } from './subscription-delivery-job';
import { vacuumTablesJob } from './vacuum-tables-job';

/** A job and when it runs (cron expression, in the organization's time zone). */
export interface ScheduledJob {
  readonly name: string;
  readonly schedule: string;
  run(deps: JobDeps): Promise<unknown>;
}

/** The jobs and their default schedule. */
export const JOBS: readonly ScheduledJob[] = Object.freeze([
  { name: 'expire-secrets', schedule: '7 * * * *', run: expireSecretsJob },
  { name: 'purge-refresh-tokens', schedule: '23 3 * * *', run: purgeRefreshTokensJob },
  // Every hour, not once a day: a missed 09:00 (restart, deploy) is caught up; job_run keeps it to one per day.
  { name: 'access-change-notice', schedule: '0 * * * *', run: accessChangeNoticeJob },
  // Every minute: a released document is announced soon after, and notices released together go as one.
  { name: 'release-notice', schedule: '* * * * *', run: releaseNoticeJob },
  // Every minute: statements issued and payments received are told soon after.
  { name: 'billing-notice', schedule: '* * * * *', run: billingNoticeJob },
  // Every minute: a request answered or a message from the practice is told soon after, without its content.
  { name: 'portal-notice', schedule: '* * * * *', run: portalNoticeJob },
  // Every minute: a form answered completes the Task that asked for it.
  { name: 'form-completion', schedule: '* * * * *', run: formCompletionJob },
  // Every second (node-cron's six-field form): access records become AuditEvents soon after the request.
  { name: 'audit-pass', schedule: '* * * * * *', run: auditPassJob },
  // Every second: rest-hook notifications leave the outbox soon after the write that queued them.
  { name: 'subscription-delivery', schedule: '* * * * * *', run: subscriptionDeliveryJob },
  // Hourly: SMART authorization state (codes, sessions, grants) past its expiry is deleted.
  { name: 'purge-oauth-state', schedule: '41 * * * *', run: purgeOauthStateJob },
  // Every second: queued Bulk Data exports start soon after their kick-off; each run works for a slice of time.
  { name: 'bulk-export', schedule: '* * * * * *', run: (deps: JobDeps) => bulkExportJob(deps) },
  // Every five minutes: exports whose files have expired are deleted.
  { name: 'expire-exports', schedule: '*/5 * * * *', run: expireExportsJob },
  // Every five minutes: planner statistics of tables that changed, where autovacuum does not run.
  { name: 'analyze-statistics', schedule: '*/5 * * * *', run: analyzeStatisticsJob },
  // Every minute: the queues' and outboxes' space reclaimed, where autovacuum does not run.
  { name: 'vacuum-tables', schedule: '30 * * * * *', run: vacuumTablesJob },
]);

/** The jobs with `overrides` (job name -> cron expression) in place of their default schedules; throws on an unknown job or expression. */
export function jobsWithSchedules(overrides: Readonly<Record<string, string>>, jobs: readonly ScheduledJob[] = JOBS): ScheduledJob[] {
  for (const [name, schedule] of Object.entries(overrides)) {
    if (!jobs.some((job) => job.name === name))
      throw new Error(`JOB_SCHEDULES names no job "${name}" (jobs: ${jobs.map((j) => j.name).join(', ')})`);
    if (!cron.validate(schedule)) throw new Error(`JOB_SCHEDULES: "${schedule}" is not a cron expression (job ${name})`);
  }
  return jobs.map((job) => (overrides[job.name] ? { ...job, schedule: overrides[job.name] } : job));
}

/**
 * node-cron's messages about a job (a tick missed while the event loop was blocked, say) in the service's log, with
 * the job's name, instead of on the console; dropped when the jobs run without a logger (tests).
 */
function cronLogger(deps: JobDeps, job: string): CronLogger {
  const log = deps.logger;
  const errorOf = (message: string | Error, err?: Error) => ({
    message: message instanceof Error ? message.message : (err?.message ?? message),
  });
  return {
    info: (message) => log?.info({ job }, `node-cron: ${message}`),
    warn: (message) => log?.warn({ job }, `node-cron: ${message.replace(/ at .*?! /, '! ')}`),
    error: (message, err) => log?.error({ job, err: errorOf(message, err) }, 'node-cron: task failed'),
    debug: (message) => log?.debug({ job }, `node-cron: ${String(message)}`),
  };
}

/** Running schedules; stop() cancels them and resolves once the runs in progress have finished. */
export interface RunningJobs {
  stop(): Promise<void>;
  /** Skips the runs of these jobs from now on, and waits for those in progress (a benchmark sharing the database). */
  pause(names: readonly string[]): Promise<void>;
  /** Lets paused jobs run again. */
  resume(): void;
  /**
   * Runs a job now, unless a run of it is in progress here (which then does the work) or it is paused or stopped:
   * work just queued (an export's kick-off) starts at once instead of at the next tick.
   */
  runSoon(name: string): void;
}

/** How a job tick ended, for metrics: done here, skipped (another instance held the lock), or failed. */
export type JobTickObserver = (job: string, outcome: 'ran' | 'skipped' | 'failed', seconds: number) => void;

/** Schedules every job; `observe` hears how each tick ended. */
export function startJobs(deps: JobDeps, jobs: readonly ScheduledJob[] = JOBS, observe?: JobTickObserver): RunningJobs {
  // Runs in progress, so that stopping waits for them: a job cut off by the database closing under it would only log
  // a failure and leave its work to the next start.
  const running = new Set<Promise<void>>();
  const paused = new Set<string>();
  // Runs in progress by job name: a tick or runSoon() finding one in progress leaves the work to it.
  const active = new Map<string, Promise<void>>();
  let stopped = false;
  const start = (job: ScheduledJob): Promise<void> | undefined => {
    if (stopped || paused.has(job.name) || active.has(job.name)) return undefined;
    const run = runOnce(job).finally(() => {
      running.delete(run);
      active.delete(job.name);
    });
    running.add(run);
    active.set(job.name, run);
    return run;
  };
  const runOnce = async (job: ScheduledJob): Promise<void> => {
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    try {
      const result = await job.run(deps);
      // Each job answers undefined when another instance held its lock.
      observe?.(job.name, result === undefined ? 'skipped' : 'ran', seconds());
      deps.logger?.debug({ job: job.name, result }, 'job finished');
    } catch (err) {
      observe?.(job.name, 'failed', seconds());
      deps.logger?.error({ job: job.name, err: { message: (err as Error)?.message } }, 'job failed');
    }
  };
  // start() already leaves a tick to the run in progress. node-cron's own noOverlap would do the same but print a
  // line to the console, outside the log, for every tick a busy second-by-second job skips.
  const tasks: ScheduledTask[] = jobs.map((job) =>
    cron.schedule(
      job.schedule,
      () => {
        void start(job);
      },
      { name: job.name, timezone: deps.timeZone, logger: cronLogger(deps, job.name) },
    ),
  );
  return {
    async stop() {
      stopped = true;
      for (const task of tasks) await task.destroy();
      await Promise.all(running);
    },
    async pause(names) {
      for (const name of names) paused.add(name);
      await Promise.all(running);
    },
    resume() {
      paused.clear();
    },
    runSoon(name) {
      const job = jobs.find((j) => j.name === name);
      if (job) void start(job);
    },
  };
}
