import path from 'node:path';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread running the module `name` in `dir` (given without extension): the .ts beside the caller
 * when running from source (tsx, jest), the .js when built. From source the worker needs a TypeScript loader of its
 * own: neither jest's transform nor tsx's ESM hooks reach a worker's require().
 */
export function startWorker(dir: string, name: string, callerFile: string, options: WorkerOptions = {}): Worker {
  const file = path.join(dir, `${name}${path.extname(callerFile)}`);
  return new Worker(BOOTSTRAP, { ...options, eval: true, workerData: { file } });
}

const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
if (workerData.file.endsWith('.ts')) require('tsx/cjs/api').register();
require(workerData.file);
`;
