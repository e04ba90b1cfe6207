import os from 'node:os';
import type { ResourceLimits, Worker } from 'node:worker_threads';
import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import { startWorker, WORKER_YOUNG_GENERATION_MB } from '../start-worker';
import { FhirError, serviceUnavailable } from './outcomes';
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
 * Worker threads that validate resources and compute their search index rows in parallel (validation ~65 µs per
 * Synthea resource, indexing ~20 µs, more on a busy machine), for bulk writes such as imports and for large single
 * resources. The main thread keeps the database work; results come back in input order.
 *
 * start() runs its workers until close() (an import). onDemand() starts them on the first request and stops them once
 * no request has come for idleMs (the server): each worker is an isolate with its own copy of the definitions, about
 * 250 MB from source, which an idle server should not hold. A worker that dies (its heap ran out, say) fails what it
 * was doing and the workers started with it. An on-demand pool starts new ones and sends what was lost once more; lost
 * again, it is a 503 to retry, as is work in flight when the pool closes (the server stopping).
 */
export class WritePreparationPool {
  private readonly pending = new Map<number, { worker: Worker; resolve: (results: Preparation[]) => void; reject: (err: Error) => void }>();
  private nextId = 1;
  private nextWorker = 0;
  private workers: Worker[] = [];
  private starting: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private closed = false;
  private idleTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly count: number,
    private readonly idleMs: number | undefined,
    private readonly resourceLimits: ResourceLimits | undefined,
  ) {}

  /** Starts `size` workers (default: defaultPreparationWorkers()), which run until close(). */
  static start(size = defaultPreparationWorkers()): WritePreparationPool {
    const pool = new WritePreparationPool(size, undefined, undefined);
    pool.spawn();
    return pool;
  }

  /**
   * A pool whose `size` workers start with the first request and stop after idleMs without one (the server's);
   * `resourceLimits` bound each worker's heap (by default V8's own limit, with the workers' young generation).
   */
  static onDemand(size = defaultPreparationWorkers(), idleMs = 30_000, resourceLimits?: ResourceLimits): WritePreparationPool {
    return new WritePreparationPool(size, idleMs, { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB, ...resourceLimits });
  }

  /** Resolves once the running workers have loaded the FHIR definitions (at once when none runs). */
  get ready(): Promise<void> {
    return this.starting;
  }

  /** The number of worker threads running now. */
  get size(): number {
    return this.workers.length;
  }

  /** Validates and indexes the resources across the workers; one Preparation per resource, in order. */
  async prepare(resources: readonly Resource[]): Promise<Preparation[]> {
    if (!resources.length) return [];
    if (this.closed) throw new Error('the write preparation pool is closed');
    if (!this.workers.length && this.idleMs !== undefined) this.spawn();
    clearTimeout(this.idleTimer);
    const parts = Math.max(1, Math.min(this.workers.length, Math.floor(resources.length / MIN_CHUNK)));
    const size = Math.ceil(resources.length / parts);
    const requests: Promise<Preparation[]>[] = [];
    for (let start = 0; start < resources.length; start += size) {
      requests.push(this.sendOnceMore(resources.slice(start, start + size)));
    }
    try {
      return (await Promise.all(requests)).flat();
    } finally {
      this.stopWhenIdle();
    }
  }

  /** Stops the workers; work in flight on them is refused (a 503: the server is stopping) rather than left waiting. */
  async close(): Promise<void> {
    this.closed = true;
    this.failure ??= new Error('the write preparation pool is closed');
    clearTimeout(this.idleTimer);
    const workers = this.workers;
    this.workers = [];
    for (const [id, request] of this.pending) {
      this.pending.delete(id);
      request.reject(serviceUnavailable('The server is stopping; please send the request again'));
    }
    await Promise.all(workers.map((w) => w.terminate()));
  }

  private spawn(): void {
    const workers: Worker[] = [];
    const ready: Promise<void>[] = [];
    this.failure = undefined;
    for (let i = 0; i < this.count; i++) {
      const worker = startWorker(__dirname, 'write-preparation-worker', __filename, { resourceLimits: this.resourceLimits });
      ready.push(
        new Promise((resolve, reject) => {
          worker.once('error', reject);
          worker.once('message', () => resolve());
        }),
      );
      worker.on('message', (message: PreparationResponse | 'ready') => {
        if (message === 'ready') return;
        const request = this.pending.get(message.id);
        this.pending.delete(message.id);
        request?.resolve(message.results);
      });
      // A worker that dies fails what it was doing; nothing is silently dropped.
      const fail = (err: Error): void => this.failed(workers, new WorkerLost(err.message));
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`write preparation worker exited (${code})`)));
      // An on-demand pool's workers never keep the process alive on their own.
      if (this.idleMs !== undefined) worker.unref();
      workers.push(worker);
    }
    this.workers = workers;
    this.starting = Promise.all(ready).then(() => undefined);
    this.starting.catch(() => undefined); // reported by prepare() instead
  }

  /** One of `generation`'s workers died: its requests fail, and so does every later one until new workers start. */
  private failed(generation: Worker[], err: Error): void {
    if (this.workers !== generation) return; // stopped on purpose (idle, close)
    this.failure ??= err;
    for (const [id, request] of this.pending) {
      if (!generation.includes(request.worker)) continue;
      this.pending.delete(id);
      request.reject(err);
    }
    if (this.idleMs !== undefined) {
      this.workers = [];
      for (const worker of generation) void worker.terminate();
    }
  }

  private stopWhenIdle(): void {
    if (this.idleMs === undefined || this.pending.size || !this.workers.length) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.pending.size) return;
      const workers = this.workers;
      this.workers = [];
      for (const worker of workers) void worker.terminate();
    }, this.idleMs);
    this.idleTimer.unref();
  }

  /**
   * Sends a chunk; in an on-demand pool, a chunk lost with its worker goes once more to new workers (the worker may
   * have died of another chunk), and a second loss is a 503.
   */
  private async sendOnceMore(resources: readonly Resource[]): Promise<Preparation[]> {
    try {
      return await this.send(resources);
    } catch (err) {
      if (!(err instanceof WorkerLost) || this.idleMs === undefined || this.closed) throw err;
    }
    if (!this.workers.length) this.spawn();
    try {
      return await this.send(resources);
    } catch (err) {
      if (!(err instanceof WorkerLost)) throw err;
      throw serviceUnavailable(`The server could not validate the request just now (${err.message}, twice); please send it again`);
    }
  }

  private send(resources: readonly Resource[]): Promise<Preparation[]> {
    const id = this.nextId++;
    const worker = this.workers[this.nextWorker++ % this.workers.length];
    return new Promise((resolve, reject) => {
      if (this.failure || !worker) return reject(this.failure ?? new Error('the write preparation pool has no workers'));
      this.pending.set(id, { worker, resolve, reject });
      worker.postMessage({ id, json: JSON.stringify(resources) } satisfies PreparationRequest);
    });
  }
}

/** A worker died before it answered (it ran out of memory, it could not start, its thread ended). */
class WorkerLost extends Error {}
