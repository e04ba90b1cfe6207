import type { JobDeps } from './job-deps';
import { jobsWithSchedules, startJobs, type ScheduledJob } from './job-scheduler';
import { loadConfig } from '../config';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('stop() schedules no new run and resolves only once the run in progress has finished (shutdown waits for jobs)', async () => {
  let runs = 0;
  let started!: () => void;
  let finish!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  const job: ScheduledJob = {
    name: 'slow',
    schedule: '* * * * * *', // every second
    run: async () => {
      runs++;
      started();
      await new Promise<void>((resolve) => (finish = resolve));
    },
  };
  // The job reads none of its dependencies.
  const jobs = startJobs({ timeZone: 'UTC' } as JobDeps, [job]);
  await running;
  let stopped = false;
  const stopping = jobs.stop().then(() => (stopped = true));
  await sleep(1_500);
  expect(stopped).toBe(false);
  finish();
  await stopping;
  await sleep(1_500);
  expect(runs).toBe(1);
});

test('JOB_SCHEDULES replaces a job’s schedule; an unknown job or a bad expression stops the start', () => {
  const jobs = jobsWithSchedules({ 'release-notice': '*/5 * * * * *' });
  expect(jobs.find((j) => j.name === 'release-notice')?.schedule).toBe('*/5 * * * * *');
  expect(jobs.find((j) => j.name === 'expire-secrets')?.schedule).toBe('7 * * * *');
  expect(() => jobsWithSchedules({ 'no-such-job': '* * * * *' })).toThrow(
    'JOB_SCHEDULES names no job "no-such-job" (jobs: expire-secrets, purge-refresh-tokens, access-change-notice, release-notice, billing-notice, portal-notice, form-completion, audit-pass, subscription-delivery, purge-oauth-state, bulk-export, expire-exports, analyze-statistics, vacuum-tables)',
  );
  expect(() => jobsWithSchedules({ 'release-notice': 'every minute' })).toThrow(
    'JOB_SCHEDULES: "every minute" is not a cron expression (job release-notice)',
  );
  expect(loadConfig({ JOB_SCHEDULES: 'release-notice=*/5 * * * * *; expire-secrets=0,30 * * * *' }).jobSchedules).toEqual({
    'release-notice': '*/5 * * * * *',
    'expire-secrets': '0,30 * * * *',
  });
  expect(() => loadConfig({ JOB_SCHEDULES: 'release-notice' })).toThrow(
    'JOB_SCHEDULES must be job=cron pairs separated by ";", got "release-notice"',
  );
});

test('runSoon() runs a job at once, and leaves the work to a run already in progress', async () => {
  let runs = 0;
  let finish!: () => void;
  const job: ScheduledJob = {
    name: 'queue',
    schedule: '0 0 1 1 *', // New Year's night: only runSoon() runs it here
    run: async () => {
      runs++;
      await new Promise<void>((resolve) => (finish = resolve));
      return runs;
    },
  };
  const jobs = startJobs({ timeZone: 'UTC' } as JobDeps, [job]);
  try {
    jobs.runSoon('queue');
    expect(runs).toBe(1);
    jobs.runSoon('queue');
    jobs.runSoon('no-such-job');
    expect(runs).toBe(1);
    finish();
    await sleep(10);
    jobs.runSoon('queue');
    expect(runs).toBe(2);
    finish();
  } finally {
    await jobs.stop();
  }
  jobs.runSoon('queue');
  expect(runs).toBe(2);
});

test('a second-by-second job slower than a second runs one at a time, its skipped ticks left to the run in progress', async () => {
  let running = 0;
  let most = 0;
  let runs = 0;
  const job: ScheduledJob = {
    name: 'busy',
    schedule: '* * * * * *',
    run: async () => {
      runs++;
      most = Math.max(most, ++running);
      await sleep(2_300);
      running--;
      return runs;
    },
  };
  const jobs = startJobs({ timeZone: 'UTC' } as JobDeps, [job]);
  try {
    await sleep(3_500);
  } finally {
    await jobs.stop();
  }
  expect(runs).toBeGreaterThanOrEqual(1);
  expect(runs).toBeLessThanOrEqual(2);
  expect(most).toBe(1);
});
