import type { Worker } from 'node:worker_threads';
import { startWorker, WORKER_YOUNG_GENERATION_MB } from './start-worker';

/** Every message a worker sends names its job; `started` comes first, as the worker begins the job, then the reply. */
export interface JobMessage {
  readonly id: number;
  readonly started?: true;
}

/** How a job left the workers: with its reply, having run its worker out of memory, or lost with a worker twice. */
export type JobEnding<Reply> = { readonly reply: Reply } | { readonly outOfMemory: true } | { readonly lost: string };

/** A job posted to a thread and not answered yet. */
interface Job<Reply> {
  started: boolean;
  readonly settle: (ending: JobEnding<Reply>) => void;
}

/** What the workers run, and what they and their jobs are called in messages ("the C-CDA parse worker", "document"). */
export interface WorkerJobsSpec {
  /** The worker's module: its directory and name without extension, and the file of the caller (see startWorker). */
  readonly dir: string;
  readonly module: string;
  readonly callerFile: string;
  readonly label: string;
  /** What one job is, in messages ("document"). */
  readonly job: string;
  /** An idle worker stops after this long: its isolate holds memory an idle server should not. */
  readonly idleMs: number;
}

/**
 * One worker thread and the jobs posted to it, which it runs one at a time in the order they came. When the thread
 * stops, only its own jobs are settled: a job posted to a newer thread is never failed by an older one's exit (the
 * idle worker stopping as the next job arrived was once a 500, "the C-CDA parse worker exited (1)").
 */
class WorkerThread<Reply extends JobMessage> {
  private readonly thread: Worker;
  private readonly jobs = new Map<number, Job<Reply>>();
  private stoppedOnPurpose = false;
  private ended = false;

  constructor(
    private readonly spec: WorkerJobsSpec,
    heapMb: number,
    private readonly onEnd: (thread: WorkerThread<Reply>) => void,
  ) {
    this.thread = startWorker(spec.dir, spec.module, spec.callerFile, {
      resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
    });
    this.thread.unref();
    this.thread.on('message', (message: Reply) => {
      const job = this.jobs.get(message.id);
      if (!job) return;
      if (message.started) {
        job.started = true;
        return;
      }
      this.jobs.delete(message.id);
      job.settle({ reply: message });
    });
    // On running out of memory, 'error' (ERR_WORKER_OUT_OF_MEMORY) comes just before 'exit' (code 1); a worker
    // terminated on purpose, or one whose thread ended otherwise, has 'exit' alone.
    this.thread.on('error', (err: Error & { code?: string }) => this.end(err.code === 'ERR_WORKER_OUT_OF_MEMORY', err.message));
    this.thread.on('exit', (code) => this.end(false, `${spec.label} exited (${code})`));
  }

  /** Jobs posted and not answered. */
  get pending(): number {
    return this.jobs.size;
  }

  /** Whether the thread takes jobs: not once it stopped or is stopping. */
  get usable(): boolean {
    return !this.ended && !this.stoppedOnPurpose;
  }

  /** Runs one job; resolves with how it ended (never rejects). */
  post(id: number, request: object): Promise<JobEnding<Reply>> {
    return new Promise((settle) => {
      this.jobs.set(id, { started: false, settle });
      this.thread.postMessage({ ...request, id });
    });
  }

  /** Stops the thread; jobs still on it are lost with it (they may be sent again). */
  async stop(): Promise<void> {
    this.stoppedOnPurpose = true;
    await this.thread.terminate();
  }

  private end(outOfMemory: boolean, why: string): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd(this);
    for (const [id, job] of this.jobs) {
      this.jobs.delete(id);
      // The job running when the heap ran out is the one that needed it; those waiting behind it did not.
      if (outOfMemory && job.started) job.settle({ outOfMemory: true });
      else if (outOfMemory) job.settle({ lost: `${this.spec.label} ran out of memory on another ${this.spec.job}` });
      else job.settle({ lost: this.stoppedOnPurpose ? `${this.spec.label} was stopped` : why });
    }
  }
}

/**
 * Work kept off the thread that serves requests: jobs run on a worker thread (one per heap limit in use), started on
 * the first job and stopped once none has come for `idleMs`. A job lost with its worker through no fault of its own
 * (another job ran the worker out of memory, the worker was stopped) is run once more on a new worker; the job that
 * runs a worker out of memory is told so.
 */
export class WorkerJobs<Request extends object, Reply extends JobMessage> {
  private readonly threads = new Map<number, WorkerThread<Reply>>();
  private idleTimer: NodeJS.Timeout | undefined;
  private nextId = 1;

  constructor(private readonly spec: WorkerJobsSpec) {}

  /** Runs one job on the worker whose old generation is held to `heapMb`; resolves with how it ended (never rejects). */
  async run(request: Request, heapMb: number): Promise<JobEnding<Reply>> {
    let lost = '';
    for (let attempt = 0; attempt < 2; attempt++) {
      clearTimeout(this.idleTimer);
      const ending = await this.threadFor(heapMb)
        .post(this.nextId++, request)
        .finally(() => this.stopWhenIdle());
      if (!('lost' in ending)) return ending;
      lost = ending.lost;
    }
    return { lost: `${lost}, twice` };
  }

  /** Stops the workers, if any run (an idle one; a server shutting down; tests). A job still running is sent once more to a new worker. */
  async stop(): Promise<void> {
    const running = [...this.threads.values()];
    this.threads.clear();
    await Promise.all(running.map((t) => t.stop()));
  }

  /** The running thread for this heap limit, or a new one; unref'd, so an idle one keeps no process alive. */
  private threadFor(heapMb: number): WorkerThread<Reply> {
    const running = this.threads.get(heapMb);
    if (running?.usable) return running;
    const started = new WorkerThread<Reply>(this.spec, heapMb, (ended) => {
      if (this.threads.get(heapMb) === ended) this.threads.delete(heapMb);
    });
    this.threads.set(heapMb, started);
    return started;
  }

  private stopWhenIdle(): void {
    if ([...this.threads.values()].some((t) => t.pending) || !this.threads.size) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (![...this.threads.values()].some((t) => t.pending)) void this.stop();
    }, this.spec.idleMs);
    this.idleTimer.unref();
  }
}
