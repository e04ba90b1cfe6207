/**
 * Run as a process of its own with the server's Node flags (test/server-node-flags.test.ts): prints the main
 * thread's young generation and the heap a WorkerJobs worker got for a 64 MB job, as JSON.
 */
import v8 from 'node:v8';
import { WorkerJobs } from '../../src/worker-jobs';

const MB = 2 ** 20;
const newSpaceMb = (): number => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size / MB;

async function main(): Promise<void> {
  const mainBefore = newSpaceMb();
  const jobs = new WorkerJobs<object, { id: number; heapLimitMb: number }>({
    dir: __dirname,
    module: 'resource-limits-worker',
    callerFile: __filename,
    label: 'the test worker',
    job: 'job',
    idleMs: 60_000,
  });
  try {
    const ending = await jobs.run({}, 64);
    if (!('reply' in ending)) throw new Error(`the worker did not answer: ${JSON.stringify(ending)}`);
    // A second worker after the first: the flags stay as the first start left them.
    const again = await jobs.run({}, 128);
    if (!('reply' in again)) throw new Error(`the worker did not answer: ${JSON.stringify(again)}`);
    process.stdout.write(
      JSON.stringify({
        mainNewSpaceMb: mainBefore,
        mainNewSpaceAfterMb: newSpaceMb(),
        workerYoungMb: [ending.reply.heapLimitMb - 64, again.reply.heapLimitMb - 128],
      }),
    );
  } finally {
    await jobs.stop();
  }
}

void main();
