/** A worker for tests of WorkerJobs: answers each job with the resource limits its thread was started with. */
import { parentPort, resourceLimits } from 'node:worker_threads';

parentPort!.on('message', ({ id }: { id: number }) => {
  parentPort!.postMessage({ id, started: true });
  parentPort!.postMessage({ id, limits: resourceLimits });
});
