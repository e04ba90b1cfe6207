/** Worker threads of WorkerJobs: each heap limit asked for gets its thread, with the workers' young generation. */
import path from 'node:path';
import type { ResourceLimits } from 'node:worker_threads';
import { WORKER_YOUNG_GENERATION_MB } from './start-worker';
import { WorkerJobs } from './worker-jobs';

test("a worker's old generation is the job's heap limit, and its young generation the workers' own size", async () => {
  const jobs = new WorkerJobs<object, { id: number; limits?: ResourceLimits }>({
    dir: path.join(__dirname, '..', 'test', 'support'),
    module: 'resource-limits-worker',
    callerFile: __filename,
    label: 'the test worker',
    job: 'job',
    idleMs: 60_000,
  });
  try {
    for (const heapMb of [64, 128]) {
      const ending = await jobs.run({}, heapMb);
      expect('reply' in ending && ending.reply.limits).toMatchObject({
        maxOldGenerationSizeMb: heapMb,
        maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB,
      });
    }
  } finally {
    await jobs.stop();
  }
});
