import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import { FhirError } from './outcomes';
import type { IndexRows } from './search/index-values';

/** What a worker made of one resource: its index rows, or why it is not valid. */
export interface Preparation {
  readonly index?: IndexRows;
  readonly error?: { readonly status: number; readonly outcome?: OperationOutcome; readonly message?: string };
}

/** A chunk of resources for one worker, as JSON text (cheaper to post than an object graph). */
export interface PreparationRequest {
  readonly id: number;
  readonly json: string;
}

/** A worker's answer to one request, in the request's order. */
export interface PreparationResponse {
  readonly id: number;
  readonly results: Preparation[];
}

/** The FhirError a Preparation's error stands for: the same one assertValidResource throws in-process. */
export function preparationError(error: NonNullable<Preparation['error']>): Error {
  return error.outcome ? new FhirError(error.status, error.outcome) : new Error(error.message);
}

/**
 * Workers for a bulk write: one per CPU but one, at most 4, at least 1. The main thread (parsing, writing) and
 * PostgreSQL need a CPU too, and each worker is an isolate of its own, with its own JIT compilation, garbage
 * collection and copy of the definitions. Measured on 2 CPUs (bench/fhir.ts import, 4 alternating runs each): 1 worker
 * used 380-410 µs of CPU per resource against 450-495 µs for 2, and imported as fast or faster.
 */
export function defaultPreparationWorkers(): number {
  return Math.min(Math.max(os.availableParallelism() - 1, 1), 4);
}

/** Resources smaller than this are not worth splitting across workers. */
const MIN_CHUNK = 16;

/**
 * A fixed set of worker threads that validate resources and compute their search index rows in
 * parallel (validation ~65 µs per Synthea resource, indexing ~20 µs, more on a busy machine), for bulk writes
 * such as imports. The main thread keeps the database work; results come back in input order.
 */
export class WritePreparationPool {
  private readonly pending = new Map<number, { worker: Worker; resolve: (results: Preparation[]) => void; reject: (err: Error) => void }>();
  private nextId = 1;
  private nextWorker = 0;
  private failure: Error | undefined;

  private constructor(
    private readonly workers: Worker[],
    /** Resolves once every worker has loaded the FHIR definitions. */
    readonly ready: Promise<void>,
  ) {
    for (const worker of workers) {
      worker.on('message', (message: PreparationResponse | 'ready') => {
        if (message === 'ready') return;
        const request = this.pending.get(message.id);
        this.pending.delete(message.id);
        request?.resolve(message.results);
      });
      // A worker that dies fails what it was doing; nothing is silently dropped.
      const fail = (err: Error): void => {
        this.failure ??= err;
        for (const [id, request] of this.pending) {
          if (request.worker !== worker) continue;
          this.pending.delete(id);
          request.reject(err);
        }
      };
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`write preparation worker exited (${code})`)));
    }
  }

  /** Starts `size` workers (default: defaultPreparationWorkers()). */
  static start(size = defaultPreparationWorkers()): WritePreparationPool {
    const workers: Worker[] = [];
    const ready: Promise<void>[] = [];
    for (let i = 0; i < size; i++) {
      const worker = new Worker(BOOTSTRAP, { eval: true, workerData: { file: workerFile() } });
      ready.push(
        new Promise((resolve, reject) => {
          worker.once('error', reject);
          worker.once('message', () => resolve());
        }),
      );
      workers.push(worker);
    }
    const pool = new WritePreparationPool(workers, Promise.all(ready).then(() => undefined));
    pool.ready.catch(() => undefined); // reported by prepare() instead
    return pool;
  }

  /** The number of worker threads. */
  get size(): number {
    return this.workers.length;
  }

  /** Validates and indexes the resources across the workers; one Preparation per resource, in order. */
  async prepare(resources: readonly Resource[]): Promise<Preparation[]> {
    if (!resources.length) return [];
    await this.ready;
    const parts = Math.max(1, Math.min(this.workers.length, Math.floor(resources.length / MIN_CHUNK)));
    const size = Math.ceil(resources.length / parts);
    const requests: Promise<Preparation[]>[] = [];
    for (let start = 0; start < resources.length; start += size) {
      requests.push(this.send(resources.slice(start, start + size)));
    }
    return (await Promise.all(requests)).flat();
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    this.failure ??= new Error('the write preparation pool is closed');
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private send(resources: readonly Resource[]): Promise<Preparation[]> {
    const id = this.nextId++;
    const worker = this.workers[this.nextWorker++ % this.workers.length];
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.pending.set(id, { worker, resolve, reject });
      worker.postMessage({ id, json: JSON.stringify(resources) } satisfies PreparationRequest);
    });
  }
}

/** The worker module next to this one: .ts when running from source (tsx, jest), .js when built. */
function workerFile(): string {
  return path.join(__dirname, `write-preparation-worker${path.extname(__filename)}`);
}

// From source, the worker needs a TypeScript loader of its own: neither jest's transform nor tsx's
// ESM hooks reach a worker's require().
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
if (workerData.file.endsWith('.ts')) require('tsx/cjs/api').register();
require(workerData.file);
`;
