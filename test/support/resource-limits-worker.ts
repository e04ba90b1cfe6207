/**
 * A worker for tests of WorkerJobs: answers each job with the resource limits its thread was started with and the
 * heap limit V8 gave it (the old generation's limit plus the young generation's size).
 */
import v8 from 'node:v8';
import { parentPort, resourceLimits } from 'node:worker_threads';

parentPort!.on('message', ({ id }: { id: number }) => {
  parentPort!.postMessage({ id, started: true });
  parentPort!.postMessage({ id, limits: resourceLimits, heapLimitMb: v8.getHeapStatistics().heap_size_limit / 2 ** 20 });
});
