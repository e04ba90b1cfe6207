import path from 'node:path';
import v8 from 'node:v8';
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
  leaveYoungGenerationToLimits();
  return new Worker(BOOTSTRAP, { ...options, eval: true, workerData: { file } });
}

/**
 * The server's launch flags (src/server-node-flags.ts) size the young generation of every isolate the process starts,
 * and V8 takes them over a worker's resourceLimits: under them a worker asked for 48 MB got the server's 192 (64 MB
 * semi-spaces), and with --min-semi-space-size it would hold them from its first allocation. The main isolate read
 * the flags when it started and keeps its sizes; set back to V8's defaults (0: derived from the limits), they leave
 * each worker's young generation to its resourceLimits.
 */
function leaveYoungGenerationToLimits(): void {
  v8.setFlagsFromString('--max-semi-space-size=0');
  v8.setFlagsFromString('--min-semi-space-size=0');
}

const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
if (workerData.file.endsWith('.ts')) require('tsx/cjs/api').register();
require(workerData.file);
`;
