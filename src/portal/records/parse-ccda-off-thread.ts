import type { Worker } from 'node:worker_threads';
import { CcdaParseError, type CcdaImportResult, type CcdaParseErrorCode } from '../../ccda/parse';
import { DEFAULT_CCDA_PARSE_HEAP_MB } from '../../config';
import { startWorker } from '../../start-worker';

/** One document to parse, as the worker gets it. */
export interface ParseRequest {
  readonly id: number;
  readonly xml: string | Uint8Array;
  readonly maxBytes?: number;
}

/**
 * The worker's word on a request: `started` as it begins parsing it (so a worker that runs out of memory is known to
 * have done so on that document), then the result, the CcdaParseError it threw, or another failure.
 */
export interface ParseReply {
  readonly id: number;
  readonly started?: true;
  readonly result?: CcdaImportResult;
  readonly parseError?: { readonly code: CcdaParseErrorCode; readonly message: string; readonly line: number; readonly column: number };
  readonly failure?: string;
}

/** An idle parse worker stops after this long: its isolate holds 100-200 MB that an idle server should not. */
const IDLE_MS = 30_000;

/**
 * The parse worker stopped before it answered, through no fault of this document (another document ran it out of
 * memory, it was stopped, it could not start), and again on the one retry: the server is short of resources, and the
 * client may send the document again (a 503). Nothing was imported.
 */
export class ParseWorkerLost extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ParseWorkerLost';
  }
}

/** How a document left a worker that stopped: it ran the worker out of memory, or it was lost with the worker. */
type Ending = { readonly reply: ParseReply } | { readonly outOfMemory: true } | { readonly lost: string };

/** A document posted to a worker and not answered yet. */
interface Job {
  started: boolean;
  readonly settle: (ending: Ending) => void;
}

/**
 * One worker thread and the documents posted to it, which it parses one at a time in the order they came. When the
 * thread stops, only its own documents are settled: a document posted to a newer worker is never failed by an older
 * one's exit (the idle worker stopping as the next document arrived was a 500, "the C-CDA parse worker exited (1)").
 */
class ParseWorker {
  private readonly thread: Worker;
  private readonly jobs = new Map<number, Job>();
  private stoppedOnPurpose = false;
  private ended = false;

  constructor(
    heapMb: number,
    private readonly onEnd: (worker: ParseWorker) => void,
  ) {
    this.thread = startWorker(__dirname, 'ccda-parse-worker', __filename, { resourceLimits: { maxOldGenerationSizeMb: heapMb } });
    this.thread.unref();
    this.thread.on('message', (reply: ParseReply) => {
      const job = this.jobs.get(reply.id);
      if (!job) return;
      if (reply.started) {
        job.started = true;
        return;
      }
      this.jobs.delete(reply.id);
      job.settle({ reply });
    });
    // On running out of memory, 'error' (ERR_WORKER_OUT_OF_MEMORY) comes just before 'exit' (code 1); a worker
    // terminated on purpose, or one whose thread ended otherwise, has 'exit' alone.
    this.thread.on('error', (err: Error & { code?: string }) => this.end(err.code === 'ERR_WORKER_OUT_OF_MEMORY', err.message));
    this.thread.on('exit', (code) => this.end(false, `the C-CDA parse worker exited (${code})`));
  }

  /** Documents posted and not answered. */
  get pending(): number {
    return this.jobs.size;
  }

  /** Whether the worker takes documents: not once it stopped or is stopping. */
  get usable(): boolean {
    return !this.ended && !this.stoppedOnPurpose;
  }

  /** Parses one document; resolves with how it ended (never rejects). */
  parse(id: number, xml: string | Uint8Array, maxBytes: number | undefined): Promise<Ending> {
    return new Promise((settle) => {
      this.jobs.set(id, { started: false, settle });
      this.thread.postMessage({ id, xml, maxBytes } satisfies ParseRequest);
    });
  }

  /** Stops the thread; documents still on it are lost with it (they may be sent again). */
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
      // The document being parsed when the heap ran out is the one that needed it; those waiting behind it did not.
      if (outOfMemory && job.started) job.settle({ outOfMemory: true });
      else if (outOfMemory) job.settle({ lost: 'the C-CDA parse worker ran out of memory on another document' });
      else job.settle({ lost: this.stoppedOnPurpose ? 'the C-CDA parse worker was stopped' : why });
    }
  }
}

/** The worker for each heap limit in use (one, but for tests and a changed setting). */
const workers = new Map<number, ParseWorker>();
let idleTimer: NodeJS.Timeout | undefined;
let nextId = 1;

/**
 * Parses a C-CDA document (parseCcda) on a worker thread, so the event loop keeps serving other requests while a
 * 20 MB document is read (it was held 5-14 s), with the worker's heap held to `heapMb`. Throws what parseCcda throws;
 * a document that by itself runs the worker out of memory is a CcdaParseError 'too-large' naming the limit. A document
 * lost with its worker through no fault of its own is parsed again once on a new worker; lost again, it is a
 * ParseWorkerLost.
 */
export async function parseCcdaOffThread(
  xml: string | Buffer,
  maxBytes?: number,
  heapMb: number = DEFAULT_CCDA_PARSE_HEAP_MB,
): Promise<CcdaImportResult> {
  const data = typeof xml === 'string' ? xml : new Uint8Array(xml.buffer, xml.byteOffset, xml.byteLength);
  let lost = '';
  for (let attempt = 0; attempt < 2; attempt++) {
    clearTimeout(idleTimer);
    const ending = await workerFor(heapMb).parse(nextId++, data, maxBytes).finally(stopWhenIdle);
    if ('outOfMemory' in ending) {
      throw new CcdaParseError(
        'too-large',
        `The document needs more memory to import than one import may use (${heapMb} MB, CCDA_PARSE_HEAP_MB); nothing was imported`,
      );
    }
    if ('lost' in ending) {
      lost = ending.lost;
      continue;
    }
    const { reply } = ending;
    if (reply.parseError) {
      const { code, message, line, column } = reply.parseError;
      // The message already carries the line and column; the error is rebuilt as parseCcda threw it.
      const err = new CcdaParseError(code, message);
      throw Object.assign(err, { line, column });
    }
    if (reply.failure !== undefined) throw new Error(`C-CDA parse failed: ${reply.failure}`);
    return reply.result!;
  }
  throw new ParseWorkerLost(
    `The server could not parse the document just now (${lost}, twice); nothing was imported. Please send it again`,
  );
}

/** The running worker for this heap limit, or a new one; unref'd, so an idle one keeps no process alive. */
function workerFor(heapMb: number): ParseWorker {
  const running = workers.get(heapMb);
  if (running?.usable) return running;
  const started = new ParseWorker(heapMb, (ended) => {
    if (workers.get(heapMb) === ended) workers.delete(heapMb);
  });
  workers.set(heapMb, started);
  return started;
}

function stopWhenIdle(): void {
  if ([...workers.values()].some((w) => w.pending) || !workers.size) return;
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    if (![...workers.values()].some((w) => w.pending)) void stopCcdaParseWorker();
  }, IDLE_MS);
  idleTimer.unref();
}

/**
 * Stops the parse workers, if any run (an idle one; a server shutting down; tests). A document still being parsed is
 * sent once more to a new worker, as one lost any other way.
 */
export async function stopCcdaParseWorker(): Promise<void> {
  const running = [...workers.values()];
  workers.clear();
  await Promise.all(running.map((w) => w.stop()));
}
