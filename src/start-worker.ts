import path from 'node:path';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * A worker's young generation, in MB: V8's own default for a 64-bit heap (16 MB semi-spaces). A worker inherits the
 * process's flags, and with them the server's 64 MB semi-spaces (src/server-node-flags.ts), which are there for the
 * request thread: fewer scavenges to pause requests. A worker's pauses hold no request, and its young generation grown
 * to the server's size held 64 MB more: in a 30-minute soak a worker grew it at minute 21-22, and the instance's RSS
 * rose by some 55 MB.
 */
export const WORKER_YOUNG_GENERATION_MB = 48;

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
