import type { JobDeps } from './job-deps';
import { startJobs, type ScheduledJob } from './job-scheduler';

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
